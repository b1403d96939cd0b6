-- title: Suppression filters that hide findings
-- description: CreateFilter and UpdateFilter calls whose action is SUPPRESS: who made the
--   filter, when, from where, its name and description, and the filter criteria that say which
--   findings it hides.
-- why: A suppression filter closes matching findings the moment they arrive. One created by an
--   intruder hides their tracks (say, every CRITICAL finding on EC2); one made too broad by
--   mistake blinds the security team just the same.
-- sources: inspector2.amazonaws.com
-- attack: T1562.001 Impair Defenses: Disable or Modify Tools
-- param start: timestamp = -90d; first event time included
-- param end: timestamp = now; events before this time
SELECT eventTime, recipientAccountId, awsRegion, eventName,
       coalesce(userIdentity.arn, userIdentity.invokedBy, userIdentity.onBehalfOf.userId, userIdentity.principalId) AS principal,
       element_at(requestParameters, 'name') AS filter_name,
       element_at(requestParameters, 'description') AS description,
       element_at(requestParameters, 'filterCriteria') AS filter_criteria,
       sourceIPAddress, errorCode, eventID
FROM {{eds}}
WHERE eventSource = 'inspector2.amazonaws.com'
  AND eventName IN ('CreateFilter', 'UpdateFilter')
  AND element_at(requestParameters, 'action') = 'SUPPRESS'
  AND eventTime >= {{start}} AND eventTime < {{end}}
ORDER BY eventTime, eventID
