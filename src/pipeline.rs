//! The one pipeline: raw record text and where it came from → parse → reject (with its origin) or
//! batch → commit to the dataset. Every source ends here; nothing else parses a record for the
//! dataset or writes a rejection.
//!
//! ```text
//!  files (convert, emulator --load)   ─┐  (origin, position, text)   ┌ RecordParser ┐  Parsed   ┌ Committer ─────────────────┐
//!  LookupEvents / Lake slices (export) ─┴──────────────────────────▶ │ parse        │ ────────▶ │ batches → ParquetDatasetSink│
//!                                                                     │ filter       │           │ rejections → rejected.jsonl │
//!                                                                     └ batch ───────┘           └ commit, then the checkpoint ┘
//! ```
//! The two halves are separate types because `convert` parses on every core while one thread owns
//! the dataset: [`RecordParser`] runs per worker and yields [`Parsed`] items; [`Committer`] takes
//! them in order. The export drives both on its writer thread through [`write_stream_chunks`],
//! which commits each group of finished slices before the checkpoint records their coverage.

use std::collections::BTreeMap;
use std::path::Path;

use arrow::array::RecordBatch;
use tokio::sync::mpsc::Receiver;
use trailq_events::batch::EventBatchBuilder;
use trailq_events::files::{self, ItemError, Position, SkipKind};
use trailq_events::json::truncate;
use trailq_events::record::{RecordError, Row, parse_record};
use trailq_events::schema::{AWS_REGION, EVENT_NAME, RECIPIENT_ACCOUNT_ID};
use trailq_events::time::day_of_micros;

use crate::dataset::Out;
use crate::dataset::checkpoint::{self, CheckpointError, ExportState};
use crate::dataset::layout;
use crate::dataset::rejected::{RejectLog, Rejection};
use crate::dataset::remote::{Remote, Transfers};
use crate::dataset::sink::{DatasetError, DatasetOptions, ParquetDatasetSink, SinkStats};

/// Rows a parser gathers before handing a batch over (~2 KB of Arrow each)…
const BATCH_ROWS: usize = 4096;
/// …or record-text bytes, whichever comes first. 1.5 MiB keeps a batch's `eventJson` (the
/// builder starts each batch with the last one's room) below glibc's 2 MiB mapping threshold
/// ([`crate::memory::MMAP_ABOVE_BYTES`]): at 4,096 real-shaped records it was ~4.8 MiB, a fresh
/// mapping zero-filled page by page for every batch, where freed heap memory is now reused
/// (BENCHMARKS.md, issue 15 session 23).
const BATCH_TEXT_BYTES: usize = crate::memory::MMAP_ABOVE_BYTES / 4 * 3;
/// A batch of at least this many rows also ends where the records' day changes: the dataset
/// keeps each day's rows apart, and a batch that held two days was copied in two (a real-shaped
/// convert's files are thousands of records of one day each, and a worker's batch ran across
/// two files). Below it a batch goes on, so records that alternate around midnight do not make
/// a batch each.
const DAY_SPLIT_MIN_ROWS: usize = 256;
/// How often an export's writer commits what it has taken (a kill loses at most this much).
const COMMIT_EVERY: std::time::Duration = std::time::Duration::from_secs(2);
/// A rejection's reason is cut to this many bytes (the record itself is kept whole).
const REASON_BYTES: usize = 300;

/// A finished part of a stream (an export's account-Region-source, or a Lake query): its records
/// as AWS gave them, and the new start of what is covered.
#[derive(Debug)]
pub struct Chunk {
    /// Index of the stream; its key names the origin of the records.
    pub stream: usize,
    /// Every event of the stream in `[covered_from, end]` has now been handed over.
    pub covered_from: i64,
    /// `CloudTrailEvent` / `eventJson` texts.
    pub records: Vec<String>,
}

/// Filters the API cannot combine with the lookup attribute, applied to each parsed record.
#[derive(Debug, Clone, Default)]
pub struct Filters {
    pub event_names: Vec<String>,
    pub read_only: Option<bool>,
    /// Keep only events whose eventTime is in `[start, end]` (µs): trail files of a window's
    /// edge days also hold events just outside it.
    pub window: Option<(i64, i64)>,
    /// Keep only these recipient accounts and Regions (empty: all).
    pub accounts: Vec<String>,
    pub regions: Vec<String>,
}

impl Filters {
    fn keep(&self, row: &Row<'_>) -> bool {
        let event_name = row.scalar(EVENT_NAME);
        (self.event_names.is_empty()
            || event_name.is_some_and(|n| self.event_names.iter().any(|w| w == n)))
            && self
                .read_only
                .is_none_or(|want| row.read_only == Some(want))
            && self
                .window
                .is_none_or(|(start, end)| (start..=end).contains(&row.event_time_micros))
            && (self.accounts.is_empty()
                || row
                    .scalar(RECIPIENT_ACCOUNT_ID)
                    .is_some_and(|a| self.accounts.iter().any(|w| w == a)))
            && (self.regions.is_empty()
                || row
                    .scalar(AWS_REGION)
                    .is_some_and(|r| self.regions.iter().any(|w| w == r)))
    }
}

/// An input that did not become a row: where it came from, why, and its text when there is one.
#[derive(Debug)]
pub struct Rejected {
    /// A file path, or the API stream (`LookupEvents <stream key>`).
    pub origin: String,
    /// Where in the origin: `Records[3]`, `line 7`; `None` for a whole file or an API record.
    pub position: Option<String>,
    /// The whole input (a file that could not be read or split into records), not one record.
    pub whole_file: bool,
    pub reason: String,
    pub record: Option<String>,
}

/// What the parse half hands the commit half, in order.
#[derive(Debug)]
pub enum Parsed {
    Batch(RecordBatch),
    Rejected(Rejected),
}

/// What became of one record.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// In the batch.
    Accepted,
    /// Parsed, but the filters leave it out.
    Filtered,
    Rejected,
}

/// The parse half: record text → a row of the batch being built, or a rejection.
pub struct RecordParser {
    builder: EventBatchBuilder,
    /// The day (`day_of_micros`) of the last row appended to `builder`.
    builder_day: Option<i32>,
    filters: Filters,
    out: Vec<Parsed>,
    /// Kept from one input file to the next (`files::FileBuffers`).
    buffers: files::FileBuffers,
}

impl RecordParser {
    pub fn new(filters: Filters) -> Self {
        RecordParser {
            builder: EventBatchBuilder::new(),
            builder_day: None,
            filters,
            out: Vec::new(),
            buffers: files::FileBuffers::default(),
        }
    }

    /// Parses one record; a full batch or a rejection becomes ready in [`Self::drain`].
    pub fn push(&mut self, origin: &str, position: Option<&Position>, text: &str) -> Outcome {
        self.push_with(origin, position, text, |_| {})
    }

    /// [`Self::push`], showing `accepted` each row that goes into the batch.
    pub fn push_with(
        &mut self,
        origin: &str,
        position: Option<&Position>,
        text: &str,
        accepted: impl FnOnce(&Row<'_>),
    ) -> Outcome {
        self.push_parsed(origin, position, text, parse_record(text), accepted)
    }

    /// [`Self::push_with`] for a record parsed already (`parsed` is what `parse_record` made of
    /// `text`).
    fn push_parsed(
        &mut self,
        origin: &str,
        position: Option<&Position>,
        text: &str,
        parsed: Result<Row<'_>, RecordError>,
        accepted: impl FnOnce(&Row<'_>),
    ) -> Outcome {
        let outcome = match parsed {
            Ok(row) => {
                if !self.filters.keep(&row) {
                    return Outcome::Filtered;
                }
                let day = Some(day_of_micros(row.event_time_micros));
                if day != self.builder_day && self.builder.len() >= DAY_SPLIT_MIN_ROWS {
                    self.out.push(Parsed::Batch(self.builder.finish()));
                }
                self.builder_day = day;
                self.builder.append(&row, text);
                accepted(&row);
                Outcome::Accepted
            }
            Err(e) => {
                self.reject(origin, position, &e.to_string(), Some(text));
                Outcome::Rejected
            }
        };
        if self.builder.len() >= BATCH_ROWS || self.builder.text_bytes() >= BATCH_TEXT_BYTES {
            self.out.push(Parsed::Batch(self.builder.finish()));
        }
        outcome
    }

    /// Records an input that could not be parsed at all (a bad line, an API record).
    fn reject(
        &mut self,
        origin: &str,
        position: Option<&Position>,
        reason: &str,
        record: Option<&str>,
    ) {
        self.push_rejection(origin, position, reason, record, false);
    }

    /// Records a file that could not be read or split into records.
    fn reject_file(&mut self, origin: &str, reason: &str) -> FileOutcome {
        self.push_rejection(origin, None, reason, None, true);
        FileOutcome::Rejected
    }

    fn push_rejection(
        &mut self,
        origin: &str,
        position: Option<&Position>,
        reason: &str,
        record: Option<&str>,
        whole_file: bool,
    ) {
        self.out.push(Parsed::Rejected(Rejected {
            origin: origin.to_owned(),
            position: position.map(Position::to_string),
            whole_file,
            reason: truncate(reason, REASON_BYTES).into_owned(),
            record: record.map(str::to_owned),
        }));
    }

    /// Every record of one file, through [`Self::push`]; how many items it held, or why the
    /// whole file was skipped or rejected (a rejected file is also in [`Self::drain`]).
    pub fn push_file(&mut self, path: &Path) -> FileOutcome {
        let mut buffers = std::mem::take(&mut self.buffers);
        let outcome = match files::read_text(path, &mut buffers) {
            Ok(text) => self.push_text(&path.to_string_lossy(), path, text),
            Err(e) => self.reject_file(&path.to_string_lossy(), &e.to_string()),
        };
        buffers.trim();
        self.buffers = buffers;
        outcome
    }

    /// [`Self::push_file`] for a file fetched into memory: `origin` names it (`s3://…`), `key`
    /// is its name in the trail layout.
    pub fn push_object(&mut self, origin: &str, key: &str, raw: Vec<u8>) -> FileOutcome {
        let mut buffers = std::mem::take(&mut self.buffers);
        let outcome = match files::object_text(raw, &mut buffers) {
            Ok(text) => self.push_text(origin, Path::new(key), text),
            Err(e) => self.reject_file(origin, &e.to_string()),
        };
        buffers.trim();
        self.buffers = buffers;
        outcome
    }

    /// Every record of a file's `text` (`name`: its path or key). A trail file as CloudTrail
    /// writes it is parsed in one pass ([`files::each_trail_record`]); any other text, or a
    /// trail file that pass gives up on, is split first and then parsed, as every file was
    /// before. What the one pass added is taken back first, so a file that turns out to be bad
    /// is rejected whole either way.
    fn push_text(&mut self, origin: &str, name: &Path, text: &str) -> FileOutcome {
        let mark = (self.out.len(), self.builder.len());
        let mut counts = Counts::default();
        let one_pass = files::each_trail_record(text, |position, record, parsed| {
            counts.records += 1;
            let outcome = self.push_parsed(origin, Some(&position), record, parsed, |_| {});
            counts.add(outcome);
        });
        if one_pass.is_some() {
            return counts.read();
        }
        self.take_back(mark);
        let mut counts = Counts::default();
        let read = files::for_each_item_of(name, text, |position, item| {
            counts.records += 1;
            match item {
                Ok(record) => {
                    let outcome = self.push(origin, Some(&position), record);
                    counts.add(outcome);
                }
                Err(ItemError { reason, text }) => {
                    counts.rejected += 1;
                    self.reject(origin, Some(&position), &reason, text)
                }
            }
        });
        match read {
            Ok(None) => counts.read(),
            Ok(Some(kind)) => FileOutcome::Skipped(kind),
            Err(e) => self.reject_file(origin, &e.to_string()),
        }
    }

    /// Forgets every row and rejection added since `mark` (the length of the output and of the
    /// batch being built then), keeping the rows from before it.
    fn take_back(&mut self, (out_len, rows): (usize, usize)) {
        if self.out.len() == out_len && self.builder.len() == rows {
            // Nothing was added (the file is not a trail file): the batch being built goes on.
            return;
        }
        // The rows from before the mark are at the start of the first batch finished since, or
        // still in the builder when none was.
        let finished = self.out.drain(out_len..).find_map(|item| match item {
            Parsed::Batch(batch) => Some(batch),
            Parsed::Rejected(_) => None,
        });
        let building = self.builder.finish();
        let kept = finished.unwrap_or(building);
        if rows > 0 {
            self.out.push(Parsed::Batch(kept.slice(0, rows)));
        }
        self.builder_day = None;
    }

    /// Full batches and rejections, in the order they happened.
    pub fn drain(&mut self) -> std::vec::Drain<'_, Parsed> {
        self.out.drain(..)
    }

    /// What is left: the last, partly filled batch.
    pub fn flush(&mut self) -> Option<RecordBatch> {
        (!self.builder.is_empty()).then(|| self.builder.finish())
    }
}

/// A file's items as they are pushed: how many, and how many did not land.
#[derive(Default)]
struct Counts {
    records: u64,
    rejected: u64,
    filtered: u64,
}

impl Counts {
    fn add(&mut self, outcome: Outcome) {
        match outcome {
            Outcome::Accepted => {}
            Outcome::Filtered => self.filtered += 1,
            Outcome::Rejected => self.rejected += 1,
        }
    }

    fn read(self) -> FileOutcome {
        FileOutcome::Read {
            records: self.records,
            rejected: self.rejected,
            filtered: self.filtered,
        }
    }
}

/// What reading one file came to.
#[derive(Debug)]
pub enum FileOutcome {
    /// Its records were read; `rejected` of them did not parse, `filtered` were left out by
    /// the filters (outside the window…).
    Read {
        records: u64,
        rejected: u64,
        filtered: u64,
    },
    Skipped(SkipKind),
    Rejected,
}

#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error(transparent)]
    Dataset(#[from] DatasetError),
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
}

/// The commit half: one per dataset, on the thread that owns it.
pub struct Committer {
    sink: ParquetDatasetSink,
    rejects: RejectLog,
    run_id: String,
    /// Where the dataset is, as the user named it (a folder, or `s3://…` for a remote one).
    location: String,
    last_publish: std::time::Instant,
}

/// How often a dataset in S3 receives what was committed (and a convert reading S3 commits): each
/// publish sends the day's rewritten small file again, so not at every commit; a kill loses at
/// most this much of the run's work. 30 s, or `TRAILQ_S3_COMMIT_SECONDS`.
pub fn publish_every() -> std::time::Duration {
    static EVERY: std::sync::OnceLock<std::time::Duration> = std::sync::OnceLock::new();
    *EVERY.get_or_init(|| {
        let seconds = std::env::var("TRAILQ_S3_COMMIT_SECONDS")
            .ok()
            .and_then(|v| v.parse::<f64>().ok())
            .filter(|s| s.is_finite() && *s > 0.0)
            .unwrap_or(30.0);
        std::time::Duration::from_secs_f64(seconds)
    })
}

impl Committer {
    /// Opens the dataset at `root` (taking its lock and repairing what a crashed run left).
    pub fn open(root: &Path, options: DatasetOptions) -> Result<Self, DatasetError> {
        let sink = ParquetDatasetSink::open(root, options)?;
        Ok(Self::with_sink(sink, root.display().to_string()))
    }

    /// Opens the dataset in S3 at `out` (`--out s3://…`): see [`crate::dataset::remote`].
    pub async fn open_out(out: &Out, options: DatasetOptions) -> Result<Self, DatasetError> {
        match out {
            Out::Dir(root) => Self::open(root, options),
            Out::S3 { url, config } => {
                let remote = Remote::open(url, config).await?;
                let sink = ParquetDatasetSink::open_remote(remote, options)?;
                Ok(Self::with_sink(sink, url.to_string()))
            }
        }
    }

    fn with_sink(sink: ParquetDatasetSink, location: String) -> Self {
        Committer {
            rejects: RejectLog::new(sink.root()),
            run_id: sink.run_id().to_owned(),
            sink,
            location,
            last_publish: std::time::Instant::now(),
        }
    }

    /// The folder written: the dataset itself, or the staging copy of one in S3.
    pub fn root(&self) -> &Path {
        self.sink.root()
    }

    /// The dataset as the user named it, for messages and summaries.
    pub fn location(&self) -> &str {
        &self.location
    }

    /// Takes one parsed item; a rejection is logged and handed back for the caller to show.
    pub fn take(&mut self, item: Parsed) -> Result<Option<Rejected>, DatasetError> {
        match item {
            Parsed::Batch(batch) => {
                self.sink.write(&batch)?;
                Ok(None)
            }
            Parsed::Rejected(r) => {
                self.rejects.add(&Rejection {
                    run: &self.run_id,
                    source: &r.origin,
                    position: r.position.clone(),
                    reason: r.reason.clone(),
                    record: r.record.as_deref(),
                })?;
                Ok(Some(r))
            }
        }
    }

    /// Rejections logged so far, and where the log is (as the user names the dataset).
    pub fn rejected(&self) -> (u64, String) {
        (
            self.rejects.count(),
            format!(
                "{}/{}",
                self.location.trim_end_matches('/'),
                layout::rejected_name()
            ),
        )
    }

    /// Lets the dataset spill uncompressed while memory and its disk have room for the runs not
    /// committed yet (faster; see [`crate::dataset::spill::SpillFormat`]).
    pub fn plan_spill(&mut self) {
        self.sink.plan_spill();
    }

    /// Makes everything taken so far durable in the dataset (in the staging copy, for one in
    /// S3: [`Committer::publish_if_due`] sends it).
    pub fn commit(&mut self) -> Result<SinkStats, DatasetError> {
        self.sink.commit()
    }

    /// Makes the partitions of `last_day` and earlier durable, and keeps later ones buffered
    /// ([`ParquetDatasetSink::commit_through`]).
    pub fn commit_through(&mut self, last_day: i32) -> Result<SinkStats, DatasetError> {
        self.sink.commit_through(last_day)
    }

    /// Makes the reject log durable.
    pub fn sync_rejected(&mut self) -> Result<(), DatasetError> {
        self.rejects.sync()
    }

    /// For a dataset in S3, sends what was committed (and the state files) when the last
    /// publish is [`publish_every`] old; call it from a thread outside the async runtime.
    pub fn publish_if_due(&mut self) -> Result<(), DatasetError> {
        if self.last_publish.elapsed() < publish_every() {
            return Ok(());
        }
        self.rejects.sync()?;
        if let Some(remote) = self.sink.remote() {
            remote.publish()?;
        }
        self.last_publish = std::time::Instant::now();
        Ok(())
    }

    /// Syncs the reject log and releases the dataset; one in S3 receives what was committed
    /// first. What was taken after the last commit is not kept.
    pub async fn close(mut self) -> Result<Option<Transfers>, DatasetError> {
        self.rejects.sync()?;
        let remote = self.sink.take_remote();
        drop(self.sink);
        match remote {
            Some(remote) => Ok(Some(remote.close().await?)),
            None => Ok(None),
        }
    }
}

/// What [`write_stream_chunks`] did.
#[derive(Debug, Default)]
pub struct Written {
    pub records: u64,
    pub filtered: u64,
    pub rejected: u64,
    pub duplicates: u64,
    pub rows_written: u64,
    pub files_written: u64,
    pub bytes_written: u64,
    /// The account each stream's records belong to (`recipientAccountId`).
    pub accounts: BTreeMap<usize, String>,
}

/// An export's writer: chunks of `api` (`LookupEvents`, `CloudTrail Lake`: how rejections name
/// their origin, with the stream's key) until every sender is gone. Each chunk is parsed into the
/// dataset's buffers as it arrives; every [`COMMIT_EVERY`] (and at the end) what was taken is
/// committed, and then the checkpoint records how far its streams are covered. Committing per
/// chunk instead would rewrite a day's growing small file once per slice of each of hundreds of
/// streams (an organization): the writer, not AWS, would set the pace.
pub fn write_stream_chunks(
    committer: &mut Committer,
    api: &str,
    chunks: &mut Receiver<Chunk>,
    stream_keys: &[String],
    state: &mut ExportState,
    filters: &Filters,
) -> Result<Written, PipelineError> {
    let runtime = tokio::runtime::Handle::current();
    let mut written = Written::default();
    let mut parser = RecordParser::new(filters.clone());
    // Coverage taken but not yet committed: (stream, covered_from).
    let mut pending: Vec<(usize, i64)> = Vec::new();
    let mut last_commit = std::time::Instant::now();
    loop {
        let next = if pending.is_empty() {
            Some(chunks.blocking_recv())
        } else {
            let left = COMMIT_EVERY.saturating_sub(last_commit.elapsed());
            runtime
                .block_on(tokio::time::timeout(left, chunks.recv()))
                .ok()
        };
        let closed = matches!(next, Some(None));
        if let Some(Some(chunk)) = next {
            let origin = format!("{api} {}", stream_keys[chunk.stream]);
            for text in &chunk.records {
                written.records += 1;
                let accounts = &mut written.accounts;
                let outcome = parser.push_with(&origin, None, text, |row| {
                    if let Some(account) = row.scalar(RECIPIENT_ACCOUNT_ID) {
                        accounts
                            .entry(chunk.stream)
                            .or_insert_with(|| account.to_owned());
                    }
                });
                match outcome {
                    Outcome::Accepted => {}
                    Outcome::Filtered => written.filtered += 1,
                    Outcome::Rejected => written.rejected += 1,
                }
                for item in parser.drain() {
                    committer.take(item)?;
                }
            }
            pending.push((chunk.stream, chunk.covered_from));
            if last_commit.elapsed() < COMMIT_EVERY {
                continue;
            }
        }
        if !pending.is_empty() {
            if let Some(batch) = parser.flush() {
                committer.take(Parsed::Batch(batch))?;
            }
            let stats = committer.commit()?;
            written.duplicates = stats.duplicates_dropped;
            written.rows_written = stats.rows_written;
            written.files_written = stats.files_written;
            written.bytes_written = stats.bytes_written;
            if let Some(run) = state.current.as_mut() {
                for (stream, covered_from) in pending.drain(..) {
                    let covered = run
                        .covered_from
                        .entry(stream_keys[stream].clone())
                        .or_insert(i64::MAX);
                    *covered = (*covered).min(covered_from);
                }
            }
            pending.clear();
            checkpoint::save(committer.root(), state)?;
            committer.publish_if_due()?;
            last_commit = std::time::Instant::now();
        }
        if closed {
            break;
        }
    }
    committer.sync_rejected()?;
    Ok(written)
}

/// Every record in `paths` (folders are walked, as `convert` does) with its origin, for a reader
/// that keeps records rather than a dataset (the emulator's `--load`). Inputs that cannot be
/// read or split into records come back as problems, each naming its file and position.
pub fn read_records(paths: &[std::path::PathBuf]) -> Result<LoadedRecords, files::PathError> {
    let found = files::discover(paths, None)?;
    let mut loaded = LoadedRecords::default();
    for file in &found.files {
        let path = file.path.display().to_string();
        let mut records = Vec::new();
        let read = files::for_each_item(&file.path, |position, item| match item {
            Ok(record) => records.push((format!("{path} {position}"), record.to_owned())),
            Err(e) => loaded
                .problems
                .push(format!("{path} {position}: {}", e.reason)),
        });
        match read {
            Ok(None) => {
                loaded.files += 1;
                loaded.records.append(&mut records);
            }
            Ok(Some(_)) => {}
            Err(e) => loaded.problems.push(format!("{path}: {e}")),
        }
    }
    Ok(loaded)
}

/// What [`read_records`] found.
#[derive(Debug, Default)]
pub struct LoadedRecords {
    pub files: usize,
    /// (origin, record text).
    pub records: Vec<(String, String)>,
    pub problems: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::AsArray;
    use arrow::datatypes::TimestampMicrosecondType;
    use trailq_events::schema;

    fn record(day: u32, i: usize) -> String {
        format!(
            r#"{{"eventVersion":"1.08","eventTime":"2024-05-{day:02}T12:00:00Z","eventID":"{day}-{i}","eventSource":"s3.amazonaws.com","eventName":"GetObject"}}"#
        )
    }

    /// The days of each batch the parser handed over, in order.
    fn days_per_batch(parser: &mut RecordParser) -> Vec<Vec<i32>> {
        let mut batches: Vec<RecordBatch> = parser
            .drain()
            .map(|p| match p {
                Parsed::Batch(b) => b,
                Parsed::Rejected(r) => panic!("rejected: {}", r.reason),
            })
            .collect();
        batches.extend(parser.flush());
        batches
            .iter()
            .map(|b| {
                let times = b
                    .column(schema::column_index(schema::EVENT_TIME))
                    .as_primitive::<TimestampMicrosecondType>();
                let mut days: Vec<i32> = times.values().iter().map(|t| day_of_micros(*t)).collect();
                days.dedup();
                days
            })
            .collect()
    }

    /// The eventIDs of every row handed over, and the rejections' (origin, whole file?).
    fn ids_and_rejections(parser: &mut RecordParser) -> (Vec<String>, Vec<(String, bool)>) {
        let (mut ids, mut rejected) = (Vec::new(), Vec::new());
        let mut batches = Vec::new();
        for item in parser.drain() {
            match item {
                Parsed::Batch(b) => batches.push(b),
                Parsed::Rejected(r) => rejected.push((r.origin, r.whole_file)),
            }
        }
        batches.extend(parser.flush());
        for b in batches {
            let column = b.column(schema::column_index(schema::EVENT_ID));
            ids.extend(
                column
                    .as_string::<i32>()
                    .iter()
                    .map(|v| v.unwrap().to_owned()),
            );
        }
        (ids, rejected)
    }

    #[test]
    fn a_trail_file_found_bad_late_is_rejected_whole_and_takes_nothing_else_with_it() {
        let dir = tempfile::tempdir().unwrap();
        let trail = |name: &str, records: &[String], tail: &str| {
            let path = dir.path().join(name);
            std::fs::write(
                &path,
                format!(r#"{{"Records":[{}{tail}"#, records.join(",")),
            )
            .unwrap();
            path
        };
        let good: Vec<String> = (0..10).map(|i| record(1, i)).collect();
        // A file whose last record is cut off: its first records are parsed (and batches of
        // them finished: more than BATCH_ROWS) before the cut is found.
        let long: Vec<String> = (0..BATCH_ROWS + 100).map(|i| record(2, i)).collect();
        // A short one: its records are still in the batch being built when the cut is found.
        let short: Vec<String> = (0..3).map(|i| record(3, i)).collect();
        // An item the one pass does not take (not an object): read again the general way.
        let mixed = [record(4, 0), "\"text\"".to_owned(), record(4, 1)];
        let files = [
            trail("good.json", &good, "]}"),
            trail("long.json", &long, r#",{"eventTime":"2024-05-02T"#),
            trail("short.json", &short, r#",{"eventTime":"2024-05-03T"#),
            trail("mixed.json", &mixed, "]}"),
            trail("good2.json", &[record(5, 0)], "]}"),
        ];
        let mut parser = RecordParser::new(Filters::default());
        let outcomes: Vec<String> = files
            .iter()
            .map(|f| format!("{:?}", parser.push_file(f)))
            .collect();
        let (ids, rejected) = ids_and_rejections(&mut parser);
        let expected: Vec<String> = ["1-0", "1-1", "1-2", "1-3", "1-4", "1-5", "1-6", "1-7"]
            .into_iter()
            .map(str::to_owned)
            .chain(["1-8", "1-9", "4-0", "4-1", "5-0"].map(str::to_owned))
            .collect();
        assert_eq!(ids, expected);
        let origin = |f: usize| files[f].to_string_lossy().into_owned();
        assert_eq!(
            rejected,
            vec![(origin(1), true), (origin(2), true), (origin(3), false)]
        );
        assert_eq!(
            outcomes[0],
            "Read { records: 10, rejected: 0, filtered: 0 }"
        );
        assert_eq!(outcomes[1], "Rejected");
        assert_eq!(outcomes[2], "Rejected");
        assert_eq!(outcomes[3], "Read { records: 3, rejected: 1, filtered: 0 }");
    }

    #[test]
    fn files_of_other_shapes_go_on_filling_the_batch_being_built() {
        let dir = tempfile::tempdir().unwrap();
        let trail = dir.path().join("trail.json");
        let records: Vec<String> = (0..10).map(|i| record(1, i)).collect();
        std::fs::write(&trail, format!(r#"{{"Records":[{}]}}"#, records.join(","))).unwrap();
        let lines = dir.path().join("more.jsonl");
        std::fs::write(&lines, format!("{}\n{}\n", record(1, 10), record(1, 11))).unwrap();
        let mut parser = RecordParser::new(Filters::default());
        parser.push_file(&trail);
        parser.push_file(&lines);
        // Read the general way, the JSON Lines file takes nothing back and ends no batch.
        let mut sizes: Vec<usize> = parser
            .drain()
            .map(|p| match p {
                Parsed::Batch(b) => b.num_rows(),
                Parsed::Rejected(r) => panic!("rejected: {}", r.reason),
            })
            .collect();
        sizes.extend(parser.flush().map(|b| b.num_rows()));
        assert_eq!(sizes, vec![12]);
    }

    #[test]
    fn a_batch_ends_where_the_day_changes_unless_it_is_still_small() {
        let mut parser = RecordParser::new(Filters::default());
        let push = |parser: &mut RecordParser, day: u32, i: usize| {
            assert!(matches!(
                parser.push("test", None, &record(day, i)),
                Outcome::Accepted
            ));
        };
        for i in 0..DAY_SPLIT_MIN_ROWS + 10 {
            push(&mut parser, 1, i);
        }
        for i in 0..DAY_SPLIT_MIN_ROWS {
            push(&mut parser, 2, i);
        }
        // Records alternating between two days (a file around midnight): the batch that starts
        // with them goes on until it is big enough to end at a change of day.
        for i in 0..DAY_SPLIT_MIN_ROWS {
            push(&mut parser, 3 + (i % 2) as u32, i);
        }
        for i in 0..10 {
            push(&mut parser, 5, i);
        }
        let day = |d: u32| trailq_events::time::parse_day(&format!("2024-05-{d:02}")).unwrap();
        assert_eq!(
            days_per_batch(&mut parser),
            vec![
                vec![day(1)],
                vec![day(2)],
                (0..DAY_SPLIT_MIN_ROWS / 2)
                    .flat_map(|_| [day(3), day(4)])
                    .collect::<Vec<_>>(),
                vec![day(5)],
            ]
        );
    }
}
