//! The event dataset: hive-partitioned Parquet under `--out`, and its state in `_trailq/`.
//!
//! - [`layout`]: every path under the dataset's root (nothing else spells one);
//! - [`sink`]: [`sink::ParquetDatasetSink`], the one writer: buffer, spill, commit; `dedup`: an
//!   eventID lands once;
//! - [`partition_writer`], [`merge`], [`parquet_file`], [`spill`]: how a commit writes a partition;
//! - `recover`: what a crashed run left, repaired before the next run writes;
//! - [`rejected`]: the reject log; [`checkpoint`]: an export's progress.
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
pub mod sink;
pub mod spill;
