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
pub mod detect;
pub mod library;
pub mod local_engine;
pub mod memory;
pub mod org;
pub mod pace;
pub mod params;
pub mod pipeline;
pub mod report;
pub mod results;
pub mod s3;
pub mod source;
pub mod threads;

/// An error and its causes on one line: `a: b: c`. A cause whose text the line already holds is
/// left out: DataFusion's and object_store's errors print their causes themselves, so chaining
/// them naively repeats one message three times.
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(s) = source {
        let cause = s.to_string();
        if !text.contains(&cause) {
            text = format!("{text}: {cause}");
        }
        source = s.source();
    }
    // DataFusion puts a context and its cause on lines of their own.
    text.replace("\ncaused by\n", ": ")
}

/// `text` with every run of whitespace (newlines too) made one space: services' error bodies span
/// lines, and a problem is reported on one.
pub fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_cause_already_in_the_message_is_not_repeated() {
        let io = std::io::Error::other("disk full");
        let df = datafusion::error::DataFusionError::External(Box::new(io));
        let outer = datafusion::error::DataFusionError::Context("writing".into(), Box::new(df));
        assert_eq!(
            super::error_chain(&outer),
            "writing: External error: disk full"
        );
    }
}
