//! Sinks: where rows of the event schema go. Sinks never see SDK types or input formats.

pub mod merge;
pub mod parquet_dataset;
pub mod parquet_file;
mod partition_writer;
pub mod rejected;
pub mod spill;
