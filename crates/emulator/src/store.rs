//! The events the emulator holds: per (account, region), newest first, as Event history keeps
//! them; and all of them as one table for Lake.
//!
//! Events come from the seeded generator or from records a caller loaded (`trailq emulator --load`
//! reads files through trailq's pipeline). A generated event is indexed by the generator's own
//! fields, so the ground truth tests compare exports with does not come from the parser under
//! test; a loaded record's account (`recipientAccountId`), Region, time and lookup attributes
//! are read from its text by the event core's parser.

use std::collections::{BTreeMap, HashSet};

use arrow::array::RecordBatch;
use serde::Serialize;

use crate::generate::Generator;
use trailq_events::batch::EventBatchBuilder;
use trailq_events::record::parse_record;
use trailq_events::schema::{
    AWS_REGION, EVENT_CATEGORY, EVENT_ID, EVENT_NAME, EVENT_SOURCE, RECIPIENT_ACCOUNT_ID,
};
use trailq_events::time::format_micros;

/// One event and the fields Event history can look it up by.
#[derive(Debug, Clone)]
pub struct StoredEvent {
    pub time_micros: i64,
    pub account: String,
    pub region: String,
    pub event_id: String,
    pub event_name: Option<String>,
    pub event_source: Option<String>,
    pub read_only: Option<bool>,
    pub username: Option<String>,
    pub access_key_id: Option<String>,
    /// (ResourceType, ResourceName) as Event history lists them.
    pub resources: Vec<(Option<String>, String)>,
    /// An Insights event: only returned to `EventCategory=insight`.
    pub insight: bool,
    /// The record exactly as CloudTrail would deliver it.
    pub json: String,
}

/// A line of the ground truth: what the emulator holds, for tests to compare exports with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GroundTruthEvent {
    pub account: String,
    pub region: String,
    pub event_source: Option<String>,
    pub event_name: Option<String>,
    pub event_time: String,
    pub event_time_micros: i64,
    pub event_id: String,
}

/// Loaded records the emulator could not serve, and why.
#[derive(Debug, Default)]
pub struct LoadReport {
    pub records: usize,
    pub duplicates: usize,
    pub problems: Vec<String>,
}

#[derive(Debug, Default)]
pub struct EventStore {
    /// Per (account, region), sorted newest first, then by eventID.
    places: BTreeMap<(String, String), Vec<StoredEvent>>,
    len: usize,
    json_bytes: usize,
}

impl EventStore {
    /// Every day of the generator's window.
    pub fn generated(generator: &Generator) -> Self {
        let mut events = Vec::new();
        for day in 0..generator.day_count() {
            events.extend(generator.day(day).into_iter().map(|e| StoredEvent {
                time_micros: e.time_micros,
                account: e.account,
                region: e.region,
                event_id: e.event_id,
                event_name: Some(e.event_name.to_owned()),
                event_source: Some(e.event_source.to_owned()),
                read_only: Some(e.read_only),
                username: e.username,
                access_key_id: e.access_key_id,
                resources: Vec::new(),
                insight: false,
                json: e.json,
            }));
        }
        let mut store = EventStore::default();
        store.add_all(events, &mut LoadReport::default());
        store
    }

    /// Records a caller read (origin, text), e.g. from trail files; those Event history could
    /// not hold are in the report's problems, each with its origin.
    pub fn from_records(records: Vec<(String, String)>) -> (Self, LoadReport) {
        let mut report = LoadReport::default();
        let mut events = Vec::with_capacity(records.len());
        for (origin, text) in records {
            match stored(text) {
                Ok(event) => events.push(event),
                Err(reason) => report.problems.push(format!("{origin}: {reason}")),
            }
        }
        let mut store = EventStore::default();
        store.add_all(events, &mut report);
        (store, report)
    }

    fn add_all(&mut self, events: Vec<StoredEvent>, report: &mut LoadReport) {
        let mut seen = HashSet::new();
        for event in events {
            // An event is delivered once per trail; the same ID twice is one event.
            if !seen.insert((event.account.clone(), event.event_id.clone())) {
                report.duplicates += 1;
                continue;
            }
            report.records += 1;
            self.len += 1;
            self.json_bytes += event.json.len();
            self.places
                .entry((event.account.clone(), event.region.clone()))
                .or_default()
                .push(event);
        }
        for events in self.places.values_mut() {
            events.sort_by(|a, b| {
                b.time_micros
                    .cmp(&a.time_micros)
                    .then_with(|| a.event_id.cmp(&b.event_id))
            });
        }
    }

    /// The events of one account and region, newest first.
    pub fn place(&self, account: &str, region: &str) -> &[StoredEvent] {
        self.places
            .get(&(account.to_owned(), region.to_owned()))
            .map_or(&[], Vec::as_slice)
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Bytes of record JSON held: what a Lake query that reads everything scans.
    pub fn json_bytes(&self) -> usize {
        self.json_bytes
    }

    /// The (account, region) pairs that have events.
    pub fn places(&self) -> impl Iterator<Item = (&str, &str)> {
        self.places.keys().map(|(a, r)| (a.as_str(), r.as_str()))
    }

    /// The newest event time held.
    pub fn latest_micros(&self) -> Option<i64> {
        self.places
            .values()
            .filter_map(|v| v.first())
            .map(|e| e.time_micros)
            .max()
    }

    /// Every event, place by place, newest first.
    pub fn ground_truth(&self) -> Vec<GroundTruthEvent> {
        self.places
            .values()
            .flatten()
            .map(|e| GroundTruthEvent {
                account: e.account.clone(),
                region: e.region.clone(),
                event_source: e.event_source.clone(),
                event_name: e.event_name.clone(),
                event_time: format_micros(e.time_micros),
                event_time_micros: e.time_micros,
                event_id: e.event_id.clone(),
            })
            .collect()
    }

    /// The ground truth as JSON Lines, one event a line.
    pub fn ground_truth_jsonl(&self) -> String {
        let mut text = String::new();
        for e in self.ground_truth() {
            text.push_str(&serde_json::to_string(&e).expect("plain strings and numbers serialize"));
            text.push('\n');
        }
        text
    }

    /// All events as batches of the event schema, through the same parser and builder as an
    /// export. An event that does not parse is an error, not a gap: Lake would otherwise hold
    /// fewer events than Event history serves.
    pub fn record_batches(&self) -> Result<Vec<RecordBatch>, String> {
        let mut batches = Vec::new();
        let mut builder = EventBatchBuilder::new();
        for event in self.places.values().flatten() {
            let row = parse_record(&event.json)
                .map_err(|e| format!("event {} does not parse: {e}", event.event_id))?;
            builder.append(&row, &event.json);
            if builder.len() == 8192 {
                batches.push(builder.finish());
            }
        }
        if !builder.is_empty() {
            batches.push(builder.finish());
        }
        Ok(batches)
    }
}

/// A record's text as a stored event, or why Event history could not hold it.
fn stored(json: String) -> Result<StoredEvent, String> {
    let row = parse_record(&json).map_err(|e| e.to_string())?;
    let required = |column: &str, value: Option<&str>| {
        value
            .map(str::to_owned)
            .ok_or_else(|| format!("record has no `{column}`, so the emulator cannot tell where CloudTrail would keep it"))
    };
    let account = required(
        RECIPIENT_ACCOUNT_ID,
        row.scalar(RECIPIENT_ACCOUNT_ID)
            .or_else(|| row.identity("accountId")),
    )?;
    let region = required(AWS_REGION, row.scalar(AWS_REGION))?;
    let event_id = required(EVENT_ID, row.scalar(EVENT_ID))?;
    let username = row.identity("userName").map(str::to_owned).or_else(|| {
        match row.identity("type") {
            // An assumed role's session name, as Event history shows it.
            Some("AssumedRole") => row
                .identity("arn")
                .and_then(|arn| arn.rsplit('/').next())
                .map(str::to_owned),
            Some("Root") => Some("root".to_owned()),
            _ => row.identity("invokedBy").map(str::to_owned),
        }
    });
    let resources = row
        .resource_types_and_arns()
        .filter_map(|(t, arn)| Some((t.map(str::to_owned), arn?.to_owned())))
        .collect();
    let insight = row
        .scalar(EVENT_CATEGORY)
        .is_some_and(|c| c.eq_ignore_ascii_case("insight"));
    Ok(StoredEvent {
        time_micros: row.event_time_micros,
        event_name: row.scalar(EVENT_NAME).map(str::to_owned),
        event_source: row.scalar(EVENT_SOURCE).map(str::to_owned),
        read_only: row.read_only,
        username,
        access_key_id: row.identity("accessKeyId").map(str::to_owned),
        resources,
        insight,
        account,
        region,
        event_id,
        json,
    })
}
