//! `ListQueries`: an event data store's queries of the last seven days, newest first, filtered by
//! time and status, in pages.

use std::time::Instant;

use serde::Deserialize;
use serde_json::{Value, json};

use super::{KEPT_MICROS, client, parse, store_not_found};
use crate::server::{ApiError, Caller, State};

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ListQueriesRequest {
    event_data_store: Option<String>,
    next_token: Option<String>,
    max_results: Option<i64>,
    start_time: Option<f64>,
    end_time: Option<f64>,
    query_status: Option<String>,
}

pub fn list_queries(state: &State, caller: &Caller, body: Value) -> Result<Value, ApiError> {
    let request: ListQueriesRequest = parse("ListQueries", body)?;
    let lake = &state.lake;
    let Some(name) = request.event_data_store.as_deref() else {
        return Err(client(
            "InvalidParameterException",
            "EventDataStore is required",
        ));
    };
    lake.store(name).ok_or_else(|| store_not_found(name))?;
    const STATUSES: [&str; 6] = [
        "QUEUED",
        "RUNNING",
        "FINISHED",
        "FAILED",
        "CANCELLED",
        "TIMED_OUT",
    ];
    if let Some(s) = request.query_status.as_deref()
        && !STATUSES.contains(&s)
    {
        return Err(client(
            "InvalidQueryStatusException",
            format!(
                "`{s}` is not a query status: use one of {}",
                STATUSES.join(", ")
            ),
        ));
    }
    let page = match request.max_results {
        None => 1000,
        Some(n @ 1..=1000) => n as usize,
        Some(n) => {
            return Err(client(
                "InvalidMaxResultsException",
                format!("MaxResults is {n}; it must be between 1 and 1000"),
            ));
        }
    };
    let micros = |s: f64| (s * 1e6).round() as i64;
    let (start, end) = (request.start_time.map(micros), request.end_time.map(micros));
    if let (Some(s), Some(e)) = (start, end)
        && s > e
    {
        return Err(client(
            "InvalidDateRangeException",
            "StartTime is after EndTime",
        ));
    }
    let now_micros = state.clock.now_micros();
    let now = Instant::now();
    let queries = lake.lock();
    let listed: Vec<Value> = queries
        .iter()
        .rev()
        .filter(|q| q.account == caller.account && now_micros - q.created_micros <= KEPT_MICROS)
        .filter(|q| start.is_none_or(|s| q.created_micros >= s) && end.is_none_or(|e| q.created_micros <= e))
        .map(|q| (q, lake.status(q, now)))
        .filter(|(_, status)| request.query_status.as_deref().is_none_or(|s| s == *status))
        .map(|(q, status)| {
            json!({"QueryId": q.id, "QueryStatus": status, "CreationTime": q.created_micros as f64 / 1e6})
        })
        .collect();
    let token_key = format!("ListQueries|{name}|{}", caller.account);
    let offset = match request.next_token.as_deref() {
        None => 0,
        Some(t) => state.open_offset_token(t, &token_key)?,
    };
    let end_at = (offset + page).min(listed.len());
    let mut out = json!({ "Queries": listed[offset.min(end_at)..end_at] });
    if end_at < listed.len() {
        out["NextToken"] = json!(state.offset_token(&token_key, end_at));
    }
    Ok(out)
}
