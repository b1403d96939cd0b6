#!/usr/bin/env bash
# The test command (README, CI): installs what the tests need, then runs every check we land with.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-venv.sh
scripts/setup-chromium.sh
export TRAILQ_DUCKDB="$PWD/.venv/bin/duckdb"
cargo fmt --check
scripts/lint-workflows.sh
cargo clippy --all-targets -- -D warnings
cargo test --all-targets
