//! Lake's event data stores: the one the emulator serves its events as, and the two APIs that
//! list and describe it.

use serde::Deserialize;
use serde_json::{Value, json};

use super::{client, parse};
use crate::server::{ApiError, State};

#[derive(Debug, Clone)]
pub struct EventDataStore {
    pub id: String,
    pub arn: String,
    pub name: String,
    pub created_micros: i64,
}

/// A store for the emulator's events; its ID is derived from the seed.
pub fn default_store(
    id: String,
    region: &str,
    account: &str,
    created_micros: i64,
) -> EventDataStore {
    EventDataStore {
        arn: format!("arn:aws:cloudtrail:{region}:{account}:eventdatastore/{id}"),
        name: "trailq-emulator".to_owned(),
        id,
        created_micros,
    }
}

pub(super) fn store_not_found(name: &str) -> ApiError {
    client(
        "EventDataStoreNotFoundException",
        format!("event data store `{name}` does not exist: ListEventDataStores lists the ARNs"),
    )
}

pub fn list_event_data_stores(state: &State, body: Value) -> Result<Value, ApiError> {
    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Request {
        max_results: Option<i64>,
    }
    let request: Request = parse("ListEventDataStores", body)?;
    if let Some(n) = request.max_results
        && !(1..=1000).contains(&n)
    {
        return Err(client(
            "InvalidMaxResultsException",
            format!("MaxResults is {n}; it must be between 1 and 1000"),
        ));
    }
    // Every other member of the list is deprecated; GetEventDataStore has the details.
    let stores: Vec<Value> = state
        .lake
        .stores()
        .iter()
        .map(|s| json!({ "EventDataStoreArn": s.arn, "Name": s.name }))
        .collect();
    Ok(json!({ "EventDataStores": stores }))
}

pub fn get_event_data_store(state: &State, body: Value) -> Result<Value, ApiError> {
    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Request {
        event_data_store: Option<String>,
    }
    let request: Request = parse("GetEventDataStore", body)?;
    let Some(name) = request.event_data_store.as_deref() else {
        return Err(client(
            "InvalidParameterException",
            "EventDataStore is required",
        ));
    };
    if name.len() < 3 || name.len() > 256 {
        return Err(client(
            "EventDataStoreARNInvalidException",
            format!("`{name}` is not an event data store ARN or ID"),
        ));
    }
    let s = state
        .lake
        .store(name)
        .ok_or_else(|| store_not_found(name))?;
    let created = s.created_micros as f64 / 1e6;
    Ok(json!({
        "EventDataStoreArn": s.arn,
        "Name": s.name,
        "Status": "ENABLED",
        "AdvancedEventSelectors": [{
            "Name": "Management events",
            "FieldSelectors": [{ "Field": "eventCategory", "Equals": ["Management"] }],
        }],
        "MultiRegionEnabled": true,
        "OrganizationEnabled": true,
        "RetentionPeriod": 2557,
        "TerminationProtectionEnabled": true,
        "CreatedTimestamp": created,
        "UpdatedTimestamp": created,
        "BillingMode": "FIXED_RETENTION_PRICING",
    }))
}
