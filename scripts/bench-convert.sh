#!/usr/bin/env bash
# Benchmark: `trailq convert` vs DuckDB's JSON-to-Parquet recipe on the same gzipped trail files,
# in one run, on two shapes of data:
# - generator: the emulator generator's trail files (Inspector-heavy, small records, ~40 a file);
# - real-shaped: the real-record corpus (70 event sources, ~1.2 KB records) in files of 5,000
#   records over 91 days, fresh eventIDs (scripts/real-shaped.py).
# Usage: scripts/bench-convert.sh [EVENTS_PER_DAY] [DAYS]   (default 100000 × 10 = 1M records each)
# Prints Markdown tables for BENCHMARKS.md. Data goes to bench-data/ (git-ignored).
set -euo pipefail
cd "$(dirname "$0")/.."
per_day=${1:-100000}
days=${2:-10}
records_wanted=$((per_day * days))
scripts/setup-venv.sh
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
generated=bench-data/trail-files-${days}x${per_day}
if [ ! -d "$generated" ]; then
  target/debug/examples/trail_files --out "$generated" --days "$days" --events-per-day "$per_day" \
    --now 2026-11-24T00:00:00Z --seed 7
fi
real=bench-data/real-shaped-${records_wanted}
if [ ! -d "$real" ]; then
  python3 scripts/real-shaped.py "$real" "$records_wanted" $(( (records_wanted + 4999) / 5000 )) 91
fi

bench() {
local label=$1 data=$2
files=$(find "$data" -name '*.json.gz' | wc -l)
in_bytes=$(find "$data" -name '*.json.gz' -printf '%s\n' | awk '{s+=$1} END {print s}')

# Runs a command 3 times under GNU time (this 2-core VM varies by ±10% run to run); prints the
# median "wall_seconds max_rss_kib" (each the median of its own column). $prepare runs before each.
measure() {
  local log walls=() rsss=()
  log=$(mktemp)
  for _ in 1 2 3; do
    eval "$prepare"
    sync
    /usr/bin/time -f '%e %M' -o "$log" "$@" >/dev/null
    read -r w r <"$log"
    walls+=("$w")
    rsss+=("$r")
  done
  rm -f "$log"
  echo "$(printf '%s\n' "${walls[@]}" | sort -n | sed -n 2p) $(printf '%s\n' "${rsss[@]}" | sort -n | sed -n 2p)"
}

trailq_out=bench-data/trailq-out
prepare="rm -rf $trailq_out"
read -r t_wall t_rss < <(measure "$trailq" convert "$data" --out "$trailq_out" --quiet)
t_bytes=$(find "$trailq_out" -name '*.parquet' -printf '%s\n' | awk '{s+=$1} END {print s}')
t_rows=$($duckdb -noheader -list -c "SELECT count(*) FROM read_parquet('$trailq_out/**/*.parquet')")
records=$t_rows
# Size without eventJson: what DuckDB's recipe keeps is the typed columns alone.
t_typed=$($duckdb -noheader -list -c "SELECT sum(total_compressed_size) FROM parquet_metadata('$trailq_out/**/*.parquet') WHERE path_in_schema <> 'eventJson'")
t_meta=$($duckdb -noheader -list -c "SELECT sum(total_compressed_size) FROM parquet_metadata('$trailq_out/**/*.parquet')")
# Footers and page indexes are outside column chunks: share them out by the column bytes.
t_typed=$(awk -v a="$t_typed" -v b="$t_meta" -v c="$t_bytes" 'BEGIN {printf "%d", a + (c - b) * a / b}')

duck_out=bench-data/duckdb-out.parquet
prepare="rm -f $duck_out"
# read_json's default schema sampling fails on these files ("unknown key" deep in
# requestParameters); union_by_name reads every file's schema, which makes it finish. On the
# real-shaped files its schema detection stops at `Duplicate name "principalid" in struct` (real
# records spell a key in two cases); ignore_errors lets it go on, and every row still comes out
# (the table's "rows out").
duck_records="SELECT unnest(Records, max_depth := 2) FROM read_json('$data/**/*.json.gz', union_by_name = true, ignore_errors = true)"
duck_sql="SET threads = 2; COPY ($duck_records) TO '$duck_out' (FORMAT parquet, COMPRESSION zstd);"
read -r d_wall d_rss < <(measure "$duckdb" -c "$duck_sql")
d_bytes=$(stat -c %s "$duck_out")
d_rows=$($duckdb -noheader -list -c "SELECT count(*) FROM read_parquet('$duck_out')")
# DuckDB infers UUID for eventID/requestID and stores 16 bytes each; the event schema keeps them
# strings, as Lake does (BENCHMARKS.md, "The UUID decision"). The same recipe with those two
# columns kept as strings gives the like-for-like size (size only: one run, not timed).
duck_str_out=bench-data/duckdb-out-string-ids.parquet
duck_str_records="SELECT * REPLACE (eventID::VARCHAR AS eventID, requestID::VARCHAR AS requestID) FROM ($duck_records)"
rm -f "$duck_str_out"
$duckdb -c "SET threads = 2; COPY ($duck_str_records) TO '$duck_str_out' (FORMAT parquet, COMPRESSION zstd);" >/dev/null
d_str_bytes=$(stat -c %s "$duck_str_out")
# And in trailq's layout, one folder per day (size only): per-file dictionaries, statistics and
# footers cost bytes that one big file does not pay, most of all when few values repeat a lot.
duck_part_out=bench-data/duckdb-out-by-day
rm -rf "$duck_part_out"
$duckdb -c "SET threads = 2; SET TimeZone = 'UTC'; COPY (SELECT *, CAST(eventTime AS DATE) AS event_date FROM ($duck_str_records)) TO '$duck_part_out' (FORMAT parquet, COMPRESSION zstd, PARTITION_BY (event_date));" >/dev/null
d_part_bytes=$(find "$duck_part_out" -name '*.parquet' -printf '%s\n' | awk '{s+=$1} END {print s}')
# Like for like also means the same row order: trailq sorts each file by eventTime (DESIGN.md),
# DuckDB's recipe keeps the input's. The real-shaped files repeat the corpus records in a fixed
# cycle of 969, which zstd finds again in every column when the cycle is left intact and not
# when a day's files are interleaved by time (BENCHMARKS.md, issue 15 session 27). One thread:
# DuckDB's parallel partitioned write leaves some files out of order.
duck_sorted_out=bench-data/duckdb-out-by-day-sorted
rm -rf "$duck_sorted_out"
$duckdb -c "SET threads = 1; SET TimeZone = 'UTC'; COPY (SELECT *, CAST(eventTime AS DATE) AS event_date FROM ($duck_str_records) ORDER BY eventTime) TO '$duck_sorted_out' (FORMAT parquet, COMPRESSION zstd, PARTITION_BY (event_date));" >/dev/null
d_sorted_bytes=$(find "$duck_sorted_out" -name '*.parquet' -printf '%s\n' | awk '{s+=$1} END {print s}')

mib() { awk -v b="$1" 'BEGIN {printf "%.1f", b / 1048576}'; }
rate() { awk -v n="$1" -v s="$2" 'BEGIN {printf "%.0f", n / s}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }

echo
echo "Input ($label): $records records in $files gzipped trail files ($(mib "$in_bytes") MiB), $(nproc) cores, $(date -u +%Y-%m-%d)"
echo
echo "| tool (median of 3 runs) | wall s | records/s | peak RSS MiB | rows out | output MiB | output MiB, typed columns (no eventJson) |"
echo "|---|---|---|---|---|---|---|"
echo "| trailq convert | $t_wall | $(rate "$records" "$t_wall") | $(mib $((t_rss * 1024))) | $t_rows | $(mib "$t_bytes") | $(mib "$t_typed") |"
echo "| DuckDB $($duckdb --version | cut -d' ' -f1) COPY … read_json | $d_wall | $(rate "$records" "$d_wall") | $(mib $((d_rss * 1024))) | $d_rows | $(mib "$d_bytes") | (has no eventJson) |"
echo "| the same, eventID/requestID kept as strings (size only) | | | | | $(mib "$d_str_bytes") | (has no eventJson) |"
echo "| the same, in a folder per day as trailq's dataset (size only) | | | | | $(mib "$d_part_bytes") | (has no eventJson) |"
echo "| the same, each day's rows sorted by eventTime as trailq's (size only) | | | | | $(mib "$d_sorted_bytes") | (has no eventJson) |"
echo
echo "trailq/DuckDB: speed $(ratio "$d_wall" "$t_wall")×, peak RSS $(ratio "$t_rss" "$d_rss")×, typed output size $(ratio "$t_typed" "$d_bytes")× (DuckDB's UUIDs) $(ratio "$t_typed" "$d_str_bytes")× (the same column types) $(ratio "$t_typed" "$d_part_bytes")× (the same types and day folders) and $(ratio "$t_typed" "$d_sorted_bytes")× (the same types, day folders and row order), whole dataset vs gzipped input $(ratio "$t_bytes" "$in_bytes")×"
echo "DuckDB statement: $duck_sql"
}

bench "generator" "$generated"
bench "real-shaped" "$real"
