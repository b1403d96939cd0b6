-- title: EC2 deep inspection switched on or off
-- description: Changes to EC2 deep inspection (the scan of application packages inside
--   instances): the account's own setting, the organization's package paths, and members'
--   status set in bulk. `activate` = false turns deep inspection off.
--   Severity: medium when deep inspection is switched off (for the account or members);
--   informational otherwise.
-- why: Without deep inspection Inspector sees only operating-system packages; vulnerable
--   application libraries (log4j, for example) go unreported.
-- sources: inspector2.amazonaws.com
-- attack: T1562.001 Impair Defenses: Disable or Modify Tools (v18); T1685 Disable or Modify Tools (v19)
-- kind: detection
-- severity: medium
-- actor: principal
-- events: eventID
-- param start: timestamp = -90d; first event time included
-- param end: timestamp = now; events before this time
SELECT eventTime, recipientAccountId, awsRegion, eventName,
       coalesce(userIdentity.arn, userIdentity.invokedBy, userIdentity.onBehalfOf.userId, userIdentity.principalId) AS principal,
       element_at(requestParameters, 'activateDeepInspection') AS activate,
       element_at(requestParameters, 'packagePaths') AS package_paths,
       element_at(requestParameters, 'orgPackagePaths') AS org_package_paths,
       element_at(requestParameters, 'accountIds') AS member_accounts,
       sourceIPAddress, errorCode, eventID,
       CASE WHEN errorCode IS NOT NULL THEN 'low'
            WHEN element_at(requestParameters, 'activateDeepInspection') = 'false'
              OR strpos(element_at(requestParameters, 'accountIds'), '"activateDeepInspection":false') > 0 THEN 'medium'
            ELSE 'informational' END AS severity
FROM {{eds}}
WHERE eventSource = 'inspector2.amazonaws.com'
  AND eventName IN ('UpdateEc2DeepInspectionConfiguration', 'UpdateOrgEc2DeepInspectionConfiguration',
                    'BatchUpdateMemberEc2DeepInspectionStatus')
  AND eventTime >= {{start}} AND eventTime < {{end}}
ORDER BY eventTime, eventID
