-- title: Filters deleted
-- description: DeleteFilter calls: which filter (its ARN), who deleted it, when and from where.
--   Severity: low (what the filter did is in suppression-filters).
-- why: Deleting a suppression filter after using it removes the evidence that findings were
--   hidden; deleting a team's filters changes what everyone sees in the console.
-- sources: inspector2.amazonaws.com
-- attack: T1070 Indicator Removal
-- kind: detection
-- severity: low
-- actor: principal
-- events: eventID
-- param start: timestamp = -90d; first event time included
-- param end: timestamp = now; events before this time
SELECT eventTime, recipientAccountId, awsRegion,
       coalesce(userIdentity.arn, userIdentity.invokedBy, userIdentity.onBehalfOf.userId, userIdentity.principalId) AS principal,
       element_at(requestParameters, 'arn') AS filter_arn,
       sourceIPAddress, userAgent, errorCode, eventID,
       'low' AS severity
FROM {{eds}}
WHERE eventSource = 'inspector2.amazonaws.com'
  AND eventName = 'DeleteFilter'
  AND eventTime >= {{start}} AND eventTime < {{end}}
ORDER BY eventTime, eventID
