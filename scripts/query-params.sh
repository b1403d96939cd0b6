# Sourced by scripts/bench-queries.sh and scripts/bench-ab-queries.sh: the arguments a benchmark
# gives each saved query, so that both run the same statements. BENCH_NOW is the benchmark data's
# `now` (the generator and scripts/real-shaped.py end their 90–91 days there); a query with a
# parameter that has no default gets a value here.
BENCH_NOW=2026-11-24T00:00:00Z

# Sets the array `params` to the arguments for saved query $1.
query_params() {
  params=(--now "$BENCH_NOW")
  case "$1" in
    principal-write-timeline) params+=(--param principal=mallory) ;;
  esac
}
