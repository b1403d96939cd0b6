-- title: Inspector activity per account and Region over time
-- description: Inspector calls per day, account and Region: calls, changes, errors and distinct
--   principals.
-- why: The baseline. A day with many changes, errors in a Region where nobody works, or an
--   account going silent (Inspector turned off) stands out against it.
-- sources: inspector2.amazonaws.com, inspector-scan.amazonaws.com, inspector.amazonaws.com
-- kind: context
-- param start: timestamp = -90d; first event time included
-- param end: timestamp = now; events before this time
WITH calls AS (
  SELECT date_trunc('day', eventTime) AS day, recipientAccountId, awsRegion,
         coalesce(userIdentity.arn, userIdentity.invokedBy, userIdentity.onBehalfOf.userId, userIdentity.principalId) AS principal,
         readOnly, errorCode
  FROM {{eds}}
  WHERE eventSource IN ('inspector2.amazonaws.com', 'inspector-scan.amazonaws.com', 'inspector.amazonaws.com')
    AND eventTime >= {{start}} AND eventTime < {{end}}
)
SELECT day, recipientAccountId, awsRegion, count(*) AS calls,
       sum(CASE WHEN readOnly THEN 0 ELSE 1 END) AS changes,
       sum(CASE WHEN errorCode IS NULL THEN 0 ELSE 1 END) AS errors,
       count(DISTINCT principal) AS principals
FROM calls
GROUP BY day, recipientAccountId, awsRegion
ORDER BY day, recipientAccountId, awsRegion
