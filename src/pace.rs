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

use std::time::Duration;

use tokio::sync::Mutex;
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
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    /// When the last request left; `None` before the first.
    last: Option<Instant>,
    /// Nobody leaves before this (set by a throttle).
    not_before: Instant,
    margin: Duration,
}

impl Pacer {
    /// A pacer for `per_second` requests a second.
    pub fn new(per_second: f64) -> Self {
        Pacer {
            base: Duration::from_secs_f64(1.0 / per_second.max(0.001)),
            state: Mutex::new(State {
                last: None,
                not_before: Instant::now(),
                margin: MARGIN,
            }),
        }
    }

    /// Waits for this caller's turn; returns when its request may leave.
    pub async fn acquire(&self) {
        // Held across the wait: callers leave one at a time, in the order they asked.
        let mut state = self.state.lock().await;
        let interval = self.base + state.margin;
        let earliest = state.last.map_or(state.not_before, |last| {
            (last + interval).max(state.not_before)
        });
        tokio::time::sleep_until(earliest).await;
        state.last = Some(Instant::now());
        state.margin = state.margin.saturating_sub(NARROW).max(MARGIN);
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
            pacer.acquire().await;
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
