#!/usr/bin/env bash
# The organization-wide export at CloudTrail's own limits (issue 14): the emulator as an
# organization of ACCOUNTS accounts × REGIONS Regions (--org, LookupEvents 2/s per account and
# Region), exported at once with `trailq export --org --all-regions`, then one account at a time
# (`--accounts ID`, one run each) for comparison. Reports, in one run: per account-Region the
# requests/s achieved against 2/s, the wall time against the busiest account-Region's own minimum
# (its requests at 2/s), throttles the emulator answered, peak RSS and CPU.
#
# Usage: scripts/bench-org.sh [ACCOUNTS=20] [REGIONS=10] [EVENTS_PER_DAY=2000]
# TRAILQ=path picks the binary (default target/release/trailq if built, else target/debug/trailq).
set -euo pipefail
cd "$(dirname "$0")/.."
accounts=${1:-20}
regions=${2:-10}
per_day=${3:-2000}
if [ -n "${TRAILQ:-}" ]; then
  trailq=$TRAILQ
elif [ -x target/release/trailq ] && [ target/release/trailq -nt Cargo.lock ]; then
  trailq=target/release/trailq
else
  cargo build --quiet
  trailq=target/debug/trailq
fi
all_regions=(us-east-1 eu-west-1 us-east-2 us-west-1 us-west-2 eu-west-2 eu-central-1 ap-southeast-1 ap-southeast-2 ap-northeast-1)
region_list=$(IFS=,; echo "${all_regions[*]:0:$regions}")
account_list=$(for i in $(seq 0 $((accounts - 1))); do printf '%012d\n' $((410000000000 + i)); done | paste -sd,)
tmp=$(mktemp -d)
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$trailq" emulator --port "$port" --org --accounts "$account_list" --regions "$region_list" \
  --days 8 --events-per-day "$per_day" --seed 3 >"$tmp/emulator.log" 2>&1 &
emulator=$!
trap 'kill $emulator 2>/dev/null; rm -rf "$tmp"' EXIT
for _ in $(seq 100); do grep -q listening "$tmp/emulator.log" && break; sleep 0.2; done
export AWS_ACCESS_KEY_ID=AKIABENCHORG AWS_SECRET_ACCESS_KEY=x AWS_REGION=us-east-1 \
  AWS_ENDPOINT_URL="http://127.0.0.1:$port" AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
window=(--start "$(date -u -d '7 days ago' '+%Y-%m-%dT%H:00:00Z')" --end "$(date -u '+%Y-%m-%dT%H:00:00Z')")

echo "$accounts accounts × $regions Regions = $((accounts * regions)) account-Regions, $per_day events a day over 8 days; $(nproc) cores; $trailq; $(date -u '+%Y-%m-%d %H:%M UTC'); commit $(git rev-parse --short HEAD)"
echo
# All at once.
/usr/bin/time -f '%e %M %U %S' -o "$tmp/time" \
  "$trailq" export --org --all-regions --out "$tmp/org" --quiet --json "${window[@]}" >"$tmp/org.json"
read -r wall rss user sys <"$tmp/time"
curl -s "http://127.0.0.1:$port/_trailq/stats" >"$tmp/stats.json"
python3 - "$tmp/org.json" "$tmp/stats.json" "$wall" "$rss" "$user" "$sys" <<'EOF'
import json, statistics, sys
summary, stats = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
wall, rss, user, sys_ = float(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5]), float(sys.argv[6])
places = summary["places"]
rates = sorted(p["requestsPerSecond"] / p["allowedPerSecond"] for p in places)
busy = [p for p in places if p["requests"] >= 10]
busiest = max(places, key=lambda p: p["requests"])
floor = (busiest["requests"] - 1) / busiest["allowedPerSecond"]
throttled = sum(r["throttled"] for r in stats["rates"] if r["operation"] == "LookupEvents")
print("| | value |")
print("|---|---|")
print(f"| account-Regions exported | {len(places)} |")
print(f"| events | {summary['eventsWritten']} |")
print(f"| requests | {sum(p['requests'] for p in places)} |")
print(f"| requests/s ÷ 2/s per account-Region: min, median | {rates[0]:.3f}×, {statistics.median(rates):.3f}× |")
print(f"| account-Regions with ≥ 10 requests at ≥ 0.95× | {sum(p['requestsPerSecond'] >= 0.95 * p['allowedPerSecond'] for p in busy)} of {len(busy)} |")
print(f"| throttles answered by the emulator | {throttled} |")
print(f"| wall time | {wall:.1f} s |")
print(f"| busiest account-Region ({busiest['account']} {busiest['region']}): {busiest['requests']} requests at 2/s | {floor:.1f} s (wall = {wall / floor:.2f}×) |")
print(f"| peak RSS | {rss / 1024:.0f} MiB |")
print(f"| CPU (user + system) | {user + sys_:.1f} s ({(user + sys_) / wall * 100:.0f}% of one core) |")
EOF

# One account at a time, as a loop over --profile-per-account exports would.
start=$(date +%s.%N)
for account in ${account_list//,/ }; do
  "$trailq" export --org --accounts "$account" --all-regions --out "$tmp/one-$account" --quiet "${window[@]}"
done
end=$(date +%s.%N)
echo "| one account at a time ($accounts runs) | $(awk -v a="$start" -v b="$end" -v w="$wall" 'BEGIN {printf "%.1f s (%.1f× the wall time of all at once)", b - a, (b - a) / w}') |"
