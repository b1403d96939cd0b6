//! `trailq convert PATH… --out DIR`: local CloudTrail files → the Parquet dataset.
//!
//! Worker threads (one per core) each take whole files through the pipeline's parse half
//! (`RecordParser::push_file`: read, gunzip, split into records, parse, batch). The calling thread
//! owns its commit half (`Committer`: the dataset and the reject log), so deduplication and file
//! writing need no locks. The channel between them is bounded, so memory
//! stays flat however many files there are.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::time::{Duration, Instant};

use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;
use trailq::dataset::sink::DatasetOptions;
use trailq::pipeline::{Committer, FileOutcome, Parsed, RecordParser};
use trailq_events::files::{self, InputFile};

use crate::error::{EXIT_REJECTED, Error, Result};
use crate::terminal::{count, note};

#[derive(Debug, Args)]
pub struct ConvertArgs {
    /// Files or folders to read: trail log files ({"Records":[…]}, .json or .json.gz, organization
    /// layout too), LookupEvents output ({"Events":[…]}), Lake results with eventJson, JSON arrays
    /// and JSON Lines of records. Folders are walked; digest and Insights files are skipped.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// The dataset folder to write; created if missing. Events already in it are not added again.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
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
    FileDone { file: usize, outcome: FileOutcome },
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
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub files_out: u64,
    pub partitions: u64,
    /// Small files of earlier runs merged into this run's files.
    pub files_merged: u64,
    /// Rows parked on disk for lack of memory before being written (each is encoded once).
    pub rows_spilled: u64,
    pub elapsed_seconds: f64,
    pub dataset: PathBuf,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rejected_log: Option<PathBuf>,
}

pub fn run(args: ConvertArgs) -> Result<ExitCode> {
    let started = Instant::now();
    let mut committer = Committer::open(&args.out, DatasetOptions::default())?;
    let out_dir = std::fs::canonicalize(&args.out).ok();
    let found = files::discover(&args.paths, out_dir.as_deref())?;
    if found.files.is_empty() && found.skipped.is_empty() {
        return Err(Error::Usage(format!(
            "no files to convert under {}",
            args.paths
                .iter()
                .map(|p| format!("`{}`", p.display()))
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    let mut summary = Summary {
        dataset: args.out.clone(),
        ..Summary::default()
    };
    for (_, kind) in &found.skipped {
        *summary.files_skipped.entry(kind.to_string()).or_default() += 1;
    }
    let files = found.files;
    let total_bytes: u64 = files.iter().map(|f| f.bytes).sum();
    let progress = progress_bar(total_bytes, args.quiet);
    let workers = args
        .threads
        .map(NonZeroUsize::get)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, NonZeroUsize::get))
        .min(files.len())
        .max(1);

    let next_file = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let (tx, rx) = sync_channel::<Msg>(workers);
    let outcome = std::thread::scope(|scope| {
        for _ in 0..workers {
            let tx = tx.clone();
            let (files, next_file, stop) = (&files, &next_file, &stop);
            scope.spawn(move || worker(files, next_file, stop, tx));
        }
        drop(tx);
        let result = receive(
            &rx,
            &files,
            &mut committer,
            &mut summary,
            &progress,
            args.quiet,
        );
        if result.is_err() {
            // Let the workers see the closed channel or the flag and stop early.
            stop.store(true, Ordering::Relaxed);
            drop(rx);
        }
        result
    });
    if let Err(e) = outcome {
        progress.finish_and_clear();
        return Err(e);
    }
    let (rejected, log) = committer.rejected();
    let rejected_log = (rejected > 0).then(|| log.to_owned());
    // Sorting and writing each partition once takes a while after the last file is read.
    progress.set_message(format!(
        "{} records read; writing Parquet files",
        summary.records_read
    ));
    let stats = committer.finish();
    progress.finish_and_clear();
    let stats = stats?;
    summary.rows_written = stats.rows_written;
    summary.duplicates_dropped = stats.duplicates_dropped;
    summary.bytes_out = stats.bytes_written;
    summary.files_out = stats.files_written;
    summary.partitions = stats.partitions;
    summary.files_merged = stats.files_merged;
    summary.rows_spilled = stats.rows_spilled;
    summary.bytes_in = total_bytes;
    summary.elapsed_seconds = started.elapsed().as_secs_f64();
    summary.rejected_log = rejected_log;
    if args.json {
        let mut out = io::stdout().lock();
        serde_json::to_writer_pretty(&mut out, &summary).map_err(|e| Error::Stdout(e.into()))?;
        writeln!(out).map_err(Error::Stdout)?;
    } else if !args.quiet {
        print_summary(&summary)?;
    }
    if summary.records_rejected > 0 || summary.files_rejected > 0 {
        if let Some(log) = &summary.rejected_log {
            note!(
                "{} rejected record(s) and {} rejected file(s): every one is in `{}` with its reason",
                summary.records_rejected,
                summary.files_rejected,
                log.display()
            );
        }
        return Ok(ExitCode::from(EXIT_REJECTED));
    }
    Ok(ExitCode::SUCCESS)
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

/// The dataset side: commits what the workers parsed, logs and shows rejections, keeps the counts.
fn receive(
    rx: &Receiver<Msg>,
    files: &[InputFile],
    committer: &mut Committer,
    summary: &mut Summary,
    progress: &ProgressBar,
    quiet: bool,
) -> Result<()> {
    for msg in rx {
        match msg {
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
            }
            Msg::FileDone { file, outcome } => {
                match outcome {
                    FileOutcome::Read { records } => {
                        summary.files_read += 1;
                        summary.records_read += records;
                    }
                    FileOutcome::Skipped(kind) => {
                        *summary.files_skipped.entry(kind.to_string()).or_default() += 1
                    }
                    FileOutcome::Rejected => summary.files_rejected += 1,
                }
                progress.inc(files[file].bytes);
                progress.set_message(format!("{} records", summary.records_read));
            }
        }
    }
    Ok(())
}

/// The reading side: takes files one at a time until none are left, parsing on this thread.
fn worker(files: &[InputFile], next: &AtomicUsize, stop: &AtomicBool, tx: SyncSender<Msg>) {
    let mut parser = RecordParser::new(Default::default());
    loop {
        let i = next.fetch_add(1, Ordering::Relaxed);
        if i >= files.len() || stop.load(Ordering::Relaxed) {
            break;
        }
        let outcome = parser.push_file(&files[i].path);
        for item in parser.drain() {
            if tx.send(Msg::Parsed(item)).is_err() {
                return; // the receiver is gone
            }
        }
        if tx.send(Msg::FileDone { file: i, outcome }).is_err() {
            return;
        }
    }
    if let Some(batch) = parser.flush() {
        let _ = tx.send(Msg::Parsed(Parsed::Batch(batch)));
    }
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
         {}: {} written, {} duplicates dropped, {} rejected\n\
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
        count(s.files_out, "file", "files"),
        human_bytes(s.bytes_out),
        count(s.partitions, "partition", "partitions"),
        s.dataset.display(),
        s.elapsed_seconds,
        s.records_read as f64 / secs,
    )
    .map_err(Error::Stdout)
}

fn human_bytes(n: u64) -> String {
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
