#!/usr/bin/env bash
# The demo: 90 days of seeded Inspector activity as trail log files → `trailq convert` → DuckDB.
# (Becomes `trailq demo`, against the emulator's Event history, when export lands.)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-venv.sh
cargo build --release --bin trailq --example trail_files
demo=${1:-demo}
rm -rf "$demo"
target/release/examples/trail_files --out "$demo/trail-files" --days 90 --events-per-day 2000
target/release/trailq convert "$demo/trail-files" --out "$demo/inspector-events"
echo
echo "Who created suppression filters (findings hidden), and who turned Inspector off:"
.venv/bin/duckdb -c "
SET TimeZone = 'UTC';
SELECT eventTime, recipientAccountId AS account, eventName, userIdentity.arn AS who, sourceIPAddress AS ip,
       coalesce(requestParameters['name'], requestParameters['resourceTypes']) AS what
FROM read_parquet('$demo/inspector-events/**/*.parquet', hive_partitioning = true)
WHERE eventSource = 'inspector2.amazonaws.com' AND errorCode IS NULL
  AND ((eventName IN ('CreateFilter', 'UpdateFilter') AND requestParameters['action'] = 'SUPPRESS')
       OR eventName = 'Disable')
ORDER BY eventTime DESC LIMIT 10;"
echo
echo "Open it yourself:  .venv/bin/duckdb -c \"SELECT count(*) FROM read_parquet('$demo/inspector-events/**/*.parquet', hive_partitioning = true)\""
