#!/usr/bin/env bash
# The trade-off behind `eventJson`'s zstd level (TRAILQ_EVENTJSON_ZSTD_LEVEL, default 3): one
# `trailq convert` per level on both data shapes of scripts/bench-convert.sh (run that first: it
# builds the inputs), with wall and CPU time, peak RSS, and the bytes of `eventJson`, of the typed
# columns and of the whole dataset against the gzipped input. One run each (the VM varies by
# ±10%: compare the CPU seconds more than the wall).
# Usage: scripts/bench-levels.sh [LEVEL...]   (default 1 3 6 9 11)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-venv.sh
if [ -z "${TRAILQ:-}" ]; then
  cargo build --release --quiet --bin trailq
fi
trailq=${TRAILQ:-target/release/trailq}
duckdb=.venv/bin/duckdb
[ $# -gt 0 ] || set -- 1 3 6 9 11
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
echo "| data | eventJson zstd level | wall s | CPU s (user + sys) | peak RSS MiB | eventJson MB | typed columns MB | dataset / gzipped input |"
echo "|---|---|---|---|---|---|---|---|"
for data in bench-data/trail-files-10x100000 bench-data/real-shaped-1000000; do
  [ -d "$data" ] || { echo "missing $data: run scripts/bench-convert.sh first" >&2; exit 1; }
  in_bytes=$(find "$data" -name '*.json.gz' -printf '%s\n' | awk '{s+=$1} END {print s}')
  for level in "$@"; do
    rm -rf "$out/ds"
    sync
    TRAILQ_EVENTJSON_ZSTD_LEVEL=$level /usr/bin/time -f '%e %U %S %M' -o "$out/time" \
      "$trailq" convert "$data" --out "$out/ds" --quiet
    read -r wall user sys rss <"$out/time"
    bytes=$(find "$out/ds" -name '*.parquet' -printf '%s\n' | awk '{s+=$1} END {print s}')
    IFS='|' read -r json typed < <("$duckdb" -noheader -list -c "SELECT sum(total_compressed_size) FILTER (WHERE path_in_schema = 'eventJson'), sum(total_compressed_size) FILTER (WHERE path_in_schema <> 'eventJson') FROM parquet_metadata('$out/ds/**/*.parquet')")
    awk -v d="$(basename "$data")" -v l="$level" -v w="$wall" -v u="$user" -v s="$sys" -v r="$rss" \
      -v j="$json" -v t="$typed" -v b="$bytes" -v i="$in_bytes" \
      'BEGIN {printf "| %s | %s | %.2f | %.1f + %.1f | %.0f | %.1f | %.1f | %.3f× |\n", d, l, w, u, s, r / 1024, j / 1e6, t / 1e6, b / i}'
  done
done
