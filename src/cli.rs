//! Command-line interface: clap derive. Each subcommand's arguments live in its own file under
//! `commands/`; doc comments are the help text.

use clap::{Parser, Subcommand};

use crate::commands::{
    convert::ConvertArgs, demo::DemoArgs, detect::DetectArgs, emulator::EmulatorArgs,
    export::ExportArgs, history::HistoryArgs, queries::QueriesArgs, query::QueryArgs,
    report::ReportArgs, schema::SchemaArgs, stores::StoresArgs,
};

/// Get AWS CloudTrail events — Amazon Inspector's first — into typed, partitioned, lossless
/// Parquet that DuckDB, DataFusion, Spark and Athena read directly.
#[derive(Debug, Parser)]
#[command(
    name = "trailq",
    version,
    propagate_version = true,
    max_term_width = 100
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Export Event history (LookupEvents) to the Parquet dataset: the last 90 days of Amazon
    /// Inspector events by default, paced to 2 requests/s per account and Region, resumable
    Export(Box<ExportArgs>),
    /// Convert trail log files and saved LookupEvents/Lake JSON into the Parquet dataset
    Convert(ConvertArgs),
    /// See it work: the emulator in-process, a 90-day export of three accounts against it, and
    /// the DuckDB command to open the result
    Demo(DemoArgs),
    /// Run the CloudTrail emulator: CloudTrail's API on loopback with 90 days of realistic
    /// Inspector activity, CloudTrail's limits and injectable faults
    Emulator(Box<EmulatorArgs>),
    /// Run a CloudTrail Lake query (SQL, a file, or a saved query): start it, wait, page the
    /// results, write them typed
    Query(Box<QueryArgs>),
    /// The saved Amazon Inspector queries: list, show, and run them on Lake or on an export
    Queries(QueriesArgs),
    /// List CloudTrail Lake event data stores (ID, name, status, retention)
    Stores(StoresArgs),
    /// List recent CloudTrail Lake queries of an event data store
    History(HistoryArgs),
    /// Print the event schema, or the DDL that opens a dataset in DuckDB or Athena
    Schema(SchemaArgs),
    /// Run every detection of the saved query library on an export or on Lake: findings by
    /// severity as a table, JSON or OCSF; exit 1 when something at or above --min-severity is
    /// found, 0 when nothing is, 2 when it fails
    Detect(Box<DetectArgs>),
    /// Write an investigation as one self-contained HTML page: activity over time, every
    /// detection's findings, a timeline per suspicious principal, top callers and source IPs
    Report(Box<ReportArgs>),
}
