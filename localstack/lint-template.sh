#!/usr/bin/env bash
# Lints template.yaml offline: cfn-lint, then `sam validate --lint`.
# Needs only PyPI the first time (installs aws-sam-cli and cfn-lint into localstack/.venv-sam,
# about a minute); no AWS credentials, no Docker, no stdin.
#
#   localstack/lint-template.sh
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
venv="$here/.venv-sam"

export SAM_CLI_TELEMETRY=0
export PIP_DISABLE_PIP_VERSION_CHECK=1
# `sam validate` resolves a region and may look for credentials; give it harmless ones so it
# never prompts or reaches for a real profile.
export AWS_REGION="${AWS_REGION:-us-east-1}"
export AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-$AWS_REGION}"
export AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-test}"
export AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-test}"
export AWS_EC2_METADATA_DISABLED=true

if [[ ! -x "$venv/bin/sam" || ! -x "$venv/bin/cfn-lint" ]]; then
    echo "lint-template: installing aws-sam-cli and cfn-lint into ${venv#"$root"/}" >&2
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet aws-sam-cli cfn-lint </dev/null
fi
# Keep the venv out of git (as Python >= 3.13's venv does by itself).
[[ -f "$venv/.gitignore" ]] || printf '*\n' >"$venv/.gitignore"

cd "$root"
echo "lint-template: cfn-lint $("$venv/bin/cfn-lint" --version 2>&1 | awk '{print $NF}')" >&2
"$venv/bin/cfn-lint" template.yaml </dev/null
echo "lint-template: sam validate --lint" >&2
"$venv/bin/sam" validate --lint --region us-east-1 --template-file template.yaml </dev/null
echo "lint-template: template.yaml is clean" >&2
