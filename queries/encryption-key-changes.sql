-- title: Encryption key for code scanning changed
-- description: UpdateEncryptionKey and ResetEncryptionKey calls: the KMS key Inspector now uses
--   to encrypt code snippets of findings, its account, and the scan and resource type.
--   Severity: critical when the key belongs to an account with no events in the data (outside
--   the organization), low otherwise.
-- why: Code snippets in Lambda code findings can hold secrets. A key in another account gives
--   that account's owner the ability to decrypt them, or to revoke the key and break scanning.
-- sources: inspector2.amazonaws.com
-- attack: T1485 Data Destruction
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
       coalesce(userIdentity.arn, userIdentity.invokedBy, userIdentity.onBehalfOf.userId, userIdentity.principalId) AS principal,
       element_at(requestParameters, 'kmsKeyId') AS kms_key,
       split_part(element_at(requestParameters, 'kmsKeyId'), ':', 5) AS key_account,
       element_at(requestParameters, 'scanType') AS scan_type,
       element_at(requestParameters, 'resourceType') AS resource_type,
       sourceIPAddress, errorCode, eventID,
       CASE WHEN errorCode IS NOT NULL THEN 'low'
            WHEN eventName = 'UpdateEncryptionKey'
              AND known_account IS NULL THEN 'critical'
            ELSE 'low' END AS severity
FROM {{eds}}
LEFT JOIN known ON split_part(element_at(requestParameters, 'kmsKeyId'), ':', 5) = known_account
WHERE eventSource = 'inspector2.amazonaws.com'
  AND eventName IN ('UpdateEncryptionKey', 'ResetEncryptionKey')
  AND eventTime >= {{start}} AND eventTime < {{end}}
ORDER BY eventTime, eventID
