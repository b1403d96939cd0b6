#!/usr/bin/env bash
# Runs a command and prints, once a second, "seconds:CPU%:RSS" of its process (CPU over the last
# second, 200% = both cores busy), then the command's own exit status. Used for the timelines and
# "CPU-bound" statements in BENCHMARKS.md; wrap it in /usr/bin/time for the peak RSS.
# Usage: scripts/sample-cpu-rss.sh target/release/trailq convert DIR --out OUT --quiet
set -uo pipefail
"$@" &
pid=$!
hz=$(getconf CLK_TCK)
prev=0
t=0
while kill -0 "$pid" 2>/dev/null; do
  sleep 1
  t=$((t + 1))
  ticks=$(awk '{print $14 + $15}' "/proc/$pid/stat" 2>/dev/null) || break
  rss=$(awk '/VmRSS/ {print int($2 / 1024)}' "/proc/$pid/status" 2>/dev/null)
  printf '%d:%d%%:%sM ' "$t" $(((ticks - prev) * 100 / hz)) "$rss"
  prev=$ticks
done
echo
wait "$pid"
