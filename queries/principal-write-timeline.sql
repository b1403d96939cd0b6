-- title: What one principal changed: a timeline
-- description: Every Inspector call that changed something or failed, made by the principals
--   whose ARN (or service, or user ID) contains `principal` (case-insensitive), in time order,
--   with the request parameters.
-- why: Once a suspicious identity is known, this is the incident timeline: every setting it
--   touched, in order, with what it asked for.
-- sources: inspector2.amazonaws.com, inspector-scan.amazonaws.com, inspector.amazonaws.com
-- kind: context
-- param start: timestamp = -90d; first event time included
-- param end: timestamp = now; events before this time
-- param principal: string; part of the principal's ARN, user name or service (like mallory)
WITH calls AS (
  SELECT eventTime, recipientAccountId, awsRegion, eventSource, eventName,
         coalesce(userIdentity.arn, userIdentity.invokedBy, userIdentity.onBehalfOf.userId, userIdentity.principalId) AS principal,
         readOnly, errorCode, requestParameters, sourceIPAddress, userAgent, eventID
  FROM {{eds}}
  WHERE eventSource IN ('inspector2.amazonaws.com', 'inspector-scan.amazonaws.com', 'inspector.amazonaws.com')
    AND eventTime >= {{start}} AND eventTime < {{end}}
)
SELECT eventTime, recipientAccountId, awsRegion, eventSource, eventName, principal, errorCode,
       element_at(requestParameters, 'name') AS name,
       element_at(requestParameters, 'action') AS action,
       sourceIPAddress, userAgent, eventID
FROM calls
WHERE strpos(lower(principal), lower({{principal}})) > 0
  AND (readOnly = false OR errorCode IS NOT NULL)
ORDER BY eventTime, eventID
