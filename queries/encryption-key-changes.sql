-- title: Encryption key for code scanning changed
-- description: UpdateEncryptionKey and ResetEncryptionKey calls: the KMS key Inspector now uses
--   to encrypt code snippets of findings, its account, and the scan and resource type.
-- why: Code snippets in Lambda code findings can hold secrets. A key in another account gives
--   that account's owner the ability to decrypt them, or to revoke the key and break scanning.
-- sources: inspector2.amazonaws.com
-- attack: T1485 Data Destruction
-- param start: timestamp = -90d; first event time included
-- param end: timestamp = now; events before this time
SELECT eventTime, recipientAccountId, awsRegion, eventName,
       coalesce(userIdentity.arn, userIdentity.invokedBy, userIdentity.onBehalfOf.userId, userIdentity.principalId) AS principal,
       element_at(requestParameters, 'kmsKeyId') AS kms_key,
       split_part(element_at(requestParameters, 'kmsKeyId'), ':', 5) AS key_account,
       element_at(requestParameters, 'scanType') AS scan_type,
       element_at(requestParameters, 'resourceType') AS resource_type,
       sourceIPAddress, errorCode, eventID
FROM {{eds}}
WHERE eventSource = 'inspector2.amazonaws.com'
  AND eventName IN ('UpdateEncryptionKey', 'ResetEncryptionKey')
  AND eventTime >= {{start}} AND eventTime < {{end}}
ORDER BY eventTime, eventID
