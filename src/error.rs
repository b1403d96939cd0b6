//! The errors users should expect, each with the exit status it gives.
//!
//! Exit statuses: 0 all good; 1 the run finished but something was rejected (details printed and
//! kept in `<out>/_trailq/rejected.jsonl`); 2 the run could not be done (this enum); 130
//! interrupted by Ctrl-C (what was finished is kept).

use std::io;

use trailq::aws::AwsError;
use trailq::dataset::checkpoint::CheckpointError;
use trailq::dataset::sink::DatasetError;
use trailq::detect::DetectError;
use trailq::library::LibraryError;
use trailq::local_engine::LocalError;
use trailq::params::ParamError;
use trailq::pipeline::PipelineError;
use trailq::results::ResultsError;
use trailq::source::lake::LakeError;
use trailq_emulator::EmulatorError;
use trailq_events::files::PathError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Dataset(#[from] DatasetError),
    #[error(transparent)]
    Input(#[from] PathError),
    #[error(transparent)]
    Emulator(EmulatorError),
    #[error(transparent)]
    Aws(#[from] AwsError),
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    #[error(transparent)]
    Pipeline(#[from] PipelineError),
    // The next six say everything in one line (their messages already carry their causes'
    // text).
    #[error("{0}")]
    Library(LibraryError),
    #[error("{0}")]
    Param(ParamError),
    #[error("{0}")]
    Lake(LakeError),
    #[error("{}", trailq::error_chain(.0))]
    Local(LocalError),
    #[error("{}", trailq::error_chain(.0))]
    Results(ResultsError),
    #[error("{0}")]
    Detect(DetectError),
    /// An AWS API refused a request in a way retrying cannot fix.
    #[error("{0}")]
    Api(String),
    /// Ctrl-C; the text ([`EXPORT_KEPT`], [`NOTHING_WRITTEN`]) says what was kept (an export's finished slices, or nothing).
    #[error("interrupted: {0}")]
    Interrupted(&'static str),
    #[error("{0}")]
    Usage(String),
    #[error("cannot write to standard output")]
    Stdout(#[source] io::Error),
}

impl Error {
    /// The exit status this error gives.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Interrupted(_) => EXIT_INTERRUPTED,
            _ => EXIT_ERROR,
        }
    }

    /// True when the error is only that the reader of our output went away (`trailq … | head`).
    pub fn is_broken_pipe(&self) -> bool {
        matches!(self, Error::Stdout(e) if e.kind() == io::ErrorKind::BrokenPipe)
    }
}

/// `?` for errors shown as one line (see the variants above).
macro_rules! one_line_from {
    ($($variant:ident($error:ty)),* $(,)?) => {$(
        impl From<$error> for Error {
            fn from(e: $error) -> Self {
                Error::$variant(e)
            }
        }
    )*};
}
one_line_from!(
    Library(LibraryError),
    Param(ParamError),
    Lake(LakeError),
    Local(LocalError),
    Detect(DetectError),
);

impl From<ResultsError> for Error {
    fn from(e: ResultsError) -> Self {
        match e {
            // The reader of our output went away: `main` ends quietly.
            ResultsError::Stdout(e) => Error::Stdout(e),
            e => Error::Results(e),
        }
    }
}

pub type Result<T> = std::result::Result<T, Error>;

/// Exit status of a run that finished with rejected inputs.
pub const EXIT_REJECTED: u8 = 1;
/// Exit status of a run that could not be done.
pub const EXIT_ERROR: u8 = 2;
/// Exit status after Ctrl-C (128 + SIGINT), as shells expect.
pub const EXIT_INTERRUPTED: u8 = 130;

/// What an interrupted export keeps.
pub const EXPORT_KEPT: &str =
    "the slices already finished are in the dataset; run the same command again to continue";
/// What an interrupted query keeps: its output is written only once every row is in.
pub const NOTHING_WRITTEN: &str = "no output was written";
