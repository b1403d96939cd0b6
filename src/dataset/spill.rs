//! Spilled runs: a partition's rows, sorted by `eventTime`, parked as an LZ4-compressed Arrow IPC
//! file under `<out>/_trailq/spill/<run>/` when memory runs short. The next commit (the end of a
//! convert run, or an export's finished slice) merges them into Parquet, so every row is encoded to
//! Parquet once, however the input was ordered.
//! Runs are private to their run: a crashed run's leftovers are deleted by the next one.

use std::fs::{self, File};
use std::io::{BufReader, BufWriter};
use std::path::Path;

use arrow::array::RecordBatch;
use arrow::error::ArrowError;
use arrow::ipc::CompressionType;
use arrow::ipc::reader::FileReader;
use arrow::ipc::writer::{FileWriter, IpcWriteOptions};

use super::merge::{Source, merge_sorted};
use trailq_events::schema;

/// Sorts `batches` and writes them as one run at `path`.
pub fn write_run(path: &Path, batches: Vec<RecordBatch>) -> Result<(), ArrowError> {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir)?;
    }
    let options =
        IpcWriteOptions::default().try_with_compression(Some(CompressionType::LZ4_FRAME))?;
    let file = BufWriter::with_capacity(1 << 20, File::create(path)?);
    let mut writer = FileWriter::try_new_with_options(file, &schema::event_schema(), options)?;
    let sources = batches.into_iter().map(Source::Unsorted).collect();
    merge_sorted(sources, |chunk| writer.write(&chunk))?;
    writer.finish()?;
    Ok(())
}

/// Reads a run back, batch by batch, optionally only some columns.
pub fn read_run(
    path: &Path,
    columns: Option<&[&str]>,
) -> Result<impl Iterator<Item = Result<RecordBatch, ArrowError>> + Send + use<>, ArrowError> {
    let projection = columns.map(|names| names.iter().map(|n| schema::column_index(n)).collect());
    let file = BufReader::with_capacity(64 << 10, File::open(path)?);
    FileReader::try_new(file, projection)
}

/// Removes every spill folder: called only by the run that holds the dataset's lock, so any
/// folder there belongs to a run that is gone.
pub fn remove_stale(root: &Path) {
    let _ = fs::remove_dir_all(super::layout::spill_root(root));
}
