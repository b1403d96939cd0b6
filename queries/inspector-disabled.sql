-- title: Inspector turned off: Disable and DisableDelegatedAdminAccount calls
-- description: Every call that turned Amazon Inspector scanning off: who, for which accounts
--   and resource types (EC2, ECR, LAMBDA, LAMBDA_CODE, CODE_REPOSITORY), from where, and
--   whether it worked. DisableDelegatedAdminAccount, which ends organization-wide management,
--   is listed too.
--   Severity: high when EC2, ECR or Lambda function scanning (or all of it, or the delegated
--   administrator) goes; low when only code scanning does (often a cost decision) or the call
--   failed.
-- why: Turning Inspector off is the quickest way to stop new vulnerabilities from being found;
--   done in a member account it silently takes that account out of the security team's view.
-- sources: inspector2.amazonaws.com
-- attack: T1562.001 Impair Defenses: Disable or Modify Tools (v18); T1685 Disable or Modify Tools (v19)
-- kind: detection
-- severity: high
-- actor: principal
-- events: eventID
-- param start: timestamp = -90d; first event time included
-- param end: timestamp = now; events before this time
SELECT eventTime, recipientAccountId, awsRegion, eventName,
       coalesce(userIdentity.arn, userIdentity.invokedBy, userIdentity.onBehalfOf.userId, userIdentity.principalId) AS principal,
       element_at(requestParameters, 'accountIds') AS account_ids,
       element_at(requestParameters, 'resourceTypes') AS resource_types,
       element_at(requestParameters, 'delegatedAdminAccountId') AS delegated_admin,
       sourceIPAddress, errorCode, eventID,
       CASE WHEN errorCode IS NOT NULL THEN 'low'
            WHEN eventName = 'DisableDelegatedAdminAccount' THEN 'high'
            WHEN element_at(requestParameters, 'resourceTypes') IS NULL OR strpos(element_at(requestParameters, 'resourceTypes'), '"EC2"') > 0
              OR strpos(element_at(requestParameters, 'resourceTypes'), '"ECR"') > 0 OR strpos(element_at(requestParameters, 'resourceTypes'), '"LAMBDA"') > 0 THEN 'high'
            ELSE 'low' END AS severity
FROM {{eds}}
WHERE eventSource = 'inspector2.amazonaws.com'
  AND eventName IN ('Disable', 'DisableDelegatedAdminAccount')
  AND eventTime >= {{start}} AND eventTime < {{end}}
ORDER BY eventTime, eventID
