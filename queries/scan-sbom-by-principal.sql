-- title: ScanSbom use by principal
-- description: Who calls the Inspector Scan API (ScanSbom, which scans an uploaded SBOM), in
--   which account: calls, errors, source IPs, first and last call.
-- why: ScanSbom is normally a CI pipeline's job. Any other caller is using Inspector to learn
--   which of their packages are exploitable — worth knowing who.
-- sources: inspector-scan.amazonaws.com
-- attack: T1595.002 Active Scanning: Vulnerability Scanning
-- kind: context
-- param start: timestamp = -90d; first event time included
-- param end: timestamp = now; events before this time
WITH calls AS (
  SELECT coalesce(userIdentity.arn, userIdentity.invokedBy, userIdentity.onBehalfOf.userId, userIdentity.principalId) AS principal,
         recipientAccountId, eventTime, errorCode, sourceIPAddress
  FROM {{eds}}
  WHERE eventSource = 'inspector-scan.amazonaws.com'
    AND eventName = 'ScanSbom'
    AND eventTime >= {{start}} AND eventTime < {{end}}
)
SELECT principal, recipientAccountId, count(*) AS calls,
       sum(CASE WHEN errorCode IS NULL THEN 0 ELSE 1 END) AS errors,
       count(DISTINCT sourceIPAddress) AS source_ips,
       min(eventTime) AS first_call, max(eventTime) AS last_call
FROM calls
GROUP BY principal, recipientAccountId
ORDER BY calls DESC, principal, recipientAccountId
