-- title: Organization auto-enable changed: new accounts left unscanned
-- description: UpdateOrganizationConfiguration calls with the auto-enable setting of each scan
--   type (EC2, ECR, Lambda, Lambda code, code repositories) as the caller set it; `false`
--   means accounts joining the organization are no longer scanned for that type.
--   Severity: medium when new accounts stop getting EC2, ECR or Lambda scanning; informational
--   otherwise.
-- why: Switching auto-enable off does not touch existing accounts, so nothing looks broken;
--   every account created afterwards is simply never scanned.
-- sources: inspector2.amazonaws.com
-- attack: T1562.001 Impair Defenses: Disable or Modify Tools (v18); T1685 Disable or Modify Tools (v19)
-- kind: detection
-- severity: medium
-- actor: principal
-- events: eventID
-- param start: timestamp = -90d; first event time included
-- param end: timestamp = now; events before this time
SELECT eventTime, recipientAccountId, awsRegion,
       coalesce(userIdentity.arn, userIdentity.invokedBy, userIdentity.onBehalfOf.userId, userIdentity.principalId) AS principal,
       json_extract_scalar(element_at(requestParameters, 'autoEnable'), '$.ec2') AS ec2,
       json_extract_scalar(element_at(requestParameters, 'autoEnable'), '$.ecr') AS ecr,
       json_extract_scalar(element_at(requestParameters, 'autoEnable'), '$.lambda') AS lambda_functions,
       json_extract_scalar(element_at(requestParameters, 'autoEnable'), '$.lambdaCode') AS lambda_code,
       json_extract_scalar(element_at(requestParameters, 'autoEnable'), '$.codeRepository') AS code_repository,
       sourceIPAddress, errorCode, eventID,
       CASE WHEN errorCode IS NOT NULL THEN 'low'
            WHEN json_extract_scalar(element_at(requestParameters, 'autoEnable'), '$.ec2') = 'false'
              OR json_extract_scalar(element_at(requestParameters, 'autoEnable'), '$.ecr') = 'false'
              OR json_extract_scalar(element_at(requestParameters, 'autoEnable'), '$.lambda') = 'false' THEN 'medium'
            ELSE 'informational' END AS severity
FROM {{eds}}
WHERE eventSource = 'inspector2.amazonaws.com'
  AND eventName = 'UpdateOrganizationConfiguration'
  AND eventTime >= {{start}} AND eventTime < {{end}}
ORDER BY eventTime, eventID
