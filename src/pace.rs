//! Request pacing per (account, Region): CloudTrail allows LookupEvents "two per second, per
//! account, per Region" [reference §1], whoever asks. All streams of one account and Region share
//! one [`Pacer`], so three event sources exported together still make 2 requests/s in all, while
//! other accounts and Regions run at the same time with pacers of their own.
//!
//! Requests are spaced evenly (every 505 ms for 2/s: the 5 ms keep two requests that leave half
//! a second apart from reaching AWS less than half a second apart). A throttle pushes the next
//! slot back by a whole second, so a burst of throttles does not turn into a burst of retries.

use std::time::Duration;

use tokio::sync::Mutex;
use tokio::time::Instant;

/// Margin added to the interval between requests.
const MARGIN: Duration = Duration::from_millis(5);

#[derive(Debug)]
pub struct Pacer {
    interval: Duration,
    next: Mutex<Instant>,
}

impl Pacer {
    /// A pacer for `per_second` requests a second.
    pub fn new(per_second: f64) -> Self {
        Pacer {
            interval: Duration::from_secs_f64(1.0 / per_second.max(0.001)) + MARGIN,
            next: Mutex::new(Instant::now()),
        }
    }

    /// Waits for this caller's turn.
    pub async fn acquire(&self) {
        let slot = take_slot(&mut *self.next.lock().await, Instant::now(), self.interval);
        tokio::time::sleep_until(slot).await;
    }

    /// After a throttle: nobody goes for a second.
    pub async fn back_off(&self) {
        let mut next = self.next.lock().await;
        *next = (*next).max(Instant::now() + Duration::from_secs(1));
    }
}

/// The next free slot at or after `now`; the one after it is `interval` later.
fn take_slot(next: &mut Instant, now: Instant, interval: Duration) -> Instant {
    let slot = (*next).max(now);
    *next = slot + interval;
    slot
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_spaced_and_idle_time_is_not_banked() {
        let interval = Duration::from_millis(505);
        let t0 = Instant::now();
        let mut next = t0;
        // Four callers at once get four slots, 505 ms apart.
        let slots: Vec<_> = (0..4).map(|_| take_slot(&mut next, t0, interval)).collect();
        assert_eq!(slots[3] - slots[0], interval * 3);
        // After a long pause the next caller goes at once, and only one does.
        let later = t0 + Duration::from_secs(10);
        assert_eq!(take_slot(&mut next, later, interval), later);
        assert_eq!(take_slot(&mut next, later, interval), later + interval);
    }
}
