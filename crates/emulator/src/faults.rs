//! Faults injected on purpose, so that clients are tested against what AWS does on a bad day.
//!
//! A spec is a comma-separated list of `KIND[:ARG]@WHEN[/Operation]`:
//! - KIND: `throttle[:N]` (a burst of N throttled requests, default 1), `500`, `503`, `reset`
//!   (the connection drops halfway through the response), `slow:DURATION`, `expired-token`
//!   (a LookupEvents request carrying a NextToken is told its token expired), `query-fail` (a
//!   Lake query ends FAILED);
//! - WHEN: a probability (`0.05`), `every:N` (each Nth matching request), or `N-M` (the Nth to
//!   Mth matching requests, from 1);
//! - `/Operation` limits the rule to one operation (`/LookupEvents`).
//!
//! Example: `throttle:5@0.02,503@every:40,reset@3-3/LookupEvents,slow:2s@0.05`.
//! Rules are tried in order; the first that fires decides the request's fault.

use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use fastrand::Rng;

use trailq_events::time::parse_duration;

#[derive(Debug, Clone, PartialEq)]
pub enum FaultKind {
    Throttle(u32),
    Status(u16),
    Reset,
    Slow(Duration),
    ExpiredToken,
    QueryFail,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Trigger {
    Chance(f64),
    Every(u64),
    Requests(u64, u64),
}

#[derive(Debug)]
struct Rule {
    kind: FaultKind,
    trigger: Trigger,
    operation: Option<String>,
    /// Matching requests seen, for `every:` and ranges.
    seen: AtomicU64,
}

/// A spec that could not be read, with what to write instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FaultSpecError(pub String);

impl fmt::Display for FaultSpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}; write faults as KIND[:ARG]@WHEN[/Operation], e.g. `throttle:5@0.02,503@every:40,reset@3-3/LookupEvents`",
            self.0
        )
    }
}

impl std::error::Error for FaultSpecError {}

/// The faults to inject, and the state of bursts under way.
#[derive(Debug, Default)]
pub struct Faults {
    rules: Vec<Rule>,
    rng: Mutex<Rng>,
    /// Throttled requests still owed per (account, region, operation).
    bursts: Mutex<HashMap<(String, String, String), u32>>,
}

impl Faults {
    pub fn parse(spec: &str, seed: u64) -> Result<Faults, FaultSpecError> {
        let mut rules = Vec::new();
        for entry in spec.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            if entry == "off" || entry == "none" {
                continue;
            }
            rules.push(parse_rule(entry)?);
        }
        Ok(Faults {
            rules,
            rng: Mutex::new(Rng::with_seed(seed)),
            bursts: Mutex::new(HashMap::new()),
        })
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The fault for a request, if any. `has_token`: the request carries a NextToken.
    pub fn decide(
        &self,
        account: &str,
        region: &str,
        operation: &str,
        has_token: bool,
    ) -> Option<FaultKind> {
        if self.rules.is_empty() {
            return None;
        }
        let key = (account.to_owned(), region.to_owned(), operation.to_owned());
        {
            let mut bursts = self.bursts.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(left) = bursts.get_mut(&key) {
                *left -= 1;
                if *left == 0 {
                    bursts.remove(&key);
                }
                return Some(FaultKind::Throttle(1));
            }
        }
        for rule in &self.rules {
            if rule.operation.as_deref().is_some_and(|op| op != operation) {
                continue;
            }
            let applies = match rule.kind {
                // Only LookupEvents' tokens carry an issue time that can expire.
                FaultKind::ExpiredToken => has_token && operation == "LookupEvents",
                FaultKind::QueryFail => operation == "StartQuery",
                _ => true,
            };
            if !applies {
                continue;
            }
            let n = rule.seen.fetch_add(1, Ordering::Relaxed) + 1;
            let fires = match rule.trigger {
                Trigger::Chance(p) => self.rng.lock().unwrap_or_else(|e| e.into_inner()).f64() < p,
                Trigger::Every(every) => n % every == 0,
                Trigger::Requests(from, to) => (from..=to).contains(&n),
            };
            if fires {
                if let FaultKind::Throttle(burst) = rule.kind
                    && burst > 1
                {
                    let mut bursts = self.bursts.lock().unwrap_or_else(|e| e.into_inner());
                    bursts.insert(key, burst - 1);
                }
                return Some(rule.kind.clone());
            }
        }
        None
    }
}

fn parse_rule(entry: &str) -> Result<Rule, FaultSpecError> {
    let err = |what: String| FaultSpecError(format!("fault `{entry}`: {what}"));
    let (what, when) = entry
        .split_once('@')
        .ok_or_else(|| err("says what but not when (`@0.1`, `@every:10`, `@5-8`)".into()))?;
    let (when, operation) = match when.split_once('/') {
        Some((w, op)) if !op.is_empty() => (w, Some(op.to_owned())),
        Some(_) => return Err(err("names no operation after `/`".into())),
        None => (when, None),
    };
    let (name, arg) = match what.split_once(':') {
        Some((n, a)) => (n, Some(a)),
        None => (what, None),
    };
    let kind = match (name, arg) {
        ("throttle", None) => FaultKind::Throttle(1),
        ("throttle", Some(n)) => FaultKind::Throttle(
            n.parse()
                .ok()
                .filter(|n| *n >= 1)
                .ok_or_else(|| err(format!("`{n}` is not a burst length")))?,
        ),
        ("500", None) => FaultKind::Status(500),
        ("503", None) => FaultKind::Status(503),
        ("reset", None) => FaultKind::Reset,
        ("slow", Some(d)) => FaultKind::Slow(
            parse_duration(d).ok_or_else(|| err(format!("`{d}` is not a duration like 2s")))?,
        ),
        ("slow", None) => return Err(err("needs a duration, `slow:2s`".into())),
        ("expired-token", None) => FaultKind::ExpiredToken,
        ("query-fail", None) => FaultKind::QueryFail,
        _ => {
            return Err(err(
                "kinds are throttle[:N], 500, 503, reset, slow:DURATION, expired-token, query-fail"
                    .into(),
            ));
        }
    };
    let trigger = if let Some(n) = when.strip_prefix("every:") {
        Trigger::Every(
            n.parse()
                .ok()
                .filter(|n| *n >= 1)
                .ok_or_else(|| err(format!("`{n}` is not a count")))?,
        )
    } else if let Some((from, to)) = when.split_once('-') {
        match (from.parse::<u64>(), to.parse::<u64>()) {
            (Ok(from), Ok(to)) if from >= 1 && from <= to => Trigger::Requests(from, to),
            _ => return Err(err(format!("`{when}` is not a range of requests like 3-5"))),
        }
    } else {
        match when.parse::<f64>() {
            Ok(p) if (0.0..=1.0).contains(&p) => Trigger::Chance(p),
            _ => {
                return Err(err(format!(
                    "`{when}` is not a probability between 0 and 1"
                )));
            }
        }
    };
    Ok(Rule {
        kind,
        trigger,
        operation,
        seen: AtomicU64::new(0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedules_and_bursts() {
        let f = Faults::parse("503@2-3/LookupEvents,throttle:3@every:10", 1).unwrap();
        let got: Vec<_> = (0..15)
            .map(|_| f.decide("a", "r", "LookupEvents", false))
            .collect();
        assert_eq!(got[0], None);
        assert_eq!(got[1], Some(FaultKind::Status(503)));
        assert_eq!(got[2], Some(FaultKind::Status(503)));
        // The throttle rule sees the requests the first rule let through: its 10th is the 12th.
        assert!(got[3..11].iter().all(Option::is_none));
        assert_eq!(got[11], Some(FaultKind::Throttle(3)));
        assert_eq!(
            got[12..14],
            [Some(FaultKind::Throttle(1)), Some(FaultKind::Throttle(1))]
        );
        assert_eq!(got[14], None, "a burst of 3 ends");
        assert_eq!(f.decide("a", "r", "StartQuery", false), None);
    }

    #[test]
    fn token_faults_need_a_token() {
        let f = Faults::parse("expired-token@1.0", 1).unwrap();
        assert_eq!(f.decide("a", "r", "LookupEvents", false), None);
        assert_eq!(
            f.decide("a", "r", "LookupEvents", true),
            Some(FaultKind::ExpiredToken)
        );
    }

    #[test]
    fn bad_specs_say_what_to_write() {
        for bad in [
            "throttle",
            "boom@0.1",
            "503@2",
            "slow@0.1",
            "503@5-1",
            "500@every:0",
            "reset@0.1/",
        ] {
            let e = Faults::parse(bad, 1).unwrap_err().to_string();
            assert!(e.contains("KIND[:ARG]@WHEN"), "{bad}: {e}");
        }
        assert!(Faults::parse("off", 1).unwrap().is_empty());
    }
}
