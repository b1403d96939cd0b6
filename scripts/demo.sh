#!/usr/bin/env bash
# The demo: `trailq demo` starts the CloudTrail emulator in-process (90 days of Amazon Inspector
# activity in three accounts and two Regions, LookupEvents held to 2 requests/s), exports it with
# the real export, then DuckDB answers "who hid findings and who turned Inspector off".
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-venv.sh
# The debug build: the demo waits on the API's 2 requests/s, not on the CPU (BENCHMARKS.md, Build).
cargo build --bin trailq
out=${1:-trailq-demo/inspector-events}
target/debug/trailq demo --out "$out"
echo
echo "Who created suppression filters (findings hidden), and who turned Inspector off:"
.venv/bin/duckdb -c "
SET TimeZone = 'UTC';
SELECT eventTime, recipientAccountId AS account, awsRegion AS region, eventName,
       -- the saved queries' principal: Identity Center users have no ARN, AWS services no user
       coalesce(userIdentity.arn, userIdentity.invokedBy, userIdentity.onBehalfOf.userId, userIdentity.principalId) AS who,
       sourceIPAddress AS ip, coalesce(requestParameters['name'], requestParameters['resourceTypes']) AS what
FROM read_parquet('$out/**/*.parquet', hive_partitioning = true)
WHERE eventSource = 'inspector2.amazonaws.com' AND errorCode IS NULL
  AND ((eventName IN ('CreateFilter', 'UpdateFilter') AND requestParameters['action'] = 'SUPPRESS')
       OR eventName = 'Disable')
ORDER BY eventTime DESC LIMIT 10;"
