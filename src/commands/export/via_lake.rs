//! `trailq export --via lake`: the same export through a CloudTrail Lake event data store.
//!
//! One query per slice, newest first: `SELECT eventJson FROM <eds> WHERE <the export's filters>
//! AND eventTime BETWEEN <slice>`. Each finished slice's records go through the same writer,
//! record parser and checkpoint as Event history's, so the dataset is the same either way. Lake
//! bills by bytes scanned, and every slice is bounded by eventTime, so the slices together scan
//! what one query over the window would.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Instant;

use super::ExportArgs;
use super::plan::{finish_run, sources, window};
use super::report::{StreamRow, Summary};
use crate::commands::query::resolve_eds;
use crate::error::{Error, Result};
use trailq::aws::{AwsError, Identity};
use trailq::dataset::checkpoint;
use trailq::params::{self, Value};
use trailq::pipeline::{Chunk, Filters, write_stream_chunks};
use trailq::source::lake;
use trailq::source::lookup_events::StreamCounters;
use trailq_events::time::format_micros;

/// `column IN ({{prefix0}}, …)`, with the items as text values.
fn list(
    column: &str,
    prefix: &str,
    items: &[String],
    values: &mut BTreeMap<String, Value>,
) -> String {
    let names: Vec<String> = items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let name = format!("{prefix}{i}");
            values.insert(name.clone(), Value::Text(item.clone()));
            format!("{{{{{name}}}}}")
        })
        .collect();
    format!("{column} IN ({})", names.join(", "))
}

/// The WHERE conditions of the export (without the time bounds) and their values.
fn conditions(args: &ExportArgs) -> Result<(String, BTreeMap<String, Value>)> {
    let mut values = BTreeMap::new();
    let mut parts = Vec::new();
    match &args.lookup {
        None => {
            parts.push(list("eventSource", "source", &sources(args), &mut values));
        }
        Some((key, value)) => {
            let column = match key.as_str() {
                "EventName" => "eventName",
                "EventSource" => "eventSource",
                "EventId" => "eventID",
                "Username" => "userIdentity.userName",
                "AccessKeyId" => "userIdentity.accessKeyId",
                "ReadOnly" => {
                    let v = match value.to_ascii_lowercase().as_str() {
                        "true" => "true",
                        "false" => "false",
                        _ => {
                            return Err(Error::Usage(format!(
                                "--lookup ReadOnly={value}: use true or false"
                            )));
                        }
                    };
                    parts.push(format!("readOnly = {v}"));
                    ""
                }
                other => {
                    return Err(Error::Usage(format!(
                        "--lookup {other}=… has no Lake column to match; use --via lookup for it"
                    )));
                }
            };
            if !column.is_empty() {
                values.insert("lookup".into(), Value::Text(value.clone()));
                parts.push(format!("{column} = {{{{lookup}}}}"));
            }
        }
    }
    if !args.region.is_empty() {
        parts.push(list("awsRegion", "region", &args.region, &mut values));
    }
    Ok((parts.join(" AND "), values))
}

pub async fn export(args: &ExportArgs, identity: &Identity) -> Result<(ExitCode, Summary)> {
    let started = Instant::now();
    let Some(eds) = &args.eds else {
        return Err(Error::Usage(
            "--via lake needs --eds ID (or TRAILQ_EDS); `trailq stores` lists event data stores"
                .into(),
        ));
    };
    // The store's Region: an event data store is queried where it lives.
    let region = identity.region().ok_or_else(|| AwsError::NoRegion {
        who: identity.label().to_owned(),
    })?;
    let client = identity.client(&region);
    let eds = resolve_eds(&client, eds).await?;
    let (where_sql, mut values) = conditions(args)?;
    values.insert("eds".into(), params::identifier("eds", &eds)?);
    let key = format!("{}|lake:{eds}|{where_sql}", identity.label());
    let keys = vec![key.clone()];

    let now = chrono::Utc::now().timestamp_micros();
    let now = now - now.rem_euclid(1_000_000);
    let mut committer = super::open_dataset(args).await?;
    let mut state = checkpoint::load(committer.root())?;
    let (run, resumed) = window(args, &state, &keys, now)?;
    state.current = Some(run.clone());
    checkpoint::save(committer.root(), &state)?;

    let (tx, mut rx) = tokio::sync::mpsc::channel::<Chunk>(4);
    let filters = Filters {
        event_names: args.where_event_name.clone(),
        read_only: args.read_only,
        ..Filters::default()
    };
    let writer_keys = keys.clone();
    let writer = tokio::task::spawn_blocking(move || {
        let result = write_stream_chunks(
            &mut committer,
            "CloudTrail Lake",
            &mut rx,
            &writer_keys,
            &mut state,
            &filters,
        );
        (result, state, committer)
    });

    let counters = Arc::new(StreamCounters::new());
    let slice = args.slice.as_micros() as i64;
    let fetch = async {
        let mut covered_from = run.covered_from[&key];
        while covered_from > run.start_micros {
            let end = covered_from - 1_000_000;
            let start = (end.div_euclid(slice) * slice).max(run.start_micros);
            let mut slice_values = values.clone();
            slice_values.insert("start".into(), Value::Timestamp(start));
            slice_values.insert("end".into(), Value::Timestamp(end));
            let sql = params::fill(
                &format!(
                    "SELECT eventJson FROM {{{{eds}}}} WHERE {where_sql} AND eventTime >= {{{{start}}}} AND eventTime <= {{{{end}}}}"
                ),
                &slice_values,
            )?;
            let id = lake::start(&client, &sql, |_| {}).await?;
            let done = lake::wait(&client, &id, |_| {}).await?;
            if done.status != "FINISHED" {
                return Err(Error::Api(format!(
                    "Lake query {id} for {} → {} ended {}: {}. Finished slices are kept; run the same command to continue",
                    format_micros(start),
                    format_micros(end),
                    done.status,
                    done.error_message.unwrap_or_default()
                )));
            }
            let mut records = Vec::new();
            lake::pages(&client, &id, |page| {
                counters.pages.fetch_add(1, Relaxed);
                records.extend(page.rows.into_iter().filter_map(|mut r| r.swap_remove(0)));
                Ok(())
            })
            .await?;
            counters.events.fetch_add(records.len() as u64, Relaxed);
            counters.reached.store(start, Relaxed);
            tx.send(Chunk {
                stream: 0,
                covered_from: start,
                records,
            })
            .await
            .map_err(|_| Error::Api("the dataset writer stopped".into()))?;
            covered_from = start;
        }
        Ok::<(), Error>(())
    };
    let outcome = tokio::select! {
        r = fetch => r,
        _ = tokio::signal::ctrl_c() => Err(Error::Interrupted(crate::error::EXPORT_KEPT)),
    };
    drop(tx);
    let (written, mut state, committer) = writer
        .await
        .map_err(|e| Error::Api(format!("the dataset writer stopped unexpectedly: {e}")))?;
    let written = written?;
    if let Err(e) = outcome {
        // What finished is kept, in S3 too: the next run resumes from it.
        committer.close().await?;
        return Err(e);
    }
    let run = finish_run(committer.root(), &mut state, run)?;
    let dataset = committer.location().to_owned();
    let published = committer.close().await?;

    let mut summary = Summary::new(
        &dataset,
        &run,
        resumed,
        vec![StreamRow {
            profile: identity.label().to_owned(),
            account: written.accounts.get(&0).cloned(),
            region,
            lookup: format!("lake {eds}"),
            skipped: false,
            counters: &counters,
            place: 0,
            busy: started.elapsed(),
        }],
        &written,
        f64::NAN,
        started.elapsed(),
    );
    summary.published = published;
    super::report(summary, &written, args)
}
