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

mod report;
mod via_lake;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_cloudtrail::types::{LookupAttribute, LookupAttributeKey};
use clap::Args;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::commands::{parse_span, parse_time};
use crate::error::{EXIT_REJECTED, Error, Result};
use crate::terminal::note;
use trailq::aws::{self, Identity};
use trailq::dataset::checkpoint::{self, Run};
use trailq::dataset::sink::DatasetOptions;
use trailq::pace::Pacer;
use trailq::pipeline::{Chunk, Committer, Filters, Written, write_stream_chunks};
use trailq::source::lookup_events::{Stream, StreamCounters, StreamError};
use trailq_events::cloudtrail::INSPECTOR_SOURCES;
use trailq_events::cloudtrail::LOOKUP_KEYS;
use trailq_events::time::format_micros;

pub use report::Summary;

const MICROS_PER_DAY: i64 = 86_400_000_000;
/// Event history keeps 90 days.
const REACH_DAYS: i64 = 90;
/// `--since-last` starts this long before the last export's end: CloudTrail can deliver an event
/// to Event history minutes after its eventTime, and duplicates are dropped anyway.
const SINCE_LAST_OVERLAP: i64 = 3_600_000_000;

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
    /// The dataset folder (created if missing). Events already in it are not added again.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
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
    /// An AWS profile to export (repeatable, one per account) [default: the standard chain]
    #[arg(long, value_name = "NAME")]
    pub profile: Vec<String>,
    /// CloudTrail endpoint (the trailq emulator, a VPC endpoint) [default: AWS_ENDPOINT_URL or AWS]
    #[arg(long, value_name = "URL")]
    pub endpoint_url: Option<String>,
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

/// One stream of the plan.
struct Planned {
    key: String,
    identity: usize,
    region: String,
    attribute: LookupAttribute,
    /// The place (identity, Region) whose pacer it shares.
    place: usize,
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
    // Identities first: a missing login is the most common problem, and it is one line.
    let mut identities = Vec::new();
    let profiles: Vec<Option<&str>> = if args.profile.is_empty() {
        vec![None]
    } else {
        args.profile.iter().map(|p| Some(p.as_str())).collect()
    };
    for profile in profiles {
        identities.push(aws::load(profile, args.endpoint_url.as_deref()).await?);
    }
    export_with(&args, &identities).await.map(|(code, _)| code)
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
    let plan = plan(args, identities)?;
    let keys: Vec<String> = plan.iter().map(|p| p.key.clone()).collect();

    let mut committer = Committer::open(&args.out, DatasetOptions::default())?;
    let mut state = checkpoint::load(&args.out)?;
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
    checkpoint::save(&args.out, &state)?;

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
    if let Some(e) = failure {
        return Err(e);
    }
    if interrupted {
        return Err(Error::Interrupted(crate::error::EXPORT_KEPT));
    }
    // Streams of skipped Regions never finish; the run is complete without them.
    let run = finish_run(args, &mut state, run)?;
    let skipped: Vec<usize> = warnings.keys().copied().collect();
    // The reject log is synced; the dataset's lock is released.
    drop(committer);

    let summary = Summary::new(
        &args.out,
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
                busy: finished[i].unwrap_or_else(|| started.elapsed()),
            })
            .collect(),
        &written,
        args.rate,
        started.elapsed(),
    );
    report(args, summary, &written)
}

/// Prints the summary as asked and gives the exit status.
fn report(args: &ExportArgs, summary: Summary, written: &Written) -> Result<(ExitCode, Summary)> {
    if args.json {
        summary.print_json()?;
    } else if !args.quiet {
        summary.print_table()?;
    }
    if written.rejected > 0 {
        note!(
            "{} record(s) could not be parsed: each is in `{}` with its reason",
            written.rejected,
            args.out.join("_trailq/rejected.jsonl").display()
        );
        return Ok((ExitCode::from(EXIT_REJECTED), summary));
    }
    Ok((ExitCode::SUCCESS, summary))
}

/// Identities × Regions × lookup attributes.
fn plan(args: &ExportArgs, identities: &[Identity]) -> Result<Vec<Planned>> {
    let mut attributes: Vec<(String, String)> = match &args.lookup {
        Some(kv) => vec![kv.clone()],
        None => sources(args)
            .into_iter()
            .map(|s| ("EventSource".to_owned(), s))
            .collect(),
    };
    dedup(&mut attributes);
    let mut plan = Vec::new();
    let mut place = 0;
    for (i, identity) in identities.iter().enumerate() {
        let mut regions: Vec<String> = if args.all_regions {
            ALL_REGIONS.iter().map(|r| (*r).to_owned()).collect()
        } else if !args.region.is_empty() {
            args.region.clone()
        } else {
            vec![identity.region().ok_or_else(|| aws::AwsError::NoRegion {
                who: match &identity.profile {
                    Some(p) => format!("profile `{p}`"),
                    None => "the default configuration".to_owned(),
                },
            })?]
        };
        dedup(&mut regions);
        for region in regions {
            for (key, value) in &attributes {
                let attribute = LookupAttribute::builder()
                    .attribute_key(LookupAttributeKey::from(key.as_str()))
                    .attribute_value(value)
                    .build()
                    .map_err(|e| Error::Usage(format!("--lookup `{key}={value}`: {e}")))?;
                plan.push(Planned {
                    key: format!("{}|{region}|{key}={value}", identity.label()),
                    identity: i,
                    region: region.clone(),
                    attribute,
                    place,
                });
            }
            place += 1;
        }
    }
    Ok(plan)
}

/// The event sources to export: `--event-source`, or Inspector's three.
fn sources(args: &ExportArgs) -> Vec<String> {
    if args.event_sources.is_empty() {
        INSPECTOR_SOURCES.iter().map(|s| (*s).to_owned()).collect()
    } else {
        args.event_sources.clone()
    }
}

/// Records a finished export as the last one (`--since-last` starts from its end).
fn finish_run(args: &ExportArgs, state: &mut checkpoint::ExportState, run: Run) -> Result<Run> {
    let run = state.current.take().unwrap_or(run);
    state.last_finished = Some(run.clone());
    checkpoint::save(&args.out, state)?;
    Ok(run)
}

/// Removes repeats, keeping the first of each (`--region x --region x` is one stream).
fn dedup<T: PartialEq + Clone>(items: &mut Vec<T>) {
    let mut kept: Vec<T> = Vec::with_capacity(items.len());
    for item in items.drain(..) {
        if !kept.contains(&item) {
            kept.push(item);
        }
    }
    *items = kept;
}

/// The export's window: the unfinished export's (resumed), or a new one fixed now.
fn window(
    args: &ExportArgs,
    state: &checkpoint::ExportState,
    keys: &[String],
    now: i64,
) -> Result<(Run, bool)> {
    let reach = now - REACH_DAYS * MICROS_PER_DAY;
    let started = format_micros(now);
    if args.since_last {
        let Some(last) = &state.last_finished else {
            return Err(Error::Usage(format!(
                "--since-last: no finished export into `{}` yet; run the export once without it",
                args.out.display()
            )));
        };
        let start = (last.end_micros - SINCE_LAST_OVERLAP).max(reach);
        let end = args.end.unwrap_or(now);
        check_window(start, end, now)?;
        return Ok((Run::new(started, start, end, keys), false));
    }
    // An explicit window is that window; a relative one ("last 90 days") resumes the
    // unfinished export of the same streams, whose window was fixed when it started.
    let explicit = args.start.is_some() || args.end.is_some();
    let (start, end) = match (args.start, args.last) {
        (Some(s), _) => (s, args.end.unwrap_or(now)),
        (None, Some(d)) => {
            let end = args.end.unwrap_or(now);
            (end - d.as_micros() as i64, end)
        }
        (None, None) => (reach, args.end.unwrap_or(now)),
    };
    let start = start - start.rem_euclid(1_000_000);
    let end = end - end.rem_euclid(1_000_000);
    if let Some(current) = &state.current
        && current.has_streams(keys)
        && (!explicit || (current.start_micros == start.max(reach) && current.end_micros == end))
    {
        return Ok((current.clone(), true));
    }
    if start < reach {
        note!(
            "note: Event history keeps 90 days; the export starts at {} instead of {}",
            format_micros(reach),
            format_micros(start)
        );
    }
    let start = start.max(reach);
    check_window(start, end, now)?;
    Ok((Run::new(started, start, end, keys), false))
}

fn check_window(start: i64, end: i64, now: i64) -> Result<()> {
    if end < start {
        return Err(Error::Usage(format!(
            "the window ends ({}) before it starts ({}), or before what Event history keeps (90 days back): pick a later --end",
            format_micros(end),
            format_micros(start)
        )));
    }
    if start > now {
        return Err(Error::Usage(format!(
            "the window starts in the future ({}): pick an earlier --start",
            format_micros(start)
        )));
    }
    Ok(())
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

/// Progress bars, one per stream: how far back it has reached in its window.
struct Progress {
    multi: Option<MultiProgress>,
    bars: Vec<ProgressBar>,
    window: (i64, i64),
}

impl Progress {
    fn new(args: &ExportArgs, plan: &[Planned], identities: &[Identity], run: &Run) -> Self {
        let span = (run.end_micros - run.start_micros).max(1_000_000) as u64 / 1_000_000;
        if args.quiet || args.json {
            return Progress {
                multi: None,
                bars: plan.iter().map(|_| ProgressBar::hidden()).collect(),
                window: (run.start_micros, run.end_micros),
            };
        }
        let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
        let style =
            ProgressStyle::with_template("{prefix:<48} [{bar:24}] {percent:>3}% {msg} ETA {eta}")
                .expect("valid template")
                .progress_chars("=> ");
        let bars = plan
            .iter()
            .map(|s| {
                let bar = multi.add(ProgressBar::new(span));
                bar.set_style(style.clone());
                bar.set_prefix(format!(
                    "{} {} {}",
                    identities[s.identity].label(),
                    s.region,
                    s.attribute.attribute_value()
                ));
                bar
            })
            .collect();
        Progress {
            multi: Some(multi),
            bars,
            window: (run.start_micros, run.end_micros),
        }
    }

    /// Refreshes the bars from the streams' counters until aborted.
    fn start(&self, counters: Vec<Arc<StreamCounters>>) -> tokio::task::JoinHandle<()> {
        let bars = self.bars.clone();
        let (start, end) = self.window;
        let began = Instant::now();
        tokio::spawn(async move {
            loop {
                for (bar, c) in bars.iter().zip(&counters) {
                    use std::sync::atomic::Ordering::Relaxed;
                    let reached = c.reached.load(Relaxed).clamp(start, end);
                    if !bar.is_finished() {
                        bar.set_position(((end - reached) / 1_000_000) as u64);
                    }
                    let events = c.events.load(Relaxed);
                    bar.set_message(format!(
                        "{events} events, {} pages, {} throttles, {:.0} ev/s",
                        c.pages.load(Relaxed),
                        c.throttles.load(Relaxed),
                        events as f64 / began.elapsed().as_secs_f64().max(0.001)
                    ));
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        })
    }

    fn finish(&self, stream: usize) {
        let bar = &self.bars[stream];
        if let Some(len) = bar.length() {
            bar.set_position(len);
        }
        bar.finish();
    }

    fn clear(&self) {
        if let Some(multi) = &self.multi {
            let _ = multi.clear();
        }
    }
}
