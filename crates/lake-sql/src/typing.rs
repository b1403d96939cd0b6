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
    /// Every value is 12 digits: AWS account IDs, whatever the column is called.
    account_ids: bool,
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
            account_ids: true,
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
        let integer = (self.int || self.float) && canonical_integer(v);
        self.int = self.int && integer;
        self.float = self.float && ((integer && exact_in_f64(v)) || canonical_float(v));
        self.boolean = self.boolean && (v == "true" || v == "false");
        self.account_ids =
            self.account_ids && v.len() == 12 && v.bytes().all(|b| b.is_ascii_digit());
        // Lake's timestamp text; a bare date or number is not one.
        self.timestamp = self.timestamp && v.len() >= 19 && parse_timestamp_micros(v).is_some();
        self.braces = self.braces || (v.starts_with('{') && v.contains('=')) || v.starts_with("[{");
    }
}

/// True when `v` is an integer written the one way its value prints: no `+`, no leading zeros,
/// no `-0`.
fn canonical_integer(v: &str) -> bool {
    // On the text, without printing the value back: this runs for every value of a column.
    let digits = v.strip_prefix('-').unwrap_or(v);
    let canonical = match digits.as_bytes() {
        [b'0'] => digits.len() == v.len(),
        [b'1'..=b'9', rest @ ..] => rest.iter().all(u8::is_ascii_digit),
        _ => false,
    };
    canonical && v.parse::<i64>().is_ok()
}

/// True when `v` is a finite number written exactly as the result writers print it back (ryu's
/// shortest form: `1.5`, `0.25`, `1e-7`): not `012.5`, `1.50`, `1.0E10` or `inf`.
fn canonical_float(v: &str) -> bool {
    match v.parse::<f64>() {
        Ok(f) if f.is_finite() => ryu::Buffer::new().format_finite(f) == v,
        _ => false,
    }
}

/// True for an integer that a double holds exactly (|n| ≤ 2^53), so that a column of integers and
/// fractions can be a float column without changing a value.
fn exact_in_f64(v: &str) -> bool {
    v.parse::<i64>()
        .is_ok_and(|n| n.unsigned_abs() <= 1 << f64::MANTISSA_DIGITS)
}

/// True for a column name that says it holds identifiers: `accountId`, `member_account`,
/// `request_ids`, `roleArn`. Their digits are not quantities, so they stay text whatever their
/// values look like (an account ID can start with 0, and a number would drop it).
fn names_identifiers(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    ["id", "ids", "arn", "arns", "account"]
        .iter()
        .any(|end| n.ends_with(end))
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
    if !seen.any || seen.account_ids || names_identifiers(name) {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn type_of(name: &str, values: &[&str]) -> DataType {
        let mut seen = Seen::default();
        values.iter().for_each(|v| seen.add(v));
        column_type(name, &seen)
    }

    #[test]
    fn a_type_is_chosen_only_if_every_value_prints_back_the_same() {
        assert_eq!(type_of("n", &["1", "-20", "0"]), DataType::Int64);
        assert_eq!(
            type_of("x", &["1.5", "0.25", "1e-7", "3"]),
            DataType::Float64
        );
        // Each of these would change a value or its text if typed as a number.
        for values in [
            &["012345678901"][..],
            &["1.50"],
            &["1.0E10"],
            &["inf"],
            &["NaN"],
            &["+1"],
            &["-0"],
            &["1", "9007199254740993.5"],
            &["1.5", "12345678901234567890"],
        ] {
            assert_eq!(type_of("x", values), DataType::Utf8, "{values:?}");
        }
    }

    #[test]
    fn identifier_columns_stay_text() {
        for name in [
            "acct_id",
            "memberAccount",
            "account",
            "requestIds",
            "roleArn",
        ] {
            assert_eq!(type_of(name, &["123456789012"]), DataType::Utf8, "{name}");
        }
        // Twelve digits in every row are account IDs, whatever the alias.
        assert_eq!(
            type_of("member", &["111122223333", "012345678901"]),
            DataType::Utf8
        );
        assert_eq!(type_of("member", &["111122223333", "7"]), DataType::Int64);
        // Counts of accounts are numbers.
        assert_eq!(type_of("accounts", &["3"]), DataType::Int64);
        // A schema column keeps its type.
        assert_eq!(
            type_of("eventTime", &["2024-01-01 00:00:00.000"]),
            timestamp_type()
        );
    }
}
