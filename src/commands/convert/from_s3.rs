//! `convert s3://…`: which trail files to read ([`plan`]), and reading them ([`feed`]): day
//! folder by day folder (every account-Region's day D before any day D+1, so the dataset fills
//! a partition or two at a time, as with local files), up to [`IN_FLIGHT`] GETs and
//! [`IN_FLIGHT_BYTES`] at once, each object handed whole to the parse workers through a bounded
//! channel. Memory stays flat whatever the bucket's size: the objects in flight include those
//! waiting for a worker.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};

use futures::StreamExt;
use tokio::sync::{Semaphore, mpsc};
use trailq::s3::{self, Bucket, S3Url};
use trailq::source::trail_bucket::{
    self, DELIVERY_LAG, OVERLAP, Place, Scope, SourcesState, TrailObject,
};
use trailq_events::files::skip_by_layout;

const MICROS_PER_DAY: i64 = 86_400_000_000;
/// Day folders listed ahead of the one being fetched.
const LISTS_AHEAD: usize = 8;
/// GETs in flight at once (S3 serves thousands a second per prefix; peers use 16–64)…
pub const IN_FLIGHT: usize = 32;
/// …and at most this many bytes of objects downloading or waiting for a parse worker. Busy
/// trails' files are ~1 MB gzipped: 32 of them put a 10 M-record `convert s3://` 4–7% over the
/// 300 MB bound (BENCHMARKS.md, issue 15 session 20); 9 at a time still keep two parse
/// workers fed. An object larger than this is fetched alone.
const IN_FLIGHT_BYTES: u64 = 8 << 20;
/// What a permit of the in-flight semaphore stands for.
const PERMIT_BYTES: u64 = 64 << 10;
const PERMITS: u32 = (IN_FLIGHT_BYTES / PERMIT_BYTES) as u32;

/// Permits an object of `size` bytes holds while in flight: its size, but at least an
/// [`IN_FLIGHT`]th of them (so no more than that many small objects) and at most all of them.
fn permits_for(size: u64) -> u32 {
    let min = PERMITS / IN_FLIGHT as u32;
    u32::try_from(size.div_ceil(PERMIT_BYTES)).map_or(PERMITS, |p| p.clamp(min, PERMITS))
}

/// Trail folders of the run, and what to read from each.
pub struct Plan {
    pub buckets: Vec<Bucket>,
    /// (bucket index, place).
    pub places: Vec<(usize, Place)>,
    /// Per place: read objects delivered in `[from, to]` (µs), or every one (`None`).
    pub delivered: Vec<Option<(i64, i64)>>,
    /// Lines about prefixes that could not be listed (the rest is read).
    pub problems: Vec<String>,
}

/// Finds the account-Regions under the URLs and what each must read: the window's objects, or
/// with `since_last` those delivered after what the dataset already holds.
pub async fn plan(
    config: &aws_config::SdkConfig,
    urls: &[S3Url],
    scope: &Scope,
    window: Option<(i64, i64)>,
    since_last: Option<(&SourcesState, i64)>,
) -> Result<Plan, String> {
    let mut plan = Plan {
        buckets: Vec::new(),
        places: Vec::new(),
        delivered: Vec::new(),
        problems: Vec::new(),
    };
    for url in urls {
        let b = match plan.buckets.iter().position(|b| b.name == url.bucket) {
            Some(b) => b,
            None => {
                plan.buckets
                    .push(trailq::s3::open(config, &url.bucket).await?);
                plan.buckets.len() - 1
            }
        };
        let found = trail_bucket::find_places(&plan.buckets[b], url, scope).await?;
        plan.problems.extend(found.problems);
        for place in found.places {
            if !plan.places.iter().any(|(_, p)| p.url == place.url) {
                plan.places.push((b, place));
            }
        }
    }
    for (_, place) in &plan.places {
        plan.delivered.push(match (since_last, window) {
            (Some((state, now)), _) => {
                // From the newest file read here before (less the overlap for late ones), or
                // for a folder new since then, from where the last run's window ended.
                let from = state
                    .places
                    .get(&place.key())
                    .map(|p| p.through)
                    .or(state.last_end)
                    .ok_or_else(|| {
                        "--since-last: no convert from S3 into this dataset yet; run it once with --start or --last (or without --since-last)".to_owned()
                    })?;
                Some((from - OVERLAP, now + DELIVERY_LAG))
            }
            // A file is named for its delivery, after its events: one delivered before the
            // window's first minute holds none of them.
            (None, Some((start, end))) => Some((start - 60_000_000, end + DELIVERY_LAG)),
            (None, None) => None,
        });
    }
    Ok(plan)
}

/// One object fetched, for a parse worker.
pub struct Fetched {
    pub object: TrailObject,
    /// The day of the folder it was listed in (its delivery day).
    pub day: i32,
    pub url: String,
    pub bytes: Vec<u8>,
}

/// What reading the bucket has done so far (for progress, the summary and what a commit may
/// record as read).
#[derive(Debug, Default)]
pub struct Counters {
    pub places_done: AtomicU64,
    pub objects_listed: AtomicU64,
    pub bytes_listed: AtomicU64,
    pub objects_fetched: AtomicU64,
    pub bytes_read: AtomicU64,
    /// Objects sent for and not yet done (their rows all with the committer), per place: their
    /// delivery times, so that a commit mid-run records a place as read only up to before the
    /// earliest of them (32 GETs complete out of order).
    pub unfinished: Mutex<BTreeMap<usize, BTreeMap<i64, usize>>>,
    /// Objects sent for and not yet done by their folder's day, and how far the listing is: what
    /// the days read so far are ([`Counters::first_day_not_done`]).
    days: Mutex<DaysInFlight>,
    /// Prefixes and objects that could not be read, as they happen.
    pub problems: Mutex<Vec<Problem>>,
}

#[derive(Debug, Default)]
struct DaysInFlight {
    /// Objects sent for and not done, per folder day.
    unfinished: BTreeMap<i32, usize>,
    /// Every folder of a day before this one is listed and its objects sent for (`i32::MAX`
    /// once all are); `None` before the first.
    listing: Option<i32>,
}

impl Counters {
    fn started(&self, place: usize, delivered: i64, day: i32) {
        *self
            .days
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .unfinished
            .entry(day)
            .or_default() += 1;
        let mut unfinished = self.unfinished.lock().unwrap_or_else(|e| e.into_inner());
        *unfinished
            .entry(place)
            .or_default()
            .entry(delivered)
            .or_default() += 1;
    }

    /// An object's rows are all with the committer, or it failed (and is a problem).
    pub fn finished(&self, place: usize, delivered: i64, day: i32) {
        {
            let mut days = self.days.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(n) = days.unfinished.get_mut(&day) {
                *n -= 1;
                if *n == 0 {
                    days.unfinished.remove(&day);
                }
            }
        }
        let mut unfinished = self.unfinished.lock().unwrap_or_else(|e| e.into_inner());
        let Some(times) = unfinished.get_mut(&place) else {
            return;
        };
        if let Some(n) = times.get_mut(&delivered) {
            *n -= 1;
            if *n == 0 {
                times.remove(&delivered);
            }
        }
    }

    /// The listing has reached the folders of `day`: those of earlier days are all sent for.
    fn listing_reached(&self, day: i32) {
        let mut days = self.days.lock().unwrap_or_else(|e| e.into_inner());
        days.listing = days.listing.max(Some(day));
    }

    /// The earliest folder day with objects not done (listed but not fetched and parsed, or
    /// not listed yet); `i32::MAX` once every object is done, `None` before the listing starts.
    /// Folders are listed and fetched in day order, so every object of an earlier day has its
    /// rows with the committer: a convert commits the days before it as it reads
    /// (`PassedDays`), as it does for local files.
    pub fn first_day_not_done(&self) -> Option<i32> {
        let days = self.days.lock().unwrap_or_else(|e| e.into_inner());
        let listing = days.listing?;
        Some(
            days.unfinished
                .keys()
                .next()
                .map_or(listing, |d| (*d).min(listing)),
        )
    }

    /// Per place, the earliest delivery time of an object not finished yet.
    pub fn unfinished_from(&self) -> BTreeMap<usize, i64> {
        let unfinished = self.unfinished.lock().unwrap_or_else(|e| e.into_inner());
        unfinished
            .iter()
            .filter_map(|(place, times)| Some((*place, *times.keys().next()?)))
            .collect()
    }

    fn problem(&self, problem: Problem) {
        self.problems
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(problem);
    }

    /// The problems so far, copied (a mid-run commit) …
    pub fn problems_so_far(&self) -> Vec<Problem> {
        self.problems
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// … or taken (the end).
    pub fn take_problems(&self) -> Vec<Problem> {
        std::mem::take(&mut *self.problems.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

/// A prefix or object that could not be read.
#[derive(Debug, Clone)]
pub struct Problem {
    /// The `s3://` URL, what happened and what to do.
    pub line: String,
    pub place: Option<usize>,
    /// The earliest delivery time it may hold (µs): `--since-last` must look again from there.
    pub delivered: Option<i64>,
}

/// Lists the planned day folders and fetches their objects into `out`, until done or `stop`.
/// What could not be listed or read goes to `counters.problems`; the rest is read.
pub async fn feed(
    plan: &Plan,
    state: Option<&SourcesState>,
    counters: &Arc<Counters>,
    out: mpsc::Sender<Fetched>,
    stop: &AtomicBool,
) {
    // Day → the places to list on that day.
    let mut by_day: BTreeMap<i32, Vec<usize>> = BTreeMap::new();
    for (i, (b, place)) in plan.places.iter().enumerate() {
        match trail_bucket::days(&plan.buckets[*b], place, plan.delivered[i]).await {
            Ok(days) => {
                for day in days {
                    by_day.entry(day).or_default().push(i);
                }
            }
            Err(f) => counters.problem(Problem {
                line: f.describe(&place.url.to_string()),
                place: Some(i),
                delivered: plan.delivered[i].map(|(from, _)| from),
            }),
        }
    }
    let last_day: BTreeMap<usize, i32> = by_day
        .iter()
        .flat_map(|(day, places)| places.iter().map(move |p| (*p, *day)))
        .collect();
    let permits = Arc::new(Semaphore::new(PERMITS as usize));
    // Day folders are listed a few ahead of the fetching, in order: with few objects a folder
    // (big files, or a quiet Region), one listing after another would leave the GETs idle.
    // Each listing is a task of its own. As futures polled only by this loop they stood still
    // while it waited for a GET's permit, and one of them could be next in line for a lock the
    // GETs need too (the credentials' cache): no GET finished, no permit came back, and the run
    // hung at 0% CPU (seen in CI, then once in every few runs of the S3 tests).
    let folders: Vec<(i32, usize)> = by_day
        .iter()
        .flat_map(|(day, places)| places.iter().map(move |i| (*day, *i)))
        .collect();
    let mut listings = futures::stream::iter(folders.into_iter().map(|(day, i)| {
        let (b, place) = &plan.places[i];
        let bucket = plan.buckets[*b].clone();
        let prefix = trail_bucket::day_prefix(place, day);
        let counters = Arc::clone(counters);
        tokio::spawn(async move {
            let listed = trail_bucket::list_day(
                &bucket,
                &prefix,
                &counters.objects_listed,
                &counters.bytes_listed,
            )
            .await;
            (day, i, prefix, listed)
        })
    }))
    .buffered(LISTS_AHEAD);
    // Cleared where the loop stops before the listing is done.
    let mut listed_all = true;
    'days: while let Some(next) = listings.next().await {
        if stop.load(Relaxed) || out.is_closed() {
            listed_all = false;
            break 'days;
        }
        let (day, i, prefix, listed) = match next {
            Ok(listed) => listed,
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(_) => {
                // cancelled: the runtime is shutting down
                listed_all = false;
                break 'days;
            }
        };
        counters.listing_reached(day);
        let day = &day;
        let (b, place) = &plan.places[i];
        let bucket = &plan.buckets[*b];
        let objects = match listed {
            Ok(objects) => objects,
            Err(f) => {
                counters.problem(Problem {
                    line: f.describe(&s3::key_url(&bucket.name, &prefix)),
                    place: Some(i),
                    delivered: Some(i64::from(*day) * MICROS_PER_DAY),
                });
                continue;
            }
        };
        let seen = state.and_then(|s| s.places.get(&place.key()));
        for (location, size) in objects {
            let object = TrailObject {
                place: i,
                delivered: trail_bucket::delivered_at(location.as_ref()),
                location,
                size,
            };
            let wanted = match (plan.delivered[i], object.delivered) {
                (Some((from, to)), Some(t)) => (from..=to).contains(&t),
                _ => true,
            };
            if !wanted
                || skip_by_layout(std::path::Path::new(object.key())).is_some()
                || seen.is_some_and(|s| s.recent.contains(object.key()))
            {
                continue;
            }
            let held = permits_for(object.size);
            let Ok(permit) = Arc::clone(&permits).acquire_many_owned(held).await else {
                listed_all = false;
                break 'days;
            };
            let (bucket, out) = (bucket.clone(), out.clone());
            let counters = Arc::clone(counters);
            let url = s3::key_url(&bucket.name, object.key());
            let day = *day;
            counters.started(i, object.delivered.unwrap_or(i64::MIN), day);
            tokio::spawn(async move {
                match trail_bucket::fetch(&bucket, &object, &counters.bytes_read).await {
                    Ok(bytes) => {
                        counters.objects_fetched.fetch_add(1, Relaxed);
                        let _ = out
                            .send(Fetched {
                                object,
                                day,
                                url,
                                bytes,
                            })
                            .await;
                    }
                    Err(f) => {
                        let delivered = object.delivered.unwrap_or(i64::MIN);
                        counters.problem(Problem {
                            line: f.describe(&url),
                            place: Some(object.place),
                            delivered: object.delivered,
                        });
                        counters.finished(object.place, delivered, day);
                    }
                }
                // Only now: an object waiting for a parse worker still counts as in flight.
                drop(permit);
            });
        }
        if last_day.get(&i) == Some(day) {
            counters.places_done.fetch_add(1, Relaxed);
        }
    }
    if listed_all {
        counters.listing_reached(i32::MAX);
    }
    // Every fetch has finished once all permits are back.
    let _ = permits.acquire_many(PERMITS).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objects_in_flight_are_bounded_by_count_and_by_bytes() {
        // Small objects: 32 at a time.
        assert_eq!(PERMITS / permits_for(4_000), IN_FLIGHT as u32);
        assert_eq!(permits_for(0), permits_for(4_000));
        // A busy trail's ~1 MB files: 9 at a time, 8 MiB in all.
        assert_eq!(PERMITS / permits_for(880_000), 9);
        // Larger than the budget: alone.
        assert_eq!(permits_for(8 << 20), PERMITS);
        assert_eq!(permits_for(u64::MAX), PERMITS);
    }

    #[test]
    fn a_day_is_read_once_its_folders_are_listed_and_their_objects_done() {
        let c = Counters::default();
        assert_eq!(c.first_day_not_done(), None, "nothing listed yet");
        c.listing_reached(10);
        c.started(0, 1, 10);
        c.started(1, 2, 10);
        assert_eq!(c.first_day_not_done(), Some(10));
        c.listing_reached(11);
        c.started(0, 3, 11);
        c.finished(1, 2, 10);
        assert_eq!(
            c.first_day_not_done(),
            Some(10),
            "one of day 10's objects is not done"
        );
        c.finished(0, 1, 10);
        assert_eq!(c.first_day_not_done(), Some(11), "day 11 is still listed");
        c.listing_reached(13);
        assert_eq!(
            c.first_day_not_done(),
            Some(11),
            "day 11's object is not done"
        );
        c.finished(0, 3, 11);
        assert_eq!(c.first_day_not_done(), Some(13), "day 12 had no folders");
        c.listing_reached(i32::MAX);
        assert_eq!(c.first_day_not_done(), Some(i32::MAX), "all read");
    }
}
