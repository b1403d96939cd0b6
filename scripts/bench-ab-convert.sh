#!/usr/bin/env bash
# Two or more trailq binaries side by side on `convert` (a release-profile change must not make it
# slower): each binary converts both data shapes of scripts/bench-convert.sh (run that first: it
# builds the inputs), alternating binaries round by round so that the VM's changes of speed hit
# them alike. Prints wall, user and sys seconds and peak RSS per run; compare the medians.
# Usage: ROUNDS=4 scripts/bench-ab-convert.sh OLD_BINARY NEW_BINARY [MORE…]
#   DATA=trail-files-10x100000 (or real-shaped-1000000) converts that shape only.
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 2 ] || { echo "usage: $0 OLD_BINARY NEW_BINARY [MORE…]" >&2; exit 2; }
read -r -a shapes <<< "${DATA:-real-shaped-1000000 trail-files-10x100000}"
for data in "${shapes[@]}"; do
  [ -d "bench-data/$data" ] || { echo "bench-data/$data is missing: run scripts/bench-convert.sh first" >&2; exit 2; }
done
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
echo "| round | binary | data | wall s | user s | sys s | peak RSS KiB |"
echo "|---|---|---|---|---|---|---|"
for round in $(seq "${ROUNDS:-3}"); do
  for binary in "$@"; do
    for data in "${shapes[@]}"; do
      rm -rf "$out/dataset"
      sync
      /usr/bin/time -o "$out/time" -f "%e %U %S %M" \
        "$binary" convert "bench-data/$data" --out "$out/dataset" --quiet > /dev/null
      read -r wall user sys rss < "$out/time"
      echo "| $round | $binary | $data | $wall | $user | $sys | $rss |"
      echo "$binary $data $wall" >> "$out/walls"
    done
  done
done
echo
echo "| binary | data | median wall s |"
echo "|---|---|---|"
sort -k1,1 -k2,2 -k3,3n "$out/walls" | awk '
  { key = $1 " | " $2; n[key]++; v[key, n[key]] = $3; if (!(key in seen)) { seen[key] = 1; order[++k] = key } }
  END { for (i = 1; i <= k; i++) { c = n[order[i]]; m = (c % 2) ? v[order[i], (c + 1) / 2] : (v[order[i], c / 2] + v[order[i], c / 2 + 1]) / 2; printf "| %s | %.2f |\n", order[i], m } }'
