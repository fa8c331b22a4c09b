#!/usr/bin/env bash
# Starts naiq's whole local stack and serves the API:
#   - moto (an AWS emulator: DynamoDB, SQS, S3, Secrets Manager) on 127.0.0.1,
#   - the resources of template.yaml on it (naiq local provision),
#   - the fake NovelAI, unless NOVELAI_TOKEN holds real NovelAI credentials,
#   - the three functions (API, worker, webhooks) under `cargo lambda watch`,
#   - a relay that gives the worker's nudge its asynchronous semantics and invokes the
#     worker on a schedule, as EventBridge does on AWS,
#   - a local API key.
# It installs what it needs on first use (a Python venv with moto and cargo-lambda).
#
#   localstack/up.sh            # stays in the foreground until Ctrl-C
#   localstack/up.sh --detach   # returns once everything answers; localstack/down.sh stops it
#
# Ports (all on 127.0.0.1): MOTO_PORT (4566), API_PORT (9000), FAKE_NOVELAI_PORT (8089),
# RELAY_PORT (9001). NAIQ_FUNCTIONS=0 starts everything but the functions and the relay (the
# benchmark, bench/run.sh, runs release builds of them itself). The configuration variables of the architecture (PACING_TIMEZONE,
# RATE_LIMIT_DAILY, MAX_ATTEMPTS, NOVELAI_IMAGE_URL, …) are passed on to the functions.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
run="$here/.run"
venv="$here/.venv"
detach=0
for arg in "$@"; do
    case "$arg" in
        --detach|-d) detach=1 ;;
        -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
        *) echo "up.sh: unknown argument $arg" >&2; exit 2 ;;
    esac
done

MOTO_PORT="${MOTO_PORT:-4566}"
API_PORT="${API_PORT:-9000}"
FAKE_NOVELAI_PORT="${FAKE_NOVELAI_PORT:-8089}"
RELAY_PORT="${RELAY_PORT:-9001}"
NAIQ_SCHEDULE_SECONDS="${NAIQ_SCHEDULE_SECONDS:-60}"
NAIQ_PREFIX="${NAIQ_PREFIX:-naiq-local}"

say() { echo "up.sh: $*" >&2; }

if [[ -f "$run/pids" ]]; then
    say "a stack is already running (localstack/down.sh stops it)"
    exit 1
fi
for port in "$MOTO_PORT" "$API_PORT" "$FAKE_NOVELAI_PORT" "$RELAY_PORT"; do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
        say "port $port on 127.0.0.1 is taken; set MOTO_PORT, API_PORT, FAKE_NOVELAI_PORT or RELAY_PORT"
        exit 1
    fi
done

# 1. Tools: moto and cargo-lambda in a venv (a stamp records what was installed).
stamp="moto[dynamodb,s3,sqs,secretsmanager,server]==5.2.5 cargo-lambda==1.9.2"
if [[ ! -f "$venv/.naiq-stamp" || "$(cat "$venv/.naiq-stamp")" != "$stamp" ]]; then
    say "installing moto and cargo-lambda into localstack/.venv (once)"
    python3 -m venv "$venv"
    # shellcheck disable=SC2086
    "$venv/bin/pip" install --quiet --disable-pip-version-check $stamp </dev/null
    echo "$stamp" >"$venv/.naiq-stamp"
fi
export PATH="$venv/bin:$PATH"

# 2. Build the binaries once, so the functions start at once.
say "building (cargo build --workspace --bins)"
(cd "$root" && cargo build --quiet --workspace --bins)
bin="$root/target/debug"

mkdir -p "$run/logs"
: >"$run/pids"
cleanup_on_error() {
    say "start-up failed; logs are in localstack/.run/logs"
    "$here/down.sh" >/dev/null 2>&1 || true
}
trap cleanup_on_error ERR

# Starts a command in its own session (so down.sh can stop it and its children).
start() {
    local name="$1"; shift
    setsid "$@" >"$run/logs/$name.log" 2>&1 </dev/null &
    echo "$! $name" >>"$run/pids"
}

wait_for() {
    local what="$1" url="$2" tries="${3:-120}"
    for _ in $(seq "$tries"); do
        if curl -sf -m 5 -o /dev/null "$url"; then return 0; fi
        sleep 0.5
    done
    say "$what did not answer at $url"
    return 1
}

# 3. The AWS emulator and the resources of template.yaml.
start moto moto_server -H 127.0.0.1 -p "$MOTO_PORT"
wait_for moto "http://127.0.0.1:$MOTO_PORT/moto-api/"
export AWS_ENDPOINT_URL="http://127.0.0.1:$MOTO_PORT"
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION="${AWS_REGION:-us-east-1}"
export AWS_EC2_METADATA_DISABLED=true
"$bin/naiq" local provision --prefix "$NAIQ_PREFIX" >"$run/resources.env"
# shellcheck disable=SC1091
source "$run/resources.env"

# 4. NovelAI: real credentials if given, else the fake.
if [[ -n "${NOVELAI_TOKEN:-}" ]]; then
    printf '%s\n' "$NOVELAI_TOKEN" | "$bin/naiq" credentials set
    fake_url=""
else
    fake_token="pst-fake-local-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
    # One email/password account too (the facts doc's test vector), for `auth_type: login`.
    FAKE_NOVELAI_TOKENS="$fake_token" start fake-novelai "$bin/fake-novelai" --port "$FAKE_NOVELAI_PORT" \
        --account "${FAKE_NOVELAI_ACCOUNT:-test@example.com:password123}"
    fake_url="http://127.0.0.1:$FAKE_NOVELAI_PORT"
    wait_for "fake NovelAI" "$fake_url/_fake/health"
    printf '%s\n' "$fake_token" | "$bin/naiq" credentials set 2>/dev/null
    export NOVELAI_IMAGE_URL="$fake_url"
    # Against the fake, pace for a quick try-out unless told otherwise: all day, short gaps.
    # (With real credentials the architecture's defaults apply.)
    export PACING_WINDOWS="${PACING_WINDOWS:-00:00-24:00}"
    export RATE_LIMIT_MIN_INTERVAL="${RATE_LIMIT_MIN_INTERVAL:-1}" RATE_LIMIT_MAX_INTERVAL="${RATE_LIMIT_MAX_INTERVAL:-2}"
    export COOLDOWN_MIN="${COOLDOWN_MIN:-1}" COOLDOWN_MAX="${COOLDOWN_MAX:-2}"
    export ALLOW_TEST_REQUESTS="${ALLOW_TEST_REQUESTS:-true}"
fi

# 5. The functions, and the relay that nudges and schedules the worker. cargo lambda watch
# gives the worker no deadline, so it drains for WORKER_TIMEOUT_SECONDS, and the relay cuts
# off any invoke still open a little after that (a hung or restarted function).
export WORKER_TIMEOUT_SECONDS="${WORKER_TIMEOUT_SECONDS:-300}"
export WORKER_FUNCTION_NAME=naiq-worker
# Webhooks: the delivery function is nudged and scheduled like the worker. Only the local
# stack lets them go to http and loopback receivers, and its first retries come quickly.
export WEBHOOKS_FUNCTION_NAME=naiq-webhooks
export WEBHOOK_ALLOW_PRIVATE="${WEBHOOK_ALLOW_PRIVATE:-true}"
export WEBHOOK_RETRY_SECONDS="${WEBHOOK_RETRY_SECONDS:-1,1,2,2,3,3,5,43200,43200}"
export AWS_ENDPOINT_URL_LAMBDA="http://127.0.0.1:$RELAY_PORT"
export AWS_LAMBDA_LOG_FORMAT="${AWS_LAMBDA_LOG_FORMAT:-JSON}"
watch_flags=(-A 127.0.0.1 -P "$API_PORT" --quiet)
[[ "${NAIQ_WATCH_RELOAD:-1}" == 0 ]] && watch_flags+=(--ignore-changes)
api="http://127.0.0.1:$API_PORT/lambda-url/naiq-api"
if [[ "${NAIQ_FUNCTIONS:-1}" != 0 ]]; then
    (cd "$root" && start watch cargo lambda watch "${watch_flags[@]}")
    wait_for "the API" "$api/health" 240
    start relay python3 "$here/lambda_relay.py" --port "$RELAY_PORT" \
        --target "http://127.0.0.1:$API_PORT" --schedule-function naiq-worker \
        --schedule-function naiq-webhooks \
        --schedule-seconds "$NAIQ_SCHEDULE_SECONDS" --schedule-event "$root/events/schedule.json" \
        --worker-timeout "$WORKER_TIMEOUT_SECONDS"
fi

# 6. A key for local use (it may send test requests).
# Its webhook signing secret is printed once, on standard error.
api_key="$("$bin/naiq" keys create --name local --allow-test 2>"$run/key.err")"
webhook_secret="$(sed -n 's/^Webhook signing secret: //p' "$run/key.err")"
rm -f "$run/key.err"
trap - ERR

{
    cat "$run/resources.env"
    echo "export AWS_ENDPOINT_URL=$AWS_ENDPOINT_URL"
    # The emulator's credentials, so that the CLI works in a shell that sourced this file
    # (without them the SDK looks for an instance role and fails).
    echo "export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=$AWS_REGION"
    echo "export AWS_EC2_METADATA_DISABLED=true"
    echo "export NAIQ_API_URL=$api"
    echo "export NAIQ_API_KEY=$api_key"
    echo "export NAIQ_WEBHOOK_SECRET=$webhook_secret"
    echo "export NAIQ_FAKE_NOVELAI_URL=$fake_url"
    echo "export NAIQ_FAKE_NOVELAI_TOKEN=${fake_token:-}"
    echo "export NAIQ_LAMBDA_URL=http://127.0.0.1:$API_PORT"
    echo "export NAIQ_LOG_DIR=$run/logs"
    # The pacing the functions run with, so that `naiq ops status` in that shell shows it.
    for name in PACING_WINDOWS PACING_TIMEZONE RATE_LIMIT_DAILY RATE_LIMIT_MIN_INTERVAL \
        RATE_LIMIT_MAX_INTERVAL COOLDOWN_MIN COOLDOWN_MAX ALLOW_TEST_REQUESTS; do
        if [[ -n "${!name:-}" ]]; then printf 'export %s=%q\n' "$name" "${!name}"; fi
    done
} >"$run/stack.env"

echo "API: $api"
echo "API key: $api_key"
echo "Webhook secret: $webhook_secret"
if [[ -n "$fake_url" ]]; then echo "Fake NovelAI: $fake_url"; fi
echo "Logs: localstack/.run/logs/"
echo "Try: curl -s -X POST $api/generate -H \"Authorization: Bearer $api_key\" -H 'Content-Type: application/json' -d '{\"prompt\": \"1girl, cat ears\", \"model\": \"nai-v3\", \"resolution\": \"portrait\"}'"

if [[ "$detach" == 1 ]]; then
    exit 0
fi
trap '"$here/down.sh"; exit 0' INT TERM
say "running; Ctrl-C stops everything"
while sleep 1; do :; done
