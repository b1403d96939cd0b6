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
use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

use flate2::read::MultiGzDecoder;
use serde::Deserialize;
use serde::de::{DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;

use crate::json::{Key, json_kind, scalars_are_none};
use crate::record::{RecordError, Row, parse_record_prefix};

mod discover;

pub use discover::{Discovered, InputFile, PathError, SkipKind, discover, skip_by_layout};

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

/// Memory a reader keeps from one file to the next: a file's bytes and its gunzipped text.
///
/// Fresh buffers for every file cost twice over on busy trails (files of several MB): the kernel
/// maps and zeroes new pages, and `read_to_end` zeroes the room again before the gzip decoder
/// writes into it. Kept, the text buffer stays mapped and written, and is inflated into as it is.
#[derive(Default)]
pub struct FileBuffers {
    raw: Vec<u8>,
    /// Initialised up to its length (never shrunk), so the decoder reads into it directly.
    text: Vec<u8>,
}

/// Buffers that grew past this for one big file are given back after it, not kept for the run:
/// a busy trail's files are a few MB of text, and memory held by readers is memory the dataset's
/// merges cannot have under the 300 MB bound.
const KEEP_BYTES: usize = 16 << 20;

impl FileBuffers {
    /// Reads `path` (gunzipped when its bytes say gzip) and returns its text.
    fn read(&mut self, path: &Path) -> Result<&str, FileError> {
        let mut file = File::open(path).map_err(FileError::Io)?;
        self.raw.clear();
        // `File` reads into the vector's spare room without zeroing it first.
        file.read_to_end(&mut self.raw).map_err(FileError::Io)?;
        text_of(&self.raw, &mut self.text)
    }

    /// Gives back what one big file made the buffers grow to.
    pub fn trim(&mut self) {
        for buffer in [&mut self.raw, &mut self.text] {
            if buffer.capacity() > KEEP_BYTES {
                *buffer = Vec::new();
            }
        }
    }
}

/// The text of the bytes `raw`: themselves, or gunzipped into `text` when they say gzip.
fn text_of<'a>(raw: &'a [u8], text: &'a mut Vec<u8>) -> Result<&'a str, FileError> {
    let bytes = if raw.starts_with(&[0x1f, 0x8b]) {
        let len = gunzip(raw, text)?;
        &text[..len]
    } else {
        raw
    };
    std::str::from_utf8(bytes).map_err(|e| FileError::NotUtf8 {
        offset: e.valid_up_to(),
    })
}

/// Inflates every gzip member of `raw` into `out` from its start, growing it when needed; the
/// length of the text. `out` is written up to its length already: reads go straight into it.
fn gunzip(raw: &[u8], out: &mut Vec<u8>) -> Result<usize, FileError> {
    let room = gzip_size_hint(raw);
    if out.len() < room {
        out.resize(room, 0);
    }
    let mut decoder = MultiGzDecoder::new(raw);
    let mut len = 0;
    loop {
        if len == out.len() {
            out.resize((out.len() * 2).max(64 << 10), 0);
        }
        match decoder.read(&mut out[len..]) {
            Ok(0) => return Ok(len),
            Ok(n) => len += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                return Err(FileError::TruncatedGzip);
            }
            Err(e) => return Err(FileError::BadGzip(e)),
        }
    }
}

/// How big gzipped `raw` is once inflated: the size its last member's trailer gives (the whole
/// size for the single member CloudTrail writes) when that is plausible for JSON, else 8 times
/// its compressed size; a few bytes over saves growing the buffer by copying it.
fn gzip_size_hint(raw: &[u8]) -> usize {
    let fallback = raw.len().saturating_mul(8);
    let Some(trailer) = raw.len().checked_sub(4).map(|at| &raw[at..]) else {
        return fallback;
    };
    let size = u32::from_le_bytes(trailer.try_into().expect("four bytes")) as usize;
    if size >= raw.len() && size <= raw.len().saturating_mul(64) {
        size + 1
    } else {
        fallback
    }
}

/// Reads one file and calls `each` with every item in it, in order. `Ok(Some(kind))`: the file
/// is not a file of records (a digest, an Insights file…) and was not read further.
pub fn for_each_item(
    path: &Path,
    each: impl FnMut(Position, Result<&str, ItemError<'_>>),
) -> Result<Option<SkipKind>, FileError> {
    for_each_item_with(path, &mut FileBuffers::default(), each)
}

/// [`for_each_item`] reading into `buffers`, which a reader keeps from one file to the next.
pub fn for_each_item_with(
    path: &Path,
    buffers: &mut FileBuffers,
    each: impl FnMut(Position, Result<&str, ItemError<'_>>),
) -> Result<Option<SkipKind>, FileError> {
    let read = buffers
        .read(path)
        .and_then(|text| for_each_item_of(path, text, each));
    buffers.trim();
    read
}

/// The text of the file at `path`, gunzipped when its bytes say gzip, read into `buffers`; call
/// [`FileBuffers::trim`] once done with it.
pub fn read_text<'b>(path: &Path, buffers: &'b mut FileBuffers) -> Result<&'b str, FileError> {
    buffers.read(path)
}

/// [`read_text`] for a file already in memory (an S3 object): `raw` is its bytes, gzipped or not.
pub fn object_text(raw: Vec<u8>, buffers: &mut FileBuffers) -> Result<&str, FileError> {
    buffers.raw = raw;
    text_of(&buffers.raw, &mut buffers.text)
}

/// Every item of a file's `text` ([`read_text`]), in order: `path` names the file (its name
/// tells JSON Lines apart).
pub fn for_each_item_of(
    path: &Path,
    text: &str,
    mut each: impl FnMut(Position, Result<&str, ItemError<'_>>),
) -> Result<Option<SkipKind>, FileError> {
    match extract(path, text)? {
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
    // One pass over the document validates it and finds its parts: every byte of a trail file
    // is scanned again by the record parser, so each pass here costs as much as parsing's own.
    let parsed = match body.as_bytes()[0] {
        b'{' => serde_json::from_str::<DocumentEntries>(text).map(Document::Object),
        b'[' => serde_json::from_str::<Vec<&RawValue>>(text).map(Document::Array),
        _ => serde_json::from_str::<&RawValue>(text).map(|v| Document::Other(v.get())),
    };
    match parsed {
        Ok(Document::Array(items)) => of_records(array_items("", items)),
        Ok(Document::Object(entries)) => document(text, entries),
        Ok(Document::Other(value)) => Err(FileError::NotCloudTrail(format!(
            "the file is a single JSON {}",
            json_kind(value)
        ))),
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

/// The records of a trail file as CloudTrail writes it, `{"Records":[{…},…]}`, each parsed in the
/// pass that finds it ([`parse_record_prefix`]): `each` gets a record's position, its exact text
/// (the slice [`for_each_item_of`] gives) and what [`parse_record`] makes of that text. Splitting
/// a file first and then parsing each record scanned every byte twice: the split took 0.2–0.9
/// of the ~15 CPU-seconds of a 1 M real-shaped convert (BENCHMARKS.md, issue 15 session 25).
///
/// `None` as soon as the text is anything else: another document shape, keys around `Records`,
/// an item that is not an object, a syntax error or a truncation. Records handed to `each`
/// before that are then to be forgotten, and the file read with [`for_each_item_of`], which
/// takes every shape and says what is wrong with a bad file.
///
/// [`parse_record`]: crate::record::parse_record
pub fn each_trail_record<'a>(
    text: &'a str,
    mut each: impl FnMut(Position, &'a str, Result<Row<'a>, RecordError>),
) -> Option<()> {
    // JSON's whitespace only: anything else between tokens is for the general reader to reject.
    let skip_ws = |s: &'a str| s.trim_start_matches([' ', '\t', '\n', '\r']);
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let after_key = skip_ws(skip_ws(text).strip_prefix('{')?).strip_prefix("\"Records\"")?;
    let mut rest = skip_ws(skip_ws(skip_ws(after_key).strip_prefix(':')?).strip_prefix('[')?);
    if let Some(after) = rest.strip_prefix(']') {
        rest = after;
    } else {
        for i in 0.. {
            let (row, len) = parse_record_prefix(rest)?;
            each(Position::Index("Records", i), &rest[..len], row);
            rest = skip_ws(&rest[len..]);
            match rest.as_bytes().first()? {
                b',' => rest = skip_ws(&rest[1..]),
                b']' => {
                    rest = &rest[1..];
                    break;
                }
                _ => return None,
            }
        }
    }
    skip_ws(skip_ws(rest).strip_prefix('}')?)
        .is_empty()
        .then_some(())
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

/// A whole file parsed as one JSON value, by its kind.
enum Document<'a> {
    Object(DocumentEntries<'a>),
    Array(Vec<&'a RawValue>),
    Other(&'a str),
}

/// The entries of a file that is one JSON object. The arrays of records are split into their
/// items in the same pass: one slot per name of [`ARRAYS_OF_RECORDS`], the first such key's
/// value (`Some(None)`: it is not an array).
struct DocumentEntries<'a> {
    arrays: [Option<Option<Vec<&'a RawValue>>>; ARRAYS_OF_RECORDS.len()],
    others: Vec<(Cow<'a, str>, &'a RawValue)>,
}

impl<'de> Deserialize<'de> for DocumentEntries<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = DocumentEntries<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut out = DocumentEntries {
                    arrays: std::array::from_fn(|_| None),
                    others: Vec::new(),
                };
                while let Some(Key(key)) = map.next_key()? {
                    match ARRAYS_OF_RECORDS.iter().position(|name| *name == key) {
                        Some(i) if out.arrays[i].is_none() => {
                            out.arrays[i] = Some(map.next_value_seed(ArrayItems)?);
                        }
                        Some(_) => {
                            map.next_value::<IgnoredAny>()?;
                        }
                        None => out.others.push((key, map.next_value()?)),
                    }
                }
                Ok(out)
            }
        }
        de.deserialize_map(V)
    }
}

/// The keys whose value is an array of records (a trail file's, a LookupEvents response's).
const ARRAYS_OF_RECORDS: [&str; 2] = ["Records", "Events"];

/// An array's items as raw JSON; `None` for any other value (consumed).
struct ArrayItems;

impl<'de> DeserializeSeed<'de> for ArrayItems {
    type Value = Option<Vec<&'de RawValue>>;
    fn deserialize<D: serde::Deserializer<'de>>(self, de: D) -> Result<Self::Value, D::Error> {
        de.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ArrayItems {
    type Value = Option<Vec<&'de RawValue>>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(item) = seq.next_element::<&'de RawValue>()? {
            items.push(item);
        }
        Ok(Some(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(None)
    }
    scalars_are_none!();
}

/// A file that is one JSON object: a trail file's `Records`, a LookupEvents response's
/// `Events`, Lake results, a digest, or a lone record.
fn document<'a>(text: &'a str, doc: DocumentEntries<'a>) -> Result<Contents<'a>, FileError> {
    let text = text.trim();
    // `Records` first, then `Events`, whichever order the file has them in.
    for (name, value) in ARRAYS_OF_RECORDS.into_iter().zip(doc.arrays) {
        match value {
            Some(Some(items)) => return Ok(Contents::Records(array_items(name, items))),
            Some(None) => {
                return Err(FileError::NotCloudTrail(format!(
                    "`{name}` is not an array"
                )));
            }
            None => {}
        }
    }
    let entries = doc.others;
    let get = |name: &str| entries.iter().find(|(k, _)| k == name).map(|(_, v)| *v);
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

/// The items of an array (`name`, or "" for a file that is one array) as record texts: records,
/// or LookupEvents `Event`s whose `CloudTrailEvent` is the record.
fn array_items<'a>(name: &'static str, items: Vec<&'a RawValue>) -> Vec<Item<'a>> {
    items
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
        .collect()
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

    /// What the one-pass reader hands over: (position, text, the row or error, as Debug text).
    fn one_pass(text: &str) -> Option<Vec<(Position, String, String)>> {
        let mut out = Vec::new();
        each_trail_record(text, |position, record, parsed| {
            out.push((position, record.to_owned(), format!("{parsed:?}")))
        })?;
        Some(out)
    }

    /// The same from splitting the file first, then parsing each record.
    fn split_then_parse(text: &str) -> Vec<(Position, String, String)> {
        let mut out = Vec::new();
        for_each_item_of(Path::new("x.json"), text, |position, item| {
            let record = item.unwrap();
            let parsed = crate::record::parse_record(record);
            out.push((position, record.to_owned(), format!("{parsed:?}")))
        })
        .unwrap();
        out
    }

    #[test]
    fn trail_files_parsed_in_one_pass_give_what_splitting_then_parsing_gives() {
        let corpus = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/corpus/real-records.jsonl"
        ))
        .unwrap();
        // Every corpus record (some have no eventTime, some escapes and nested arrays), then
        // records the parser rejects but that are JSON objects all the same.
        let mut recs: Vec<&str> = corpus.lines().filter(|l| l.starts_with('{')).collect();
        assert!(recs.len() > 1000);
        recs.extend([
            r#"{"eventTime":"yesterday","eventName":"X"}"#,
            r#"{"eventTime":"2024-05-01T10:00:00Z","a":"\ud800"}"#,
            r#"{}"#,
            r#"{ "eventTime" : "2024-05-01T10:00:00Z" , "n" : [ 1 , { } ] }"#,
        ]);
        for (sep, trail) in [
            (",", format!(r#"{{"Records":[{}]}}"#, recs.join(","))),
            (
                "whitespace",
                format!(
                    "\u{feff} \n{{ \"Records\" :\t[\r\n{}\n] }}\n",
                    recs.join(" ,\n ")
                ),
            ),
        ] {
            let fast = one_pass(&trail).unwrap_or_else(|| panic!("one pass gave up ({sep})"));
            assert_eq!(fast.len(), recs.len());
            assert_eq!(fast, split_then_parse(&trail), "{sep}");
        }
        assert_eq!(one_pass(r#"{"Records":[]}"#), Some(vec![]));
    }

    #[test]
    fn the_one_pass_reader_gives_up_on_anything_but_a_plain_trail_file() {
        let rec = r#"{"eventTime":"2024-05-01T10:00:00Z"}"#;
        for text in [
            format!(r#"{{"Records":[{rec},{rec}]"#),        // truncated
            format!(r#"{{"Records":[{rec},{rec}}}"#),       // array not closed
            format!(r#"{{"Records":[{rec} {rec}]}}"#),      // no comma
            format!(r#"{{"Records":[{rec},]}}"#),           // trailing comma
            format!(r#"{{"Records":[{rec},"text"]}}"#),     // not an object
            format!(r#"{{"Records":[{rec}],"Other":1}}"#),  // keys after
            format!(r#"{{"Other":1,"Records":[{rec}]}}"#),  // keys before
            format!(r#"{{"Records":[{rec}]}} {{}}"#),       // a second document
            r#"{"Records":[{"eventTime":"x"]}"#.to_owned(), // syntax error in a record
            format!("{{\"Records\":[{rec}]}}\u{a0}"),       // not JSON whitespace
            format!(r#"{{"Events":[{rec}]}}"#),
            format!("[{rec}]"),
            format!("{rec}\n{rec}\n"),
        ] {
            assert_eq!(one_pass(&text), None, "{text}");
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

    fn gzip(text: &str) -> Vec<u8> {
        use std::io::Write;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(text.as_bytes()).unwrap();
        gz.finish().unwrap()
    }

    /// The items of `raw` read with `buffers`, as the record texts or the file's error.
    fn read_with(buffers: &mut FileBuffers, raw: Vec<u8>) -> Result<Vec<String>, String> {
        let mut items = Vec::new();
        let text = object_text(raw, buffers).map_err(|e| e.to_string())?;
        for_each_item_of(Path::new("f.json.gz"), text, |_, item| {
            items.push(item.map(str::to_owned).unwrap_or_else(|e| e.reason));
        })
        .map_err(|e| e.to_string())?;
        buffers.trim();
        Ok(items)
    }

    #[test]
    fn buffers_kept_from_file_to_file_give_each_file_exactly_its_own_text() {
        let trail = |n: usize, tag: &str| {
            let rec = format!(r#"{{"eventTime":"2024-05-01T10:00:00Z","eventName":"{tag}"}}"#);
            (
                format!(r#"{{"Records":[{}]}}"#, vec![rec.as_str(); n].join(",")),
                rec,
            )
        };
        let mut buffers = FileBuffers::default();
        let (big, big_rec) = trail(3000, "Big");
        assert_eq!(read_with(&mut buffers, gzip(&big)), Ok(vec![big_rec; 3000]));
        // A smaller file after a bigger one: nothing of the bigger one's text is left over.
        let (small, small_rec) = trail(2, "Small");
        assert_eq!(
            read_with(&mut buffers, gzip(&small)),
            Ok(vec![small_rec.clone(); 2])
        );
        // Not gzipped: read as it is.
        assert_eq!(
            read_with(&mut buffers, small.clone().into_bytes()),
            Ok(vec![small_rec.clone(); 2])
        );
        // Two gzip members, the last one small: its trailer's size is only its own, so the
        // text grows while it is inflated.
        let (many, many_rec) = trail(20_000, "Many");
        let mut members = gzip(&many[..many.len() - 10]);
        members.extend(gzip(&many[many.len() - 10..]));
        let mut fresh = FileBuffers::default();
        assert_eq!(read_with(&mut fresh, members), Ok(vec![many_rec; 20_000]));
        // A trailer that does not match the data is an error, not a short or padded text.
        let mut bad = gzip(&small);
        let at = bad.len() - 4;
        bad[at..].copy_from_slice(&u32::MAX.to_le_bytes());
        let err = read_with(&mut buffers, bad).unwrap_err();
        assert!(err.contains("not valid gzip"), "{err}");
        let mut cut = gzip(&big);
        cut.truncate(cut.len() / 2);
        assert!(
            read_with(&mut buffers, cut)
                .unwrap_err()
                .contains("truncated")
        );
        assert_eq!(
            read_with(&mut buffers, gzip(&small)),
            Ok(vec![small_rec; 2])
        );
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
}
