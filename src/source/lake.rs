//! CloudTrail Lake as a source: start a query, poll it to a terminal status, page its results
//! 1,000 rows at a time [reference §2, "Recommended client flow"].
//!
//! Throttling and transient failures of each call are retried with backoff (the SDK's own
//! retries are off, see `aws.rs`); `MaxConcurrentQueriesException` waits for a slot, since Lake
//! allows 10 queued or running queries and they end on their own.

use std::future::Future;
use std::time::Duration;

use aws_sdk_cloudtrail::Client;
use aws_sdk_cloudtrail::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_cloudtrail::types::QueryStatus;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;

pub use trailq_lake_sql::lake_values::Page;

use crate::aws::{Failure, backoff, classify, error_text};

const MAX_ATTEMPTS: u32 = 8;
/// How long StartQuery keeps waiting for a free query slot.
const MAX_SLOT_WAIT: Duration = Duration::from_secs(600);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LakeError {
    #[error("{operation}: {text}")]
    Api {
        operation: &'static str,
        text: String,
    },
    #[error("the query ended {status}: {message}")]
    Ended { status: String, message: String },
    #[error(
        "10 queries were already queued or running for {waited_secs} s; try again when some have finished (`trailq history` lists them)"
    )]
    NoSlot { waited_secs: u64 },
}

/// One call, retried while it is throttled or fails transiently.
async fn call<T, E, F, Fut>(operation: &'static str, mut send: F) -> Result<T, LakeError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, SdkError<E, HttpResponse>>>,
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let mut attempt = 0;
    loop {
        match send().await {
            Ok(v) => return Ok(v),
            Err(e) => match classify(&e) {
                Failure::Throttled | Failure::Transient(_) if attempt < MAX_ATTEMPTS => {
                    attempt += 1;
                    tokio::time::sleep(backoff(attempt, Duration::from_millis(250))).await;
                }
                _ => {
                    return Err(LakeError::Api {
                        operation,
                        text: error_text(&e),
                    });
                }
            },
        }
    }
}

/// Starts `statement`, waiting while Lake's 10 query slots are taken. `on_wait` is told each
/// time it waits.
pub async fn start(
    client: &Client,
    statement: &str,
    mut on_wait: impl FnMut(Duration),
) -> Result<String, LakeError> {
    let started = std::time::Instant::now();
    let mut wait = Duration::from_secs(2);
    loop {
        let result = client.start_query().query_statement(statement).send().await;
        match result {
            Ok(out) => {
                return Ok(out.query_id().unwrap_or_default().to_owned());
            }
            Err(e) if e.code() == Some("MaxConcurrentQueriesException") => {
                if started.elapsed() > MAX_SLOT_WAIT {
                    return Err(LakeError::NoSlot {
                        waited_secs: started.elapsed().as_secs(),
                    });
                }
                on_wait(started.elapsed());
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_secs(30));
            }
            Err(e) => match classify(&e) {
                Failure::Throttled | Failure::Transient(_) => {
                    tokio::time::sleep(wait).await;
                }
                _ => {
                    return Err(LakeError::Api {
                        operation: "StartQuery",
                        text: error_text(&e),
                    });
                }
            },
        }
    }
}

/// A query's status and statistics.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Described {
    pub status: String,
    pub statement: Option<String>,
    pub error_message: Option<String>,
    pub events_matched: i64,
    pub events_scanned: i64,
    pub bytes_scanned: i64,
    pub execution_millis: i64,
}

impl Described {
    pub fn is_terminal(&self) -> bool {
        !matches!(self.status.as_str(), "QUEUED" | "RUNNING")
    }
}

pub async fn describe(client: &Client, id: &str) -> Result<Described, LakeError> {
    let d = call("DescribeQuery", || {
        client.describe_query().query_id(id).send()
    })
    .await?;
    let stats = d.query_statistics();
    Ok(Described {
        status: d
            .query_status()
            .map_or("UNKNOWN", QueryStatus::as_str)
            .to_owned(),
        statement: d.query_string().map(str::to_owned),
        error_message: d.error_message().map(str::to_owned),
        events_matched: stats.and_then(|s| s.events_matched()).unwrap_or(0),
        events_scanned: stats.and_then(|s| s.events_scanned()).unwrap_or(0),
        bytes_scanned: stats.and_then(|s| s.bytes_scanned()).unwrap_or(0),
        execution_millis: stats
            .and_then(|s| s.execution_time_in_millis())
            .map_or(0, i64::from),
    })
}

/// Polls until the query is FINISHED, FAILED, CANCELLED or TIMED_OUT, with backoff from 250 ms
/// to 2 s. `on_status` sees every answer.
pub async fn wait(
    client: &Client,
    id: &str,
    mut on_status: impl FnMut(&Described),
) -> Result<Described, LakeError> {
    let mut delay = Duration::from_millis(250);
    loop {
        let d = describe(client, id).await?;
        on_status(&d);
        if d.is_terminal() {
            return Ok(d);
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 3 / 2).min(Duration::from_secs(2));
    }
}

/// Pages a FINISHED query's results, 1,000 rows at a time.
pub async fn pages(
    client: &Client,
    id: &str,
    mut on_page: impl FnMut(Page) -> Result<(), LakeError>,
) -> Result<(), LakeError> {
    let mut token: Option<String> = None;
    loop {
        let out = call("GetQueryResults", || {
            client
                .get_query_results()
                .query_id(id)
                .max_query_results(1000)
                .set_next_token(token.clone())
                .send()
        })
        .await?;
        let mut page = Page {
            total_rows: out
                .query_statistics()
                .and_then(|s| s.total_results_count())
                .map(i64::from),
            ..Page::default()
        };
        for row in out.query_result_rows() {
            if page.names.len() < row.len() {
                page.names.resize(row.len(), None);
            }
            let mut values = Vec::with_capacity(row.len());
            for (i, cell) in row.iter().enumerate() {
                match cell.iter().next() {
                    Some((name, value)) => {
                        page.names[i].get_or_insert_with(|| name.clone());
                        values.push(Some(value.clone()));
                    }
                    None => values.push(None),
                }
            }
            page.rows.push(values);
        }
        on_page(page)?;
        token = out
            .next_token()
            .filter(|t| !t.is_empty())
            .map(str::to_owned);
        if token.is_none() {
            return Ok(());
        }
    }
}

/// Asks Lake to cancel a query. A query that already ended is not an error.
pub async fn cancel(client: &Client, id: &str) -> Result<(), LakeError> {
    match client.cancel_query().query_id(id).send().await {
        Ok(_) => Ok(()),
        Err(e) if e.code() == Some("InactiveQueryException") => Ok(()),
        Err(e) => Err(LakeError::Api {
            operation: "CancelQuery",
            text: error_text(&e),
        }),
    }
}

/// An event data store as `trailq stores` lists it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Store {
    pub id: String,
    pub arn: String,
    pub name: String,
    pub status: Option<String>,
    pub retention_days: Option<i32>,
    pub multi_region: Option<bool>,
    pub organization: Option<bool>,
}

/// The (ARN, name) of every event data store: what ListEventDataStores still returns.
pub async fn store_names(client: &Client) -> Result<Vec<(String, String)>, LakeError> {
    let mut names = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let out = call("ListEventDataStores", || {
            client
                .list_event_data_stores()
                .set_next_token(token.clone())
                .send()
        })
        .await?;
        names.extend(out.event_data_stores().iter().filter_map(|s| {
            Some((
                s.event_data_store_arn()?.to_owned(),
                s.name().unwrap_or_default().to_owned(),
            ))
        }));
        token = out.next_token().map(str::to_owned);
        if token.is_none() {
            return Ok(names);
        }
    }
}

/// Every event data store, with the details GetEventDataStore gives (the list's own fields are
/// deprecated).
pub async fn stores(client: &Client) -> Result<Vec<Store>, LakeError> {
    let arns: Vec<String> = store_names(client)
        .await?
        .into_iter()
        .map(|(arn, _)| arn)
        .collect();
    let mut stores = Vec::with_capacity(arns.len());
    for arn in arns {
        let d = call("GetEventDataStore", || {
            client.get_event_data_store().event_data_store(&arn).send()
        })
        .await?;
        stores.push(Store {
            id: store_id(&arn).to_owned(),
            name: d.name().unwrap_or_default().to_owned(),
            status: d.status().map(|s| s.as_str().to_owned()),
            retention_days: d.retention_period(),
            multi_region: d.multi_region_enabled(),
            organization: d.organization_enabled(),
            arn,
        });
    }
    Ok(stores)
}

/// The ID part of an event data store ARN (an ID is returned as is).
pub fn store_id(arn_or_id: &str) -> &str {
    arn_or_id.rsplit('/').next().unwrap_or(arn_or_id)
}

/// A recent query as `trailq history` lists it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PastQuery {
    pub id: String,
    pub status: String,
    pub created: Option<String>,
    pub statement: Option<String>,
}

/// The queries of the last seven days on a store, newest first, with their statements.
pub async fn history(
    client: &Client,
    eds: &str,
    limit: usize,
) -> Result<Vec<PastQuery>, LakeError> {
    let mut listed = Vec::new();
    let mut token: Option<String> = None;
    while listed.len() < limit {
        let out = call("ListQueries", || {
            client
                .list_queries()
                .event_data_store(eds)
                .set_next_token(token.clone())
                .send()
        })
        .await?;
        for q in out.queries() {
            listed.push(PastQuery {
                id: q.query_id().unwrap_or_default().to_owned(),
                status: q
                    .query_status()
                    .map_or("UNKNOWN", QueryStatus::as_str)
                    .to_owned(),
                created: q
                    .creation_time()
                    .and_then(|t| chrono::DateTime::from_timestamp(t.secs(), 0))
                    .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string()),
                statement: None,
            });
        }
        token = out.next_token().map(str::to_owned);
        if token.is_none() {
            break;
        }
    }
    listed.truncate(limit);
    for q in &mut listed {
        q.statement = describe(client, &q.id).await?.statement;
    }
    Ok(listed)
}
