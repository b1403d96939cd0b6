//! Request pacing per (account, Region): CloudTrail allows LookupEvents "two per second, per
//! account, per Region" [reference §1], whoever asks. All streams of one account and Region share
//! one [`Pacer`], so three event sources exported together still make 2 requests/s in all, while
//! other accounts and Regions run at the same time with pacers of their own.
//!
//! Requests are spaced by when they actually leave, not by when they were scheduled to: a task
//! woken late (a busy machine: the export parses and writes Parquet on the same cores) must not
//! let the next request follow it closer than the interval, or three requests land in one second
//! at the server. Callers take turns (a fair lock held across the wait), and each departure time
//! is taken after the wait. The interval is 1/rate plus a margin for what happens between
//! leaving the pacer and reaching AWS (signing, the connection, the network); each throttle
//! widens that margin, up to a quarter of the interval, and throttle-free requests narrow it
//! again. A throttle also holds everyone back a whole second, so a burst of throttles does not
//! turn into a burst of retries.
//!
//! Spacing departures is not enough when a request can be delayed on its way (a busy machine, a
//! slow connection): a delayed request reaches AWS close to the next one, and the one after that
//! finds two in its second. So a request also leaves no sooner than a second after the one
//! `rate` requests before it was answered: AWS counted that one before answering it, so it has
//! left AWS's one-second window by then. A request's [`Ticket`] records when it was answered.

use std::collections::VecDeque;
use std::time::Duration;

use tokio::sync::{Mutex, Notify};
use tokio::time::Instant;

/// The margin every interval starts with.
const MARGIN: Duration = Duration::from_millis(5);
/// What one throttle adds to the margin, and one throttle-free request takes off it.
const WIDEN: Duration = Duration::from_millis(10);
const NARROW: Duration = Duration::from_micros(500);

#[derive(Debug)]
pub struct Pacer {
    /// 1/rate: the interval without margin.
    base: Duration,
    /// Requests AWS allows in one second: how far back a departure looks for an answer.
    per_window: usize,
    state: Mutex<State>,
    /// The last `per_window` departures (sequence number) and when each was answered.
    answers: std::sync::Mutex<VecDeque<(u64, Option<Instant>)>>,
    answered: Notify,
}

/// One request's turn; dropping it (or [`Ticket::answered`]) records when its answer came, which
/// the request `rate` turns later waits on.
#[derive(Debug)]
pub struct Ticket<'a> {
    pacer: &'a Pacer,
    seq: u64,
}

impl Ticket<'_> {
    /// The answer (or the failure) came now.
    pub fn answered(self) {}

    /// The answer began to arrive at `at` (its status line), before its body was read and
    /// decoded: AWS had counted the request by then, and the body's decoding (slow in a debug
    /// build, or on a busy machine) is no reason to wait.
    pub fn answered_at(self, at: Instant) {
        self.record(at);
    }

    fn record(&self, at: Instant) {
        let mut answers = self.pacer.answers.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(entry) = answers.iter_mut().find(|(seq, _)| *seq == self.seq) {
            entry.1.get_or_insert(at);
        }
    }
}

impl Drop for Ticket<'_> {
    fn drop(&mut self) {
        self.record(Instant::now());
        self.pacer.answered.notify_waiters();
    }
}

#[derive(Debug)]
struct State {
    /// When the last request left; `None` before the first.
    last: Option<Instant>,
    /// Nobody leaves before this (set by a throttle).
    not_before: Instant,
    margin: Duration,
    /// The next departure's sequence number.
    next: u64,
    /// When the first request left.
    first: Option<Instant>,
}

impl Pacer {
    /// A pacer for `per_second` requests a second.
    pub fn new(per_second: f64) -> Self {
        Pacer {
            base: Duration::from_secs_f64(1.0 / per_second.max(0.001)),
            per_window: (per_second.floor() as usize).max(1),
            state: Mutex::new(State {
                last: None,
                not_before: Instant::now(),
                margin: MARGIN,
                next: 0,
                first: None,
            }),
            answers: std::sync::Mutex::new(VecDeque::new()),
            answered: Notify::new(),
        }
    }

    /// Waits for this caller's turn; returns when its request may leave, with the ticket to
    /// drop when its answer comes.
    pub async fn acquire(&self) -> Ticket<'_> {
        // Held across the wait: callers leave one at a time, in the order they asked.
        let mut state = self.state.lock().await;
        let interval = self.base + state.margin;
        let mut earliest = state.last.map_or(state.not_before, |last| {
            (last + interval).max(state.not_before)
        });
        // A second after the answer to the request `per_window` turns back, once it has come.
        loop {
            let waiting = self.answered.notified();
            let oldest = {
                let answers = self.answers.lock().unwrap_or_else(|e| e.into_inner());
                (answers.len() >= self.per_window)
                    .then(|| answers[answers.len() - self.per_window].1)
            };
            match oldest {
                Some(None) => waiting.await,
                Some(Some(at)) => {
                    earliest = earliest.max(at + Duration::from_secs(1));
                    break;
                }
                None => break,
            }
        }
        tokio::time::sleep_until(earliest).await;
        state.last = Some(Instant::now());
        state.first.get_or_insert(Instant::now());
        state.margin = state.margin.saturating_sub(NARROW).max(MARGIN);
        let seq = state.next;
        state.next += 1;
        let mut answers = self.answers.lock().unwrap_or_else(|e| e.into_inner());
        answers.push_back((seq, None));
        while answers.len() > self.per_window {
            answers.pop_front();
        }
        Ticket { pacer: self, seq }
    }

    /// From the first departure to the last: the time its requests were spread over (what a
    /// rate achieved is measured on; `None` while one is waiting for its turn or before any).
    pub fn span(&self) -> Option<Duration> {
        let state = self.state.try_lock().ok()?;
        Some(state.last? - state.first?)
    }

    /// After a throttle: nobody goes for a second, and the margin widens.
    pub async fn back_off(&self) {
        let mut state = self.state.lock().await;
        state.not_before = state
            .not_before
            .max(Instant::now() + Duration::from_secs(1));
        state.margin = (state.margin + WIDEN).min(self.base / 4);
    }

    /// The interval requests are now spaced by.
    #[cfg(test)]
    async fn interval(&self) -> Duration {
        self.base + self.state.lock().await.margin
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn departures_are_spaced_from_when_they_leave_and_idle_time_is_not_banked() {
        let pacer = Pacer::new(2.0);
        let interval = pacer.interval().await;
        assert_eq!(interval, Duration::from_millis(505));
        let t0 = Instant::now();
        let mut left = Vec::new();
        for _ in 0..4 {
            // Answered at once: only the spacing of departures holds them back.
            pacer.acquire().await.answered();
            left.push(Instant::now());
        }
        assert_eq!(left[0], t0);
        assert_eq!(left[3] - left[0], interval * 3);
        // A caller that comes late goes at once, and the next one an interval after it, not
        // sooner: the late departure is what the next one is spaced from.
        tokio::time::sleep(Duration::from_secs(10)).await;
        let late = Instant::now();
        pacer.acquire().await;
        assert_eq!(Instant::now(), late);
        pacer.acquire().await;
        assert_eq!(Instant::now(), late + interval);
    }

    #[tokio::test(start_paused = true)]
    async fn a_request_leaves_a_second_after_the_answer_two_turns_back() {
        let pacer = Pacer::new(2.0);
        let first = pacer.acquire().await;
        pacer.acquire().await.answered();
        // The first request's answer comes two seconds later: AWS may have counted it as late
        // as that, so the third waits a second past it, not only the 505 ms spacing.
        let (answered, third) = tokio::join!(
            async {
                tokio::time::sleep(Duration::from_secs(2)).await;
                first.answered();
                Instant::now()
            },
            async {
                let _ticket = pacer.acquire().await;
                Instant::now()
            }
        );
        assert_eq!(third, answered + Duration::from_secs(1));
    }

    #[tokio::test(start_paused = true)]
    async fn a_throttle_holds_everyone_back_a_second_and_widens_the_margin() {
        let pacer = Pacer::new(2.0);
        pacer.acquire().await;
        let throttled = Instant::now();
        pacer.back_off().await;
        assert_eq!(pacer.interval().await, Duration::from_millis(515));
        pacer.acquire().await;
        assert_eq!(Instant::now(), throttled + Duration::from_secs(1));
        // Many throttles widen it no further than a quarter of 1/rate.
        for _ in 0..100 {
            pacer.back_off().await;
        }
        assert_eq!(pacer.interval().await, Duration::from_millis(625));
        // Throttle-free requests narrow it back to the starting margin.
        for _ in 0..1000 {
            pacer.acquire().await;
        }
        assert_eq!(pacer.interval().await, Duration::from_millis(505));
    }
}
