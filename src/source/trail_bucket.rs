//! Trail log files straight from an S3 bucket, under CloudTrail's layout
//! `[PREFIX/]AWSLogs/[o-ORGID/]ACCOUNT/CloudTrail/REGION/YYYY/MM/DD/ACCOUNT_CloudTrail_REGION_YYYYMMDDTHHMMZ_ID.json.gz`.
//!
//! A bucket is never listed whole (an organization's trail holds millions of objects). Delimiter
//! listings find the account-Regions (`AWSLogs/`, each `o-…/`, each account's `CloudTrail/`:
//! digest and Insights folders beside it are never listed), and then only the day folders that
//! can hold events of the window are listed: from the window's first day to the day after its
//! end plus [`DELIVERY_LAG`], because a file delivered after midnight holds the last minutes of
//! the day before. A file's name carries its delivery time, so files delivered before the window
//! starts are not read at all; the parser keeps exactly the events whose eventTime is in the
//! window (`pipeline::Filters::window`).
//!
//! `--since-last` keeps, per account-Region, the newest delivery time read ([`PlaceState`]).
//! Keys sort by delivery time within a day, but a late file can appear after newer ones were
//! read, so the next run lists again from [`OVERLAP`] before that point and skips the keys it
//! already read in that stretch (remembered by name); eventIDs already in the dataset are
//! dropped anyway.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use futures::StreamExt;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt};
use serde::{Deserialize, Serialize};
use trailq_events::time::{day_of_micros, format_day, parse_day};

use crate::s3::{Bucket, Failure, S3Url, answered};

const MICROS_PER_DAY: i64 = 86_400_000_000;
/// How long after its events a trail file may be delivered and still be read for a window.
/// CloudTrail delivers within about 5 minutes on average; an hour leaves room for stragglers.
pub const DELIVERY_LAG: i64 = 3_600_000_000;
/// CloudTrail began in November 2013: a window starting earlier lists the days a folder has.
const CLOUDTRAIL_BEGAN: i64 = 1_383_264_000_000_000;
/// How far back of the last file read `--since-last` looks again for files delivered late.
pub const OVERLAP: i64 = 3_600_000_000;

/// One account-Region folder of a trail: `…/ACCOUNT/CloudTrail/REGION/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Place {
    pub url: S3Url,
    pub account: String,
    pub region: String,
    /// Days the URL itself narrows to (`…/REGION/2026/11/`), inclusive.
    pub days: Option<(i32, i32)>,
}

impl Place {
    /// The state's key: the folder's URL.
    pub fn key(&self) -> String {
        self.url.to_string()
    }
}

/// Which accounts and Regions to read (empty: all).
#[derive(Debug, Clone, Default)]
pub struct Scope {
    pub accounts: Vec<String>,
    pub regions: Vec<String>,
}

/// The account-Regions under a URL, and the prefixes that could not be listed.
#[derive(Debug, Default)]
pub struct Found {
    pub places: Vec<Place>,
    /// One line each: the `s3://` prefix and what to do.
    pub problems: Vec<String>,
}

fn is_account(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

fn is_org(s: &str) -> bool {
    s.starts_with("o-") && s.len() > 2
}

/// The sub-folders of `prefix` (names without the slash), by one delimiter listing.
async fn folders(bucket: &Bucket, prefix: &str) -> Result<Vec<String>, Failure> {
    let listed = answered(
        bucket
            .store
            .list_with_delimiter(Some(&ObjectPath::from(prefix.trim_end_matches('/')))),
    )
    .await?;
    Ok(listed
        .common_prefixes
        .iter()
        .filter_map(|p| p.filename().map(str::to_owned))
        .collect())
}

/// Finds the account-Regions under `url`, which may name any level of the layout: the bucket or
/// the trail's prefix (above `AWSLogs/`), `AWSLogs/`, an organization, an account, its
/// `CloudTrail/`, a Region, or a year, month or day under it.
pub async fn find_places(bucket: &Bucket, url: &S3Url, scope: &Scope) -> Result<Found, String> {
    let segments: Vec<&str> = url.prefix.split('/').filter(|s| !s.is_empty()).collect();
    let mut found = Found::default();
    let Some(logs) = segments.iter().position(|s| *s == "AWSLogs") else {
        // Above AWSLogs/: the trail's own prefix, or the bucket's root.
        let children = folders(bucket, &url.prefix)
            .await
            .map_err(|f| f.describe(&url.to_string()))?;
        if !children.iter().any(|c| c == "AWSLogs") {
            let seen: Vec<String> = children.iter().take(10).map(|c| format!("{c}/")).collect();
            return Err(format!(
                "{url}: no AWSLogs/ folder here; pass the trail's S3 location, the prefix that holds AWSLogs/ ({})",
                if seen.is_empty() {
                    "this prefix is empty".to_owned()
                } else {
                    format!("found {}", seen.join(", "))
                }
            ));
        }
        walk_logs(
            bucket,
            &format!("{}AWSLogs/", url.prefix),
            scope,
            &mut found,
        )
        .await;
        return Ok(found);
    };
    let base = segments[..=logs].join("/") + "/";
    let mut rest = &segments[logs + 1..];
    let mut prefix = base;
    if let Some(org) = rest.first().filter(|s| is_org(s)) {
        prefix = format!("{prefix}{org}/");
        rest = &rest[1..];
    }
    let Some((account, rest)) = rest.split_first() else {
        walk_logs(bucket, &prefix, scope, &mut found).await;
        return Ok(found);
    };
    if !is_account(account) {
        return Err(format!(
            "{url}: `{account}` is not an account ID (12 digits) where the trail layout has one: AWSLogs/[o-ORGID/]ACCOUNT/CloudTrail/REGION/"
        ));
    }
    if !scope.accounts.is_empty() && !scope.accounts.iter().any(|a| a == account) {
        return Ok(found);
    }
    let account_prefix = format!("{prefix}{account}/");
    let Some((service, rest)) = rest.split_first() else {
        regions(bucket, &account_prefix, account, scope, &mut found).await;
        return Ok(found);
    };
    if *service != "CloudTrail" {
        return Err(format!(
            "{url}: `{service}/` holds no trail log files (digest, Insights and other files sit beside CloudTrail/); point at {} instead",
            url.key_url(&format!("{account_prefix}CloudTrail/"))
        ));
    }
    let Some((region, rest)) = rest.split_first() else {
        regions(bucket, &account_prefix, account, scope, &mut found).await;
        return Ok(found);
    };
    if !scope.regions.is_empty() && !scope.regions.iter().any(|r| r == region) {
        return Ok(found);
    }
    let days = narrowed_days(rest).ok_or_else(|| {
        format!("{url}: after the Region the trail layout has YYYY/MM/DD/ folders")
    })?;
    found.places.push(Place {
        url: S3Url {
            bucket: url.bucket.clone(),
            prefix: format!("{account_prefix}CloudTrail/{region}/"),
        },
        account: (*account).to_owned(),
        region: (*region).to_owned(),
        days,
    });
    Ok(found)
}

/// `[YYYY[/MM[/DD]]]` after a Region: the days they cover.
fn narrowed_days(rest: &[&str]) -> Option<Option<(i32, i32)>> {
    let day = |y: &str, m: &str, d: &str| parse_day(&format!("{y}-{m}-{d}"));
    match rest {
        [] => Some(None),
        [y] => Some(Some((day(y, "01", "01")?, day(y, "12", "31")?))),
        [y, m] => {
            let first = day(y, m, "01")?;
            let next = if *m == "12" {
                day(&(y.parse::<i32>().ok()? + 1).to_string(), "01", "01")?
            } else {
                day(y, &format!("{:02}", m.parse::<u32>().ok()? + 1), "01")?
            };
            Some(Some((first, next - 1)))
        }
        [y, m, d] => {
            let only = day(y, m, d)?;
            Some(Some((only, only)))
        }
        _ => None,
    }
}

/// Under `AWSLogs/` (or an organization's folder): the accounts, then their Regions.
async fn walk_logs(bucket: &Bucket, prefix: &str, scope: &Scope, found: &mut Found) {
    let url = |p: &str| format!("s3://{}/{p}", bucket.name);
    let children = match folders(bucket, prefix).await {
        Ok(c) => c,
        Err(f) => {
            found.problems.push(f.describe(&url(prefix)));
            return;
        }
    };
    for child in children {
        if is_org(&child) {
            Box::pin(walk_logs(
                bucket,
                &format!("{prefix}{child}/"),
                scope,
                found,
            ))
            .await;
        } else if is_account(&child)
            && (scope.accounts.is_empty() || scope.accounts.contains(&child))
        {
            regions(bucket, &format!("{prefix}{child}/"), &child, scope, found).await;
        }
    }
}

/// An account's Regions: the folders of its `CloudTrail/` (nothing else under it is listed).
async fn regions(
    bucket: &Bucket,
    account_prefix: &str,
    account: &str,
    scope: &Scope,
    found: &mut Found,
) {
    let prefix = format!("{account_prefix}CloudTrail/");
    match folders(bucket, &prefix).await {
        Ok(regions) => {
            for region in regions {
                if scope.regions.is_empty() || scope.regions.contains(&region) {
                    found.places.push(Place {
                        url: S3Url {
                            bucket: bucket.name.clone(),
                            prefix: format!("{prefix}{region}/"),
                        },
                        account: account.to_owned(),
                        region,
                        days: None,
                    });
                }
            }
        }
        Err(f) => found
            .problems
            .push(f.describe(&format!("s3://{}/{prefix}", bucket.name))),
    }
}

/// The day folders of a place to list for the objects delivered in `[from, to]` (µs; `None`:
/// every day the place has, found by delimiter listings of its years and months).
pub async fn days(
    bucket: &Bucket,
    place: &Place,
    delivered: Option<(i64, i64)>,
) -> Result<Vec<i32>, Failure> {
    let mut days: Vec<i32> = match delivered {
        Some((from, to)) if from >= CLOUDTRAIL_BEGAN => {
            (day_of_micros(from)..=day_of_micros(to)).collect()
        }
        // No start (or one before CloudTrail existed): the days the place has, up to the end.
        _ => {
            let mut days = Vec::new();
            for year in folders(bucket, &place.url.prefix).await? {
                let year_prefix = format!("{}{year}/", place.url.prefix);
                for month in folders(bucket, &year_prefix).await? {
                    for day in folders(bucket, &format!("{year_prefix}{month}/")).await? {
                        if let Some(d) = parse_day(&format!("{year}-{month}-{day}")) {
                            days.push(d);
                        }
                    }
                }
            }
            days.sort_unstable();
            if let Some((_, to)) = delivered {
                days.retain(|d| *d <= day_of_micros(to));
            }
            days
        }
    };
    if let Some((first, last)) = place.days {
        days.retain(|d| (first..=last).contains(d));
    }
    Ok(days)
}

/// A day folder's prefix: `…/REGION/YYYY/MM/DD/`.
pub fn day_prefix(place: &Place, day: i32) -> String {
    format!("{}{}/", place.url.prefix, format_day(day).replace('-', "/"))
}

/// One trail file to read.
#[derive(Debug, Clone)]
pub struct TrailObject {
    pub place: usize,
    pub location: ObjectPath,
    pub size: u64,
    /// The delivery time in its name (µs), when it has the trail layout's name.
    pub delivered: Option<i64>,
}

impl TrailObject {
    pub fn key(&self) -> &str {
        self.location.as_ref()
    }
}

/// The delivery time in a trail file's name `…_YYYYMMDDTHHMMZ_…` (µs).
pub fn delivered_at(key: &str) -> Option<i64> {
    let name = key.rsplit('/').next()?;
    name.split('_').find_map(|part| {
        let b = part.as_bytes();
        if part.len() != 14 || b[8] != b'T' || b[13] != b'Z' {
            return None;
        }
        let digits = |r: std::ops::Range<usize>| -> Option<i64> {
            std::str::from_utf8(&b[r.clone()])
                .ok()
                .filter(|s| s.bytes().all(|c| c.is_ascii_digit()))?
                .parse()
                .ok()
        };
        let day = parse_day(&format!("{}-{}-{}", &part[0..4], &part[4..6], &part[6..8]))?;
        let (hour, minute) = (digits(9..11)?, digits(11..13)?);
        (hour < 24 && minute < 60)
            .then(|| i64::from(day) * MICROS_PER_DAY + (hour * 60 + minute) * 60_000_000)
    })
}

/// Lists one day folder: the objects in it, in key order.
pub async fn list_day(
    bucket: &Bucket,
    prefix: &str,
    listed: &AtomicU64,
    listed_bytes: &AtomicU64,
) -> Result<Vec<(ObjectPath, u64)>, Failure> {
    let mut objects = Vec::new();
    let mut stream = bucket
        .store
        .list(Some(&ObjectPath::from(prefix.trim_end_matches('/'))));
    // Each object within the stall limit: only the first of a page waits, for the page's
    // request (a folder of many pages may take longer in all).
    while let Some(meta) = answered(async { stream.next().await.transpose() }).await? {
        listed.fetch_add(1, Relaxed);
        listed_bytes.fetch_add(meta.size, Relaxed);
        objects.push((meta.location, meta.size));
    }
    // S3 lists in key order; not every server that speaks its API promises to, and `--since-last`
    // takes a day's last key read as its mark.
    objects.sort_by(|a, b| a.0.as_ref().cmp(b.0.as_ref()));
    Ok(objects)
}

/// Reads one object whole, counting its bytes as they arrive.
pub async fn fetch(
    bucket: &Bucket,
    object: &TrailObject,
    read: &AtomicU64,
) -> Result<Vec<u8>, Failure> {
    let got = answered(bucket.store.get(&object.location)).await?;
    let mut bytes = Vec::with_capacity(object.size as usize);
    let mut stream = got.into_stream();
    // Each chunk within the stall limit: a big object on a slow link may take longer in all.
    while let Some(chunk) = answered(async { stream.next().await.transpose() }).await? {
        read.fetch_add(chunk.len() as u64, Relaxed);
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

/// What `--since-last` remembers of one account-Region.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PlaceState {
    /// The newest delivery time read (µs).
    pub through: i64,
    /// Keys read that were delivered at or after `through - OVERLAP`.
    pub recent: BTreeSet<String>,
}

/// What the dataset remembers of the S3 folders it was converted from.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SourcesState {
    pub version: u32,
    /// The end of the last finished convert's window (µs): where `--since-last` starts for an
    /// account-Region not seen before.
    pub last_end: Option<i64>,
    /// By account-Region folder URL.
    pub places: BTreeMap<String, PlaceState>,
}

impl SourcesState {
    /// Records that the object `key` of `place`, delivered at `delivered`, is in the dataset.
    pub fn read(&mut self, place: &str, key: &str, delivered: i64) {
        let state = self.places.entry(place.to_owned()).or_default();
        state.through = state.through.max(delivered);
        state.recent.insert(key.to_owned());
    }

    /// Forgets the keys no later run can need (delivered before `through - OVERLAP`).
    pub fn prune(&mut self) {
        for state in self.places.values_mut() {
            let floor = state.through - OVERLAP;
            state
                .recent
                .retain(|k| delivered_at(k).is_none_or(|t| t >= floor));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delivery_times_come_from_trail_file_names() {
        let key = "AWSLogs/o-a/111122223333/CloudTrail/us-east-1/2026/11/30/111122223333_CloudTrail_us-east-1_20261130T2355Z_AbC.json.gz";
        let t = delivered_at(key).unwrap();
        assert_eq!(
            trailq_events::time::format_micros(t),
            "2026-11-30T23:55:00Z"
        );
        assert_eq!(delivered_at("x/notes.json"), None);
        assert_eq!(delivered_at("a_20261130T2460Z_b.json.gz"), None);
    }

    #[test]
    fn a_url_below_the_region_narrows_the_days() {
        let d = |s: &str| parse_day(s).unwrap();
        assert_eq!(narrowed_days(&[]), Some(None));
        assert_eq!(
            narrowed_days(&["2026", "02"]),
            Some(Some((d("2026-02-01"), d("2026-02-28"))))
        );
        assert_eq!(
            narrowed_days(&["2026", "12"]),
            Some(Some((d("2026-12-01"), d("2026-12-31"))))
        );
        assert_eq!(
            narrowed_days(&["2026", "11", "30"]),
            Some(Some((d("2026-11-30"), d("2026-11-30"))))
        );
        assert_eq!(narrowed_days(&["x"]), None);
    }
}
