//! `trailq convert PATH|s3://BUCKET[/PREFIX]… --out DIR`: CloudTrail files on disk or in S3 →
//! the Parquet dataset.
//!
//! Worker threads (one per core) each take whole files through the pipeline's parse half
//! (`RecordParser::push_file`, or `push_object` for an object fetched from S3: gunzip, split into
//! records, parse, batch): local files first, then the objects [`from_s3::feed`] lists and fetches
//! on an async runtime. The calling thread owns its commit half (`Committer`: the dataset and the
//! reject log), so deduplication and file writing need no locks. The channels between them are
//! bounded, so memory stays flat however many files there are.

mod from_s3;

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;
use trailq::dataset::remote::Transfers;
use trailq::dataset::sink::{DatasetOptions, SinkStats};
use trailq::pipeline::{Committer, FileOutcome, Filters, Parsed, RecordParser};
use trailq::s3::S3Url;
use trailq::source::trail_bucket::{PlaceState, Scope, SourcesState};
use trailq::threads;
use trailq_events::files::{self, InputFile};
use trailq_events::time::format_micros;

use crate::commands::{DatasetArg, parse_span, parse_time};
use crate::error::{EXIT_REJECTED, Error, Result};
use crate::terminal::{count, note};
use from_s3::Fetched;

#[derive(Debug, Args)]
pub struct ConvertArgs {
    /// Files or folders to read: trail log files ({"Records":[…]}, .json or .json.gz, organization
    /// layout too), LookupEvents output ({"Events":[…]}), Lake results with eventJson, JSON arrays
    /// and JSON Lines of records. Folders are walked; digest and Insights files are skipped.
    /// `s3://BUCKET[/PREFIX]` reads a trail's bucket in place: only the day folders of the window,
    /// under every account and Region found there
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// The dataset to write: a folder (created if missing) or s3://BUCKET/PREFIX. Events already
    /// in it are not added again
    #[arg(long, value_name = "DIR|URL", value_parser = DatasetArg::parse)]
    pub out: DatasetArg,
    /// Keep only events at or after this time (ISO 8601, UTC)
    #[arg(long, value_name = "TIME", value_parser = parse_time, conflicts_with_all = ["last", "since_last"])]
    pub start: Option<i64>,
    /// Keep only events at or before this time (ISO 8601, UTC)
    #[arg(long, value_name = "TIME", value_parser = parse_time, conflicts_with = "since_last")]
    pub end: Option<i64>,
    /// Keep only the last DURATION of events (`7d`, `12h`)
    #[arg(long, value_name = "DURATION", value_parser = parse_span, conflicts_with = "since_last")]
    pub last: Option<Duration>,
    /// s3:// only: read just the objects delivered since the last convert into this dataset
    /// (per account and Region, looking an hour back for late deliveries)
    #[arg(long)]
    pub since_last: bool,
    /// Only this account (repeatable): s3:// reads only its folders; local files are filtered
    #[arg(long, value_name = "ID")]
    pub account: Vec<String>,
    /// Only this Region (repeatable): s3:// reads only its folders; local files are filtered
    #[arg(long, value_name = "REGION")]
    pub region: Vec<String>,
    /// The AWS profile to read and write s3:// with [default: the standard chain]
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,
    /// Threads that read and parse files [default: one per core]
    #[arg(long, value_name = "N")]
    pub threads: Option<NonZeroUsize>,
    /// Print the summary as JSON on stdout
    #[arg(long)]
    pub json: bool,
    /// No progress bar and no summary; rejected inputs are still reported
    #[arg(long, short)]
    pub quiet: bool,
}

/// Record rejections printed on the terminal; all of them are in the reject log.
const PRINTED_REJECTIONS: u64 = 10;

/// What a worker hands the thread that owns the dataset.
enum Msg {
    Parsed(Parsed),
    /// Sent once every row of the file was sent (rows wait in a worker's batch until it fills).
    FileDone {
        file: usize,
        outcome: FileOutcome,
    },
    ObjectDone {
        fetched: Box<Fetched>,
        outcome: FileOutcome,
    },
}

/// Per account-Region of an S3 source, in the summary.
#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PlaceSummary {
    pub folder: String,
    pub account: String,
    pub region: String,
    pub objects: u64,
    pub records: u64,
    pub rejected: u64,
}

/// What reading S3 took.
#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct S3Summary {
    pub list_requests: u64,
    pub get_requests: u64,
    /// Attempts answered with 429/5xx (SlowDown…) or cut off, and retried or given up.
    pub failed_attempts: u64,
    pub objects_listed: u64,
    pub objects_read: u64,
    pub bytes_read: u64,
    pub places: Vec<PlaceSummary>,
    /// Prefixes and objects that could not be read, one line each.
    pub skipped: Vec<String>,
}

/// What `convert` reports at the end (also as `--json`).
#[derive(Debug, Default, Serialize)]
pub struct Summary {
    pub files_read: u64,
    pub files_rejected: u64,
    pub files_skipped: BTreeMap<String, u64>,
    pub records_read: u64,
    pub rows_written: u64,
    pub duplicates_dropped: u64,
    pub records_rejected: u64,
    /// Parsed, but outside the window or the --account/--region asked for.
    pub filtered_out: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub files_out: u64,
    pub partitions: u64,
    /// Small files of earlier commits (this run's own too) merged into new files.
    pub files_merged: u64,
    /// Rows parked on disk for lack of memory before being written (each is encoded once).
    pub rows_spilled: u64,
    pub elapsed_seconds: f64,
    /// The folder or `s3://` URL written.
    pub dataset: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rejected_log: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub s3: Option<S3Summary>,
    /// `--out s3://`: what was sent to the bucket (and brought down from it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub published: Option<Transfers>,
}

pub fn run(args: ConvertArgs) -> Result<ExitCode> {
    let started = Instant::now();
    let (urls, paths) = split_inputs(&args)?;
    let now = chrono::Utc::now().timestamp_micros();
    let window = window(&args, now)?;
    let runtime = crate::commands::runtime()?;
    let config = if urls.is_empty() {
        None
    } else {
        Some(
            runtime
                .block_on(trailq::aws::load(args.profile.as_deref(), None))?
                .config,
        )
    };
    let out = runtime.block_on(args.out.resolve(args.profile.as_deref()))?;
    let mut committer = runtime.block_on(Committer::open_out(&out, DatasetOptions::default()))?;
    let found = discover(&args, &paths, &committer)?;
    if urls.is_empty() && found.files.is_empty() && found.skipped.is_empty() {
        return Err(Error::Usage(format!(
            "no files to convert under {}",
            paths
                .iter()
                .map(|p| format!("`{}`", p.display()))
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    // S3: the account-Region folders, and what to read in each.
    let sources = if urls.is_empty() {
        None
    } else {
        Some(trailq::dataset::checkpoint::load_sources(committer.root())?)
    };
    let plan = match &config {
        Some(config) => {
            let since_last = sources
                .as_ref()
                .filter(|_| args.since_last)
                .map(|s| (s, now));
            let plan = runtime.block_on(plan_s3(&args, config, &urls, window, since_last))?;
            if plan.places.is_empty() && plan.problems.is_empty() && found.files.is_empty() {
                return Err(no_trail_folders(&args, &urls));
            }
            Some(plan)
        }
        _ => None,
    };

    let mut summary = Summary::new(committer.location(), plan.as_ref(), &found.skipped);
    let files = found.files;
    let local_bytes: u64 = files.iter().map(|f| f.bytes).sum();
    // It commits the days it has passed as it reads, local files or S3's folders, so its runs are
    // those of a few days whatever the input's size.
    committer.plan_spill();
    let progress = progress_bar(local_bytes, args.quiet);
    let counters = Arc::new(from_s3::Counters::default());
    let filters = Filters {
        window: if args.since_last { None } else { window },
        accounts: args.account.clone(),
        regions: args.region.clone(),
        ..Filters::default()
    };
    let mut read_state = sources.clone();
    let reading = Reading {
        args: &args,
        files: &files,
        filters: &filters,
        plan: plan.as_ref(),
        since_last: sources.as_ref().filter(|_| args.since_last),
        runtime: &runtime,
        counters: &counters,
        progress: &progress,
        local_bytes,
    };
    let problems = match read_all(&reading, &mut committer, &mut summary, &mut read_state) {
        Ok(problems) => problems,
        Err(e) => {
            progress.finish_and_clear();
            return Err(e);
        }
    };
    let (rejected, log) = committer.rejected();
    summary.rejected_log = (rejected > 0).then_some(log);
    // Sorting and writing each partition once takes a while after the last file is read.
    progress.set_message(format!(
        "{} records read; writing Parquet files",
        summary.records_read
    ));
    let stats = committer.commit();
    progress.finish_and_clear();
    let stats = stats?;
    // Only now that the dataset holds them: what --since-last will not read again.
    if let (Some(mut state), Some(plan)) = (read_state.take(), &plan) {
        not_read(&mut state, plan, &problems);
        state.last_end = Some(match (args.since_last, window) {
            (false, Some((_, end))) => end,
            _ => now,
        });
        state.prune();
        trailq::dataset::checkpoint::save_sources(committer.root(), &state)?;
    }
    if !args.quiet && args.out.local().is_none() {
        progress.set_message(format!("sending the files to {}", committer.location()));
    }
    summary.published = runtime.block_on(committer.close())?;
    summary.fill(&stats, local_bytes, &counters, plan.as_ref(), &problems);
    summary.elapsed_seconds = started.elapsed().as_secs_f64();
    for p in &problems {
        note!("warning: skipped {}", p.line);
    }
    if args.json {
        let mut out = io::stdout().lock();
        serde_json::to_writer_pretty(&mut out, &summary).map_err(|e| Error::Stdout(e.into()))?;
        writeln!(out).map_err(Error::Stdout)?;
    } else if !args.quiet {
        print_summary(&summary)?;
    }
    Ok(exit_status(&summary))
}

/// The paths given, as s3:// URLs and local paths.
fn split_inputs(args: &ConvertArgs) -> Result<(Vec<S3Url>, Vec<PathBuf>)> {
    let (mut urls, mut paths) = (Vec::new(), Vec::new());
    for path in &args.paths {
        match path.to_str().and_then(S3Url::parse) {
            Some(Ok(url)) => urls.push(url),
            Some(Err(e)) => return Err(Error::Usage(e)),
            None => paths.push(path.clone()),
        }
    }
    if args.since_last && urls.is_empty() {
        return Err(Error::Usage(
            "--since-last reads only the objects of s3:// trails delivered since the last convert; local files are converted whole (events already in the dataset are not added again)".into(),
        ));
    }
    Ok((urls, paths))
}

/// The local files to read (never the dataset's own).
fn discover(
    args: &ConvertArgs,
    paths: &[PathBuf],
    committer: &Committer,
) -> Result<files::Discovered> {
    if paths.is_empty() {
        return Ok(files::Discovered::default());
    }
    let out_dir = args
        .out
        .local()
        .and_then(|_| std::fs::canonicalize(committer.root()).ok());
    Ok(files::discover(paths, out_dir.as_deref())?)
}

/// What to list and read in the buckets; problems found on the way are said at once.
async fn plan_s3(
    args: &ConvertArgs,
    config: &aws_config::SdkConfig,
    urls: &[S3Url],
    window: Option<(i64, i64)>,
    since_last: Option<(&SourcesState, i64)>,
) -> Result<from_s3::Plan> {
    let scope = Scope {
        accounts: args.account.clone(),
        regions: args.region.clone(),
    };
    let plan = from_s3::plan(config, urls, &scope, window, since_last)
        .await
        .map_err(Error::Api)?;
    for problem in &plan.problems {
        note!("warning: skipped {problem}");
    }
    Ok(plan)
}

fn no_trail_folders(args: &ConvertArgs, urls: &[S3Url]) -> Error {
    Error::Usage(format!(
        "no trail folders (AWSLogs/…/ACCOUNT/CloudTrail/REGION/) under {}{}",
        urls.iter()
            .map(|u| u.to_string())
            .collect::<Vec<_>>()
            .join(", "),
        if args.account.is_empty() && args.region.is_empty() {
            String::new()
        } else {
            " for the --account/--region given".to_owned()
        }
    ))
}

/// What the reading threads share.
struct Reading<'a> {
    args: &'a ConvertArgs,
    files: &'a [InputFile],
    filters: &'a Filters,
    plan: Option<&'a from_s3::Plan>,
    /// The state `--since-last` reads from.
    since_last: Option<&'a SourcesState>,
    runtime: &'a tokio::runtime::Runtime,
    counters: &'a Arc<from_s3::Counters>,
    progress: &'a ProgressBar,
    local_bytes: u64,
}

/// Reads every input into the committer: workers parse local files, then the objects the feeder
/// fetches from S3; this thread takes what they parsed. Returns what could not be read in S3.
fn read_all(
    r: &Reading<'_>,
    committer: &mut Committer,
    summary: &mut Summary,
    read_state: &mut Option<SourcesState>,
) -> Result<Vec<from_s3::Problem>> {
    let workers = r
        .args
        .threads
        .map(NonZeroUsize::get)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, NonZeroUsize::get));
    let workers = if r.plan.is_some() {
        workers
    } else {
        workers.min(r.files.len()).max(1)
    };
    let next_file = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let (fetched_tx, fetched_rx) = tokio::sync::mpsc::channel::<Fetched>(workers * 2);
    let fetched_rx = Mutex::new(fetched_rx);
    // Room for each worker to parse four batches ahead (up to ~1.5 MiB of records each) while
    // this thread commits a partition, instead of waiting for it (`threads::run_behind`): peak
    // RSS +10-15 MiB. Not while reading S3, whose fetched objects already take the memory a
    // 10 M-record read has left under the 300 MB bound (BENCHMARKS.md, issue 15).
    let (tx, rx) = sync_channel::<Msg>(if r.plan.is_some() {
        workers
    } else {
        workers * 4
    });
    std::thread::scope(|scope| {
        let feeder = match r.plan {
            Some(plan) => {
                let (state, counters, stop, rt) = (r.since_last, r.counters, &stop, r.runtime);
                Some(threads::spawn_scoped(scope, "s3-feed", move || {
                    rt.block_on(from_s3::feed(plan, state, counters, fetched_tx, stop))
                }))
            }
            None => {
                drop(fetched_tx);
                None
            }
        };
        for _ in 0..workers {
            let tx = tx.clone();
            let (files, next_file, stop, fetched, filters) =
                (r.files, &next_file, &stop, &fetched_rx, r.filters);
            threads::spawn_scoped(scope, "parse", move || {
                worker(files, next_file, fetched, stop, filters, tx)
            });
        }
        drop(tx);
        let result = receive(&rx, r, committer, summary, read_state);
        if result.is_err() {
            // Let the workers and the feeder see the closed channels or the flag and stop.
            stop.store(true, Ordering::Relaxed);
            drop(rx);
            if let Ok(mut fetched) = fetched_rx.lock() {
                fetched.close();
            }
        }
        // A panic there is a bug: it ends the run here rather than leave its objects unread and
        // commit the rest as if all were read (a release build aborts on it anyway).
        if let Some(Err(panic)) = feeder.map(|f| f.join()) {
            std::panic::resume_unwind(panic);
        }
        result.map(|()| r.counters.take_problems())
    })
}

/// Lowers each account-Region's mark to just before what could not be read, so that the next
/// `--since-last` reaches back to it.
fn not_read(state: &mut SourcesState, plan: &from_s3::Plan, problems: &[from_s3::Problem]) {
    for p in problems {
        if let (Some(i), Some(at)) = (p.place, p.delivered) {
            let entry = state.places.entry(plan.places[i].1.key()).or_default();
            entry.through = entry.through.min(at.saturating_sub(1));
        }
    }
}

/// A commit in the middle of reading S3, and the `--since-last` state it makes true: each
/// account-Region read up to before its earliest object not finished yet (GETs complete out of
/// order), or not read at all. The previous run's `last_end` stays: places not reached yet keep
/// their old start.
fn commit_midway(
    r: &Reading<'_>,
    committer: &mut Committer,
    read_state: &Option<SourcesState>,
) -> Result<()> {
    committer.commit()?;
    if let (Some(state), Some(plan)) = (read_state, r.plan) {
        let mut state = state.clone();
        // A place not reached yet starts where this run would have started it (with no window:
        // from the beginning), so a `--since-last` after a kill finishes this run's work.
        for (i, (_, place)) in plan.places.iter().enumerate() {
            state
                .places
                .entry(place.key())
                .or_insert_with(|| PlaceState {
                    through: plan.delivered[i].map_or(0, |(from, _)| from),
                    ..PlaceState::default()
                });
        }
        not_read(&mut state, plan, &r.counters.problems_so_far());
        for (place, from) in r.counters.unfinished_from() {
            let entry = state.places.entry(plan.places[place].1.key()).or_default();
            entry.through = entry.through.min(from.saturating_sub(1));
        }
        state.prune();
        trailq::dataset::checkpoint::save_sources(committer.root(), &state)?;
    }
    committer.publish_if_due()?;
    Ok(())
}

impl Summary {
    fn new(
        dataset: &str,
        plan: Option<&from_s3::Plan>,
        skipped: &[(PathBuf, files::SkipKind)],
    ) -> Summary {
        let mut summary = Summary {
            dataset: dataset.to_owned(),
            s3: plan.map(|p| S3Summary {
                places: p
                    .places
                    .iter()
                    .map(|(_, place)| PlaceSummary {
                        folder: place.key(),
                        account: place.account.clone(),
                        region: place.region.clone(),
                        ..PlaceSummary::default()
                    })
                    .collect(),
                skipped: p.problems.clone(),
                ..S3Summary::default()
            }),
            ..Summary::default()
        };
        for (_, kind) in skipped {
            *summary.files_skipped.entry(kind.to_string()).or_default() += 1;
        }
        summary
    }

    /// What the dataset and S3 reported at the end.
    fn fill(
        &mut self,
        stats: &SinkStats,
        local_bytes: u64,
        counters: &from_s3::Counters,
        plan: Option<&from_s3::Plan>,
        problems: &[from_s3::Problem],
    ) {
        self.rows_written = stats.rows_written;
        self.duplicates_dropped = stats.duplicates_dropped;
        self.bytes_out = stats.bytes_written;
        self.files_out = stats.files_written;
        self.partitions = stats.partitions;
        self.files_merged = stats.files_merged;
        self.rows_spilled = stats.rows_spilled;
        self.bytes_in = local_bytes + counters.bytes_read.load(Ordering::Relaxed);
        if let (Some(s3), Some(plan)) = (self.s3.as_mut(), plan) {
            let requests = plan.buckets.iter().map(|b| &b.requests);
            s3.list_requests = requests
                .clone()
                .map(|r| r.lists.load(Ordering::Relaxed))
                .sum();
            s3.get_requests = requests
                .clone()
                .map(|r| r.gets.load(Ordering::Relaxed))
                .sum();
            s3.failed_attempts = requests.map(|r| r.failed.load(Ordering::Relaxed)).sum();
            s3.objects_listed = counters.objects_listed.load(Ordering::Relaxed);
            s3.objects_read = counters.objects_fetched.load(Ordering::Relaxed);
            s3.bytes_read = counters.bytes_read.load(Ordering::Relaxed);
            s3.skipped.extend(problems.iter().map(|p| p.line.clone()));
        }
    }
}

/// Non-zero when anything was rejected or could not be read, with a line on where to look.
fn exit_status(summary: &Summary) -> ExitCode {
    let skipped = summary.s3.as_ref().map_or(0, |s| s.skipped.len());
    if skipped > 0 {
        note!(
            "{} could not be read (above); the rest is in the dataset. Fix access and run the same command again: what is already in is not added twice",
            count(skipped as u64, "prefix or object", "prefixes or objects")
        );
    }
    if summary.records_rejected > 0 || summary.files_rejected > 0 {
        if let Some(log) = &summary.rejected_log {
            note!(
                "{} rejected record(s) and {} rejected file(s): every one is in `{log}` with its reason",
                summary.records_rejected,
                summary.files_rejected,
            );
        }
        return ExitCode::from(EXIT_REJECTED);
    }
    if skipped > 0 {
        return ExitCode::from(EXIT_REJECTED);
    }
    ExitCode::SUCCESS
}

/// `--start/--end/--last` as a window (µs), if any.
fn window(args: &ConvertArgs, now: i64) -> Result<Option<(i64, i64)>> {
    let end = args.end.unwrap_or(now);
    let start = match (args.start, args.last) {
        (Some(start), _) => Some(start),
        (None, Some(last)) => Some(end - last.as_micros() as i64),
        (None, None) => None,
    };
    match (start, args.end) {
        (None, None) => Ok(None),
        (start, _) => {
            let start = start.unwrap_or(i64::MIN / 2);
            if end < start {
                return Err(Error::Usage(format!(
                    "the window ends ({}) before it starts ({}): pick a later --end",
                    format_micros(end),
                    format_micros(start)
                )));
            }
            Ok(Some((start, end)))
        }
    }
}

fn progress_bar(total_bytes: u64, quiet: bool) -> ProgressBar {
    if quiet {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(total_bytes), ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} {elapsed_precise} [{wide_bar}] {binary_bytes}/{binary_total_bytes} \
             {binary_bytes_per_sec} ETA {eta}  {msg}",
        )
        .expect("valid template")
        .progress_chars("=> "),
    );
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

/// The dataset side: commits what the workers parsed, logs and shows rejections, keeps the
/// counts, and notes which S3 objects are in (for `--since-last`).
#[allow(clippy::too_many_arguments)]
fn receive(
    rx: &Receiver<Msg>,
    r: &Reading<'_>,
    committer: &mut Committer,
    summary: &mut Summary,
    read: &mut Option<SourcesState>,
) -> Result<()> {
    let (files, progress, quiet) = (r.files, r.progress, r.args.quiet);
    let (local_bytes, counters) = (r.local_bytes, r.counters);
    let mut last_commit = Instant::now();
    let mut passed = PassedDays::new(files);
    for msg in rx {
        // A long read of a bucket keeps its progress through a kill, losing at most this much.
        if r.plan.is_some() && last_commit.elapsed() >= trailq::pipeline::publish_every() {
            commit_midway(r, committer, read)?;
            last_commit = Instant::now();
        }
        let (outcome, bytes) = match msg {
            Msg::Parsed(item) => {
                let Some(r) = committer.take(item)? else {
                    continue;
                };
                if r.whole_file {
                    progress.suspend(|| note!("rejected file `{}`: {}", r.origin, r.reason));
                    continue;
                }
                summary.records_rejected += 1;
                if summary.records_rejected <= PRINTED_REJECTIONS {
                    progress.suspend(|| {
                        note!(
                            "rejected record at `{}` {}: {}",
                            r.origin,
                            r.position.as_deref().unwrap_or(""),
                            r.reason
                        )
                    });
                } else if summary.records_rejected == PRINTED_REJECTIONS + 1 && !quiet {
                    progress.suspend(|| note!("(more rejected records: see the reject log)"));
                }
                continue;
            }
            Msg::FileDone { file, outcome } => {
                if let Some(last_day) = passed.done(file) {
                    committer.commit_through(last_day)?;
                }
                (outcome, files[file].bytes)
            }
            Msg::ObjectDone { fetched, outcome } => {
                let object = &fetched.object;
                if let Some(place) = summary.s3.as_mut().map(|s| &mut s.places[object.place]) {
                    place.objects += 1;
                    if let FileOutcome::Read {
                        records, rejected, ..
                    } = &outcome
                    {
                        place.records += records;
                        place.rejected += rejected;
                    }
                    if let Some(state) = read.as_mut() {
                        state.read(
                            &place.folder,
                            object.key(),
                            object.delivered.unwrap_or(i64::MIN),
                        );
                    }
                }
                counters.finished(
                    object.place,
                    object.delivered.unwrap_or(i64::MIN),
                    fetched.day,
                );
                if let Some(last_day) = counters
                    .first_day_not_done()
                    .and_then(|day| passed.reached(day))
                {
                    committer.commit_through(last_day)?;
                }
                (outcome, object.size)
            }
        };
        match outcome {
            FileOutcome::Read {
                records, filtered, ..
            } => {
                summary.files_read += 1;
                summary.records_read += records;
                summary.filtered_out += filtered;
            }
            FileOutcome::Skipped(kind) => {
                *summary.files_skipped.entry(kind.to_string()).or_default() += 1
            }
            FileOutcome::Rejected => summary.files_rejected += 1,
        }
        progress.inc(bytes);
        if summary.s3.is_some() {
            use std::sync::atomic::Ordering::Relaxed;
            progress.set_length(local_bytes + counters.bytes_listed.load(Relaxed));
            let secs = progress.elapsed().as_secs_f64().max(0.001);
            progress.set_message(format!(
                "listed {} objects ({} account-Regions done), read {}; {} records ({:.0}/s)",
                counters.objects_listed.load(Relaxed),
                counters.places_done.load(Relaxed),
                counters.objects_fetched.load(Relaxed),
                summary.records_read,
                summary.records_read as f64 / secs
            ));
        } else {
            progress.set_message(format!("{} records", summary.records_read));
        }
    }
    Ok(())
}

/// How far the input is past, by delivery day. Local files are read in delivery-day order
/// (`files::discover`) and a file is reported done once all its rows were sent, so once every
/// file before the first one not done is done, nothing delivered before that file's day is left;
/// S3's day folders are listed and fetched in day order too (`from_s3::feed`).
/// CloudTrail delivers a day's events that day or, for its last minutes, the next: partitions
/// two days before that day get no more rows but from a late delivery (a later commit merges
/// those into their file), so they are committed then, from memory (`commit_through`).
struct PassedDays {
    days: Vec<Option<i32>>,
    done: Vec<bool>,
    /// The first file not done.
    next: usize,
    committed_through: Option<i32>,
}

impl PassedDays {
    fn new(files: &[InputFile]) -> Self {
        PassedDays {
            days: files.iter().map(|f| f.delivery_day).collect(),
            done: vec![false; files.len()],
            next: 0,
            committed_through: None,
        }
    }

    /// Notes that `file` is done; the last day to commit, when that moved.
    fn done(&mut self, file: usize) -> Option<i32> {
        self.done[file] = true;
        while self.done.get(self.next) == Some(&true) {
            self.next += 1;
        }
        // No more files (the end of the run commits the rest), or one outside the trail layout.
        self.reached((*self.days.get(self.next)?)?)
    }

    /// Everything delivered before `day` is read (the first local file not done is of that
    /// day, or the first S3 folder: [`from_s3::Counters::first_day_not_done`]); the last day to
    /// commit, when that moved. `i32::MAX` (all read) is left to the end of the run.
    fn reached(&mut self, day: i32) -> Option<i32> {
        if day == i32::MAX {
            return None;
        }
        let through = day - 2;
        if self.committed_through.is_some_and(|c| c >= through) {
            return None;
        }
        self.committed_through = Some(through);
        Some(through)
    }
}

/// The reading side: takes local files one at a time until none are left, then the objects
/// fetched from S3, parsing on this thread.
fn worker(
    files: &[InputFile],
    next: &AtomicUsize,
    fetched: &Mutex<tokio::sync::mpsc::Receiver<Fetched>>,
    stop: &AtomicBool,
    filters: &Filters,
    tx: SyncSender<Msg>,
) {
    threads::run_behind();
    let mut parser = RecordParser::new(filters.clone());
    // Files and objects parsed whose last rows may still be in the parser's batch: one is done
    // (`FileDone`: the days before it may be committed; `ObjectDone`: a commit may count it as
    // read) only once all its rows were sent.
    let mut waiting: Vec<Msg> = Vec::new();
    loop {
        let i = next.fetch_add(1, Ordering::Relaxed);
        if i >= files.len() || stop.load(Ordering::Relaxed) {
            break;
        }
        let outcome = parser.push_file(&files[i].path);
        let mut batch_sent = false;
        for item in parser.drain() {
            batch_sent |= matches!(item, Parsed::Batch(_));
            if tx.send(Msg::Parsed(item)).is_err() {
                return; // the receiver is gone
            }
        }
        // A batch ends at or after this file's start: the files before it are all sent.
        if batch_sent && !send_all(&tx, &mut waiting) {
            return;
        }
        waiting.push(Msg::FileDone { file: i, outcome });
    }
    loop {
        // The lock is held only while waiting: the next worker waits behind it.
        let next = match fetched.lock() {
            Ok(mut rx) => rx.blocking_recv(),
            Err(_) => None,
        };
        let Some(mut object) = next else { break };
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let bytes = std::mem::take(&mut object.bytes);
        let outcome = parser.push_object(&object.url, object.object.key(), bytes);
        let mut batch_sent = false;
        for item in parser.drain() {
            batch_sent |= matches!(item, Parsed::Batch(_));
            if tx.send(Msg::Parsed(item)).is_err() {
                return;
            }
        }
        // A batch ends at or after this object's start: the objects before it are all sent.
        if batch_sent && !send_all(&tx, &mut waiting) {
            return;
        }
        waiting.push(Msg::ObjectDone {
            fetched: Box::new(object),
            outcome,
        });
        if waiting.len() >= WAITING_OBJECTS {
            if let Some(batch) = parser.flush()
                && tx.send(Msg::Parsed(Parsed::Batch(batch))).is_err()
            {
                return;
            }
            if !send_all(&tx, &mut waiting) {
                return;
            }
        }
    }
    if let Some(batch) = parser.flush() {
        let _ = tx.send(Msg::Parsed(Parsed::Batch(batch)));
    }
    send_all(&tx, &mut waiting);
}

/// Objects a worker holds back until their rows are sent: many small ones (a quiet Region's
/// files) are sent as one batch, but not so many that a commit finds little counted as read.
const WAITING_OBJECTS: usize = 64;

/// Sends what `waiting` holds; false when the receiver is gone.
fn send_all(tx: &SyncSender<Msg>, waiting: &mut Vec<Msg>) -> bool {
    waiting.drain(..).all(|msg| tx.send(msg).is_ok())
}

fn print_summary(s: &Summary) -> Result<()> {
    let mut out = io::stdout().lock();
    let skipped = if s.files_skipped.is_empty() {
        String::new()
    } else {
        format!(
            "; skipped {}",
            s.files_skipped
                .iter()
                .map(|(k, n)| format!("{n} {k}"))
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    let secs = s.elapsed_seconds.max(1e-9);
    writeln!(
        out,
        "read {} ({}){}{skipped}\n\
         {}: {} written, {} duplicates dropped, {} rejected{}\n\
         wrote {} ({}) in {} of `{}` in {:.1} s ({:.0} records/s)",
        count(s.files_read, "file", "files"),
        human_bytes(s.bytes_in),
        if s.files_rejected > 0 {
            format!(", {} rejected", s.files_rejected)
        } else {
            String::new()
        },
        count(s.records_read, "record", "records"),
        s.rows_written,
        s.duplicates_dropped,
        s.records_rejected,
        if s.filtered_out > 0 {
            format!(
                ", {} outside the window or accounts/Regions asked for",
                s.filtered_out
            )
        } else {
            String::new()
        },
        count(s.files_out, "file", "files"),
        human_bytes(s.bytes_out),
        count(s.partitions, "partition", "partitions"),
        s.dataset,
        s.elapsed_seconds,
        s.records_read as f64 / secs,
    )
    .map_err(Error::Stdout)?;
    if let Some(p) = &s.published {
        writeln!(out, "{}", published_line(p)).map_err(Error::Stdout)?;
    }
    if let Some(s3) = &s.s3 {
        writeln!(
            out,
            "s3: {} listed with {}, {} read ({}) with {}; {} retried",
            count(s3.objects_listed, "object", "objects"),
            count(s3.list_requests, "list request", "list requests"),
            count(s3.objects_read, "object", "objects"),
            human_bytes(s3.bytes_read),
            count(s3.get_requests, "GET", "GETs"),
            count(s3.failed_attempts, "failed attempt", "failed attempts"),
        )
        .map_err(Error::Stdout)?;
        let wa = s3
            .places
            .iter()
            .map(|p| p.account.len())
            .max()
            .unwrap_or(0)
            .max(7);
        let wr = s3
            .places
            .iter()
            .map(|p| p.region.len())
            .max()
            .unwrap_or(0)
            .max(6);
        writeln!(
            out,
            "{:<wa$} {:<wr$} {:>8} {:>9} {:>8}",
            "account", "region", "objects", "records", "rejected"
        )
        .map_err(Error::Stdout)?;
        for p in &s3.places {
            writeln!(
                out,
                "{:<wa$} {:<wr$} {:>8} {:>9} {:>8}",
                p.account, p.region, p.objects, p.records, p.rejected
            )
            .map_err(Error::Stdout)?;
        }
    }
    Ok(())
}

/// What a dataset in S3 received, one line.
pub fn published_line(p: &Transfers) -> String {
    format!(
        "sent {} ({}); {} already there brought down first ({}); {} replaced by merged files deleted",
        count(p.files_up, "file", "files"),
        human_bytes(p.bytes_up),
        count(p.files_down, "file", "files"),
        human_bytes(p.bytes_down),
        p.deleted
    )
}

pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(path: &str, bytes: u64) -> InputFile {
        InputFile::new(PathBuf::from(path), bytes)
    }

    fn day(date: &str) -> i32 {
        trailq_events::time::parse_day(date).unwrap()
    }

    #[test]
    fn days_are_committed_once_the_next_days_files_are_all_done() {
        let files = [
            file("t/2024/05/01/a.json.gz", 1),
            file("t/2024/05/01/b.json.gz", 1),
            file("t/2024/05/02/a.json.gz", 1),
            file("t/2024/05/03/a.json.gz", 1),
            file("t/2024/05/04/a.json.gz", 1),
        ];
        let mut passed = PassedDays::new(&files);
        // Out of order: the second worker finishes day 2's file before day 1's second one.
        assert_eq!(passed.done(0), Some(day("2024-04-29")));
        assert_eq!(passed.done(2), None);
        // Every file delivered on days 1 and 2 is in: day 1's late events too.
        assert_eq!(passed.done(1), Some(day("2024-05-01")));
        assert_eq!(passed.done(3), Some(day("2024-05-02")));
        // The last file: the end of the run commits the rest.
        assert_eq!(passed.done(4), None);
    }

    #[test]
    fn files_outside_the_trail_layout_commit_nothing_early() {
        // Discovery puts the file without a delivery day first.
        let files = [
            file("a.json", 1),
            file("t/2024/05/01/a.json.gz", 1),
            file("t/2024/05/03/a.json.gz", 1),
        ];
        let mut passed = PassedDays::new(&files);
        assert_eq!(passed.done(1), None, "a.json may hold any day");
        assert_eq!(passed.done(0), Some(day("2024-05-01")));
    }
}
