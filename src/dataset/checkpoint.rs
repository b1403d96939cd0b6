//! An export's progress, kept in `<out>/_trailq/export.json` so that an interrupted export
//! (crash, kill -9, Ctrl-C) continues where it stopped and `--since-last` knows where the last
//! finished one ended.
//!
//! The window is fixed when an export starts and stored here; re-running the same command
//! resumes that window instead of computing a new "last 90 days". Each stream records how far
//! back it is covered; the record is written (atomically) only after the rows it covers are in
//! the dataset's files, so a crash between the two re-fetches a slice, and deduplication by
//! eventID keeps it from landing twice.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::dataset::layout;
use crate::dataset::sink::write_atomically;
use crate::source::trail_bucket::SourcesState;

const VERSION: u32 = 1;

/// One export's window and how far each of its streams got.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Run {
    /// When it started (RFC 3339).
    pub started: String,
    /// The window, µs, whole seconds, both ends inclusive.
    pub start_micros: i64,
    pub end_micros: i64,
    /// Per stream key: everything from here to `end_micros` is in the dataset.
    pub covered_from: BTreeMap<String, i64>,
}

impl Run {
    pub fn new(started: String, start_micros: i64, end_micros: i64, streams: &[String]) -> Self {
        Run {
            started,
            start_micros,
            end_micros,
            covered_from: streams
                .iter()
                .map(|s| (s.clone(), end_micros + 1_000_000))
                .collect(),
        }
    }

    /// True if this run was started for exactly these streams.
    pub fn has_streams(&self, streams: &[String]) -> bool {
        self.covered_from.len() == streams.len()
            && streams.iter().all(|s| self.covered_from.contains_key(s))
    }

    pub fn is_complete(&self) -> bool {
        self.covered_from.values().all(|c| *c <= self.start_micros)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExportState {
    pub version: u32,
    /// An export that has not finished.
    pub current: Option<Run>,
    /// The last export that finished: `--since-last` starts where it ended.
    pub last_finished: Option<Run>,
}

#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    #[error("cannot read the {what} `{path}`")]
    Read {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "the {what} `{path}` is damaged ({detail}); move it away to start over (the dataset itself is fine)"
    )]
    Damaged {
        what: &'static str,
        path: PathBuf,
        detail: String,
    },
    #[error("cannot save the {0}")]
    Write(&'static str, #[source] crate::dataset::sink::DatasetError),
}

const EXPORT: &str = "export checkpoint";
const SOURCES: &str = "record of the S3 folders converted";

pub fn path(root: &Path) -> PathBuf {
    layout::export_state_file(root)
}

/// The dataset's export state (empty for a dataset no export wrote).
pub fn load(root: &Path) -> Result<ExportState, CheckpointError> {
    load_state(
        &path(root),
        EXPORT,
        |s: &ExportState| s.version,
        || ExportState {
            version: VERSION,
            ..ExportState::default()
        },
    )
}

pub fn save(root: &Path, state: &ExportState) -> Result<(), CheckpointError> {
    save_state(&path(root), EXPORT, state)
}

/// What `convert s3://…` read into the dataset, per account-Region (empty if nothing yet).
pub fn load_sources(root: &Path) -> Result<SourcesState, CheckpointError> {
    load_state(
        &layout::sources_state_file(root),
        SOURCES,
        |s: &SourcesState| s.version,
        || SourcesState {
            version: VERSION,
            ..SourcesState::default()
        },
    )
}

pub fn save_sources(root: &Path, state: &SourcesState) -> Result<(), CheckpointError> {
    save_state(&layout::sources_state_file(root), SOURCES, state)
}

/// A state file: `fresh()` when there is none yet.
fn load_state<T: serde::de::DeserializeOwned>(
    path: &Path,
    what: &'static str,
    version: impl Fn(&T) -> u32,
    fresh: impl FnOnce() -> T,
) -> Result<T, CheckpointError> {
    let path = path.to_owned();
    let text = match fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(fresh()),
        Err(source) => return Err(CheckpointError::Read { what, path, source }),
    };
    let state: T = serde_json::from_str(&text).map_err(|e| CheckpointError::Damaged {
        what,
        path: path.clone(),
        detail: e.to_string(),
    })?;
    if version(&state) != VERSION {
        return Err(CheckpointError::Damaged {
            what,
            path,
            detail: format!("version {} is not {VERSION}", version(&state)),
        });
    }
    Ok(state)
}

fn save_state<T: Serialize>(
    path: &Path,
    what: &'static str,
    state: &T,
) -> Result<(), CheckpointError> {
    let text = serde_json::to_vec_pretty(state).expect("the state serializes");
    write_atomically(path, &text).map_err(|e| CheckpointError::Write(what, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_damage() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        assert_eq!(load(root).unwrap().current, None);
        fs::create_dir_all(layout::state_dir(root)).unwrap();
        let streams = vec!["a|us-east-1|EventSource=x".to_owned()];
        let mut run = Run::new("2026-11-24T00:00:00Z".into(), 0, 10_000_000, &streams);
        assert!(!run.is_complete() && run.has_streams(&streams));
        let state = ExportState {
            version: VERSION,
            current: Some(run.clone()),
            last_finished: None,
        };
        save(root, &state).unwrap();
        assert_eq!(load(root).unwrap(), state);
        run.covered_from.insert(streams[0].clone(), 0);
        assert!(run.is_complete());
        fs::write(path(root), "{").unwrap();
        let e = load(root).unwrap_err().to_string();
        assert!(e.contains("damaged") && e.contains("move it away"), "{e}");
    }
}
