#!/usr/bin/env bash
# The AWS SDK's own CPU per DynamoDB call, the floor under every warm request's CPU: the
# release example shared/adapters/examples/sdk_call_cpu.rs makes CALLS GetItem calls (2000
# by default) through the SDK as the functions build it, against bench/canned_dynamodb.py
# on a free port of 127.0.0.1 (a canned answer, connections kept open). Stops what it started.
#
#   bench/sdk_floor.sh
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')"
(cd "$root" && cargo build --quiet --release --example sdk_call_cpu -p naiq-adapters)
python3 "$root/bench/canned_dynamodb.py" "$port" &
server=$!
trap 'kill "$server" 2>/dev/null || true' EXIT
for _ in $(seq 50); do
    python3 -c "import socket; socket.create_connection(('127.0.0.1', $port), 0.2)" 2>/dev/null && break
    sleep 0.1
done
for variant in "as the functions build it" NO_TIMEOUTS "NO_TIMEOUTS NO_STALL"; do
    printf '%s: ' "$variant"
    flags=()
    for f in $variant; do [[ "$f" == NO_* ]] && flags+=("$f=1"); done
    env AWS_ENDPOINT_URL="http://127.0.0.1:$port" AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test \
        AWS_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true NO_SETUP=1 "${flags[@]}" \
        CALLS="${CALLS:-2000}" "$root/target/release/examples/sdk_call_cpu"
done
