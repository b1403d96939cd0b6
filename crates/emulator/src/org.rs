//! The emulator as an organization (`--org`): its accounts form one AWS Organization whose first
//! account is the management account, and three more services answer on the same port, each in
//! its own wire protocol as AWS speaks it [reference §0]:
//!
//! - Organizations `ListAccounts`: JSON 1.1, `X-Amz-Target: AWSOrganizationsV20161128.ListAccounts`,
//!   for the management account only, 20 accounts a page;
//! - STS `AssumeRole` and `GetCallerIdentity`: the query protocol (`Action=AssumeRole&RoleArn=…` form-encoded), answered
//!   in XML; it issues temporary credentials (`ASIA…` keys) that act as the role's account and
//!   expire after the configured lifetime (`ExpiredTokenException` afterwards); members listed in
//!   `deny_assume_role` refuse (`AccessDenied`, 403), as an SCP or a missing role would;
//! - Account `ListRegions`: REST-JSON, `POST /listRegions`: the emulator's Regions, `ENABLED_BY_DEFAULT`
//!   unless disabled for the caller's account (`DISABLED`).

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::Duration;

use fastrand::Rng;
use serde_json::{Value, json};

use crate::server::{ApiError, Caller};

/// What `--org` sets up.
#[derive(Debug, Clone)]
pub struct OrgConfig {
    /// Members that refuse `AssumeRole` (`--deny-assume-role`).
    pub deny_assume_role: Vec<String>,
    /// How long issued credentials last (`--credential-lifetime`; AWS: 1 hour by default).
    pub credential_lifetime: Duration,
}

impl Default for OrgConfig {
    fn default() -> Self {
        OrgConfig {
            deny_assume_role: Vec::new(),
            credential_lifetime: Duration::from_secs(3600),
        }
    }
}

/// Accounts per `ListAccounts` page, as AWS returns at most.
const PAGE: usize = 20;

/// The organization and the credentials it issued.
#[derive(Debug)]
pub struct Org {
    pub id: String,
    /// Management account first.
    pub accounts: Vec<String>,
    regions: Vec<String>,
    disabled: HashSet<(String, String)>,
    deny: HashSet<String>,
    lifetime_micros: i64,
    issued: Mutex<HashMap<String, Issued>>,
    rng: Mutex<Rng>,
}

#[derive(Debug, Clone)]
struct Issued {
    account: String,
    expires_micros: i64,
}

/// An STS answer: HTTP status and XML body.
pub struct Xml {
    pub status: u16,
    pub body: String,
}

impl Xml {
    /// STS's error document.
    pub fn error(status: u16, code: &str, message: &str, request_id: &str) -> Xml {
        Xml {
            status,
            body: format!(
                "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><Error><Type>Sender</Type><Code>{code}</Code><Message>{}</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>",
                escape(message)
            ),
        }
    }
}

impl Org {
    pub fn new(
        config: &OrgConfig,
        accounts: Vec<String>,
        regions: Vec<String>,
        disabled: HashSet<(String, String)>,
        seed: u64,
    ) -> Org {
        let mut rng = Rng::with_seed(seed ^ 0x06_26);
        let id = format!(
            "o-{}",
            (0..10)
                .map(|_| char::from(b'a' + rng.u8(0..26)))
                .collect::<String>()
        );
        Org {
            id,
            accounts,
            regions,
            disabled,
            deny: config.deny_assume_role.iter().cloned().collect(),
            lifetime_micros: i64::try_from(config.credential_lifetime.as_micros())
                .unwrap_or(i64::MAX),
            issued: Mutex::new(HashMap::new()),
            rng: Mutex::new(rng),
        }
    }

    pub fn management(&self) -> &str {
        &self.accounts[0]
    }

    /// The account a temporary key acts as: `None` when the organization did not issue it,
    /// an error once it has expired.
    pub fn temporary(&self, key: &str, now_micros: i64) -> Option<Result<String, ApiError>> {
        let issued = self.issued.lock().unwrap_or_else(|e| e.into_inner());
        let found = issued.get(key)?;
        Some(if now_micros < found.expires_micros {
            Ok(found.account.clone())
        } else {
            Err(ApiError::client(
                "ExpiredTokenException",
                "The security token included in the request is expired",
            ))
        })
    }

    /// How many credentials `AssumeRole` issued for `account`: renewals show here.
    pub fn credentials_issued(&self, account: &str) -> usize {
        self.issued
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .filter(|i| i.account == account)
            .count()
    }

    /// Organizations `ListAccounts`.
    pub fn list_accounts(&self, caller: &Caller, request: &Value) -> Result<Value, ApiError> {
        if caller.account != self.management() {
            return Err(ApiError::client(
                "AccessDeniedException",
                format!(
                    "You don't have permissions to access this resource: account {} is not the management account of {}",
                    caller.account, self.id
                ),
            ));
        }
        let max = request["MaxResults"]
            .as_u64()
            .map_or(PAGE, |m| (m as usize).clamp(1, PAGE));
        let start = match request["NextToken"].as_str() {
            None => 0,
            Some(t) => t
                .strip_prefix("accounts-")
                .and_then(|n| n.parse::<usize>().ok())
                .filter(|n| *n <= self.accounts.len())
                .ok_or_else(|| {
                    ApiError::client("InvalidInputException", "The NextToken is not valid")
                })?,
        };
        let end = (start + max).min(self.accounts.len());
        let accounts: Vec<Value> = self.accounts[start..end]
            .iter()
            .enumerate()
            .map(|(i, id)| {
                json!({
                    "Id": id,
                    "Arn": format!("arn:aws:organizations::{}:account/{}/{id}", self.management(), self.id),
                    "Email": format!("aws+{id}@example.com"),
                    "Name": if start + i == 0 { "management".to_owned() } else { format!("member-{id}") },
                    "Status": "ACTIVE",
                    "State": "ACTIVE",
                    "JoinedMethod": if start + i == 0 { "CREATED" } else { "INVITED" },
                    "JoinedTimestamp": 1_700_000_000.0 + (start + i) as f64 * 86_400.0,
                })
            })
            .collect();
        let mut out = json!({ "Accounts": accounts });
        if end < self.accounts.len() {
            out["NextToken"] = json!(format!("accounts-{end}"));
        }
        Ok(out)
    }

    /// STS `AssumeRole` from its form fields.
    pub fn assume_role(
        &self,
        caller: &Caller,
        form: &HashMap<String, String>,
        now_micros: i64,
        request_id: &str,
    ) -> Xml {
        let error =
            |status: u16, code: &str, message: &str| Xml::error(status, code, message, request_id);
        let (Some(role_arn), Some(session)) = (form.get("RoleArn"), form.get("RoleSessionName"))
        else {
            return error(
                400,
                "ValidationError",
                "RoleArn and RoleSessionName are required",
            );
        };
        // arn:aws:iam::ACCOUNT:role/NAME
        let parts: Vec<&str> = role_arn.splitn(6, ':').collect();
        let (account, role) = match parts[..] {
            ["arn", _, "iam", "", account, resource] => match resource.strip_prefix("role/") {
                Some(role) if !role.is_empty() => (
                    account.to_owned(),
                    role.rsplit('/').next().unwrap_or(role).to_owned(),
                ),
                _ => {
                    return error(
                        400,
                        "ValidationError",
                        &format!("{role_arn} is not a role ARN"),
                    );
                }
            },
            _ => {
                return error(
                    400,
                    "ValidationError",
                    &format!("{role_arn} is not a role ARN"),
                );
            }
        };
        let who = format!("arn:aws:iam::{}:user/caller", caller.account);
        if !self.accounts.contains(&account) || self.deny.contains(&account) {
            return error(
                403,
                "AccessDenied",
                &format!(
                    "User: {who} is not authorized to perform: sts:AssumeRole on resource: {role_arn}"
                ),
            );
        }
        let (key, secret, token) = {
            let mut rng = self.rng.lock().unwrap_or_else(|e| e.into_inner());
            let mut text = |n: usize, alphabet: &[u8]| -> String {
                (0..n)
                    .map(|_| char::from(alphabet[rng.usize(0..alphabet.len())]))
                    .collect()
            };
            const UPPER: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
            const ANY: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
            (
                format!("ASIA{}", text(16, UPPER)),
                text(40, ANY),
                text(120, ANY),
            )
        };
        let expires = now_micros.saturating_add(self.lifetime_micros);
        self.issued
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(
                key.clone(),
                Issued {
                    account: account.clone(),
                    expires_micros: expires,
                },
            );
        let expiration = chrono::DateTime::from_timestamp_micros(expires)
            .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
            .unwrap_or_default();
        Xml {
            status: 200,
            body: format!(
                "<AssumeRoleResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><AssumeRoleResult><AssumedRoleUser><Arn>arn:aws:sts::{account}:assumed-role/{role}/{session}</Arn><AssumedRoleId>AROA{}:{session}</AssumedRoleId></AssumedRoleUser><Credentials><AccessKeyId>{key}</AccessKeyId><SecretAccessKey>{secret}</SecretAccessKey><SessionToken>{token}</SessionToken><Expiration>{expiration}</Expiration></Credentials></AssumeRoleResult><ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata></AssumeRoleResponse>",
                &key[4..],
                role = escape(&role),
                session = escape(session),
            ),
        }
    }

    /// STS `GetCallerIdentity`: which account the caller's credentials act as.
    pub fn caller_identity(&self, caller: &Caller, request_id: &str) -> Xml {
        let arn = if caller.access_key.starts_with("ASIA") {
            format!(
                "arn:aws:sts::{}:assumed-role/OrganizationAccountAccessRole/session",
                caller.account
            )
        } else {
            format!("arn:aws:iam::{}:user/caller", caller.account)
        };
        Xml {
            status: 200,
            body: format!(
                "<GetCallerIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><GetCallerIdentityResult><Arn>{arn}</Arn><UserId>AIDACALLER</UserId><Account>{}</Account></GetCallerIdentityResult><ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata></GetCallerIdentityResponse>",
                caller.account
            ),
        }
    }

    /// Account `ListRegions` for the caller's own account.
    pub fn list_regions(&self, caller: &Caller, request: &Value) -> Value {
        let wanted: Vec<&str> = request["RegionOptStatusContains"]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let regions: Vec<Value> = self
            .regions
            .iter()
            .map(|r| {
                let status = if self.disabled.contains(&(caller.account.clone(), r.clone())) {
                    "DISABLED"
                } else {
                    "ENABLED_BY_DEFAULT"
                };
                (r, status)
            })
            .filter(|(_, status)| wanted.is_empty() || wanted.contains(status))
            .map(|(r, status)| json!({ "RegionName": r, "RegionOptStatus": status }))
            .collect();
        json!({ "Regions": regions })
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn org(lifetime: Duration) -> Org {
        Org::new(
            &OrgConfig {
                deny_assume_role: vec!["333333333333".into()],
                credential_lifetime: lifetime,
            },
            (1..=25)
                .map(|i| format!("{i:012}"))
                .chain(["333333333333".into()])
                .collect(),
            vec!["us-east-1".into(), "eu-west-1".into()],
            [("000000000002".to_owned(), "eu-west-1".to_owned())].into(),
            7,
        )
    }

    fn caller(account: &str) -> Caller {
        Caller {
            account: account.into(),
            region: "us-east-1".into(),
            access_key: "AKIA".into(),
        }
    }

    #[test]
    fn accounts_come_in_pages_to_the_management_account_only() {
        let org = org(Duration::from_secs(60));
        let first = org
            .list_accounts(&caller("000000000001"), &json!({}))
            .unwrap();
        assert_eq!(first["Accounts"].as_array().unwrap().len(), 20);
        let rest = org
            .list_accounts(
                &caller("000000000001"),
                &json!({ "NextToken": first["NextToken"] }),
            )
            .unwrap();
        assert_eq!(rest["Accounts"].as_array().unwrap().len(), 6);
        assert!(rest.get("NextToken").is_none());
        let member = org
            .list_accounts(&caller("000000000002"), &json!({}))
            .unwrap_err();
        assert_eq!(member.code, "AccessDeniedException");
    }

    #[test]
    fn assumed_credentials_act_as_the_member_until_they_expire() {
        let org = org(Duration::from_secs(60));
        let form: HashMap<String, String> = [
            (
                "RoleArn".to_owned(),
                "arn:aws:iam::000000000002:role/OrganizationAccountAccessRole".to_owned(),
            ),
            ("RoleSessionName".to_owned(), "trailq".to_owned()),
        ]
        .into();
        let xml = org.assume_role(&caller("000000000001"), &form, 0, "r");
        assert_eq!(xml.status, 200);
        let key = xml
            .body
            .split("<AccessKeyId>")
            .nth(1)
            .unwrap()
            .split('<')
            .next()
            .unwrap();
        assert!(key.starts_with("ASIA"));
        assert_eq!(
            org.temporary(key, 59_000_000).unwrap().unwrap(),
            "000000000002"
        );
        assert_eq!(
            org.temporary(key, 60_000_000).unwrap().unwrap_err().code,
            "ExpiredTokenException"
        );
        assert!(org.temporary("AKIAOTHER", 0).is_none());
        let mut denied = form.clone();
        denied.insert(
            "RoleArn".into(),
            "arn:aws:iam::333333333333:role/OrganizationAccountAccessRole".into(),
        );
        let xml = org.assume_role(&caller("000000000001"), &denied, 0, "r");
        assert_eq!(xml.status, 403);
        assert!(xml.body.contains("<Code>AccessDenied</Code>"));
    }

    #[test]
    fn regions_disabled_for_an_account_say_so() {
        let org = org(Duration::from_secs(60));
        let all = org.list_regions(&caller("000000000002"), &json!({}));
        assert_eq!(
            all["Regions"][1],
            json!({ "RegionName": "eu-west-1", "RegionOptStatus": "DISABLED" })
        );
        let enabled = org.list_regions(
            &caller("000000000002"),
            &json!({ "RegionOptStatusContains": ["ENABLED", "ENABLED_BY_DEFAULT"] }),
        );
        assert_eq!(enabled["Regions"].as_array().unwrap().len(), 1);
    }
}
