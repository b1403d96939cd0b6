//! The export's progress bars: one per stream, how far back it has reached in its window.

use std::sync::Arc;
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use trailq::aws::Identity;
use trailq::dataset::checkpoint::Run;
use trailq::source::lookup_events::StreamCounters;

use super::ExportArgs;
use super::plan::Planned;

/// Progress bars, one per stream: how far back it has reached in its window.
pub(super) struct Progress {
    multi: Option<MultiProgress>,
    bars: Vec<ProgressBar>,
    window: (i64, i64),
}

impl Progress {
    pub(super) fn new(
        args: &ExportArgs,
        plan: &[Planned],
        identities: &[Identity],
        run: &Run,
    ) -> Self {
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
    pub(super) fn start(&self, counters: Vec<Arc<StreamCounters>>) -> tokio::task::JoinHandle<()> {
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

    pub(super) fn finish(&self, stream: usize) {
        let bar = &self.bars[stream];
        if let Some(len) = bar.length() {
            bar.set_position(len);
        }
        bar.finish();
    }

    pub(super) fn clear(&self) {
        if let Some(multi) = &self.multi {
            let _ = multi.clear();
        }
    }
}
