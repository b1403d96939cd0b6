#!/usr/bin/env bash
# Benchmark (issue 13): trail files in S3, in one run, side by side, on moto's S3 server:
#   s3:         trailq convert s3://BUCKET --out DIR          (reads the bucket in place)
#   s3 to s3:   trailq convert s3://BUCKET --out s3://OUT/PREFIX/   (the dataset written to S3 too;
#               copied back with the AWS CLI and counted by DuckDB)
#   sync+local: aws s3 sync s3://BUCKET COPY, then trailq convert COPY   (what users do today)
#   local:      trailq convert COPY (the local copy alone)
# Two shapes of 1 M records in the organization layout: the generator's (small files, ~40 records
# each) and real-shaped (scripts/real-shaped.py: the real-record corpus, files of 5,000 records).
# Gives records/s, wall time and peak RSS, and moto's own CPU time during the S3 read (moto is a
# single Python process: when it is the bottleneck, its CPU says so).
# Usage: scripts/bench-s3.sh [EVENTS_PER_DAY=100000] [DAYS=10]   S3_SERVER=s3s-fs for a faster
# server than moto; TRAILQ=path picks the binary
# (default target/release/trailq if built and newer than Cargo.lock, else the debug build);
# SHAPES="real-shaped" runs one shape only.
set -euo pipefail
cd "$(dirname "$0")/.."
per_day=${1:-100000}
days=${2:-10}
records_wanted=$((per_day * days))
scripts/setup-venv.sh
if [ -n "${TRAILQ:-}" ]; then
  trailq=$TRAILQ
elif [ -x target/release/trailq ] && [ target/release/trailq -nt Cargo.lock ]; then
  trailq=target/release/trailq
else
  cargo build --quiet --bin trailq
  trailq=target/debug/trailq
fi
shapes=${SHAPES:-generator real-shaped}
# Only the inputs of the shapes that run are built (at 10 M records the generator's takes minutes).
generated=bench-data/trail-files-${days}x${per_day}
if [[ " $shapes " == *" generator "* ]] && [ ! -d "$generated" ]; then
  cargo build --quiet --example trail_files
  target/debug/examples/trail_files --out "$generated" --days "$days" --events-per-day "$per_day" \
    --now 2026-11-24T00:00:00Z --seed 7
fi
real=bench-data/real-shaped-${records_wanted}
if [[ " $shapes " == *" real-shaped "* ]] && [ ! -d "$real" ]; then
  python3 scripts/real-shaped.py "$real" "$records_wanted" $(( (records_wanted + 4999) / 5000 )) 91
fi

# shellcheck source=scripts/s3-server.sh
. scripts/s3-server.sh
tmp=$(mktemp -d)
port=$(free_port)
# The S3 server: moto (default), or S3_SERVER=s3s-fs, a Rust server on a folder (s3s-fs 0.14.1,
# built once into bench-data/tools: 0.15+ needs a newer rustc than this stack's).
case ${S3_SERVER:-moto} in
  moto)
    server_name="moto $(.venv/bin/pip show moto 2>/dev/null | awk '/^Version/ {print $2}')"
    .venv/bin/moto_server -H 127.0.0.1 -p "$port" >"$tmp/moto.log" 2>&1 &
    ;;
  s3s-fs)
    server_name="s3s-fs 0.14.1"
    if [ ! -x bench-data/tools/bin/s3s-fs ]; then
      cargo install --quiet s3s-fs@0.14.1 --features binary --root bench-data/tools
    fi
    mkdir -p "$tmp/s3s-root"
    bench-data/tools/bin/s3s-fs --host 127.0.0.1 --port "$port" --access-key AKIABENCHS3 --secret-key x \
      "$tmp/s3s-root" >"$tmp/s3s.log" 2>&1 &
    ;;
  *) echo "S3_SERVER is moto or s3s-fs" >&2; exit 2 ;;
esac
moto=$!
s3_server_started "$moto" "$port"
# The S3 server's CPU seconds so far (user + system, from /proc).
moto_cpu() { awk -v hz="$(getconf CLK_TCK)" '{printf "%.1f", ($14 + $15) / hz}' "/proc/$moto/stat"; }

echo "$(nproc) cores; $trailq; $server_name; $(date -u '+%Y-%m-%d %H:%M UTC'); commit $(git rev-parse --short HEAD)"
bench() {
  local label=$1 data=$2 bucket=$3
  local files bytes
  files=$(find "$data" -name '*.json.gz' | wc -l)
  bytes=$(find "$data" -name '*.json.gz' -printf '%s\n' | awk '{s+=$1} END {print s}')
  aws s3 mb "s3://$bucket" >/dev/null
  local up0=$SECONDS
  aws s3 cp --recursive --quiet "$data" "s3://$bucket/"
  echo
  echo "### $label: $files objects, $(awk -v b="$bytes" 'BEGIN {printf "%.1f MiB", b / 1048576}') gzipped (uploaded to the S3 server in $((SECONDS - up0)) s)"
  echo
  # trailq straight from S3.
  local cpu0 cpu1
  cpu0=$(moto_cpu)
  /usr/bin/time -f '%e %M' -o "$tmp/t-s3" "$trailq" convert "s3://$bucket" --out "$tmp/$bucket-s3" --quiet --json >"$tmp/s3.json"
  cpu1=$(moto_cpu)
  # The dataset to S3 as well.
  aws s3 mb "s3://$bucket-out" >/dev/null
  /usr/bin/time -f '%e %M' -o "$tmp/t-s3s3" "$trailq" convert "s3://$bucket" --out "s3://$bucket-out/ds/" --quiet --json >"$tmp/s3s3.json"
  aws s3 cp --recursive --quiet "s3://$bucket-out/ds/" "$tmp/$bucket-back"
  .venv/bin/duckdb -csv -noheader -c "SELECT count(*) FROM read_parquet('$tmp/$bucket-back/event_date=*/*.parquet')" >"$tmp/s3s3.count"
  # What users do today: sync, then convert the copy.
  /usr/bin/time -f '%e %M' -o "$tmp/t-sync" .venv/bin/aws --endpoint-url "http://127.0.0.1:$port" s3 sync --quiet "s3://$bucket" "$tmp/$bucket-copy"
  /usr/bin/time -f '%e %M' -o "$tmp/t-local" "$trailq" convert "$tmp/$bucket-copy" --out "$tmp/$bucket-local" --quiet --json >"$tmp/local.json"
  python3 - "$tmp" "$cpu0" "$cpu1" <<'EOF'
import json, sys
tmp, cpu0, cpu1 = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
def t(name):
    wall, rss = open(f"{tmp}/t-{name}").read().split()
    return float(wall), int(rss) / 1024
s3, local = json.load(open(f"{tmp}/s3.json")), json.load(open(f"{tmp}/local.json"))
s3s3 = json.load(open(f"{tmp}/s3s3.json"))
assert s3["rows_written"] == local["rows_written"], (s3["rows_written"], local["rows_written"])
back = int(open(f"{tmp}/s3s3.count").read())
assert back == local["rows_written"], (back, local["rows_written"])
records = s3["records_read"]
(ws, rs), (wy, ry), (wl, rl), (wss, rss) = t("s3"), t("sync"), t("local"), t("s3s3")
print("| | wall | records/s | peak RSS |")
print("|---|---|---|---|")
print(f"| trailq convert s3:// | {ws:.1f} s | {records / ws:,.0f} | {rs:.0f} MiB |")
print(f"| trailq convert s3:// --out s3:// | {wss:.1f} s | {records / wss:,.0f} | {rss:.0f} MiB |")
print(f"| aws s3 sync, then trailq convert | {wy + wl:.1f} s ({wy:.1f} + {wl:.1f}) | {records / (wy + wl):,.0f} | {max(ry, rl):.0f} MiB (aws {ry:.0f}) |")
print(f"| trailq convert of the local copy | {wl:.1f} s | {records / wl:,.0f} | {rl:.0f} MiB |")
print()
print(f"{records:,} records, {s3['rows_written']:,} rows in both datasets. From S3: "
      f"{s3['s3']['listRequests']} list requests, {s3['s3']['getRequests']} GETs; "
      f"**{(records / ws) / (records / wl):.2f}×** the local convert's records/s, "
      f"**{(wy + wl) / ws:.2f}×** faster than sync+convert. "
      f"The S3 server's CPU during the S3 read: {cpu1 - cpu0:.1f} s of {ws:.1f} s wall "
      f"({(cpu1 - cpu0) / ws * 100:.0f}% of a core). To S3: {s3s3['published']['filesUp']} files "
      f"({s3s3['published']['bytesUp'] / 1048576:.1f} MiB) sent, {back:,} rows read back by DuckDB "
      f"after aws s3 cp; **{ws / wss:.2f}×** the records/s of writing locally.")
EOF
}
for shape in $shapes; do
  case $shape in
    generator) bench "generator" "$generated" "bench-generated" ;;
    real-shaped) bench "real-shaped" "$real" "bench-real" ;;
  esac
done
