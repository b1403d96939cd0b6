-- title: Top callers of Inspector
-- description: The principals that call Inspector most: calls, changes (non-read-only calls),
--   errors, accounts and Regions touched, first and last call.
-- why: Knowing the usual callers makes the unusual one stand out; a principal high on changes
--   or errors deserves a look.
-- sources: inspector2.amazonaws.com, inspector-scan.amazonaws.com, inspector.amazonaws.com
-- kind: context
-- param start: timestamp = -90d; first event time included
-- param end: timestamp = now; events before this time
-- param limit: integer = 25; how many principals
WITH calls AS (
  SELECT coalesce(userIdentity.arn, userIdentity.invokedBy, userIdentity.onBehalfOf.userId, userIdentity.principalId) AS principal,
         readOnly, errorCode, recipientAccountId, awsRegion, eventTime
  FROM {{eds}}
  WHERE eventSource IN ('inspector2.amazonaws.com', 'inspector-scan.amazonaws.com', 'inspector.amazonaws.com')
    AND eventTime >= {{start}} AND eventTime < {{end}}
)
SELECT principal, count(*) AS calls,
       sum(CASE WHEN readOnly THEN 0 ELSE 1 END) AS changes,
       sum(CASE WHEN errorCode IS NULL THEN 0 ELSE 1 END) AS errors,
       count(DISTINCT recipientAccountId) AS accounts,
       count(DISTINCT awsRegion) AS regions,
       min(eventTime) AS first_call, max(eventTime) AS last_call
FROM calls
GROUP BY principal
ORDER BY calls DESC, principal
LIMIT {{limit}}
