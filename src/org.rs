//! The organization-wide export's fan-out (`trailq export --org`): the organization's ACTIVE
//! accounts (Organizations `ListAccounts`), one identity per account — the caller's own
//! credentials for its own account, a role assumed in every other (STS `AssumeRole`, renewed by
//! in the background before the session expires) — and, for `--all-regions`, the Regions
//! each account has enabled (Account `ListRegions`), not a static list.

use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use aws_credential_types::provider::{ProvideCredentials, future};
use aws_sdk_account::types::RegionOptStatus;
use aws_sdk_cloudtrail::config::{Credentials, SharedCredentialsProvider};
use aws_sdk_cloudtrail::error::ProvideErrorMetadata;
use futures::StreamExt;

use crate::aws::Identity;

/// The role assumed in members unless `--role-name` says otherwise: what Organizations creates
/// in every account it creates.
pub const DEFAULT_ROLE: &str = "OrganizationAccountAccessRole";

/// The role session's name, which CloudTrail records in the member's events.
const SESSION: &str = "trailq-export";

/// Accounts set up at once (each an `AssumeRole`, and a `ListRegions` for `--all-regions`).
const AT_ONCE: usize = 8;

/// What to fan out to.
#[derive(Debug, Clone, Default)]
pub struct Scope {
    pub role_name: String,
    /// Only these accounts (empty: all).
    pub accounts: Vec<String>,
    pub exclude_accounts: Vec<String>,
    /// Ask each account its enabled Regions.
    pub all_regions: bool,
}

/// An account left out, and why (in AWS's words).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Refused {
    pub account: String,
    pub reason: String,
}

/// One identity per account that can be exported, and the accounts that refused.
#[derive(Debug)]
pub struct FanOut {
    pub caller_account: String,
    pub organization_accounts: usize,
    pub identities: Vec<Identity>,
    pub refused: Vec<Refused>,
}

#[derive(Debug, thiserror::Error)]
pub enum OrgError {
    #[error("cannot tell which account the credentials belong to (STS GetCallerIdentity): {0}")]
    Caller(String),
    #[error(
        "cannot list the organization's accounts (Organizations ListAccounts): {0}; run --org from the management account or the delegated administrator, with organizations:ListAccounts"
    )]
    List(String),
    #[error("--accounts names {0}, which is not an ACTIVE account of the organization")]
    NotMember(String),
}

/// The identities of `scope`'s accounts, seen from `caller`.
pub async fn fan_out(caller: &Identity, scope: &Scope) -> Result<FanOut, OrgError> {
    let sts = aws_sdk_sts::Client::new(&caller.config);
    let who = sts
        .get_caller_identity()
        .send()
        .await
        .map_err(|e| OrgError::Caller(crate::error_chain(&e)))?;
    let caller_account = who
        .account()
        .ok_or_else(|| OrgError::Caller("the answer names no account".into()))?
        .to_owned();

    let organizations = aws_sdk_organizations::Client::new(&caller.config);
    let mut pages = organizations.list_accounts().into_paginator().send();
    let mut active = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| OrgError::List(crate::error_chain(&e)))?;
        for account in page.accounts() {
            let is_active = account
                .state()
                .map(|s| s.as_str() == "ACTIVE")
                .unwrap_or(true);
            if let (Some(id), true) = (account.id(), is_active) {
                active.push(id.to_owned());
            }
        }
    }
    for wanted in &scope.accounts {
        if !active.contains(wanted) {
            return Err(OrgError::NotMember(wanted.clone()));
        }
    }
    let organization_accounts = active.len();
    let chosen: Vec<String> = active
        .into_iter()
        .filter(|a| scope.accounts.is_empty() || scope.accounts.contains(a))
        .filter(|a| !scope.exclude_accounts.contains(a))
        .collect();

    let set_up = futures::stream::iter(chosen.into_iter().map(|account| {
        let caller_account = caller_account.clone();
        async move {
            let result = identity(caller, &caller_account, &account, scope).await;
            (account, result)
        }
    }))
    .buffered(AT_ONCE)
    .collect::<Vec<_>>()
    .await;
    let mut identities = Vec::new();
    let mut refused = Vec::new();
    for (account, result) in set_up {
        match result {
            Ok(identity) => identities.push(identity),
            Err(reason) => refused.push(Refused { account, reason }),
        }
    }
    Ok(FanOut {
        caller_account,
        organization_accounts,
        identities,
        refused,
    })
}

/// The identity exporting `account`: the caller's own for its account, else the role assumed
/// in it (checked now, so that a refusal is known before the export starts).
async fn identity(
    caller: &Identity,
    caller_account: &str,
    account: &str,
    scope: &Scope,
) -> Result<Identity, String> {
    let config = if account == caller_account {
        caller.config.clone()
    } else {
        let role = format!("arn:aws:iam::{account}:role/{}", scope.role_name);
        // Asked once here, so that a refusal (no such role, an SCP) is known, in AWS's words,
        // before the export starts; the provider below assumes it again as sessions expire.
        let sts = aws_sdk_sts::Client::new(&caller.config);
        let first = assume(&sts, &role)
            .await
            .map_err(|reason| format!("cannot assume {role}: {reason}"))?;
        caller
            .config
            .to_builder()
            .credentials_provider(SharedCredentialsProvider::new(Renewing::start(
                sts, role, first,
            )))
            .build()
    };
    let regions = if scope.all_regions {
        let client = aws_sdk_account::Client::new(&config);
        let mut pages = client
            .list_regions()
            .region_opt_status_contains(RegionOptStatus::Enabled)
            .region_opt_status_contains(RegionOptStatus::EnabledByDefault)
            .into_paginator()
            .send();
        let mut regions = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| {
                format!(
                    "cannot list its enabled Regions (Account ListRegions): {}",
                    crate::one_line(&crate::error_chain(&e))
                )
            })?;
            regions.extend(
                page.regions()
                    .iter()
                    .filter_map(|r| r.region_name().map(str::to_owned)),
            );
        }
        Some(regions)
    } else {
        None
    };
    Ok(Identity {
        profile: Some(account.to_owned()),
        config,
        regions,
    })
}

/// Assumes `role` once: its credentials, or AWS's reason for refusing.
async fn assume(sts: &aws_sdk_sts::Client, role: &str) -> Result<Credentials, String> {
    let out = sts
        .assume_role()
        .role_arn(role)
        .role_session_name(SESSION)
        .send()
        .await
        .map_err(|e| match (e.code(), e.message()) {
            (Some(code), Some(message)) => format!("{code}: {message}"),
            _ => crate::one_line(&crate::error_chain(&e)),
        })?;
    let c = out
        .credentials()
        .ok_or_else(|| "STS answered without credentials".to_owned())?;
    Ok(Credentials::new(
        c.access_key_id(),
        c.secret_access_key(),
        Some(c.session_token().to_owned()),
        SystemTime::try_from(*c.expiration()).ok(),
        "trailq-assume-role",
    ))
}

/// A member's role session, renewed in the background before it expires, so that a request
/// never waits on STS between leaving the pacer and reaching CloudTrail: such a wait bunches
/// requests, and CloudTrail throttles a bunch. (The SDK's own provider renews on the request
/// path.) A renewal that fails keeps the old session and tries again a second later.
#[derive(Debug)]
struct Renewing {
    current: Arc<RwLock<Credentials>>,
    renewer: tokio::task::JoinHandle<()>,
}

impl Renewing {
    fn start(sts: aws_sdk_sts::Client, role: String, first: Credentials) -> Renewing {
        let current = Arc::new(RwLock::new(first));
        let shared = Arc::clone(&current);
        let renewer = tokio::spawn(async move {
            loop {
                let expiry = shared.read().unwrap_or_else(|e| e.into_inner()).expiry();
                let left = expiry
                    .and_then(|e| e.duration_since(SystemTime::now()).ok())
                    .unwrap_or_default();
                // Halfway to the expiry: an hour's session is renewed every half hour.
                tokio::time::sleep((left / 2).max(Duration::from_millis(200))).await;
                match assume(&sts, &role).await {
                    Ok(fresh) => *shared.write().unwrap_or_else(|e| e.into_inner()) = fresh,
                    Err(_) => tokio::time::sleep(Duration::from_secs(1)).await,
                }
            }
        });
        Renewing { current, renewer }
    }
}

impl Drop for Renewing {
    fn drop(&mut self) {
        self.renewer.abort();
    }
}

impl ProvideCredentials for Renewing {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        let current = self
            .current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        future::ProvideCredentials::ready(Ok(current))
    }
}
