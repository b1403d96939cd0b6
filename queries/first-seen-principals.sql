-- title: Principals seen for the first time
-- description: Principals whose first Inspector call in the window came after `since`: new
--   identities, with what they did (calls, changes, operations) and where from.
-- why: An identity that never touched Inspector and suddenly does — especially one that
--   changes settings — is the first thing to ask about after a credential leak.
-- sources: inspector2.amazonaws.com, inspector-scan.amazonaws.com, inspector.amazonaws.com
-- attack: T1078.004 Valid Accounts: Cloud Accounts
-- kind: context
-- param start: timestamp = -90d; first event time included
-- param end: timestamp = now; events before this time
-- param since: timestamp = -30d; first calls after this are new
WITH calls AS (
  SELECT coalesce(userIdentity.arn, userIdentity.invokedBy, userIdentity.onBehalfOf.userId, userIdentity.principalId) AS principal,
         readOnly, eventName, sourceIPAddress, eventTime
  FROM {{eds}}
  WHERE eventSource IN ('inspector2.amazonaws.com', 'inspector-scan.amazonaws.com', 'inspector.amazonaws.com')
    AND eventTime >= {{start}} AND eventTime < {{end}}
),
principals AS (
  SELECT principal, min(eventTime) AS first_call, max(eventTime) AS last_call, count(*) AS calls,
         sum(CASE WHEN readOnly THEN 0 ELSE 1 END) AS changes,
         count(DISTINCT eventName) AS operations,
         count(DISTINCT sourceIPAddress) AS source_ips,
         min(sourceIPAddress) AS a_source_ip
  FROM calls
  GROUP BY principal
)
SELECT principal, first_call, last_call, calls, changes, operations, source_ips, a_source_ip
FROM principals
WHERE first_call >= {{since}}
ORDER BY first_call, principal
