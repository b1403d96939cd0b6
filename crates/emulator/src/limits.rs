//! CloudTrail's request-rate limits, per account and region, and what the emulator measured.
//!
//! LookupEvents: "two per second, per account, per Region" [reference §1]. Lake: get, describe
//! and list APIs 10/s, all other APIs 1/s [reference §2, quotas]. A request is accepted when
//! fewer than `limit` requests of its class were accepted in the last second (a sliding
//! window), so no 1-second window ever holds more than `limit` accepted requests — the property
//! the tests check from the log kept here.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::Serialize;

/// Requests per second allowed for each class of API; `None` is unlimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub lookup_events: Option<u32>,
    pub lake_read: Option<u32>,
    pub lake_write: Option<u32>,
    /// Lake queries QUEUED or RUNNING at once per account.
    pub concurrent_queries: Option<usize>,
}

impl Limits {
    /// CloudTrail's documented limits.
    pub const AWS: Limits = Limits {
        lookup_events: Some(2),
        lake_read: Some(10),
        lake_write: Some(1),
        concurrent_queries: Some(10),
    };
    /// No limits, for fast tests.
    pub const OFF: Limits = Limits {
        lookup_events: None,
        lake_read: None,
        lake_write: None,
        concurrent_queries: None,
    };

    /// The rate limit that applies to `operation`.
    pub fn per_second(&self, operation: &str) -> Option<u32> {
        self.per_class(Class::of(operation))
    }

    fn per_class(&self, class: Class) -> Option<u32> {
        match class {
            Class::LookupEvents => self.lookup_events,
            Class::LakeRead => self.lake_read,
            Class::LakeWrite => self.lake_write,
        }
    }
}

/// Requests that share a limit: Lake's get, describe and list APIs count together, the others
/// (StartQuery, CancelQuery) together.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Class {
    LookupEvents,
    LakeRead,
    LakeWrite,
}

impl Class {
    fn of(operation: &str) -> Class {
        match operation {
            "LookupEvents" => Class::LookupEvents,
            "DescribeQuery"
            | "GetQueryResults"
            | "ListQueries"
            | "ListEventDataStores"
            | "GetEventDataStore" => Class::LakeRead,
            _ => Class::LakeWrite,
        }
    }

    /// The name reports give it.
    fn name(self) -> &'static str {
        match self {
            Class::LookupEvents => "LookupEvents",
            Class::LakeRead => "LakeRead",
            Class::LakeWrite => "LakeWrite",
        }
    }
}

/// Requests of one operation from one account and region.
#[derive(Debug, Default)]
struct Log {
    /// Times of accepted requests within the last second (the sliding window).
    window: VecDeque<Instant>,
    /// Times of all accepted requests, from the emulator's start.
    accepted: Vec<Duration>,
    throttled: u64,
    faulted: u64,
}

/// What the emulator saw for one (account, region, operation).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RateReport {
    pub account: String,
    pub region: String,
    pub operation: String,
    pub accepted: u64,
    pub throttled: u64,
    /// Requests answered with an injected fault (counted among `accepted`).
    pub faulted: u64,
    /// The limit in force, requests per second.
    pub limit_per_second: Option<u32>,
    /// The most accepted requests in any 1-second window.
    pub max_in_any_second: u64,
}

type Key = (String, String, Class);

#[derive(Debug)]
pub struct RateLimiter {
    limits: Limits,
    started: Instant,
    logs: Mutex<HashMap<Key, Log>>,
}

impl RateLimiter {
    pub fn new(limits: Limits) -> Self {
        RateLimiter {
            limits,
            started: Instant::now(),
            logs: Mutex::new(HashMap::new()),
        }
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Admits a request or says it is throttled.
    pub fn admit(&self, account: &str, region: &str, operation: &str) -> bool {
        let mut logs = self.logs.lock().unwrap_or_else(|e| e.into_inner());
        // Read under the lock: `accepted` stays sorted (`max_in_window` relies on it). Read
        // before it, a request that lost the race for the lock logged an earlier time after a
        // later one, and the report's subtraction panicked (seen once under a loaded test run).
        let now = Instant::now();
        let log = logs
            .entry((account.to_owned(), region.to_owned(), Class::of(operation)))
            .or_default();
        while log
            .window
            .front()
            .is_some_and(|t| now.duration_since(*t) >= Duration::from_secs(1))
        {
            log.window.pop_front();
        }
        if let Some(limit) = self.limits.per_second(operation)
            && log.window.len() >= limit as usize
        {
            log.throttled += 1;
            return false;
        }
        log.window.push_back(now);
        log.accepted.push(now.duration_since(self.started));
        true
    }

    /// Counts an injected fault against the request's class.
    pub fn note_fault(&self, account: &str, region: &str, operation: &str) {
        let mut logs = self.logs.lock().unwrap_or_else(|e| e.into_inner());
        logs.entry((account.to_owned(), region.to_owned(), Class::of(operation)))
            .or_default()
            .faulted += 1;
    }

    /// One line per (account, region, rate class) seen so far.
    pub fn report(&self) -> Vec<RateReport> {
        let logs = self.logs.lock().unwrap_or_else(|e| e.into_inner());
        let mut out: Vec<RateReport> = logs
            .iter()
            .map(|((account, region, class), log)| RateReport {
                account: account.clone(),
                region: region.clone(),
                operation: class.name().to_owned(),
                accepted: log.accepted.len() as u64,
                throttled: log.throttled,
                faulted: log.faulted,
                limit_per_second: self.limits.per_class(*class),
                max_in_any_second: max_in_window(&log.accepted, Duration::from_secs(1)),
            })
            .collect();
        out.sort_by(|a, b| {
            (&a.account, &a.region, &a.operation).cmp(&(&b.account, &b.region, &b.operation))
        });
        out
    }
}

/// The most times in any half-open window `[t, t + width)`; `times` is sorted.
fn max_in_window(times: &[Duration], width: Duration) -> u64 {
    let mut best = 0;
    let mut start = 0;
    for (end, t) in times.iter().enumerate() {
        while *t - times[start] >= width {
            start += 1;
        }
        best = best.max(end - start + 1);
    }
    best as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_counts() {
        let ms = |v: &[u64]| {
            v.iter()
                .map(|&m| Duration::from_millis(m))
                .collect::<Vec<_>>()
        };
        let second = Duration::from_secs(1);
        assert_eq!(max_in_window(&ms(&[]), second), 0);
        assert_eq!(max_in_window(&ms(&[0, 500, 1000, 1500]), second), 2);
        assert_eq!(max_in_window(&ms(&[0, 500, 999, 1500]), second), 3);
    }

    #[test]
    fn the_limit_holds_per_account_and_region() {
        let limiter = RateLimiter::new(Limits::AWS);
        assert!(limiter.admit("1", "r", "LookupEvents"));
        assert!(limiter.admit("1", "r", "LookupEvents"));
        assert!(!limiter.admit("1", "r", "LookupEvents"));
        assert!(limiter.admit("1", "other", "LookupEvents"));
        assert!(limiter.admit("2", "r", "LookupEvents"));
        assert!(limiter.admit("1", "r", "DescribeQuery"));
        let report = limiter.report();
        let first = report
            .iter()
            .find(|r| r.account == "1" && r.region == "r" && r.operation == "LookupEvents")
            .unwrap();
        assert_eq!(
            (first.accepted, first.throttled, first.max_in_any_second),
            (2, 1, 2)
        );
    }
}
