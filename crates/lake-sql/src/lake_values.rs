//! Values as CloudTrail Lake returns them from `GetQueryResults`: every value a string
//! [reference §3]. Timestamps are `YYYY-MM-DD HH:MM:SS.mmm` (UTC); structs, maps and arrays
//! are Trino's `toString` text — `{key=value, …}` with lowercase keys, `null` for missing
//! values, nothing quoted — which is why clients must not try to parse them.
//!
//! The emulator's Lake sends these strings; the local engine renders its results the same way
//! before they are typed, so both engines give the same output for the same query.

use arrow::array::{Array, ArrayRef, AsArray, RecordBatch};
use arrow::datatypes::{DataType, TimeUnit};
use arrow::util::display::{ArrayFormatter, FormatOptions};
use chrono::DateTime;

/// One page of results: each row's values in column order (`None`: NULL), and the column names
/// the page revealed (Lake names each value; a NULL may arrive as an entry without one).
#[derive(Debug, Default)]
pub struct Page {
    pub names: Vec<Option<String>>,
    pub rows: Vec<Vec<Option<String>>>,
    pub total_rows: Option<i64>,
}

type Rendered = (Vec<String>, Vec<Vec<Option<String>>>);

/// Column names (Lake's, when the statement gives them) and rows of rendered values.
pub fn render_batches(
    batches: &[RecordBatch],
    names: Option<&[String]>,
) -> Result<Rendered, String> {
    let Some(first) = batches.first() else {
        return Ok((
            names.map(<[String]>::to_vec).unwrap_or_default(),
            Vec::new(),
        ));
    };
    let columns = column_names(names, first);
    let mut rows = Vec::with_capacity(batches.iter().map(RecordBatch::num_rows).sum());
    for batch in batches {
        rows.extend(render_rows(batch)?);
    }
    Ok((columns, rows))
}

/// The statement's own column names when it gives one per column (Lake keeps their case), else
/// the batch's.
pub fn column_names(names: Option<&[String]>, batch: &RecordBatch) -> Vec<String> {
    match names {
        Some(names) if names.len() == batch.num_columns() => names.to_vec(),
        _ => batch
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect(),
    }
}

/// A batch's rows, each value as Lake renders it.
pub fn render_rows(batch: &RecordBatch) -> Result<Vec<Vec<Option<String>>>, String> {
    (0..batch.num_rows())
        .map(|row| batch.columns().iter().map(|c| render(c, row)).collect())
        .collect()
}

/// One value, `None` for SQL NULL.
pub fn render(array: &ArrayRef, row: usize) -> Result<Option<String>, String> {
    if array.is_null(row) {
        return Ok(None);
    }
    Ok(Some(match array.data_type() {
        DataType::Utf8 => array.as_string::<i32>().value(row).to_owned(),
        DataType::LargeUtf8 => array.as_string::<i64>().value(row).to_owned(),
        DataType::Utf8View => array.as_string_view().value(row).to_owned(),
        DataType::Boolean => array.as_boolean().value(row).to_string(),
        DataType::Float64 => format!(
            "{:?}",
            array
                .as_primitive::<arrow::datatypes::Float64Type>()
                .value(row)
        ),
        DataType::Float32 => format!(
            "{:?}",
            array
                .as_primitive::<arrow::datatypes::Float32Type>()
                .value(row)
        ),
        DataType::Timestamp(unit, _) => {
            use arrow::datatypes::{
                TimestampMicrosecondType as Us, TimestampMillisecondType as Ms,
                TimestampNanosecondType as Ns, TimestampSecondType as S,
            };
            let micros = match unit {
                TimeUnit::Second => array
                    .as_primitive::<S>()
                    .value(row)
                    .saturating_mul(1_000_000),
                TimeUnit::Millisecond => {
                    array.as_primitive::<Ms>().value(row).saturating_mul(1_000)
                }
                TimeUnit::Microsecond => array.as_primitive::<Us>().value(row),
                TimeUnit::Nanosecond => array.as_primitive::<Ns>().value(row).div_euclid(1_000),
            };
            match DateTime::from_timestamp_micros(micros) {
                Some(t) => t.format("%Y-%m-%d %H:%M:%S%.3f").to_string(),
                None => return Err(format!("timestamp {micros} µs is out of range")),
            }
        }
        DataType::Struct(fields) => {
            let s = array.as_struct();
            let parts = fields
                .iter()
                .zip(s.columns())
                .map(|(f, c)| Ok(format!("{}={}", f.name().to_lowercase(), nested(c, row)?)))
                .collect::<Result<Vec<_>, String>>()?;
            format!("{{{}}}", parts.join(", "))
        }
        DataType::Map(..) => {
            let m = array.as_map();
            let entries = m.value(row);
            let (keys, values) = (entries.column(0), entries.column(1));
            let parts = (0..entries.len())
                .map(|i| Ok(format!("{}={}", nested(keys, i)?, nested(values, i)?)))
                .collect::<Result<Vec<_>, String>>()?;
            format!("{{{}}}", parts.join(", "))
        }
        DataType::List(_) => {
            let items = array.as_list::<i32>().value(row);
            let parts = (0..items.len())
                .map(|i| nested(&items, i))
                .collect::<Result<Vec<_>, String>>()?;
            format!("[{}]", parts.join(", "))
        }
        _ => ArrayFormatter::try_new(array.as_ref(), &FormatOptions::default())
            .map_err(|e| e.to_string())?
            .value(row)
            .to_string(),
    }))
}

/// A value inside a struct, map or array: NULL is the word `null`.
fn nested(array: &ArrayRef, row: usize) -> Result<String, String> {
    Ok(render(array, row)?.unwrap_or_else(|| "null".to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lowercase::lowercase_batch;
    use trailq_events::batch::EventBatchBuilder;
    use trailq_events::record::parse_record;

    #[test]
    fn lake_renders_times_structs_and_maps() {
        let text = r#"{"eventTime":"2023-01-22T16:53:53Z","eventID":"e1","readOnly":true,"userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::1:user/a"},"requestParameters":{"maxResults":50,"name":"x"}}"#;
        let mut b = EventBatchBuilder::new();
        b.append(&parse_record(text).unwrap(), text);
        let batch = lowercase_batch(&b.finish()).unwrap();
        let value = |name: &str| render(batch.column_by_name(name).unwrap(), 0).unwrap();
        assert_eq!(
            value("eventtime").as_deref(),
            Some("2023-01-22 16:53:53.000")
        );
        assert_eq!(value("readonly").as_deref(), Some("true"));
        assert_eq!(value("errorcode"), None);
        let identity = value("useridentity").unwrap();
        assert!(
            identity.starts_with("{type=IAMUser, principalid=null, arn=arn:aws:iam::1:user/a,"),
            "{identity}"
        );
        assert_eq!(
            value("requestparameters").as_deref(),
            Some("{maxResults=50, name=x}")
        );
    }
}
