-- title: Console, API and AWS service activity by account
-- description: Inspector calls per account split by channel: the AWS console (console
--   session credentials), direct API use (CLI, SDKs, scripts), and AWS services acting for you;
--   with changes and distinct principals for each.
-- why: Changes in production usually come from pipelines; console changes deserve a second
--   look, and a service suddenly making changes may be misconfigured.
-- sources: inspector2.amazonaws.com, inspector-scan.amazonaws.com, inspector.amazonaws.com
-- kind: context
-- param start: timestamp = -90d; first event time included
-- param end: timestamp = now; events before this time
WITH calls AS (
  SELECT recipientAccountId,
         CASE WHEN userIdentity.type = 'AWSService' OR userIdentity.invokedBy IS NOT NULL THEN 'aws-service'
              WHEN sessionCredentialFromConsole = 'true' THEN 'console'
              ELSE 'api' END AS channel,
         coalesce(userIdentity.arn, userIdentity.invokedBy, userIdentity.onBehalfOf.userId, userIdentity.principalId) AS principal,
         readOnly
  FROM {{eds}}
  WHERE eventSource IN ('inspector2.amazonaws.com', 'inspector-scan.amazonaws.com', 'inspector.amazonaws.com')
    AND eventTime >= {{start}} AND eventTime < {{end}}
)
SELECT recipientAccountId, channel, count(*) AS calls,
       sum(CASE WHEN readOnly THEN 0 ELSE 1 END) AS changes,
       count(DISTINCT principal) AS principals
FROM calls
GROUP BY recipientAccountId, channel
ORDER BY recipientAccountId, channel
