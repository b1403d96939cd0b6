-- title: Scan configuration changed: ECR re-scan duration and EC2 scan mode
-- description: UpdateConfiguration calls with the ECR re-scan durations and the EC2 scan mode
--   they set, and Enable calls with the resource types they turned on, per account and Region.
--   Severity: low when re-scanning is cut to 14 days or EC2 scanning falls back to the SSM agent
--   alone; informational otherwise.
-- why: A shorter ECR re-scan duration stops images from being re-scanned when new CVEs appear;
--   an EC2 scan mode change decides whether agentless scanning covers instances without SSM.
--   Enable calls show where scanning was (re)started and by whom.
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
       json_extract_scalar(element_at(requestParameters, 'ecrConfiguration'), '$.rescanDuration') AS ecr_rescan_duration,
       json_extract_scalar(element_at(requestParameters, 'ecrConfiguration'), '$.pullDateRescanDuration') AS ecr_pull_date_rescan_duration,
       json_extract_scalar(element_at(requestParameters, 'ec2Configuration'), '$.scanMode') AS ec2_scan_mode,
       element_at(requestParameters, 'resourceTypes') AS resource_types,
       sourceIPAddress, errorCode, eventID,
       CASE WHEN errorCode IS NOT NULL THEN 'low'
            WHEN json_extract_scalar(element_at(requestParameters, 'ecrConfiguration'), '$.rescanDuration') = 'DAYS_14'
              OR json_extract_scalar(element_at(requestParameters, 'ecrConfiguration'), '$.pullDateRescanDuration') = 'DAYS_14'
              OR json_extract_scalar(element_at(requestParameters, 'ec2Configuration'), '$.scanMode') = 'EC2_SSM_AGENT_BASED' THEN 'low'
            ELSE 'informational' END AS severity
FROM {{eds}}
WHERE eventSource = 'inspector2.amazonaws.com'
  AND eventName IN ('UpdateConfiguration', 'Enable')
  AND eventTime >= {{start}} AND eventTime < {{end}}
ORDER BY eventTime, eventID
