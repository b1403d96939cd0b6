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
         recipientAccountId, awsRegion, eventTime, date_trunc('day', eventTime) AS day, eventName, eventID,
         CASE WHEN errorCode LIKE 'AccessDenied%' THEN 1 ELSE 0 END AS denied
  FROM {{eds}}
  WHERE eventSource IN ('inspector2.amazonaws.com', 'inspector-scan.amazonaws.com', 'inspector.amazonaws.com')
    AND eventTime >= {{start}} AND eventTime < {{end}}
),
-- Every call of each principal, account, Region and day: the denominator.
days AS (
  SELECT principal, recipientAccountId, awsRegion, day, count(*) AS calls, sum(denied) AS denied_calls
  FROM calls
  GROUP BY principal, recipientAccountId, awsRegion, day
),
-- The denied calls alone, listed (listing every call's slot, NULL when not denied, took the
-- local engine seconds and most of a GB on a million calls).
denials AS (
  SELECT principal, recipientAccountId, awsRegion, day,
         min(eventTime) AS eventTime,
         count(DISTINCT eventName) AS denied_operations,
         array_join(array_agg(eventName ORDER BY eventName), ',') AS operations,
         array_join(array_agg(eventID ORDER BY eventID), ',') AS event_ids
  FROM calls
  WHERE denied = 1
  GROUP BY principal, recipientAccountId, awsRegion, day
)
SELECT d.eventTime, d.recipientAccountId, d.awsRegion, d.principal, t.calls, t.denied_calls,
       d.denied_operations, d.operations, d.event_ids, 'medium' AS severity
FROM denials d
JOIN days t
  ON coalesce(t.principal, '') = coalesce(d.principal, '')
 AND t.recipientAccountId = d.recipientAccountId AND t.awsRegion = d.awsRegion AND t.day = d.day
WHERE d.denied_operations >= 3 AND 2 * t.denied_calls >= t.calls
ORDER BY d.eventTime, d.principal
