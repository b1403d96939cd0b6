-- title: CIS scan configurations created, changed or deleted
-- description: Create, Update and DeleteCisScanConfiguration calls: the scan's name, security
--   level, schedule and targets as set, or the configuration deleted.
--   Severity: low for a deletion, informational otherwise.
-- why: CIS scans are the compliance evidence for hardened hosts; a deleted or retargeted
--   configuration stops that evidence from being produced without any finding saying so.
-- sources: inspector2.amazonaws.com
-- attack: T1562.001 Impair Defenses: Disable or Modify Tools (v18); T1685 Disable or Modify Tools (v19)
-- kind: detection
-- severity: low
-- actor: principal
-- events: eventID
-- param start: timestamp = -90d; first event time included
-- param end: timestamp = now; events before this time
SELECT eventTime, recipientAccountId, awsRegion, eventName,
       coalesce(userIdentity.arn, userIdentity.invokedBy, userIdentity.onBehalfOf.userId, userIdentity.principalId) AS principal,
       element_at(requestParameters, 'scanName') AS scan_name,
       element_at(requestParameters, 'securityLevel') AS security_level,
       element_at(requestParameters, 'schedule') AS schedule,
       element_at(requestParameters, 'targets') AS targets,
       element_at(requestParameters, 'scanConfigurationArn') AS configuration_arn,
       sourceIPAddress, errorCode, eventID,
       CASE WHEN errorCode IS NOT NULL THEN 'low'
            WHEN eventName = 'DeleteCisScanConfiguration' THEN 'low'
            ELSE 'informational' END AS severity
FROM {{eds}}
WHERE eventSource = 'inspector2.amazonaws.com'
  AND eventName IN ('CreateCisScanConfiguration', 'UpdateCisScanConfiguration', 'DeleteCisScanConfiguration')
  AND eventTime >= {{start}} AND eventTime < {{end}}
ORDER BY eventTime, eventID
