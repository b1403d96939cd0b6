//! A partition's final write: its buffered rows, spilled runs and small files merged into
//! Parquet files rolled by size, and the journal that makes replacing small files crash-safe.

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;

use arrow::array::RecordBatch;
use arrow::error::ArrowError;
use parquet::arrow::ArrowSchemaConverter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::basic::{Compression, Encoding, ZstdLevel};
use parquet::file::metadata::{KeyValue, SortingColumn};
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::schema::types::ColumnPath;
use serde::{Deserialize, Serialize};

use super::layout;
use super::merge::{CHUNK_ROWS, Source, merge_sorted};
use super::parquet_file::{ParquetFileWriter, ROW_GROUP_ROWS};
use super::sink::{DatasetError, sync_dir, write_atomically};
use super::spill;
use trailq_events::schema;

type Result<T> = std::result::Result<T, DatasetError>;

/// A replacement of small files in progress. Written with `committed: false` before the merge
/// starts and again with `true` once every new file is in place, so that `recover` (on the next
/// open) undoes an unfinished merge or finishes a committed one.
#[derive(Serialize, Deserialize)]
pub(super) struct Journal {
    pub partition: String,
    pub run: String,
    pub inputs: Vec<String>,
    pub committed: bool,
    /// The merge's outputs are the run's files numbered above this. A run that commits more
    /// than once (an export) has earlier files in the partition that are not outputs.
    #[serde(default)]
    pub outputs_after: u64,
}

/// Everything a partition's final write merges.
pub(super) struct PartitionJob {
    pub day: i32,
    pub buffer: Vec<RecordBatch>,
    pub runs: Vec<PathBuf>,
    /// Existing small files of the partition, replaced by the merged ones.
    pub small: Vec<PathBuf>,
}

#[derive(Default)]
pub(super) struct WriteOutcome {
    pub files: u64,
    pub bytes: u64,
    pub merged: u64,
    pub partitions: u64,
}

/// A partition whose merge is done and whose last file is being finished on a thread of its
/// own: its `eventJson` helpers drain, the footer is written, the file synced and renamed, then
/// the journal is committed and the spilled runs removed. It owns all it uses, so it may outlive
/// the commit that started it (`ParquetDatasetSink::commit_through`).
pub(super) type Finishing = JoinHandle<Result<WriteOutcome>>;

/// Writes partitions' final files, one partition's merge at a time.
pub(super) struct PartitionWriter<'a> {
    pub root: &'a Path,
    pub run_id: &'a str,
    pub props: WriterProperties,
    pub file_target_bytes: usize,
    pub seq: AtomicU64,
}

impl PartitionWriter<'_> {
    /// Merges `job` into Parquet files and returns once every row is handed to a file writer;
    /// the last file is finished on its own thread (`Finishing`), so the caller can start
    /// merging the next partition, or go back to reading, while that file's `eventJson` helpers
    /// drain. A day of a real trail is often one row group: waiting for it left one core idle
    /// for most of each partition's write (BENCHMARKS.md, issue 15).
    pub fn write(&self, job: PartitionJob) -> Result<Finishing> {
        let dir = layout::partition_dir(self.root, job.day);
        let io_err = |path: &Path| {
            let path = path.to_owned();
            move |source| DatasetError::Io { path, source }
        };
        fs::create_dir_all(&dir).map_err(io_err(&dir))?;
        let mut sources: Vec<Source> = job.buffer.into_iter().map(Source::Unsorted).collect();
        for run in &job.runs {
            sources.push(Source::Sorted(Box::new(spill::read_run(run, None)?)));
        }
        for path in &job.small {
            let file = File::open(path).map_err(io_err(path))?;
            let reader = ParquetRecordBatchReaderBuilder::try_new(file)
                .and_then(|b| b.with_batch_size(CHUNK_ROWS).build())
                .map_err(|source| DatasetError::ReadExisting {
                    path: path.clone(),
                    source,
                })?;
            // Files written by other versions could differ: cast to the current schema by name.
            sources.push(Source::Sorted(Box::new(
                reader.map(|b| b.and_then(conform)),
            )));
        }
        let journal_path = layout::replace_journal(self.root, self.run_id, job.day);
        let mut journal = Journal {
            partition: dir
                .file_name()
                .expect("partition dirs have names")
                .to_string_lossy()
                .into_owned(),
            run: self.run_id.to_owned(),
            inputs: job
                .small
                .iter()
                .map(|p| {
                    p.file_name()
                        .expect("files have names")
                        .to_string_lossy()
                        .into_owned()
                })
                .collect(),
            committed: false,
            outputs_after: self.seq.load(Ordering::Relaxed),
        };
        if !job.small.is_empty() {
            write_atomically(
                &journal_path,
                &serde_json::to_vec(&journal).expect("serializable"),
            )?;
        }

        let mut outcome = WriteOutcome {
            partitions: 1,
            merged: job.small.len() as u64,
            ..WriteOutcome::default()
        };
        let mut current: Option<OpenFile> = None;
        let written = merge_sorted(sources, |chunk| {
            if current.is_none() {
                current = Some(self.open_file(&dir).map_err(to_arrow)?);
            }
            let file = current.as_mut().expect("opened above");
            file.writer.write(&chunk).map_err(|e| {
                to_arrow(DatasetError::Parquet {
                    path: file.writer.path.clone(),
                    source: e,
                })
            })?;
            if file.writer.estimated_size() >= self.file_target_bytes {
                let bytes = current.take().expect("open").close().map_err(to_arrow)?;
                outcome.files += 1;
                outcome.bytes += bytes;
            }
            Ok(())
        });
        if let Err(e) = written {
            if let Some(file) = current {
                let _ = fs::remove_file(&file.writer.path);
            }
            return Err(from_arrow(e));
        }
        Ok(crate::threads::spawn("finish-file", move || {
            if let Some(file) = current {
                outcome.bytes += file.close()?;
                outcome.files += 1;
            }
            sync_dir(&dir);
            if !job.small.is_empty() {
                journal.committed = true;
                write_atomically(
                    &journal_path,
                    &serde_json::to_vec(&journal).expect("serializable"),
                )?;
                for path in &job.small {
                    let _ = fs::remove_file(path);
                }
                sync_dir(&dir);
                let _ = fs::remove_file(&journal_path);
            }
            for run in &job.runs {
                let _ = fs::remove_file(run);
            }
            Ok(outcome)
        }))
    }

    fn open_file(&self, dir: &Path) -> Result<OpenFile> {
        let n = self.seq.fetch_add(1, Ordering::Relaxed) + 1;
        let dest = dir.join(layout::data_file_name(self.run_id, n));
        let tmp = layout::partial_path(&dest);
        let file = File::create(&tmp).map_err(|source| DatasetError::Io {
            path: tmp.clone(),
            source,
        })?;
        let writer = ParquetFileWriter::try_new(file, tmp.clone(), self.props.clone())
            .map_err(|source| DatasetError::Parquet { path: tmp, source })?;
        Ok(OpenFile { writer, dest })
    }
}

struct OpenFile {
    writer: ParquetFileWriter,
    dest: PathBuf,
}

impl OpenFile {
    /// Finishes the file, makes it durable and gives it its real name; returns its size.
    fn close(self) -> Result<u64> {
        let tmp = self.writer.path.clone();
        let io_err = |source| DatasetError::Io {
            path: tmp.clone(),
            source,
        };
        let file = self
            .writer
            .finish()
            .map_err(|source| DatasetError::Parquet {
                path: tmp.clone(),
                source,
            })?;
        file.sync_all().map_err(io_err)?;
        let bytes = file.metadata().map_err(io_err)?.len();
        drop(file);
        fs::rename(&tmp, &self.dest).map_err(|source| DatasetError::Io {
            path: self.dest.clone(),
            source,
        })?;
        Ok(bytes)
    }
}

/// The merge callback speaks `ArrowError`; these carry our error through it and back.
fn to_arrow(e: DatasetError) -> ArrowError {
    ArrowError::ExternalError(Box::new(e))
}

fn from_arrow(e: ArrowError) -> DatasetError {
    match e {
        ArrowError::ExternalError(inner) => match inner.downcast::<DatasetError>() {
            Ok(d) => *d,
            Err(other) => DatasetError::Arrow(ArrowError::ExternalError(other)),
        },
        other => DatasetError::Arrow(other),
    }
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

/// The zstd level of `eventJson`: 3, or `TRAILQ_EVENTJSON_ZSTD_LEVEL` (1–22). `eventJson` is over
/// half the dataset's bytes and most of the convert's compression work. Measured on both data
/// shapes (BENCHMARKS.md, `scripts/bench-levels.sh`): level 3 keeps a real-shaped dataset at 0.91×
/// its gzipped trail files for ~25% less CPU than level 11 (0.71×); the generator's small files
/// come to 1.15× (0.99× at 11). A higher level is for archives that are written once and kept.
pub(super) fn eventjson_zstd_level() -> i32 {
    static LEVEL: std::sync::OnceLock<i32> = std::sync::OnceLock::new();
    *LEVEL.get_or_init(|| zstd_level_from_env("TRAILQ_EVENTJSON_ZSTD_LEVEL"))
}

/// The zstd level of every other column: 3, or `TRAILQ_TYPED_ZSTD_LEVEL` (1–22). Their pages are
/// encoded on the thread that writes the partitions, the convert's critical path: against
/// level 6, level 3 took the convert 6% (real-shaped) and 13% (generator) less time for typed
/// columns 1.8% and 0.8% larger, and the saved queries read them no slower (BENCHMARKS.md,
/// issue 15, session 18).
fn typed_zstd_level() -> i32 {
    static LEVEL: std::sync::OnceLock<i32> = std::sync::OnceLock::new();
    *LEVEL.get_or_init(|| zstd_level_from_env("TRAILQ_TYPED_ZSTD_LEVEL"))
}

/// A zstd level from the environment variable `name`, 3 when it is unset or not 1–22.
fn zstd_level_from_env(name: &str) -> i32 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.trim().parse::<i32>().ok())
        .filter(|l| (1..=22).contains(l))
        .unwrap_or(3)
}

/// Writer settings of every dataset file: zstd ([`typed_zstd_level`]), dictionaries, page
/// statistics (→ page index), the sort order declared, and the schema and tool versions in the
/// key-value metadata.
/// `eventJson` repeats what the typed columns hold: it gets its own zstd level
/// ([`eventjson_zstd_level`]), 4 MiB pages and DELTA_LENGTH_BYTE_ARRAY (the records back to back,
/// lengths apart: 4% smaller than PLAIN's length-prefixed values); sorted `eventTime` and the
/// random ids get delta encodings instead of dictionaries that only grow.
pub(super) fn writer_properties() -> WriterProperties {
    let schema = schema::event_schema();
    let parquet_schema = ArrowSchemaConverter::new()
        .convert(&schema)
        .expect("the event schema converts to Parquet");
    let event_time_leaf = parquet_schema
        .columns()
        .iter()
        .position(|c| c.path().parts() == [schema::EVENT_TIME])
        .expect("eventTime is a leaf column");
    let zstd = |level| Compression::ZSTD(ZstdLevel::try_new(level).expect("valid zstd level"));
    let column = ColumnPath::from;
    let mut builder = WriterProperties::builder()
        .set_compression(zstd(typed_zstd_level()))
        .set_dictionary_enabled(true)
        .set_statistics_enabled(EnabledStatistics::Page)
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
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
        ]))
        .set_column_compression(column(schema::EVENT_JSON), zstd(eventjson_zstd_level()))
        .set_column_data_page_size_limit(column(schema::EVENT_JSON), 4 << 20)
        .set_column_statistics_enabled(column(schema::EVENT_JSON), EnabledStatistics::None)
        .set_column_dictionary_enabled(column(schema::EVENT_TIME), false)
        .set_column_encoding(column(schema::EVENT_TIME), Encoding::DELTA_BINARY_PACKED);
    for id in [schema::EVENT_JSON, schema::EVENT_ID, schema::REQUEST_ID] {
        builder = builder.set_column_dictionary_enabled(column(id), false);
    }
    for id in [schema::EVENT_JSON, schema::EVENT_ID, schema::REQUEST_ID] {
        builder = builder.set_column_encoding(column(id), Encoding::DELTA_LENGTH_BYTE_ARRAY);
    }
    // Bloom filters on what the saved queries (and an investigator's `eventID = …`) test for
    // equality: a row group without the service or the event is skipped unread. Statistics
    // cannot do it (a day's row group holds every service from `a…` to `w…`); on real trails,
    // where Inspector's events are a few among many services', most row groups go. Sized for a
    // row group, then folded to the values it holds: ~60 services take a few hundred bytes,
    // 16,384 event ids ~20 KB (about 1% of the dataset).
    for filtered in [schema::EVENT_SOURCE, schema::EVENT_NAME, schema::EVENT_ID] {
        builder = builder
            .set_column_bloom_filter_enabled(column(filtered), true)
            .set_column_bloom_filter_fpp(column(filtered), 0.01)
            .set_column_bloom_filter_max_ndv(column(filtered), ROW_GROUP_ROWS as u64);
    }
    builder.build()
}
