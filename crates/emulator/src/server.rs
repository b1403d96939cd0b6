//! The emulator's HTTP side: CloudTrail's JSON 1.1 protocol on loopback [reference §0].
//!
//! `POST /` with `Content-Type: application/x-amz-json-1.1`; the operation is the text after the
//! last `.` of `X-Amz-Target` (the Rust SDK sends `CloudTrail_20131101.Op`, botocore
//! `com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.Op`). The caller's account comes
//! from the access key in the SigV4 `Authorization` header, its region from the credential
//! scope; signatures are not checked (the emulator knows no secrets). Errors are HTTP 400 with
//! `{"__type", "message"}`, server faults 5xx. Each request passes, in order: authentication,
//! the rate limit, injected faults, then the operation.
//!
//! `GET /_trailq/stats` and `GET /_trailq/ground-truth` are the emulator's own: what it measured
//! and what it holds, for tests of pipelines built on it.

use std::collections::{HashMap, HashSet};
use std::convert::Infallible;
use std::io;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use bytes::Bytes;
use fastrand::Rng;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, Limited, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::header::{CONTENT_LENGTH, CONTENT_TYPE, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::faults::{FaultKind, Faults};
use crate::lake::{self, Lake};
use crate::limits::RateLimiter;
use crate::lookup::{self, Tokens};
use crate::org::{Org, Xml};
use crate::store::EventStore;

const JSON_1_1: &str = "application/x-amz-json-1.1";
/// Requests are small (a Lake statement is at most 10,000 characters).
const MAX_BODY: usize = 1 << 20;

/// The emulator's clock: `start_micros` when it started, then real time.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    started: Instant,
    start_micros: i64,
}

impl Clock {
    pub fn new(start_micros: i64) -> Self {
        Clock {
            started: Instant::now(),
            start_micros,
        }
    }

    pub fn now_micros(&self) -> i64 {
        self.start_micros + self.started.elapsed().as_micros() as i64
    }
}

/// What an access key may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyAccess {
    /// The key belongs to this account.
    Account(String),
    /// The key is refused every CloudTrail action (`AccessDeniedException`).
    Deny,
}

/// Who may call, as whom.
#[derive(Debug, Clone, Default)]
pub struct Access {
    pub keys: HashMap<String, KeyAccess>,
    pub default_account: String,
    /// (account, region) pairs whose region is not enabled for the account.
    pub disabled_regions: HashSet<(String, String)>,
}

/// The caller of one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub account: String,
    pub region: String,
    pub access_key: String,
}

/// An error as CloudTrail answers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: u16,
    pub code: &'static str,
    pub message: String,
}

impl ApiError {
    pub fn client(code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status: 400,
            code,
            message: message.into(),
        }
    }

    pub fn serialization(message: impl Into<String>) -> Self {
        ApiError::client("SerializationException", message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        ApiError {
            status: 500,
            code: "InternalFailure",
            message: message.into(),
        }
    }

    fn throttled() -> Self {
        ApiError::client("ThrottlingException", "Rate exceeded")
    }
}

/// Everything the emulator holds, shared by all connections.
pub struct State {
    pub clock: Clock,
    pub store: EventStore,
    pub lake: Lake,
    pub limiter: RateLimiter,
    pub faults: Faults,
    pub tokens: Tokens,
    pub access: Access,
    /// With `--org`: Organizations, STS and Account on the same port.
    pub org: Option<Org>,
    ids: Mutex<Rng>,
}

impl State {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        clock: Clock,
        store: EventStore,
        lake: Lake,
        limiter: RateLimiter,
        faults: Faults,
        tokens: Tokens,
        access: Access,
        seed: u64,
    ) -> Self {
        State {
            clock,
            store,
            lake,
            limiter,
            faults,
            tokens,
            access,
            org: None,
            ids: Mutex::new(Rng::with_seed(seed ^ 0x0071_7565_7279)),
        }
    }

    /// A fresh UUID (query IDs: botocore insists on 36 characters).
    pub fn new_uuid(&self) -> String {
        crate::generate::uuid(&mut self.ids.lock().unwrap_or_else(|e| e.into_inner()))
    }

    pub fn offset_token(&self, key: &str, offset: usize) -> String {
        lake::seal_offset(self.tokens.sealer(), key, offset)
    }

    pub fn open_offset_token(&self, token: &str, key: &str) -> Result<usize, ApiError> {
        lake::open_offset(self.tokens.sealer(), key, token)
    }
}

type Body = BoxBody<Bytes, io::Error>;

/// How long the accept loop waits after an accept failed for lack of resources.
const ACCEPT_BACKOFF: std::time::Duration = std::time::Duration::from_millis(50);

/// Serves until `shutdown` changes.
pub async fn serve(listener: TcpListener, state: Arc<State>, mut shutdown: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let stream = match accepted {
                    Ok((stream, _)) => stream,
                    // That one connection's problem.
                    Err(e) if matches!(
                        e.kind(),
                        io::ErrorKind::ConnectionAborted | io::ErrorKind::ConnectionReset
                    ) => continue,
                    // Out of file descriptors or memory: the connection stays queued, so the next
                    // accept fails at once too, a busy loop at full CPU. Give open connections
                    // time to close.
                    Err(_) => {
                        tokio::select! {
                            _ = tokio::time::sleep(ACCEPT_BACKOFF) => continue,
                            _ = shutdown.changed() => break,
                        }
                    }
                };
                // Responses are small: without this each one waits for a delayed ACK.
                let _ = stream.set_nodelay(true);
                let state = Arc::clone(&state);
                tokio::spawn(async move {
                    let service = service_fn(move |req| handle(Arc::clone(&state), req));
                    // A client that goes away mid-request is its own business.
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
            _ = shutdown.changed() => break,
        }
    }
}

async fn handle(state: Arc<State>, req: Request<Incoming>) -> Result<Response<Body>, Infallible> {
    let (parts, body) = req.into_parts();
    let form = parts
        .headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("application/x-www-form-urlencoded"));
    Ok(match (&parts.method, parts.uri.path()) {
        // STS speaks the query protocol: a form, answered in XML.
        (&Method::POST, "/") if form => sts(&state, &parts, body).await,
        (&Method::POST, "/listRegions") => match list_regions(&state, &parts, body).await {
            Ok(value) => plain(
                200,
                "application/json",
                serde_json::to_string(&value).unwrap_or_default(),
            ),
            Err(e) => error_response(&e),
        },
        (&Method::POST, "/") => {
            let (response, reset) = match api(&state, &parts, body).await {
                Ok((value, reset)) => (respond(200, &value), reset),
                Err(e) => (error_response(&e), false),
            };
            if reset {
                cut_short(response).await
            } else {
                response
            }
        }
        (&Method::GET, "/_trailq/stats") => respond(
            200,
            &json!({
                "events": state.store.len(),
                "rates": state.limiter.report(),
            }),
        ),
        (&Method::GET, "/_trailq/ground-truth") => plain(
            200,
            "application/x-ndjson",
            state.store.ground_truth_jsonl(),
        ),
        (&Method::GET, "/") => plain(
            200,
            "text/plain",
            "trailq CloudTrail emulator: POST CloudTrail JSON 1.1 requests here\n".into(),
        ),
        _ => plain(404, "text/plain", "not found\n".into()),
    })
}

/// Handles one API request; the flag asks for the connection to be reset mid-response.
async fn api(
    state: &Arc<State>,
    parts: &hyper::http::request::Parts,
    body: Incoming,
) -> Result<(Value, bool), ApiError> {
    let header = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok());
    let target = header("x-amz-target").ok_or_else(|| {
        ApiError::client(
            "UnknownOperationException",
            "X-Amz-Target is missing: it names the operation, e.g. CloudTrail_20131101.LookupEvents",
        )
    })?;
    let operation = target.rsplit('.').next().unwrap_or(target).to_owned();
    if !header("content-type").is_some_and(|t| t.starts_with(JSON_1_1)) {
        return Err(ApiError::serialization(format!(
            "Content-Type must be {JSON_1_1}"
        )));
    }
    let caller = authenticate(state, header("authorization"), &operation)?;
    let bytes = read_body(body).await?;
    let request: Value = if bytes.iter().all(u8::is_ascii_whitespace) {
        json!({})
    } else {
        serde_json::from_slice(&bytes)
            .map_err(|e| ApiError::serialization(format!("the request body is not JSON: {e}")))?
    };
    if !request.is_object() {
        return Err(ApiError::serialization(
            "the request body must be a JSON object",
        ));
    }
    if target.starts_with("AWSOrganizationsV20161128.") {
        let org = organization(state)?;
        return match operation.as_str() {
            "ListAccounts" => Ok((org.list_accounts(&caller, &request)?, false)),
            other => Err(ApiError::client(
                "UnknownOperationException",
                format!(
                    "the trailq emulator implements Organizations' ListAccounts, not `{other}`"
                ),
            )),
        };
    }
    if !OPERATIONS.contains(&operation.as_str()) {
        return Err(ApiError::client(
            "UnknownOperationException",
            format!(
                "the trailq emulator does not implement `{operation}`; it implements {}",
                OPERATIONS.join(", ")
            ),
        ));
    }
    let (account, region) = (&caller.account, &caller.region);
    if !state.limiter.admit(account, region, &operation) {
        return Err(ApiError::throttled());
    }
    let has_token = request.get("NextToken").is_some_and(|t| !t.is_null());
    let fault = state.faults.decide(account, region, &operation, has_token);
    if fault.is_some() {
        state.limiter.note_fault(account, region, &operation);
    }
    let mut reset = false;
    match &fault {
        Some(FaultKind::Throttle(_)) => return Err(ApiError::throttled()),
        Some(FaultKind::Status(500)) => {
            return Err(ApiError::internal("An internal error occurred (injected)"));
        }
        Some(FaultKind::Status(status)) => {
            return Err(ApiError {
                status: *status,
                code: "ServiceUnavailableException",
                message: "Service is unavailable, try again later (injected)".into(),
            });
        }
        Some(FaultKind::ExpiredToken) => return Err(lookup::expired()),
        Some(FaultKind::Slow(delay)) => tokio::time::sleep(*delay).await,
        Some(FaultKind::Reset) => reset = true,
        _ => {}
    }
    let value = match operation.as_str() {
        "LookupEvents" => lookup::lookup_events(state, &caller, request),
        "StartQuery" => lake::start_query(state, &caller, request, fault.as_ref()).await,
        "DescribeQuery" => lake::describe_query(state, &caller, request),
        "GetQueryResults" => lake::get_query_results(state, &caller, request),
        "CancelQuery" => lake::cancel_query(state, &caller, request),
        "ListQueries" => lake::list_queries(state, &caller, request),
        "ListEventDataStores" => lake::list_event_data_stores(state, request),
        "GetEventDataStore" => lake::get_event_data_store(state, request),
        _ => unreachable!("checked against OPERATIONS"),
    }?;
    Ok((value, reset))
}

async fn read_body(body: Incoming) -> Result<Bytes, ApiError> {
    Ok(Limited::new(body, MAX_BODY)
        .collect()
        .await
        .map_err(|e| ApiError::serialization(format!("cannot read the request body: {e}")))?
        .to_bytes())
}

fn organization(state: &State) -> Result<&Org, ApiError> {
    state.org.as_ref().ok_or_else(|| {
        ApiError::client(
            "AWSOrganizationsNotInUseException",
            "this emulator is not an organization: start it with --org",
        )
    })
}

/// STS (`Action=AssumeRole`), in the query protocol.
async fn sts(state: &State, parts: &hyper::http::request::Parts, body: Incoming) -> Response<Body> {
    let answer = async {
        let caller = authenticate(state, authorization(parts), "AssumeRole")?;
        let bytes = read_body(body).await?;
        let form: HashMap<String, String> = form_urlencoded::parse(&bytes).into_owned().collect();
        let org = organization(state)?;
        match form.get("Action").map(String::as_str) {
            Some("AssumeRole") => {
                Ok(org.assume_role(&caller, &form, state.clock.now_micros(), &state.new_uuid()))
            }
            Some("GetCallerIdentity") => Ok(org.caller_identity(&caller, &state.new_uuid())),
            other => Err(ApiError::client(
                "InvalidAction",
                format!(
                    "the trailq emulator implements STS AssumeRole and GetCallerIdentity, not {other:?}"
                ),
            )),
        }
    }
    .await;
    let xml = answer.unwrap_or_else(|e| Xml::error(e.status, e.code, &e.message, "0"));
    plain(xml.status, "text/xml", xml.body)
}

fn authorization(parts: &hyper::http::request::Parts) -> Option<&str> {
    parts
        .headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
}

/// Account `ListRegions` (REST-JSON).
async fn list_regions(
    state: &State,
    parts: &hyper::http::request::Parts,
    body: Incoming,
) -> Result<Value, ApiError> {
    let caller = authenticate(state, authorization(parts), "ListRegions")?;
    let bytes = read_body(body).await?;
    let request: Value = serde_json::from_slice(&bytes).unwrap_or_else(|_| json!({}));
    Ok(organization(state)?.list_regions(&caller, &request))
}

const OPERATIONS: [&str; 8] = [
    "LookupEvents",
    "StartQuery",
    "DescribeQuery",
    "GetQueryResults",
    "CancelQuery",
    "ListQueries",
    "ListEventDataStores",
    "GetEventDataStore",
];

/// The caller from `Authorization: AWS4-HMAC-SHA256 Credential=KEY/DATE/REGION/SERVICE/aws4_request, …`.
fn authenticate(
    state: &State,
    authorization: Option<&str>,
    operation: &str,
) -> Result<Caller, ApiError> {
    let missing = || {
        ApiError::client(
            "MissingAuthenticationTokenException",
            "Request is missing Authentication Token: sign requests with SigV4 (any access key works on the emulator)",
        )
    };
    let credential = authorization
        .and_then(|a| a.split("Credential=").nth(1))
        .map(|c| c.split([',', ' ']).next().unwrap_or(c))
        .ok_or_else(missing)?;
    let scope: Vec<&str> = credential.split('/').collect();
    let [key, _date, region, _service, _] = scope[..] else {
        return Err(ApiError::client(
            "IncompleteSignatureException",
            format!("Credential `{credential}` must be KEY/DATE/REGION/SERVICE/aws4_request"),
        ));
    };
    let temporary = state
        .org
        .as_ref()
        .and_then(|org| org.temporary(key, state.clock.now_micros()));
    let account = match state.access.keys.get(key) {
        _ if temporary.is_some() => temporary.expect("checked")?,
        Some(KeyAccess::Account(account)) => account.clone(),
        Some(KeyAccess::Deny) => {
            let account = &state.access.default_account;
            return Err(ApiError::client(
                "AccessDeniedException",
                format!(
                    "User: arn:aws:iam::{account}:user/denied is not authorized to perform: cloudtrail:{operation} because no identity-based policy allows the cloudtrail:{operation} action"
                ),
            ));
        }
        None => state.access.default_account.clone(),
    };
    if state
        .access
        .disabled_regions
        .contains(&(account.clone(), region.to_owned()))
    {
        // What AWS answers for a Region that is not enabled for the account.
        return Err(ApiError::client(
            "UnrecognizedClientException",
            "The security token included in the request is invalid.",
        ));
    }
    Ok(Caller {
        account,
        region: region.to_owned(),
        access_key: key.to_owned(),
    })
}

fn respond(status: u16, value: &Value) -> Response<Body> {
    let text = serde_json::to_string(value).unwrap_or_else(|_| "{}".into());
    plain(status, JSON_1_1, text)
}

fn error_response(e: &ApiError) -> Response<Body> {
    let mut response = respond(e.status, &json!({ "__type": e.code, "message": e.message }));
    if let Ok(v) = HeaderValue::from_str(e.code) {
        response.headers_mut().insert("x-amzn-errortype", v);
    }
    response
}

fn plain(status: u16, content_type: &'static str, text: String) -> Response<Body> {
    let length = text.len();
    let mut response = Response::new(
        Full::new(Bytes::from(text))
            .map_err(|never| match never {})
            .boxed(),
    );
    *response.status_mut() =
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(CONTENT_LENGTH, HeaderValue::from(length));
    response
}

/// The same response, but the connection breaks after half of the body.
async fn cut_short(response: Response<Body>) -> Response<Body> {
    let (parts, body) = response.into_parts();
    let bytes = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let half = bytes.slice(..bytes.len() / 2);
    let frames: Vec<Result<Frame<Bytes>, io::Error>> = vec![
        Ok(Frame::data(half)),
        Err(io::Error::new(
            io::ErrorKind::ConnectionReset,
            "connection reset (injected)",
        )),
    ];
    Response::from_parts(
        parts,
        StreamBody::new(futures::stream::iter(frames)).boxed(),
    )
}
