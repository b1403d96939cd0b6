-- title: Scan configuration changed: ECR re-scan duration and EC2 scan mode
-- description: UpdateConfiguration calls with the ECR re-scan durations and the EC2 scan mode
--   they set, and Enable calls with the resource types they turned on, per account and Region.
-- why: A shorter ECR re-scan duration stops images from being re-scanned when new CVEs appear;
--   an EC2 scan mode change decides whether agentless scanning covers instances without SSM.
--   Enable calls show where scanning was (re)started and by whom.
-- sources: inspector2.amazonaws.com
-- attack: T1562.001 Impair Defenses: Disable or Modify Tools
-- param start: timestamp = -90d; first event time included
-- param end: timestamp = now; events before this time
SELECT eventTime, recipientAccountId, awsRegion, eventName,
       coalesce(userIdentity.arn, userIdentity.invokedBy, userIdentity.onBehalfOf.userId, userIdentity.principalId) AS principal,
       json_extract_scalar(element_at(requestParameters, 'ecrConfiguration'), '$.rescanDuration') AS ecr_rescan_duration,
       json_extract_scalar(element_at(requestParameters, 'ecrConfiguration'), '$.pullDateRescanDuration') AS ecr_pull_date_rescan_duration,
       json_extract_scalar(element_at(requestParameters, 'ec2Configuration'), '$.scanMode') AS ec2_scan_mode,
       element_at(requestParameters, 'resourceTypes') AS resource_types,
       sourceIPAddress, errorCode, eventID
FROM {{eds}}
WHERE eventSource = 'inspector2.amazonaws.com'
  AND eventName IN ('UpdateConfiguration', 'Enable')
  AND eventTime >= {{start}} AND eventTime < {{end}}
ORDER BY eventTime, eventID
