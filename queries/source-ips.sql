-- title: Source IP addresses calling Inspector
-- description: Each source IP address with the principals that called Inspector from it:
--   calls, changes, errors, first and last call. AWS services calling on your behalf appear
--   under their service name.
-- why: An address outside your networks and CI ranges (a VPN exit, a Tor node) making changes
--   is a signal on its own; one principal from many addresses is another.
-- sources: inspector2.amazonaws.com, inspector-scan.amazonaws.com, inspector.amazonaws.com
-- attack: T1078.004 Valid Accounts: Cloud Accounts
-- kind: context
-- param start: timestamp = -90d; first event time included
-- param end: timestamp = now; events before this time
WITH calls AS (
  SELECT sourceIPAddress AS source_ip,
         coalesce(userIdentity.arn, userIdentity.invokedBy, userIdentity.onBehalfOf.userId, userIdentity.principalId) AS principal,
         readOnly, errorCode, eventTime
  FROM {{eds}}
  WHERE eventSource IN ('inspector2.amazonaws.com', 'inspector-scan.amazonaws.com', 'inspector.amazonaws.com')
    AND eventTime >= {{start}} AND eventTime < {{end}}
)
SELECT source_ip, principal, count(*) AS calls,
       sum(CASE WHEN readOnly THEN 0 ELSE 1 END) AS changes,
       sum(CASE WHEN errorCode IS NULL THEN 0 ELSE 1 END) AS errors,
       min(eventTime) AS first_call, max(eventTime) AS last_call
FROM calls
GROUP BY source_ip, principal
ORDER BY changes DESC, calls DESC, source_ip, principal
