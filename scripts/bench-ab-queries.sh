#!/usr/bin/env bash
# Two or more trailq binaries running the saved query library on one export, side by side:
# for each query, ROUNDS runs of each binary taking turns (so a slower VM minute hits all of them
# alike), and the median wall time of each, as a Markdown table with the totals. The check that a
# local-engine change makes no query slower; scripts/bench-queries.sh gives the ratio to DuckDB.
# Usage: scripts/bench-ab-queries.sh DATA ROUNDS BINARY BINARY...
#   e.g. ROUNDS=5: scripts/bench-ab-queries.sh bench-data/export-real-shaped-1000000 5 /tmp/old target/release/trailq
# DATA is an export made by scripts/bench-queries.sh (generator or real-shaped); every query gets
# the arguments it gets there (scripts/query-params.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/query-params.sh
. scripts/query-params.sh
if [ $# -lt 4 ]; then
  echo "usage: $0 DATA ROUNDS BINARY BINARY..." >&2
  exit 2
fi
data=$1
rounds=$2
shift 2
bins=("$@")
[ -d "$data" ] || { echo "$data: no such export (scripts/bench-queries.sh makes it)" >&2; exit 2; }
for bin in "$@"; do
  [ -x "$bin" ] || { echo "$bin: not an executable" >&2; exit 2; }
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "Export $data; $rounds alternating runs per query and binary, median wall s; $(nproc) cores; $(date -u '+%Y-%m-%d %H:%M UTC')"
echo
header="| query |"
rule="|---|"
for bin in "$@"; do
  header="$header $bin |"
  rule="$rule---|"
done
echo "$header"
echo "$rule"
declare -a totals
for file in queries/*.sql; do
  name=$(basename "$file" .sql)
  query_params "$name"
  declare -a runs=()
  for _ in $(seq "$rounds"); do
    for i in "${!bins[@]}"; do
      bin=${bins[i]}
      /usr/bin/time -f '%e' -o "$tmp/time" "$bin" queries run "$name" --data "$data" --quiet \
        --format csv --out "$tmp/out.csv" "${params[@]}" >/dev/null 2>"$tmp/err" \
        || { echo "$bin, $name:" >&2; cat "$tmp/err" >&2; exit 1; }
      runs[i]="${runs[i]:-} $(tail -1 "$tmp/time")"
    done
  done
  row="| $name |"
  for i in "${!bins[@]}"; do
    median=$(printf '%s\n' ${runs[i]} | sort -n | awk '{w[NR] = $1} END {print w[int((NR + 1) / 2)]}')
    totals[i]=$(awk -v a="${totals[i]:-0}" -v b="$median" 'BEGIN {printf "%.2f", a + b}')
    row="$row $median |"
  done
  echo "$row"
done
row="| **all** |"
for i in "${!bins[@]}"; do
  row="$row **${totals[i]}** |"
done
echo "$row"
