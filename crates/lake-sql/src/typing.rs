//! Typing Lake's results: every value arrives as a string ([`crate::lake_values`]); a column named
//! like an event-schema column takes that column's type, any other the narrowest type all of its
//! values fit (DESIGN.md "Lake results typing"). A type is chosen only where every value's text is
//! exactly what the type renders back, so typing never changes a value (`012345678901`, an
//! account ID, stays text).

use std::sync::Arc;

use arrow::array::{
    ArrayRef, BooleanBuilder, Float64Builder, Int64Builder, StringBuilder,
    TimestampMicrosecondBuilder,
};
use arrow::datatypes::DataType;
use trailq_events::schema::{self, timestamp_type};
use trailq_events::time::parse_timestamp_micros;

/// What is known of a column's values so far.
#[derive(Debug, Clone, Copy)]
pub struct Seen {
    any: bool,
    int: bool,
    float: bool,
    boolean: bool,
    timestamp: bool,
    braces: bool,
}

impl Default for Seen {
    fn default() -> Self {
        Seen {
            any: false,
            int: true,
            float: true,
            boolean: true,
            timestamp: true,
            braces: false,
        }
    }
}

impl Seen {
    /// True once a value looked like Trino's `{k=v}` rendering of a struct or map.
    pub fn braces(&self) -> bool {
        self.braces
    }

    pub fn add(&mut self, v: &str) {
        // Each check runs only while its type is still possible: most columns are ruled out of
        // all but one type by their first values.
        self.any = true;
        // Only canonical integers: `012345678901` (an account ID) would lose its zero.
        self.int = self.int && v.parse::<i64>().is_ok() && canonical_integer(v);
        self.float = self.float && v.parse::<f64>().is_ok();
        self.boolean = self.boolean && (v == "true" || v == "false");
        // Lake's timestamp text; a bare date or number is not one.
        self.timestamp = self.timestamp && v.len() >= 19 && parse_timestamp_micros(v).is_some();
        self.braces = self.braces || (v.starts_with('{') && v.contains('=')) || v.starts_with("[{");
    }
}

/// True when `v` is an integer written the one way its value prints: no sign but `-`, no
/// leading zeros.
fn canonical_integer(v: &str) -> bool {
    let digits = v.strip_prefix('-').unwrap_or(v);
    digits == "0" || !digits.starts_with('0')
}

/// The type of a column: its event-schema column's, if its name is one and every value fits
/// (an alias can reuse a name), else the narrowest type every value fits.
pub fn column_type(name: &str, seen: &Seen) -> DataType {
    if let Some(field) = schema::event_schema()
        .fields()
        .iter()
        .find(|f| f.name().eq_ignore_ascii_case(name))
    {
        match field.data_type() {
            DataType::Timestamp(..) if seen.timestamp => return timestamp_type(),
            DataType::Boolean if seen.boolean => return DataType::Boolean,
            DataType::Timestamp(..) | DataType::Boolean => {}
            _ => return DataType::Utf8,
        }
    }
    if !seen.any {
        DataType::Utf8
    } else if seen.int {
        DataType::Int64
    } else if seen.float {
        DataType::Float64
    } else if seen.boolean {
        DataType::Boolean
    } else if seen.timestamp {
        timestamp_type()
    } else {
        DataType::Utf8
    }
}

/// True for an event-schema column that Lake sends as `{k=v}` text (a struct, map or list).
pub fn is_nested_schema_column(name: &str) -> bool {
    schema::event_schema().fields().iter().any(|f| {
        f.name().eq_ignore_ascii_case(name)
            && matches!(
                f.data_type(),
                DataType::Struct(_) | DataType::Map(..) | DataType::List(_)
            )
    })
}

/// One column from its values, every one of which fits `data_type` (see `column_type`).
pub fn column<'a>(data_type: &DataType, values: impl Iterator<Item = Option<&'a str>>) -> ArrayRef {
    match data_type {
        DataType::Int64 => {
            let mut b = Int64Builder::new();
            values.for_each(|v| b.append_option(v.and_then(|v| v.parse().ok())));
            Arc::new(b.finish())
        }
        DataType::Float64 => {
            let mut b = Float64Builder::new();
            values.for_each(|v| b.append_option(v.and_then(|v| v.parse().ok())));
            Arc::new(b.finish())
        }
        DataType::Boolean => {
            let mut b = BooleanBuilder::new();
            values.for_each(|v| b.append_option(v.and_then(|v| v.parse().ok())));
            Arc::new(b.finish())
        }
        DataType::Timestamp(..) => {
            let mut b = TimestampMicrosecondBuilder::new().with_timezone("UTC");
            values.for_each(|v| b.append_option(v.and_then(parse_timestamp_micros)));
            Arc::new(b.finish())
        }
        _ => {
            let mut b = StringBuilder::new();
            values.for_each(|v| b.append_option(v));
            Arc::new(b.finish())
        }
    }
}
