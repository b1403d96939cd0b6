//! `trailq queries list | show NAME | run NAME`: the saved query library, run on CloudTrail Lake
//! or, unchanged, on an exported dataset with the embedded engine.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::{Args, Subcommand, ValueEnum};
use futures::StreamExt;
use serde::Serialize;

use crate::commands::query::{
    LakeArgs, OutputArgs, ParamArgs, StoreArgs, eds_value, on_lake, spinner,
};
use crate::error::{Error, Result};
use crate::terminal::note;
use trailq::library::{self, Origin, SavedQuery};
use trailq::local_engine::{self, LOCAL_EDS, LocalError};
use trailq::params::{self, Value};
use trailq::results::{Format, Spool};
use trailq_lake_sql::lake_values::Page;
use trailq_lake_sql::lake_values::{column_names, render_rows};

#[derive(Debug, Args)]
pub struct QueriesArgs {
    #[command(subcommand)]
    pub command: QueriesCommand,
}

#[derive(Debug, Subcommand)]
pub enum QueriesCommand {
    /// List the saved queries: name, title, parameters
    List(ListArgs),
    /// Show a saved query: its header, and its SQL with the parameters filled in
    Show(ShowArgs),
    /// Run a saved query on CloudTrail Lake (--eds) or on an exported dataset (--data)
    Run(Box<RunArgs>),
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// One JSON object per query (name, title, description, why, sources, ATT&CK, parameters)
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub params: ParamArgs,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// The saved query
    pub name: String,
    #[command(flatten)]
    pub params: ParamArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Engine {
    /// CloudTrail Lake, through the Lake client (billed per byte scanned)
    Lake,
    /// The embedded engine over an exported dataset (free, offline)
    Local,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The saved query (`trailq queries list`)
    pub name: String,
    /// Where to run it [default: local with --data, else lake]
    #[arg(long, value_enum)]
    pub engine: Option<Engine>,
    /// The exported dataset (the --out of `trailq export` or `trailq convert`): a folder or
    /// s3://BUCKET/PREFIX
    #[arg(long, value_name = "DIR|URL", value_parser = crate::commands::DatasetArg::parse, conflicts_with = "eds")]
    pub data: Option<crate::commands::DatasetArg>,
    /// For --engine lake
    #[command(flatten)]
    pub store: StoreArgs,
    #[command(flatten)]
    pub params: ParamArgs,
    #[command(flatten)]
    pub output: OutputArgs,
    #[command(flatten)]
    pub lake: LakeArgs,
}

pub fn run(args: QueriesArgs) -> Result<ExitCode> {
    match args.command {
        QueriesCommand::List(a) => list(a),
        QueriesCommand::Show(a) => show(a),
        QueriesCommand::Run(a) => run_query(*a),
    }
}

#[derive(Serialize)]
struct Listed<'a> {
    name: &'a str,
    title: &'a str,
    description: &'a str,
    why: &'a str,
    sources: &'a [String],
    attack: Option<&'a str>,
    /// `detection` or `context`.
    kind: &'static str,
    /// A detection's highest severity, actor column and events column.
    severity: Option<trailq::library::Severity>,
    actor: Option<&'a str>,
    events: Option<&'a str>,
    parameters: Vec<ListedParam<'a>>,
    file: Option<&'a std::path::Path>,
}

#[derive(Serialize)]
struct ListedParam<'a> {
    name: &'a str,
    kind: &'static str,
    default: Option<&'a str>,
    description: &'a str,
}

fn list(args: ListArgs) -> Result<ExitCode> {
    let library = args.params.library()?;
    let mut out = String::new();
    if args.json {
        for q in library.queries() {
            let listed = Listed {
                name: &q.name,
                title: &q.title,
                description: &q.description,
                why: &q.why,
                sources: &q.sources,
                attack: q.attack.as_deref(),
                kind: if q.detection.is_some() {
                    "detection"
                } else {
                    "context"
                },
                severity: q.detection.as_ref().map(|d| d.severity),
                actor: q.detection.as_ref().map(|d| d.actor.as_str()),
                events: q.detection.as_ref().map(|d| d.events.as_str()),
                parameters: q
                    .params
                    .iter()
                    .map(|p| ListedParam {
                        name: &p.name,
                        kind: p.kind.name(),
                        default: p.default.as_deref(),
                        description: &p.description,
                    })
                    .collect(),
                file: match &q.origin {
                    Origin::BuiltIn => None,
                    Origin::File(p) => Some(p),
                },
            };
            out.push_str(&serde_json::to_string(&listed).expect("serializes"));
            out.push('\n');
        }
    } else {
        let width = library
            .queries()
            .iter()
            .map(|q| q.name.len())
            .max()
            .unwrap_or(0);
        for q in library.queries() {
            let mine = match &q.origin {
                Origin::BuiltIn => "",
                Origin::File(_) => " [yours]",
            };
            let kind = match &q.detection {
                Some(d) => format!("detection (up to {})", d.severity),
                None => "context".to_owned(),
            };
            out.push_str(&format!(
                "{:width$}  {}{mine}\n{:width$}  {kind}; params: {}\n",
                q.name,
                q.title,
                "",
                q.param_list()
            ));
        }
    }
    print(&out)
}

fn show(args: ShowArgs) -> Result<ExitCode> {
    let library = args.params.library()?;
    let query = library.get(&args.name)?;
    let values = values(query, &args.params)?;
    let sql = params::fill_known(&query.sql, &values)?;
    let file = match &query.origin {
        Origin::BuiltIn => "built in".to_owned(),
        Origin::File(p) => p.display().to_string(),
    };
    print(&format!(
        "-- {} ({file})\n{}\n\n{sql}\n",
        query.name, query.header
    ))
}

fn print(text: &str) -> Result<ExitCode> {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
        .map_err(Error::Stdout)?;
    Ok(ExitCode::SUCCESS)
}

fn values(
    query: &SavedQuery,
    args: &ParamArgs,
) -> Result<std::collections::BTreeMap<String, Value>> {
    query
        .values(&args.param, args.now_micros())
        .map_err(Error::from)
}

fn run_query(args: RunArgs) -> Result<ExitCode> {
    let format = args.output.format()?;
    let library = args.params.library()?;
    let query = library.get(&args.name)?;
    let values = values(query, &args.params)?;
    let engine = args.engine.unwrap_or(if args.data.is_some() {
        Engine::Local
    } else {
        Engine::Lake
    });
    let runtime = crate::commands::runtime()?;
    match engine {
        Engine::Lake => runtime.block_on(async {
            let mut values = values;
            let Some(eds) = &args.store.eds else {
                return Err(Error::Usage(
                    "--engine lake needs the event data store: pass --eds ID (or set TRAILQ_EDS; `trailq stores` lists them), or run on an export with --data DIR".into(),
                ));
            };
            let client = args.lake.client().await?;
            values.insert(library::EDS.into(), eds_value(&client, eds).await?);
            let sql = params::fill(&query.sql, &values)?;
            on_lake(&client, Some(sql), None, &args.output, format, args.store.price_per_gb).await
        }),
        Engine::Local => {
            let Some(data) = &args.data else {
                return Err(Error::Usage(
                    "--engine local runs on an exported dataset: pass --data DIR (the --out of `trailq export` or `trailq convert`)".into(),
                ));
            };
            let now = args.params.now_micros();
            runtime.block_on(saved_on_dataset(query, values, now, data, &args.output, format))
        }
    }
}

/// Runs a saved query with its parameter `values` on the dataset in `data`.
pub async fn saved_on_dataset(
    query: &SavedQuery,
    mut values: std::collections::BTreeMap<String, Value>,
    now_micros: i64,
    data: &crate::commands::DatasetArg,
    output: &OutputArgs,
    format: Format,
) -> Result<ExitCode> {
    values.insert(
        library::EDS.into(),
        params::identifier(library::EDS, LOCAL_EDS).expect("a valid identifier"),
    );
    let sql = params::fill(&query.sql, &values)?;
    on_dataset(data, &sql, now_micros, output, format).await
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct LocalSummary {
    engine: &'static str,
    rows: u64,
    partitions_read: usize,
    partitions_total: usize,
    files_read: usize,
    execution_millis: u128,
    output: Option<PathBuf>,
}

/// Runs `sql` (Lake dialect, `FROM` [`LOCAL_EDS`]) on the dataset in `data` and writes the
/// results exactly as a Lake run of it would be written: rendered as Lake's strings, then typed.
pub async fn on_dataset(
    data: &crate::commands::DatasetArg,
    sql: &str,
    now_micros: i64,
    output: &OutputArgs,
    format: Format,
) -> Result<ExitCode> {
    let started = Instant::now();
    let spinner = spinner(output.quiet);
    spinner.set_message(format!("running on {data}"));
    let dataset = data.open_for_queries().await?;
    let started_run = local_engine::execute(dataset, sql, now_micros).await?;
    let mut spool = Spool::new()?;
    let names = started_run.column_names.clone();
    let mut stream = started_run.stream;
    let mut rows = 0u64;
    let mut schema_names: Option<Vec<Option<String>>> = None;
    loop {
        let next = tokio::select! {
            n = stream.next() => n,
            _ = tokio::signal::ctrl_c() => {
                spinner.finish_and_clear();
                return Err(Error::Interrupted(crate::error::NOTHING_WRITTEN));
            }
        };
        let Some(batch) = next else { break };
        let batch = batch.map_err(LocalError::Engine)?;
        let page_names = schema_names.get_or_insert_with(|| {
            column_names(names.as_deref(), &batch)
                .into_iter()
                .map(Some)
                .collect()
        });
        let page_rows = render_rows(&batch).map_err(Error::Usage)?;
        rows += page_rows.len() as u64;
        spinner.set_message(format!("{rows} rows"));
        spool.add(Page {
            names: page_names.clone(),
            rows: page_rows,
            total_rows: None,
        })?;
    }
    spinner.finish_and_clear();
    let typed = spool.finish(names)?;
    output.write(&typed, format)?;
    let stats = started_run
        .stats
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    let elapsed = started.elapsed();
    if !output.quiet {
        note!(
            "{}; read {} of {} day partitions ({} files) in {:.2} s",
            crate::terminal::count(typed.rows, "row", "rows"),
            stats.partitions_read,
            stats.partitions_total,
            stats.files_read,
            elapsed.as_secs_f64()
        );
    }
    if output.json {
        let summary = LocalSummary {
            engine: "local",
            rows: typed.rows,
            partitions_read: stats.partitions_read,
            partitions_total: stats.partitions_total,
            files_read: stats.files_read,
            execution_millis: elapsed.as_millis(),
            output: output.out.clone(),
        };
        crate::terminal::out_json(&summary)?;
    }
    Ok(ExitCode::SUCCESS)
}
