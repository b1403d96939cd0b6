//! S3: trail files read straight from a bucket (and, later, datasets kept in one).
//!
//! The client is `object_store`'s, at the version DataFusion reads object stores with, signed
//! with the AWS SDK's credentials: the same chain as every other call trailq makes (profiles,
//! SSO, environment, roles), cached until shortly before they expire. The endpoint is the
//! standard `AWS_ENDPOINT_URL_S3`, else `AWS_ENDPOINT_URL` (environment or profile); a custom
//! endpoint (moto, MinIO, LocalStack) is addressed path-style, AWS itself virtual-hosted in the
//! bucket's own Region (asked once). object_store retries throttling (503 SlowDown), server
//! errors, resets and bodies cut short (resumed with a Range request) with backoff; every HTTP
//! attempt goes through [`Requests`], so a run can say what it cost.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use object_store::aws::{AmazonS3, AmazonS3Builder, AwsCredential};
use object_store::client::{
    HttpClient, HttpConnector, HttpError, HttpErrorKind, HttpRequest, HttpResponse, HttpService,
    ReqwestConnector,
};
use object_store::{BackoffConfig, ClientOptions, CredentialProvider, RetryConfig};

/// Credentials are fetched again this long before they expire.
const RENEW_BEFORE: Duration = Duration::from_secs(300);

/// How long one S3 call may go without an answer before it is given up: 300 s, or
/// `TRAILQ_S3_STALL_SECONDS`. object_store bounds each HTTP attempt (30 s) and its retries
/// (180 s); this bounds what lies outside them (the credential chain: SSO, a credential
/// process…), so that no S3 call a run makes can keep it waiting forever.
pub fn stall_limit() -> Duration {
    static LIMIT: std::sync::OnceLock<Duration> = std::sync::OnceLock::new();
    *LIMIT.get_or_init(|| {
        let seconds = std::env::var("TRAILQ_S3_STALL_SECONDS")
            .ok()
            .and_then(|v| v.parse::<f64>().ok())
            .filter(|s| s.is_finite() && *s > 0.0)
            .unwrap_or(300.0);
        Duration::from_secs_f64(seconds)
    })
}

/// `call`'s answer, or [`Failure::Stalled`] once it has gone [`stall_limit`] without one.
pub async fn answered<T>(
    call: impl Future<Output = object_store::Result<T>>,
) -> Result<T, Failure> {
    let limit = stall_limit();
    match tokio::time::timeout(limit, call).await {
        Ok(answer) => answer.map_err(|e| Failure::of(&e)),
        Err(_) => Err(Failure::Stalled(limit)),
    }
}

/// `s3://BUCKET/PREFIX`: a bucket and a key prefix (empty, or ending in `/`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Url {
    pub bucket: String,
    pub prefix: String,
}

impl S3Url {
    /// `None` when `text` is no `s3://` URL at all; an error when it is a bad one.
    pub fn parse(text: &str) -> Option<Result<S3Url, String>> {
        let rest = text.strip_prefix("s3://")?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        let valid = (3..=63).contains(&bucket.len())
            && bucket
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-');
        if !valid {
            return Some(Err(format!(
                "`{text}`: `{bucket}` is not an S3 bucket name (3 to 63 lowercase letters, digits, `.` and `-`); write s3://BUCKET[/PREFIX]"
            )));
        }
        let prefix = prefix.trim_matches('/');
        Some(Ok(S3Url {
            bucket: bucket.to_owned(),
            prefix: if prefix.is_empty() {
                String::new()
            } else {
                format!("{prefix}/")
            },
        }))
    }

    /// The URL of `key` in the same bucket.
    pub fn key_url(&self, key: &str) -> String {
        key_url(&self.bucket, key)
    }
}

impl fmt::Display for S3Url {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "s3://{}/{}", self.bucket, self.prefix)
    }
}

/// HTTP attempts made to S3, by kind, and those that failed (and were retried or reported).
#[derive(Debug, Default)]
pub struct Requests {
    pub lists: AtomicU64,
    pub gets: AtomicU64,
    pub puts: AtomicU64,
    pub other: AtomicU64,
    /// Answers 429/5xx (SlowDown, InternalError…) and connections that failed.
    pub failed: AtomicU64,
}

/// One bucket, ready for requests.
#[derive(Debug, Clone)]
pub struct Bucket {
    pub name: String,
    pub store: Arc<AmazonS3>,
    pub requests: Arc<Requests>,
}

/// Connects to `bucket` with the credentials, Region and endpoint of `config`.
pub async fn open(config: &aws_config::SdkConfig, bucket: &str) -> Result<Bucket, String> {
    let provider = config.credentials_provider().ok_or_else(|| {
        format!("s3://{bucket}: no AWS credentials are configured (`aws configure`, `aws sso login`, or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY)")
    })?;
    let requests = Arc::new(Requests::default());
    let mut builder = AmazonS3Builder::new()
        .with_bucket_name(bucket)
        .with_credentials(Arc::new(SdkCredentials::new(provider)))
        .with_http_connector(Counting {
            requests: Arc::clone(&requests),
        })
        .with_retry(RetryConfig {
            backoff: BackoffConfig {
                init_backoff: Duration::from_millis(100),
                max_backoff: Duration::from_secs(15),
                base: 2.0,
            },
            max_retries: 10,
            retry_timeout: Duration::from_secs(180),
        });
    let configured_region = config.region().map(|r| r.to_string());
    let endpoint = std::env::var("AWS_ENDPOINT_URL_S3")
        .ok()
        .filter(|u| !u.is_empty())
        .or_else(|| config.endpoint_url().map(str::to_owned));
    builder = match endpoint {
        Some(url) => builder
            .with_allow_http(url.starts_with("http://"))
            .with_endpoint(url)
            .with_virtual_hosted_style_request(false)
            .with_region(configured_region.unwrap_or_else(|| "us-east-1".to_owned())),
        None => {
            // A bucket answers only in its own Region; AWS says which on an unsigned HEAD.
            let region =
                match object_store::aws::resolve_bucket_region(bucket, &ClientOptions::new()).await
                {
                    Ok(region) => region,
                    Err(_) => configured_region.unwrap_or_else(|| "us-east-1".to_owned()),
                };
            // Names with dots break TLS as host names: those go path-style.
            builder
                .with_region(region)
                .with_virtual_hosted_style_request(!bucket.contains('.'))
        }
    };
    let store = builder
        .build()
        .map_err(|e| format!("s3://{bucket}: {}", crate::one_line(&e.to_string())))?;
    Ok(Bucket {
        name: bucket.to_owned(),
        store: Arc::new(store),
        requests,
    })
}

/// What went wrong with an S3 request, as a user can act on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    NoSuchBucket,
    AccessDenied(String),
    NotFound,
    /// No answer within [`stall_limit`].
    Stalled(Duration),
    /// The server's TLS certificate was refused.
    Untrusted(String),
    Other(String),
}

impl Failure {
    pub fn of(e: &object_store::Error) -> Failure {
        let chain = crate::one_line(&crate::error_chain(e));
        // S3's own words when the answer carried them: `Code: Message`.
        let tag = |name: &str| {
            let open = format!("<{name}>");
            let start = chain.find(&open)? + open.len();
            let end = chain[start..].find(&format!("</{name}>"))? + start;
            Some(chain[start..end].to_owned())
        };
        let text = match (tag("Code"), tag("Message")) {
            (Some(code), Some(message)) => format!("{code}: {message}"),
            (Some(code), None) => code,
            _ => chain,
        };
        if crate::aws::certificate_rejected(e) {
            return Failure::Untrusted(text);
        }
        match e {
            object_store::Error::NotFound { .. } if text.contains("NoSuchBucket") => {
                Failure::NoSuchBucket
            }
            object_store::Error::NotFound { .. } => Failure::NotFound,
            _ if text.contains("NoSuchBucket") => Failure::NoSuchBucket,
            object_store::Error::PermissionDenied { .. }
            | object_store::Error::Unauthenticated { .. } => Failure::AccessDenied(text),
            _ if text.contains("AccessDenied") || text.contains("403 Forbidden") => {
                Failure::AccessDenied(text)
            }
            _ => Failure::Other(text),
        }
    }

    /// One line about `what` (an `s3://` URL) and what to do.
    pub fn describe(&self, what: &str) -> String {
        match self {
            Failure::NoSuchBucket => format!(
                "{what}: the bucket does not exist (NoSuchBucket); check its name, and the account and endpoint in use"
            ),
            Failure::AccessDenied(text) => format!(
                "{what}: access denied ({text}); the identity needs s3:ListBucket and s3:GetObject there, and kms:Decrypt when the objects are encrypted with a KMS key"
            ),
            Failure::NotFound => format!("{what}: not found (deleted since it was listed?)"),
            Failure::Untrusted(text) => format!("{what}: {text}. {}", crate::aws::UNTRUSTED),
            Failure::Stalled(limit) => format!(
                "{what}: no answer from S3 in {:.0} s; gave up waiting (has the endpoint or the network stopped answering?)",
                limit.as_secs_f64()
            ),
            Failure::Other(text) => format!("{what}: {text}"),
        }
    }
}

/// `s3://BUCKET/KEY`, as errors and summaries name objects and prefixes.
pub fn key_url(bucket: &str, key: &str) -> String {
    format!("s3://{bucket}/{key}")
}

/// The SDK's credential chain as object_store's provider, cached until near expiry.
#[derive(Debug)]
struct SdkCredentials {
    provider: SharedCredentialsProvider,
    /// Read by every request without waiting: a request never queues behind another for it.
    cached: std::sync::Mutex<Option<(Arc<AwsCredential>, Option<SystemTime>)>>,
    /// Held while the chain is asked (STS, SSO… can take a while), so that requests arriving
    /// meanwhile wait for that answer instead of each asking again.
    refreshing: tokio::sync::Mutex<()>,
}

impl SdkCredentials {
    fn new(provider: SharedCredentialsProvider) -> Self {
        SdkCredentials {
            provider,
            cached: std::sync::Mutex::new(None),
            refreshing: tokio::sync::Mutex::new(()),
        }
    }

    /// The cached credential, unless it expires within [`RENEW_BEFORE`].
    fn fresh(&self) -> Option<Arc<AwsCredential>> {
        let cached = self.cached.lock().unwrap_or_else(|e| e.into_inner());
        let (credential, expiry) = cached.as_ref()?;
        expiry
            .is_none_or(|e| e > SystemTime::now() + RENEW_BEFORE)
            .then(|| Arc::clone(credential))
    }
}

#[async_trait]
impl CredentialProvider for SdkCredentials {
    type Credential = AwsCredential;

    async fn get_credential(&self) -> object_store::Result<Arc<AwsCredential>> {
        if let Some(credential) = self.fresh() {
            return Ok(credential);
        }
        let _refreshing = self.refreshing.lock().await;
        if let Some(credential) = self.fresh() {
            return Ok(credential); // another request refreshed it while this one waited
        }
        let fresh = self.provider.provide_credentials().await.map_err(|e| {
            object_store::Error::Unauthenticated {
                path: String::new(),
                source: Box::new(e),
            }
        })?;
        let credential = Arc::new(AwsCredential {
            key_id: fresh.access_key_id().to_owned(),
            secret_key: fresh.secret_access_key().to_owned(),
            token: fresh.session_token().map(str::to_owned),
        });
        *self.cached.lock().unwrap_or_else(|e| e.into_inner()) =
            Some((Arc::clone(&credential), fresh.expiry()));
        Ok(credential)
    }
}

/// object_store's own HTTP client, every attempt counted.
#[derive(Debug)]
struct Counting {
    requests: Arc<Requests>,
}

impl HttpConnector for Counting {
    fn connect(&self, options: &ClientOptions) -> object_store::Result<HttpClient> {
        Ok(HttpClient::new(CountingService {
            inner: ReqwestConnector::default().connect(options)?,
            requests: Arc::clone(&self.requests),
        }))
    }
}

#[derive(Debug)]
struct CountingService {
    inner: HttpClient,
    requests: Arc<Requests>,
}

#[async_trait]
impl HttpService for CountingService {
    async fn call(&self, request: HttpRequest) -> Result<HttpResponse, HttpError> {
        let r = &self.requests;
        let method = request.method().as_str();
        let counter = if method == "GET"
            && request
                .uri()
                .query()
                .is_some_and(|q| q.contains("list-type=2"))
        {
            &r.lists
        } else if method == "GET" {
            &r.gets
        } else if method == "PUT" || method == "POST" {
            &r.puts
        } else {
            &r.other
        };
        counter.fetch_add(1, Relaxed);
        let answer = match self.inner.execute(request).await {
            // No retry changes a refused certificate: said at once, not after ten attempts.
            Err(e) if crate::aws::certificate_rejected(&e) => {
                Err(HttpError::new(HttpErrorKind::Unknown, e))
            }
            answer => answer,
        };
        let failed = match &answer {
            Ok(response) => {
                let status = response.status().as_u16();
                status == 429 || status >= 500
            }
            Err(_) => true,
        };
        if failed {
            r.failed.fetch_add(1, Relaxed);
        }
        answer
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s3_urls_are_a_bucket_and_a_prefix_ending_in_a_slash() {
        let parse = |t: &str| S3Url::parse(t).map(|r| r.map(|u| (u.bucket, u.prefix)));
        assert_eq!(parse("/tmp/x"), None);
        assert_eq!(
            parse("s3://my-trail"),
            Some(Ok(("my-trail".into(), String::new())))
        );
        assert_eq!(
            parse("s3://my-trail/"),
            Some(Ok(("my-trail".into(), String::new())))
        );
        assert_eq!(
            parse("s3://my-trail/org/AWSLogs//"),
            Some(Ok(("my-trail".into(), "org/AWSLogs/".into())))
        );
        let err = parse("s3://My_Bucket/x").unwrap().unwrap_err();
        assert!(err.contains("not an S3 bucket name"), "{err}");
        assert!(parse("s3://").unwrap().is_err());
    }
}
