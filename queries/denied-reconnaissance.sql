-- title: Reconnaissance: a principal denied on several Inspector operations in a day
-- description: Principals that, on one day in one account and Region, were denied
--   (AccessDenied) on at least three different Inspector operations and for at least half of
--   their Inspector calls that day: the operations, the counts and the denied calls' event IDs.
--   Severity: medium.
-- why: An identity that tries one operation after another and is refused most of the time is
--   finding out what it may do; it is the step before the changes it turns out to be allowed.
--   Automation with a missing permission fails on one operation, not on three.
-- sources: inspector2.amazonaws.com, inspector-scan.amazonaws.com, inspector.amazonaws.com
-- attack: T1580 Cloud Infrastructure Discovery; T1526 Cloud Service Discovery
-- kind: detection
-- severity: medium
-- actor: principal
-- events: event_ids
-- param start: timestamp = -90d; first event time included
-- param end: timestamp = now; events before this time
WITH calls AS (
  SELECT coalesce(userIdentity.arn, userIdentity.invokedBy, userIdentity.onBehalfOf.userId, userIdentity.principalId) AS principal,
         recipientAccountId, awsRegion, eventTime, eventName, eventID,
         CASE WHEN errorCode LIKE 'AccessDenied%' THEN 1 ELSE 0 END AS denied
  FROM {{eds}}
  WHERE eventSource IN ('inspector2.amazonaws.com', 'inspector-scan.amazonaws.com', 'inspector.amazonaws.com')
    AND eventTime >= {{start}} AND eventTime < {{end}}
),
days AS (
  SELECT principal, recipientAccountId, awsRegion, date_trunc('day', eventTime) AS day,
         min(CASE WHEN denied = 1 THEN eventTime END) AS eventTime,
         count(*) AS calls, sum(denied) AS denied_calls,
         count(DISTINCT CASE WHEN denied = 1 THEN eventName END) AS denied_operations,
         array_join(array_agg(CASE WHEN denied = 1 THEN eventName END ORDER BY eventName), ',') AS operations,
         array_join(array_agg(CASE WHEN denied = 1 THEN eventID END ORDER BY eventID), ',') AS event_ids
  FROM calls
  GROUP BY principal, recipientAccountId, awsRegion, date_trunc('day', eventTime)
)
SELECT eventTime, recipientAccountId, awsRegion, principal, calls, denied_calls,
       denied_operations, operations, event_ids, 'medium' AS severity
FROM days
WHERE denied_operations >= 3 AND 2 * denied_calls >= calls
ORDER BY eventTime, principal
