#!/usr/bin/env bash
# Runs the end-to-end tests' webhook receiver (webhook_receiver.py), which verifies each
# request with the `standardwebhooks` package from PyPI. Installs it into
# localstack/.venv-hooks on first use (a stamp records what was installed).
#
#   localstack/webhook-receiver.sh --install                  # only install
#   localstack/webhook-receiver.sh --log FILE --secret whsec_… [--port N] [--hang]
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="$here/.venv-hooks"
requirements="standardwebhooks==1.1.0"

if [[ ! -f "$venv/.naiq-stamp" || "$(cat "$venv/.naiq-stamp")" != "$requirements" ]]; then
    echo "webhook-receiver: installing $requirements into localstack/.venv-hooks (once)" >&2
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check $requirements </dev/null >&2
    echo "$requirements" >"$venv/.naiq-stamp"
fi
[[ -f "$venv/.gitignore" ]] || printf '*\n' >"$venv/.gitignore"

if [[ "${1:-}" == "--install" ]]; then
    exit 0
fi
exec "$venv/bin/python" "$here/webhook_receiver.py" "$@"
