//! `trailq export`: Event history (LookupEvents) → the Parquet dataset, at the API's ceiling,
//! resumable.
//!
//! The plan is identities (`--profile`) × Regions × lookup attributes (one per Inspector event
//! source by default: the API takes one attribute). Each is a stream
//! ([`trailq::source::lookup_events`]); the streams of one identity and Region share one
//! [`Pacer`] at 2 requests/s, and different ones run at the same time. Finished slices go to one
//! writer thread ([`trailq::pipeline::write_stream_chunks`]) that lands them in the dataset and then in the checkpoint
//! ([`trailq::dataset::checkpoint`]). The window is fixed once, at the first start, and kept in the
//! checkpoint: running the same command again continues the same export.

mod plan;
mod progress;
mod report;
mod via_lake;

use crate::commands::DatasetArg;
use std::collections::BTreeMap;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Args;

use crate::commands::{EndpointArgs, parse_span, parse_time};
use crate::error::{EXIT_REJECTED, Error, Result};
use crate::terminal::note;
use trailq::aws::{self, Identity};
use trailq::dataset::checkpoint;
use trailq::dataset::sink::DatasetOptions;
use trailq::pace::Pacer;
use trailq::pipeline::{Chunk, Committer, Filters, Written, write_stream_chunks};
use trailq::source::lookup_events::{Stream, StreamCounters, StreamError};
use trailq_events::cloudtrail::LOOKUP_KEYS;
use trailq_events::time::format_micros;

use plan::{Planned, finish_run, window};
use progress::Progress;
pub use report::Summary;

/// Regions `--all-regions` tries (commercial partition); one not enabled for the account is
/// skipped with a warning when CloudTrail refuses it.
pub const ALL_REGIONS: [&str; 34] = [
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
    "af-south-1",
    "ap-east-1",
    "ap-east-2",
    "ap-south-1",
    "ap-south-2",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-southeast-3",
    "ap-southeast-4",
    "ap-southeast-5",
    "ap-southeast-7",
    "ca-central-1",
    "ca-west-1",
    "eu-central-1",
    "eu-central-2",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "eu-north-1",
    "eu-south-1",
    "eu-south-2",
    "il-central-1",
    "me-central-1",
    "me-south-1",
    "mx-central-1",
    "sa-east-1",
    "ap-southeast-6",
];

#[derive(Debug, Clone, Args)]
pub struct ExportArgs {
    /// The dataset: a folder (created if missing) or s3://BUCKET/PREFIX, written with the first
    /// --profile's credentials. Events already in it are not added again
    #[arg(long, value_name = "DIR|URL", value_parser = DatasetArg::parse)]
    pub out: DatasetArg,
    /// Start of the window (ISO 8601, UTC) [default: 90 days ago, as far as Event history goes]
    #[arg(long, value_name = "TIME", value_parser = parse_time, conflicts_with_all = ["last", "since_last"])]
    pub start: Option<i64>,
    /// End of the window (ISO 8601, UTC) [default: now]
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub end: Option<i64>,
    /// The window is the last DURATION (`7d`, `12h`)
    #[arg(long, value_name = "DURATION", value_parser = parse_window, conflicts_with = "since_last")]
    pub last: Option<Duration>,
    /// Only what is newer than the last finished export into this dataset
    #[arg(long)]
    pub since_last: bool,
    /// An event source to export (repeatable) [default: the three Amazon Inspector sources]
    #[arg(
        long = "event-source",
        value_name = "SOURCE",
        conflicts_with = "lookup"
    )]
    pub event_sources: Vec<String>,
    /// Look up by another attribute instead: EventName=Disable, Username=alice, ReadOnly=false,
    /// EventId=…, ResourceType=…, ResourceName=…, AccessKeyId=…
    #[arg(long, value_name = "KEY=VALUE", value_parser = parse_lookup)]
    pub lookup: Option<(String, String)>,
    /// Keep only these event names (repeatable; filtered here: the API takes one attribute)
    #[arg(long, value_name = "NAME")]
    pub where_event_name: Vec<String>,
    /// Keep only read-only (true) or only mutating (false) events (filtered here)
    #[arg(long, value_name = "BOOL")]
    pub read_only: Option<bool>,
    /// A Region to export (repeatable) [default: the configured Region]
    #[arg(long, value_name = "REGION")]
    pub region: Vec<String>,
    /// Every commercial Region (us-east-1 holds global services' events); Regions not enabled
    /// for an account are skipped with a warning
    #[arg(long, conflicts_with = "region")]
    pub all_regions: bool,
    /// An AWS profile to export (repeatable, one per account) [default: the standard chain];
    /// with --org, the one profile of the management or delegated-administrator account
    #[arg(long, value_name = "NAME")]
    pub profile: Vec<String>,
    /// Every ACTIVE account of the organization: the caller's own with its credentials, each
    /// other through a role assumed in it (--role-name)
    #[arg(long)]
    pub org: bool,
    /// With --org: the role to assume in member accounts
    #[arg(long, value_name = "NAME", default_value = trailq::org::DEFAULT_ROLE, requires = "org")]
    pub role_name: String,
    /// With --org: only these accounts (comma-separated or repeated)
    #[arg(
        long,
        value_name = "ID,…",
        value_delimiter = ',',
        requires = "org",
        conflicts_with = "exclude_accounts"
    )]
    pub accounts: Vec<String>,
    /// With --org: every account but these
    #[arg(long, value_name = "ID,…", value_delimiter = ',', requires = "org")]
    pub exclude_accounts: Vec<String>,
    #[command(flatten)]
    pub endpoint: EndpointArgs,
    /// Where to read events: Event history (`lookup`, LookupEvents), or a CloudTrail Lake event
    /// data store (`lake`, needs --eds): the same events, typed the same way. With `lake`, the
    /// store is queried in the profile's Region and --region filters on awsRegion
    #[arg(long, value_enum, default_value = "lookup")]
    pub via: Via,
    /// The Lake event data store for `--via lake`: ID, ARN or name
    #[arg(long, env = "TRAILQ_EDS", value_name = "ID|ARN|NAME")]
    pub eds: Option<String>,
    /// Checkpoint granularity: each finished slice of a stream lands in the dataset at once
    #[arg(long, default_value = "1d", value_name = "DURATION", value_parser = parse_window)]
    pub slice: Duration,
    /// LookupEvents requests per second per account and Region (AWS allows 2)
    #[arg(long, default_value_t = 2.0, value_name = "N")]
    pub rate: f64,
    /// No progress bars and no summary table
    #[arg(long, short)]
    pub quiet: bool,
    /// Print the summary as JSON (for scripts)
    #[arg(long)]
    pub json: bool,
}

/// A window or slice length: at least a second (CloudTrail times have whole seconds).
fn parse_window(s: &str) -> std::result::Result<Duration, String> {
    match parse_span(s)? {
        d if d >= Duration::from_secs(1) => Ok(d),
        _ => Err(format!("`{s}` is shorter than a second")),
    }
}

fn parse_lookup(s: &str) -> std::result::Result<(String, String), String> {
    let err = || {
        format!(
            "`{s}` is not KEY=VALUE with KEY one of {}",
            LOOKUP_KEYS.join(", ")
        )
    };
    let (key, value) = s.split_once('=').ok_or_else(err)?;
    let key = LOOKUP_KEYS
        .iter()
        .find(|k| k.eq_ignore_ascii_case(key))
        .ok_or_else(err)?;
    if value.is_empty() {
        return Err(err());
    }
    Ok(((*key).to_owned(), value.to_owned()))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Via {
    Lookup,
    Lake,
}

pub fn run(args: ExportArgs) -> Result<ExitCode> {
    if !(args.rate > 0.0 && args.rate <= 100.0) {
        return Err(Error::Usage(format!(
            "--rate {} must be above 0 and at most 100 requests per second (AWS allows 2)",
            args.rate
        )));
    }
    crate::commands::runtime()?.block_on(export(args))
}

async fn export(args: ExportArgs) -> Result<ExitCode> {
    if args.org {
        return export_org(&args).await;
    }
    // Identities first: a missing login is the most common problem, and it is one line.
    let mut identities = Vec::new();
    let profiles: Vec<Option<&str>> = if args.profile.is_empty() {
        vec![None]
    } else {
        args.profile.iter().map(|p| Some(p.as_str())).collect()
    };
    for profile in profiles {
        identities.push(aws::load(profile, args.endpoint.endpoint_url.as_deref()).await?);
    }
    export_with(&args, &identities).await.map(|(code, _)| code)
}

/// `--org`: every account of the organization at its own pace; accounts that refuse the role
/// are named, the others finish, and the exit status says something was left out.
async fn export_org(args: &ExportArgs) -> Result<ExitCode> {
    if args.profile.len() > 1 {
        return Err(Error::Usage(
            "--org exports every account from one identity: pass at most one --profile (the management or delegated-administrator account)".into(),
        ));
    }
    if args.via == Via::Lake {
        return Err(Error::Usage(
            "--org fans out over Event history; an organization's Lake event data store already holds every account: use --via lake without --org".into(),
        ));
    }
    let caller = aws::load(
        args.profile.first().map(String::as_str),
        args.endpoint.endpoint_url.as_deref(),
    )
    .await?;
    let scope = trailq::org::Scope {
        role_name: args.role_name.clone(),
        accounts: args.accounts.clone(),
        exclude_accounts: args.exclude_accounts.clone(),
        all_regions: args.all_regions,
    };
    let fan = trailq::org::fan_out(&caller, &scope)
        .await
        .map_err(|e| Error::Api(e.to_string()))?;
    if !args.quiet {
        note!(
            "organization: {} ACTIVE accounts; exporting {} (from {}), {} refused",
            fan.organization_accounts,
            fan.identities.len(),
            fan.caller_account,
            fan.refused.len()
        );
    }
    for r in &fan.refused {
        note!("warning: account {} left out: {}", r.account, r.reason);
    }
    if fan.identities.is_empty() {
        return Err(Error::Api(
            "no account of the organization can be exported (every one refused the role)".into(),
        ));
    }
    let (code, _) = export_with(args, &fan.identities).await?;
    if !fan.refused.is_empty() {
        note!(
            "{} left out: {}; the others are exported",
            crate::terminal::count(fan.refused.len() as u64, "account", "accounts"),
            fan.refused
                .iter()
                .map(|r| r.account.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
        return Ok(ExitCode::from(EXIT_REJECTED));
    }
    Ok(code)
}

/// Runs an export as `args` say, with these identities (the demo brings its own).
pub async fn export_with(
    args: &ExportArgs,
    identities: &[Identity],
) -> Result<(ExitCode, Summary)> {
    if args.via == Via::Lake {
        if identities.len() > 1 {
            return Err(Error::Usage(
                "--via lake queries one event data store as one identity: pass one --profile (an organization store holds every account)".into(),
            ));
        }
        return via_lake::export(args, &identities[0]).await;
    }
    let started = Instant::now();
    let now = chrono::Utc::now().timestamp_micros();
    let now = now - now.rem_euclid(1_000_000);
    let plan = plan::plan(args, identities)?;
    let keys: Vec<String> = plan.iter().map(|p| p.key.clone()).collect();

    let mut committer = open_dataset(args).await?;
    let mut state = checkpoint::load(committer.root())?;
    let (run, resumed) = window(args, &state, &keys, now)?;
    if resumed && !args.quiet {
        let done = run
            .covered_from
            .values()
            .filter(|c| **c <= run.start_micros)
            .count();
        note!(
            "resuming the export started {} ({} → {}): {done} of {} streams finished",
            run.started,
            format_micros(run.start_micros),
            format_micros(run.end_micros),
            keys.len()
        );
    }
    state.current = Some(run.clone());
    checkpoint::save(committer.root(), &state)?;

    // One pacer per (identity, Region): `plan` numbers them from 0.
    let places = plan.last().map_or(0, |s| s.place + 1);
    let pacers: Vec<Arc<Pacer>> = (0..places)
        .map(|_| Arc::new(Pacer::new(args.rate)))
        .collect();
    let counters: Vec<Arc<StreamCounters>> = plan
        .iter()
        .map(|_| Arc::new(StreamCounters::new()))
        .collect();

    let progress = Progress::new(args, &plan, identities, &run);
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Chunk>(64);
    let mut tasks = tokio::task::JoinSet::new();
    for (i, stream) in plan.iter().enumerate() {
        let client = identities[stream.identity].client(&stream.region);
        let pacer = Arc::clone(&pacers[stream.place]);
        let attribute = stream.attribute.clone();
        let counters = Arc::clone(&counters[i]);
        let covered_from = run.covered_from[&stream.key];
        let (start, slice) = (run.start_micros, args.slice.as_micros() as i64);
        let tx = tx.clone();
        tasks.spawn(async move {
            let result = Stream {
                index: i,
                client: &client,
                pacer: &pacer,
                attribute,
                start,
                covered_from,
                slice,
                counters,
            }
            .run(&tx)
            .await;
            (i, result)
        });
    }
    drop(tx);

    let filters = Filters {
        event_names: args.where_event_name.clone(),
        read_only: args.read_only,
        ..Filters::default()
    };
    let writer = tokio::task::spawn_blocking(move || {
        let result = write_stream_chunks(
            &mut committer,
            "LookupEvents",
            &mut rx,
            &keys,
            &mut state,
            &filters,
        );
        (result, state, committer)
    });

    let ticker = progress.start(counters.clone());
    let mut warnings: BTreeMap<usize, String> = BTreeMap::new();
    // When each stream finished: a place's rate is over the time it was busy.
    let mut finished: Vec<Option<Duration>> = vec![None; plan.len()];
    let mut failure: Option<Error> = None;
    let mut interrupted = false;
    loop {
        tokio::select! {
            joined = tasks.join_next() => {
                let Some(joined) = joined else { break };
                let (i, result) = match joined {
                    Ok(done) => done,
                    // Aborted after a failure or Ctrl-C: already accounted for.
                    Err(e) if e.is_cancelled() => continue,
                    Err(e) => return Err(Error::Api(format!("a stream stopped unexpectedly: {e}"))),
                };
                let stream = &plan[i];
                match result {
                    Ok(()) => {
                        progress.finish(i);
                        finished[i] = Some(started.elapsed());
                    }
                    Err(StreamError::RegionNotEnabled(text)) => {
                        progress.finish(i);
                        warnings.entry(stream.place).or_insert_with(|| format!(
                            "{} is not enabled for {} ({text}): skipped",
                            stream.region, identities[stream.identity].label()
                        ));
                    }
                    Err(StreamError::Stopped) => {}
                    Err(StreamError::Fatal(text) | StreamError::GaveUp(text)) => {
                        failure.get_or_insert_with(|| Error::Api(fatal_message(stream, identities, &text)));
                        tasks.abort_all();
                    }
                }
            }
            _ = tokio::signal::ctrl_c(), if !interrupted => {
                interrupted = true;
                tasks.abort_all();
            }
        }
    }
    ticker.abort();
    progress.clear();
    let (written, mut state, committer) = writer
        .await
        .map_err(|e| Error::Api(format!("the dataset writer stopped unexpectedly: {e}")))?;
    let written = written?;
    for w in warnings.values() {
        note!("warning: {w}");
    }
    if failure.is_some() || interrupted {
        // What finished is kept, in S3 too: the next run resumes from it.
        committer.close().await?;
        return Err(failure.unwrap_or(Error::Interrupted(crate::error::EXPORT_KEPT)));
    }
    // Streams of skipped Regions never finish; the run is complete without them.
    let run = finish_run(committer.root(), &mut state, run)?;
    let skipped: Vec<usize> = warnings.keys().copied().collect();
    let dataset = committer.location().to_owned();
    // The reject log is synced, a dataset in S3 has everything; the lock is released.
    let published = committer.close().await?;

    let mut summary = Summary::new(
        &dataset,
        &run,
        resumed,
        plan.iter()
            .enumerate()
            .map(|(i, s)| report::StreamRow {
                profile: identities[s.identity].label().to_owned(),
                account: written.accounts.get(&i).cloned(),
                region: s.region.clone(),
                lookup: format!(
                    "{}={}",
                    s.attribute.attribute_key().as_str(),
                    s.attribute.attribute_value()
                ),
                skipped: skipped.contains(&s.place),
                counters: &counters[i],
                place: s.place,
                // Its requests' spread: a place's rate is over the time it had requests to
                // make, not since the export started (200 account-Regions start together).
                busy: pacers[s.place]
                    .span()
                    .unwrap_or_else(|| finished[i].unwrap_or_else(|| started.elapsed())),
            })
            .collect(),
        &written,
        args.rate,
        started.elapsed(),
    );
    summary.published = published;
    report(summary, &written, args)
}

/// Opens `--out`; a dataset in S3 is written with the first `--profile`'s credentials (not the
/// CloudTrail endpoint's configuration: `--endpoint-url` is CloudTrail's alone).
async fn open_dataset(args: &ExportArgs) -> Result<Committer> {
    let out = args
        .out
        .resolve(args.profile.first().map(String::as_str))
        .await?;
    Ok(Committer::open_out(&out, DatasetOptions::default()).await?)
}

/// Prints the summary as asked and gives the exit status.
fn report(summary: Summary, written: &Written, args: &ExportArgs) -> Result<(ExitCode, Summary)> {
    if args.json {
        summary.print_json()?;
    } else if !args.quiet {
        summary.print_table()?;
    }
    if written.rejected > 0 {
        note!(
            "{} record(s) could not be parsed: each is in `{}/{}` with its reason",
            written.rejected,
            summary.dataset.trim_end_matches('/'),
            trailq::dataset::layout::rejected_name()
        );
        return Ok((ExitCode::from(EXIT_REJECTED), summary));
    }
    Ok((ExitCode::SUCCESS, summary))
}

fn fatal_message(stream: &Planned, identities: &[Identity], text: &str) -> String {
    let who = identities[stream.identity].label();
    let hint = if text.starts_with("AccessDenied") {
        ": the identity needs cloudtrail:LookupEvents (e.g. the AWSCloudTrail_ReadOnlyAccess policy)"
    } else if text.contains("throttled") {
        ": CloudTrail kept throttling; another tool may be calling LookupEvents in this account and Region"
    } else {
        ""
    };
    format!(
        "LookupEvents for {who} in {} ({}) failed: {text}{hint}. Finished slices are kept; run the same command to continue",
        stream.region,
        stream.key.rsplit('|').next().unwrap_or_default()
    )
}
