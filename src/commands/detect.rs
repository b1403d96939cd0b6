//! `trailq detect`: every detection of the saved query library, on an exported dataset or on
//! CloudTrail Lake, as findings for a person (table), a program (JSON lines) or a SIEM (OCSF).
//! Exit status 0: nothing at or above `--min-severity`; 1: findings; 2: it failed.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, ValueEnum};
use futures::StreamExt;

use crate::commands::DatasetArg;
use crate::commands::answers::Engine;
use crate::commands::query::{LakeArgs, ParamArgs, spinner};
use crate::commands::{parse_span, parse_time};
use crate::error::{Error, Result};
use crate::terminal::{count, note};
use trailq::detect::{self, Finding, Reported};
use trailq::library::{Library, SavedQuery, Severity};
use trailq::params::Value;
use trailq::results;

/// What `detect` exits with when it found something at or above `--min-severity`; a failure
/// exits [`crate::error::EXIT_ERROR`] (2), as clap's usage errors do.
pub const EXIT_FINDINGS: u8 = 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DetectFormat {
    /// Findings grouped by severity, for a person
    Table,
    /// One JSON object per finding and line
    Json,
    /// One OCSF Detection Finding (class 2004) per line, for Security Lake and SIEMs
    Ocsf,
}

#[derive(Debug, Args)]
pub struct DetectArgs {
    /// The exported dataset (the --out of `trailq export` or `trailq convert`)
    #[arg(long, value_name = "DIR|URL", value_parser = crate::commands::DatasetArg::parse, conflicts_with = "eds")]
    pub data: Option<crate::commands::DatasetArg>,
    /// Or run on CloudTrail Lake: the event data store (ID, ARN or name; `trailq stores` lists
    /// them); each detection is a Lake query, billed per byte scanned
    #[arg(long, env = "TRAILQ_EDS", value_name = "ID|ARN|NAME")]
    pub eds: Option<String>,
    #[command(flatten)]
    pub window: WindowArgs,
    /// Report findings of this severity and above: informational, low, medium, high, critical
    #[arg(long, value_name = "SEVERITY", default_value = "medium")]
    pub min_severity: Severity,
    /// How findings are written
    #[arg(long, value_enum, default_value = "table")]
    pub format: DetectFormat,
    /// Write the findings to this file (it appears whole) instead of standard output
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Report only findings not reported by an earlier `--since-last` run (kept in --state)
    #[arg(long)]
    pub since_last: bool,
    /// Where --since-last keeps what it reported [default: DIR/_trailq/detect-reported.json for
    /// --data DIR; ~/.local/state/trailq/detect-reported-EDS.json for --eds, and likewise
    /// detect-reported-s3-BUCKET-HASH.json for --data s3://…]
    #[arg(long, value_name = "FILE", requires = "since_last")]
    pub state: Option<PathBuf>,
    /// Relative times count back from this time [default: the current time]
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub now: Option<i64>,
    /// A folder of your own saved queries; its detections run too
    #[arg(long, env = "TRAILQ_QUERIES_DIR", value_name = "DIR")]
    pub queries_dir: Option<PathBuf>,
    /// No progress on standard error
    #[arg(short, long)]
    pub quiet: bool,
    #[command(flatten)]
    pub lake: LakeArgs,
}

/// The time window every detection (or the report) looks at.
#[derive(Debug, Clone, Args)]
pub struct WindowArgs {
    /// Start of the window (ISO 8601, UTC) [default: each query's own, 90 days ago]
    #[arg(long, value_name = "TIME", value_parser = parse_time, conflicts_with = "last")]
    pub start: Option<i64>,
    /// End of the window (ISO 8601, UTC) [default: now]
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub end: Option<i64>,
    /// The window is the last DURATION before --end (`24h`, `7d`)
    #[arg(long, value_name = "DURATION", value_parser = parse_span)]
    pub last: Option<Duration>,
}

impl WindowArgs {
    /// `start`/`end` as parameter values (times as the library writes them), over the
    /// queries' defaults.
    pub fn given(&self, now_micros: i64) -> Vec<(String, String)> {
        let end = self.end.unwrap_or(now_micros);
        let start = match (self.start, self.last) {
            (Some(s), _) => Some(s),
            (None, Some(last)) => {
                Some(end.saturating_sub(i64::try_from(last.as_micros()).unwrap_or(i64::MAX)))
            }
            (None, None) => None,
        };
        let time = trailq_events::time::format_micros;
        let mut given = vec![("end".to_owned(), time(end))];
        if let Some(start) = start {
            given.push(("start".to_owned(), time(start)));
        }
        given
    }
}

/// A query's parameter values for the window: `start` and `end`, then `extra`, the rest at their
/// defaults.
pub fn window_values(
    query: &SavedQuery,
    window: &WindowArgs,
    now_micros: i64,
    extra: &[(String, String)],
) -> Result<std::collections::BTreeMap<String, Value>> {
    let given: Vec<(String, String)> = window
        .given(now_micros)
        .into_iter()
        .filter(|(name, _)| query.params.iter().any(|p| &p.name == name))
        .chain(extra.iter().cloned())
        .collect();
    let values = query.values(&given, now_micros)?;
    for bound in ["start", "end"] {
        if !values.contains_key(bound) {
            return Err(Error::Usage(format!(
                "saved query `{}` has no `{bound}` parameter: a detection or report query covers a window (`-- param {bound}: timestamp = …`)",
                query.name
            )));
        }
    }
    Ok(values)
}

pub fn run(args: DetectArgs) -> Result<ExitCode> {
    let now = args
        .now
        .unwrap_or_else(|| chrono::Utc::now().timestamp_micros());
    let library = ParamArgs {
        param: Vec::new(),
        now: args.now,
        queries_dir: args.queries_dir.clone(),
    }
    .library()?;
    if let Some(out) = &args.out {
        results::check_target(out)?;
    }
    let runtime = crate::commands::runtime()?;
    runtime.block_on(detect(&args, &library, now))
}

async fn detect(args: &DetectArgs, library: &Library, now: i64) -> Result<ExitCode> {
    let (engine, state_path) = match (&args.data, &args.eds) {
        (Some(data), _) => {
            let state = match data {
                DatasetArg::Dir(dir) => trailq::dataset::layout::detect_reported_file(dir),
                // Not written into a dataset in S3 (its one writer is export or convert): kept
                // in the user's state folder, named after the URL.
                DatasetArg::S3(url) => state_folder().join(format!(
                    "detect-reported-s3-{}-{:016x}.json",
                    url.bucket,
                    xxhash_rust::xxh3::xxh3_64(url.to_string().as_bytes())
                )),
            };
            (Engine::Local(data.clone()), state)
        }
        (None, Some(eds)) => {
            let client = args.lake.client().await?;
            let state = state_folder().join(format!(
                "detect-reported-{}.json",
                eds.rsplit('/').next().unwrap_or(eds)
            ));
            (Engine::lake(client, eds).await?, state)
        }
        (None, None) => {
            return Err(Error::Usage(
                "detect needs what to look at: --data DIR (an exported dataset) or --eds ID (a CloudTrail Lake event data store)".into(),
            ));
        }
    };
    let state_path = args.state.clone().unwrap_or(state_path);
    let mut reported = if args.since_last {
        Some(Reported::load(&state_path)?)
    } else {
        None
    };
    let (ran, all) = run_detections(&engine, library, &args.window, now, args.quiet).await?;
    let total = all.len();
    let (mut shown, below): (Vec<Finding>, Vec<Finding>) = all
        .into_iter()
        .partition(|f| f.severity >= args.min_severity);
    let before_state = shown.len();
    if let Some(reported) = &reported {
        shown.retain(|f| !reported.contains(f));
    }
    let already = before_state - shown.len();
    detect::sort(&mut shown);

    let text = match args.format {
        DetectFormat::Table => detect::table(&shown, below.len(), args.min_severity),
        DetectFormat::Json => lines(
            shown
                .iter()
                .map(|f| serde_json::to_value(f).expect("serializes")),
        ),
        DetectFormat::Ocsf => lines(
            shown
                .iter()
                .map(|f| detect::ocsf(f, env!("CARGO_PKG_VERSION"))),
        ),
    };
    results::write_text(&text, args.out.as_deref())?;
    if let Some(reported) = &mut reported {
        reported.add(&shown, now);
        write_state(&state_path, &reported.to_json())?;
    }
    if !args.quiet {
        let mut by = String::new();
        for severity in Severity::ALL.iter().rev() {
            let n = shown.iter().filter(|f| f.severity == *severity).count();
            if n > 0 {
                by.push_str(&format!(
                    "{}{n} {severity}",
                    if by.is_empty() { "" } else { ", " }
                ));
            }
        }
        note!(
            "{} ran on {}: {} at {} or above{}{}; {} in all",
            count(ran as u64, "detection", "detections"),
            engine.describe(),
            count(shown.len() as u64, "finding", "findings"),
            args.min_severity,
            if by.is_empty() {
                String::new()
            } else {
                format!(" ({by})")
            },
            if already > 0 {
                format!(", {already} more reported before (--since-last)")
            } else {
                String::new()
            },
            total
        );
    }
    Ok(if shown.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_FINDINGS)
    })
}

/// Runs every detection of `library` over the window; how many ran, and their findings.
pub async fn run_detections(
    engine: &Engine,
    library: &Library,
    window: &WindowArgs,
    now: i64,
    quiet: bool,
) -> Result<(usize, Vec<Finding>)> {
    let detections: Vec<&SavedQuery> = library
        .queries()
        .iter()
        .filter(|q| q.detection.is_some())
        .collect();
    let progress = spinner(quiet);
    progress.set_message(format!("running {} detections", detections.len()));
    // Lake runs queries side by side (up to 10 per account); the local engine already keeps
    // both cores busy with one.
    let at_once = match engine {
        Engine::Lake { .. } => 4,
        Engine::Local(_) => 1,
    };
    let mut done = 0;
    let mut all = Vec::new();
    let mut answers = futures::stream::iter(detections.iter().map(|query| async move {
        let values = window_values(query, window, now, &[])?;
        let answer = engine.run(query, &values, now).await?;
        Ok::<_, Error>(detect::findings(query, &answer.names, &answer.rows)?)
    }))
    .buffered(at_once);
    while let Some(found) = answers.next().await {
        all.extend(found?);
        done += 1;
        progress.set_message(format!("{done}/{} detections run", detections.len()));
    }
    progress.finish_and_clear();
    Ok((detections.len(), all))
}

fn lines(values: impl Iterator<Item = serde_json::Value>) -> String {
    let mut out = String::new();
    for v in values {
        out.push_str(&v.to_string());
        out.push('\n');
    }
    out
}

fn write_state(path: &Path, bytes: &[u8]) -> Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| {
            Error::Usage(format!(
                "cannot keep what --since-last reported in `{}`: {e}; pass --state FILE",
                path.display()
            ))
        })?;
    }
    trailq::dataset::sink::write_atomically(path, bytes).map_err(|e| {
        Error::Usage(format!(
            "cannot keep what --since-last reported: {e}; pass --state FILE"
        ))
    })
}

/// `$XDG_STATE_HOME/trailq`, else `~/.local/state/trailq`.
fn state_folder() -> PathBuf {
    std::env::var_os("XDG_STATE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".local/state")))
        .unwrap_or_else(|| PathBuf::from("."))
        .join("trailq")
}
