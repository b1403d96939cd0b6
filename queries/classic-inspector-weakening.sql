-- title: Inspector Classic assessments deleted, stopped or unsubscribed
-- description: Calls to Amazon Inspector Classic that stop assessments from running or from
--   being reported: assessment runs, targets and templates deleted, runs stopped, SNS
--   notifications unsubscribed, targets narrowed. Severity: medium for deletions and
--   unsubscriptions, low for the rest and for failed calls.
-- why: Accounts that still run Inspector Classic rely on its assessments and their SNS
--   notifications; deleting a template or unsubscribing its topic ends both without an alarm.
-- sources: inspector.amazonaws.com
-- attack: T1562.001 Impair Defenses: Disable or Modify Tools (v18); T1685 Disable or Modify Tools (v19)
-- kind: detection
-- severity: medium
-- actor: principal
-- events: eventID
-- param start: timestamp = -90d; first event time included
-- param end: timestamp = now; events before this time
SELECT eventTime, recipientAccountId, awsRegion, eventName,
       coalesce(userIdentity.arn, userIdentity.invokedBy, userIdentity.onBehalfOf.userId, userIdentity.principalId) AS principal,
       coalesce(element_at(requestParameters, 'assessmentTemplateArn'), element_at(requestParameters, 'assessmentTargetArn'),
                element_at(requestParameters, 'assessmentRunArn'), element_at(requestParameters, 'resourceArn')) AS resource,
       element_at(requestParameters, 'topicArn') AS topic,
       sourceIPAddress, userAgent, errorCode, eventID,
       CASE WHEN errorCode IS NOT NULL THEN 'low'
            WHEN eventName LIKE 'Delete%' OR eventName = 'UnsubscribeFromEvent' THEN 'medium'
            ELSE 'low' END AS severity
FROM {{eds}}
WHERE eventSource = 'inspector.amazonaws.com'
  AND eventName IN ('DeleteAssessmentRun', 'DeleteAssessmentTarget', 'DeleteAssessmentTemplate',
                    'StopAssessmentRun', 'UnsubscribeFromEvent', 'UpdateAssessmentTarget')
  AND eventTime >= {{start}} AND eventTime < {{end}}
ORDER BY eventTime, eventID
