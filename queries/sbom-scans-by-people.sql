-- title: SBOMs scanned by people, not pipelines
-- description: ScanSbom calls made with an IAM user's long-term keys or as root: who, from
--   where, with which tool. Pipelines call ScanSbom through a role. Severity: low.
-- why: ScanSbom tells its caller which known vulnerabilities a piece of software has. Someone
--   scanning by hand what the pipelines already scan is learning which hosts to exploit.
-- sources: inspector-scan.amazonaws.com
-- attack: T1595.002 Active Scanning: Vulnerability Scanning
-- kind: detection
-- severity: low
-- actor: principal
-- events: eventID
-- param start: timestamp = -90d; first event time included
-- param end: timestamp = now; events before this time
SELECT eventTime, recipientAccountId, awsRegion,
       coalesce(userIdentity.arn, userIdentity.invokedBy, userIdentity.onBehalfOf.userId, userIdentity.principalId) AS principal,
       userIdentity.type AS identity_type,
       element_at(requestParameters, 'outputFormat') AS output_format,
       sourceIPAddress, userAgent, errorCode, eventID, 'low' AS severity
FROM {{eds}}
WHERE eventSource = 'inspector-scan.amazonaws.com'
  AND eventName = 'ScanSbom'
  AND userIdentity.type IN ('IAMUser', 'Root')
  AND eventTime >= {{start}} AND eventTime < {{end}}
ORDER BY eventTime, eventID
