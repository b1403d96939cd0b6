-- title: Code security integrations and scan configurations
-- description: Changes to Inspector code security: integrations with source code providers
--   (GitHub, GitLab self-managed: their type and instance URL) and code scan configurations,
--   created, updated, deleted or associated with repositories.
--   Severity: medium when source code access goes to a self-managed GitLab host (check it is
--   yours), low for removals, informational otherwise.
-- why: An integration connects Inspector to your source code with a token; one pointed at an
--   unknown GitLab instance, or a scan configuration detached from repositories, changes what
--   code is read and what is scanned.
-- sources: inspector2.amazonaws.com
-- attack: T1199 Trusted Relationship
-- kind: detection
-- severity: medium
-- actor: principal
-- events: eventID
-- param start: timestamp = -90d; first event time included
-- param end: timestamp = now; events before this time
SELECT eventTime, recipientAccountId, awsRegion, eventName,
       coalesce(userIdentity.arn, userIdentity.invokedBy, userIdentity.onBehalfOf.userId, userIdentity.principalId) AS principal,
       element_at(requestParameters, 'name') AS name,
       element_at(requestParameters, 'type') AS integration_type,
       json_extract_scalar(element_at(requestParameters, 'details'), '$.gitlabSelfManaged.instanceUrl') AS instance_url,
       sourceIPAddress, errorCode, eventID,
       CASE WHEN errorCode IS NOT NULL THEN 'low'
            WHEN json_extract_scalar(element_at(requestParameters, 'details'), '$.gitlabSelfManaged.instanceUrl') IS NOT NULL THEN 'medium'
            WHEN eventName LIKE 'Delete%' OR eventName = 'BatchDisassociateCodeSecurityScanConfiguration' THEN 'low'
            ELSE 'informational' END AS severity
FROM {{eds}}
WHERE eventSource = 'inspector2.amazonaws.com'
  AND eventName IN ('CreateCodeSecurityIntegration', 'UpdateCodeSecurityIntegration', 'DeleteCodeSecurityIntegration',
                    'CreateCodeSecurityScanConfiguration', 'UpdateCodeSecurityScanConfiguration',
                    'DeleteCodeSecurityScanConfiguration', 'BatchAssociateCodeSecurityScanConfiguration',
                    'BatchDisassociateCodeSecurityScanConfiguration')
  AND eventTime >= {{start}} AND eventTime < {{end}}
ORDER BY eventTime, eventID
