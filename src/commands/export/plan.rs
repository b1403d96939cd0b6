//! What an export asks for: its streams (identity × Region × lookup attribute, and which pacer
//! each shares) and its window (fixed at the first start, resumed, or continued by --since-last).

use aws_sdk_cloudtrail::types::{LookupAttribute, LookupAttributeKey};
use trailq::aws::{self, Identity};
use trailq::dataset::checkpoint::{self, Run};
use trailq_events::cloudtrail::INSPECTOR_SOURCES;
use trailq_events::time::format_micros;

use super::{ALL_REGIONS, ExportArgs};
use crate::error::{Error, Result};
use crate::terminal::note;

const MICROS_PER_DAY: i64 = 86_400_000_000;
/// Event history keeps 90 days.
const REACH_DAYS: i64 = 90;
/// `--since-last` starts this long before the last export's end: CloudTrail can deliver an event
/// to Event history minutes after its eventTime, and duplicates are dropped anyway.
const SINCE_LAST_OVERLAP: i64 = 3_600_000_000;

/// One stream of the plan.
pub(super) struct Planned {
    pub(super) key: String,
    pub(super) identity: usize,
    pub(super) region: String,
    pub(super) attribute: LookupAttribute,
    /// The place (identity, Region) whose pacer it shares.
    pub(super) place: usize,
}

/// Identities × Regions × lookup attributes.
pub(super) fn plan(args: &ExportArgs, identities: &[Identity]) -> Result<Vec<Planned>> {
    let mut attributes: Vec<(String, String)> = match &args.lookup {
        Some(kv) => vec![kv.clone()],
        None => sources(args)
            .into_iter()
            .map(|s| ("EventSource".to_owned(), s))
            .collect(),
    };
    dedup(&mut attributes);
    let mut plan = Vec::new();
    let mut place = 0;
    for (i, identity) in identities.iter().enumerate() {
        let mut regions: Vec<String> =
            if let (true, Some(enabled)) = (args.all_regions, &identity.regions) {
                // What the account itself says it has enabled (--org asks each account).
                enabled.clone()
            } else if args.all_regions {
                ALL_REGIONS.iter().map(|r| (*r).to_owned()).collect()
            } else if !args.region.is_empty() {
                args.region.clone()
            } else {
                vec![identity.region().ok_or_else(|| aws::AwsError::NoRegion {
                    who: match &identity.profile {
                        Some(p) => format!("profile `{p}`"),
                        None => "the default configuration".to_owned(),
                    },
                })?]
            };
        dedup(&mut regions);
        for region in regions {
            for (key, value) in &attributes {
                let attribute = LookupAttribute::builder()
                    .attribute_key(LookupAttributeKey::from(key.as_str()))
                    .attribute_value(value)
                    .build()
                    .map_err(|e| Error::Usage(format!("--lookup `{key}={value}`: {e}")))?;
                plan.push(Planned {
                    key: format!("{}|{region}|{key}={value}", identity.label()),
                    identity: i,
                    region: region.clone(),
                    attribute,
                    place,
                });
            }
            place += 1;
        }
    }
    Ok(plan)
}

/// The event sources to export: `--event-source`, or Inspector's three.
pub(super) fn sources(args: &ExportArgs) -> Vec<String> {
    if args.event_sources.is_empty() {
        INSPECTOR_SOURCES.iter().map(|s| (*s).to_owned()).collect()
    } else {
        args.event_sources.clone()
    }
}

/// Records a finished export as the last one (`--since-last` starts from its end).
pub(super) fn finish_run(
    root: &std::path::Path,
    state: &mut checkpoint::ExportState,
    run: Run,
) -> Result<Run> {
    let run = state.current.take().unwrap_or(run);
    state.last_finished = Some(run.clone());
    checkpoint::save(root, state)?;
    Ok(run)
}

/// Removes repeats, keeping the first of each (`--region x --region x` is one stream).
pub(super) fn dedup<T: PartialEq + Clone>(items: &mut Vec<T>) {
    let mut kept: Vec<T> = Vec::with_capacity(items.len());
    for item in items.drain(..) {
        if !kept.contains(&item) {
            kept.push(item);
        }
    }
    *items = kept;
}

/// The export's window: the unfinished export's (resumed), or a new one fixed now.
pub(super) fn window(
    args: &ExportArgs,
    state: &checkpoint::ExportState,
    keys: &[String],
    now: i64,
) -> Result<(Run, bool)> {
    let reach = now - REACH_DAYS * MICROS_PER_DAY;
    let started = format_micros(now);
    if args.since_last {
        let Some(last) = &state.last_finished else {
            return Err(Error::Usage(format!(
                "--since-last: no finished export into `{}` yet; run the export once without it",
                args.out
            )));
        };
        let start = (last.end_micros - SINCE_LAST_OVERLAP).max(reach);
        let end = args.end.unwrap_or(now);
        check_window(start, end, now)?;
        return Ok((Run::new(started, start, end, keys), false));
    }
    // An explicit window is that window; a relative one ("last 90 days") resumes the
    // unfinished export of the same streams, whose window was fixed when it started.
    let explicit = args.start.is_some() || args.end.is_some();
    let (start, end) = match (args.start, args.last) {
        (Some(s), _) => (s, args.end.unwrap_or(now)),
        (None, Some(d)) => {
            let end = args.end.unwrap_or(now);
            (end - d.as_micros() as i64, end)
        }
        (None, None) => (reach, args.end.unwrap_or(now)),
    };
    let start = start - start.rem_euclid(1_000_000);
    let end = end - end.rem_euclid(1_000_000);
    if let Some(current) = &state.current
        && current.has_streams(keys)
        && (!explicit || (current.start_micros == start.max(reach) && current.end_micros == end))
    {
        return Ok((current.clone(), true));
    }
    if start < reach {
        note!(
            "note: Event history keeps 90 days; the export starts at {} instead of {}",
            format_micros(reach),
            format_micros(start)
        );
    }
    let start = start.max(reach);
    check_window(start, end, now)?;
    Ok((Run::new(started, start, end, keys), false))
}

pub(super) fn check_window(start: i64, end: i64, now: i64) -> Result<()> {
    if end < start {
        return Err(Error::Usage(format!(
            "the window ends ({}) before it starts ({}), or before what Event history keeps (90 days back): pick a later --end",
            format_micros(end),
            format_micros(start)
        )));
    }
    if start > now {
        return Err(Error::Usage(format!(
            "the window starts in the future ({}): pick an earlier --start",
            format_micros(start)
        )));
    }
    Ok(())
}
