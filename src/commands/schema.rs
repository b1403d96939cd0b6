//! `trailq schema`: the event schema as a tree, or DDL that opens a dataset in DuckDB or Athena.
//! Both are generated from `schema::event_schema()`, so they cannot disagree with the files.

use std::io::{self, Write};

use arrow::datatypes::{DataType, Field};
use clap::{Args, ValueEnum};

use crate::error::{Error, Result};
use trailq_events::schema::{self, PARTITION_COLUMN};

#[derive(Debug, Args)]
pub struct SchemaArgs {
    /// Print a statement that opens a dataset instead of the column tree
    #[arg(long, value_enum, requires = "location")]
    pub ddl: Option<Ddl>,
    /// The dataset: a local folder (DuckDB) or an s3:// prefix (Athena)
    #[arg(value_name = "DATASET")]
    pub location: Option<String>,
    /// Name of the view or table to create
    #[arg(long, default_value = "cloudtrail_events")]
    pub name: String,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Ddl {
    /// CREATE VIEW over read_parquet(…, hive_partitioning = true)
    Duckdb,
    /// CREATE EXTERNAL TABLE with partition projection on event_date
    Athena,
}

pub fn run(args: SchemaArgs) -> Result<std::process::ExitCode> {
    if !is_identifier(&args.name) {
        return Err(Error::Usage(format!(
            "`{}` is not a plain table name: use letters, digits and underscores",
            args.name
        )));
    }
    let text = match (args.ddl, args.location) {
        (None, _) => tree(),
        (Some(Ddl::Duckdb), Some(loc)) => duckdb_ddl(&args.name, &loc),
        (Some(Ddl::Athena), Some(loc)) => athena_ddl(&args.name, &loc)?,
        (Some(_), None) => unreachable!("clap requires a location with --ddl"),
    };
    let mut out = io::stdout().lock();
    out.write_all(text.as_bytes()).map_err(Error::Stdout)?;
    Ok(std::process::ExitCode::SUCCESS)
}

fn is_identifier(s: &str) -> bool {
    !s.is_empty()
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !s.starts_with(|c: char| c.is_ascii_digit())
}

/// The column tree, one line per field, types in Lake/Athena spelling.
pub fn tree() -> String {
    let mut out = String::new();
    for field in schema::event_schema().fields() {
        tree_field(&mut out, field, 0);
    }
    out.push_str(&format!(
        "{:<38} {}  (hive partition: UTC date of eventTime)\n",
        PARTITION_COLUMN, "date"
    ));
    out
}

fn tree_field(out: &mut String, field: &Field, depth: usize) {
    let name = format!("{}{}", "  ".repeat(depth), field.name());
    let nullable = if field.is_nullable() {
        ""
    } else {
        "  not null"
    };
    let note = if field.name() == schema::EVENT_JSON {
        "  (the record exactly as received)"
    } else {
        ""
    };
    let kind = match field.data_type() {
        DataType::Struct(_) => "struct".to_owned(),
        DataType::List(_) => "array<struct>".to_owned(),
        other => hive_type(other),
    };
    out.push_str(&format!("{name:<38} {kind}{nullable}{note}\n"));
    match field.data_type() {
        DataType::Struct(children) => {
            for child in children {
                tree_field(out, child, depth + 1);
            }
        }
        DataType::List(item) => {
            if let DataType::Struct(children) = item.data_type() {
                for child in children {
                    tree_field(out, child, depth + 1);
                }
            }
        }
        _ => {}
    }
}

/// Hive/Athena spelling of an event-schema type.
fn hive_type(t: &DataType) -> String {
    match t {
        DataType::Utf8 => "string".to_owned(),
        DataType::Boolean => "boolean".to_owned(),
        DataType::Timestamp(_, _) => "timestamp".to_owned(),
        DataType::Map(_, _) => "map<string,string>".to_owned(),
        DataType::List(item) => format!("array<{}>", hive_type(item.data_type())),
        DataType::Struct(fields) => format!(
            "struct<{}>",
            fields
                .iter()
                .map(|f| format!("{}:{}", f.name(), hive_type(f.data_type())))
                .collect::<Vec<_>>()
                .join(",")
        ),
        other => unreachable!("the event schema has no {other} column"),
    }
}

fn sql_string(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// The SQL literal that names every data file of the dataset at `location` for DuckDB's
/// `read_parquet`. DuckDB reads the path as a glob, so `[`, `*` and `?` in the folder's own name
/// are escaped as one-character classes (`ds[1]` → `ds[[]1]`); otherwise it names other folders,
/// or none.
pub fn duckdb_parquet_glob(location: &str) -> String {
    let mut escaped = String::with_capacity(location.len());
    for c in location.trim_end_matches('/').chars() {
        match c {
            '[' | '*' | '?' => escaped.extend(['[', c, ']']),
            c => escaped.push(c),
        }
    }
    sql_string(&format!("{escaped}/**/*.parquet"))
}

pub fn duckdb_ddl(name: &str, location: &str) -> String {
    format!(
        "-- DuckDB compares and buckets timestamps in the session time zone: pin it to UTC.\n\
         SET TimeZone = 'UTC';\n\
         CREATE OR REPLACE VIEW {name} AS\n  \
         SELECT * FROM read_parquet({}, hive_partitioning = true);\n",
        duckdb_parquet_glob(location)
    )
}

pub fn athena_ddl(name: &str, location: &str) -> Result<String> {
    if !location.starts_with("s3://") {
        return Err(Error::Usage(format!(
            "Athena reads from S3: give the dataset's s3:// prefix, not `{location}` \
             (copy it with `aws s3 sync {location} s3://bucket/prefix/`)"
        )));
    }
    if location.contains(['\'', '\n', '\\']) {
        return Err(Error::Usage(format!(
            "`{location}` has a character an S3 location cannot have"
        )));
    }
    let base = format!("{}/", location.trim_end_matches('/'));
    let columns: Vec<String> = schema::event_schema()
        .fields()
        .iter()
        .map(|f| format!("  `{}` {}", f.name(), hive_type(f.data_type())))
        .collect();
    Ok(format!(
        "CREATE EXTERNAL TABLE IF NOT EXISTS {name} (\n{}\n)\n\
         PARTITIONED BY (`{PARTITION_COLUMN}` string)\n\
         STORED AS PARQUET\n\
         LOCATION '{base}'\n\
         TBLPROPERTIES (\n  \
         'projection.enabled' = 'true',\n  \
         'projection.{PARTITION_COLUMN}.type' = 'date',\n  \
         'projection.{PARTITION_COLUMN}.format' = 'yyyy-MM-dd',\n  \
         'projection.{PARTITION_COLUMN}.range' = '2013-11-01,NOW',\n  \
         'projection.{PARTITION_COLUMN}.interval' = '1',\n  \
         'projection.{PARTITION_COLUMN}.interval.unit' = 'DAYS',\n  \
         'storage.location.template' = '{base}{PARTITION_COLUMN}=${{{PARTITION_COLUMN}}}/',\n  \
         'trailq.schema_version' = '{}'\n\
         );\n",
        columns.join(",\n"),
        schema::SCHEMA_VERSION
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tree_lists_nested_fields_and_the_partition() {
        let t = tree();
        assert!(t.contains("userIdentity                           struct\n"));
        assert!(t.contains("      creationDate                     timestamp\n"));
        assert!(t.contains("requestParameters                      map<string,string>\n"));
        assert!(t.contains("eventTime                              timestamp  not null\n"));
        assert!(t.ends_with("(hive partition: UTC date of eventTime)\n"));
    }

    #[test]
    fn athena_ddl_projects_partitions_and_refuses_local_paths() {
        let ddl = athena_ddl("ct", "s3://b/p/").unwrap();
        assert!(ddl.contains("LOCATION 's3://b/p/'"));
        assert!(ddl.contains("'storage.location.template' = 's3://b/p/event_date=${event_date}/'"));
        assert!(ddl.contains("`userIdentity` struct<type:string,principalId:string,"));
        assert!(ddl.contains(
            "`resources` array<struct<accountId:string,type:string,arn:string,arnPrefix:string>>"
        ));
        assert!(athena_ddl("ct", "/tmp/x").is_err());
    }

    #[test]
    fn duckdb_ddl_quotes_the_path() {
        let ddl = duckdb_ddl("v", "it's/");
        assert!(ddl.contains("read_parquet('it''s/**/*.parquet', hive_partitioning = true)"));
        assert_eq!(
            duckdb_parquet_glob("d/a*b?[1]/"),
            "'d/a[*]b[?][[]1]/**/*.parquet'"
        );
    }
}
