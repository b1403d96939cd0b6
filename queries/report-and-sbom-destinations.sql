-- title: Where findings reports and SBOM exports went
-- description: CreateFindingsReport and CreateSbomExport calls with their S3 bucket, key prefix
--   and KMS key, and whether the key belongs to another account than the one exporting
--   (key_account differs from recipientAccountId).
--   Severity: critical when the KMS key belongs to an account with no events in the data
--   (outside the organization), informational otherwise.
-- why: A findings report is a list of every exploitable weakness; an SBOM lists every package
--   and version. Written to a bucket or key outside the organization, they are a map for an
--   attacker.
-- sources: inspector2.amazonaws.com
-- attack: T1537 Transfer Data to Cloud Account
-- kind: detection
-- severity: critical
-- actor: principal
-- events: eventID
-- param start: timestamp = -90d; first event time included
-- param end: timestamp = now; events before this time
WITH known AS (
  -- The organization's accounts: those with events in the data up to the window's end.
  SELECT DISTINCT recipientAccountId AS known_account FROM {{eds}} WHERE eventTime < {{end}}
)
SELECT eventTime, recipientAccountId, awsRegion, eventName,
       coalesce(userIdentity.arn, userIdentity.invokedBy, userIdentity.onBehalfOf.userId, userIdentity.principalId) AS principal,
       json_extract_scalar(element_at(requestParameters, 's3Destination'), '$.bucketName') AS bucket,
       json_extract_scalar(element_at(requestParameters, 's3Destination'), '$.keyPrefix') AS key_prefix,
       json_extract_scalar(element_at(requestParameters, 's3Destination'), '$.kmsKeyArn') AS kms_key,
       split_part(json_extract_scalar(element_at(requestParameters, 's3Destination'), '$.kmsKeyArn'), ':', 5) AS key_account,
       element_at(requestParameters, 'reportFormat') AS report_format,
       sourceIPAddress, errorCode, eventID,
       CASE WHEN errorCode IS NOT NULL THEN 'low'
            WHEN known_account IS NULL THEN 'critical'
            ELSE 'informational' END AS severity
FROM {{eds}}
LEFT JOIN known ON split_part(json_extract_scalar(element_at(requestParameters, 's3Destination'), '$.kmsKeyArn'), ':', 5) = known_account
WHERE eventSource = 'inspector2.amazonaws.com'
  AND eventName IN ('CreateFindingsReport', 'CreateSbomExport')
  AND eventTime >= {{start}} AND eventTime < {{end}}
ORDER BY eventTime, eventID
