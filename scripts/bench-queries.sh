#!/usr/bin/env bash
# Benchmark: the saved query library run by trailq's local engine on an export, side by side with
# DuckDB running the same queries on the same Parquet files, in one run.
# Usage: scripts/bench-queries.sh [EVENTS_PER_DAY] [DAYS] [generator|real-shaped]
#   (default 111112 × 90 ≈ 10,000,000 events from the generator). `real-shaped` builds the same
#   number of records from the real-record corpus instead (scripts/real-shaped.py: 70 event
#   sources, files of 5,000 records, 91 days up to the same `now`).
# The export is made once with `trailq convert` from the trail files (bench-data/, ignored).
#
# DuckDB gets each query exactly as `trailq queries show NAME` prints it (parameters filled),
# with `{{eds}}` replaced by a view over the files and three macros for the Lake functions whose
# DuckDB spelling differs (element_at on a map returns a list in DuckDB; json_extract_scalar is
# json_extract_string there; array_join is array_to_string). Both write the result to a CSV
# file; both use 2 threads. Each query runs three times in each engine: the median is reported.
set -euo pipefail
cd "$(dirname "$0")/.."
per_day=${1:-111112}
days=${2:-90}
# shellcheck source=scripts/query-params.sh
. scripts/query-params.sh
now=$BENCH_NOW
scripts/setup-venv.sh >/dev/null
# The binary in release; the generator example in the dev profile: an example links the
# dev-dependencies (tokio's test-util among them), and in release that would rebuild every crate
# that depends on tokio a second time (~25 minutes on 2 cores) for a one-off data generator.
# TRAILQ=PATH measures another build (e.g. a profile kept in another target folder) instead.
if [ -z "${TRAILQ:-}" ]; then
  cargo build --release --quiet --bin trailq
fi
trailq=${TRAILQ:-target/release/trailq}
cargo build --quiet --example trail_files
duckdb=.venv/bin/duckdb
shape=${3:-generator}
case "$shape" in
  generator)
    files=bench-data/trail-files-${days}x${per_day}
    data=bench-data/export-${days}x${per_day}
    if [ ! -d "$files" ]; then
      target/debug/examples/trail_files --out "$files" --days "$days" --events-per-day "$per_day" --now "$now" --seed 11
    fi
    ;;
  real-shaped)
    records=$((per_day * days))
    files=bench-data/real-shaped-${records}
    data=bench-data/export-real-shaped-${records}
    if [ ! -d "$files" ]; then
      python3 scripts/real-shaped.py "$files" "$records" $(( (records + 4999) / 5000 )) 91
    fi
    ;;
  *) echo "shape is generator or real-shaped, not $shape" >&2; exit 2 ;;
esac
if [ ! -d "$data" ]; then
  /usr/bin/time -f 'convert: %e s, %M KiB peak' "$trailq" convert "$files" --out "$data" --quiet
fi
events=$("$duckdb" -noheader -list -c "SELECT count(*) FROM read_parquet('$data/**/*.parquet')")
bytes=$(find "$data" -name '*.parquet' -printf '%s\n' | awk '{s+=$1} END {print s}')
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
prelude="SET threads = 2; SET TimeZone = 'UTC';
CREATE MACRO element_at(m, k) AS m[k];
CREATE MACRO json_extract_scalar(j, p) AS json_extract_string(j, p);
CREATE MACRO array_join(l, d) AS array_to_string(l, d);
CREATE VIEW events AS SELECT * FROM read_parquet('$data/**/*.parquet', hive_partitioning = true);"

# "wall_seconds peak_rss_kib" of a command, its output thrown away.
measure() {
  /usr/bin/time -f '%e %M' -o "$tmp/time" "$@" >/dev/null 2>"$tmp/err" || { cat "$tmp/err" >&2; return 1; }
  cat "$tmp/time"
}

# "median_wall max_rss" of runs given as "wall rss" strings.
median_of() {
  printf '%s\n' "$@" | sort -n | awk '{w[NR] = $1; if ($2 > r) r = $2} END {print w[int((NR + 1) / 2)], r}'
}

echo "Export ($shape): $events events, $(awk -v b="$bytes" 'BEGIN {printf "%.1f", b / 1048576}') MiB of Parquet in $data; $(nproc) cores; $(date -u '+%Y-%m-%d %H:%M UTC'); commit $(git rev-parse --short HEAD)"
echo
echo "| query | rows | trailq local s | DuckDB s | trailq/DuckDB time | trailq peak RSS MiB | DuckDB peak RSS MiB |"
echo "|---|---|---|---|---|---|---|"
t_total=0
d_total=0
for file in queries/*.sql; do
  name=$(basename "$file" .sql)
  query_params "$name"
  sql=$("$trailq" queries show "$name" "${params[@]}" | sed 's/{{eds}}/events/g')
  # Three runs of each, alternating, so that a slow moment of the VM hits both engines; the median
  # wall time and the largest peak RSS are reported.
  t_runs=() d_runs=()
  for _ in 1 2 3; do
    t_runs+=("$(measure "$trailq" queries run "$name" --data "$data" --quiet --format csv --out "$tmp/t.csv" "${params[@]}")")
    d_runs+=("$(measure "$duckdb" -c "$prelude COPY ($sql) TO '$tmp/d.csv' (HEADER);")")
  done
  read -r t_wall t_rss < <(median_of "${t_runs[@]}")
  read -r d_wall d_rss < <(median_of "${d_runs[@]}")
  t_rows=$(($(wc -l <"$tmp/t.csv") - 1))
  d_rows=$(($(wc -l <"$tmp/d.csv") - 1))
  [ "$t_rows" = "$d_rows" ] || echo "warning: $name: trailq $t_rows rows, DuckDB $d_rows rows" >&2
  t_total=$(awk -v a="$t_total" -v b="$t_wall" 'BEGIN {print a + b}')
  d_total=$(awk -v a="$d_total" -v b="$d_wall" 'BEGIN {print a + b}')
  echo "| $name | $t_rows | $t_wall | $d_wall | $(awk -v a="$t_wall" -v b="$d_wall" 'BEGIN {printf "%.2f", a / b}')× | $(awk -v k="$t_rss" 'BEGIN {printf "%.0f", k / 1024}') | $(awk -v k="$d_rss" 'BEGIN {printf "%.0f", k / 1024}') |"
done
echo "| **all $(ls queries/*.sql | wc -l) queries** | | **$t_total** | **$d_total** | **$(awk -v a="$t_total" -v b="$d_total" 'BEGIN {printf "%.2f", a / b}')×** | | |"
