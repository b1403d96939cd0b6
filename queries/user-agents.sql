-- title: User agents calling Inspector
-- description: Each user agent (console browser, AWS CLI, SDK, service) with the number of
--   calls, changes and distinct principals using it, first and last call.
-- why: Automation has stable user agents; a new CLI version, a browser where only pipelines
--   should be, or an unusual SDK shows a new hand on the controls.
-- sources: inspector2.amazonaws.com, inspector-scan.amazonaws.com, inspector.amazonaws.com
-- kind: context
-- param start: timestamp = -90d; first event time included
-- param end: timestamp = now; events before this time
WITH calls AS (
  SELECT userAgent AS user_agent,
         coalesce(userIdentity.arn, userIdentity.invokedBy, userIdentity.onBehalfOf.userId, userIdentity.principalId) AS principal,
         readOnly, eventTime
  FROM {{eds}}
  WHERE eventSource IN ('inspector2.amazonaws.com', 'inspector-scan.amazonaws.com', 'inspector.amazonaws.com')
    AND eventTime >= {{start}} AND eventTime < {{end}}
)
SELECT user_agent, count(*) AS calls,
       sum(CASE WHEN readOnly THEN 0 ELSE 1 END) AS changes,
       count(DISTINCT principal) AS principals,
       min(eventTime) AS first_call, max(eventTime) AS last_call
FROM calls
GROUP BY user_agent
ORDER BY calls DESC, user_agent
