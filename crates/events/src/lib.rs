//! The event core: what a CloudTrail record is, and how its text becomes Arrow rows.
//!
//! ```text
//!  record JSON text ──record::parse_record──▶ Row ──batch::EventBatchBuilder──▶ RecordBatch (schema::event_schema)
//! ```
//! - [`schema`]: THE event schema (Lake's columns, CloudTrail's spelling); column names are
//!   constants there and nowhere else.
//! - [`record`]: the one record parser, from the text exactly as AWS gave it.
//! - [`batch`]: the batch builder every source's records go through.
//! - [`files`]: the file formats records arrive in (trail files, LookupEvents output, JSON
//!   arrays and Lines, gzipped or not) and where they lie on disk.
//! - [`cloudtrail`]: names CloudTrail defines (Inspector's event sources, lookup attributes).
//! - [`json`], [`time`]: the JSON scanning and time parsing/formatting all of the above share.
//!
//! No AWS SDK and no SQL engine: every other crate of the workspace stands on this one.

pub mod batch;
pub mod cloudtrail;
pub mod files;
pub mod json;
pub mod record;
pub mod schema;
pub mod time;
