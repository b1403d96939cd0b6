//! CloudTrail clients from the standard AWS configuration, and what an SDK error means for us.
//!
//! Configuration is the standard chain (profiles, SSO, environment, `AWS_ENDPOINT_URL`), with
//! `--profile` and `--endpoint-url` on top. The SDK's own retries are switched off explicitly:
//! every attempt must pass through our per-account-and-Region pacer and be counted, so retries
//! with backoff live in the sources (never rely on SDK defaults, DESIGN.md). Timeouts are set
//! explicitly too, so a hung connection becomes a retry instead of a stall.

use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_cloudtrail::Client;
use aws_sdk_cloudtrail::config::{ProvideCredentials, Region};
use aws_sdk_cloudtrail::error::{ProvideErrorMetadata, SdkError};
use aws_smithy_http_client::proxy::ProxyConfig;
use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
use aws_smithy_http_client::{Builder as HttpClientBuilder, ConnectorBuilder};
use aws_smithy_runtime_api::client::http::SharedHttpClient;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;

/// Connect and per-attempt limits: LookupEvents answers in well under a second.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(30);

/// One AWS identity: a profile of the shared configuration, or the default chain.
#[derive(Clone, Debug)]
pub struct Identity {
    /// `None`: the default chain (environment, `AWS_PROFILE`, instance role…).
    pub profile: Option<String>,
    pub config: aws_config::SdkConfig,
    /// The Regions enabled for its account, when asked (`export --org --all-regions`).
    pub regions: Option<Vec<String>>,
}

impl Identity {
    /// The name users know this identity by.
    pub fn label(&self) -> &str {
        self.profile.as_deref().unwrap_or("default")
    }

    /// The Region configured for this identity, if any.
    pub fn region(&self) -> Option<String> {
        self.config.region().map(|r| r.to_string())
    }

    /// A CloudTrail client for one Region.
    pub fn client(&self, region: &str) -> Client {
        let conf = aws_sdk_cloudtrail::config::Builder::from(&self.config)
            .region(Region::new(region.to_owned()))
            .build();
        Client::from_conf(conf)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AwsError {
    #[error(
        "no AWS credentials for {who}: {detail}. Configure them (`aws configure`, `aws sso login --profile …`, or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY), or pass --profile"
    )]
    NoCredentials { who: String, detail: String },
    #[error(
        "no AWS Region for {who}: pass --region, or set one in the profile (`aws configure set region us-east-1`) or AWS_REGION"
    )]
    NoRegion { who: String },
}

/// The SDK's default HTTPS client (hyper, rustls, the system's trusted roots, a proxy from
/// `HTTPS_PROXY`/`NO_PROXY`), with one difference: rustls's crypto is ring, not aws-lc. ring is
/// in the build anyway (object_store's S3 client uses it), and aws-lc's C library alone took
/// 52 s of a clean release build on 2 cores and 3.6 MB of the binary. The SDK has no other HTTP
/// client built in: an SDK configuration made without [`loader`] needs this one.
pub fn https_client() -> SharedHttpClient {
    HttpClientBuilder::new().build_with_connector_fn(|settings, components| {
        let mut connector =
            ConnectorBuilder::default().tls_provider(Provider::Rustls(CryptoMode::Ring));
        connector.set_connector_settings(settings.cloned());
        if let Some(components) = components {
            connector.set_sleep_impl(components.sleep_impl());
        }
        connector.set_proxy_config(Some(ProxyConfig::from_env()));
        connector.build()
    })
}

/// The standard configuration chain with our HTTPS client, retry (none: see the module doc) and
/// timeouts. Every client trailq makes (CloudTrail, STS, Organizations, Account, the credential
/// providers' own) derives from this configuration and so shares the HTTPS client.
fn loader() -> aws_config::ConfigLoader {
    aws_config::defaults(BehaviorVersion::latest())
        .http_client(https_client())
        .retry_config(RetryConfig::disabled())
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(CONNECT_TIMEOUT)
                .operation_attempt_timeout(ATTEMPT_TIMEOUT)
                .build(),
        )
}

/// Loads an identity's configuration and checks it has credentials, so that a missing login is
/// one clear line before anything starts.
pub async fn load(profile: Option<&str>, endpoint_url: Option<&str>) -> Result<Identity, AwsError> {
    let mut loader = loader();
    if let Some(p) = profile {
        loader = loader.profile_name(p);
    }
    if let Some(url) = endpoint_url {
        loader = loader.endpoint_url(url);
    }
    let config = loader.load().await;
    let who = match profile {
        Some(p) => format!("profile `{p}`"),
        None => "the default configuration".to_owned(),
    };
    let Some(provider) = config.credentials_provider() else {
        return Err(AwsError::NoCredentials {
            who,
            detail: "no credentials provider is configured".into(),
        });
    };
    if let Err(e) = provider.provide_credentials().await {
        // The SDK lists every provider it tried on a line of its own: one line here.
        let text = crate::error_chain(&e);
        let mut lines = text.lines().map(str::trim);
        let first = lines.next().unwrap_or_default();
        let tried = lines.collect::<Vec<_>>().join("; ");
        let detail = if tried.is_empty() {
            first.to_owned()
        } else {
            format!("{first} {tried}")
        };
        return Err(AwsError::NoCredentials { who, detail });
    }
    Ok(Identity {
        profile: profile.map(str::to_owned),
        config,
        regions: None,
    })
}

/// An identity with fixed keys and Region, for the demo's own emulator.
pub async fn static_identity(
    label: &str,
    access_key: &str,
    region: &str,
    endpoint_url: &str,
) -> Identity {
    let config = loader()
        .credentials_provider(aws_sdk_cloudtrail::config::Credentials::new(
            access_key,
            "demo",
            None,
            None,
            "trailq-demo",
        ))
        .region(Region::new(region.to_owned()))
        .endpoint_url(endpoint_url)
        .load()
        .await;
    Identity {
        profile: Some(label.to_owned()),
        config,
        regions: None,
    }
}

/// Exponential backoff with jitter: up to `base`, 2×`base`, 4×… capped at 10 s, never less than
/// a quarter of the cap (so retries do spread out).
pub fn backoff(attempt: u32, base: Duration) -> Duration {
    let base = base.as_millis() as u64;
    let cap = base.saturating_mul(1 << attempt.min(6)).min(10_000);
    Duration::from_millis(fastrand::u64(cap / 4..=cap))
}

/// What to do about a failed request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// `ThrottlingException` and friends: back off, and slow the pacer down.
    Throttled,
    /// 5xx, timeouts, resets, connection failures: back off and retry.
    Transient(String),
    /// The NextToken is no longer accepted: continue from what was already received.
    TokenRejected(String),
    /// The Region is not enabled for the account (or the credentials are not valid in it).
    RegionNotEnabled(String),
    /// Anything else: the request cannot succeed as is. `code: message`.
    Fatal(String),
}

const THROTTLING_CODES: [&str; 6] = [
    "ThrottlingException",
    "Throttling",
    "ThrottledException",
    "RequestLimitExceeded",
    "TooManyRequestsException",
    "RequestThrottled",
];

/// Classifies an SDK error.
pub fn classify<E>(error: &SdkError<E, HttpResponse>) -> Failure
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let text = || error_text(error);
    match error {
        SdkError::DispatchFailure(_) if certificate_rejected(error) => Failure::Fatal(text()),
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            Failure::Transient(text())
        }
        SdkError::ServiceError(service) => {
            let code = error.code().unwrap_or_default();
            let status = service.raw().status().as_u16();
            if THROTTLING_CODES.contains(&code) {
                Failure::Throttled
            } else if code == "InvalidNextTokenException" {
                Failure::TokenRejected(text())
            } else if code == "UnrecognizedClientException" || code == "InvalidClientTokenId" {
                Failure::RegionNotEnabled(text())
            } else if status >= 500 || code == "RequestTimeout" || code == "RequestTimeoutException"
            {
                Failure::Transient(text())
            } else {
                Failure::Fatal(text())
            }
        }
        _ => Failure::Fatal(text()),
    }
}

/// Whether a connection failed because rustls did not accept the server's certificate: no retry
/// changes that, so it is reported at once instead of after half a minute of backing off.
/// hyper-rustls nests rustls's error two `io::Error`s deep, and an `io::Error`'s `source()` is
/// its payload's source, skipping the payload: the walk steps into each payload instead.
pub(crate) fn certificate_rejected(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut next = Some(error);
    while let Some(e) = next {
        if let Some(rustls::Error::InvalidCertificate(_)) = e.downcast_ref::<rustls::Error>() {
            return true;
        }
        next = match e
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            Some(payload) => Some(payload as &(dyn std::error::Error + 'static)),
            None => e.source(),
        };
    }
    false
}

/// What to do when a server's TLS certificate was refused (the SDK's calls and S3's alike).
pub(crate) const UNTRUSTED: &str = "The server's TLS certificate is not trusted: trailq trusts the \
     system's certificate authorities, or those of the PEM bundle SSL_CERT_FILE names (a \
     TLS-inspecting proxy's authority, say)";

/// `code: message` for service errors, the error chain otherwise (with what to do when the
/// server's certificate was refused).
pub fn error_text<E>(error: &SdkError<E, HttpResponse>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    if let (Some(code), message) = (error.code(), error.message()) {
        return match message {
            Some(m) => format!("{code}: {m}"),
            None => code.to_owned(),
        };
    }
    let chain = crate::error_chain(error);
    if matches!(error, SdkError::DispatchFailure(_)) && certificate_rejected(error) {
        return format!("{chain}. {UNTRUSTED}");
    }
    chain
}
