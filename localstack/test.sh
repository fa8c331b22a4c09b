#!/usr/bin/env bash
# Runs every test of naiq on a fresh machine: formatting and lints, the unit and contract
# tests, the AWS adapter tests on the emulator, the end-to-end tests over HTTP through
# `cargo lambda watch`, the API fuzzed from its OpenAPI document, the chaos run
# (localstack/chaos.sh, on a stack of its own) and the template's linters. It starts the
# local stack on free ports (localstack/up.sh --detach) and stops it when done, whatever
# happens.
#
#   localstack/test.sh
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
cd "$root"
t0=$(date +%s)
step() { echo "test.sh [$(( $(date +%s) - t0 ))s]: $*" >&2; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'; }

step "cargo fmt --check"
cargo fmt --all -- --check

step "building everything (cargo build --workspace --all-targets)"
cargo build --workspace --all-targets

step "cargo clippy --all-targets -- -D warnings"
cargo clippy --workspace --all-targets --quiet -- -D warnings

step "the local relay's tests (python3 -m unittest, loopback only)"
python3 -m unittest discover -s "$here" -p 'test_*.py'

if [[ -f "$here/.run/pids" ]]; then
    step "a local stack is running already: stop it first (localstack/down.sh)"
    exit 1
fi
export MOTO_PORT="$(free_port)" API_PORT="$(free_port)" FAKE_NOVELAI_PORT="$(free_port)" RELAY_PORT="$(free_port)"
export NAIQ_WATCH_RELOAD=0 NAIQ_SCHEDULE_SECONDS=5 NAIQ_PREFIX=naiq-test NOVELAI_TIMEOUT_SECONDS=5
# The stack under test: the fake NovelAI, open all day, short gaps, test requests allowed;
# nothing else from this shell leaks in.
unset PACING_TIMEZONE RATE_LIMIT_DAILY MAX_ATTEMPTS IMAGE_URL_TTL NOVELAI_TOKEN \
    NOVELAI_API_URL NOVELAI_IMAGE_URL NOVELAI_SECRET_ID WORKER_TIMEOUT_SECONDS
export PACING_WINDOWS=00:00-24:00 RATE_LIMIT_MIN_INTERVAL=0.3 RATE_LIMIT_MAX_INTERVAL=0.6 \
    COOLDOWN_MIN=0.3 COOLDOWN_MAX=0.6 ALLOW_TEST_REQUESTS=true
# A key change (revoke, new limits) reaches the API within a second, so the key tests wait
# that long rather than the default 30 s (e2e key_change_lands).
export KEY_CACHE_SECONDS=1
# The same for the server-side account a submit prices with (e2e account_change_lands).
export ACCOUNT_CACHE_SECONDS=1
# Webhooks to the tests' loopback receivers, with a short timeout and quick first retries.
export WEBHOOK_ALLOW_PRIVATE=true WEBHOOK_TIMEOUT_SECONDS=2 \
    WEBHOOK_RETRY_SECONDS=1,1,2,2,3,3,5,43200,43200
trap '"$here/down.sh" >/dev/null 2>&1 || true' EXIT
step "starting the local stack (localstack/up.sh --detach)"
"$here/up.sh" --detach >/dev/null
# shellcheck disable=SC1091
source "$here/.run/stack.env"
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION="${AWS_REGION:-us-east-1}" AWS_EC2_METADATA_DISABLED=true

step "the webhook receiver's venv (localstack/webhook-receiver.sh --install: standardwebhooks)"
"$here/webhook-receiver.sh" --install

step "cargo test (all tests, the emulator's and the stack's included)"
cargo test --workspace -- --include-ignored

step "the API against its OpenAPI document (localstack/fuzz-api.sh: openapi-spec-validator, schemathesis)"
"$here/fuzz-api.sh"

step "stopping the stack; the chaos run on a stack of its own (localstack/chaos.sh)"
"$here/down.sh" >/dev/null 2>&1
"$here/chaos.sh"

step "linting template.yaml (cfn-lint, sam validate --lint)"
"$here/lint-template.sh"

step "all passed"
