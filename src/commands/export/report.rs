//! What an export prints when it is done: a table per stream and per account-Region (requests/s
//! achieved against the 2/s allowed), or the same as JSON with `--json`.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, Write};

use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use serde::Serialize;

use crate::error::{Error, Result};
use trailq::dataset::checkpoint::Run;
use trailq::pipeline::Written;
use trailq::source::lookup_events::StreamCounters;
use trailq_events::time::format_micros;

/// Up to this many streams the table has a row each; more are summed per account.
const STREAM_ROWS_UP_TO: usize = 12;
/// An account-Region's rate is shown among the others' once it made this many requests.
const RATE_FROM_REQUESTS: u64 = 10;

pub struct StreamRow<'a> {
    pub profile: String,
    pub account: Option<String>,
    pub region: String,
    pub lookup: String,
    pub skipped: bool,
    pub counters: &'a StreamCounters,
    pub place: usize,
    /// From the start of the export to the stream's end.
    pub busy: Duration,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StreamSummary {
    pub profile: String,
    pub account: Option<String>,
    pub region: String,
    pub lookup: String,
    /// The Region is not enabled for the account.
    pub skipped: bool,
    pub events: u64,
    pub pages: u64,
    pub retries: u64,
    pub throttles: u64,
    pub token_restarts: u64,
    /// Time its finished slices waited for the dataset writer: the disk, not AWS, set the pace.
    pub writer_wait_seconds: f64,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PlaceSummary {
    pub profile: String,
    pub account: Option<String>,
    pub region: String,
    pub requests: u64,
    /// Requests over the time the account-Region made them (its first request to its last).
    pub requests_per_second: f64,
    pub allowed_per_second: f64,
    pub busy_seconds: f64,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    /// The folder or `s3://` URL written.
    pub dataset: String,
    pub window_start: String,
    pub window_end: String,
    pub resumed: bool,
    pub events_received: u64,
    pub events_written: u64,
    pub duplicates_dropped: u64,
    pub filtered_out: u64,
    pub rejected: u64,
    pub files_written: u64,
    pub bytes_written: u64,
    pub elapsed_seconds: f64,
    /// `--out s3://`: what was sent to the bucket (and brought down from it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub published: Option<trailq::dataset::remote::Transfers>,
    pub streams: Vec<StreamSummary>,
    pub places: Vec<PlaceSummary>,
}

impl Summary {
    pub fn new(
        dataset: &str,
        run: &Run,
        resumed: bool,
        rows: Vec<StreamRow<'_>>,
        written: &Written,
        allowed: f64,
        elapsed: Duration,
    ) -> Self {
        let secs = elapsed.as_secs_f64().max(0.001);
        let mut places: BTreeMap<usize, PlaceSummary> = BTreeMap::new();
        for r in &rows {
            let p = places.entry(r.place).or_insert_with(|| PlaceSummary {
                profile: r.profile.clone(),
                account: None,
                region: r.region.clone(),
                requests: 0,
                requests_per_second: 0.0,
                allowed_per_second: allowed,
                busy_seconds: 0.0,
            });
            p.requests += r.counters.requests();
            p.busy_seconds = p.busy_seconds.max(r.busy.as_secs_f64());
            if p.account.is_none() {
                p.account = r.account.clone();
            }
        }
        for p in places.values_mut() {
            // n requests paced at an interval span n - 1 intervals.
            p.requests_per_second = p.requests.saturating_sub(1) as f64 / p.busy_seconds.max(0.001);
        }
        Summary {
            dataset: dataset.to_owned(),
            published: None,
            window_start: format_micros(run.start_micros),
            window_end: format_micros(run.end_micros),
            resumed,
            events_received: written.records,
            events_written: written.rows_written,
            duplicates_dropped: written.duplicates,
            filtered_out: written.filtered,
            rejected: written.rejected,
            files_written: written.files_written,
            bytes_written: written.bytes_written,
            elapsed_seconds: secs,
            streams: rows
                .iter()
                .map(|r| StreamSummary {
                    profile: r.profile.clone(),
                    account: r.account.clone(),
                    region: r.region.clone(),
                    lookup: r.lookup.clone(),
                    skipped: r.skipped,
                    events: r.counters.events.load(Relaxed),
                    pages: r.counters.pages.load(Relaxed),
                    retries: r.counters.retries.load(Relaxed),
                    throttles: r.counters.throttles.load(Relaxed),
                    token_restarts: r.counters.token_restarts.load(Relaxed),
                    writer_wait_seconds: r.counters.writer_wait_micros.load(Relaxed) as f64 / 1e6,
                })
                .collect(),
            places: places.into_values().collect(),
        }
    }

    pub fn print_json(&self) -> Result<()> {
        let mut out = io::stdout().lock();
        serde_json::to_writer_pretty(&mut out, self).map_err(|e| Error::Stdout(e.into()))?;
        writeln!(out).map_err(Error::Stdout)
    }

    pub fn print_table(&self) -> Result<()> {
        if self.streams.len() > STREAM_ROWS_UP_TO {
            return self.print_by_account();
        }
        let mut out = io::stdout().lock();
        let mut line = |s: String| writeln!(out, "{s}").map_err(Error::Stdout);
        let width = |f: &dyn Fn(&StreamSummary) -> usize, title: &str| {
            self.streams
                .iter()
                .map(f)
                .max()
                .unwrap_or(0)
                .max(title.len())
        };
        let wp = width(&|s| s.profile.len(), "profile");
        let wr = width(&|s| s.region.len(), "region");
        let wl = width(&|s| s.lookup.len(), "lookup");
        line(format!(
            "{:<wp$} {:<12} {:<wr$} {:<wl$} {:>8} {:>6} {:>7} {:>9}",
            "profile", "account", "region", "lookup", "events", "pages", "retries", "throttles"
        ))?;
        for s in &self.streams {
            line(format!(
                "{:<wp$} {:<12} {:<wr$} {:<wl$} {:>8} {:>6} {:>7} {:>9}{}",
                s.profile,
                s.account.as_deref().unwrap_or("-"),
                s.region,
                s.lookup,
                s.events,
                s.pages,
                s.retries,
                s.throttles,
                if s.skipped {
                    "  (Region not enabled)"
                } else {
                    ""
                }
            ))?;
        }
        line(String::new())?;
        // Lake has no request ceiling to compare with (NaN allowed).
        for p in self
            .places
            .iter()
            .filter(|p| !p.allowed_per_second.is_nan())
        {
            line(format!(
                "{} {} {}: {} requests in {:.1} s, {:.2}/s of the {}/s allowed",
                p.profile,
                p.account.as_deref().unwrap_or("-"),
                p.region,
                p.requests,
                p.busy_seconds,
                p.requests_per_second,
                p.allowed_per_second
            ))?;
        }
        self.print_totals(&mut out)
    }

    /// Many streams (an organization): a row per account, the account-Regions' rates in one
    /// line; `--json` still has every stream and account-Region.
    fn print_by_account(&self) -> Result<()> {
        let mut out = io::stdout().lock();
        let mut line = |s: String| writeln!(out, "{s}").map_err(Error::Stdout);
        #[derive(Default)]
        struct Account {
            regions: BTreeSet<String>,
            skipped: BTreeSet<String>,
            events: u64,
            pages: u64,
            retries: u64,
            throttles: u64,
            slowest: Option<f64>,
        }
        let mut accounts: BTreeMap<&str, Account> = BTreeMap::new();
        for s in &self.streams {
            let a = accounts.entry(&s.profile).or_default();
            a.regions.insert(s.region.clone());
            if s.skipped {
                a.skipped.insert(s.region.clone());
            }
            a.events += s.events;
            a.pages += s.pages;
            a.retries += s.retries;
            a.throttles += s.throttles;
        }
        // Rates are comparable only with a few intervals behind them.
        let paced: Vec<&PlaceSummary> = self
            .places
            .iter()
            .filter(|p| !p.allowed_per_second.is_nan() && p.requests >= RATE_FROM_REQUESTS)
            .collect();
        for p in &paced {
            let slowest = &mut accounts.entry(&p.profile).or_default().slowest;
            let ratio = p.requests_per_second / p.allowed_per_second;
            *slowest = Some(slowest.map_or(ratio, |s: f64| s.min(ratio)));
        }
        let wa = accounts.keys().map(|a| a.len()).max().unwrap_or(0).max(7);
        line(format!(
            "{:<wa$} {:>7} {:>8} {:>6} {:>7} {:>9} {:>13}",
            "account", "Regions", "events", "pages", "retries", "throttles", "slowest rate"
        ))?;
        for (name, a) in &accounts {
            line(format!(
                "{name:<wa$} {:>7} {:>8} {:>6} {:>7} {:>9} {:>13}{}",
                a.regions.len() - a.skipped.len(),
                a.events,
                a.pages,
                a.retries,
                a.throttles,
                a.slowest.map_or("-".to_owned(), |r| format!("{r:.2}×")),
                if a.skipped.is_empty() {
                    String::new()
                } else {
                    format!(
                        "  (not enabled: {})",
                        a.skipped.iter().cloned().collect::<Vec<_>>().join(", ")
                    )
                }
            ))?;
        }
        line(String::new())?;
        let mut ratios: Vec<(f64, &PlaceSummary)> = paced
            .iter()
            .map(|p| (p.requests_per_second / p.allowed_per_second, *p))
            .collect();
        ratios.sort_by(|a, b| a.0.total_cmp(&b.0));
        if let Some((low, p)) = ratios.first() {
            line(format!(
                "{} account-Regions with ≥ {RATE_FROM_REQUESTS} requests: requests/s of the {}/s allowed, median {:.2}×, lowest {low:.2}× ({} {}, {} requests)",
                ratios.len(),
                p.allowed_per_second,
                ratios[ratios.len() / 2].0,
                p.profile,
                p.region,
                p.requests
            ))?;
        }
        self.print_totals(&mut out)
    }

    fn print_totals(&self, out: &mut impl Write) -> Result<()> {
        writeln!(
            out,
            "\n{} events received, {} written, {} duplicates dropped, {} filtered out, {} rejected; window {} → {}{}; {:.1} s\ndataset: {}",
            self.events_received,
            self.events_written,
            self.duplicates_dropped,
            self.filtered_out,
            self.rejected,
            self.window_start,
            self.window_end,
            if self.resumed { " (resumed)" } else { "" },
            self.elapsed_seconds,
            self.dataset
        )
        .map_err(Error::Stdout)?;
        if let Some(p) = &self.published {
            writeln!(out, "{}", crate::commands::convert::published_line(p))
                .map_err(Error::Stdout)?;
        }
        Ok(())
    }
}
