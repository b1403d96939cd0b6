//! Trino functions that Lake queries use and DataFusion lacks or spells differently.
//!
//! - `element_at(map, key)` returns the value (DataFusion's returns a one-element list), and
//!   `element_at(array, i)` the i-th element (1-based, negative counts from the end);
//! - `json_extract_scalar(json, path)` / `json_extract(json, path)` over the JSON text that Lake
//!   keeps in map values (`$.a.b`, `$["a"]`, `$.a[0]`); number text is returned exactly;
//! - `from_iso8601_timestamp`, `to_iso8601`, `date_add(unit, n, ts)`, `date_diff(unit, a, b)`;
//! - `now()` / `current_timestamp` return the clock the caller pins (the emulator's, which may
//!   be `--now`), so the same query gives the same answer on Lake and offline.

use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, Int64Array, StringArray, TimestampMicrosecondArray, UInt32Array,
};
use arrow::compute::{cast, take};
use arrow::datatypes::{DataType, Int64Type, TimestampMicrosecondType};
use chrono::{DateTime, Datelike, Months, Timelike, Utc};
use datafusion::common::{DataFusionError, Result, ScalarValue, exec_err, plan_err};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility, create_udf,
};
use datafusion::prelude::SessionContext;
use serde_json::value::RawValue;

use trailq_events::schema::timestamp_type;
use trailq_events::time::{format_micros_millis, parse_timestamp_micros};

/// Registers the Lake functions on `ctx`, with `now()` pinned to `now_micros`.
pub fn register(ctx: &SessionContext, now_micros: i64) {
    ctx.register_udf(ScalarUDF::from(ElementAt::new()));
    let utf8 = DataType::Utf8;
    let ts = timestamp_type();
    let json_fn = |name: &str, scalar: bool| {
        create_udf(
            name,
            vec![utf8.clone(), utf8.clone()],
            utf8.clone(),
            Volatility::Immutable,
            Arc::new(move |args: &[ColumnarValue]| {
                strings_to_string(args, |json, path| json_extract(json, path, scalar))
            }),
        )
    };
    ctx.register_udf(json_fn("json_extract_scalar", true));
    ctx.register_udf(json_fn("json_extract", false));
    ctx.register_udf(create_udf(
        "from_iso8601_timestamp",
        vec![utf8.clone()],
        ts.clone(),
        Volatility::Immutable,
        Arc::new(from_iso8601_timestamp),
    ));
    ctx.register_udf(create_udf(
        "to_iso8601",
        vec![ts.clone()],
        utf8.clone(),
        Volatility::Immutable,
        Arc::new(to_iso8601),
    ));
    ctx.register_udf(create_udf(
        "date_add",
        vec![utf8.clone(), DataType::Int64, ts.clone()],
        ts.clone(),
        Volatility::Immutable,
        Arc::new(date_add),
    ));
    ctx.register_udf(create_udf(
        "date_diff",
        vec![utf8.clone(), ts.clone(), ts.clone()],
        DataType::Int64,
        Volatility::Immutable,
        Arc::new(date_diff),
    ));
    let now = ScalarValue::TimestampMicrosecond(Some(now_micros), Some("UTC".into()));
    ctx.register_udf(
        create_udf(
            "now",
            vec![],
            ts,
            Volatility::Stable,
            Arc::new(move |_: &[ColumnarValue]| Ok(ColumnarValue::Scalar(now.clone()))),
        )
        .with_aliases(["current_timestamp"]),
    );
}

/// The number of rows the arguments stand for, and whether they are all scalars.
fn shape(args: &[ColumnarValue]) -> (usize, bool) {
    let rows = args
        .iter()
        .find_map(|a| match a {
            ColumnarValue::Array(array) => Some(array.len()),
            ColumnarValue::Scalar(_) => None,
        })
        .unwrap_or(1);
    let all_scalar = args.iter().all(|a| matches!(a, ColumnarValue::Scalar(_)));
    (rows, all_scalar)
}

fn finish(result: ArrayRef, all_scalar: bool) -> Result<ColumnarValue> {
    if all_scalar {
        Ok(ColumnarValue::Scalar(ScalarValue::try_from_array(
            &result, 0,
        )?))
    } else {
        Ok(ColumnarValue::Array(result))
    }
}

fn arg_array(arg: &ColumnarValue, rows: usize, to: &DataType) -> Result<ArrayRef> {
    Ok(cast(&arg.to_array(rows)?, to)?)
}

fn strings_to_string(
    args: &[ColumnarValue],
    f: impl Fn(&str, &str) -> Result<Option<String>>,
) -> Result<ColumnarValue> {
    let (rows, all_scalar) = shape(args);
    let a = arg_array(&args[0], rows, &DataType::Utf8)?;
    let b = arg_array(&args[1], rows, &DataType::Utf8)?;
    let (a, b) = (a.as_string::<i32>(), b.as_string::<i32>());
    let out: StringArray = (0..rows)
        .map(|i| {
            if a.is_null(i) || b.is_null(i) {
                return Ok(None);
            }
            f(a.value(i), b.value(i))
        })
        .collect::<Result<_>>()?;
    finish(Arc::new(out), all_scalar)
}

fn timestamps(arg: &ColumnarValue, rows: usize) -> Result<TimestampMicrosecondArray> {
    Ok(arg_array(arg, rows, &timestamp_type())?
        .as_primitive::<TimestampMicrosecondType>()
        .clone())
}

fn from_iso8601_timestamp(args: &[ColumnarValue]) -> Result<ColumnarValue> {
    let (rows, all_scalar) = shape(args);
    let s = arg_array(&args[0], rows, &DataType::Utf8)?;
    let s = s.as_string::<i32>();
    let out = (0..rows)
        .map(|i| {
            if s.is_null(i) {
                return Ok(None);
            }
            match parse_timestamp_micros(s.value(i)) {
                Some(t) => Ok(Some(t)),
                None => exec_err!(
                    "from_iso8601_timestamp: `{}` is not an ISO 8601 time",
                    s.value(i)
                ),
            }
        })
        .collect::<Result<TimestampMicrosecondArray>>()?
        .with_timezone("UTC");
    finish(Arc::new(out), all_scalar)
}

fn to_iso8601(args: &[ColumnarValue]) -> Result<ColumnarValue> {
    let (rows, all_scalar) = shape(args);
    let t = timestamps(&args[0], rows)?;
    let out: StringArray = t.iter().map(|v| v.map(format_micros_millis)).collect();
    finish(Arc::new(out), all_scalar)
}

/// Trino's units for `date_add` and `date_diff`.
#[derive(Clone, Copy)]
enum Unit {
    Fixed(i64),
    Months(u32),
}

fn unit(name: &str) -> Result<Unit> {
    Ok(match name.to_ascii_lowercase().as_str() {
        "millisecond" => Unit::Fixed(1_000),
        "second" => Unit::Fixed(1_000_000),
        "minute" => Unit::Fixed(60_000_000),
        "hour" => Unit::Fixed(3_600_000_000),
        "day" => Unit::Fixed(86_400_000_000),
        "week" => Unit::Fixed(7 * 86_400_000_000),
        "month" => Unit::Months(1),
        "quarter" => Unit::Months(3),
        "year" => Unit::Months(12),
        other => {
            return exec_err!(
                "`{other}` is not a unit: use millisecond, second, minute, hour, day, week, month, quarter or year"
            );
        }
    })
}

fn date_add(args: &[ColumnarValue]) -> Result<ColumnarValue> {
    let (rows, all_scalar) = shape(args);
    let units = arg_array(&args[0], rows, &DataType::Utf8)?;
    let units = units.as_string::<i32>();
    let n = arg_array(&args[1], rows, &DataType::Int64)?;
    let n = n.as_primitive::<Int64Type>();
    let t = timestamps(&args[2], rows)?;
    let out = (0..rows)
        .map(|i| {
            if units.is_null(i) || n.is_null(i) || t.is_null(i) {
                return Ok(None);
            }
            let (n, t) = (n.value(i), t.value(i));
            let overflow = || DataFusionError::Execution("date_add: result out of range".into());
            match unit(units.value(i))? {
                Unit::Fixed(step) => n
                    .checked_mul(step)
                    .and_then(|d| t.checked_add(d))
                    .map(Some)
                    .ok_or_else(overflow),
                Unit::Months(m) => {
                    let time = DateTime::<Utc>::from_timestamp_micros(t).ok_or_else(overflow)?;
                    let months = u32::try_from(n.unsigned_abs().saturating_mul(u64::from(m)))
                        .map_err(|_| overflow())?;
                    let moved = if n >= 0 {
                        time.checked_add_months(Months::new(months))
                    } else {
                        time.checked_sub_months(Months::new(months))
                    };
                    moved
                        .map(|d| Some(d.timestamp_micros()))
                        .ok_or_else(overflow)
                }
            }
        })
        .collect::<Result<TimestampMicrosecondArray>>()?
        .with_timezone("UTC");
    finish(Arc::new(out), all_scalar)
}

fn date_diff(args: &[ColumnarValue]) -> Result<ColumnarValue> {
    let (rows, all_scalar) = shape(args);
    let units = arg_array(&args[0], rows, &DataType::Utf8)?;
    let units = units.as_string::<i32>();
    let a = timestamps(&args[1], rows)?;
    let b = timestamps(&args[2], rows)?;
    let out = (0..rows)
        .map(|i| {
            if units.is_null(i) || a.is_null(i) || b.is_null(i) {
                return Ok(None);
            }
            let (a, b) = (a.value(i), b.value(i));
            Ok(Some(match unit(units.value(i))? {
                Unit::Fixed(step) => (b - a) / step,
                Unit::Months(m) => whole_months(a, b) / i64::from(m),
            }))
        })
        .collect::<Result<Int64Array>>()?;
    finish(Arc::new(out), all_scalar)
}

/// Whole calendar months from `a` to `b` (negative when `b` is earlier), as Trino counts them.
fn whole_months(a: i64, b: i64) -> i64 {
    let (Some(x), Some(y)) = (
        DateTime::<Utc>::from_timestamp_micros(a),
        DateTime::<Utc>::from_timestamp_micros(b),
    ) else {
        return 0;
    };
    let mut months =
        i64::from(y.year() - x.year()) * 12 + i64::from(y.month()) - i64::from(x.month());
    // A month is whole only once the day and time of month are reached again (Jan 31 → Feb 29
    // is 0 months), as java.time counts them.
    let within = |d: &DateTime<Utc>| (d.day(), d.num_seconds_from_midnight(), d.nanosecond());
    if months > 0 && within(&y) < within(&x) {
        months -= 1;
    } else if months < 0 && within(&y) > within(&x) {
        months += 1;
    }
    months
}

/// One step of a JSON path.
enum Step {
    Key(String),
    Index(usize),
}

fn parse_path(path: &str) -> Result<Vec<Step>> {
    let bad = || {
        DataFusionError::Execution(format!(
            "`{path}` is not a JSON path this engine understands: use $.key, $[\"key\"] or $.key[0]"
        ))
    };
    let mut rest = path.trim().strip_prefix('$').ok_or_else(bad)?;
    let mut steps = Vec::new();
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix('.') {
            let end = r.find(['.', '[']).unwrap_or(r.len());
            if end == 0 {
                return Err(bad());
            }
            steps.push(Step::Key(r[..end].to_owned()));
            rest = &r[end..];
        } else if let Some(r) = rest.strip_prefix('[') {
            let end = r.find(']').ok_or_else(bad)?;
            let inner = r[..end].trim();
            let quoted = inner
                .strip_prefix('"')
                .and_then(|s| s.strip_suffix('"'))
                .or_else(|| inner.strip_prefix('\'').and_then(|s| s.strip_suffix('\'')));
            steps.push(match quoted {
                Some(key) => Step::Key(key.to_owned()),
                None => Step::Index(inner.parse().map_err(|_| bad())?),
            });
            rest = &r[end + 1..];
        } else {
            return Err(bad());
        }
    }
    Ok(steps)
}

/// Trino's `json_extract_scalar` (`scalar`) or `json_extract`: NULL where the path leads nowhere
/// or the text is not JSON; a scalar's text (strings unquoted, numbers exactly as written).
fn json_extract(json: &str, path: &str, scalar: bool) -> Result<Option<String>> {
    let steps = parse_path(path)?;
    let Ok(mut current) = serde_json::from_str::<&RawValue>(json) else {
        return Ok(None);
    };
    for step in &steps {
        let next = match step {
            Step::Key(key) => {
                serde_json::from_str::<std::collections::HashMap<String, &RawValue>>(current.get())
                    .ok()
                    .and_then(|m| m.get(key).copied())
            }
            Step::Index(i) => serde_json::from_str::<Vec<&RawValue>>(current.get())
                .ok()
                .and_then(|v| v.get(*i).copied()),
        };
        match next {
            Some(v) => current = v,
            None => return Ok(None),
        }
    }
    let text = current.get();
    Ok(match text.as_bytes().first() {
        Some(b'"') => {
            let s: String = serde_json::from_str(text).unwrap_or_default();
            Some(if scalar { s } else { text.to_owned() })
        }
        Some(b'{' | b'[') if scalar => None,
        Some(b'n') => None,
        _ => Some(text.to_owned()),
    })
}

/// Trino's `element_at` for maps and arrays.
#[derive(Debug, PartialEq, Eq, Hash)]
struct ElementAt {
    signature: Signature,
}

impl ElementAt {
    fn new() -> Self {
        ElementAt {
            signature: Signature::any(2, Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for ElementAt {
    fn name(&self) -> &str {
        "element_at"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        match &arg_types[0] {
            DataType::Map(entries, _) => match entries.data_type() {
                DataType::Struct(fields) if fields.len() == 2 => Ok(fields[1].data_type().clone()),
                other => plan_err!("element_at: unexpected map entries {other}"),
            },
            DataType::List(item) | DataType::LargeList(item) => Ok(item.data_type().clone()),
            DataType::Null => Ok(DataType::Null),
            other => plan_err!("element_at needs a map or an array, not {other}"),
        }
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let (rows, all_scalar) = shape(&args.args);
        let container = args.args[0].to_array(rows)?;
        // Index of the chosen value in the container's flat values, per row (NULL: none).
        let (values, picks): (ArrayRef, UInt32Array) = match container.data_type() {
            DataType::Map(..) => {
                let map = container.as_map();
                let keys = cast(map.keys(), &DataType::Utf8)?;
                let keys = keys.as_string::<i32>();
                let wanted = arg_array(&args.args[1], rows, &DataType::Utf8)?;
                let wanted = wanted.as_string::<i32>();
                let offsets = map.value_offsets();
                let picks = (0..rows)
                    .map(|row| {
                        if map.is_null(row) || wanted.is_null(row) {
                            return None;
                        }
                        let (start, end) = (offsets[row] as usize, offsets[row + 1] as usize);
                        (start..end)
                            .find(|&k| keys.value(k) == wanted.value(row))
                            .map(|k| k as u32)
                    })
                    .collect();
                (Arc::clone(map.values()), picks)
            }
            DataType::List(_) => {
                let list = container.as_list::<i32>();
                let index = arg_array(&args.args[1], rows, &DataType::Int64)?;
                let index = index.as_primitive::<Int64Type>();
                let offsets = list.value_offsets();
                let mut picks = Vec::with_capacity(rows);
                for row in 0..rows {
                    if list.is_null(row) || index.is_null(row) {
                        picks.push(None);
                        continue;
                    }
                    let (start, len) = (
                        offsets[row] as i64,
                        (offsets[row + 1] - offsets[row]) as i64,
                    );
                    let i = index.value(row);
                    if i == 0 {
                        return exec_err!("element_at: SQL array indices start at 1");
                    }
                    let at = if i > 0 { i - 1 } else { len + i };
                    picks.push((0..len).contains(&at).then(|| (start + at) as u32));
                }
                (Arc::clone(list.values()), picks.into_iter().collect())
            }
            DataType::Null => return Ok(ColumnarValue::Scalar(ScalarValue::Null)),
            other => return exec_err!("element_at needs a map or an array, not {other}"),
        };
        finish(take(&values, &picks, None)?, all_scalar)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_paths_keep_number_text() {
        let doc = r#"{"a":{"b":[10,{"c":"x\"y"}]},"big":12345678901234567890,"n":null,"k.e":1}"#;
        let s = |p| json_extract(doc, p, true).unwrap();
        assert_eq!(s("$.big").as_deref(), Some("12345678901234567890"));
        assert_eq!(s("$.a.b[0]").as_deref(), Some("10"));
        assert_eq!(s("$.a.b[1].c").as_deref(), Some("x\"y"));
        assert_eq!(s("$[\"k.e\"]").as_deref(), Some("1"));
        assert_eq!(s("$.a"), None);
        assert_eq!(s("$.n"), None);
        assert_eq!(s("$.missing.x"), None);
        assert_eq!(
            json_extract(doc, "$.a.b[1]", false).unwrap().as_deref(),
            Some(r#"{"c":"x\"y"}"#)
        );
        assert_eq!(json_extract("not json", "$.a", true).unwrap(), None);
        assert!(json_extract(doc, "a.b", true).is_err());
    }

    #[test]
    fn calendar_months() {
        let t = |s| parse_timestamp_micros(s).unwrap();
        assert_eq!(
            whole_months(t("2024-01-31T00:00:00Z"), t("2024-02-29T00:00:00Z")),
            0
        );
        assert_eq!(
            whole_months(t("2024-01-15T00:00:00Z"), t("2024-03-15T00:00:00Z")),
            2
        );
        assert_eq!(
            whole_months(t("2024-03-15T00:00:00Z"), t("2024-01-15T00:00:01Z")),
            -1
        );
    }
}
