//! `<out>/_trailq/rejected.jsonl`: every input that did not become a row, with where it came from
//! and why. One JSON object a line, appended run after run (each line names its run).

use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::layout;
use super::sink::DatasetError;

/// One rejected input: a record (its text kept whole, so nothing is lost) or a whole file.
#[derive(Debug, Serialize)]
pub struct Rejection<'a> {
    pub run: &'a str,
    /// A file path, or an API call (for the AWS sources).
    pub source: &'a str,
    /// Where in the source: `Records[3]`, `line 7`, `whole file`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub position: Option<String>,
    pub reason: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub record: Option<&'a str>,
}

pub struct RejectLog {
    path: PathBuf,
    writer: Option<BufWriter<File>>,
    count: u64,
}

impl RejectLog {
    /// The log of the dataset at `root`; the file is created on the first rejection only.
    pub fn new(root: &Path) -> Self {
        RejectLog {
            path: layout::rejected_file(root),
            writer: None,
            count: 0,
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn count(&self) -> u64 {
        self.count
    }

    pub fn add(&mut self, rejection: &Rejection<'_>) -> Result<(), DatasetError> {
        let io_err = |source| DatasetError::Io {
            path: self.path.clone(),
            source,
        };
        if self.writer.is_none() {
            if let Some(dir) = self.path.parent() {
                fs::create_dir_all(dir).map_err(io_err)?;
            }
            let file = File::options()
                .create(true)
                .append(true)
                .open(&self.path)
                .map_err(io_err)?;
            self.writer = Some(BufWriter::new(file));
        }
        let writer = self.writer.as_mut().expect("opened above");
        let mut line = serde_json::to_vec(rejection).expect("rejections serialize");
        line.push(b'\n');
        writer.write_all(&line).map_err(io_err)?;
        self.count += 1;
        Ok(())
    }

    /// Flushes and syncs the log.
    pub fn sync(&mut self) -> Result<(), DatasetError> {
        if let Some(w) = &mut self.writer {
            let io_err = |source| DatasetError::Io {
                path: self.path.clone(),
                source,
            };
            w.flush().map_err(io_err)?;
            w.get_ref().sync_all().map_err(io_err)?;
        }
        Ok(())
    }
}
