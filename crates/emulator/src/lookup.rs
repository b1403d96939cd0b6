//! `LookupEvents` as CloudTrail documents it [reference §1]: one lookup attribute, inclusive
//! `StartTime`/`EndTime`, a 90-day reach, at most 50 events a page, newest first, and a
//! `NextToken` that only works with the parameters it was issued for.
//!
//! The token carries a cursor (the time and ID of the last event returned), so paging is stable
//! however long a client takes between pages, and a hash of the request's parameters, so it
//! fails with `InvalidNextTokenException` when reused with others.

use serde::Deserialize;
use serde_json::{Value, json};

use crate::server::{ApiError, Caller, State};
use crate::store::StoredEvent;
use crate::tokens::Sealer;
use trailq_events::cloudtrail::LOOKUP_KEYS;

const MICROS_PER_DAY: i64 = 86_400_000_000;
/// Event history reaches back 90 days.
pub const REACH_DAYS: i64 = 90;
/// The keys an `EventCategory=insight` lookup accepts.
const INSIGHT_KEYS: [&str; 3] = ["EventId", "EventName", "EventSource"];

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Request {
    lookup_attributes: Option<Vec<Attribute>>,
    start_time: Option<f64>,
    end_time: Option<f64>,
    event_category: Option<String>,
    max_results: Option<i64>,
    next_token: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Attribute {
    attribute_key: Option<String>,
    attribute_value: Option<String>,
}

fn invalid(code: &'static str, message: impl Into<String>) -> ApiError {
    ApiError::client(code, message)
}

pub fn lookup_events(state: &State, caller: &Caller, body: Value) -> Result<Value, ApiError> {
    let request: Request = serde_json::from_value(body)
        .map_err(|e| ApiError::serialization(format!("LookupEvents: {e}")))?;
    let insight = match request.event_category.as_deref() {
        None => false,
        Some("insight") => true,
        Some(other) => {
            return Err(invalid(
                "InvalidEventCategoryException",
                format!("`{other}` is not an event category: the only one is `insight`"),
            ));
        }
    };
    let attribute = match request.lookup_attributes.as_deref().unwrap_or_default() {
        [] => None,
        [one] => Some(validate_attribute(one, insight)?),
        many => {
            return Err(invalid(
                "InvalidLookupAttributesException",
                format!(
                    "LookupEvents takes one lookup attribute, not {}: look up by one and filter the rest yourself",
                    many.len()
                ),
            ));
        }
    };
    let page_size = match request.max_results {
        None => 50,
        Some(n @ 1..=50) => n as usize,
        Some(n) => {
            return Err(invalid(
                "InvalidMaxResultsException",
                format!("MaxResults is {n}; it must be between 1 and 50"),
            ));
        }
    };
    let now = state.clock.now_micros();
    let reach = now - REACH_DAYS * MICROS_PER_DAY;
    let to_micros = |s: f64| (s * 1e6).round() as i64;
    let start = request.start_time.map(to_micros);
    let end = request.end_time.map(to_micros);
    if let (Some(s), Some(e)) = (start, end)
        && s > e
    {
        return Err(invalid(
            "InvalidTimeRangeException",
            "StartTime is after EndTime: the start of the time range must be before or at its end",
        ));
    }
    let start = start.unwrap_or(reach).max(reach);
    let end = end.unwrap_or(now);

    let binding = binding(caller, &request, insight);
    let cursor = match request.next_token.as_deref() {
        None => None,
        Some(token) => Some(state.tokens.open(token, binding, now)?),
    };

    let events = state.store.place(&caller.account, &caller.region);
    // Newest first: skip what is newer than EndTime, or what earlier pages returned.
    let first = match &cursor {
        None => events.partition_point(|e| e.time_micros > end),
        Some((time, id)) => events.partition_point(|e| {
            e.time_micros > *time || (e.time_micros == *time && e.event_id.as_str() <= id.as_str())
        }),
    };
    let mut matching = events[first..]
        .iter()
        .take_while(|e| e.time_micros >= start)
        .filter(|e| e.insight == insight && attribute.is_none_or(|(k, v)| matches(e, k, v)));
    let page: Vec<&StoredEvent> = matching.by_ref().take(page_size).collect();
    let mut out = json!({ "Events": page.iter().map(|e| event_json(e)).collect::<Vec<_>>() });
    if let (Some(last), Some(_)) = (page.last(), matching.next()) {
        out["NextToken"] = json!(state.tokens.issue(
            binding,
            last.time_micros,
            &last.event_id,
            now
        ));
    }
    Ok(out)
}

fn validate_attribute(a: &Attribute, insight: bool) -> Result<(&'static str, &str), ApiError> {
    let key = a.attribute_key.as_deref().unwrap_or_default();
    let Some(key) = LOOKUP_KEYS.iter().copied().find(|k| *k == key) else {
        return Err(invalid(
            "InvalidLookupAttributesException",
            format!(
                "`{key}` is not a lookup attribute key: use one of {}",
                LOOKUP_KEYS.join(", ")
            ),
        ));
    };
    if insight && !INSIGHT_KEYS.contains(&key) {
        return Err(invalid(
            "InvalidLookupAttributesException",
            format!(
                "Insights events can be looked up by {} only, not by {key}",
                INSIGHT_KEYS.join(", ")
            ),
        ));
    }
    let value = a.attribute_value.as_deref().unwrap_or_default();
    // `_`, space, `,` and newline count twice [reference §1].
    let weight: usize = value
        .chars()
        .map(|c| {
            if matches!(c, '_' | ' ' | ',' | '\n') {
                2
            } else {
                1
            }
        })
        .sum();
    if value.is_empty() || weight > 2000 {
        return Err(invalid(
            "InvalidLookupAttributesException",
            format!("the value of {key} must be 1 to 2000 characters long"),
        ));
    }
    Ok((key, value))
}

fn matches(e: &StoredEvent, key: &str, value: &str) -> bool {
    let eq = |field: &Option<String>| field.as_deref() == Some(value);
    match key {
        "EventId" => e.event_id == value,
        "EventName" => eq(&e.event_name),
        "EventSource" => eq(&e.event_source),
        "Username" => eq(&e.username),
        "AccessKeyId" => eq(&e.access_key_id),
        "ReadOnly" => e
            .read_only
            .is_some_and(|r| value.eq_ignore_ascii_case(if r { "true" } else { "false" })),
        "ResourceType" => e.resources.iter().any(|(t, _)| eq(t)),
        "ResourceName" => e.resources.iter().any(|(_, name)| name == value),
        _ => false,
    }
}

/// The `Event` shape: `CloudTrailEvent` is the record's JSON as a string, `ReadOnly` a string.
fn event_json(e: &StoredEvent) -> Value {
    let mut v = json!({
        "EventId": e.event_id,
        "EventTime": e.time_micros as f64 / 1e6,
        "CloudTrailEvent": e.json,
    });
    let mut put = |k: &str, value: &Option<String>| {
        if let Some(value) = value {
            v[k] = json!(value);
        }
    };
    put("EventName", &e.event_name);
    put("EventSource", &e.event_source);
    put("Username", &e.username);
    put("AccessKeyId", &e.access_key_id);
    if let Some(r) = e.read_only {
        v["ReadOnly"] = json!(r.to_string());
    }
    v["Resources"] = json!(
        e.resources
            .iter()
            .map(|(t, name)| {
                let mut r = json!({ "ResourceName": name });
                if let Some(t) = t {
                    r["ResourceType"] = json!(t);
                }
                r
            })
            .collect::<Vec<_>>()
    );
    v
}

/// What a token is bound to: who asked, where, and the parameters as sent (not as defaulted,
/// since a default like "now" moves between pages).
fn binding(caller: &Caller, request: &Request, insight: bool) -> u64 {
    let attribute = request
        .lookup_attributes
        .as_deref()
        .and_then(|a| a.first())
        .map(|a| {
            format!(
                "{}={}",
                a.attribute_key.as_deref().unwrap_or_default(),
                a.attribute_value.as_deref().unwrap_or_default()
            )
        });
    let text = format!(
        "{}|{}|{:?}|{:?}|{:?}|{insight}",
        caller.account, caller.region, attribute, request.start_time, request.end_time
    );
    xxhash_rust::xxh3::xxh3_64(text.as_bytes())
}

/// Issues and checks LookupEvents' NextTokens.
#[derive(Debug)]
pub struct Tokens {
    sealer: Sealer,
    /// Tokens older than this are refused as expired; `None`: they never expire.
    pub ttl_micros: Option<i64>,
}

impl Tokens {
    pub fn new(secret: u64, ttl_micros: Option<i64>) -> Self {
        Tokens {
            sealer: Sealer::new(secret),
            ttl_micros,
        }
    }

    /// The seal, for the emulator's other paged lists.
    pub fn sealer(&self) -> &Sealer {
        &self.sealer
    }

    pub fn issue(&self, binding: u64, time: i64, event_id: &str, now: i64) -> String {
        self.sealer
            .seal(&format!("1|{binding:016x}|{time}|{now}|{event_id}"))
    }

    /// The cursor in `token`, if it is ours, for these parameters, and not expired.
    pub fn open(&self, token: &str, binding: u64, now: i64) -> Result<(i64, String), ApiError> {
        let bad = || {
            invalid(
                "InvalidNextTokenException",
                "NextToken is not valid: pass the token from the previous page with the same parameters as the first request",
            )
        };
        let body = self.sealer.open(token).ok_or_else(bad)?;
        let mut parts = body.splitn(5, '|');
        let (Some("1"), Some(bound), Some(time), Some(issued), Some(id)) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return Err(bad());
        };
        if bound != format!("{binding:016x}") {
            return Err(invalid(
                "InvalidNextTokenException",
                "NextToken was issued for a request with different parameters: reuse a token only with the parameters of the request that returned it",
            ));
        }
        let (Ok(time), Ok(issued)) = (time.parse::<i64>(), issued.parse::<i64>()) else {
            return Err(bad());
        };
        if self.ttl_micros.is_some_and(|ttl| now - issued > ttl) {
            return Err(expired());
        }
        Ok((time, id.to_owned()))
    }
}

/// What an expired token gets (also injected by the `expired-token` fault).
pub fn expired() -> ApiError {
    invalid(
        "InvalidNextTokenException",
        "NextToken has expired: start the lookup again from its first page",
    )
}
