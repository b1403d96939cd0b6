//! The trailq crate: CloudTrail's three sources, the one pipeline into the Parquet dataset, the
//! local query engine over it, and the saved query library. The binary (`main.rs`, `cli.rs`,
//! `commands/`) is a thin layer of commands over it.
//!
//! ```text
//!  source::{lookup_events, lake}, trailq_events::files ──raw record JSON + origin──▶ pipeline ──▶ dataset (sink)
//!                                                         parse → reject → batch → commit
//! ```
//! Every source yields each record's JSON text exactly as AWS gave it, so one parser
//! (`trailq_events::record`) serves all of them and `eventJson` keeps the record losslessly.
//! Sources never see output formats; sinks never see input formats or SDK types.

pub mod aws;
pub mod dataset;
pub mod library;
pub mod local_engine;
pub mod memory;
pub mod pace;
pub mod params;
pub mod pipeline;
pub mod results;
pub mod source;

/// An error and its causes on one line: `a: b: c`.
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(s) = source {
        text = format!("{text}: {s}");
        source = s.source();
    }
    text
}
