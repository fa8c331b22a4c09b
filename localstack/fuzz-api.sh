#!/usr/bin/env bash
# Checks the running API against its own OpenAPI document: validates GET /openapi.json as
# OpenAPI 3.1 (openapi-spec-validator), then fuzzes every operation from it (schemathesis):
# no 5xx, and every answer's status, content type, headers and body as documented.
# Needs a running stack (NAIQ_API_URL, NAIQ_API_KEY, as localstack/test.sh exports them) and
# only PyPI the first time (installs both into localstack/.venv-fuzz, about a minute).
#
#   NAIQ_API_URL=… NAIQ_API_KEY=… localstack/fuzz-api.sh
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
venv="$here/.venv-fuzz"
# What the venv holds.
requirements="openapi-spec-validator==0.9.0 schemathesis==4.32.5"
# Examples per operation, and the whole run's limit in seconds.
max_examples="${NAIQ_FUZZ_EXAMPLES:-25}"
budget="${NAIQ_FUZZ_SECONDS:-240}"

: "${NAIQ_API_URL:?set NAIQ_API_URL (the running API)}"
: "${NAIQ_API_KEY:?set NAIQ_API_KEY (an API key of the running API)}"
export PIP_DISABLE_PIP_VERSION_CHECK=1 SCHEMATHESIS_TELEMETRY=false
# Leaves out the cases the local emulator cannot carry to the function (see the file).
export PYTHONPATH="$here${PYTHONPATH:+:$PYTHONPATH}" SCHEMATHESIS_HOOKS=fuzz_hooks

# A stamp records what was installed; a change to the list reinstalls.
if [[ ! -f "$venv/.naiq-stamp" || "$(cat "$venv/.naiq-stamp")" != "$requirements" ]]; then
    echo "fuzz-api: installing $requirements into ${venv#"$root"/} (once)" >&2
    python3 -m venv "$venv"
    # shellcheck disable=SC2086
    "$venv/bin/pip" install --quiet $requirements </dev/null
    echo "$requirements" >"$venv/.naiq-stamp"
fi
[[ -f "$venv/.gitignore" ]] || printf '*\n' >"$venv/.gitignore"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
doc="$work/openapi.json"
curl -fsS "$NAIQ_API_URL/openapi.json" -o "$doc"
echo "fuzz-api: openapi-spec-validator (OpenAPI 3.1)" >&2
"$venv/bin/python" - "$doc" <<'PY'
import json, sys
from openapi_spec_validator import validate
from openapi_spec_validator.validation.validators import OpenAPIV31SpecValidator
doc = json.load(open(sys.argv[1]))
assert doc["openapi"].startswith("3.1"), doc["openapi"]
validate(doc, cls=OpenAPIV31SpecValidator)
print(f"fuzz-api: the document is valid OpenAPI {doc['openapi']} ({len(doc['paths'])} paths)", file=sys.stderr)
PY

echo "fuzz-api: schemathesis, at most $max_examples examples per operation, ${budget}s at most" >&2
t0=$(date +%s)
status=0
# From the scratch directory: schemathesis keeps its cache in the working directory.
cd "$work"
timeout --signal=INT "$budget" "$venv/bin/schemathesis" run "$doc" \
    --url "$NAIQ_API_URL" \
    --header "Authorization: Bearer $NAIQ_API_KEY" \
    --checks not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance \
    --phases examples,coverage,fuzzing \
    --max-examples "$max_examples" \
    --seed 1 \
    --no-color \
    </dev/null >"$work/out.txt" 2>&1 || status=$?
elapsed=$(( $(date +%s) - t0 ))
# The report, less its blank lines (the key is sanitised by schemathesis itself).
grep -v '^[[:space:]]*$' "$work/out.txt" >&2 || true
cases=$(grep -Eo '[0-9]+ generated' "$work/out.txt" | grep -Eo '[0-9]+' | tail -1 || true)
echo "fuzz-api: schemathesis ran ${cases:-?} cases in ${elapsed}s (exit $status)" >&2
if [[ $status -eq 124 ]]; then
    echo "fuzz-api: schemathesis did not finish within ${budget}s" >&2
fi
exit "$status"
