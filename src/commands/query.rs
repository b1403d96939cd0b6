//! `trailq query`: a CloudTrail Lake query (SQL, a file, or a saved query by name) from start to
//! typed output in one command; and what other commands share with it: the Lake connection
//! options (`stores`, `history`, `queries run`), parameter values and the saved-query folder,
//! output options, and the Lake run itself (`queries run --engine lake`).

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use aws_sdk_cloudtrail::Client;
use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;

use crate::commands::EndpointArgs;
use crate::error::{Error, Result};
use crate::terminal::note;
use trailq::aws::{self, AwsError};
use trailq::library::{self, Library};
use trailq::params::{self, Kind, Value};
use trailq::results::{Format, Spool, Typed, write};
use trailq::source::lake::{self, Described, LakeError};

/// Lake's documented price per GB scanned (us-east-1); other Regions and discounts differ.
pub const PRICE_PER_GB: f64 = 0.005;

/// Where Lake is: the AWS identity, Region and endpoint.
#[derive(Debug, Clone, Default, Args)]
pub struct LakeArgs {
    /// AWS profile [default: the standard chain]
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,
    /// Region of the event data store [default: the configured Region]
    #[arg(long, value_name = "REGION")]
    pub region: Option<String>,
    #[command(flatten)]
    pub endpoint: EndpointArgs,
}

impl LakeArgs {
    pub async fn client(&self) -> Result<Client> {
        let identity = aws::load(
            self.profile.as_deref(),
            self.endpoint.endpoint_url.as_deref(),
        )
        .await?;
        let region = match self.region.clone().or_else(|| identity.region()) {
            Some(r) => r,
            None => {
                return Err(AwsError::NoRegion {
                    who: identity.label().to_owned(),
                }
                .into());
            }
        };
        Ok(identity.client(&region))
    }
}

#[derive(Debug, Args)]
pub struct QueryArgs {
    /// A saved query to run (`trailq queries list` shows them)
    #[arg(value_name = "NAME", conflicts_with_all = ["sql", "file", "query_id"], required_unless_present_any = ["sql", "file", "query_id"])]
    pub name: Option<String>,
    /// The SQL (Lake's dialect); `{{eds}}` is the event data store, `{{name}}` any --param
    #[arg(long, value_name = "SQL", conflicts_with_all = ["file", "query_id"])]
    pub sql: Option<String>,
    /// Read the SQL from a file
    #[arg(long, value_name = "FILE", conflicts_with = "query_id")]
    pub file: Option<PathBuf>,
    /// Fetch the results of an earlier query again (Lake keeps them 7 days) without re-running it
    #[arg(long, value_name = "ID")]
    pub query_id: Option<String>,
    #[command(flatten)]
    pub params: ParamArgs,
    #[command(flatten)]
    pub store: StoreArgs,
    #[command(flatten)]
    pub output: OutputArgs,
    #[command(flatten)]
    pub lake: LakeArgs,
}

/// Which event data store a query reads, and what its scan costs.
#[derive(Debug, Clone, Args)]
pub struct StoreArgs {
    /// The event data store for `{{eds}}`: ID, ARN or name (`trailq stores` lists them)
    #[arg(long, env = "TRAILQ_EDS", value_name = "ID|ARN|NAME")]
    pub eds: Option<String>,
    /// Price per GB scanned for Lake's cost estimate (USD)
    #[arg(long, default_value_t = PRICE_PER_GB, value_name = "USD")]
    pub price_per_gb: f64,
}

/// Parameter values, and where saved queries are found.
#[derive(Debug, Clone, Args)]
pub struct ParamArgs {
    /// A parameter value, checked for the parameter's kind: times like 2026-11-01T00:00:00Z, a
    /// date, `now` or `-7d`; durations like 12h; lists like a,b (repeatable)
    #[arg(long, value_name = "NAME=VALUE", value_parser = parse_param)]
    pub param: Vec<(String, String)>,
    /// Relative times (`now`, `-7d`) count back from this time [default: the current time]
    #[arg(long, value_name = "TIME", value_parser = crate::commands::parse_time)]
    pub now: Option<i64>,
    /// A folder of your own saved queries (`NAME.sql`), next to the built-in ones [default:
    /// ~/.config/trailq/queries when it exists]
    #[arg(long, env = "TRAILQ_QUERIES_DIR", value_name = "DIR")]
    pub queries_dir: Option<PathBuf>,
}

impl ParamArgs {
    pub fn now_micros(&self) -> i64 {
        self.now
            .unwrap_or_else(|| chrono::Utc::now().timestamp_micros())
    }

    /// The built-in queries and the user's.
    pub fn library(&self) -> Result<Library> {
        let folders: Vec<(PathBuf, bool)> = match &self.queries_dir {
            Some(dir) => vec![(dir.clone(), true)],
            None => library::config_folder()
                .map(|d| (d, false))
                .into_iter()
                .collect(),
        };
        Library::load(&folders).map_err(Error::from)
    }
}

/// Where and how results are written.
#[derive(Debug, Clone, Args)]
pub struct OutputArgs {
    /// Output format [default: from --out's extension (.parquet, .json, .jsonl, else csv); table
    /// on a terminal, csv otherwise]
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    /// Write the results to this file (required for parquet); it appears whole
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Print a JSON summary (rows, what was scanned, cost) on standard output; the results need
    /// --out then
    #[arg(long, requires = "out")]
    pub json: bool,
    /// No spinner, progress bar or statistics
    #[arg(long, short)]
    pub quiet: bool,
}

impl OutputArgs {
    /// The format asked for, or the one `--out`'s extension names. Also checks that `--out` can
    /// be written, so that a bad path fails before a query runs and is billed.
    pub fn format(&self) -> Result<Format> {
        if let Some(out) = &self.out {
            trailq::results::check_target(out)?;
        }
        Ok(match self.format {
            Some(Format::Parquet) if self.out.is_none() => {
                return Err(Error::Usage(
                    "--format parquet writes a file: add --out FILE.parquet".into(),
                ));
            }
            Some(f) => f,
            None => match self
                .out
                .as_ref()
                .and_then(|p| p.extension())
                .and_then(|e| e.to_str())
            {
                // The file's extension says what it is.
                Some("parquet") => Format::Parquet,
                Some("json") => Format::Json,
                Some("jsonl" | "ndjson") => Format::Jsonl,
                Some(_) => Format::Csv,
                None if self.out.is_none() && std::io::stdout().is_terminal() => Format::Table,
                None => Format::Csv,
            },
        })
    }

    /// Writes typed results where asked, with the notes the user needs about them.
    pub fn write(&self, typed: &Typed, format: Format) -> Result<()> {
        write(typed, format, self.out.as_deref())?;
        if !self.quiet {
            for column in &typed.hints {
                note!(
                    "note: column `{column}` holds Lake's {{key=value, …}} text of a struct or map, kept as a string: select its leaf fields (userIdentity.arn, element_at(requestParameters, 'key')) or eventJson"
                );
            }
        }
        Ok(())
    }
}

fn parse_param(s: &str) -> std::result::Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_owned(), v.to_owned())),
        _ => Err(format!("`{s}` is not NAME=VALUE")),
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct QuerySummary {
    engine: &'static str,
    query_id: String,
    status: String,
    rows: u64,
    events_matched: i64,
    events_scanned: i64,
    bytes_scanned: i64,
    estimated_cost_usd: f64,
    price_per_gb_usd: f64,
    execution_millis: i64,
    output: Option<PathBuf>,
}

pub fn run(args: QueryArgs) -> Result<ExitCode> {
    let format = args.output.format()?;
    crate::commands::runtime()?.block_on(async {
        let client = args.lake.client().await?;
        let statement = match &args.query_id {
            Some(_) => None,
            None => Some(statement(&args, &client).await?),
        };
        on_lake(
            &client,
            statement,
            args.query_id.as_deref(),
            &args.output,
            format,
            args.store.price_per_gb,
        )
        .await
    })
}

/// Runs `statement` on Lake, or fetches the results of `query_id` again, and writes them.
pub async fn on_lake(
    client: &Client,
    statement: Option<String>,
    query_id: Option<&str>,
    output: &OutputArgs,
    format: Format,
    price_per_gb: f64,
) -> Result<ExitCode> {
    let spinner = spinner(output.quiet);
    let started = Instant::now();
    let (id, described) = match (query_id, statement) {
        (Some(id), _) => {
            let d = lake::wait(client, id, |d| status(&spinner, d, started)).await?;
            (id.to_owned(), d)
        }
        (None, statement) => {
            let statement = statement.unwrap_or_default();
            let id = lake::start(client, &statement, |waited| {
                spinner.set_message(format!(
                    "10 queries already queued or running; waiting for a slot ({} s)",
                    waited.as_secs()
                ))
            })
            .await?;
            spinner.set_message(format!("query {id} QUEUED"));
            let waited = tokio::select! {
                d = lake::wait(client, &id, |d| status(&spinner, d, started)) => Some(d),
                _ = tokio::signal::ctrl_c() => None,
            };
            match waited {
                Some(d) => (id, d?),
                None => {
                    spinner.finish_and_clear();
                    lake::cancel(client, &id).await?;
                    note!("cancelled query {id}");
                    return Err(Error::Interrupted(crate::error::NOTHING_WRITTEN));
                }
            }
        }
    };
    if described.status != "FINISHED" {
        spinner.finish_and_clear();
        let statement = described.statement.as_deref().unwrap_or_default();
        return Err(Error::Api(format!(
            "query {id} ended {}: {}\n{}",
            described.status,
            described
                .error_message
                .as_deref()
                .unwrap_or("(Lake gave no message)"),
            show_position(statement, described.error_message.as_deref())
        )));
    }

    spinner.set_message(format!("query {id} FINISHED; fetching results"));
    let mut spool = Spool::new()?;
    let bar = spinner;
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{bar:30}] {pos}/{len} rows {msg}")
            .expect("valid template")
            .progress_chars("=> "),
    );
    let paging = lake::pages(client, &id, |page| {
        if let Some(total) = page.total_rows {
            bar.set_length(total.max(0) as u64);
        }
        bar.inc(page.rows.len() as u64);
        spool.add(page).map_err(|e| LakeError::Api {
            operation: "GetQueryResults",
            text: e.to_string(),
        })
    });
    tokio::select! {
        paged = paging => paged?,
        _ = tokio::signal::ctrl_c() => {
            bar.finish_and_clear();
            note!("stopped; the results of query {id} stay available for 7 days: trailq query --query-id {id}");
            return Err(Error::Interrupted(crate::error::NOTHING_WRITTEN));
        }
    }
    bar.finish_and_clear();
    // Lake names no columns when there are no rows: take them from the statement.
    let names = described.statement.as_deref().and_then(|sql| {
        trailq_lake_sql::dialect::prepare(sql, |name| Some(name.to_owned()))
            .ok()?
            .column_names
    });
    let typed = spool.finish(names)?;
    output.write(&typed, format)?;

    let cost = described.bytes_scanned.max(0) as f64 / 1e9 * price_per_gb;
    if !output.quiet {
        note!(
            "{}; {} events scanned, {} bytes scanned (≈ ${cost:.4} at ${price_per_gb}/GB); query {id}",
            crate::terminal::count(typed.rows, "row", "rows"),
            described.events_scanned,
            described.bytes_scanned
        );
    }
    if output.json {
        let summary = QuerySummary {
            engine: "lake",
            query_id: id,
            status: described.status.clone(),
            rows: typed.rows,
            events_matched: described.events_matched,
            events_scanned: described.events_scanned,
            bytes_scanned: described.bytes_scanned,
            estimated_cost_usd: cost,
            price_per_gb_usd: price_per_gb,
            execution_millis: described.execution_millis,
            output: output.out.clone(),
        };
        crate::terminal::out_json(&summary)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The SQL with its parameters filled in: a saved query's kinds and defaults, or for `--sql`
/// and `--file` the kinds their names imply (`eds`, `start`/`end`, else text).
async fn statement(args: &QueryArgs, client: &Client) -> Result<String> {
    let now = args.params.now_micros();
    // The SQL, the values given, and whether it reads `{{eds}}`.
    let (sql, mut values, reads_eds) = match (&args.name, &args.sql, &args.file) {
        (Some(name), _, _) => {
            let library = args.params.library()?;
            let query = library.get(name)?;
            let values = query.values(&args.params.param, now)?;
            // A saved query always reads `{{eds}}` (the library checks it).
            (query.sql.clone(), values, true)
        }
        (None, sql, file) => {
            let sql = match (sql, file) {
                (Some(sql), _) => sql.clone(),
                (None, Some(file)) => std::fs::read_to_string(file).map_err(|e| {
                    Error::Usage(format!(
                        "cannot read the SQL file `{}`: {e}",
                        file.display()
                    ))
                })?,
                (None, None) => unreachable!("clap requires NAME, --sql, --file or --query-id"),
            };
            let used = params::names(&sql)?;
            let mut values = BTreeMap::new();
            for (name, value) in &args.params.param {
                if !used.contains(name) {
                    return Err(Error::Usage(format!(
                        "--param {name}: the SQL has no {{{{{name}}}}} (it uses: {})",
                        if used.is_empty() {
                            "none".to_owned()
                        } else {
                            used.join(", ")
                        }
                    )));
                }
                let v = Kind::of_name(name).value(name, value, now)?;
                values.insert(name.clone(), v);
            }
            let reads_eds = used.iter().any(|n| n == library::EDS);
            (sql, values, reads_eds)
        }
    };
    if reads_eds && !values.contains_key(library::EDS) {
        let Some(eds) = &args.store.eds else {
            return Err(Error::Usage(
                "the SQL uses {{eds}}: pass --eds ID (or set TRAILQ_EDS); `trailq stores` lists event data stores".into(),
            ));
        };
        values.insert(library::EDS.into(), eds_value(client, eds).await?);
    }
    params::fill(&sql, &values).map_err(Error::from)
}

/// `{{eds}}`'s value from `--eds` (an ID, ARN or name).
pub async fn eds_value(client: &Client, eds: &str) -> Result<Value> {
    let id = resolve_eds(client, eds).await?;
    params::identifier(library::EDS, &id).map_err(Error::from)
}

/// An event data store ID from an ID, an ARN or a name.
pub async fn resolve_eds(client: &Client, eds: &str) -> Result<String> {
    if eds.starts_with("arn:") {
        return Ok(lake::store_id(eds).to_owned());
    }
    // The list has IDs (in the ARNs) and names: no need for each store's details.
    let stores = lake::store_names(client).await?;
    if let Some((arn, _)) = stores
        .iter()
        .find(|(arn, name)| lake::store_id(arn) == eds || name == eds)
    {
        return Ok(lake::store_id(arn).to_owned());
    }
    // An ID of a store this identity cannot list (another account's) is still an ID.
    if params::identifier("eds", eds).is_ok() && eds.contains('-') {
        return Ok(eds.to_owned());
    }
    Err(Error::Usage(format!(
        "no event data store is named `{eds}`; `trailq stores` lists them ({})",
        stores
            .iter()
            .map(|(_, name)| name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    )))
}

pub fn spinner(quiet: bool) -> ProgressBar {
    if quiet {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg} ({elapsed})").expect("valid template"),
    );
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}

fn status(spinner: &ProgressBar, d: &Described, started: Instant) {
    spinner.set_message(format!(
        "{} after {:.1} s",
        d.status,
        started.elapsed().as_secs_f64()
    ));
}

/// The statement, with a caret under the position Lake's message names (`line 1:8`).
fn show_position(statement: &str, message: Option<&str>) -> String {
    let position = message.and_then(|m| {
        let rest = m.split("line ").nth(1)?;
        let (line, rest) = rest.split_once(':')?;
        let column: String = rest.chars().take_while(char::is_ascii_digit).collect();
        Some((line.parse::<usize>().ok()?, column.parse::<usize>().ok()?))
    });
    let mut out = String::new();
    for (i, line) in statement.lines().enumerate() {
        out.push_str("  ");
        out.push_str(line);
        out.push('\n');
        if let Some((l, c)) = position
            && l == i + 1
        {
            out.push_str(&format!("  {}^\n", " ".repeat(c.saturating_sub(1))));
        }
    }
    out.trim_end().to_owned()
}
