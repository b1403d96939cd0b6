//! Named parameters in SQL: `{{name}}` is replaced by a value rendered for its type, so that a
//! value can never change the statement's structure.
//!
//! Every parameter has a [`Kind`]; a value is parsed and checked for its kind, then written as a
//! literal only that kind can produce:
//! - an event data store (`{{eds}}`) is checked against a strict alphabet and written bare, as
//!   Lake's `FROM` wants it;
//! - a timestamp (ISO 8601, `now`, or `-7d` = that long before now) is written as the literal
//!   `'YYYY-MM-DD HH:MM:SS'` that Lake compares with `eventTime`;
//! - a duration (`90s`, `15m`, `12h`, `7d`) and an integer are written as a number (durations in
//!   seconds); an account ID (12 digits) and a Region are checked, then quoted;
//! - text is a SQL string literal with `'` doubled; a list (`a,b,c`) is `('a', 'b', 'c')`, for
//!   `IN {{list}}`.
//!
//! Placeholders are written bare in the SQL (`WHERE eventName = {{name}}`); one inside a quoted
//! string is refused, since the value would then be quoted twice.

use std::collections::BTreeMap;

use trailq_events::time::{
    USER_TIMES, USER_TIMES_TEXT, format_micros, parse_duration, parse_time_or_day,
};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Identifier(String),
    /// µs since the epoch, UTC.
    Timestamp(i64),
    Integer(i64),
    Text(String),
    TextList(Vec<String>),
}

/// What a parameter holds: decides how its value is checked and written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    EventDataStore,
    Timestamp,
    Duration,
    Integer,
    AccountId,
    Region,
    Text,
    TextList,
}

impl Kind {
    /// Every kind, by the name saved queries declare it with.
    pub const ALL: [(&'static str, Kind); 7] = [
        ("timestamp", Kind::Timestamp),
        ("duration", Kind::Duration),
        ("integer", Kind::Integer),
        ("account_id", Kind::AccountId),
        ("region", Kind::Region),
        ("string", Kind::Text),
        ("string_list", Kind::TextList),
    ];

    pub fn from_name(name: &str) -> Option<Kind> {
        Self::ALL.iter().find(|(n, _)| *n == name).map(|(_, k)| *k)
    }

    pub fn name(self) -> &'static str {
        match self {
            Kind::EventDataStore => "event data store",
            _ => Self::ALL
                .iter()
                .find(|(_, k)| *k == self)
                .map_or("string", |(n, _)| n),
        }
    }

    /// The kind an ad-hoc statement's parameter has, from its name alone: `eds` is the event
    /// data store, `start`/`end` are times, anything else is text.
    pub fn of_name(name: &str) -> Kind {
        match name {
            "eds" => Kind::EventDataStore,
            "start" | "end" => Kind::Timestamp,
            _ => Kind::Text,
        }
    }

    /// What a valid value looks like, for error messages.
    fn expected(self) -> &'static str {
        match self {
            Kind::EventDataStore => "event data store ID (letters, digits, `-`)",
            Kind::Timestamp => "time (2026-11-01T00:00:00Z, `now`, or `-7d` for 7 days before now)",
            Kind::Duration => "duration (90s, 15m, 12h, 7d)",
            Kind::Integer => "integer",
            Kind::AccountId => "AWS account ID (12 digits)",
            Kind::Region => "AWS Region (like us-east-1)",
            Kind::Text => "string",
            Kind::TextList => "list (comma-separated, like a,b,c)",
        }
    }

    /// `text` parsed as a value of this kind; relative times count back from `now_micros`.
    pub fn value(self, name: &str, text: &str, now_micros: i64) -> Result<Value, ParamError> {
        let invalid = || ParamError::Invalid {
            name: name.to_owned(),
            value: text.to_owned(),
            what: self.expected(),
        };
        let t = text.trim();
        match self {
            Kind::EventDataStore => identifier(name, text),
            Kind::Timestamp => {
                let micros = relative_time(t, now_micros)
                    .or_else(|| parse_time_or_day(t))
                    .ok_or_else(invalid)?;
                if !USER_TIMES.contains(&micros) {
                    return Err(ParamError::OutOfRange {
                        name: name.to_owned(),
                        value: text.to_owned(),
                    });
                }
                Ok(Value::Timestamp(micros))
            }
            Kind::Duration => parse_duration(t)
                .and_then(|d| i64::try_from(d.as_secs()).ok())
                .map(Value::Integer)
                .ok_or_else(invalid),
            Kind::Integer => t.parse().map(Value::Integer).map_err(|_| invalid()),
            Kind::AccountId => (t.len() == 12 && t.bytes().all(|b| b.is_ascii_digit()))
                .then(|| Value::Text(t.to_owned()))
                .ok_or_else(invalid),
            Kind::Region => is_region(t)
                .then(|| Value::Text(t.to_owned()))
                .ok_or_else(invalid),
            Kind::Text => Ok(Value::Text(text.to_owned())),
            Kind::TextList => {
                let items: Vec<String> = text.split(',').map(|s| s.trim().to_owned()).collect();
                if items.iter().any(String::is_empty) {
                    return Err(invalid());
                }
                Ok(Value::TextList(items))
            }
        }
    }
}

/// `now`, `-7d`, `now-7d`: µs since the epoch.
fn relative_time(s: &str, now_micros: i64) -> Option<i64> {
    if s.eq_ignore_ascii_case("now") {
        return Some(now_micros);
    }
    let back = s
        .strip_prefix("now-")
        .or_else(|| s.strip_prefix("now -"))
        .or_else(|| s.strip_prefix('-'))?;
    // Saturating: a span past the representable range is reported as out of range, not as
    // something that is not a time.
    let micros = i64::try_from(parse_duration(back.trim())?.as_micros()).unwrap_or(i64::MAX);
    Some(now_micros.saturating_sub(micros))
}

/// `us-east-1`, `eu-central-2`, `us-gov-west-1`, `ap-southeast-5`…
fn is_region(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() >= 3
        && parts[0].len() == 2
        && parts[..parts.len() - 1]
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase()))
        && parts[parts.len() - 1].bytes().all(|b| b.is_ascii_digit())
        && !parts[parts.len() - 1].is_empty()
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParamError {
    #[error("parameter `{name}` has no value: pass --param {name}=…{hint}")]
    Missing { name: String, hint: &'static str },
    #[error(
        "parameter `{0}` is inside a quoted string in the SQL: write `{{{{{0}}}}}` without quotes (trailq quotes the value)"
    )]
    Quoted(String),
    #[error("`{value}` is not a valid {what} for parameter `{name}`")]
    Invalid {
        name: String,
        value: String,
        what: &'static str,
    },
    #[error("`{value}` for parameter `{name}` is {USER_TIMES_TEXT}")]
    OutOfRange { name: String, value: String },
    #[error("`{{{{` at byte {0} does not start a parameter like {{{{name}}}}")]
    Malformed(usize),
}

/// An identifier value (an event data store ID or name part): letters, digits, `-`, `_`.
pub fn identifier(name: &str, value: &str) -> Result<Value, ParamError> {
    let ok = !value.is_empty()
        && value.len() <= 128
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(Value::Identifier(value.to_owned()))
    } else {
        Err(ParamError::Invalid {
            name: name.to_owned(),
            value: value.to_owned(),
            what: Kind::EventDataStore.expected(),
        })
    }
}

/// The names of the parameters `sql` uses, in order of first use.
pub fn names(sql: &str) -> Result<Vec<String>, ParamError> {
    let mut out = Vec::new();
    for p in placeholders(sql)? {
        if !out.contains(&p.name) {
            out.push(p.name);
        }
    }
    Ok(out)
}

/// `sql` with every placeholder replaced by its value.
pub fn fill(sql: &str, values: &BTreeMap<String, Value>) -> Result<String, ParamError> {
    fill_with(sql, |name| match values.get(name) {
        Some(v) => Ok(render(v)),
        None => Err(ParamError::Missing {
            hint: match name {
                "eds" => " (or --eds ID)",
                "start" | "end" => " with a time like 2026-11-01T00:00:00Z",
                _ => "",
            },
            name: name.to_owned(),
        }),
    })
}

/// `sql` with the placeholders that have values replaced; the others stay as written (to show a
/// statement whose event data store is not chosen yet).
pub fn fill_known(sql: &str, values: &BTreeMap<String, Value>) -> Result<String, ParamError> {
    fill_with(sql, |name| {
        Ok(values
            .get(name)
            .map_or_else(|| format!("{{{{{name}}}}}"), render))
    })
}

fn fill_with(
    sql: &str,
    mut value: impl FnMut(&str) -> Result<String, ParamError>,
) -> Result<String, ParamError> {
    let mut out = String::with_capacity(sql.len());
    let mut at = 0;
    for p in placeholders(sql)? {
        out.push_str(&sql[at..p.start]);
        out.push_str(&value(&p.name)?);
        at = p.end;
    }
    out.push_str(&sql[at..]);
    Ok(out)
}

fn render(value: &Value) -> String {
    match value {
        Value::Identifier(id) => id.clone(),
        Value::Timestamp(t) => {
            let iso = format_micros(*t);
            format!("'{}'", iso.trim_end_matches('Z').replace('T', " "))
        }
        Value::Integer(n) => n.to_string(),
        Value::Text(s) => quote(s),
        Value::TextList(items) => format!(
            "({})",
            items
                .iter()
                .map(|s| quote(s))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

struct Placeholder {
    name: String,
    start: usize,
    end: usize,
}

/// Every placeholder outside comments, in order. Quotes are tracked so that a placeholder in a
/// string is refused; comments are skipped so that prose in them may mention `{{name}}`.
fn placeholders(sql: &str) -> Result<Vec<Placeholder>, ParamError> {
    let bytes = sql.as_bytes();
    let mut found = Vec::new();
    let mut i = 0;
    let mut quoted = false;
    while i < bytes.len() {
        if bytes[i] == b'\'' {
            quoted = !quoted;
            i += 1;
            continue;
        }
        if !quoted && bytes[i..].starts_with(b"--") {
            i = sql[i..].find('\n').map_or(bytes.len(), |n| i + n);
            continue;
        }
        if bytes[i..].starts_with(b"{{") {
            let rest = &sql[i + 2..];
            let close = rest.find("}}").ok_or(ParamError::Malformed(i))?;
            let name = rest[..close].trim();
            let valid = name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !valid {
                return Err(ParamError::Malformed(i));
            }
            if quoted {
                return Err(ParamError::Quoted(name.to_owned()));
            }
            found.push(Placeholder {
                name: name.to_owned(),
                start: i,
                end: i + 2 + close + 2,
            });
            i += 2 + close + 2;
            continue;
        }
        i += 1;
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_cannot_change_the_statement() {
        let sql = "SELECT * FROM {{eds}} WHERE eventName = {{ name }} AND eventTime >= {{start}}";
        let mut values = BTreeMap::new();
        values.insert("eds".to_owned(), identifier("eds", "0b9f-12ab").unwrap());
        values.insert(
            "name".to_owned(),
            Value::Text("x'; DROP TABLE t; --".into()),
        );
        values.insert("start".to_owned(), Value::Timestamp(1_714_557_600_000_000));
        assert_eq!(
            fill(sql, &values).unwrap(),
            "SELECT * FROM 0b9f-12ab WHERE eventName = 'x''; DROP TABLE t; --' AND eventTime >= '2024-05-01 10:00:00'"
        );
        assert!(identifier("eds", "x; DELETE").is_err());
        assert!(identifier("eds", "").is_err());
        assert_eq!(names(sql).unwrap(), ["eds", "name", "start"]);
    }

    #[test]
    fn placeholder_mistakes_are_explained() {
        let values = BTreeMap::new();
        assert_eq!(
            fill("SELECT {{x}}", &values).unwrap_err().to_string(),
            "parameter `x` has no value: pass --param x=…"
        );
        assert!(
            matches!(fill("WHERE a = '{{x}}'", &values), Err(ParamError::Quoted(n)) if n == "x")
        );
        assert!(matches!(
            fill("SELECT {{ }}", &values),
            Err(ParamError::Malformed(7))
        ));
        assert!(matches!(
            fill("SELECT {{x", &values),
            Err(ParamError::Malformed(7))
        ));
        assert_eq!(fill("SELECT 1", &values).unwrap(), "SELECT 1");
    }
}
