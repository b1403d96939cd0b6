//! The export's progress on stderr. A few streams get a bar each (how far back it has reached in
//! its window). Past [`BARS_UP_TO`] streams (an organization: 200 account-Regions × 3 event
//! sources) that would be hundreds of bars, so there is one overall bar instead (accounts done,
//! events, requests/s against the sum of the ceilings of the account-Regions still running, ETA)
//! and under it the streams furthest behind.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use trailq::aws::Identity;
use trailq::dataset::checkpoint::Run;
use trailq::source::lookup_events::StreamCounters;

use super::ExportArgs;
use super::plan::Planned;

/// Up to this many streams, one bar each; more get the overall bar.
const BARS_UP_TO: usize = 12;
/// How many of the streams furthest behind the overall bar lists.
const BEHIND_SHOWN: usize = 3;
/// The requests/s shown is over this last stretch, not since the start.
const RATE_OVER: Duration = Duration::from_secs(10);
/// ... once it is this long: over a shorter one, requests 0.5 s apart at 2/s look like 3 in a
/// second (n requests span n - 1 intervals).
const RATE_FROM: Duration = Duration::from_secs(3);

/// What a stream is called on screen: `ACCOUNT-or-profile REGION SOURCE`.
fn name(s: &Planned, identities: &[Identity]) -> String {
    format!(
        "{} {} {}",
        identities[s.identity].label(),
        s.region,
        s.attribute.attribute_value()
    )
}

enum View {
    /// One bar per stream.
    Bars(Vec<ProgressBar>),
    /// One bar for all, and a line per stream furthest behind.
    Overall {
        bar: ProgressBar,
        behind: Vec<ProgressBar>,
    },
}

/// The export's progress display.
pub(super) struct Progress {
    multi: Option<MultiProgress>,
    view: View,
    window: (i64, i64),
    names: Vec<String>,
    /// Per stream: the identity it belongs to and its place (identity × Region).
    owners: Vec<(usize, usize)>,
    identities: usize,
    rate: f64,
    done: Arc<Vec<AtomicBool>>,
}

impl Progress {
    pub(super) fn new(
        args: &ExportArgs,
        plan: &[Planned],
        identities: &[Identity],
        run: &Run,
    ) -> Self {
        let span = (run.end_micros - run.start_micros).max(1_000_000) as u64 / 1_000_000;
        let names: Vec<String> = plan.iter().map(|s| name(s, identities)).collect();
        let hidden = args.quiet || args.json;
        let multi =
            (!hidden).then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr()));
        let add = |bar: ProgressBar| match &multi {
            Some(m) => m.add(bar),
            None => ProgressBar::hidden(),
        };
        let view = if plan.len() <= BARS_UP_TO {
            let style = ProgressStyle::with_template(
                "{prefix:<48} [{bar:24}] {percent:>3}% {msg} ETA {eta}",
            )
            .expect("valid template")
            .progress_chars("=> ");
            View::Bars(
                names
                    .iter()
                    .map(|n| {
                        let bar = add(ProgressBar::new(span));
                        bar.set_style(style.clone());
                        bar.set_prefix(n.clone());
                        bar
                    })
                    .collect(),
            )
        } else {
            // Its length is time: elapsed ÷ (elapsed + the estimate of what is left), in ‰.
            let bar = add(ProgressBar::new(1000));
            bar.set_style(
                ProgressStyle::with_template("[{bar:30}] {percent:>3}% {msg}")
                    .expect("valid template")
                    .progress_chars("=> "),
            );
            let line = ProgressStyle::with_template("  {msg}").expect("valid template");
            let behind = (0..BEHIND_SHOWN)
                .map(|_| {
                    let l = add(ProgressBar::new(1));
                    l.set_style(line.clone());
                    l
                })
                .collect();
            View::Overall { bar, behind }
        };
        Progress {
            multi,
            view,
            window: (run.start_micros, run.end_micros),
            names,
            owners: plan.iter().map(|s| (s.identity, s.place)).collect(),
            identities: identities.len(),
            rate: args.rate,
            done: Arc::new(plan.iter().map(|_| AtomicBool::new(false)).collect()),
        }
    }

    /// Refreshes the display from the streams' counters until aborted.
    pub(super) fn start(&self, counters: Vec<Arc<StreamCounters>>) -> tokio::task::JoinHandle<()> {
        let (start, end) = self.window;
        let span = (end - start).max(1);
        // Seconds of its window a stream has covered (all of it once done).
        let covered = move |c: &StreamCounters, done: bool| -> i64 {
            if done {
                return span / 1_000_000;
            }
            (end - c.reached.load(Relaxed).clamp(start, end)) / 1_000_000
        };
        let began = Instant::now();
        let done = Arc::clone(&self.done);
        match &self.view {
            View::Bars(bars) => {
                let bars = bars.clone();
                tokio::spawn(async move {
                    loop {
                        for (i, (bar, c)) in bars.iter().zip(&counters).enumerate() {
                            if !bar.is_finished() {
                                bar.set_position(covered(c, done[i].load(Relaxed)) as u64);
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
            View::Overall { bar, behind } => {
                let (bar, behind) = (bar.clone(), behind.clone());
                let (names, owners) = (self.names.clone(), self.owners.clone());
                let (identities, rate) = (self.identities, self.rate);
                tokio::spawn(async move {
                    // (when, requests made so far by each stream)
                    let mut samples: VecDeque<(Instant, Vec<u64>)> = VecDeque::new();
                    loop {
                        let finished: Vec<bool> = done.iter().map(|d| d.load(Relaxed)).collect();
                        // An account is done when all its streams are; a place (account-Region)
                        // runs while any of its streams does.
                        let mut open = vec![false; identities];
                        let mut running = std::collections::BTreeSet::new();
                        for (&(identity, place), &d) in owners.iter().zip(&finished) {
                            if !d {
                                open[identity] = true;
                                running.insert(place);
                            }
                        }
                        let now = Instant::now();
                        samples.push_back((now, counters.iter().map(|c| c.requests()).collect()));
                        while samples.len() > 2 && now - samples[0].0 > RATE_OVER {
                            samples.pop_front();
                        }
                        // The requests/s of the places running now, against their ceilings
                        // (places that finished meanwhile would count requests without one).
                        let (t0, r0) = &samples[0];
                        let allowed = rate * running.len() as f64;
                        let pace = if now - *t0 >= RATE_FROM {
                            let recent: u64 = (0..counters.len())
                                .filter(|i| running.contains(&owners[*i].1))
                                .map(|i| samples[samples.len() - 1].1[i] - r0[i])
                                .sum();
                            format!(
                                "{:.1} requests/s of {allowed:.0}/s allowed",
                                recent as f64 / (now - *t0).as_secs_f64()
                            )
                        } else {
                            format!("{allowed:.0} requests/s allowed")
                        };
                        // Streams run side by side, so the export ends with the one that needs
                        // longest: each is assumed to go on at the pace it has had so far.
                        let elapsed = began.elapsed().as_secs_f64();
                        let eta = (0..counters.len())
                            .filter(|i| !finished[*i])
                            .map(|i| covered(&counters[i], false) as f64 * 1e6 / span as f64)
                            .map(|f| (f > 0.0).then(|| elapsed * (1.0 - f) / f))
                            .try_fold(0.0f64, |most, e| e.map(|e| most.max(e)));
                        if let Some(eta) = eta {
                            bar.set_position(
                                (1000.0 * elapsed / (elapsed + eta).max(0.001)) as u64,
                            );
                        }
                        let sum = |f: fn(&StreamCounters) -> u64| -> u64 {
                            counters.iter().map(|c| f(c)).sum()
                        };
                        bar.set_message(format!(
                            "{}/{identities} accounts done, {} events, {pace} ({} running), {} throttles, ETA {}",
                            open.iter().filter(|o| !**o).count(),
                            sum(|c| c.events.load(Relaxed)),
                            crate::terminal::count(running.len() as u64, "account-Region", "account-Regions"),
                            sum(|c| c.throttles.load(Relaxed)),
                            eta.map_or("?".to_owned(), |e| indicatif::HumanDuration(Duration::from_secs_f64(e)).to_string()),
                        ));
                        // The unfinished streams that have covered the least of their window.
                        let mut order: Vec<usize> =
                            (0..counters.len()).filter(|i| !finished[*i]).collect();
                        order.sort_by_key(|i| covered(&counters[*i], false));
                        for (k, line) in behind.iter().enumerate() {
                            match order.get(k) {
                                Some(&i) => {
                                    let c = &counters[i];
                                    line.set_message(format!(
                                        "behind: {} {:>3}%, {} events, {} pages",
                                        names[i],
                                        covered(c, false) * 100_000_000 / span,
                                        c.events.load(Relaxed),
                                        c.pages.load(Relaxed)
                                    ));
                                }
                                None => line.set_message(""),
                            }
                        }
                        tokio::time::sleep(Duration::from_millis(200)).await;
                    }
                })
            }
        }
    }

    /// A stream is done (finished, or its Region skipped).
    pub(super) fn finish(&self, stream: usize) {
        self.done[stream].store(true, Relaxed);
        if let View::Bars(bars) = &self.view {
            let bar = &bars[stream];
            if let Some(len) = bar.length() {
                bar.set_position(len);
            }
            bar.finish();
        }
    }

    pub(super) fn clear(&self) {
        if let Some(multi) = &self.multi {
            let _ = multi.clear();
        }
    }
}
