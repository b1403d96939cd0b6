#!/usr/bin/env bash
# Two or more trailq binaries side by side on `convert s3://BUCKET --out s3://…`, the path whose
# peak RSS an upload's buffers add to: moto's S3 server (as scripts/bench-s3.sh starts it) gets
# the input once, then the binaries convert it in turn, round by round, each into a bucket of its
# own (removed after the run). Prints wall seconds, peak RSS and what was published, per run.
# Usage: ROUNDS=2 DATA=bench-data/real-shaped-10000000 scripts/bench-ab-s3.sh BINARY [MORE…]
#   (DATA is built by `scripts/bench-s3.sh 1000000 10` or scripts/real-shaped.py)
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 1 ] || { echo "usage: $0 BINARY [MORE…]" >&2; exit 2; }
data=${DATA:-bench-data/real-shaped-10000000}
[ -d "$data" ] || { echo "$data is missing: run scripts/bench-s3.sh 1000000 10 (or scripts/real-shaped.py) first" >&2; exit 2; }
scripts/setup-venv.sh
# shellcheck source=scripts/s3-server.sh
. scripts/s3-server.sh
tmp=$(mktemp -d)
port=$(free_port)
.venv/bin/moto_server -H 127.0.0.1 -p "$port" >"$tmp/moto.log" 2>&1 &
s3_server_started $! "$port"
aws s3 mb s3://bench-in >/dev/null
up0=$SECONDS
aws s3 cp --recursive --quiet "$data" s3://bench-in/
echo "$(nproc) cores; $data uploaded to moto in $((SECONDS - up0)) s; $(date -u '+%Y-%m-%d %H:%M UTC'); commit $(git rev-parse --short HEAD)"
echo
echo "| round | binary | wall s | peak RSS MiB | rows | published |"
echo "|---|---|---|---|---|---|"
n=0
for round in $(seq "${ROUNDS:-2}"); do
  for binary in "$@"; do
    n=$((n + 1))
    aws s3 mb "s3://bench-out$n" >/dev/null
    /usr/bin/time -f '%e %M' -o "$tmp/time" "$binary" convert s3://bench-in --out "s3://bench-out$n/ds/" --quiet --json >"$tmp/summary.json"
    read -r wall rss <"$tmp/time"
    python3 - "$tmp/summary.json" "$round" "$binary" "$wall" "$rss" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
p = s["published"]
print(f"| {sys.argv[2]} | {sys.argv[3]} | {sys.argv[4]} | {int(sys.argv[5]) / 1024:.0f} | {s['rows_written']:,} "
      f"| {p['filesUp']} files, {p['bytesUp'] / 1048576:.1f} MiB up, {p['deleted']} deleted |")
PY
    aws s3 rb --force "s3://bench-out$n" >/dev/null
  done
done
