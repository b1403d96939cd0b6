-- title: Suppression filters that hide findings
-- description: CreateFilter and UpdateFilter calls whose action is SUPPRESS: who made the
--   filter, when, from where, its name and description, and the filter criteria that say which
--   findings it hides.
--   Severity: high when it hides CRITICAL or HIGH findings without naming a vulnerability,
--   finding or resource (a blanket filter); low for a narrow one (an accepted risk) or a failed
--   call.
-- why: A suppression filter closes matching findings the moment they arrive. One created by an
--   intruder hides their tracks (say, every CRITICAL finding on EC2); one made too broad by
--   mistake blinds the security team just the same.
-- sources: inspector2.amazonaws.com
-- attack: T1562.001 Impair Defenses: Disable or Modify Tools (v18); T1685 Disable or Modify Tools (v19)
-- kind: detection
-- severity: high
-- actor: principal
-- events: eventID
-- param start: timestamp = -90d; first event time included
-- param end: timestamp = now; events before this time
SELECT eventTime, recipientAccountId, awsRegion, eventName,
       coalesce(userIdentity.arn, userIdentity.invokedBy, userIdentity.onBehalfOf.userId, userIdentity.principalId) AS principal,
       element_at(requestParameters, 'name') AS filter_name,
       element_at(requestParameters, 'description') AS description,
       element_at(requestParameters, 'filterCriteria') AS filter_criteria,
       sourceIPAddress, errorCode, eventID,
       CASE WHEN errorCode IS NOT NULL THEN 'low'
            WHEN (strpos(element_at(requestParameters, 'filterCriteria'), '"CRITICAL"') > 0 OR strpos(element_at(requestParameters, 'filterCriteria'), '"HIGH"') > 0)
              AND strpos(element_at(requestParameters, 'filterCriteria'), 'vulnerabilityId') = 0
              AND strpos(element_at(requestParameters, 'filterCriteria'), 'findingArn') = 0
              AND strpos(element_at(requestParameters, 'filterCriteria'), 'resourceId') = 0 THEN 'high'
            ELSE 'low' END AS severity
FROM {{eds}}
WHERE eventSource = 'inspector2.amazonaws.com'
  AND eventName IN ('CreateFilter', 'UpdateFilter')
  AND element_at(requestParameters, 'action') = 'SUPPRESS'
  AND eventTime >= {{start}} AND eventTime < {{end}}
ORDER BY eventTime, eventID
