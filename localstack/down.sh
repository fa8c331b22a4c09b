#!/usr/bin/env bash
# Stops what localstack/up.sh started.
set -uo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
pids="$here/.run/pids"
[[ -f "$pids" ]] || { echo "down.sh: nothing is running" >&2; exit 0; }
while read -r pid name; do
    # Each was started in its own session: stop the whole group (cargo lambda's children too).
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
done <"$pids"
for _ in $(seq 20); do
    alive=0
    while read -r pid name; do kill -0 "$pid" 2>/dev/null && alive=1; done <"$pids"
    [[ "$alive" == 0 ]] && break
    sleep 0.25
done
while read -r pid name; do kill -KILL -- "-$pid" 2>/dev/null || true; done <"$pids"
rm -f "$pids"
echo "down.sh: stopped" >&2
