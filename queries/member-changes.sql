-- title: Member accounts added or removed
-- description: AssociateMember and DisassociateMember calls: which member account the
--   administrator added to or removed from Inspector's coverage, who did it, and when.
--   Severity: medium when an account that has events in the data (a live one) is removed, low
--   when another is (a closed account, cleanup), informational for additions.
-- why: Removing a member takes its findings out of the administrator's view without touching
--   the member itself; adding one extends who can see its vulnerabilities.
-- sources: inspector2.amazonaws.com
-- attack: T1562.001 Impair Defenses: Disable or Modify Tools (v18); T1685 Disable or Modify Tools (v19)
-- kind: detection
-- severity: medium
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
       element_at(requestParameters, 'accountId') AS member_account,
       sourceIPAddress, errorCode, eventID,
       CASE WHEN errorCode IS NOT NULL THEN 'low'
            WHEN eventName = 'DisassociateMember'
              AND known_account IS NOT NULL THEN 'medium'
            WHEN eventName = 'DisassociateMember' THEN 'low'
            ELSE 'informational' END AS severity
FROM {{eds}}
LEFT JOIN known ON element_at(requestParameters, 'accountId') = known_account
WHERE eventSource = 'inspector2.amazonaws.com'
  AND eventName IN ('AssociateMember', 'DisassociateMember')
  AND eventTime >= {{start}} AND eventTime < {{end}}
ORDER BY eventTime, eventID
