//! Trail log files and other local dumps of CloudTrail records → raw record texts.
//!
//! Accepted shapes, gzipped or not (detected from the bytes, not the name):
//! `{"Records":[…]}` trail files, LookupEvents responses `{"Events":[…]}` as the AWS CLI prints
//! them (each `CloudTrailEvent` string is the record), Lake `GetQueryResults` responses with an
//! `eventJson` column, a JSON array of records, JSON Lines, and a single record.
//! Digest, Insight and Lake-result files that trails write beside the logs are recognised and
//! skipped. Anything else is an error naming the file and what was expected.
//! Records are never re-serialised: each is the exact slice of input text it came from.

use std::borrow::Cow;
use std::fmt;
use std::fs::{self, File};
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use flate2::read::MultiGzDecoder;
use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::value::RawValue;

use crate::json::{Entries, json_kind};

/// A file to read, with its size on disk.
#[derive(Debug, Clone)]
pub struct InputFile {
    pub path: PathBuf,
    pub bytes: u64,
}

/// Files that are recognised but hold no events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SkipKind {
    Digest,
    Insight,
    LakeResult,
    /// Met while walking a folder, without a JSON name (`.json`, `.jsonl`, `.ndjson`, maybe `.gz`).
    NotJsonName,
}

impl fmt::Display for SkipKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SkipKind::Digest => "digest files",
            SkipKind::Insight => "Insights files",
            SkipKind::LakeResult => "Lake query-result files",
            SkipKind::NotJsonName => "files without a .json/.jsonl name",
        })
    }
}

/// What was found under the paths a user named.
#[derive(Debug, Default)]
pub struct Discovered {
    pub files: Vec<InputFile>,
    pub skipped: Vec<(PathBuf, SkipKind)>,
}

/// A named input that cannot be read or listed.
#[derive(Debug, thiserror::Error)]
#[error("cannot read `{path}`")]
pub struct PathError {
    pub path: PathBuf,
    #[source]
    pub source: io::Error,
}

/// Walks the named files and folders, leaving out the folder `exclude` (the output dataset).
/// A name that cannot be read is an error; everything else is decided per file later, so one bad
/// file never stops the others.
pub fn discover(paths: &[PathBuf], exclude: Option<&Path>) -> Result<Discovered, PathError> {
    let mut found = Discovered::default();
    for path in paths {
        let meta = fs::metadata(path).map_err(|source| PathError {
            path: path.clone(),
            source,
        })?;
        if meta.is_dir() {
            walk(path, exclude, &mut found)?;
        } else {
            // A file named explicitly is always read (whatever its name) unless the trail layout
            // says it is not a log file.
            match skip_by_layout(path) {
                Some(kind) => found.skipped.push((path.clone(), kind)),
                None => found.files.push(InputFile {
                    path: path.clone(),
                    bytes: meta.len(),
                }),
            }
        }
    }
    // Delivery-day order (trail layout `…/YYYY/MM/DD/…`) rather than account → region → day: the
    // dataset's partitions are then filled one or two at a time, which keeps the set of eventIDs
    // the sink must hold small however many days the input spans.
    found
        .files
        .sort_by(|a, b| (path_day(&a.path), &a.path).cmp(&(path_day(&b.path), &b.path)));
    Ok(found)
}

/// The delivery day of a trail log file from its `…/YYYY/MM/DD/…` folders, if it has them.
pub fn path_day(path: &Path) -> Option<i32> {
    let parts: Vec<&str> = path
        .components()
        .filter_map(|c| c.as_os_str().to_str())
        .collect();
    parts.windows(3).rev().find_map(|w| {
        let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
        if digits(w[0], 4) && digits(w[1], 2) && digits(w[2], 2) {
            crate::time::parse_day(&format!("{}-{}-{}", w[0], w[1], w[2]))
        } else {
            None
        }
    })
}

fn walk(dir: &Path, exclude: Option<&Path>, found: &mut Discovered) -> Result<(), PathError> {
    if exclude.is_some_and(|ex| fs::canonicalize(dir).is_ok_and(|d| d == ex)) {
        return Ok(());
    }
    let err = |source| PathError {
        path: dir.to_owned(),
        source,
    };
    let mut entries = fs::read_dir(dir)
        .and_then(|rd| rd.collect::<io::Result<Vec<_>>>())
        .map_err(err)?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') {
            continue;
        }
        let file_type = entry.file_type().map_err(err)?;
        // Follow symlinks like `find -L` would: metadata() resolves them.
        let meta = if file_type.is_symlink() {
            match fs::metadata(&path) {
                Ok(m) => m,
                Err(_) => continue,
            }
        } else {
            entry.metadata().map_err(err)?
        };
        if meta.is_dir() {
            walk(&path, exclude, found)?;
        } else if let Some(kind) = skip_by_layout(&path) {
            found.skipped.push((path, kind));
        } else if has_json_name(&name) {
            found.files.push(InputFile {
                path,
                bytes: meta.len(),
            });
        } else {
            found.skipped.push((path, SkipKind::NotJsonName));
        }
    }
    Ok(())
}

fn has_json_name(name: &str) -> bool {
    let name = name.strip_suffix(".gz").unwrap_or(name);
    [".json", ".jsonl", ".ndjson"]
        .iter()
        .any(|ext| name.ends_with(ext))
}

/// Trails write digests, Insights events and Lake results next to the logs
/// (`AWSLogs/[o-id/]<acct>/CloudTrail-Digest/…`): recognise them by the folder after the account.
fn skip_by_layout(path: &Path) -> Option<SkipKind> {
    let parts: Vec<_> = path.components().map(|c| c.as_os_str()).collect();
    let logs = parts.iter().position(|p| *p == "AWSLogs")?;
    parts[logs + 1..].iter().find_map(|p| match p.to_str()? {
        "CloudTrail-Digest" => Some(SkipKind::Digest),
        "CloudTrail-Insight" => Some(SkipKind::Insight),
        "CloudTrail-Lake" => Some(SkipKind::LakeResult),
        _ => None,
    })
}

/// Why a whole file could not be used. Shown to users after the file name.
#[derive(Debug)]
pub enum FileError {
    Io(io::Error),
    TruncatedGzip,
    BadGzip(io::Error),
    NotUtf8 { offset: usize },
    Empty,
    TruncatedJson { line: usize, column: usize },
    InvalidJson(serde_json::Error),
    NotCloudTrail(String),
}

impl fmt::Display for FileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FileError::Io(e) => write!(f, "cannot read the file: {e}"),
            FileError::TruncatedGzip => f.write_str(
                "gzip data ends before the end of the stream: the file is truncated \
                 (an interrupted download or copy?); fetch it again",
            ),
            FileError::BadGzip(e) => write!(f, "not valid gzip data ({e})"),
            FileError::NotUtf8 { offset } => {
                write!(
                    f,
                    "not UTF-8 text (invalid byte at offset {offset}); CloudTrail files are UTF-8 JSON"
                )
            }
            FileError::Empty => f.write_str("the file is empty"),
            FileError::TruncatedJson { line, column } => write!(
                f,
                "the JSON ends early at line {line} column {column}: the file is truncated"
            ),
            FileError::InvalidJson(e) => write!(f, "not valid JSON: {e}"),
            FileError::NotCloudTrail(what) => write!(
                f,
                "not CloudTrail records: {what}; expected a trail log file {{\"Records\":[…]}}, \
                 a LookupEvents response {{\"Events\":[…]}}, a JSON array or JSON Lines of records"
            ),
        }
    }
}

impl std::error::Error for FileError {}

/// Where in a file a record came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Position {
    /// 1-based line of a JSON Lines file.
    Line(usize),
    /// 0-based index into the named array (`Records`, `Events`, `QueryResultRows`, or `[]`).
    Index(&'static str, usize),
    /// The file is a single record.
    Whole,
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Position::Line(n) => write!(f, "line {n}"),
            Position::Index("", i) => write!(f, "[{i}]"),
            Position::Index(array, i) => write!(f, "{array}[{i}]"),
            Position::Whole => f.write_str("whole file"),
        }
    }
}

/// Why an item of a file is not a record, with the item's text when there is one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemError<'a> {
    pub reason: String,
    pub text: Option<&'a str>,
}

/// One item of a file: a record's exact text, or why that item is not a record.
pub type Item<'a> = (Position, Result<Cow<'a, str>, ItemError<'a>>);

/// What a file holds.
pub enum Contents<'a> {
    Records(Vec<Item<'a>>),
    Skipped(SkipKind),
}

/// Reads a file, gunzipping when its bytes say gzip, into UTF-8 text.
pub fn read_text(path: &Path) -> Result<String, FileError> {
    let mut file = File::open(path).map_err(FileError::Io)?;
    let mut raw = Vec::new();
    file.read_to_end(&mut raw).map_err(FileError::Io)?;
    let bytes = if raw.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::with_capacity(raw.len().saturating_mul(8));
        match MultiGzDecoder::new(raw.as_slice()).read_to_end(&mut out) {
            Ok(_) => out,
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                return Err(FileError::TruncatedGzip);
            }
            Err(e) => return Err(FileError::BadGzip(e)),
        }
    } else {
        raw
    };
    String::from_utf8(bytes).map_err(|e| FileError::NotUtf8 {
        offset: e.utf8_error().valid_up_to(),
    })
}

/// Reads one file and calls `each` with every item in it, in order. `Ok(Some(kind))`: the file
/// is not a file of records (a digest, an Insights file…) and was not read further.
pub fn for_each_item(
    path: &Path,
    mut each: impl FnMut(Position, Result<&str, ItemError<'_>>),
) -> Result<Option<SkipKind>, FileError> {
    let text = read_text(path)?;
    match extract(path, &text)? {
        Contents::Records(items) => {
            for (position, item) in items {
                match item {
                    Ok(record) => each(position, Ok(&record)),
                    Err(e) => each(position, Err(e)),
                }
            }
            Ok(None)
        }
        Contents::Skipped(kind) => Ok(Some(kind)),
    }
}

/// Splits a file's text into record texts.
pub fn extract<'a>(path: &Path, text: &'a str) -> Result<Contents<'a>, FileError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let body = text.trim_start();
    if body.is_empty() {
        return Err(FileError::Empty);
    }
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    if is_json_lines_name(&name) {
        return of_records(json_lines(text));
    }
    match serde_json::from_str::<&RawValue>(text) {
        Ok(doc) if doc.get().starts_with('[') => array("", doc).and_then(of_records),
        Ok(doc) => document(doc),
        Err(e) if e.classify() == serde_json::error::Category::Eof => {
            Err(FileError::TruncatedJson {
                line: e.line(),
                column: e.column(),
            })
        }
        Err(e) => {
            // Not one JSON document: JSON Lines if at least one line is a whole object by itself.
            let lines = json_lines(text);
            if lines.len() > 1 && lines.iter().any(|(_, r)| r.is_ok()) {
                of_records(lines)
            } else {
                Err(FileError::InvalidJson(e))
            }
        }
    }
}

/// A bare array or JSON Lines file is CloudTrail only if some item looks like a record; otherwise
/// it is some other JSON (a manifest, a config) and one file-level error says so.
fn of_records(items: Vec<Item<'_>>) -> Result<Contents<'_>, FileError> {
    let is_record = |text: &str| {
        RECORD_KEYS.iter().any(|k| {
            text.contains(&format!("\"{k}\""))
                || text.contains(&format!("\"{}\"", k.to_ascii_lowercase()))
        })
    };
    let any_record = items
        .iter()
        .any(|(_, item)| item.as_ref().is_ok_and(|text| is_record(text)));
    if items.is_empty() || any_record {
        Ok(Contents::Records(items))
    } else {
        Err(FileError::NotCloudTrail(format!(
            "none of its {} items has any of the keys {}",
            items.len(),
            RECORD_KEYS.map(|k| format!("`{k}`")).join(", ")
        )))
    }
}

fn is_json_lines_name(name: &str) -> bool {
    let name = name.strip_suffix(".gz").unwrap_or(name);
    name.ends_with(".jsonl") || name.ends_with(".ndjson")
}

fn json_lines(text: &str) -> Vec<Item<'_>> {
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(i, line)| {
            let line = line.trim();
            let item = match serde_json::from_str::<&RawValue>(line) {
                Ok(v) if v.get().starts_with('{') => Ok(Cow::Borrowed(v.get())),
                Ok(_) => Err("line is not a JSON object".to_owned()),
                Err(e) => Err(format!("line is not valid JSON: {e}")),
            }
            .map_err(|reason| ItemError {
                reason,
                text: Some(line),
            });
            (Position::Line(i + 1), item)
        })
        .collect()
}

fn document(doc: &RawValue) -> Result<Contents<'_>, FileError> {
    let text = doc.get();
    if !text.starts_with('{') {
        return Err(FileError::NotCloudTrail(format!(
            "the file is a single JSON {}",
            json_kind(text)
        )));
    }
    let Entries(entries) = serde_json::from_str(text).map_err(FileError::InvalidJson)?;
    let get = |name: &str| entries.iter().find(|(k, _)| k == name).map(|(_, v)| *v);
    if let Some(records) = get("Records") {
        return array("Records", records).map(Contents::Records);
    }
    if let Some(events) = get("Events") {
        return array("Events", events).map(Contents::Records);
    }
    if let Some(rows) = get("QueryResultRows") {
        return lake_rows(rows).map(Contents::Records);
    }
    if get("digestStartTime").is_some() {
        return Ok(Contents::Skipped(SkipKind::Digest));
    }
    let looks_like_record = RECORD_KEYS
        .iter()
        .any(|k| entries.iter().any(|(o, _)| o.eq_ignore_ascii_case(k)));
    if looks_like_record {
        return Ok(Contents::Records(vec![(
            Position::Whole,
            Ok(Cow::Borrowed(text)),
        )]));
    }
    let keys: Vec<_> = entries
        .iter()
        .take(5)
        .map(|(k, _)| format!("`{k}`"))
        .collect();
    Err(FileError::NotCloudTrail(if keys.is_empty() {
        "an empty JSON object".to_owned()
    } else {
        format!("a JSON object with keys {}", keys.join(", "))
    }))
}

/// Keys of which any one makes a lone JSON object a record.
const RECORD_KEYS: [&str; 6] = [
    "eventTime",
    "eventName",
    "eventSource",
    "eventVersion",
    "userIdentity",
    "insightDetails",
];

/// Items of a JSON array: records, or LookupEvents `Event`s whose `CloudTrailEvent` is the record.
fn array<'a>(name: &'static str, raw: &'a RawValue) -> Result<Vec<Item<'a>>, FileError> {
    let items: Vec<&RawValue> = serde_json::from_str(raw.get()).map_err(|_| {
        FileError::NotCloudTrail(format!(
            "`{}` is not an array",
            if name.is_empty() {
                "the document"
            } else {
                name
            }
        ))
    })?;
    Ok(items
        .into_iter()
        .enumerate()
        .map(|(i, item)| {
            let record = if !item.get().starts_with('{') {
                Err(ItemError {
                    reason: "array element is not a JSON object".to_owned(),
                    text: Some(item.get()),
                })
            } else if name == "Records" || !item.get().contains("\"CloudTrailEvent\"") {
                // Only a LookupEvents `Event` is worth parsing twice; records go through as they are.
                Ok(Cow::Borrowed(item.get()))
            } else {
                record_of_item(item)
            };
            (Position::Index(name, i), record)
        })
        .collect())
}

fn record_of_item(item: &RawValue) -> Result<Cow<'_, str>, ItemError<'_>> {
    #[derive(Deserialize)]
    struct LookupEvent<'a> {
        #[serde(rename = "CloudTrailEvent", borrow)]
        cloud_trail_event: Option<Cow<'a, str>>,
        #[serde(rename = "EventId")]
        event_id: Option<IgnoredAny>,
    }
    // A LookupEvents `Event` has EventId and CloudTrailEvent; a record has neither.
    match serde_json::from_str::<LookupEvent>(item.get()) {
        Ok(LookupEvent {
            cloud_trail_event: Some(event),
            ..
        }) => Ok(event),
        Ok(LookupEvent {
            cloud_trail_event: None,
            event_id: Some(_),
        }) => Err(ItemError {
            reason: "LookupEvents event has no `CloudTrailEvent` string".to_owned(),
            text: Some(item.get()),
        }),
        _ => Ok(Cow::Borrowed(item.get())),
    }
}

/// Rows of a Lake `GetQueryResults` response: the `eventJson` column of each row is the record.
fn lake_rows(raw: &RawValue) -> Result<Vec<Item<'_>>, FileError> {
    let rows: Vec<Vec<std::collections::HashMap<Cow<str>, Cow<str>>>> =
        serde_json::from_str(raw.get()).map_err(|_| {
            FileError::NotCloudTrail(
                "`QueryResultRows` is not a list of rows of {column: string} cells".to_owned(),
            )
        })?;
    let mut out = Vec::with_capacity(rows.len());
    let mut any_event_json = false;
    for (i, row) in rows.into_iter().enumerate() {
        let cell = row
            .into_iter()
            .flatten()
            .find(|(k, _)| k.eq_ignore_ascii_case("eventJson"));
        any_event_json |= cell.is_some();
        let item = match cell {
            // Cells are unescaped strings; the text must own its data.
            Some((_, v)) => Ok(Cow::Owned(v.into_owned())),
            None => Err(ItemError {
                reason: "Lake result row has no `eventJson` column".to_owned(),
                text: None,
            }),
        };
        out.push((Position::Index("QueryResultRows", i), item));
    }
    if !out.is_empty() && !any_event_json {
        return Err(FileError::NotCloudTrail(
            "Lake query results without an `eventJson` column (select eventJson to convert them)"
                .to_owned(),
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn records(text: &str) -> Vec<(Position, Result<String, String>)> {
        match extract(Path::new("x.json"), text).unwrap() {
            Contents::Records(items) => items
                .into_iter()
                .map(|(p, r)| (p, r.map(|c| c.into_owned()).map_err(|e| e.reason)))
                .collect(),
            Contents::Skipped(k) => panic!("skipped as {k}"),
        }
    }

    #[test]
    fn every_envelope_yields_the_exact_record_text() {
        let rec = r#"{"eventTime":"2024-05-01T10:00:00Z", "n": 1.0}"#;
        let trail = format!(r#"{{"Records":[{rec},{rec}]}}"#);
        assert_eq!(
            records(&trail)[1],
            (Position::Index("Records", 1), Ok(rec.to_owned()))
        );
        let lookup = format!(
            r#"{{"Events":[{{"EventId":"e","CloudTrailEvent":{}}}],"NextToken":"t"}}"#,
            serde_json::to_string(rec).unwrap()
        );
        assert_eq!(records(&lookup)[0].1, Ok(rec.to_owned()));
        assert_eq!(records(&format!("[{rec}]"))[0].1, Ok(rec.to_owned()));
        assert_eq!(records(rec)[0], (Position::Whole, Ok(rec.to_owned())));
        let lines = format!("{rec}\n\nnot json\n{rec}\n");
        let items = records(&lines);
        assert_eq!(items.len(), 3);
        assert_eq!(items[0], (Position::Line(1), Ok(rec.to_owned())));
        assert_eq!(items[1].0, Position::Line(3));
        assert!(items[1].1.is_err());
        let lake = format!(
            r#"{{"QueryStatus":"FINISHED","QueryResultRows":[[{{"eventID":"e"}},{{"eventJson":{}}}]]}}"#,
            serde_json::to_string(rec).unwrap()
        );
        assert_eq!(records(&lake)[0].1, Ok(rec.to_owned()));
    }

    #[test]
    fn bad_files_say_what_is_wrong() {
        let err = |t: &str| match extract(Path::new("x.json"), t) {
            Err(e) => e.to_string(),
            Ok(_) => panic!("accepted {t}"),
        };
        assert!(err("  \n").contains("empty"));
        assert!(err(r#"{"Records":[{"eventTime":"#).contains("truncated"));
        assert!(err(r#"{"Records" [}"#).contains("not valid JSON"));
        assert!(err(r#"{"name":"x","version":3}"#).contains("keys `name`, `version`"));
        assert!(err(r#""just a string""#).contains("single JSON string"));
        assert!(
            err(r#"[{"file":"a"},{"file":"b"}]"#)
                .contains("none of its 2 items has any of the keys `eventTime`")
        );
        assert!(err("{\"line\": 1}\n{\"line\": 2}\n").contains("none of its 2 items"));
        assert!(matches!(
            extract(
                Path::new("d.json"),
                r#"{"digestStartTime":"x","logFiles":[]}"#
            ),
            Ok(Contents::Skipped(SkipKind::Digest))
        ));
    }

    #[test]
    fn delivery_days_come_from_the_trail_layout() {
        let day = |s: &str| path_day(Path::new(s)).map(crate::time::format_day);
        assert_eq!(
            day("b/AWSLogs/o-1/1/CloudTrail/us-east-1/2024/05/01/x.json.gz").as_deref(),
            Some("2024-05-01")
        );
        assert_eq!(day("exports/2024/13/01/x.json"), None);
        assert_eq!(day("lookup-events.json"), None);
    }

    #[test]
    fn trail_layout_siblings_are_skipped_only_under_awslogs() {
        let p = |s: &str| skip_by_layout(Path::new(s));
        assert_eq!(
            p("b/AWSLogs/o-abc/111122223333/CloudTrail-Digest/us-east-1/2024/01/01/x.json.gz"),
            Some(SkipKind::Digest)
        );
        assert_eq!(
            p("AWSLogs/1/CloudTrail-Insight/r/x.json.gz"),
            Some(SkipKind::Insight)
        );
        assert_eq!(
            p("AWSLogs/1/CloudTrail-Lake/Query/x.csv.gz"),
            Some(SkipKind::LakeResult)
        );
        assert_eq!(
            p("AWSLogs/1/CloudTrail/us-east-1/2024/01/01/x.json.gz"),
            None
        );
        assert_eq!(p("CloudTrail-Digest/x.json"), None);
    }
}
