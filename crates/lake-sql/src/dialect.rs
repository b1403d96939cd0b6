//! From a Lake statement to one DataFusion runs, and Lake's names for the result columns.
//!
//! Lake writes `FROM 0b9f…-…` (an event data store ID, unquoted), which no SQL parser reads as
//! a table name, so a small lexer finds the table after each `FROM`/`JOIN` outside strings and
//! comments and swaps in the registered table. Lake result columns are named by the last path
//! segment as written (`userIdentity.arn` → `arn`), the alias, or `_colN` for other expressions
//! [reference §3]; DataFusion names them differently, so the names are taken from the statement.

use datafusion::sql::sqlparser::ast::{Expr, SelectItem, SetExpr, Statement};
use datafusion::sql::sqlparser::dialect::GenericDialect;
use datafusion::sql::sqlparser::parser::Parser;

/// Lake's cap on `QueryStatement` [BC StartQuery].
pub const MAX_STATEMENT_CHARS: usize = 10_000;

/// A statement ready for DataFusion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prepared {
    /// The statement DataFusion runs.
    pub sql: String,
    /// Lake's name for each result column; `None` when the select list has a `*` (the engine's
    /// names are used then).
    pub column_names: Option<Vec<String>>,
    /// The registered tables the statement reads, as the resolver named them.
    pub tables: Vec<String>,
}

/// Why a statement cannot run. The text is what Lake users see in
/// `InvalidQueryStatementException`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DialectError {
    #[error("the query statement is empty")]
    Empty,
    #[error(
        "the query statement has {0} characters; CloudTrail Lake accepts at most {MAX_STATEMENT_CHARS}"
    )]
    TooLong(usize),
    #[error("the query statement is not valid SQL: {0}")]
    Syntax(String),
    #[error(
        "only one statement can be run at a time; remove the `;` and what follows it ({0} statements found)"
    )]
    Several(usize),
    #[error(
        "only SELECT statements can be run: CloudTrail Lake queries cannot change data (found {0})"
    )]
    NotSelect(String),
    #[error(
        "event data store `{0}` in FROM does not exist: use the ID of an event data store (`trailq stores` lists them)"
    )]
    UnknownTable(String),
    #[error("FROM is missing: name the event data store to query, `FROM <event data store ID>`")]
    NoTable,
}

/// Prepares `statement`. `resolve` maps a name written after `FROM`/`JOIN` (an ID, an ARN, a
/// quoted name) to the registered table to read, or `None` if it is not an event data store.
pub fn prepare(
    statement: &str,
    resolve: impl Fn(&str) -> Option<String>,
) -> Result<Prepared, DialectError> {
    let trimmed = statement.trim().trim_end_matches(';').trim_end();
    if trimmed.is_empty() {
        return Err(DialectError::Empty);
    }
    let chars = statement.chars().count();
    if chars > MAX_STATEMENT_CHARS {
        return Err(DialectError::TooLong(chars));
    }
    if let Some(kind) = other_statement_kind(trimmed) {
        return Err(DialectError::NotSelect(kind));
    }
    let rewritten = rewrite(trimmed, &resolve)?;
    let statements = Parser::parse_sql(&GenericDialect {}, &rewritten.naming)
        .map_err(|e| DialectError::Syntax(e.to_string()))?;
    let query = match statements.as_slice() {
        [Statement::Query(query)] => query,
        [other] => return Err(DialectError::NotSelect(statement_kind(other))),
        [] => return Err(DialectError::Empty),
        many => return Err(DialectError::Several(many.len())),
    };
    if let SetExpr::Insert(s) | SetExpr::Update(s) | SetExpr::Delete(s) | SetExpr::Merge(s) =
        query.body.as_ref()
    {
        return Err(DialectError::NotSelect(statement_kind(s)));
    }
    if rewritten.tables.is_empty() {
        return Err(DialectError::NoTable);
    }
    Ok(Prepared {
        sql: rewritten.exec,
        column_names: column_names(&query.body),
        tables: rewritten.tables,
    })
}

/// The kind of a statement that is plainly not a query, from its first word: caught before
/// parsing, since `DROP TABLE <eds id>` would otherwise be a confusing syntax error.
fn other_statement_kind(sql: &str) -> Option<String> {
    const OTHERS: [&str; 17] = [
        "INSERT", "UPDATE", "DELETE", "MERGE", "CREATE", "DROP", "ALTER", "TRUNCATE", "GRANT",
        "REVOKE", "SET", "COPY", "CALL", "USE", "EXPLAIN", "SHOW", "DESCRIBE",
    ];
    let mut rest = sql.trim_start();
    loop {
        if let Some(r) = rest.strip_prefix("--") {
            rest = r.split_once('\n').map_or("", |(_, r)| r).trim_start();
        } else if let Some(r) = rest.strip_prefix("/*") {
            rest = r.split_once("*/").map_or("", |(_, r)| r).trim_start();
        } else {
            break;
        }
    }
    let word: String = rest
        .chars()
        .take_while(char::is_ascii_alphabetic)
        .collect::<String>()
        .to_ascii_uppercase();
    OTHERS.contains(&word.as_str()).then_some(word)
}

fn statement_kind(statement: &Statement) -> String {
    let text = statement.to_string();
    text.split_whitespace()
        .next()
        .unwrap_or("another kind of statement")
        .to_uppercase()
}

/// Lake's names for a query's result columns: the first SELECT of a set operation names them.
fn column_names(body: &SetExpr) -> Option<Vec<String>> {
    let select = match body {
        SetExpr::Select(select) => select,
        SetExpr::Query(query) => return column_names(&query.body),
        SetExpr::SetOperation { left, .. } => return column_names(left),
        _ => return None,
    };
    select
        .projection
        .iter()
        .enumerate()
        .map(|(i, item)| match item {
            SelectItem::UnnamedExpr(Expr::Identifier(id)) => Some(id.value.clone()),
            SelectItem::UnnamedExpr(Expr::CompoundIdentifier(ids)) => {
                ids.last().map(|id| id.value.clone())
            }
            SelectItem::UnnamedExpr(_) => Some(format!("_col{i}")),
            SelectItem::ExprWithAlias { alias, .. } => Some(alias.value.clone()),
            SelectItem::ExprWithAliases { aliases, .. } => aliases.first().map(|a| a.value.clone()),
            SelectItem::Wildcard(_) | SelectItem::QualifiedWildcard(..) => None,
        })
        .collect()
}

struct Rewritten {
    /// Tables swapped in, quoted identifiers as written: parsed for Lake's column names.
    naming: String,
    /// Also quoted identifiers lowercased (Trino matches them case-insensitively): executed.
    exec: String,
    tables: Vec<String>,
}

/// One pass over the statement: strings and comments are copied untouched, the table after
/// `FROM`/`JOIN` is resolved, quoted identifiers are lowercased for execution.
fn rewrite(
    sql: &str,
    resolve: &impl Fn(&str) -> Option<String>,
) -> Result<Rewritten, DialectError> {
    let mut out = Rewritten {
        naming: String::with_capacity(sql.len() + 16),
        exec: String::with_capacity(sql.len() + 16),
        tables: Vec::new(),
    };
    let bytes = sql.as_bytes();
    let mut i = 0;
    // The previous word, to tell `FROM <table>` from `IS DISTINCT FROM x` and `EXTRACT(h FROM t)`.
    let mut previous_word = String::new();
    let mut expect_table = false;
    while i < bytes.len() {
        let c = bytes[i];
        let start = i;
        if c == b'\'' {
            i = end_of_quoted(bytes, i, b'\'');
            push_both(&mut out, &sql[start..i]);
        } else if c == b'-' && bytes.get(i + 1) == Some(&b'-') {
            i = sql[i..].find('\n').map_or(bytes.len(), |n| i + n);
            push_both(&mut out, &sql[start..i]);
        } else if c == b'/' && bytes.get(i + 1) == Some(&b'*') {
            i = sql[i + 2..]
                .find("*/")
                .map_or(bytes.len(), |n| i + 2 + n + 2);
            push_both(&mut out, &sql[start..i]);
        } else if c == b'"' {
            i = end_of_quoted(bytes, i, b'"');
            let quoted = &sql[start..i];
            if std::mem::take(&mut expect_table) {
                let name = quoted.trim_matches('"');
                table(&mut out, resolve, name, quoted, true)?;
            } else {
                out.naming.push_str(quoted);
                out.exec.push_str(&quoted.to_lowercase());
            }
            previous_word.clear();
        } else if c.is_ascii_whitespace() {
            i += 1;
            push_both(&mut out, &sql[start..i]);
        } else if is_table_char(c) {
            while i < bytes.len() && is_table_char(bytes[i]) {
                i += 1;
            }
            let word = &sql[start..i];
            if std::mem::take(&mut expect_table) {
                table(&mut out, resolve, word, word, false)?;
                previous_word.clear();
                continue;
            }
            if word.eq_ignore_ascii_case("from") || word.eq_ignore_ascii_case("join") {
                expect_table = !previous_word.eq_ignore_ascii_case("distinct");
            }
            previous_word = word.to_owned();
            push_both(&mut out, word);
        } else {
            // `(` after FROM is a subquery; `,` `)` and operators end any expectation.
            expect_table = false;
            i += sql[i..].chars().next().map_or(1, char::len_utf8);
            push_both(&mut out, &sql[start..i]);
            previous_word.clear();
        }
    }
    Ok(out)
}

/// Resolves a name written where a table goes. Names that are not event data stores and do not
/// look like one (a CTE, the column in `EXTRACT(hour FROM eventTime)`) are left to the engine.
fn table(
    out: &mut Rewritten,
    resolve: &impl Fn(&str) -> Option<String>,
    name: &str,
    written: &str,
    quoted: bool,
) -> Result<(), DialectError> {
    match resolve(name) {
        Some(table) => {
            let replacement = format!("\"{}\"", table.replace('"', "\"\""));
            push_both(out, &replacement);
            if !out.tables.contains(&table) {
                out.tables.push(table);
            }
            Ok(())
        }
        None if looks_like_event_data_store(name) => {
            Err(DialectError::UnknownTable(name.to_owned()))
        }
        None => {
            out.naming.push_str(written);
            if quoted {
                out.exec.push_str(&written.to_lowercase());
            } else {
                out.exec.push_str(written);
            }
            Ok(())
        }
    }
}

fn looks_like_event_data_store(name: &str) -> bool {
    name.contains('-') || name.starts_with("arn:")
}

fn push_both(out: &mut Rewritten, text: &str) {
    out.naming.push_str(text);
    out.exec.push_str(text);
}

/// Characters of a word, including an event data store ID or ARN written unquoted.
fn is_table_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b':' | b'/' | b'$') || c >= 0x80
}

/// Index just past the closing quote (a doubled quote is an escaped one), or the end.
fn end_of_quoted(bytes: &[u8], open: usize, quote: u8) -> usize {
    let mut i = open + 1;
    while i < bytes.len() {
        if bytes[i] == quote {
            if bytes.get(i + 1) == Some(&quote) {
                i += 2;
                continue;
            }
            return i + 1;
        }
        i += 1;
    }
    bytes.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    const EDS: &str = "0b9f5e3c-7a1d-4c2e-9f10-1234567890ab";

    fn resolve(name: &str) -> Option<String> {
        (name == EDS
            || name == format!("arn:aws:cloudtrail:us-east-1:111122223333:eventdatastore/{EDS}"))
        .then(|| "events".to_owned())
    }

    #[test]
    fn from_an_event_data_store_id_reads_the_registered_table() {
        let p = prepare(
            &format!("SELECT eventID, userIdentity.arn, count(*), element_at(requestParameters, 'x') AS x FROM {EDS} WHERE eventName = 'from {EDS}' -- FROM nowhere\n"),
            resolve,
        )
        .unwrap();
        assert_eq!(
            p.sql,
            format!(
                "SELECT eventID, userIdentity.arn, count(*), element_at(requestParameters, 'x') AS x FROM \"events\" WHERE eventName = 'from {EDS}' -- FROM nowhere"
            )
        );
        assert_eq!(
            p.column_names.unwrap(),
            ["eventID", "arn", "_col2", "x"].map(String::from)
        );
        assert_eq!(p.tables, ["events"]);
    }

    #[test]
    fn other_uses_of_from_and_quoted_names() {
        let p = prepare(
            &format!("SELECT EXTRACT(hour FROM eventTime) AS h, \"eventName\" FROM \"{EDS}\" e JOIN (SELECT 1 FROM {EDS}) s ON a IS DISTINCT FROM b"),
            resolve,
        )
        .unwrap();
        assert_eq!(
            p.sql,
            "SELECT EXTRACT(hour FROM eventTime) AS h, \"eventname\" FROM \"events\" e JOIN (SELECT 1 FROM \"events\") s ON a IS DISTINCT FROM b"
        );
        assert_eq!(
            p.column_names.unwrap(),
            ["h", "eventName"].map(String::from)
        );
    }

    #[test]
    fn wildcards_leave_names_to_the_engine() {
        let p = prepare(&format!("SELECT * FROM {EDS} LIMIT 1"), resolve).unwrap();
        assert_eq!(p.column_names, None);
    }

    #[test]
    fn statements_lake_refuses() {
        let err = |sql: &str| prepare(sql, resolve).unwrap_err();
        assert_eq!(err("  ; "), DialectError::Empty);
        assert!(
            matches!(err(&format!("DELETE FROM {EDS}")), DialectError::NotSelect(k) if k == "DELETE")
        );
        assert_eq!(
            err(&format!("-- cleanup\ndrop table {EDS}")),
            DialectError::NotSelect("DROP".into())
        );
        assert!(
            matches!(err("WITH x AS (SELECT 1) DELETE FROM y"), DialectError::NotSelect(k) if k == "DELETE")
        );
        assert!(matches!(
            err("SELEC eventName FROM x"),
            DialectError::Syntax(_)
        ));
        assert_eq!(
            err(&format!("SELECT 1 FROM {EDS}; SELECT 2 FROM {EDS}")),
            DialectError::Several(2)
        );
        assert_eq!(
            err("SELECT 1 FROM 11111111-2222-3333-4444-555555555555"),
            DialectError::UnknownTable("11111111-2222-3333-4444-555555555555".into())
        );
        assert_eq!(err("SELECT 1"), DialectError::NoTable);
        assert!(matches!(
            err(&"x".repeat(10_001)),
            DialectError::TooLong(10_001)
        ));
    }
}
