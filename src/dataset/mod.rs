//! The event dataset: hive-partitioned Parquet under `--out`, and its state in `_trailq/`.
//!
//! - [`layout`]: every path under the dataset's root (nothing else spells one);
//! - [`sink`]: [`sink::ParquetDatasetSink`], the one writer: buffer, spill, commit; `dedup`: an
//!   eventID lands once;
//! - [`partition_writer`], [`merge`], [`parquet_file`], [`spill`]: how a commit writes a partition;
//! - `recover`: what a crashed run left, repaired before the next run writes;
//! - [`rejected`]: the reject log; [`checkpoint`]: an export's progress;
//! - [`remote`]: a dataset in S3, written through a local staging copy.
//!
//! Sinks never see SDK types or input formats: rows arrive as Arrow batches of the event schema
//! from the pipeline (`crate::pipeline`).

pub mod checkpoint;
mod dedup;
pub mod layout;
pub mod merge;
pub mod parquet_file;
mod partition_writer;
mod recover;
pub mod rejected;
pub mod remote;
pub mod sink;
pub mod spill;

/// Where a dataset is written: `--out DIR` or `--out s3://BUCKET/PREFIX`.
#[derive(Debug, Clone)]
pub enum Out {
    Dir(std::path::PathBuf),
    /// With the AWS configuration to write it with.
    S3 {
        url: crate::s3::S3Url,
        config: Box<aws_config::SdkConfig>,
    },
}
