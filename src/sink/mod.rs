//! Sinks: where rows go — the event dataset (`parquet_dataset`), or a query's typed results
//! (`results`). Sinks never see SDK types or input formats.

pub mod merge;
pub mod parquet_dataset;
pub mod parquet_file;
mod partition_writer;
pub mod rejected;
pub mod results;
pub mod spill;
