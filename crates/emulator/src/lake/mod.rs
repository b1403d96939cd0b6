//! CloudTrail Lake: event data stores and SQL queries over the emulator's events
//! [reference §2–4].
//!
//! A query is checked and planned when it is started (bad SQL, a statement that is not a
//! SELECT, or an unknown event data store in FROM is `InvalidQueryStatementException` at once),
//! then runs on DataFusion in the background. Its status goes QUEUED → RUNNING → FINISHED |
//! FAILED | TIMED_OUT (or CANCELLED) over configurable times, so clients really have to poll.
//! Results are kept as Lake renders them: every value a string.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use datafusion::common::TableReference;
use datafusion::datasource::MemTable;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::OnceCell;

use crate::faults::FaultKind;
use crate::server::{ApiError, Caller, State};
use crate::store::EventStore;
use crate::tokens::Sealer;
use trailq_lake_sql::dialect::{self, DialectError};
use trailq_lake_sql::lake_context;
use trailq_lake_sql::lake_values::render_batches;
use trailq_lake_sql::lowercase::{lowercase_batch, lowercase_schema};

mod list_queries;
mod stores;

pub use list_queries::list_queries;

use stores::store_not_found;
pub use stores::{EventDataStore, default_store, get_event_data_store, list_event_data_stores};

const MICROS_PER_DAY: i64 = 86_400_000_000;
/// Results and the query list are kept seven days [reference §2].
const KEPT_MICROS: i64 = 7 * MICROS_PER_DAY;
const MAX_PAGE_ROWS: i64 = 1000;
const MESSAGE_EXHAUSTED: &str = "Query exhausted resources at this scale factor";

/// How long queries take to move through their states.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LakeTiming {
    /// Time in QUEUED after StartQuery.
    pub queued: Duration,
    /// Least time in RUNNING (a query that takes longer to compute stays RUNNING longer).
    pub running: Duration,
    /// A query still computing after this ends TIMED_OUT (Lake: one hour).
    pub timeout: Duration,
}

impl Default for LakeTiming {
    fn default() -> Self {
        LakeTiming {
            queued: Duration::from_millis(300),
            running: Duration::from_millis(700),
            timeout: Duration::from_secs(3600),
        }
    }
}

#[derive(Debug)]
enum Outcome {
    Computing,
    Finished(Arc<Results>),
    Failed(String),
    TimedOut(String),
    Cancelled,
}

/// A finished query's rows, every value rendered as Lake renders it (`None`: SQL NULL).
#[derive(Debug)]
pub struct Results {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Option<String>>>,
    pub execution_millis: u64,
}

#[derive(Debug)]
struct Query {
    id: String,
    account: String,
    statement: String,
    created: Instant,
    created_micros: i64,
    outcome: Outcome,
    task: Option<tokio::task::AbortHandle>,
}

pub struct Lake {
    timing: LakeTiming,
    stores: Vec<EventDataStore>,
    owner: String,
    /// The events as one table, built on the first query.
    table: OnceCell<Arc<MemTable>>,
    queries: Mutex<Vec<Query>>,
}

impl Lake {
    pub fn new(timing: LakeTiming, stores: Vec<EventDataStore>, owner: String) -> Self {
        Lake {
            timing,
            stores,
            owner,
            table: OnceCell::new(),
            queries: Mutex::new(Vec::new()),
        }
    }

    pub fn stores(&self) -> &[EventDataStore] {
        &self.stores
    }

    /// The store a request names by ARN or ID.
    fn store(&self, name: &str) -> Option<&EventDataStore> {
        self.stores.iter().find(|s| s.id == name || s.arn == name)
    }

    async fn table(&self, store: &EventStore) -> Result<Arc<MemTable>, ApiError> {
        self.table
            .get_or_try_init(|| async {
                let batches = store
                    .record_batches()
                    .map_err(|e| ApiError::internal(format!("building the Lake table: {e}")))?
                    .iter()
                    .map(lowercase_batch)
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| ApiError::internal(format!("building the Lake table: {e}")))?;
                let schema = lowercase_schema(&trailq_events::schema::event_schema());
                // Two partitions: both cores scan.
                let mut parts = vec![Vec::new(), Vec::new()];
                for (i, b) in batches.into_iter().enumerate() {
                    parts[i % 2].push(b);
                }
                MemTable::try_new(schema, parts)
                    .map(Arc::new)
                    .map_err(|e| ApiError::internal(format!("building the Lake table: {e}")))
            })
            .await
            .cloned()
    }

    fn status(&self, q: &Query, now: Instant) -> &'static str {
        let age = now.duration_since(q.created);
        match &q.outcome {
            Outcome::Cancelled => "CANCELLED",
            _ if age < self.timing.queued => "QUEUED",
            Outcome::Computing => "RUNNING",
            _ if age < self.timing.queued + self.timing.running => "RUNNING",
            Outcome::Finished(_) => "FINISHED",
            Outcome::Failed(_) => "FAILED",
            Outcome::TimedOut(_) => "TIMED_OUT",
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Query>> {
        self.queries.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn client(code: &'static str, message: impl Into<String>) -> ApiError {
    ApiError::client(code, message)
}

fn parse<T: for<'de> Deserialize<'de>>(op: &str, body: Value) -> Result<T, ApiError> {
    serde_json::from_value(body).map_err(|e| ApiError::serialization(format!("{op}: {e}")))
}

fn query_not_found(id: &str) -> ApiError {
    client(
        "QueryIdNotFoundException",
        format!(
            "query `{id}` does not exist in this account and Region, or its results are older than 7 days"
        ),
    )
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct StartQueryRequest {
    query_statement: Option<String>,
    query_alias: Option<String>,
    delivery_s3_uri: Option<String>,
}

pub async fn start_query(
    state: &Arc<State>,
    caller: &Caller,
    body: Value,
    fault: Option<&FaultKind>,
) -> Result<Value, ApiError> {
    let request: StartQueryRequest = parse("StartQuery", body)?;
    let lake = &state.lake;
    if request.query_alias.is_some() {
        return Err(client(
            "InvalidParameterException",
            "QueryAlias runs dashboard queries, which this emulator does not have: send QueryStatement",
        ));
    }
    if request.delivery_s3_uri.is_some() {
        return Err(client(
            "InvalidParameterException",
            "DeliveryS3Uri: this emulator has no S3; read results with GetQueryResults",
        ));
    }
    let Some(statement) = request.query_statement else {
        return Err(client(
            "InvalidParameterException",
            "QueryStatement is required",
        ));
    };
    let now = Instant::now();
    if let Some(limit) = state.limiter.limits().concurrent_queries {
        let active = lake
            .lock()
            .iter()
            .filter(|q| q.account == caller.account)
            .filter(|q| matches!(lake.status(q, now), "QUEUED" | "RUNNING"))
            .count();
        if active >= limit {
            return Err(client(
                "MaxConcurrentQueriesException",
                format!(
                    "You are already running the maximum number of concurrent queries ({limit}). Wait a minute for some queries to finish and then run the query again."
                ),
            ));
        }
    }
    let prepared = dialect::prepare(&statement, |name| lake.store(name).map(|s| s.id.clone()))
        .map_err(invalid_statement)?;
    let table = lake.table(&state.store).await?;
    let now_micros = state.clock.now_micros();
    let ctx = lake_context(now_micros);
    for name in &prepared.tables {
        ctx.register_table(TableReference::bare(name.as_str()), Arc::clone(&table) as _)
            .map_err(|e| ApiError::internal(e.to_string()))?;
    }
    let frame = ctx
        .sql(&prepared.sql)
        .await
        .map_err(|e| invalid_statement_text(&e.to_string()))?;

    let id = state.new_uuid();
    let fail = matches!(fault, Some(FaultKind::QueryFail));
    let timeout = lake.timing.timeout;
    let names = prepared.column_names.clone();
    let run = {
        let state = Arc::clone(state);
        let id = id.clone();
        async move {
            let started = Instant::now();
            let outcome = if fail {
                Outcome::Failed(MESSAGE_EXHAUSTED.to_owned())
            } else {
                match tokio::time::timeout(timeout, frame.collect()).await {
                    Err(_) => {
                        Outcome::TimedOut(format!("Query timed out after {} s", timeout.as_secs()))
                    }
                    Ok(Err(e)) => Outcome::Failed(engine_message(&e.to_string())),
                    Ok(Ok(batches)) => match render_batches(&batches, names.as_deref()) {
                        Ok((columns, rows)) => Outcome::Finished(Arc::new(Results {
                            columns,
                            rows,
                            execution_millis: started.elapsed().as_millis() as u64,
                        })),
                        Err(e) => Outcome::Failed(e),
                    },
                }
            };
            let mut queries = state.lake.lock();
            if let Some(q) = queries.iter_mut().find(|q| q.id == id)
                && matches!(q.outcome, Outcome::Computing)
            {
                q.outcome = outcome;
            }
        }
    };
    // The query is listed before it runs, so a fast result always finds it. Its clock starts
    // now: building the table on the first query must not eat its QUEUED time.
    lake.lock().push(Query {
        id: id.clone(),
        account: caller.account.clone(),
        statement,
        created: Instant::now(),
        created_micros: state.clock.now_micros(),
        outcome: Outcome::Computing,
        task: None,
    });
    let task = tokio::spawn(run).abort_handle();
    if let Some(q) = lake.lock().iter_mut().find(|q| q.id == id) {
        q.task = Some(task);
    }
    Ok(json!({ "QueryId": id, "EventDataStoreOwnerAccountId": lake.owner }))
}

fn invalid_statement(e: DialectError) -> ApiError {
    client("InvalidQueryStatementException", e.to_string())
}

fn invalid_statement_text(engine: &str) -> ApiError {
    client("InvalidQueryStatementException", engine_message(engine))
}

/// DataFusion's message without its internal prefixes, naming columns as the user wrote them.
fn engine_message(engine: &str) -> String {
    let text = engine
        .trim_start_matches("Error during planning: ")
        .trim_start_matches("Schema error: ")
        .trim_start_matches("SQL error: ");
    if let Some(rest) = text.strip_prefix("table '")
        && let Some((table, _)) = rest.split_once("' not found")
    {
        let name = table.rsplit('.').next().unwrap_or(table);
        return format!(
            "`{name}` in FROM is not an event data store: use the ID of an event data store (ListEventDataStores lists them)"
        );
    }
    text.to_owned()
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct QueryIdRequest {
    query_id: Option<String>,
    next_token: Option<String>,
    max_query_results: Option<i64>,
}

fn with_query<T>(
    state: &State,
    caller: &Caller,
    id: Option<&str>,
    f: impl FnOnce(&mut Query, &'static str) -> Result<T, ApiError>,
) -> Result<T, ApiError> {
    let Some(id) = id else {
        return Err(client("InvalidParameterException", "QueryId is required"));
    };
    let now_micros = state.clock.now_micros();
    let lake = &state.lake;
    let mut queries = lake.lock();
    let q = queries
        .iter_mut()
        .find(|q| q.id == id && q.account == caller.account)
        .filter(|q| now_micros - q.created_micros <= KEPT_MICROS)
        .ok_or_else(|| query_not_found(id))?;
    let status = lake.status(q, Instant::now());
    f(q, status)
}

fn error_message(q: &Query) -> Option<&str> {
    match &q.outcome {
        Outcome::Failed(m) | Outcome::TimedOut(m) => Some(m),
        _ => None,
    }
}

pub fn describe_query(state: &State, caller: &Caller, body: Value) -> Result<Value, ApiError> {
    let request: QueryIdRequest = parse("DescribeQuery", body)?;
    let scanned = state.store.len();
    let bytes = state.store.json_bytes();
    with_query(state, caller, request.query_id.as_deref(), |q, status| {
        let (matched, millis) = match (&q.outcome, status) {
            (Outcome::Finished(r), "FINISHED") => (r.rows.len(), r.execution_millis),
            _ => (0, q.created.elapsed().as_millis() as u64),
        };
        let done = matches!(status, "FINISHED" | "FAILED" | "TIMED_OUT");
        let mut out = json!({
            "QueryId": q.id,
            "QueryString": q.statement,
            "QueryStatus": status,
            "QueryStatistics": {
                "EventsMatched": matched,
                "EventsScanned": if done { scanned } else { 0 },
                "BytesScanned": if done { bytes } else { 0 },
                "ExecutionTimeInMillis": millis,
                "CreationTime": q.created_micros as f64 / 1e6,
            },
        });
        if let (Some(m), true) = (error_message(q), done) {
            out["ErrorMessage"] = json!(m);
        }
        Ok(out)
    })
}

pub fn get_query_results(state: &State, caller: &Caller, body: Value) -> Result<Value, ApiError> {
    let request: QueryIdRequest = parse("GetQueryResults", body)?;
    let page = match request.max_query_results {
        None => MAX_PAGE_ROWS as usize,
        Some(n @ 1..=MAX_PAGE_ROWS) => n as usize,
        Some(n) => {
            return Err(client(
                "InvalidMaxResultsException",
                format!("MaxQueryResults is {n}; it must be between 1 and 1000"),
            ));
        }
    };
    let bytes = state.store.json_bytes();
    with_query(state, caller, request.query_id.as_deref(), |q, status| {
        let offset = match request.next_token.as_deref() {
            None => 0,
            Some(token) => state.open_offset_token(token, &q.id)?,
        };
        let mut out = json!({ "QueryStatus": status });
        let results = match (&q.outcome, status) {
            (Outcome::Finished(r), "FINISHED") => Arc::clone(r),
            _ => {
                out["QueryResultRows"] = json!([]);
                out["QueryStatistics"] =
                    json!({"ResultsCount": 0, "TotalResultsCount": 0, "BytesScanned": 0});
                if let (Some(m), "FAILED" | "TIMED_OUT") = (error_message(q), status) {
                    out["ErrorMessage"] = json!(m);
                }
                return Ok(out);
            }
        };
        let end = (offset + page).min(results.rows.len());
        let rows: Vec<Value> = results.rows[offset.min(end)..end]
            .iter()
            .map(|row| {
                // A row is a list of one-entry maps in SELECT order. A SQL NULL is sent as an
                // empty map (UNCONFIRMED how Lake sends it): the model's maps are dense, so the
                // Rust SDK refuses a JSON null value ("dense map cannot contain null values"),
                // and dropping the map would shift the columns after it.
                Value::Array(
                    results
                        .columns
                        .iter()
                        .zip(row)
                        .map(|(c, v)| match v {
                            Some(v) => json!({ c.as_str(): v }),
                            None => json!({}),
                        })
                        .collect(),
                )
            })
            .collect();
        out["QueryStatistics"] = json!({
            "ResultsCount": rows.len(),
            "TotalResultsCount": results.rows.len(),
            "BytesScanned": bytes,
        });
        out["QueryResultRows"] = Value::Array(rows);
        if end < results.rows.len() {
            out["NextToken"] = json!(state.offset_token(&q.id, end));
        }
        Ok(out)
    })
}

pub fn cancel_query(state: &State, caller: &Caller, body: Value) -> Result<Value, ApiError> {
    let request: QueryIdRequest = parse("CancelQuery", body)?;
    let owner = state.lake.owner.clone();
    with_query(state, caller, request.query_id.as_deref(), |q, status| {
        if !matches!(status, "QUEUED" | "RUNNING") {
            return Err(client(
                "InactiveQueryException",
                format!(
                    "query `{}` is {status}: only QUEUED or RUNNING queries can be cancelled",
                    q.id
                ),
            ));
        }
        q.outcome = Outcome::Cancelled;
        if let Some(task) = q.task.take() {
            task.abort();
        }
        Ok(
            json!({ "QueryId": q.id, "QueryStatus": "CANCELLED", "EventDataStoreOwnerAccountId": owner }),
        )
    })
}

/// An offset into one of Lake's paged lists, bound to that list (`key`).
pub fn seal_offset(sealer: &Sealer, key: &str, offset: usize) -> String {
    sealer.seal(&format!("{key}|{offset}"))
}

pub fn open_offset(sealer: &Sealer, key: &str, token: &str) -> Result<usize, ApiError> {
    let bad = || {
        client(
            "InvalidNextTokenException",
            "NextToken is not valid for this request: pass the token the previous page returned, with the same parameters",
        )
    };
    let payload = sealer.open(token).ok_or_else(bad)?;
    match payload.rsplit_once('|') {
        Some((k, offset)) if k == key => offset.parse().map_err(|_| bad()),
        _ => Err(bad()),
    }
}
