-- title: AccessDenied and other errors on Inspector APIs, by principal
-- description: Failed Inspector calls grouped by principal and error code: how many, on how
--   many different operations, which ones, and when the first and last happened.
-- why: A burst of AccessDenied across many operations is an identity finding out what it may
--   do: the reconnaissance before an attack. Other errors show broken automation.
-- sources: inspector2.amazonaws.com, inspector-scan.amazonaws.com, inspector.amazonaws.com
-- attack: T1580 Cloud Infrastructure Discovery
-- kind: context
-- param start: timestamp = -90d; first event time included
-- param end: timestamp = now; events before this time
WITH failed AS (
  SELECT coalesce(userIdentity.arn, userIdentity.invokedBy, userIdentity.onBehalfOf.userId, userIdentity.principalId) AS principal,
         errorCode, eventName, eventTime
  FROM {{eds}}
  WHERE eventSource IN ('inspector2.amazonaws.com', 'inspector-scan.amazonaws.com', 'inspector.amazonaws.com')
    AND errorCode IS NOT NULL
    AND eventTime >= {{start}} AND eventTime < {{end}}
)
SELECT principal, errorCode, count(*) AS errors,
       count(DISTINCT eventName) AS operations,
       min(eventTime) AS first_error, max(eventTime) AS last_error
FROM failed
GROUP BY principal, errorCode
ORDER BY errors DESC, principal, errorCode
