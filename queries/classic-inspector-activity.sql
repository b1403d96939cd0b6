-- title: Amazon Inspector Classic still in use
-- description: Calls to Inspector Classic (inspector.amazonaws.com) per principal, account and
--   operation: calls, changes, first and last call.
-- why: Inspector Classic is retired; whatever still calls it is unmaintained automation or
--   someone using an API that few people watch.
-- sources: inspector.amazonaws.com
-- kind: context
-- param start: timestamp = -90d; first event time included
-- param end: timestamp = now; events before this time
WITH calls AS (
  SELECT coalesce(userIdentity.arn, userIdentity.invokedBy, userIdentity.onBehalfOf.userId, userIdentity.principalId) AS principal,
         recipientAccountId, eventName, readOnly, eventTime
  FROM {{eds}}
  WHERE eventSource = 'inspector.amazonaws.com'
    AND eventTime >= {{start}} AND eventTime < {{end}}
)
SELECT principal, recipientAccountId, eventName, count(*) AS calls,
       sum(CASE WHEN readOnly THEN 0 ELSE 1 END) AS changes,
       min(eventTime) AS first_call, max(eventTime) AS last_call
FROM calls
GROUP BY principal, recipientAccountId, eventName
ORDER BY calls DESC, principal, recipientAccountId, eventName
