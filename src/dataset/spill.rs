//! Spilled runs: a partition's rows, sorted by `eventTime`, parked as an Arrow IPC file (LZ4, or
//! uncompressed where memory and the disk have room: [`SpillFormat`]) under
//! `<out>/_trailq/spill/<run>/` when memory runs short. The commit of their partition (once a
//! convert's input is past its day, at the end of the run, or an export's finished slice) merges
//! them into Parquet, so every row is encoded to Parquet once, however the input was ordered.
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

/// How spilled runs are written. A convert spills nearly every row once (the memory budget is a
/// few dozen MB): LZ4 both ways was 14% of a real-shaped convert's CPU, and uncompressed runs
/// made it 6–17% faster (user time −4 s, system time +1–5 s), but they take 13–16× their gzipped
/// input on disk where LZ4's take 3.2–3.6× (BENCHMARKS.md, issue 15). They are faster only while
/// the page cache holds them (they are read back and deleted within the run): past the kernel's
/// dirty limit (20% of memory by default) writing waits for the disk, and four times the bytes
/// to a slow disk is slower. So a run is uncompressed only while the runs parked at once fit in
/// [`uncompressed_room`], LZ4 past it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpillFormat {
    Lz4,
    Uncompressed,
}

/// The most bytes of uncompressed runs to park at once: a fifth of `memory` (available) while
/// `disk` (free where they go) holds them 1.5 times over plus 1 GiB; `None` (every run LZ4) when
/// either is unknown. Decided per run against the runs not yet committed, so it holds for input
/// whose size is unknown before reading (S3) and for a convert that commits the days it has
/// passed, whose runs are those of a few days whatever the input's size.
pub fn uncompressed_room(memory: Option<u64>, disk: Option<u64>) -> Option<u64> {
    let by_memory = memory? / 5;
    let by_disk = disk?.checked_sub(1 << 30)? / 3 * 2;
    Some(by_memory.min(by_disk))
}

/// Bytes an unprivileged user can still write on the file system holding `path`.
pub fn free_bytes(path: &Path) -> Option<u64> {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        let c_path = std::ffi::CString::new(path.as_os_str().as_bytes()).ok()?;
        let mut stat = std::mem::MaybeUninit::<libc::statvfs>::uninit();
        // SAFETY: `c_path` is a NUL-terminated path and `stat` is written by a successful call.
        let stat = unsafe {
            if libc::statvfs(c_path.as_ptr(), stat.as_mut_ptr()) != 0 {
                return None;
            }
            stat.assume_init()
        };
        #[allow(clippy::unnecessary_cast)] // the field types differ between platforms
        Some((stat.f_bavail as u64).saturating_mul(stat.f_frsize as u64))
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        None
    }
}

/// Sorts `batches` and writes them as one run at `path`.
pub fn write_run(
    path: &Path,
    batches: Vec<RecordBatch>,
    format: SpillFormat,
) -> Result<(), ArrowError> {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir)?;
    }
    let compression = match format {
        SpillFormat::Lz4 => Some(CompressionType::LZ4_FRAME),
        SpillFormat::Uncompressed => None,
    };
    let options = IpcWriteOptions::default().try_with_compression(compression)?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uncompressed_runs_get_a_fifth_of_memory_while_the_disk_holds_them_with_room_to_spare() {
        let gib = 1u64 << 30;
        assert_eq!(
            uncompressed_room(Some(24 * gib), Some(70 * gib)),
            Some(24 * gib / 5)
        );
        // 4 GiB free: 3 GiB past the reserve, of which runs may take two thirds.
        assert_eq!(
            uncompressed_room(Some(24 * gib), Some(4 * gib)),
            Some(2 * gib)
        );
        assert_eq!(uncompressed_room(Some(24 * gib), Some(gib / 2)), None);
        assert_eq!(uncompressed_room(None, Some(70 * gib)), None);
        assert_eq!(uncompressed_room(Some(24 * gib), None), None);
        assert_eq!(
            uncompressed_room(Some(u64::MAX), Some(u64::MAX)),
            Some(u64::MAX / 5)
        );
    }

    #[test]
    fn free_space_is_read_from_the_disk_holding_the_dataset() {
        let dir = tempfile::tempdir().unwrap();
        #[cfg(unix)]
        assert!(free_bytes(dir.path()).is_some_and(|b| b > 0));
        assert_eq!(free_bytes(&dir.path().join("missing")), None);
    }
}
