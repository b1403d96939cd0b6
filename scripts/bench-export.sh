#!/usr/bin/env bash
# Benchmark: 89 days of Inspector events from Event history of one account and Region, with
# CloudTrail's limit (LookupEvents 2 requests/s) enforced by the emulator. trailq export against
# the AWS CLI paging the same three event sources, in one run, on the same emulator; the emulator
# counts what each client made it accept and throttle.
#
#   scripts/bench-export.sh [EVENTS_PER_DAY] [BINARY]      (defaults: 100, target/release/trailq)
set -euo pipefail
cd "$(dirname "$0")/.."
per_day=${1:-100}
bin=${2:-target/release/trailq}
scripts/setup-venv.sh
[ -x "$bin" ] || cargo build --release --bin trailq
work=$(mktemp -d)
trap 'kill $emu 2>/dev/null; rm -rf "$work"' EXIT

"$bin" emulator --port 0 --events-per-day "$per_day" --accounts 111122223333 --regions us-east-1 \
  --seed 3 > "$work/emulator.log" 2>&1 &
emu=$!
until grep -q 'listening on' "$work/emulator.log" 2>/dev/null; do sleep 0.2; done
url=$(sed -n 's/^trailq emulator listening on //p' "$work/emulator.log")
start=$(date -u -d '-89 days' +%Y-%m-%dT%H:%M:%SZ)
end=$(date -u +%Y-%m-%dT%H:%M:%SZ)
export AWS_ACCESS_KEY_ID=AKIABENCH AWS_SECRET_ACCESS_KEY=x AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1 \
  AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_EC2_METADATA_DISABLED=true
stats() { curl -s "$url/_trailq/stats" | python3 -c 'import json,sys; r=[x for x in json.load(sys.stdin)["rates"] if x["operation"]=="LookupEvents"]; print(sum(x["accepted"] for x in r), sum(x["throttled"] for x in r), max([x["maxInAnySecond"] for x in r] or [0]))'; }

read -r a0 t0 _ < <(stats)
s=$(date +%s.%N)
"$bin" export --endpoint-url "$url" --region us-east-1 --start "$start" --end "$end" \
  --out "$work/trailq" --json > "$work/trailq.json"
trailq_s=$(echo "$(date +%s.%N) - $s" | bc)
read -r a1 t1 m1 < <(stats)
trailq_events=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["eventsWritten"])' "$work/trailq.json")

s=$(date +%s.%N)
cli_events=0
cli_failed=0
for source in inspector2.amazonaws.com inspector-scan.amazonaws.com inspector.amazonaws.com; do
  if .venv/bin/aws --endpoint-url "$url" cloudtrail lookup-events --output json \
      --lookup-attributes "AttributeKey=EventSource,AttributeValue=$source" \
      --start-time "$start" --end-time "$end" > "$work/cli-$source.json" 2> "$work/cli-$source.err"; then
    n=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["Events"]))' "$work/cli-$source.json")
    cli_events=$((cli_events + n))
  else
    cli_failed=$((cli_failed + 1))
    echo "aws cli failed on $source: $(tail -1 "$work/cli-$source.err")" >&2
  fi
done
cli_s=$(echo "$(date +%s.%N) - $s" | bc)
read -r a2 t2 m2 < <(stats)

printf '%-10s %9s %8s %9s %10s %12s %14s\n' client seconds events accepted throttled "requests/s" "max in 1 s"
printf '%-10s %9.1f %8d %9d %10d %12.2f %14s\n' trailq "$trailq_s" "$trailq_events" $((a1 - a0)) $((t1 - t0)) \
  "$(echo "($a1 - $a0) / $trailq_s" | bc -l)" "$m1 (limit 2)"
printf '%-10s %9.1f %8d %9d %10d %12.2f %14s\n' "aws cli" "$cli_s" "$cli_events" $((a2 - a1)) $((t2 - t1)) \
  "$(echo "($a2 - $a1) / $cli_s" | bc -l)" "$cli_failed source(s) failed"
printf 'trailq took %.2f× the AWS CLI'"'"'s time; its accepted requests/s are %.3f× the 2/s ceiling\n' \
  "$(echo "$trailq_s / $cli_s" | bc -l)" "$(echo "($a1 - $a0) / $trailq_s / 2" | bc -l)"
