#!/usr/bin/env bash
# The demo: `trailq demo` starts the CloudTrail emulator in-process (90 days of Amazon Inspector
# activity in three accounts and two Regions, LookupEvents held to 2 requests/s), exports it with
# the real export, then DuckDB answers "who hid findings and who turned Inspector off" with the
# command the demo prints (run here as printed, with the DuckDB CLI of .venv).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-venv.sh
# The debug build: the demo waits on the API's 2 requests/s, not on the CPU (BENCHMARKS.md, Build).
cargo build --bin trailq
out=${1:-trailq-demo/inspector-events}
log=$(mktemp)
trap 'rm -f "$log"' EXIT
target/debug/trailq demo --out "$out" | tee "$log"
sql=$(sed -n 's/^ *duckdb -c "\(.*\)"$/\1/p' "$log")
echo
echo "Who created suppression filters (findings hidden), and who turned Inspector off:"
.venv/bin/duckdb -c "$sql"
