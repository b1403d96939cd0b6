//! The event schema: the contract between every source, every sink and every saved query.
//!
//! Column names and types follow the CloudTrail Lake event schema in CloudTrail's own camelCase
//! spelling, so that SQL written for Lake runs unchanged on the exported Parquet. This module is
//! the only place where a column name is spelled; everything else uses the constants below.
//! `eventJson` keeps the record exactly as received, which is what makes the export lossless.

use std::sync::{Arc, OnceLock};

use arrow::datatypes::{DataType, Field, FieldRef, Fields, Schema, SchemaRef, TimeUnit};

/// Bumped whenever a column is added, removed or retyped; written into every Parquet file.
pub const SCHEMA_VERSION: &str = "1";

/// Hive partition column of the dataset (`<out>/event_date=YYYY-MM-DD/`): the UTC date of eventTime.
pub const PARTITION_COLUMN: &str = "event_date";

// Top-level columns, in schema order.
pub const EVENT_VERSION: &str = "eventVersion";
pub const USER_IDENTITY: &str = "userIdentity";
pub const EVENT_TIME: &str = "eventTime";
pub const EVENT_SOURCE: &str = "eventSource";
pub const EVENT_NAME: &str = "eventName";
pub const AWS_REGION: &str = "awsRegion";
pub const SOURCE_IP_ADDRESS: &str = "sourceIPAddress";
pub const USER_AGENT: &str = "userAgent";
pub const ERROR_CODE: &str = "errorCode";
pub const ERROR_MESSAGE: &str = "errorMessage";
pub const REQUEST_PARAMETERS: &str = "requestParameters";
pub const RESPONSE_ELEMENTS: &str = "responseElements";
pub const ADDITIONAL_EVENT_DATA: &str = "additionalEventData";
pub const REQUEST_ID: &str = "requestID";
pub const EVENT_ID: &str = "eventID";
pub const READ_ONLY: &str = "readOnly";
pub const RESOURCES: &str = "resources";
pub const EVENT_TYPE: &str = "eventType";
pub const API_VERSION: &str = "apiVersion";
pub const MANAGEMENT_EVENT: &str = "managementEvent";
pub const RECIPIENT_ACCOUNT_ID: &str = "recipientAccountId";
pub const SHARED_EVENT_ID: &str = "sharedEventID";
pub const ANNOTATION: &str = "annotation";
pub const VPC_ENDPOINT_ID: &str = "vpcEndpointId";
pub const VPC_ENDPOINT_ACCOUNT_ID: &str = "vpcEndpointAccountId";
pub const SERVICE_EVENT_DETAILS: &str = "serviceEventDetails";
pub const ADDENDUM: &str = "addendum";
pub const EDGE_DEVICE_DETAILS: &str = "edgeDeviceDetails";
pub const INSIGHT_DETAILS: &str = "insightDetails";
pub const EVENT_CATEGORY: &str = "eventCategory";
pub const TLS_DETAILS: &str = "tlsDetails";
pub const SESSION_CREDENTIAL_FROM_CONSOLE: &str = "sessionCredentialFromConsole";
pub const EVENT_JSON: &str = "eventJson";

/// The top-level string columns, in the order the record parser fills them.
pub const SCALAR_COLUMNS: [&str; 19] = [
    EVENT_VERSION,
    EVENT_SOURCE,
    EVENT_NAME,
    AWS_REGION,
    SOURCE_IP_ADDRESS,
    USER_AGENT,
    ERROR_CODE,
    ERROR_MESSAGE,
    REQUEST_ID,
    EVENT_ID,
    EVENT_TYPE,
    API_VERSION,
    RECIPIENT_ACCOUNT_ID,
    SHARED_EVENT_ID,
    ANNOTATION,
    VPC_ENDPOINT_ID,
    VPC_ENDPOINT_ACCOUNT_ID,
    EVENT_CATEGORY,
    SESSION_CREDENTIAL_FROM_CONSOLE,
];

/// The top-level boolean columns.
pub const BOOLEAN_COLUMNS: [&str; 2] = [READ_ONLY, MANAGEMENT_EVENT];

/// The top-level `Map<Utf8,Utf8>` columns: a string value as its text, any other value as compact
/// JSON, as Lake does.
pub const MAP_COLUMNS: [&str; 7] = [
    REQUEST_PARAMETERS,
    RESPONSE_ELEMENTS,
    ADDITIONAL_EVENT_DATA,
    SERVICE_EVENT_DETAILS,
    ADDENDUM,
    EDGE_DEVICE_DETAILS,
    INSIGHT_DETAILS,
];

/// `userIdentity`'s string fields, in struct order (its struct fields follow them).
pub const USER_IDENTITY_STRINGS: [&str; 9] = [
    "type",
    "principalId",
    "arn",
    "accountId",
    "accessKeyId",
    "userName",
    "invokedBy",
    "identityProvider",
    "credentialId",
];
pub const SESSION_CONTEXT: &str = "sessionContext";
pub const ON_BEHALF_OF: &str = "onBehalfOf";
pub const IN_SCOPE_OF: &str = "inScopeOf";
pub const ATTRIBUTES: &str = "attributes";
pub const CREATION_DATE: &str = "creationDate";
pub const MFA_AUTHENTICATED: &str = "mfaAuthenticated";
pub const SESSION_ISSUER: &str = "sessionIssuer";
pub const WEB_ID_FEDERATION_DATA: &str = "webIdFederationData";
pub const FEDERATED_PROVIDER: &str = "federatedProvider";
/// `sessionContext`'s string fields after its three struct fields.
pub const SESSION_CONTEXT_STRINGS: [&str; 4] = [
    "sourceIdentity",
    "ec2RoleDelivery",
    "ec2IssuedInVPC",
    "assumedRoot",
];
pub const SESSION_ISSUER_FIELDS: [&str; 5] =
    ["type", "principalId", "arn", "accountId", "userName"];
pub const ON_BEHALF_OF_FIELDS: [&str; 2] = ["userId", "identityStoreArn"];
pub const IN_SCOPE_OF_FIELDS: [&str; 4] = [
    "sourceArn",
    "sourceAccount",
    "issuerType",
    "credentialsIssuedTo",
];
/// Element fields of `resources`. Records spell the ARN `ARN` (and the prefix `ARNPrefix`); the
/// column uses Lake's names, and the parser matches keys case-insensitively.
pub const RESOURCE_FIELDS: [&str; 4] = ["accountId", "type", "arn", "arnPrefix"];
pub const TLS_DETAILS_FIELDS: [&str; 4] = [
    "tlsVersion",
    "cipherSuite",
    "clientProvidedHostHeader",
    "keyExchange",
];

/// `a` then `b`, at compile time: lets other modules list field names without spelling them.
pub const fn concat<const A: usize, const B: usize, const C: usize>(
    a: [&'static str; A],
    b: [&'static str; B],
) -> [&'static str; C] {
    assert!(A + B == C, "concat: lengths do not add up");
    let mut out = [""; C];
    let mut i = 0;
    while i < A {
        out[i] = a[i];
        i += 1;
    }
    while i < C {
        out[i] = b[i - A];
        i += 1;
    }
    out
}

/// Time type of `eventTime` and `creationDate`.
pub fn timestamp_type() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
}

fn utf8(name: &str) -> Field {
    Field::new(name, DataType::Utf8, true)
}

/// A struct whose fields are all nullable strings.
pub fn string_struct_fields(names: &[&str]) -> Fields {
    names.iter().map(|n| utf8(n)).collect()
}

/// The entries field of every `Map<Utf8,Utf8>` column (Arrow's conventional names).
pub fn map_entries_field() -> FieldRef {
    Arc::new(Field::new(
        "entries",
        DataType::Struct(Fields::from(vec![
            Field::new("keys", DataType::Utf8, false),
            Field::new("values", DataType::Utf8, true),
        ])),
        false,
    ))
}

pub fn map_type() -> DataType {
    DataType::Map(map_entries_field(), false)
}

pub fn session_context_attributes_fields() -> Fields {
    Fields::from(vec![
        Field::new(CREATION_DATE, timestamp_type(), true),
        utf8(MFA_AUTHENTICATED),
    ])
}

pub fn web_id_federation_data_fields() -> Fields {
    Fields::from(vec![
        utf8(FEDERATED_PROVIDER),
        Field::new(ATTRIBUTES, map_type(), true),
    ])
}

pub fn session_context_fields() -> Fields {
    let mut fields = vec![
        Field::new(
            ATTRIBUTES,
            DataType::Struct(session_context_attributes_fields()),
            true,
        ),
        Field::new(
            SESSION_ISSUER,
            DataType::Struct(string_struct_fields(&SESSION_ISSUER_FIELDS)),
            true,
        ),
        Field::new(
            WEB_ID_FEDERATION_DATA,
            DataType::Struct(web_id_federation_data_fields()),
            true,
        ),
    ];
    fields.extend(SESSION_CONTEXT_STRINGS.iter().map(|n| utf8(n)));
    Fields::from(fields)
}

pub fn user_identity_fields() -> Fields {
    let mut fields: Vec<Field> = USER_IDENTITY_STRINGS.iter().map(|n| utf8(n)).collect();
    fields.push(Field::new(
        SESSION_CONTEXT,
        DataType::Struct(session_context_fields()),
        true,
    ));
    fields.push(Field::new(
        ON_BEHALF_OF,
        DataType::Struct(string_struct_fields(&ON_BEHALF_OF_FIELDS)),
        true,
    ));
    fields.push(Field::new(
        IN_SCOPE_OF,
        DataType::Struct(string_struct_fields(&IN_SCOPE_OF_FIELDS)),
        true,
    ));
    Fields::from(fields)
}

pub fn resource_item_field() -> FieldRef {
    Arc::new(Field::new(
        "item",
        DataType::Struct(string_struct_fields(&RESOURCE_FIELDS)),
        true,
    ))
}

/// The event schema, built once. Column order: Lake's documented order, `eventJson` last.
pub fn event_schema() -> SchemaRef {
    static SCHEMA: OnceLock<SchemaRef> = OnceLock::new();
    SCHEMA
        .get_or_init(|| {
            let fields = vec![
                utf8(EVENT_VERSION),
                Field::new(
                    USER_IDENTITY,
                    DataType::Struct(user_identity_fields()),
                    true,
                ),
                Field::new(EVENT_TIME, timestamp_type(), false),
                utf8(EVENT_SOURCE),
                utf8(EVENT_NAME),
                utf8(AWS_REGION),
                utf8(SOURCE_IP_ADDRESS),
                utf8(USER_AGENT),
                utf8(ERROR_CODE),
                utf8(ERROR_MESSAGE),
                Field::new(REQUEST_PARAMETERS, map_type(), true),
                Field::new(RESPONSE_ELEMENTS, map_type(), true),
                Field::new(ADDITIONAL_EVENT_DATA, map_type(), true),
                utf8(REQUEST_ID),
                utf8(EVENT_ID),
                Field::new(READ_ONLY, DataType::Boolean, true),
                Field::new(RESOURCES, DataType::List(resource_item_field()), true),
                utf8(EVENT_TYPE),
                utf8(API_VERSION),
                Field::new(MANAGEMENT_EVENT, DataType::Boolean, true),
                utf8(RECIPIENT_ACCOUNT_ID),
                utf8(SHARED_EVENT_ID),
                utf8(ANNOTATION),
                utf8(VPC_ENDPOINT_ID),
                utf8(VPC_ENDPOINT_ACCOUNT_ID),
                Field::new(SERVICE_EVENT_DETAILS, map_type(), true),
                Field::new(ADDENDUM, map_type(), true),
                Field::new(EDGE_DEVICE_DETAILS, map_type(), true),
                Field::new(INSIGHT_DETAILS, map_type(), true),
                utf8(EVENT_CATEGORY),
                Field::new(
                    TLS_DETAILS,
                    DataType::Struct(string_struct_fields(&TLS_DETAILS_FIELDS)),
                    true,
                ),
                utf8(SESSION_CREDENTIAL_FROM_CONSOLE),
                // The canonical `arrow.json` extension makes the Parquet writer tag the column with
                // the JSON logical type, so DuckDB reads it as JSON.
                Field::new(EVENT_JSON, DataType::Utf8, false)
                    .with_extension_type(arrow_schema::extension::Json::default()),
            ];
            Arc::new(Schema::new(fields))
        })
        .clone()
}

/// Index of a top-level column in [`event_schema`].
pub fn column_index(name: &str) -> usize {
    event_schema()
        .index_of(name)
        .unwrap_or_else(|_| panic!("`{name}` is not an event-schema column"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_listed_column_is_in_the_schema_once() {
        let schema = event_schema();
        let listed = SCALAR_COLUMNS
            .iter()
            .chain(&BOOLEAN_COLUMNS)
            .chain(&MAP_COLUMNS)
            .chain(&[
                USER_IDENTITY,
                EVENT_TIME,
                RESOURCES,
                TLS_DETAILS,
                EVENT_JSON,
            ]);
        let mut n = 0;
        for name in listed {
            assert!(schema.index_of(name).is_ok(), "{name} missing");
            n += 1;
        }
        assert_eq!(n, schema.fields().len(), "a schema column is not listed");
    }
}
