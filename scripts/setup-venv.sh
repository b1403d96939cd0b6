#!/usr/bin/env bash
# Creates .venv with the tools the tests and benchmarks use as references (DuckDB CLI and the
# AWS CLI from PyPI, moto's S3 server).
# Idempotent: re-installs only when scripts/test-requirements.txt changed.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=.venv
stamp="$venv/.requirements"
if [ ! -f "$stamp" ] || ! cmp -s scripts/test-requirements.txt "$stamp"; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r scripts/test-requirements.txt
  cp scripts/test-requirements.txt "$stamp"
fi
"$venv/bin/duckdb" --version >/dev/null
"$venv/bin/aws" --version >/dev/null 2>&1
"$venv/bin/moto_server" --help >/dev/null
