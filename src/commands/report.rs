//! `trailq report`: the investigation as one self-contained HTML page (see `trailq::report`):
//! activity over time, every detection's findings, a timeline per suspicious principal, and the
//! context tables, each from the saved query of the same name.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use crate::commands::answers::{Answer, Engine};
use crate::commands::detect::{WindowArgs, run_detections, window_values};
use crate::commands::parse_time;
use crate::commands::query::{LakeArgs, ParamArgs, spinner};
use crate::error::{Error, Result};
use crate::terminal::{count, note};
use trailq::library::{Library, Severity};
use trailq::params::Value;
use trailq::report::{self, Report, Rows, Timeline};
use trailq::results;

/// The context tables, in the order the page shows them.
const CONTEXT: [&str; 4] = [
    "first-seen-principals",
    "top-callers",
    "source-ips",
    "user-agents",
];
const ACTIVITY: &str = "activity-by-account-region";
const TIMELINE: &str = "principal-write-timeline";

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The exported dataset (the --out of `trailq export` or `trailq convert`)
    #[arg(long, value_name = "DIR|URL", value_parser = crate::commands::DatasetArg::parse, conflicts_with = "eds")]
    pub data: Option<crate::commands::DatasetArg>,
    /// Or run on CloudTrail Lake: the event data store (ID, ARN or name; `trailq stores` lists
    /// them); each section is a Lake query, billed per byte scanned
    #[arg(long, env = "TRAILQ_EDS", value_name = "ID|ARN|NAME")]
    pub eds: Option<String>,
    #[command(flatten)]
    pub window: WindowArgs,
    /// A principal (part of its ARN or name) to give a timeline of, besides those behind
    /// findings of medium severity or above (repeatable)
    #[arg(long, value_name = "P")]
    pub principal: Vec<String>,
    /// The HTML file to write (it appears whole)
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// Relative times count back from this time [default: the current time]
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub now: Option<i64>,
    /// A folder of your own saved queries; its detections are in the report too
    #[arg(long, env = "TRAILQ_QUERIES_DIR", value_name = "DIR")]
    pub queries_dir: Option<PathBuf>,
    /// No progress on standard error
    #[arg(short, long)]
    pub quiet: bool,
    #[command(flatten)]
    pub lake: LakeArgs,
}

pub fn run(args: ReportArgs) -> Result<ExitCode> {
    let now = args
        .now
        .unwrap_or_else(|| chrono::Utc::now().timestamp_micros());
    let library = ParamArgs {
        param: Vec::new(),
        now: args.now,
        queries_dir: args.queries_dir.clone(),
    }
    .library()?;
    results::check_target(&args.out)?;
    let runtime = crate::commands::runtime()?;
    runtime.block_on(write_report(&args, &library, now))
}

/// Builds the report of `args` and writes it to `args.out`; what the page showed, for a note.
pub async fn write_report(args: &ReportArgs, library: &Library, now: i64) -> Result<ExitCode> {
    let engine = match (&args.data, &args.eds) {
        (Some(data), _) => Engine::Local(data.clone()),
        (None, Some(eds)) => Engine::lake(args.lake.client().await?, eds).await?,
        (None, None) => {
            return Err(Error::Usage(
                "report needs what to look at: --data DIR (an exported dataset) or --eds ID (a CloudTrail Lake event data store)".into(),
            ));
        }
    };
    let (_, mut findings) = run_detections(&engine, library, &args.window, now, args.quiet).await?;
    trailq::detect::sort(&mut findings);

    let progress = spinner(args.quiet);
    let run = |name: &'static str, extra: Vec<(String, String)>| {
        let engine = &engine;
        let window = &args.window;
        let progress = &progress;
        async move {
            progress.set_message(format!("report: {name}"));
            let query = library.get(name)?;
            let values = window_values(query, window, now, &extra)?;
            let answer = engine.run(query, &values, now).await?;
            Ok::<_, Error>((values, answer))
        }
    };
    let (values, activity) = run(ACTIVITY, Vec::new()).await?;
    let window = match (values.get("start"), values.get("end")) {
        (Some(Value::Timestamp(s)), Some(Value::Timestamp(e))) => (*s, *e),
        _ => unreachable!("window_values checks both bounds"),
    };

    // The principals to follow: behind a finding of medium or above, worst first, then asked for.
    let mut principals: Vec<(String, Option<Severity>)> = Vec::new();
    for f in &findings {
        if f.severity >= Severity::Medium && !principals.iter().any(|(p, _)| p == &f.actor) {
            principals.push((f.actor.clone(), Some(f.severity)));
        }
    }
    for p in &args.principal {
        if !principals.iter().any(|(q, _)| q == p) {
            principals.push((p.clone(), None));
        }
    }
    let mut timelines: Vec<(String, Option<Severity>, Answer)> = Vec::new();
    for (principal, worst) in principals {
        let (_, answer) = run(TIMELINE, vec![("principal".into(), principal.clone())]).await?;
        timelines.push((principal, worst, answer));
    }
    let mut context: Vec<(&'static str, String, Answer)> = Vec::new();
    for name in CONTEXT {
        let (_, answer) = run(name, Vec::new()).await?;
        context.push((name, library.get(name)?.title.clone(), answer));
    }
    progress.finish_and_clear();

    let source = engine.describe();
    let activity_title = library.get(ACTIVITY)?.title.clone();
    let page = report::html(&Report {
        window,
        source: &source,
        version: env!("CARGO_PKG_VERSION"),
        generated_micros: chrono::Utc::now().timestamp_micros(),
        findings: &findings,
        activity: Rows {
            query: ACTIVITY,
            title: &activity_title,
            names: &activity.names,
            rows: &activity.rows,
            hide: &[],
        },
        timelines: timelines
            .iter()
            .map(|(principal, worst, answer)| Timeline {
                principal,
                worst: *worst,
                rows: Rows {
                    query: TIMELINE,
                    title: "",
                    names: &answer.names,
                    rows: &answer.rows,
                    hide: &["principal"],
                },
            })
            .collect(),
        context: context
            .iter()
            .map(|(name, title, answer)| Rows {
                query: name,
                title,
                names: &answer.names,
                rows: &answer.rows,
                hide: &[],
            })
            .collect(),
    });
    results::write_text(&page, Some(&args.out))?;
    if !args.quiet {
        note!(
            "report written to {} ({}, {} followed)",
            args.out.display(),
            count(findings.len() as u64, "finding", "findings"),
            count(timelines.len() as u64, "principal", "principals")
        );
    }
    Ok(ExitCode::SUCCESS)
}
