#!/usr/bin/env bash
# naiq's Lambda benchmark, in one command:
#
#   bench/run.sh                 # timings: prints the table, writes bench/results.json
#   bench/run.sh --count-aws     # also counts every AWS request per job (docs/cost.md)
#   bench/run.sh --only-worst-jobs  # only the worker's memory on its largest answers
#   BENCH_REQUESTS=50 bench/run.sh
#
# It builds the release binaries of the API, the worker and the webhooks function, starts the
# local stack without the functions (moto, the template's resources, the fake NovelAI, a key:
# localstack/up.sh with NAIQ_FUNCTIONS=0) on free ports, runs bench/lambda_bench.py, and stops
# the stack.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
count=0
only=0
for arg in "$@"; do
    case "$arg" in
        --count-aws) count=1 ;;
        --only-worst-jobs) only=1 ;;
        -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
        *) echo "run.sh: unknown argument $arg" >&2; exit 2 ;;
    esac
done
say() { echo "bench/run.sh: $*" >&2; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'; }

# BENCH_BIN_DIR: measure the release binaries found there instead of building them here.
bins="${BENCH_BIN_DIR:-$root/target/release}"
if [[ -z "${BENCH_BIN_DIR:-}" ]]; then
    say "building the release binaries (naiq-api, naiq-worker, naiq-webhooks)"
    (cd "$root" && cargo build --quiet --release -p naiq-api -p naiq-worker -p naiq-webhooks)
fi

if [[ -f "$root/localstack/.run/pids" ]]; then
    say "a local stack is running already: stop it first (localstack/down.sh)"
    exit 1
fi
export MOTO_PORT="$(free_port)" API_PORT="$(free_port)" FAKE_NOVELAI_PORT="$(free_port)" RELAY_PORT="$(free_port)"
export NAIQ_FUNCTIONS=0 NAIQ_PREFIX=naiq-bench
unset PACING_TIMEZONE RATE_LIMIT_DAILY MAX_ATTEMPTS NOVELAI_TOKEN NOVELAI_API_URL NOVELAI_IMAGE_URL \
    NOVELAI_SECRET_ID WORKER_TIMEOUT_SECONDS
# Short gaps so one drain takes every job; the pacing itself is not what is measured.
export PACING_WINDOWS=00:00-24:00 RATE_LIMIT_MIN_INTERVAL=0.05 RATE_LIMIT_MAX_INTERVAL=0.1 \
    COOLDOWN_MIN=0.05 COOLDOWN_MAX=0.1 ALLOW_TEST_REQUESTS=true WEBHOOK_ALLOW_PRIVATE=true
trap '"$root/localstack/down.sh" >/dev/null 2>&1 || true' EXIT
say "starting the stack without the functions (localstack/up.sh --detach, NAIQ_FUNCTIONS=0)"
"$root/localstack/up.sh" --detach >/dev/null
# shellcheck disable=SC1091
source "$root/localstack/.run/stack.env"
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION="${AWS_REGION:-us-east-1}" \
    AWS_EC2_METADATA_DISABLED=true NOVELAI_IMAGE_URL="$NAIQ_FAKE_NOVELAI_URL"

# A second key with one job waiting: the common status poll, whose position needs no count of
# the key's own jobs ahead.
NAIQ_API_KEY_SOLO="$("$root/target/debug/naiq" keys create --name bench-solo 2>/dev/null)"
export NAIQ_API_KEY_SOLO

args=(--requests "${BENCH_REQUESTS:-200}" --api-bin "$bins/naiq-api" --worker-bin "$bins/naiq-worker"
    --webhooks-bin "$bins/naiq-webhooks")
if [[ "$count" == 1 ]]; then
    args+=(--count-aws --out "$here/counts.json")
fi
if [[ "$only" == 1 ]]; then
    args+=(--only-worst-jobs --out "$here/worst_jobs.json")
fi
python3 "$here/lambda_bench.py" "${args[@]}"
