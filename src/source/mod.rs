//! Sources: where raw CloudTrail records come from. Each yields the record's JSON text exactly
//! as AWS gave it, so every source lands in the same schema through the one record parser.

pub mod lake;
pub mod log_files;
pub mod lookup_events;

/// Amazon Inspector's event sources [reference §7]: what an export reads unless told otherwise.
pub const INSPECTOR2: &str = "inspector2.amazonaws.com";
pub const INSPECTOR_SCAN: &str = "inspector-scan.amazonaws.com";
pub const INSPECTOR_CLASSIC: &str = "inspector.amazonaws.com";
pub const INSPECTOR_SOURCES: [&str; 3] = [INSPECTOR2, INSPECTOR_SCAN, INSPECTOR_CLASSIC];
