//! trailq: AWS CloudTrail events into typed, partitioned, lossless Parquet.
//!
//! ```text
//!  Source ──raw CloudTrail records (JSON text)──▶ record::parse_record + batch::EventBatchBuilder ──RecordBatch──▶ Sink
//!  (source::log_files, …)                         (schema.rs: the one schema)                                  (sink::parquet_dataset)
//! ```
//! Every source yields each record's JSON text exactly as AWS gave it, so one parser serves all
//! of them and `eventJson` keeps the record losslessly. Sources never see output formats; sinks
//! never see input formats or SDK types.

pub mod aws;
pub mod batch;
pub mod checkpoint;
pub mod cli;
pub mod commands;
pub mod emulator;
pub mod error;
pub mod json;
pub mod library;
pub mod memory;
pub mod pace;
pub mod params;
pub mod record;
pub mod schema;
pub mod sink;
pub mod source;
pub mod sql;
pub mod time;
