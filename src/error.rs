//! The errors users should expect, each with the exit status it gives.
//!
//! Exit statuses: 0 all good; 1 the run finished but something was rejected (details printed and
//! kept in `<out>/_trailq/rejected.jsonl`); 2 the run could not be done (this enum).

use std::io;

use crate::emulator::EmulatorError;
use crate::sink::parquet_dataset::DatasetError;
use crate::source::log_files::PathError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Dataset(#[from] DatasetError),
    #[error(transparent)]
    Input(#[from] PathError),
    #[error(transparent)]
    Emulator(EmulatorError),
    #[error("{0}")]
    Usage(String),
    #[error("cannot write to standard output")]
    Stdout(#[source] io::Error),
}

impl Error {
    /// True when the error is only that the reader of our output went away (`trailq … | head`).
    pub fn is_broken_pipe(&self) -> bool {
        matches!(self, Error::Stdout(e) if e.kind() == io::ErrorKind::BrokenPipe)
    }
}

pub type Result<T> = std::result::Result<T, Error>;

/// Exit status of a run that finished with rejected inputs.
pub const EXIT_REJECTED: u8 = 1;
/// Exit status of a run that could not be done.
pub const EXIT_ERROR: u8 = 2;
