#!/usr/bin/env bash
# The chaos run: a local stack of its own (free ports, prefix naiq-chaos) where, for a few
# minutes, dozens of jobs in every lane meet the fake NovelAI's random faults (every kind
# it knows), kill -9 of the worker process at random points, and throttling and timeouts
# from the adapters' test-only fault layer (NAIQ_FAULTS, shared/adapters/src/faults.rs).
# Then localstack/chaos_check.py checks the fake's request log, the jobs and the logs
# against naiq's promises, prints the table and fails on any violation. It stops what it
# started, whatever happens.
#
#   localstack/chaos.sh            # CHAOS_JOBS, CHAOS_KILLS, CHAOS_FAULT_SECONDS,
#                                  # CHAOS_BUDGET_SECONDS, CHAOS_SEED change the run;
#                                  # CHAOS_ADAPTER_FAULTS the adapters' rates (NAIQ_FAULTS)
#
# The run's record stays in localstack/.run/chaos/ (run.json, the logs, the table).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
cd "$root"
say() { echo "chaos.sh: $*" >&2; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'; }

if [[ -f "$here/.run/pids" ]]; then
    say "a local stack is running already: stop it first (localstack/down.sh)"
    exit 1
fi

jobs="${CHAOS_JOBS:-40}"
kills="${CHAOS_KILLS:-4}"
fault_seconds="${CHAOS_FAULT_SECONDS:-90}"
budget="${CHAOS_BUDGET_SECONDS:-200}"
seed="${CHAOS_SEED:-$(date +%s)}"

export MOTO_PORT="$(free_port)" API_PORT="$(free_port)" FAKE_NOVELAI_PORT="$(free_port)" RELAY_PORT="$(free_port)"
export NAIQ_WATCH_RELOAD=0 NAIQ_SCHEDULE_SECONDS=2 NAIQ_PREFIX=naiq-chaos
# The stack under test: the fake NovelAI, open all day, test.sh's short gaps, a short
# NovelAI timeout and worker timeout (so a hang and a crashed drain's lease end soon).
unset PACING_TIMEZONE IMAGE_URL_TTL NOVELAI_TOKEN NOVELAI_API_URL NOVELAI_IMAGE_URL NOVELAI_SECRET_ID
export PACING_WINDOWS=00:00-24:00 RATE_LIMIT_MIN_INTERVAL=0.3 RATE_LIMIT_MAX_INTERVAL=0.6 \
    COOLDOWN_MIN=0.3 COOLDOWN_MAX=0.6 ALLOW_TEST_REQUESTS=true MAX_ATTEMPTS=3 \
    RATE_LIMIT_DAILY="${CHAOS_DAILY_LIMIT:-1000}" NOVELAI_TIMEOUT_SECONDS=3 WORKER_TIMEOUT_SECONDS=20
# The adapters' faults end with the fault phase (the stack takes up to a minute to start).
until=$(( $(date +%s) + 60 + ${fault_seconds%.*} ))
export NAIQ_FAULTS="${CHAOS_ADAPTER_FAULTS:-dynamodb=0.03,sqs=0.03,s3=0.05,secrets=0.05,timeout_ms=700},seed=$seed,until=$until"

out="$here/.run/chaos"
trap '"$here/down.sh" >/dev/null 2>&1 || true' EXIT
say "starting a stack of its own (localstack/up.sh --detach), NAIQ_FAULTS=$NAIQ_FAULTS"
"$here/up.sh" --detach >/dev/null
# shellcheck disable=SC1091
source "$here/.run/stack.env"
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION="${AWS_REGION:-us-east-1}" AWS_EC2_METADATA_DISABLED=true
rm -rf "$out" && mkdir -p "$out"

say "running: $jobs jobs, $kills kills, faults until $(date -u -d "@$until" +%H:%M:%S) UTC, budget ${budget}s, seed $seed"
"$here/.venv/bin/python" "$here/chaos.py" --out "$out/run.json" --jobs "$jobs" --kills "$kills" \
    --fault-until "$until" --budget "$budget" --seed "$seed"
"$here/down.sh" >/dev/null 2>&1 || true
trap - EXIT
cp -r "$here/.run/logs" "$out/logs"
python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); r["log_dir"]=sys.argv[2]; json.dump(r, open(sys.argv[1],"w"), indent=1)' \
    "$out/run.json" "$out/logs"
say "checking (localstack/chaos_check.py)"
python3 "$here/chaos_check.py" "$out/run.json" | tee "$out/table.md"
