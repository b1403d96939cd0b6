-- title: Delegated administrator changed
-- description: EnableDelegatedAdminAccount and DisableDelegatedAdminAccount calls: which
--   account was made (or stopped being) Inspector's delegated administrator, by whom, from where.
--   Check every delegated_admin against your organization's accounts.
--   Severity: critical when the new administrator is an account with no events in the data up to
--   the window's end (not one of the organization's), high when one is removed, low otherwise.
-- why: The delegated administrator controls Inspector for the whole organization: it can turn
--   scanning off in every member, suppress their findings and export them. Handing it to an
--   unexpected account hands over all of that.
-- sources: inspector2.amazonaws.com
-- attack: T1098 Account Manipulation
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
       coalesce(userIdentity.arn, userIdentity.invokedBy, userIdentity.onBehalfOf.userId, userIdentity.principalId) AS principal, userIdentity.type AS identity_type,
       element_at(requestParameters, 'delegatedAdminAccountId') AS delegated_admin,
       sourceIPAddress, errorCode, eventID,
       CASE WHEN errorCode IS NOT NULL THEN 'low'
            WHEN eventName = 'EnableDelegatedAdminAccount'
              AND known_account IS NULL THEN 'critical'
            WHEN eventName = 'DisableDelegatedAdminAccount' THEN 'high'
            ELSE 'low' END AS severity
FROM {{eds}}
LEFT JOIN known ON element_at(requestParameters, 'delegatedAdminAccountId') = known_account
WHERE eventSource = 'inspector2.amazonaws.com'
  AND eventName IN ('EnableDelegatedAdminAccount', 'DisableDelegatedAdminAccount')
  AND eventTime >= {{start}} AND eventTime < {{end}}
ORDER BY eventTime, eventID
