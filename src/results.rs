//! Query results (every value a string, as Lake sends them) → typed Arrow batches → a table, CSV,
//! JSON, JSON Lines or Parquet.
//!
//! Types follow DESIGN.md "Lake results typing" (`trailq_lake_sql::typing`: a column named like an
//! event-schema column takes that column's type; any other column is typed from all of its values:
//! integer, float, boolean, `YYYY-MM-DD HH:MM:SS.fff` timestamp, else string). Seeing all values before the first row is
//! written would mean holding the result in memory, so pages are spooled to a temporary file while
//! the types are worked out, then read back batch by batch. Struct and map columns arrive as
//! Trino's `{k=v, …}` text, which cannot be parsed reliably: they stay strings, with a hint.

use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::datatypes::{Field, Schema, SchemaRef};
use arrow::error::ArrowError;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::errors::ParquetError;
use parquet::file::properties::WriterProperties;

use trailq_lake_sql::lake_values::Page;
use trailq_lake_sql::typing::{Seen, column, column_type, is_nested_schema_column};

const BATCH_ROWS: usize = 8192;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// An aligned table (the default on a terminal)
    Table,
    /// CSV with a header row (the default otherwise)
    Csv,
    /// One JSON array of objects
    Json,
    /// One JSON object per line
    Jsonl,
    /// A Parquet file (needs --out)
    Parquet,
}

#[derive(Debug, thiserror::Error)]
pub enum ResultsError {
    #[error("cannot spool query results to a temporary file")]
    Spool(#[source] io::Error),
    #[error("cannot write `{path}`")]
    Write {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("cannot write the results")]
    Stdout(#[source] io::Error),
    #[error("cannot build the result columns")]
    Arrow(#[from] ArrowError),
    #[error("cannot write Parquet")]
    Parquet(#[from] ParquetError),
}

/// Result pages on their way to a typed output.
pub struct Spool {
    path: PathBuf,
    file: BufWriter<File>,
    names: Vec<Option<String>>,
    seen: Vec<Seen>,
    rows: u64,
    finished: bool,
}

impl Spool {
    pub fn new() -> Result<Self, ResultsError> {
        let path = std::env::temp_dir().join(format!(
            "trailq-results-{}-{:08x}.jsonl",
            std::process::id(),
            fastrand::u32(..)
        ));
        let file = File::create(&path).map_err(ResultsError::Spool)?;
        Ok(Spool {
            path,
            file: BufWriter::new(file),
            names: Vec::new(),
            seen: Vec::new(),
            rows: 0,
            finished: false,
        })
    }

    pub fn rows(&self) -> u64 {
        self.rows
    }

    pub fn add(&mut self, page: Page) -> Result<(), ResultsError> {
        let width = page.names.len().max(self.names.len());
        self.names.resize(width, None);
        self.seen.resize(width, Seen::default());
        for (i, name) in page.names.into_iter().enumerate() {
            if self.names[i].is_none() {
                self.names[i] = name;
            }
        }
        for row in page.rows {
            if row.len() > self.seen.len() {
                self.seen.resize(row.len(), Seen::default());
                self.names.resize(row.len(), None);
            }
            for (seen, v) in self.seen.iter_mut().zip(&row) {
                if let Some(v) = v {
                    seen.add(v);
                }
            }
            serde_json::to_writer(&mut self.file, &row)
                .map_err(|e| ResultsError::Spool(e.into()))?;
            self.file.write_all(b"\n").map_err(ResultsError::Spool)?;
            self.rows += 1;
        }
        Ok(())
    }

    /// The typed schema, and the columns that hold Lake's `{k=v}` text. Lake sends no column
    /// names with an empty result; `names` (from the statement) stand in for them then.
    pub fn finish(mut self, names: Option<Vec<String>>) -> Result<Typed, ResultsError> {
        if self.names.is_empty()
            && let Some(names) = names
        {
            self.seen = vec![Seen::default(); names.len()];
            self.names = names.into_iter().map(Some).collect();
        }
        self.file.flush().map_err(ResultsError::Spool)?;
        self.finished = true;
        let mut hints = Vec::new();
        let fields: Vec<Field> = self
            .names
            .iter()
            .zip(&self.seen)
            .enumerate()
            .map(|(i, (name, seen))| {
                let name = name.clone().unwrap_or_else(|| format!("_col{i}"));
                let data_type = column_type(&name, seen);
                if seen.braces() || is_nested_schema_column(&name) {
                    hints.push(name.clone());
                }
                Field::new(name, data_type, true)
            })
            .collect();
        Ok(Typed {
            schema: Arc::new(Schema::new(fields)),
            path: self.path.clone(),
            hints,
            rows: self.rows,
        })
    }
}

impl Drop for Spool {
    fn drop(&mut self) {
        // `Typed` takes the file over when finished; an abandoned spool is removed here.
        if !self.finished {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Spooled results with their types, ready to be written.
pub struct Typed {
    pub schema: SchemaRef,
    path: PathBuf,
    /// Columns holding Lake's `{k=v}` rendering of structs and maps.
    pub hints: Vec<String>,
    pub rows: u64,
}

impl Drop for Typed {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

impl Typed {
    /// The results as batches, read back from the spool.
    pub fn batches(
        &self,
    ) -> Result<impl Iterator<Item = Result<RecordBatch, ResultsError>> + '_, ResultsError> {
        let reader = BufReader::new(File::open(&self.path).map_err(ResultsError::Spool)?);
        let mut lines = reader.lines();
        Ok(std::iter::from_fn(move || {
            let mut rows: Vec<Vec<Option<String>>> = Vec::with_capacity(BATCH_ROWS);
            for line in lines.by_ref() {
                let parsed = line.map_err(ResultsError::Spool).and_then(|l| {
                    serde_json::from_str(&l).map_err(|e| ResultsError::Spool(e.into()))
                });
                match parsed {
                    Ok(row) => rows.push(row),
                    Err(e) => return Some(Err(e)),
                }
                if rows.len() == BATCH_ROWS {
                    break;
                }
            }
            (!rows.is_empty()).then(|| self.batch(&rows))
        }))
    }

    fn batch(&self, rows: &[Vec<Option<String>>]) -> Result<RecordBatch, ResultsError> {
        let columns = self
            .schema
            .fields()
            .iter()
            .enumerate()
            .map(|(i, f)| {
                column(
                    f.data_type(),
                    rows.iter().map(|r| r.get(i).and_then(Option::as_deref)),
                )
            })
            .collect::<Vec<_>>();
        Ok(RecordBatch::try_new(Arc::clone(&self.schema), columns)?)
    }
}

/// The temporary name `path` is written under until it is whole.
fn partial_of(path: &Path) -> PathBuf {
    path.with_file_name(format!(
        ".{}.partial",
        path.file_name().unwrap_or_default().to_string_lossy()
    ))
}

/// Checks, before a query runs (and is billed), that its results can be written to `path`: not
/// a folder, and its temporary file can be made beside it.
pub fn check_target(path: &Path) -> Result<(), ResultsError> {
    let fail = |reason: &str| ResultsError::Write {
        path: path.to_owned(),
        source: io::Error::other(reason.to_owned()),
    };
    if path.is_dir() {
        return Err(fail("it is a folder: name a file to write the results to"));
    }
    if path.file_name().is_none() {
        return Err(fail("it names no file"));
    }
    let tmp = partial_of(path);
    File::create(&tmp).map_err(|source| ResultsError::Write {
        path: path.to_owned(),
        source,
    })?;
    let _ = std::fs::remove_file(&tmp);
    Ok(())
}

/// Writes `path` whole: `fill` writes a hidden temporary file, which is synced and renamed over
/// `path`; on any failure the temporary file goes and `path` is left as it was.
fn write_whole(
    path: &Path,
    fill: impl FnOnce(BufWriter<File>) -> Result<BufWriter<File>, ResultsError>,
) -> Result<(), ResultsError> {
    let tmp = partial_of(path);
    let io_err = |source| ResultsError::Write {
        path: path.to_owned(),
        source,
    };
    let file = File::create(&tmp).map_err(io_err)?;
    let finished = fill(BufWriter::new(file)).and_then(|w| {
        let file = w.into_inner().map_err(|e| io_err(e.into_error()))?;
        file.sync_all().map_err(io_err)?;
        std::fs::rename(&tmp, path).map_err(io_err)
    });
    if finished.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    finished
}

/// Writes `text` to `out`, or to standard output. Files appear whole.
pub fn write_text(text: &str, out: Option<&Path>) -> Result<(), ResultsError> {
    match out {
        Some(path) => write_whole(path, |mut w| {
            w.write_all(text.as_bytes())
                .map_err(|source| ResultsError::Write {
                    path: path.to_owned(),
                    source,
                })?;
            Ok(w)
        }),
        None => {
            let mut stdout = io::stdout().lock();
            stdout
                .write_all(text.as_bytes())
                .and_then(|()| stdout.flush())
                .map_err(ResultsError::Stdout)
        }
    }
}

/// Writes `typed` as `format` to `out`, or to standard output. Files appear whole.
pub fn write(typed: &Typed, format: Format, out: Option<&Path>) -> Result<(), ResultsError> {
    match out {
        Some(path) => write_whole(path, |w| write_to(typed, format, w)),
        None => write_to(typed, format, BufWriter::new(io::stdout()))
            .and_then(|mut w| w.flush().map_err(ResultsError::Stdout))
            .map_err(|e| {
                // The CSV, JSON and Parquet writers wrap the write error in their own; a reader
                // that went away must still read as one.
                if broken_pipe(&e) {
                    ResultsError::Stdout(io::ErrorKind::BrokenPipe.into())
                } else {
                    e
                }
            }),
    }
}

/// True when an error, or any error under it, is a write to a pipe nobody reads.
fn broken_pipe(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = Some(error);
    while let Some(e) = cause {
        if e.downcast_ref::<io::Error>()
            .is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe)
        {
            return true;
        }
        cause = e.source();
    }
    false
}

fn write_to<W: Write + Send>(typed: &Typed, format: Format, mut w: W) -> Result<W, ResultsError> {
    let out_err = |e: io::Error| ResultsError::Stdout(e);
    match format {
        Format::Table => {
            let batches = typed.batches()?.collect::<Result<Vec<_>, _>>()?;
            if batches.is_empty() {
                let names: Vec<&str> = typed
                    .schema
                    .fields()
                    .iter()
                    .map(|f| f.name().as_str())
                    .collect();
                writeln!(w, "({}) no rows", names.join(", ")).map_err(out_err)?;
            } else {
                let table = arrow::util::pretty::pretty_format_batches(&batches)?;
                writeln!(w, "{table}").map_err(out_err)?;
            }
        }
        Format::Csv => {
            let mut writer = arrow::csv::WriterBuilder::new()
                .with_header(true)
                .build(&mut w);
            let mut any = false;
            for batch in typed.batches()? {
                writer.write(&batch?)?;
                any = true;
            }
            drop(writer);
            if !any {
                // No rows still has a header.
                writer_header(&mut w, &typed.schema).map_err(out_err)?;
            }
        }
        Format::Json => {
            let mut writer = arrow::json::ArrayWriter::new(&mut w);
            let mut any = false;
            for batch in typed.batches()? {
                writer.write(&batch?)?;
                any = true;
            }
            if any {
                writer.finish()?;
            } else {
                drop(writer);
                w.write_all(b"[]").map_err(out_err)?;
            }
            w.write_all(b"\n").map_err(out_err)?;
        }
        Format::Jsonl => {
            let mut writer = arrow::json::LineDelimitedWriter::new(&mut w);
            for batch in typed.batches()? {
                writer.write(&batch?)?;
            }
            writer.finish()?;
        }
        Format::Parquet => {
            let props = WriterProperties::builder()
                .set_compression(Compression::ZSTD(
                    ZstdLevel::try_new(6).expect("valid level"),
                ))
                .build();
            let mut writer = ArrowWriter::try_new(&mut w, Arc::clone(&typed.schema), Some(props))?;
            for batch in typed.batches()? {
                writer.write(&batch?)?;
            }
            writer.close()?;
        }
    }
    Ok(w)
}

fn writer_header(w: &mut impl Write, schema: &Schema) -> io::Result<()> {
    let mut writer = arrow::csv::WriterBuilder::new().with_header(true).build(w);
    writer
        .write(&RecordBatch::new_empty(Arc::new(schema.clone())))
        .map_err(io::Error::other)
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::AsArray;
    use arrow::datatypes::DataType;
    use trailq_events::schema::timestamp_type;

    fn page(names: &[&str], rows: &[&[Option<&str>]]) -> Page {
        Page {
            names: names.iter().map(|n| Some((*n).to_owned())).collect(),
            rows: rows
                .iter()
                .map(|r| r.iter().map(|v| v.map(str::to_owned)).collect())
                .collect(),
            total_rows: None,
        }
    }

    #[test]
    fn types_come_from_the_schema_or_from_every_value() {
        let mut spool = Spool::new().unwrap();
        spool
            .add(page(
                &[
                    "eventTime",
                    "n",
                    "ratio",
                    "ok",
                    "first",
                    "who",
                    "useridentity",
                    "eventID",
                ],
                &[
                    &[
                        Some("2023-01-22 16:53:53.000"),
                        Some("7"),
                        Some("1"),
                        Some("true"),
                        Some("2023-01-22 00:00:00.000"),
                        Some("x"),
                        Some("{type=Root, arn=null}"),
                        Some("12"),
                    ],
                    &[
                        None,
                        Some("96059"),
                        Some("0.5"),
                        Some("false"),
                        None,
                        Some("5"),
                        None,
                        Some("13"),
                    ],
                ],
            ))
            .unwrap();
        let typed = spool.finish(None).unwrap();
        let types: Vec<DataType> = typed
            .schema
            .fields()
            .iter()
            .map(|f| f.data_type().clone())
            .collect();
        assert_eq!(
            types,
            [
                timestamp_type(),
                DataType::Int64,
                DataType::Float64,
                DataType::Boolean,
                timestamp_type(),
                DataType::Utf8,
                DataType::Utf8,
                // Named like a schema column: a string even when every value looks like a number.
                DataType::Utf8
            ]
        );
        assert_eq!(typed.hints, ["useridentity"]);
        let batch = typed.batches().unwrap().next().unwrap().unwrap();
        assert_eq!(
            batch
                .column(1)
                .as_primitive::<arrow::datatypes::Int64Type>()
                .value(1),
            96059
        );
        assert!(batch.column(0).is_null(1));
    }
}
