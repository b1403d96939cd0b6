//! The dataset's folder layout: the one module that spells a path under `--out`.
//!
//! ```text
//! <out>/event_date=YYYY-MM-DD/part-<run>-<n>.parquet     data: hive partition on eventTime's UTC date
//! <out>/event_date=YYYY-MM-DD/.part-<run>-<n>.parquet.partial   a file being written (never read)
//! <out>/_trailq/lock                                     held by the one writer (an OS lock; in S3
//!                                                        an object created only if absent)
//! <out>/_trailq/publish.json                             S3 only: a publish that replaces files
//! <out>/_trailq/rejected.jsonl                           inputs that did not become rows, and why
//! <out>/_trailq/export.json                              an export's window and progress
//! <out>/_trailq/replace-<run>-<day>.json                 journal of a partition's small-file merge
//! <out>/_trailq/spill/<run>/<day>-<n>.arrow              rows parked on disk until the commit
//! ```
//! Partition and file names are built only from parsed times and the run's own id, never from
//! record text (a Region of `../../x` in a record cannot become a path).

use std::path::{Path, PathBuf};

use trailq_events::schema::PARTITION_COLUMN;
use trailq_events::time::{format_day, parse_day};

/// The state folder under the dataset's root.
pub const STATE_DIR: &str = "_trailq";

pub fn state_dir(root: &Path) -> PathBuf {
    root.join(STATE_DIR)
}

/// The writer's lock file.
pub fn lock_file(root: &Path) -> PathBuf {
    state_dir(root).join("lock")
}

/// Every input that did not become a row, one JSON object a line.
pub fn rejected_file(root: &Path) -> PathBuf {
    root.join(rejected_name())
}

/// [`rejected_file`] relative to the root (also its key under an S3 dataset's prefix).
pub fn rejected_name() -> String {
    format!("{STATE_DIR}/rejected.jsonl")
}

/// An export's window and how far each stream got.
pub fn export_state_file(root: &Path) -> PathBuf {
    state_dir(root).join("export.json")
}

/// The S3 trail folders `convert s3://…` read into this dataset, and how far (`--since-last`).
pub fn sources_state_file(root: &Path) -> PathBuf {
    state_dir(root).join("convert-s3.json")
}

/// State files a dataset in S3 keeps under its `_trailq/` (brought down at the start of a run,
/// sent back with the data): what a resumed or incremental run reads.
pub const SHARED_STATE_FILES: [&str; 3] = ["export.json", "convert-s3.json", "rejected.jsonl"];

/// What `trailq detect --since-last` already reported from this dataset.
pub fn detect_reported_file(root: &Path) -> PathBuf {
    state_dir(root).join("detect-reported.json")
}

/// Where spilled runs live; everything under it belongs to the run holding the lock.
pub fn spill_root(root: &Path) -> PathBuf {
    state_dir(root).join("spill")
}

/// One spilled run of a partition's rows.
pub fn spill_file(root: &Path, run_id: &str, day: i32, seq: u64) -> PathBuf {
    spill_root(root)
        .join(run_id)
        .join(format!("{}-{seq:06}.arrow", format_day(day)))
}

/// The journal of replacing a partition's small files.
pub fn replace_journal(root: &Path, run_id: &str, day: i32) -> PathBuf {
    state_dir(root).join(format!("replace-{run_id}-{}.json", format_day(day)))
}

/// True for a file name [`replace_journal`] makes.
pub fn is_replace_journal(name: &str) -> bool {
    name.starts_with("replace-") && name.ends_with(".json")
}

/// `event_date=YYYY-MM-DD`: a partition's folder name.
pub fn partition_name(day: i32) -> String {
    format!("{PARTITION_COLUMN}={}", format_day(day))
}

pub fn partition_dir(root: &Path, day: i32) -> PathBuf {
    root.join(partition_name(day))
}

/// The day (days since the epoch) of a partition folder's name; `None` for anything else.
pub fn partition_day(name: &str) -> Option<i32> {
    name.strip_prefix(PARTITION_COLUMN)?
        .strip_prefix('=')
        .and_then(parse_day)
}

/// `part-<run>-<n>.parquet`: the `n`th data file a run writes.
pub fn data_file_name(run_id: &str, n: u64) -> String {
    format!("part-{run_id}-{n:05}.parquet")
}

/// True for a finished data file (a file being written starts with `.`).
pub fn is_data_file(name: &str) -> bool {
    name.starts_with("part-") && name.ends_with(".parquet")
}

/// The temporary name a data file is written under, beside it, until it is whole.
pub fn partial_path(final_path: &Path) -> PathBuf {
    let name = final_path.file_name().unwrap_or_default().to_string_lossy();
    final_path.with_file_name(format!(".{name}.partial"))
}

/// True for a file [`partial_path`] makes: only ever left behind by a run that crashed.
pub fn is_partial(name: &str) -> bool {
    name.starts_with(".part-") && name.ends_with(".partial")
}

/// `n` of a data file `part-<run_id>-<n>.parquet` written by `run_id`.
pub fn file_number(name: &str, run_id: &str) -> Option<u64> {
    name.strip_prefix("part-")?
        .strip_prefix(run_id)?
        .strip_prefix('-')?
        .strip_suffix(".parquet")?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_reject_lookalikes() {
        let day = parse_day("2026-11-24").unwrap();
        assert_eq!(partition_name(day), "event_date=2026-11-24");
        assert_eq!(partition_day("event_date=2026-11-24"), Some(day));
        for not_a_partition in [
            "event_date=",
            "event_date=../x",
            "event_dates=2026-11-24",
            "x",
        ] {
            assert_eq!(partition_day(not_a_partition), None, "{not_a_partition}");
        }
        let name = data_file_name("20261124T000000-0000abcd", 7);
        assert_eq!(name, "part-20261124T000000-0000abcd-00007.parquet");
        assert!(is_data_file(&name));
        assert_eq!(file_number(&name, "20261124T000000-0000abcd"), Some(7));
        assert_eq!(file_number(&name, "20261124T000000"), None);
        let partial = partial_path(&Path::new("/d").join(&name));
        let partial_name = partial.file_name().unwrap().to_str().unwrap();
        assert!(is_partial(partial_name) && !is_data_file(partial_name));
    }
}
