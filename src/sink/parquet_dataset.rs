//! The Parquet dataset: `<out>/event_date=YYYY-MM-DD/part-*.parquet`, plus state in `<out>/_trailq/`.
//!
//! Invariants (DESIGN.md "Dataset layout"):
//! - a file appears only whole: written under a hidden temporary name, synced, then renamed;
//! - within the dataset an `eventID` appears once, across runs too. CloudTrail's duplicate
//!   deliveries are the same record, so they share eventTime and therefore a partition: ids are
//!   kept per partition, read back from disk the first time a run touches it, and dropped from
//!   memory once it is written (memory stays flat in dataset size). Records without an eventID
//!   (eventVersion 1.0) are never merged with each other: the n-th copy of a text in a run is a
//!   duplicate only if the partition already holds n copies of it, so a re-run adds nothing;
//! - rows are sorted by `eventTime` within a file; files roll at a buffered-size target, and a
//!   partition's small files are merged at the end of a run (crash-safe through a journal);
//! - partition paths are built only from a parsed time, never from record text;
//! - one writer at a time: `_trailq/lock` is held (an OS lock, released even on kill -9).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use arrow::array::{Array, AsArray, RecordBatch, UInt32Array};
use arrow::compute::take_record_batch;
use arrow::datatypes::TimestampMicrosecondType;
use arrow::error::ArrowError;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::{ArrowSchemaConverter, ArrowWriter, ProjectionMask};
use parquet::basic::{Compression, ZstdLevel};
use parquet::errors::ParquetError;
use parquet::file::metadata::{KeyValue, SortingColumn};
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::schema::types::ColumnPath;
use serde::{Deserialize, Serialize};

use super::merge::{BatchSource, merge_sorted};
use crate::schema::{self, PARTITION_COLUMN};
use crate::time::{day_of_micros, format_day};

/// Name of the state folder inside a dataset.
pub const STATE_DIR: &str = "_trailq";

#[derive(Debug, thiserror::Error)]
pub enum DatasetError {
    #[error("cannot use `{path}` as the output dataset")]
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
        "cannot read existing Parquet file `{path}` (move it out of the dataset if it is not trailq's)"
    )]
    ReadExisting { path: PathBuf, source: ParquetError },
    #[error("cannot arrange rows for the dataset")]
    Arrow(#[from] ArrowError),
}

type Result<T> = std::result::Result<T, DatasetError>;

/// Sizes that decide when files are written and merged.
#[derive(Debug, Clone)]
pub struct DatasetOptions {
    /// A partition's buffered rows (Arrow bytes) are written as a file once they reach this.
    pub file_target_bytes: usize,
    /// All partitions' buffers together; above it the largest buffer is written early.
    pub memory_budget_bytes: usize,
    /// Files smaller than this on disk are merged with a partition's other small files.
    pub small_file_bytes: u64,
    pub zstd_level: i32,
}

impl Default for DatasetOptions {
    fn default() -> Self {
        DatasetOptions {
            file_target_bytes: 96 << 20,
            memory_budget_bytes: 160 << 20,
            small_file_bytes: 4 << 20,
            zstd_level: 3,
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
    /// Files this run left in the dataset (merged files included) and their bytes.
    pub files_written: u64,
    pub bytes_written: u64,
    /// Small files merged away by compaction.
    pub files_merged: u64,
    /// Partitions this run wrote to.
    pub partitions: u64,
}

#[derive(Default)]
struct Partition {
    /// 128-bit hashes of every eventID on disk or buffered in this partition.
    ids: HashSet<u128>,
    /// Records without an eventID: copies of each text on disk, and copies seen in this run.
    idless_on_disk: HashMap<u128, u32>,
    idless_seen: HashMap<u128, u32>,
    buffer: Vec<RecordBatch>,
    buffered_bytes: usize,
    touched: bool,
    /// When this run last wrote to it, to forget the least recently used ids first.
    last_use: u64,
}

impl Partition {
    /// True if the row is new to the dataset; records it as seen either way.
    fn admit(&mut self, event_id: Option<&str>, text: &str) -> bool {
        match event_id {
            Some(id) => self.ids.insert(id_hash(id)),
            None => {
                let h = id_hash(text);
                let seen = self.idless_seen.entry(h).or_default();
                *seen += 1;
                *seen > self.idless_on_disk.get(&h).copied().unwrap_or(0)
            }
        }
    }

    fn resident_ids(&self) -> usize {
        self.ids.len() + self.idless_seen.len() + self.idless_on_disk.len()
    }
}

/// Ids kept in memory across partitions before fully written ones are forgotten (~32 B each).
const RESIDENT_IDS: usize = 2_000_000;

pub struct ParquetDatasetSink {
    root: PathBuf,
    run_id: String,
    options: DatasetOptions,
    props: WriterProperties,
    partitions: BTreeMap<i32, Partition>,
    buffered_bytes: usize,
    file_seq: u64,
    /// Counts writes, to order partitions by last use.
    clock: u64,
    stats: SinkStats,
    /// Partitions this run wrote to and has since forgotten (to count and compact at the end).
    forgotten: Vec<i32>,
    _lock: File,
}

/// A compaction in progress, journaled so a crash never leaves both the merged file and its inputs.
#[derive(Serialize, Deserialize)]
struct Journal {
    partition: String,
    merged: String,
    inputs: Vec<String>,
}

impl ParquetDatasetSink {
    /// Opens (or creates) the dataset at `root`, takes its lock and repairs what a crashed run left.
    pub fn open(root: &Path, options: DatasetOptions) -> Result<Self> {
        let open_err = |source| DatasetError::Open {
            path: root.to_owned(),
            source,
        };
        let state = root.join(STATE_DIR);
        fs::create_dir_all(&state).map_err(open_err)?;
        let lock = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(state.join("lock"))
            .map_err(open_err)?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(fs::TryLockError::WouldBlock) => return Err(DatasetError::Locked(root.to_owned())),
            Err(fs::TryLockError::Error(e)) => return Err(open_err(e)),
        }
        let run_id = format!(
            "{}-{:08x}",
            chrono::Utc::now().format("%Y%m%dT%H%M%S"),
            rand_u32()
        );
        let sink = ParquetDatasetSink {
            root: root.to_owned(),
            run_id,
            props: writer_properties(options.zstd_level),
            options,
            partitions: BTreeMap::new(),
            buffered_bytes: 0,
            file_seq: 0,
            clock: 0,
            stats: SinkStats::default(),
            forgotten: Vec::new(),
            _lock: lock,
        };
        sink.recover()?;
        Ok(sink)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn run_id(&self) -> &str {
        &self.run_id
    }

    pub fn stats(&self) -> &SinkStats {
        &self.stats
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
                    partition.admit(id, texts.value(row))
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
            if partition.buffered_bytes >= self.options.file_target_bytes {
                self.flush(day)?;
            }
        }
        while self.buffered_bytes > self.options.memory_budget_bytes {
            let largest = self
                .partitions
                .iter()
                .max_by_key(|(_, p)| p.buffered_bytes)
                .map(|(d, _)| *d)
                .expect("buffered bytes live in some partition");
            self.flush(largest)?;
        }
        self.forget_idle();
        Ok(())
    }

    /// Drops the ids of least recently used, fully written partitions while too many are held;
    /// touching one again reads its ids back from its files.
    fn forget_idle(&mut self) {
        let mut resident: usize = self.partitions.values().map(Partition::resident_ids).sum();
        while resident > RESIDENT_IDS {
            let idle = self
                .partitions
                .iter()
                .filter(|(_, p)| p.buffer.is_empty())
                .min_by_key(|(_, p)| p.last_use)
                .map(|(d, _)| *d);
            let Some(day) = idle else { break };
            let p = self.partitions.remove(&day).expect("found above");
            resident -= p.resident_ids();
            if p.touched {
                self.forgotten.push(day);
            }
        }
    }

    /// Writes every buffer and merges small files of the partitions this run touched.
    pub fn finish(mut self) -> Result<SinkStats> {
        let days: Vec<i32> = self.partitions.keys().copied().collect();
        for &day in &days {
            self.flush(day)?;
        }
        let mut touched: Vec<i32> = days
            .into_iter()
            .filter(|d| self.partitions[d].touched)
            .chain(self.forgotten.drain(..))
            .collect();
        touched.sort_unstable();
        touched.dedup();
        for day in touched {
            self.stats.partitions += 1;
            self.compact(day)?;
            // What this run leaves behind: its own files, merged ones included.
            for (path, len) in self.data_files(day)? {
                if is_run_file(&path, &self.run_id) {
                    self.stats.files_written += 1;
                    self.stats.bytes_written += len;
                }
            }
        }
        Ok(self.stats)
    }

    fn partition_dir(&self, day: i32) -> PathBuf {
        self.root
            .join(format!("{PARTITION_COLUMN}={}", format_day(day)))
    }

    /// Reads the eventIDs already in a partition the first time this run touches it.
    fn ensure_loaded(&mut self, day: i32) -> Result<()> {
        if self.partitions.contains_key(&day) {
            return Ok(());
        }
        let mut partition = Partition::default();
        for (path, _) in self.data_files(day)? {
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
                let batch = batch?;
                let ids = batch
                    .column_by_name(schema::EVENT_ID)
                    .expect("projected")
                    .as_string::<i32>();
                let texts = batch
                    .column_by_name(schema::EVENT_JSON)
                    .map(|c| c.as_string::<i32>());
                for row in 0..batch.num_rows() {
                    if ids.is_valid(row) {
                        partition.ids.insert(id_hash(ids.value(row)));
                    } else if let Some(texts) = texts {
                        *partition
                            .idless_on_disk
                            .entry(id_hash(texts.value(row)))
                            .or_default() += 1;
                    }
                }
            }
        }
        self.partitions.insert(day, partition);
        Ok(())
    }

    /// `part-*.parquet` files of a partition with their sizes, by name.
    fn data_files(&self, day: i32) -> Result<Vec<(PathBuf, u64)>> {
        let dir = self.partition_dir(day);
        let entries = match fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => {
                return Err(DatasetError::Io {
                    path: dir,
                    source: e,
                });
            }
        };
        let mut files = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| DatasetError::Io {
                path: dir.clone(),
                source: e,
            })?;
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name.starts_with("part-") && name.ends_with(".parquet") {
                let len = entry.metadata().map(|m| m.len()).unwrap_or(0);
                files.push((entry.path(), len));
            }
        }
        files.sort();
        Ok(files)
    }

    /// Writes a partition's buffered rows as one sorted file.
    fn flush(&mut self, day: i32) -> Result<()> {
        let Some(partition) = self.partitions.get_mut(&day) else {
            return Ok(());
        };
        if partition.buffer.is_empty() {
            return Ok(());
        }
        let batches = std::mem::take(&mut partition.buffer);
        self.buffered_bytes -= partition.buffered_bytes;
        partition.buffered_bytes = 0;
        partition.touched = true;
        let sources = batches
            .into_iter()
            .map(|b| Box::new(std::iter::once(Ok(b))) as BatchSource)
            .collect();
        self.write_file(day, sources, true)?;
        Ok(())
    }

    /// Merges the sorted `sources` into a new file of the partition; returns its name.
    fn write_file(
        &mut self,
        day: i32,
        sources: Vec<BatchSource>,
        sort_each: bool,
    ) -> Result<String> {
        let dir = self.partition_dir(day);
        fs::create_dir_all(&dir).map_err(|e| DatasetError::Io {
            path: dir.clone(),
            source: e,
        })?;
        self.file_seq += 1;
        let name = format!("part-{}-{:05}.parquet", self.run_id, self.file_seq);
        let tmp = dir.join(format!(".{name}.partial"));
        let io_err = |path: &Path| {
            let path = path.to_owned();
            move |source| DatasetError::Io { path, source }
        };
        let file = File::create(&tmp).map_err(io_err(&tmp))?;
        let mut writer = ArrowWriter::try_new(
            BufWriter::with_capacity(1 << 20, file),
            schema::event_schema(),
            Some(self.props.clone()),
        )
        .map_err(|source| DatasetError::Parquet {
            path: tmp.clone(),
            source,
        })?;
        let mut rows = 0u64;
        let written = merge_sorted(sources, sort_each, |chunk| {
            rows += chunk.num_rows() as u64;
            writer
                .write(&chunk)
                .map_err(|e| ArrowError::ExternalError(Box::new(e)))
        });
        if let Err(e) = written {
            let _ = fs::remove_file(&tmp);
            return Err(match e {
                ArrowError::ExternalError(inner) => match inner.downcast::<ParquetError>() {
                    Ok(pe) => DatasetError::Parquet {
                        path: tmp,
                        source: *pe,
                    },
                    Err(other) => DatasetError::Arrow(ArrowError::ExternalError(other)),
                },
                other => DatasetError::Arrow(other),
            });
        }
        let buffered = writer
            .into_inner()
            .map_err(|source| DatasetError::Parquet {
                path: tmp.clone(),
                source,
            })?;
        let file = buffered.into_inner().map_err(|e| DatasetError::Io {
            path: tmp.clone(),
            source: e.into_error(),
        })?;
        file.sync_all().map_err(io_err(&tmp))?;
        let bytes = file.metadata().map_err(io_err(&tmp))?.len();
        drop(file);
        let dest = dir.join(&name);
        fs::rename(&tmp, &dest).map_err(io_err(&dest))?;
        sync_dir(&dir);
        debug_assert!(rows > 0 && bytes > 0);
        Ok(name)
    }

    /// Merges a partition's small files (from this run or earlier ones) into one.
    fn compact(&mut self, day: i32) -> Result<()> {
        let small: Vec<(PathBuf, u64)> = self
            .data_files(day)?
            .into_iter()
            .filter(|(_, len)| *len < self.options.small_file_bytes)
            .collect();
        if small.len() < 2 {
            return Ok(());
        }
        let mut sources: Vec<BatchSource> = Vec::new();
        for (path, _) in &small {
            let file = File::open(path).map_err(|e| DatasetError::Io {
                path: path.clone(),
                source: e,
            })?;
            let reader = ParquetRecordBatchReaderBuilder::try_new(file)
                .and_then(|b| b.with_batch_size(2048).build())
                .map_err(|source| DatasetError::ReadExisting {
                    path: path.clone(),
                    source,
                })?;
            // Files written by other tools could have a looser schema: cast to ours by name.
            sources.push(Box::new(reader.map(|b| b.and_then(conform))));
        }
        let dir = self.partition_dir(day);
        let merged = self.write_file(day, sources, false)?;
        let journal = Journal {
            partition: dir
                .file_name()
                .expect("partition dirs have names")
                .to_string_lossy()
                .into_owned(),
            merged: merged.clone(),
            inputs: small
                .iter()
                .map(|(p, _)| {
                    p.file_name()
                        .expect("files have names")
                        .to_string_lossy()
                        .into_owned()
                })
                .collect(),
        };
        // The merged file is already in place: journal first, then remove the inputs, so that a
        // crash in between is finished by the next run (see `recover`).
        let journal_path = self.root.join(STATE_DIR).join(format!(
            "compaction-{}.json",
            merged.trim_end_matches(".parquet")
        ));
        write_atomically(
            &journal_path,
            &serde_json::to_vec(&journal).expect("serializable"),
        )?;
        for (path, _) in &small {
            let _ = fs::remove_file(path);
        }
        sync_dir(&dir);
        let _ = fs::remove_file(&journal_path);
        self.stats.files_merged += small.len() as u64;
        Ok(())
    }

    /// Finishes interrupted compactions and removes temporary files of crashed runs.
    fn recover(&self) -> Result<()> {
        let state = self.root.join(STATE_DIR);
        let io = |path: &Path| {
            let path = path.to_owned();
            move |source| DatasetError::Io { path, source }
        };
        for entry in fs::read_dir(&state).map_err(io(&state))? {
            let path = entry.map_err(io(&state))?.path();
            let name = path
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            if !(name.starts_with("compaction-") && name.ends_with(".json")) {
                continue;
            }
            let journal: Option<Journal> = fs::read(&path)
                .ok()
                .and_then(|b| serde_json::from_slice(&b).ok());
            if let Some(j) = journal {
                // Only plain file names inside a `event_date=` folder: a journal is our own file,
                // but never let one point outside the dataset.
                let safe =
                    |n: &str| !n.contains(['/', '\\']) && n.ends_with(".parquet") && n != "..";
                let dir = self.root.join(&j.partition);
                if j.partition.starts_with("event_date=")
                    && !j.partition.contains(['/', '\\'])
                    && safe(&j.merged)
                    && dir.join(&j.merged).exists()
                {
                    for input in j.inputs.iter().filter(|n| safe(n)) {
                        let _ = fs::remove_file(dir.join(input));
                    }
                }
            }
            let _ = fs::remove_file(&path);
        }
        // Temporary files only ever exist while a run holds the lock, which we now hold.
        for entry in fs::read_dir(&self.root).map_err(io(&self.root))? {
            let dir = entry.map_err(io(&self.root))?.path();
            let is_partition = dir.file_name().is_some_and(|n| {
                n.to_string_lossy()
                    .starts_with(&format!("{PARTITION_COLUMN}="))
            });
            if !is_partition || !dir.is_dir() {
                continue;
            }
            for file in fs::read_dir(&dir).map_err(io(&dir))? {
                let file = file.map_err(io(&dir))?.path();
                let name = file.file_name().unwrap_or_default().to_string_lossy();
                if name.starts_with(".part-") && name.ends_with(".partial") {
                    let _ = fs::remove_file(&file);
                }
            }
        }
        Ok(())
    }
}

fn is_run_file(path: &Path, run_id: &str) -> bool {
    path.file_name()
        .is_some_and(|n| n.to_string_lossy().starts_with(&format!("part-{run_id}-")))
}

/// Reorders/casts a batch read back from the dataset to the event schema.
fn conform(batch: RecordBatch) -> std::result::Result<RecordBatch, ArrowError> {
    let target = schema::event_schema();
    if batch.schema().fields() == target.fields() {
        return RecordBatch::try_new(target, batch.columns().to_vec());
    }
    let columns = target
        .fields()
        .iter()
        .map(|f| match batch.column_by_name(f.name()) {
            Some(c) => arrow::compute::cast(c, f.data_type()),
            None => Ok(arrow::array::new_null_array(
                f.data_type(),
                batch.num_rows(),
            )),
        })
        .collect::<std::result::Result<Vec<_>, _>>()?;
    RecordBatch::try_new(target, columns)
}

/// Writer settings of every dataset file: zstd, dictionaries, page statistics (→ page index),
/// the sort order declared, and the schema and tool versions in the key-value metadata.
fn writer_properties(zstd_level: i32) -> WriterProperties {
    let schema = schema::event_schema();
    let parquet_schema = ArrowSchemaConverter::new()
        .convert(&schema)
        .expect("the event schema converts to Parquet");
    let event_time_leaf = parquet_schema
        .columns()
        .iter()
        .position(|c| c.path().parts() == [schema::EVENT_TIME])
        .expect("eventTime is a leaf column");
    let mut builder = WriterProperties::builder()
        .set_compression(Compression::ZSTD(
            ZstdLevel::try_new(zstd_level).unwrap_or_default(),
        ))
        .set_dictionary_enabled(true)
        .set_statistics_enabled(EnabledStatistics::Page)
        .set_sorting_columns(Some(vec![SortingColumn {
            column_idx: event_time_leaf as i32,
            descending: false,
            nulls_first: false,
        }]))
        .set_key_value_metadata(Some(vec![
            KeyValue::new(
                "trailq.schema_version".to_owned(),
                schema::SCHEMA_VERSION.to_owned(),
            ),
            KeyValue::new(
                "trailq.version".to_owned(),
                env!("CARGO_PKG_VERSION").to_owned(),
            ),
        ]));
    // Unique per row: a dictionary only costs time, and statistics on whole records say nothing.
    for column in [schema::EVENT_JSON, schema::EVENT_ID, schema::REQUEST_ID] {
        builder = builder.set_column_dictionary_enabled(ColumnPath::from(column), false);
    }
    builder = builder.set_column_statistics_enabled(
        ColumnPath::from(schema::EVENT_JSON),
        EnabledStatistics::None,
    );
    builder.build()
}

fn id_hash(id: &str) -> u128 {
    xxhash_rust::xxh3::xxh3_128(id.as_bytes())
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
fn sync_dir(dir: &Path) {
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

/// A little randomness for run ids without another dependency.
fn rand_u32() -> u32 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default(),
    );
    h.write_u32(std::process::id());
    h.finish() as u32
}
