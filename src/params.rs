//! Named parameters in SQL: `{{name}}` is replaced by a value rendered for its type, so that a
//! value can never change the statement's structure.
//!
//! - an identifier (`{{eds}}`: an event data store ID) is checked against a strict alphabet and
//!   written bare, as Lake's `FROM` wants it;
//! - a timestamp is parsed and written as the literal `'YYYY-MM-DD HH:MM:SS'`;
//! - text is written as a SQL string literal with `'` doubled.
//!
//! Placeholders are written bare in the SQL (`WHERE eventName = {{name}}`); one inside a quoted
//! string is refused, since the value would then be quoted twice.

use std::collections::BTreeMap;

use crate::time::format_micros;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Identifier(String),
    /// µs since the epoch, UTC.
    Timestamp(i64),
    Text(String),
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
            what: "event data store ID (letters, digits, `-`)",
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
    let mut out = String::with_capacity(sql.len());
    let mut at = 0;
    for p in placeholders(sql)? {
        let value = values.get(&p.name).ok_or_else(|| ParamError::Missing {
            hint: match p.name.as_str() {
                "eds" => " (or --eds ID)",
                "start" | "end" => " with a time like 2026-11-01T00:00:00Z",
                _ => "",
            },
            name: p.name.clone(),
        })?;
        out.push_str(&sql[at..p.start]);
        out.push_str(&render(value));
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
        Value::Text(s) => format!("'{}'", s.replace('\'', "''")),
    }
}

struct Placeholder {
    name: String,
    start: usize,
    end: usize,
}

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
