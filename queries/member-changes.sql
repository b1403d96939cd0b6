-- title: Member accounts added or removed
-- description: AssociateMember and DisassociateMember calls: which member account the
--   administrator added to or removed from Inspector's coverage, who did it, and when.
-- why: Removing a member takes its findings out of the administrator's view without touching
--   the member itself; adding one extends who can see its vulnerabilities.
-- sources: inspector2.amazonaws.com
-- attack: T1562.001 Impair Defenses: Disable or Modify Tools
-- param start: timestamp = -90d; first event time included
-- param end: timestamp = now; events before this time
SELECT eventTime, recipientAccountId, awsRegion, eventName,
       coalesce(userIdentity.arn, userIdentity.invokedBy, userIdentity.onBehalfOf.userId, userIdentity.principalId) AS principal,
       element_at(requestParameters, 'accountId') AS member_account,
       sourceIPAddress, errorCode, eventID
FROM {{eds}}
WHERE eventSource = 'inspector2.amazonaws.com'
  AND eventName IN ('AssociateMember', 'DisassociateMember')
  AND eventTime >= {{start}} AND eventTime < {{end}}
ORDER BY eventTime, eventID
