//! Detections turned into findings (`trailq detect`, `trailq report`): one finding per row a
//! detection returns, with its severity, actor, account, Region, time and event IDs; the
//! renderings a person (table), a program (JSON lines) and a SIEM (OCSF Detection Finding) read;
//! and what a schedule already reported (`--since-last`).

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::{Value as Json, json};

use trailq_events::time::{format_micros, parse_timestamp_micros};

use crate::library::{FINDING_COLUMNS, SEVERITY_COLUMN, SavedQuery, Severity, Technique};

/// The OCSF version the `ocsf` format follows (Detection Finding, class 2004, exists since 1.1).
pub const OCSF_VERSION: &str = "1.5.0";

/// One row of a detection.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    /// The finding's stable ID: the detection and the events behind it, hashed. The same events
    /// found again give the same ID; that is how `--since-last` knows it reported them.
    pub id: String,
    pub detection: String,
    pub title: String,
    pub severity: Severity,
    /// When it happened (the row's `eventTime`), ISO 8601 UTC.
    pub time: String,
    #[serde(skip)]
    pub time_micros: i64,
    pub account: String,
    pub region: String,
    pub actor: String,
    pub event_ids: Vec<String>,
    /// ATT&CK techniques of the detection.
    pub attack: Vec<Technique>,
    /// Every column of the row, as the detection returned it.
    pub fields: BTreeMap<String, Option<String>>,
    #[serde(skip)]
    pub description: String,
}

#[derive(Debug, thiserror::Error)]
pub enum DetectError {
    #[error(
        "detection `{query}` returns no column `{column}` (a detection returns {needed}; it returned {have})"
    )]
    Column {
        query: String,
        column: String,
        needed: String,
        have: String,
    },
    #[error("detection `{query}`, row {row}: {message}")]
    Row {
        query: String,
        row: usize,
        message: String,
    },
    #[error(
        "cannot read what `--since-last` already reported from `{}`: {message}; move it away to report everything again",
        path.display()
    )]
    State { path: PathBuf, message: String },
}

/// The findings of `query` (a detection) from its result: `names` are the columns, `rows` Lake's
/// rendered values.
pub fn findings(
    query: &SavedQuery,
    names: &[String],
    rows: &[Vec<Option<String>>],
) -> Result<Vec<Finding>, DetectError> {
    let Some(detection) = &query.detection else {
        return Ok(Vec::new());
    };
    if rows.is_empty() {
        // Lake names the columns in its rows: an empty answer may have no names to check.
        return Ok(Vec::new());
    }
    let needed: Vec<&str> = FINDING_COLUMNS
        .iter()
        .copied()
        .chain([detection.actor.as_str(), detection.events.as_str()])
        .collect();
    let index = |column: &str| -> Result<usize, DetectError> {
        names
            .iter()
            .position(|n| n == column)
            .ok_or_else(|| DetectError::Column {
                query: query.name.clone(),
                column: column.to_owned(),
                needed: needed.join(", "),
                have: names.join(", "),
            })
    };
    let [time, account, region, actor, events] = [
        index(FINDING_COLUMNS[0])?,
        index(FINDING_COLUMNS[1])?,
        index(FINDING_COLUMNS[2])?,
        index(&detection.actor)?,
        index(&detection.events)?,
    ];
    let severity_at = names.iter().position(|n| n == SEVERITY_COLUMN);
    let mut out = Vec::with_capacity(rows.len());
    for (i, row) in rows.iter().enumerate() {
        let bad = |message: String| DetectError::Row {
            query: query.name.clone(),
            row: i + 1,
            message,
        };
        let cell = |at: usize| row.get(at).cloned().flatten().unwrap_or_default();
        let severity = match severity_at {
            None => detection.severity,
            Some(at) => {
                let text = cell(at);
                let severity = Severity::from_name(&text).ok_or_else(|| {
                    bad(format!(
                        "severity `{text}` is not one of {}",
                        Severity::ALL.map(Severity::name).join(", ")
                    ))
                })?;
                if severity > detection.severity {
                    return Err(bad(format!(
                        "severity {severity} is above the header's `-- severity: {}`",
                        detection.severity
                    )));
                }
                severity
            }
        };
        let time_text = cell(time);
        let time_micros = parse_timestamp_micros(&time_text)
            .ok_or_else(|| bad(format!("eventTime `{time_text}` is not a time")))?;
        let mut event_ids: Vec<String> = cell(events)
            .split(',')
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect();
        if event_ids.is_empty() {
            return Err(bad(format!("no event ID in `{}`", detection.events)));
        }
        event_ids.sort();
        event_ids.dedup();
        let id = finding_id(&query.name, &event_ids);
        out.push(Finding {
            id,
            detection: query.name.clone(),
            title: query.title.clone(),
            severity,
            time: format_micros(time_micros),
            time_micros,
            account: cell(account),
            region: cell(region),
            actor: cell(actor),
            event_ids,
            attack: query.techniques.clone(),
            fields: names.iter().cloned().zip(row.iter().cloned()).collect(),
            description: query.description.clone(),
        });
    }
    Ok(out)
}

fn finding_id(detection: &str, event_ids: &[String]) -> String {
    let mut key = detection.to_owned();
    for id in event_ids {
        key.push('\n');
        key.push_str(id);
    }
    format!(
        "{detection}-{:032x}",
        xxhash_rust::xxh3::xxh3_128(key.as_bytes())
    )
}

/// Most severe first, then oldest first.
pub fn sort(findings: &mut [Finding]) {
    findings.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then(a.time_micros.cmp(&b.time_micros))
            .then_with(|| a.id.cmp(&b.id))
    });
}

/// The findings grouped by severity, each naming what, who, where, when and the events; `hidden`
/// counts findings below the minimum severity, `min` is that minimum.
pub fn table(findings: &[Finding], hidden: usize, min: Severity) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    for severity in Severity::ALL.iter().rev() {
        let group: Vec<&Finding> = findings
            .iter()
            .filter(|f| f.severity == *severity)
            .collect();
        if group.is_empty() {
            continue;
        }
        let _ = writeln!(out, "{} ({})", severity.name().to_uppercase(), group.len());
        for f in group {
            let _ = writeln!(out, "  {}  {}  ({})", f.time, f.title, f.detection);
            let _ = writeln!(
                out,
                "      actor    {}\n      where    account {}, {}",
                f.actor, f.account, f.region
            );
            let _ = writeln!(out, "      events   {}", f.event_ids.join(", "));
        }
        out.push('\n');
    }
    if findings.is_empty() {
        let _ = writeln!(out, "no findings at {min} or above");
    }
    if hidden > 0 {
        let below = Severity::ALL
            .iter()
            .rev()
            .find(|s| **s < min)
            .map_or("informational", |s| s.name());
        let _ = writeln!(
            out,
            "{hidden} {} below {min} not shown (--min-severity {below} shows them)",
            if hidden == 1 { "finding" } else { "findings" }
        );
    }
    out
}

/// OCSF Detection Finding (class 2004), as Security Lake and SIEMs ingest it.
pub fn ocsf(finding: &Finding, product_version: &str) -> Json {
    let millis = finding.time_micros.div_euclid(1000);
    let actor_name = finding
        .actor
        .rsplit(['/', ':'])
        .next()
        .filter(|s| !s.is_empty())
        .unwrap_or(&finding.actor);
    let attacks: Vec<Json> = finding
        .attack
        .iter()
        .map(|t| {
            let mut attack = json!({ "technique": { "uid": t.id, "name": t.name } });
            if let Some(v) = &t.version {
                attack["version"] = json!(v.trim_start_matches('v'));
            }
            attack
        })
        .collect();
    let mut finding_info = json!({
        "uid": finding.id,
        "title": finding.title,
        "desc": finding.description,
        "types": ["Amazon Inspector"],
        "first_seen_time": millis,
        "last_seen_time": millis,
        "analytic": {
            "name": finding.detection,
            "uid": finding.detection,
            "type_id": 1,
            "type": "Rule",
        },
        "related_events": finding.event_ids.iter().map(|id| json!({ "uid": id })).collect::<Vec<_>>(),
    });
    if !attacks.is_empty() {
        finding_info["attacks"] = Json::Array(attacks);
    }
    let mut evidence = serde_json::Map::new();
    if let Some(Some(op)) = finding.fields.get("eventName") {
        evidence.insert("api".into(), json!({ "operation": op }));
    }
    if let Some(Some(ip)) = finding.fields.get("sourceIPAddress")
        && ip.parse::<IpAddr>().is_ok()
    {
        evidence.insert("src_endpoint".into(), json!({ "ip": ip }));
    }
    let mut out = json!({
        "activity_id": 1,
        "activity_name": "Create",
        "category_uid": 2,
        "category_name": "Findings",
        "class_uid": 2004,
        "class_name": "Detection Finding",
        "type_uid": 200401,
        "type_name": "Detection Finding: Create",
        "severity_id": finding.severity.ocsf_id(),
        "severity": finding.severity.caption(),
        "status_id": 1,
        "status": "New",
        "time": millis,
        "message": format!("{}: {} in account {}, {}", finding.title, finding.actor, finding.account, finding.region),
        "metadata": {
            "version": OCSF_VERSION,
            "product": { "name": "trailq", "vendor_name": "trailq", "version": product_version },
            "profiles": ["cloud", "host"],
            "log_name": "CloudTrail",
            "log_provider": "AWS CloudTrail",
        },
        "finding_info": finding_info,
        "cloud": {
            "provider": "AWS",
            "region": finding.region,
            "account": { "uid": finding.account, "type_id": 10, "type": "AWS Account" },
        },
        "actor": { "user": { "name": actor_name, "uid": finding.actor } },
        // What the detection returned, column by column: OCSF's place for fields it has no name for.
        "unmapped": finding.fields.iter().filter_map(|(k, v)| v.as_ref().map(|v| (k.clone(), json!(v)))).collect::<serde_json::Map<_, _>>(),
    });
    if !evidence.is_empty() {
        out["evidences"] = json!([evidence]);
    }
    out
}

/// What `--since-last` already reported: finding IDs and when each happened. Kept in a small
/// JSON file written whole; IDs of findings older than a year are let go (no window reaches
/// them again in practice, and the file stays small).
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Reported {
    #[serde(default)]
    pub findings: BTreeMap<String, String>,
}

/// How long a reported finding is remembered.
const REMEMBER_MICROS: i64 = 400 * 86_400_000_000;

impl Reported {
    /// The state in `path`; none yet is an empty state.
    pub fn load(path: &Path) -> Result<Reported, DetectError> {
        let bad = |message: String| DetectError::State {
            path: path.to_owned(),
            message,
        };
        match std::fs::read(path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| bad(e.to_string())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Reported::default()),
            Err(e) => Err(bad(e.to_string())),
        }
    }

    pub fn contains(&self, finding: &Finding) -> bool {
        self.findings.contains_key(&finding.id)
    }

    /// Remembers `reported`, and forgets findings that happened long before `now_micros`.
    pub fn add(&mut self, reported: &[Finding], now_micros: i64) {
        for f in reported {
            self.findings.insert(f.id.clone(), f.time.clone());
        }
        self.findings.retain(|_, time| {
            parse_timestamp_micros(time).is_none_or(|t| t >= now_micros - REMEMBER_MICROS)
        });
    }

    pub fn to_json(&self) -> Vec<u8> {
        let mut bytes = serde_json::to_vec_pretty(self).expect("serializes");
        bytes.push(b'\n');
        bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::library::{Library, Origin};

    fn detection() -> SavedQuery {
        let text = "-- title: Filters hiding findings\n-- description: d\n-- why: w\n-- sources: inspector2.amazonaws.com\n-- attack: T1562.001 Impair Defenses: Disable or Modify Tools (v18); T1685 Disable or Modify Tools (v19)\n-- kind: detection\n-- severity: high\n-- actor: principal\n-- events: eventID\nSELECT eventTime, recipientAccountId, awsRegion, principal, eventID, severity FROM {{eds}}\n";
        SavedQuery::parse("hiding", text, Origin::BuiltIn).unwrap()
    }

    fn names() -> Vec<String> {
        [
            "eventTime",
            "recipientAccountId",
            "awsRegion",
            "principal",
            "eventID",
            "severity",
        ]
        .map(String::from)
        .to_vec()
    }

    fn row(severity: &str, ids: &str) -> Vec<Option<String>> {
        [
            "2026-11-20 10:00:00.000",
            "111122223333",
            "us-east-1",
            "arn:aws:iam::111122223333:user/mallory",
            ids,
            severity,
        ]
        .map(|s| Some(s.to_owned()))
        .to_vec()
    }

    #[test]
    fn rows_become_findings_rated_by_their_own_severity() {
        let q = detection();
        let found = findings(&q, &names(), &[row("high", "b, a"), row("low", "c")]).unwrap();
        assert_eq!(found[0].severity, Severity::High);
        assert_eq!(found[0].event_ids, ["a", "b"]);
        assert_eq!(found[0].time, "2026-11-20T10:00:00Z");
        assert_eq!(found[1].severity, Severity::Low);
        // The same events give the same ID whatever their order; other events another.
        let again = findings(&q, &names(), &[row("high", "a,b")]).unwrap();
        assert_eq!(again[0].id, found[0].id);
        assert_ne!(found[0].id, found[1].id);
    }

    #[test]
    fn a_detection_that_breaks_its_header_is_an_error_naming_it() {
        let q = detection();
        let err = |names: &[String], rows: &[Vec<Option<String>>]| {
            findings(&q, names, rows).unwrap_err().to_string()
        };
        assert_eq!(
            err(&names()[1..], &[row("high", "a")[1..].to_vec()]),
            "detection `hiding` returns no column `eventTime` (a detection returns eventTime, recipientAccountId, awsRegion, principal, eventID; it returned recipientAccountId, awsRegion, principal, eventID, severity)"
        );
        assert_eq!(
            err(&names(), &[row("critical", "a")]),
            "detection `hiding`, row 1: severity critical is above the header's `-- severity: high`"
        );
        assert!(err(&names(), &[row("urgent", "a")]).contains("severity `urgent` is not one of"));
        assert!(err(&names(), &[row("low", " , ")]).contains("no event ID in `eventID`"));
    }

    #[test]
    fn every_built_in_detection_names_its_columns_and_both_attack_versions() {
        let library = Library::load(&[]).unwrap();
        let detections: Vec<&SavedQuery> = library
            .queries()
            .iter()
            .filter(|q| q.detection.is_some())
            .collect();
        assert!(detections.len() >= 15, "{}", detections.len());
        for q in &detections {
            let d = q.detection.as_ref().unwrap();
            let sql = q.sql.as_str();
            for column in FINDING_COLUMNS
                .iter()
                .chain([&d.actor.as_str(), &d.events.as_str()])
            {
                assert!(sql.contains(column), "{}: {column}", q.name);
            }
            let ids: Vec<&str> = q.techniques.iter().map(|t| t.id.as_str()).collect();
            if ids.contains(&"T1562.001") {
                assert!(
                    ids.contains(&"T1685"),
                    "{}: v19's T1685 beside T1562.001",
                    q.name
                );
            }
        }
        for q in library.queries() {
            assert!(
                q.header.contains("-- kind: "),
                "{} says whether it is a detection or context",
                q.name
            );
        }
    }

    #[test]
    fn reported_findings_are_remembered_for_a_while() {
        let q = detection();
        let found = findings(&q, &names(), &[row("high", "a")]).unwrap();
        let mut state = Reported::default();
        let now = found[0].time_micros;
        state.add(&found, now);
        assert!(state.contains(&found[0]));
        let reread: Reported = serde_json::from_slice(&state.to_json()).unwrap();
        assert!(reread.contains(&found[0]));
        let mut later = reread;
        later.add(&[], now + REMEMBER_MICROS + 1);
        assert!(!later.contains(&found[0]));
    }
}
