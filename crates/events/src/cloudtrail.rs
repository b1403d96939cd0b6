//! Names CloudTrail itself defines, which its clients and the emulator must agree on.

/// Amazon Inspector's event sources [reference §7]: what an export reads unless told otherwise.
pub const INSPECTOR2: &str = "inspector2.amazonaws.com";
pub const INSPECTOR_SCAN: &str = "inspector-scan.amazonaws.com";
pub const INSPECTOR_CLASSIC: &str = "inspector.amazonaws.com";
pub const INSPECTOR_SOURCES: [&str; 3] = [INSPECTOR2, INSPECTOR_SCAN, INSPECTOR_CLASSIC];

/// The attributes LookupEvents can look events up by (one at a time) [reference §1].
pub const LOOKUP_KEYS: [&str; 8] = [
    "EventId",
    "EventName",
    "ReadOnly",
    "Username",
    "ResourceType",
    "ResourceName",
    "EventSource",
    "AccessKeyId",
];
