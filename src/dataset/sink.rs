//! The Parquet dataset: `<out>/event_date=YYYY-MM-DD/part-*.parquet`, plus state in `<out>/_trailq/`.
//!
//! Invariants (DESIGN.md "Dataset layout"):
//! - a file appears only whole: written under a hidden temporary name, synced, then renamed;
//! - within the dataset an `eventID` appears once, across runs too. CloudTrail's duplicate
//!   deliveries are the same record, so they share eventTime and therefore a partition: ids are
//!   kept per partition, read back from disk the first time a run touches it, and forgotten when
//!   memory is short and the partition has nothing buffered (memory stays flat in dataset size).
//!   Records without an eventID (eventVersion 1.0) are never merged with each other: the n-th
//!   copy of a text in a run is a duplicate only if the partition already holds n copies of it,
//!   so a re-run adds nothing;
//! - rows are sorted by `eventTime` within a file. Rows are buffered per partition; when memory
//!   runs short a buffer is sorted and spilled (`spill.rs`). At each commit (the end of a run, an
//!   export's finished slice, or the days a convert's input has passed) each partition's spills,
//!   buffer and existing small files are merged into Parquet once, rolled by size
//!   (`partition_writer.rs`). Replacing small files is journaled, with the number after which the
//!   merge's own files start, so a crash never leaves rows twice nor takes a run's earlier files
//!   with it;
//! - partition paths are built only from a parsed time, never from record text;
//! - one writer at a time: `_trailq/lock` is held (an OS lock, released even on kill -9).

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU64;

use arrow::array::{Array, AsArray, RecordBatch, UInt32Array};
use arrow::compute::take_record_batch;
use arrow::datatypes::TimestampMicrosecondType;
use arrow::error::ArrowError;
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::errors::ParquetError;
use serde::Serialize;

use super::dedup::SeenEvents;
use super::layout;
use super::partition_writer::{
    Finishing, PartitionJob, PartitionWriter, WriteOutcome, writer_properties,
};
use super::recover::recover;
use super::remote::Remote;
use super::spill::{self, SpillFormat};
use trailq_events::schema;
use trailq_events::time::day_of_micros;

/// Name of the state folder inside a dataset.

#[derive(Debug, thiserror::Error)]
pub enum DatasetError {
    #[error("cannot use `{path}` as the output dataset (--out names a folder, created if missing)")]
    Open { path: PathBuf, source: io::Error },
    #[error(
        "another trailq run is writing to `{0}`; wait for it to finish (or pick another --out)"
    )]
    Locked(PathBuf),
    #[error("cannot write `{path}`")]
    Io { path: PathBuf, source: io::Error },
    #[error("cannot write Parquet file `{path}`")]
    Parquet { path: PathBuf, source: ParquetError },
    #[error(
        "cannot read existing file `{path}` (move it out of the dataset if it is not trailq's)"
    )]
    ReadExisting { path: PathBuf, source: ParquetError },
    #[error("cannot arrange rows for the dataset")]
    Arrow(#[from] ArrowError),
    /// A dataset in S3: one line naming the key and what to do.
    #[error("{0}")]
    Remote(String),
}

type Result<T> = std::result::Result<T, DatasetError>;

/// Sizes that decide when rows are spilled and how big files get.
#[derive(Debug, Clone)]
pub struct DatasetOptions {
    /// A partition's buffered rows (Arrow bytes) are spilled once they reach this.
    pub spill_bytes: usize,
    /// All partitions' buffers together; above it the largest buffer is spilled.
    pub memory_budget_bytes: usize,
    /// A Parquet file is closed and the next one started at about this size on disk.
    pub file_target_bytes: usize,
    /// Existing files smaller than this are merged with the run's new rows of their partition.
    pub small_file_bytes: u64,
    /// Ids held in memory across partitions before idle partitions' ids are forgotten
    /// (~35 B each in the hash sets; 500,000 is several days of a busy organization).
    pub resident_ids: usize,
    /// How spilled runs are written when [`ParquetDatasetSink::plan_spill`] was not called or
    /// the runs parked at once are past its room (LZ4 unless a test says otherwise).
    pub spill_format: SpillFormat,
}

impl Default for DatasetOptions {
    fn default() -> Self {
        DatasetOptions {
            spill_bytes: 24 << 20,
            memory_budget_bytes: 48 << 20,
            file_target_bytes: 256 << 20,
            small_file_bytes: 32 << 20,
            resident_ids: 500_000,
            spill_format: SpillFormat::Lz4,
        }
    }
}

/// What a run did to the dataset.
#[derive(Debug, Default, Clone, Serialize)]
pub struct SinkStats {
    /// Rows this run added (after dropping duplicates).
    pub rows_written: u64,
    /// Rows whose eventID was already in the dataset or earlier in the run.
    pub duplicates_dropped: u64,
    /// Files this run wrote (including rewrites of small files) and their bytes.
    pub files_written: u64,
    pub bytes_written: u64,
    /// Small files of earlier commits (this run's own too) merged into new files.
    pub files_merged: u64,
    /// Partitions this run wrote to.
    pub partitions: u64,
    /// Rows spilled to disk for lack of memory (each is still written to Parquet only once).
    pub rows_spilled: u64,
}

#[derive(Default)]
struct Partition {
    /// Which events the partition holds, on disk or in this run.
    seen: SeenEvents,
    buffer: Vec<RecordBatch>,
    buffered_bytes: usize,
    /// When this run last wrote to it, to forget the least recently used ids first.
    last_use: u64,
}

pub struct ParquetDatasetSink {
    root: PathBuf,
    run_id: String,
    options: DatasetOptions,
    partitions: BTreeMap<i32, Partition>,
    /// Spilled runs per partition; kept apart so that forgetting a partition's ids keeps them.
    runs: BTreeMap<i32, Vec<PathBuf>>,
    /// The Arrow bytes spilled per partition not committed yet (≈ their uncompressed runs' size).
    parked: BTreeMap<i32, u64>,
    /// Bytes of uncompressed runs that may be parked at once ([`Self::plan_spill`]).
    uncompressed_room: Option<u64>,
    buffered_bytes: usize,
    /// Counts writes, to order partitions by last use.
    clock: u64,
    spill_seq: u64,
    /// The run being sorted and written on its own thread, so reading goes on meanwhile (one at
    /// a time: its rows are memory outside the budget until it is on disk).
    spilling: Option<Spilling>,
    /// The partition (day) whose last file a [`Self::commit_through`] left finishing, so reading
    /// goes on meanwhile; settled before anything reads that partition's folder again.
    finishing: Option<(i32, Finishing)>,
    /// Data files named so far by this run.
    files_named: u64,
    stats: SinkStats,
    /// A dataset in S3: `root` is its staging copy, kept in step by this.
    remote: Option<Remote>,
    _lock: File,
}

struct Spilling {
    path: PathBuf,
    thread: std::thread::JoinHandle<std::result::Result<(), ArrowError>>,
}

impl ParquetDatasetSink {
    /// Opens (or creates) the dataset at `root`, takes its lock and repairs what a crashed run left.
    pub fn open(root: &Path, options: DatasetOptions) -> Result<Self> {
        let open_err = |source| DatasetError::Open {
            path: root.to_owned(),
            source,
        };
        fs::create_dir_all(layout::state_dir(root)).map_err(open_err)?;
        let lock = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(layout::lock_file(root))
            .map_err(open_err)?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(fs::TryLockError::WouldBlock) => return Err(DatasetError::Locked(root.to_owned())),
            Err(fs::TryLockError::Error(e)) => return Err(open_err(e)),
        }
        let run_id = format!(
            "{}-{:08x}",
            chrono::Utc::now().format("%Y%m%dT%H%M%S"),
            fastrand::u32(..)
        );
        let sink = ParquetDatasetSink {
            root: root.to_owned(),
            run_id,
            options,
            partitions: BTreeMap::new(),
            runs: BTreeMap::new(),
            parked: BTreeMap::new(),
            uncompressed_room: None,
            buffered_bytes: 0,
            clock: 0,
            spill_seq: 0,
            spilling: None,
            finishing: None,
            files_named: 0,
            stats: SinkStats::default(),
            remote: None,
            _lock: lock,
        };
        recover(root)?;
        Ok(sink)
    }

    /// Opens a dataset in S3 through `remote`'s staging folder.
    pub fn open_remote(remote: Remote, options: DatasetOptions) -> Result<Self> {
        let mut sink = ParquetDatasetSink::open(remote.staging(), options)?;
        sink.remote = Some(remote);
        Ok(sink)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The dataset in S3 this sink writes, if it does.
    pub fn remote(&mut self) -> Option<&mut Remote> {
        self.remote.as_mut()
    }

    /// Hands over the S3 side (to publish and release it asynchronously).
    pub fn take_remote(&mut self) -> Option<Remote> {
        self.remote.take()
    }

    pub fn run_id(&self) -> &str {
        &self.run_id
    }

    /// Spills uncompressed while the runs not yet committed fit in what memory and the dataset's
    /// disk have room for ([`spill::uncompressed_room`]), LZ4 past it. For a convert, which
    /// spills nearly every row once and commits as it reads.
    pub fn plan_spill(&mut self) {
        self.uncompressed_room = spill::uncompressed_room(
            crate::memory::available_memory(),
            spill::free_bytes(&self.root),
        );
    }

    /// Adds rows of any dates. Rows whose eventID is already in the dataset are dropped.
    pub fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        if batch.num_rows() == 0 {
            return Ok(());
        }
        let times = batch
            .column(schema::column_index(schema::EVENT_TIME))
            .as_primitive::<TimestampMicrosecondType>();
        let ids = batch
            .column(schema::column_index(schema::EVENT_ID))
            .as_string::<i32>();
        let texts = batch
            .column(schema::column_index(schema::EVENT_JSON))
            .as_string::<i32>();
        self.clock += 1;
        let mut by_day: BTreeMap<i32, Vec<u32>> = BTreeMap::new();
        for (row, t) in times.values().iter().enumerate() {
            by_day
                .entry(day_of_micros(*t))
                .or_default()
                .push(row as u32);
        }
        for (day, rows) in by_day {
            self.ensure_loaded(day)?;
            let partition = self.partitions.get_mut(&day).expect("loaded above");
            partition.last_use = self.clock;
            let before = rows.len();
            let kept: Vec<u32> = rows
                .into_iter()
                .filter(|&row| {
                    let row = row as usize;
                    let id = ids.is_valid(row).then(|| ids.value(row));
                    partition.seen.admit(id, texts.value(row))
                })
                .collect();
            self.stats.duplicates_dropped += (before - kept.len()) as u64;
            if kept.is_empty() {
                continue;
            }
            let part = if kept.len() == batch.num_rows() {
                batch.clone()
            } else {
                take_record_batch(batch, &UInt32Array::from(kept))?
            };
            self.stats.rows_written += part.num_rows() as u64;
            let bytes = part.get_array_memory_size();
            partition.buffer.push(part);
            partition.buffered_bytes += bytes;
            self.buffered_bytes += bytes;
            if partition.buffered_bytes >= self.options.spill_bytes {
                self.spill(day)?;
            }
        }
        while self.buffered_bytes > self.options.memory_budget_bytes {
            let largest = self
                .partitions
                .iter()
                .max_by_key(|(_, p)| p.buffered_bytes)
                .map(|(d, _)| *d)
                .expect("buffered bytes live in some partition");
            self.spill(largest)?;
        }
        self.forget_idle()?;
        Ok(())
    }

    /// Writes every partition this run added rows to, and returns what the run did.
    pub fn finish(mut self) -> Result<SinkStats> {
        self.commit()
    }

    /// Writes every partition that has rows since the last commit: when this returns, those
    /// rows are in the dataset's files (an export commits each finished slice). The sink stays
    /// open; ids of committed partitions are read back from their files when touched again.
    pub fn commit(&mut self) -> Result<SinkStats> {
        self.commit_days(None)
    }

    /// Writes the partitions of `last_day` and earlier, and leaves later ones buffered. A convert
    /// reads its files in delivery-day order and commits the days its input has passed, so the
    /// disk holds the spilled runs of a few days, not of the whole input, and they are read back
    /// while the page cache still has them. Rows that still come for a committed day are merged
    /// with its file at a later commit, as any run's rows are. When the days written have runs,
    /// every buffer is spilled first, later days' too: keeping those in memory beside the merge
    /// spilled a fifth fewer rows but took peak RSS past 200 MiB, where trimming the heap after
    /// each row group cost more than it saved (BENCHMARKS.md, issue 15, session 17).
    ///
    /// The last partition's file may still be finishing when this returns (its `eventJson`
    /// helpers draining, then the sync and rename), and the caller goes back to reading
    /// meanwhile. Waiting for it, here or at the start of the next commit, left the parsers held
    /// up behind this thread and a core idle (BENCHMARKS.md, issue 15, session 20). So while that
    /// file is not finished this writes nothing: the days stay buffered (spilled if memory runs
    /// short, like any) for the next commit, which takes every day up to its own `last_day`.
    /// A row for the finishing day waits for it first; the stats returned leave it out until
    /// then; only [`Self::commit`] returns with everything durable.
    pub fn commit_through(&mut self, last_day: i32) -> Result<SinkStats> {
        if self
            .finishing
            .as_ref()
            .is_some_and(|(_, f)| !f.is_finished())
        {
            return Ok(self.stats.clone());
        }
        self.commit_days(Some(last_day))
    }

    fn commit_days(&mut self, last_day: Option<i32>) -> Result<SinkStats> {
        self.settle_finishing()?;
        let selected = |day: &i32| last_day.is_none_or(|last| *day <= last);
        if self.runs.keys().any(selected) {
            // Memory was short already: free the buffers before the partition writers need
            // theirs, so they merge from disk only.
            let buffered: Vec<i32> = self
                .partitions
                .iter()
                .filter(|(_, p)| !p.buffer.is_empty())
                .map(|(d, _)| *d)
                .collect();
            for day in buffered {
                self.spill(day)?;
            }
        }
        self.settle_spill()?;
        let mut days: Vec<i32> = self
            .partitions
            .iter()
            .filter(|(_, p)| !p.buffer.is_empty())
            .map(|(d, _)| *d)
            .chain(self.runs.keys().copied())
            .filter(selected)
            .collect();
        days.sort_unstable();
        days.dedup();
        let mut jobs = Vec::with_capacity(days.len());
        for day in days {
            let buffer = self
                .partitions
                .get_mut(&day)
                .map(|p| std::mem::take(&mut p.buffer))
                .unwrap_or_default();
            let runs = self.runs.remove(&day).unwrap_or_default();
            // Written by the end of this commit, and the runs removed.
            self.parked.remove(&day);
            let small: Vec<PathBuf> = data_files(&self.partition_dir(day))?
                .into_iter()
                .filter(|(_, len)| *len < self.options.small_file_bytes)
                .map(|(p, _)| p)
                .collect();
            jobs.push(PartitionJob {
                day,
                buffer,
                runs,
                small,
            });
        }
        // The committed partitions' ids are forgotten (read back from their files if touched
        // again); later ones keep theirs and their buffers.
        match last_day {
            None => self.partitions.clear(),
            Some(last) => {
                self.partitions = self.partitions.split_off(&last.saturating_add(1));
            }
        }
        let writer = PartitionWriter {
            root: &self.root,
            run_id: &self.run_id,
            props: writer_properties(),
            file_target_bytes: self.options.file_target_bytes,
            // Numbers continue across commits: a run's files never take each other's names.
            seq: AtomicU64::new(self.files_named),
        };
        // One partition's merge at a time: each holds ~100 zstd contexts, row-group pages and a
        // batch per spilled run, and two at once took peak RSS from ~270 to ~380 MB for 1 M
        // records (BENCHMARKS.md); a writer encodes on every core itself (`parquet_file`). Only
        // the end of one partition (its last file finishing) overlaps the next one's merge, and
        // after a `commit_through` the reading that follows.
        let mut results = Vec::new();
        let mut finishing: Option<(i32, Finishing)> = None;
        for job in jobs {
            let day = job.day;
            let started = writer.write(job);
            results.extend(finishing.take().map(|(_, f)| finished(f)));
            match started {
                Ok(f) => finishing = Some((day, f)),
                Err(e) => results.push(Err(e)),
            }
        }
        match (last_day, finishing) {
            (Some(_), left) => self.finishing = left,
            (None, Some((_, f))) => results.push(finished(f)),
            (None, None) => {}
        }
        self.files_named = writer.seq.load(std::sync::atomic::Ordering::Relaxed);
        if self.runs.is_empty() {
            // Nothing of this run is parked any more (a partition writer removes its own runs;
            // this also clears what a failed one left).
            spill::remove_stale(&self.root);
        }
        for outcome in results {
            self.count(outcome?);
        }
        self.buffered_bytes = self.partitions.values().map(|p| p.buffered_bytes).sum();
        Ok(self.stats.clone())
    }

    fn count(&mut self, o: WriteOutcome) {
        self.stats.files_written += o.files;
        self.stats.bytes_written += o.bytes;
        self.stats.files_merged += o.merged;
        self.stats.partitions += o.partitions;
    }

    /// Waits for the partition a `commit_through` left finishing, and counts what it wrote.
    fn settle_finishing(&mut self) -> Result<()> {
        match self.finishing.take() {
            Some((_, f)) => finished(f).map(|o| self.count(o)),
            None => Ok(()),
        }
    }

    fn partition_dir(&self, day: i32) -> PathBuf {
        layout::partition_dir(&self.root, day)
    }

    /// Sorts a partition's buffer into a spilled run, on a thread of its own.
    fn spill(&mut self, day: i32) -> Result<()> {
        let Some(partition) = self.partitions.get_mut(&day) else {
            return Ok(());
        };
        if partition.buffer.is_empty() {
            return Ok(());
        }
        let batches = std::mem::take(&mut partition.buffer);
        let bytes = partition.buffered_bytes;
        self.buffered_bytes -= bytes;
        partition.buffered_bytes = 0;
        self.settle_spill()?;
        let parked = self.parked.values().sum::<u64>() + bytes as u64;
        let format = match self.uncompressed_room {
            Some(room) if parked <= room => SpillFormat::Uncompressed,
            _ => self.options.spill_format,
        };
        *self.parked.entry(day).or_default() += bytes as u64;
        self.spill_seq += 1;
        self.stats.rows_spilled += batches.iter().map(|b| b.num_rows() as u64).sum::<u64>();
        let path = layout::spill_file(&self.root, &self.run_id, day, self.spill_seq);
        let thread = {
            let path = path.clone();
            crate::threads::spawn("spill", move || {
                let written = spill::write_run(&path, batches, format);
                crate::memory::release_freed_memory();
                written
            })
        };
        self.spilling = Some(Spilling {
            path: path.clone(),
            thread,
        });
        self.runs.entry(day).or_default().push(path);
        Ok(())
    }

    /// Waits for the run being spilled to be on disk.
    fn settle_spill(&mut self) -> Result<()> {
        let Some(Spilling { path, thread }) = self.spilling.take() else {
            return Ok(());
        };
        let result = thread.join().unwrap_or_else(|_| {
            Err(ArrowError::ExternalError(
                "the spill thread panicked".into(),
            ))
        });
        result.map_err(|e| match e {
            ArrowError::IoError(_, source) => DatasetError::Io { path, source },
            other => DatasetError::Arrow(other),
        })
    }

    /// Forgets the ids of the least recently used partitions while too many are held, spilling
    /// what they still buffer first; touching one again reads its ids back from its files and
    /// spilled runs. With input in delivery-day order those are old days that get no more rows.
    fn forget_idle(&mut self) -> Result<()> {
        let mut resident: usize = self.partitions.values().map(|p| p.seen.resident()).sum();
        while resident > self.options.resident_ids && self.partitions.len() > 1 {
            let oldest = self
                .partitions
                .iter()
                .filter(|(_, p)| p.last_use < self.clock)
                .min_by_key(|(_, p)| p.last_use)
                .map(|(d, _)| *d);
            let Some(day) = oldest else { break };
            self.spill(day)?;
            let p = self.partitions.remove(&day).expect("found above");
            resident -= p.seen.resident();
        }
        Ok(())
    }

    /// Reads the ids already in a partition (files and this run's spills) on first touch.
    fn ensure_loaded(&mut self, day: i32) -> Result<()> {
        if self.partitions.contains_key(&day) {
            return Ok(());
        }
        if self.finishing.as_ref().is_some_and(|(d, _)| *d == day) {
            self.settle_finishing()?;
        }
        if let Some(remote) = &mut self.remote {
            remote.fetch_partition(day, &layout::partition_dir(&self.root, day))?;
        }
        let mut partition = Partition::default();
        for (path, _) in data_files(&self.partition_dir(day))? {
            let read_err = |source| DatasetError::ReadExisting {
                path: path.clone(),
                source,
            };
            let file = File::open(&path).map_err(|e| DatasetError::Io {
                path: path.clone(),
                source: e,
            })?;
            let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(read_err)?;
            // Texts are only needed for records without an eventID, which real data since 2014
            // does not have: the footer's null count says whether to read them at all.
            let id_leaf = builder
                .parquet_schema()
                .columns()
                .iter()
                .position(|c| c.path().parts() == [schema::EVENT_ID]);
            let has_idless = builder.metadata().row_groups().iter().any(|rg| {
                id_leaf
                    .and_then(|i| rg.column(i).statistics())
                    .and_then(|s| s.null_count_opt())
                    .is_none_or(|n| n > 0)
            });
            let columns: &[&str] = if has_idless {
                &[schema::EVENT_ID, schema::EVENT_JSON]
            } else {
                &[schema::EVENT_ID]
            };
            let mask = ProjectionMask::columns(builder.parquet_schema(), columns.iter().copied());
            let reader = builder
                .with_projection(mask)
                .with_batch_size(8192)
                .build()
                .map_err(read_err)?;
            for batch in reader {
                partition.seen.remember(&batch?);
            }
        }
        if self.runs.contains_key(&day) {
            self.settle_spill()?;
        }
        for run in self.runs.get(&day).into_iter().flatten() {
            let reader = spill::read_run(run, Some(&[schema::EVENT_ID, schema::EVENT_JSON]))?;
            for batch in reader {
                partition.seen.remember(&batch?);
            }
        }
        self.partitions.insert(day, partition);
        Ok(())
    }
}

impl Drop for ParquetDatasetSink {
    /// However the run ends (finished, failed, interrupted), what it parked on disk goes now: its
    /// spilled runs (several times the output's size) and any file it had half written. The next
    /// run would remove them too, but it may never come. `recover` is what that run would do; the
    /// lock (a field, dropped after this) is still held.
    fn drop(&mut self) {
        // A run still being spilled and a file still finishing are done first, so the clean-up
        // never races their writers.
        if let Some(spilling) = self.spilling.take() {
            let _ = spilling.thread.join();
        }
        if let Some((_, finishing)) = self.finishing.take() {
            let _ = finishing.join();
        }
        let _ = recover(&self.root);
    }
}

/// Waits for a partition's last file to be finished.
fn finished(f: Finishing) -> Result<WriteOutcome> {
    f.join().unwrap_or_else(|_| {
        Err(DatasetError::Arrow(ArrowError::ExternalError(
            "a partition's writer panicked".into(),
        )))
    })
}

/// `part-*.parquet` files of a partition with their sizes, by name.
pub(super) fn data_files(dir: &Path) -> Result<Vec<(PathBuf, u64)>> {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => {
            return Err(DatasetError::Io {
                path: dir.to_owned(),
                source: e,
            });
        }
    };
    let mut files = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| DatasetError::Io {
            path: dir.to_owned(),
            source: e,
        })?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if layout::is_data_file(&name) {
            let len = entry.metadata().map(|m| m.len()).unwrap_or(0);
            files.push((entry.path(), len));
        }
    }
    files.sort();
    Ok(files)
}

/// Writes a small state file whole: temporary name, sync, rename.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension("partial");
    let io_err = |source| DatasetError::Io {
        path: path.to_owned(),
        source,
    };
    let mut f = File::create(&tmp).map_err(io_err)?;
    f.write_all(bytes).map_err(io_err)?;
    f.sync_all().map_err(io_err)?;
    fs::rename(&tmp, path).map_err(io_err)?;
    Ok(())
}

/// Makes a rename durable. Best effort: not every file system supports syncing a directory.
pub(super) fn sync_dir(dir: &Path) {
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;
    use trailq_events::batch::EventBatchBuilder;
    use trailq_events::record::parse_record;

    fn batch(ids: &[(u32, u32)]) -> RecordBatch {
        let mut b = EventBatchBuilder::new();
        for (day, n) in ids {
            let text = format!(
                r#"{{"eventTime":"2024-05-{day:02}T{:02}:{:02}:{:02}Z","eventID":"id-{day}-{n}"}}"#,
                (n * 7) % 24,
                (n * 13) % 60,
                n % 60
            );
            b.append(&parse_record(&text).unwrap(), &text);
        }
        b.finish()
    }

    fn read_all(root: &Path) -> Vec<(String, Vec<(i64, String)>)> {
        let mut out = Vec::new();
        for day in 1..=3 {
            for (path, _) in data_files(&layout::partition_dir(
                root,
                trailq_events::time::parse_day(&format!("2024-05-0{day}")).unwrap(),
            ))
            .unwrap()
            {
                let reader = ParquetRecordBatchReaderBuilder::try_new(File::open(&path).unwrap())
                    .unwrap()
                    .build()
                    .unwrap();
                let mut rows = Vec::new();
                for b in reader {
                    let b = b.unwrap();
                    let t = b
                        .column_by_name(schema::EVENT_TIME)
                        .unwrap()
                        .as_primitive::<TimestampMicrosecondType>();
                    let id = b
                        .column_by_name(schema::EVENT_ID)
                        .unwrap()
                        .as_string::<i32>();
                    rows.extend((0..b.num_rows()).map(|i| (t.value(i), id.value(i).to_owned())));
                }
                out.push((path.display().to_string(), rows));
            }
        }
        out
    }

    #[test]
    fn a_failed_commit_leaves_no_spill_and_no_partial_file() {
        let dir = tempfile::tempdir().unwrap();
        let options = DatasetOptions {
            spill_bytes: 1,
            memory_budget_bytes: 1,
            ..DatasetOptions::default()
        };
        let mut sink = ParquetDatasetSink::open(dir.path(), options).unwrap();
        sink.write(&batch(&(0..60).map(|n| (1 + n % 3, n)).collect::<Vec<_>>()))
            .unwrap();
        assert!(layout::spill_root(dir.path()).exists());
        // Something in the way of the second day's partition folder: the commit fails.
        let day = trailq_events::time::parse_day("2024-05-02").unwrap();
        fs::write(layout::partition_dir(dir.path(), day), b"in the way").unwrap();
        assert!(sink.commit().is_err());
        drop(sink);
        assert!(!layout::spill_root(dir.path()).exists());
        let mut left = Vec::new();
        for entry in fs::read_dir(dir.path()).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                left.extend(fs::read_dir(&path).unwrap().map(|e| e.unwrap().file_name()));
            }
        }
        assert!(
            left.iter()
                .all(|n| !layout::is_partial(&n.to_string_lossy())),
            "{left:?}"
        );
        // The dataset opens again for the next run.
        drop(ParquetDatasetSink::open(dir.path(), DatasetOptions::default()).unwrap());
    }

    /// The last file of a partition is finished on its own thread while the next partition is
    /// merged: its failure still fails the commit, and the other partitions are written.
    #[test]
    fn a_partition_whose_last_file_cannot_be_finished_fails_the_commit_alone() {
        let dir = tempfile::tempdir().unwrap();
        let options = DatasetOptions {
            small_file_bytes: 0, // the folder below is not an existing file to merge
            ..DatasetOptions::default()
        };
        let mut sink = ParquetDatasetSink::open(dir.path(), options).unwrap();
        sink.write(&batch(&(0..60).map(|n| (1 + n % 3, n)).collect::<Vec<_>>()))
            .unwrap();
        // A folder with something in it where the second day's file is to be renamed to.
        let day = trailq_events::time::parse_day("2024-05-02").unwrap();
        let taken =
            layout::partition_dir(dir.path(), day).join(layout::data_file_name(sink.run_id(), 2));
        fs::create_dir_all(taken.join("in-the-way")).unwrap();
        let error = sink.commit().unwrap_err();
        assert!(
            matches!(&error, DatasetError::Io { path, .. } if path == &taken),
            "{error:?}"
        );
        drop(sink);
        fs::remove_dir_all(&taken).unwrap();
        let files = read_all(dir.path());
        assert_eq!(files.len(), 2, "{files:?}");
        assert!(files.iter().all(|(_, rows)| rows.len() == 20));
        for entry in fs::read_dir(layout::partition_dir(dir.path(), day)).unwrap() {
            let name = entry.unwrap().file_name();
            assert!(!layout::is_partial(&name.to_string_lossy()), "{name:?}");
        }
    }

    /// A run is uncompressed while the runs not committed yet fit in the room, LZ4 past it, and
    /// a commit gives its days' room back.
    #[test]
    fn runs_are_uncompressed_while_those_not_committed_fit_in_the_room() {
        let dir = tempfile::tempdir().unwrap();
        let options = DatasetOptions {
            spill_bytes: 1, // every write spills
            memory_budget_bytes: 1,
            ..DatasetOptions::default()
        };
        let mut sink = ParquetDatasetSink::open(dir.path(), options).unwrap();
        let day_batch = |day: u32| batch(&(0..400).map(|n| (day, n)).collect::<Vec<_>>());
        let one_run = day_batch(1).get_array_memory_size() as u64;
        sink.uncompressed_room = Some(one_run * 3 / 2);
        let day = |d: u32| trailq_events::time::parse_day(&format!("2024-05-0{d}")).unwrap();
        let run_size = |sink: &mut ParquetDatasetSink, d: u32| {
            sink.write(&day_batch(d)).unwrap();
            sink.settle_spill().unwrap();
            let run = sink.runs[&day(d)].last().unwrap();
            fs::metadata(run).unwrap().len()
        };
        let first = run_size(&mut sink, 1);
        let second = run_size(&mut sink, 2); // two runs parked: past the room
        assert!(first > 2 * second, "uncompressed {first} B, LZ4 {second} B");
        sink.commit_through(day(2)).unwrap();
        let third = run_size(&mut sink, 3); // the first two are written: room again
        assert!(third > 2 * second, "uncompressed {third} B, LZ4 {second} B");
        sink.commit().unwrap();
        let files = read_all(dir.path());
        assert_eq!(
            files.iter().map(|(_, rows)| rows.len()).sum::<usize>(),
            1200
        );
    }

    #[test]
    fn spilled_and_forgotten_partitions_still_dedup_and_end_sorted() {
        for format in [SpillFormat::Lz4, SpillFormat::Uncompressed] {
            spilled_and_forgotten_partitions_end_whole(format);
        }
    }

    fn spilled_and_forgotten_partitions_end_whole(spill_format: SpillFormat) {
        let dir = tempfile::tempdir().unwrap();
        let options = DatasetOptions {
            spill_bytes: 1, // every write spills
            memory_budget_bytes: 1,
            resident_ids: 1, // forget every idle partition at once
            spill_format,
            ..DatasetOptions::default()
        };
        let mut sink = ParquetDatasetSink::open(dir.path(), options.clone()).unwrap();
        for round in 0..4u32 {
            let rows: Vec<(u32, u32)> = (0..50)
                .map(|n| (1 + (n + round) % 3, round * 50 + n))
                .collect();
            sink.write(&batch(&rows)).unwrap();
        }
        // The same events again, after their partitions were spilled and forgotten.
        let again: Vec<(u32, u32)> = (0..50).map(|n| (1 + n % 3, n)).collect();
        sink.write(&batch(&again)).unwrap();
        let spill_dir = layout::spill_root(dir.path());
        assert!(spill_dir.exists());
        let stats = sink.finish().unwrap();
        assert_eq!(stats.rows_written, 200);
        assert_eq!(stats.duplicates_dropped, 50);
        assert!(stats.rows_spilled >= 200);
        assert!(!spill_dir.exists(), "spilled runs are removed");
        let files = read_all(dir.path());
        assert_eq!(files.len(), 3, "one file per partition");
        let mut ids = HashSet::new();
        for (path, rows) in &files {
            assert!(
                rows.windows(2).all(|w| w[0].0 <= w[1].0),
                "{path} is sorted"
            );
            ids.extend(rows.iter().map(|r| r.1.clone()));
        }
        assert_eq!(ids.len(), 200);
    }

    /// A convert commits the days its input has passed while it reads on: later days keep their
    /// buffers and runs, and rows that still come for a committed day (a late delivery) end in
    /// its one file at the next commit, sorted and without the duplicates sent again.
    #[test]
    fn committing_passed_days_keeps_later_ones_and_merges_late_rows() {
        let dir = tempfile::tempdir().unwrap();
        let options = DatasetOptions {
            spill_bytes: 1, // every write spills: the third day's run must survive the commit
            memory_budget_bytes: 1,
            ..DatasetOptions::default()
        };
        let mut sink = ParquetDatasetSink::open(dir.path(), options).unwrap();
        let days = |d: &[u32], from: u32| -> Vec<(u32, u32)> {
            (0..30)
                .map(|n| (d[n as usize % d.len()], from + n))
                .collect()
        };
        sink.write(&batch(&days(&[1, 2, 3], 0))).unwrap();
        let day2 = trailq_events::time::parse_day("2024-05-02").unwrap();
        let stats = sink.commit_through(day2).unwrap();
        // Day 2's file may still be finishing: it is counted once the sink waits for it.
        assert_eq!(stats.partitions, 1);
        assert!(
            layout::spill_root(dir.path()).exists(),
            "day 3's run is kept"
        );
        // Late rows for day 1, some of them sent before, one sent before for day 2 (whose file
        // the sink must wait for to know it), and more for day 3.
        let mut late = days(&[1], 100);
        late.extend([(1, 0), (1, 3), (2, 4), (3, 2)]);
        late.extend(days(&[3], 200));
        sink.write(&batch(&late)).unwrap();
        let stats = sink.finish().unwrap();
        assert_eq!(stats.rows_written, 30 + 30 + 30);
        assert_eq!(stats.duplicates_dropped, 4);
        assert!(!layout::spill_root(dir.path()).exists());
        let files = read_all(dir.path());
        let rows: Vec<usize> = files.iter().map(|(_, rows)| rows.len()).collect();
        assert_eq!(rows, [10 + 30, 10, 10 + 30], "one file per day: {files:?}");
        for (path, rows) in &files {
            assert!(
                rows.windows(2).all(|w| w[0].0 <= w[1].0),
                "{path} is sorted"
            );
        }
    }
}
