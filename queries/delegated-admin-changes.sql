-- title: Delegated administrator changed
-- description: EnableDelegatedAdminAccount and DisableDelegatedAdminAccount calls: which
--   account was made (or stopped being) Inspector's delegated administrator, by whom, from where.
--   Check every delegated_admin against your organization's accounts.
-- why: The delegated administrator controls Inspector for the whole organization: it can turn
--   scanning off in every member, suppress their findings and export them. Handing it to an
--   unexpected account hands over all of that.
-- sources: inspector2.amazonaws.com
-- attack: T1098 Account Manipulation
-- param start: timestamp = -90d; first event time included
-- param end: timestamp = now; events before this time
SELECT eventTime, recipientAccountId, awsRegion, eventName,
       coalesce(userIdentity.arn, userIdentity.invokedBy, userIdentity.onBehalfOf.userId, userIdentity.principalId) AS principal, userIdentity.type AS identity_type,
       element_at(requestParameters, 'delegatedAdminAccountId') AS delegated_admin,
       sourceIPAddress, errorCode, eventID
FROM {{eds}}
WHERE eventSource = 'inspector2.amazonaws.com'
  AND eventName IN ('EnableDelegatedAdminAccount', 'DisableDelegatedAdminAccount')
  AND eventTime >= {{start}} AND eventTime < {{end}}
ORDER BY eventTime, eventID
