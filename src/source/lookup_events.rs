//! Event history as a source: one `LookupEvents` stream (one identity, one Region, one lookup
//! attribute) paged from the end of its window back to the start.
//!
//! The API returns newest first, so once a page's oldest event is older than a slice boundary,
//! every event at or after that boundary has been received: the slice is complete and is handed
//! to the writer as a [`crate::pipeline::Chunk`] that says "the stream is covered from here to the end". That
//! gives a checkpoint per slice (a day by default) without one request per slice. Resuming asks
//! only for what lies before the covered part.
//!
//! Invariants: a page is retried until it succeeds or the error is not retryable, never
//! skipped; an event appears in one chunk only (IDs seen are remembered, so pages fetched again
//! after a rejected NextToken add nothing twice); the window never moves (times are fixed by the
//! caller once, never recomputed per page).

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use aws_sdk_cloudtrail::Client;
use aws_sdk_cloudtrail::config::ConfigBag;
use aws_sdk_cloudtrail::primitives::DateTime;
use aws_sdk_cloudtrail::types::LookupAttribute;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::BeforeDeserializationInterceptorContextRef;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;

use crate::aws::{Failure, backoff, classify};
use crate::pace::Pacer;
use crate::pipeline::Chunk;

/// Attempts for one page before giving up on transient errors, and on throttles.
const MAX_TRANSIENT_ATTEMPTS: u32 = 8;
const MAX_THROTTLED_ATTEMPTS: u32 = 30;
/// NextToken rejections tolerated in one stream before giving up.
const MAX_TOKEN_RESTARTS: u32 = 50;

/// What a stream did, shared with the progress display.
#[derive(Debug, Default)]
pub struct StreamCounters {
    pub events: AtomicU64,
    pub pages: AtomicU64,
    pub retries: AtomicU64,
    pub throttles: AtomicU64,
    pub token_restarts: AtomicU64,
    /// Time spent waiting for the dataset writer to take a finished slice (µs): when it is
    /// large, the disk, not AWS, set the pace.
    pub writer_wait_micros: AtomicU64,
    /// The oldest event time reached (µs), for progress; `i64::MAX` before the first page.
    pub reached: std::sync::atomic::AtomicI64,
}

impl StreamCounters {
    pub fn new() -> Self {
        StreamCounters {
            reached: std::sync::atomic::AtomicI64::new(i64::MAX),
            ..Default::default()
        }
    }

    /// Requests made: pages, plus the attempts that failed.
    pub fn requests(&self) -> u64 {
        self.pages.load(Ordering::Relaxed)
            + self.retries.load(Ordering::Relaxed)
            + self.throttles.load(Ordering::Relaxed)
    }
}

/// Why a stream stopped early.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamError {
    RegionNotEnabled(String),
    /// The request cannot succeed (access denied, bad parameters…): `code: message`.
    Fatal(String),
    /// Retries ran out.
    GaveUp(String),
    /// The receiver of chunks went away (the run is stopping).
    Stopped,
}

/// One stream to fetch.
pub struct Stream<'a> {
    pub index: usize,
    pub client: &'a Client,
    pub pacer: &'a Pacer,
    pub attribute: LookupAttribute,
    /// Window start (µs, whole seconds).
    pub start: i64,
    /// Everything from here to the window's end is already covered (µs, whole seconds).
    pub covered_from: i64,
    /// Slice length (µs); boundaries are its multiples since the epoch (midnight UTC for a day).
    pub slice: i64,
    pub counters: Arc<StreamCounters>,
}

impl Stream<'_> {
    /// Pages the stream back to its window's start, handing over each finished slice.
    pub async fn run(self, chunks: &tokio::sync::mpsc::Sender<Chunk>) -> Result<(), StreamError> {
        if self.covered_from <= self.start {
            return Ok(());
        }
        let mut covered_from = self.covered_from;
        // The request's inclusive end; lowered when a rejected token forces a restart.
        let mut end = covered_from - 1_000_000;
        let mut token: Option<String> = None;
        let mut pending: Vec<(i64, String)> = Vec::new();
        let mut seen: HashSet<String> = HashSet::new();
        let mut oldest = i64::MAX;
        let (mut transient, mut throttled, mut restarts) = (0u32, 0u32, 0u32);
        loop {
            let ticket = self.pacer.acquire().await;
            let arrived = AnswerArrived::default();
            let result = self
                .client
                .lookup_events()
                .lookup_attributes(self.attribute.clone())
                .start_time(DateTime::from_secs(self.start / 1_000_000))
                .end_time(DateTime::from_secs(end.div_euclid(1_000_000)))
                .max_results(50)
                .set_next_token(token.clone())
                .customize()
                .interceptor(arrived.clone())
                .send()
                .await;
            match arrived.at() {
                Some(at) => ticket.answered_at(at),
                None => ticket.answered(),
            }
            let page = match result {
                Ok(page) => page,
                Err(e) => {
                    match classify(&e) {
                        Failure::Throttled => {
                            self.counters.throttles.fetch_add(1, Ordering::Relaxed);
                            self.pacer.back_off().await;
                            throttled += 1;
                            if throttled > MAX_THROTTLED_ATTEMPTS {
                                return Err(StreamError::GaveUp(format!(
                                    "throttled {throttled} times in a row"
                                )));
                            }
                        }
                        Failure::Transient(text) => {
                            self.counters.retries.fetch_add(1, Ordering::Relaxed);
                            transient += 1;
                            if transient > MAX_TRANSIENT_ATTEMPTS {
                                return Err(StreamError::GaveUp(format!(
                                    "{text} ({transient} attempts)"
                                )));
                            }
                            tokio::time::sleep(backoff(transient, Duration::from_millis(200)))
                                .await;
                        }
                        Failure::TokenRejected(text) => {
                            restarts += 1;
                            if token.is_none() || restarts > MAX_TOKEN_RESTARTS {
                                return Err(StreamError::Fatal(text));
                            }
                            self.counters.token_restarts.fetch_add(1, Ordering::Relaxed);
                            // Start again from the oldest time received: newer events are all in
                            // hand, and those of that very second come back deduplicated.
                            token = None;
                            if oldest != i64::MAX {
                                end = oldest;
                            }
                        }
                        Failure::RegionNotEnabled(text) => {
                            return Err(StreamError::RegionNotEnabled(text));
                        }
                        Failure::Fatal(text) => return Err(StreamError::Fatal(text)),
                    }
                    continue;
                }
            };
            transient = 0;
            throttled = 0;
            self.counters.pages.fetch_add(1, Ordering::Relaxed);
            for event in page.events() {
                let (Some(id), Some(json), Some(time)) = (
                    event.event_id(),
                    event.cloud_trail_event(),
                    event.event_time(),
                ) else {
                    continue;
                };
                let micros = time.secs() * 1_000_000 + i64::from(time.subsec_nanos() / 1000);
                oldest = oldest.min(micros);
                if seen.insert(id.to_owned()) {
                    pending.push((micros, json.to_owned()));
                    self.counters.events.fetch_add(1, Ordering::Relaxed);
                }
            }
            self.counters.reached.fetch_min(oldest, Ordering::Relaxed);
            token = page
                .next_token()
                .filter(|t| !t.is_empty())
                .map(str::to_owned);
            let boundary = if token.is_none() {
                // The last page: everything back to the window's start is in hand.
                self.start
            } else {
                // The newest boundary below which the oldest event lies: all at or after it are in.
                let b = oldest.div_euclid(self.slice) * self.slice + self.slice;
                if oldest == i64::MAX || b >= covered_from || b <= self.start {
                    continue;
                }
                b
            };
            let (done, rest): (Vec<_>, Vec<_>) =
                pending.into_iter().partition(|(t, _)| *t >= boundary);
            pending = rest;
            covered_from = boundary;
            let chunk = Chunk {
                stream: self.index,
                covered_from,
                records: done.into_iter().map(|(_, json)| json).collect(),
            };
            let waiting = std::time::Instant::now();
            chunks.send(chunk).await.map_err(|_| StreamError::Stopped)?;
            self.counters
                .writer_wait_micros
                .fetch_add(waiting.elapsed().as_micros() as u64, Ordering::Relaxed);
            if token.is_none() {
                return Ok(());
            }
        }
    }
}

/// When a request's answer began to arrive (an SDK interceptor's hook after the response's head
/// is in, before the body is read and decoded), for [`crate::pace::Ticket::answered_at`].
#[derive(Debug, Clone, Default)]
struct AnswerArrived(Arc<std::sync::Mutex<Option<tokio::time::Instant>>>);

impl AnswerArrived {
    fn at(&self) -> Option<tokio::time::Instant> {
        *self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Intercept for AnswerArrived {
    fn name(&self) -> &'static str {
        "AnswerArrived"
    }

    fn read_after_transmit(
        &self,
        _context: &BeforeDeserializationInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get_or_insert_with(tokio::time::Instant::now);
        Ok(())
    }
}
