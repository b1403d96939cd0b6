//! One record's JSON text, as CloudTrail writes it for the caller, operation and outcome the
//! generator drew, with stable identifiers (access keys, session names, UUIDs).

use fastrand::Rng;
use trailq_events::time::format_micros;

use super::{Caller, GeneratedEvent};

pub(super) fn access_denied(account: &str, caller: Caller, source: &str, name: &str) -> String {
    let service = source.split('.').next().unwrap_or(source);
    let who = match caller {
        Caller::IamUser(u) => format!("arn:aws:iam::{account}:user/{u}"),
        Caller::Role(r) => format!("arn:aws:sts::{account}:assumed-role/{r}/session"),
        _ => format!("arn:aws:iam::{account}:root"),
    };
    format!(
        "User: {who} is not authorized to perform: {service}:{name} because no identity-based policy allows the {service}:{name} action"
    )
}

/// Realistic parameters for the operations whose parameters matter to a responder.
pub(super) fn request_parameters(rng: &mut Rng, name: &str, account: &str) -> Option<String> {
    let severities = ["CRITICAL", "HIGH", "MEDIUM", "LOW"];
    let sev = severities[rng.usize(0..severities.len())];
    Some(match name {
        "ListFindings" => format!(
            r#"{{"maxResults":{},"filterCriteria":{{"severity":[{{"comparison":"EQUALS","value":"{sev}"}}],"findingStatus":[{{"comparison":"EQUALS","value":"ACTIVE"}}]}},"sortCriteria":{{"field":"SEVERITY","sortOrder":"DESC"}}}}"#,
            [50, 100, 500][rng.usize(0..3)]
        ),
        "ListCoverage" | "ListMembers" | "ListFilters" | "ListCisScans" => {
            format!(r#"{{"maxResults":{}}}"#, [10, 50, 100][rng.usize(0..3)])
        }
        "BatchGetAccountStatus" => format!(r#"{{"accountIds":["{account}"]}}"#),
        "CreateFilter" | "UpdateFilter" => {
            // Teams suppress what they accept as a risk: one vulnerability, not a whole severity.
            // A view filter (action NONE) is often as broad as a severity.
            if rng.u32(0..10) < 3 {
                format!(
                    r#"{{"action":"SUPPRESS","name":"accepted-risk-{}","reason":"accepted risk","filterCriteria":{{"vulnerabilityId":[{{"comparison":"EQUALS","value":"CVE-{}-{}"}}],"severity":[{{"comparison":"EQUALS","value":"{sev}"}}]}}}}"#,
                    rng.u32(1..500),
                    rng.u32(2019..2027),
                    rng.u32(1000..60000)
                )
            } else {
                format!(
                    r#"{{"action":"NONE","name":"filter-{}","filterCriteria":{{"severity":[{{"comparison":"EQUALS","value":"{sev}"}}]}}}}"#,
                    rng.u32(1..500)
                )
            }
        }
        "DeleteFilter" => format!(
            r#"{{"arn":"arn:aws:inspector2:us-east-1:{account}:owner/{account}/filter/{:016x}"}}"#,
            rng.u64(..)
        ),
        "CreateFindingsReport" => format!(
            r#"{{"reportFormat":"{}","s3Destination":{{"bucketName":"security-reports-{account}","keyPrefix":"inspector/{}","kmsKeyArn":"arn:aws:kms:us-east-1:{account}:key/{}"}}}}"#,
            ["CSV", "JSON"][rng.usize(0..2)],
            rng.u32(1..99),
            stable_uuid(&[account, "reports-key"])
        ),
        "CreateSbomExport" => format!(
            r#"{{"reportFormat":"CYCLONEDX_1_4","s3Destination":{{"bucketName":"sbom-exports-{account}","keyPrefix":"sbom","kmsKeyArn":"arn:aws:kms:us-east-1:{account}:key/{}"}}}}"#,
            stable_uuid(&[account, "reports-key"])
        ),
        "Enable" => format!(
            r#"{{"accountIds":["{account}"],"resourceTypes":["{}"]}}"#,
            ["EC2", "ECR", "LAMBDA", "LAMBDA_CODE"][rng.usize(0..4)]
        ),
        // What teams turn off in ordinary times is code scanning, for its cost; EC2, ECR and
        // Lambda scanning going off is the planted story's.
        "Disable" => format!(
            r#"{{"accountIds":["{account}"],"resourceTypes":["{}"]}}"#,
            ["LAMBDA_CODE", "CODE_REPOSITORY"][rng.usize(0..2)]
        ),
        "UpdateOrganizationConfiguration" => r#"{"autoEnable":{"ec2":true,"ecr":true,"lambda":true,"lambdaCode":false}}"#.to_owned(),
        "UpdateConfiguration" => r#"{"ecrConfiguration":{"rescanDuration":"DAYS_30","pullDateRescanDuration":"DAYS_90"},"ec2Configuration":{"scanMode":"EC2_HYBRID"}}"#.to_owned(),
        "EnableDelegatedAdminAccount" | "DisableDelegatedAdminAccount" => {
            format!(r#"{{"delegatedAdminAccountId":"{account}"}}"#)
        }
        "AssociateMember" | "DisassociateMember" | "GetMember" => {
            format!(r#"{{"accountId":"{}"}}"#, 100_000_000_000u64 + rng.u64(0..899_999_999_999))
        }
        "UpdateEncryptionKey" => format!(
            r#"{{"kmsKeyId":"arn:aws:kms:us-east-1:{account}:key/{}","scanType":"CODE","resourceType":"AWS_LAMBDA_FUNCTION"}}"#,
            stable_uuid(&[account, "code-scan-key", &rng.u32(0..3).to_string()])
        ),
        "ResetEncryptionKey" => r#"{"scanType":"CODE","resourceType":"AWS_LAMBDA_FUNCTION"}"#.to_owned(),
        "UpdateEc2DeepInspectionConfiguration" | "UpdateOrgEc2DeepInspectionConfiguration" => {
            r#"{"activateDeepInspection":true,"packagePaths":["/opt/app/lib"]}"#.to_owned()
        }
        "CreateCisScanConfiguration" | "UpdateCisScanConfiguration" => format!(
            r#"{{"scanName":"cis-weekly-{}","securityLevel":"LEVEL_1","schedule":{{"weekly":{{"days":["MON"],"startTime":{{"timeOfDay":"03:00","timezone":"UTC"}}}}}},"targets":{{"accountIds":["{account}"],"targetResourceTags":{{"Env":["prod"]}}}}}}"#,
            rng.u32(1..9)
        ),
        "CreateCodeSecurityIntegration" => r#"{"name":"github-org","type":"GITHUB"}"#.to_owned(),
        "ScanSbom" => r#"{"outputFormat":"INSPECTOR","sbom":"HIDDEN_DUE_TO_SECURITY_REASONS"}"#.to_owned(),
        "StartCisSession" | "StopCisSession" | "SendCisSessionHealth" | "SendCisSessionTelemetry" => {
            format!(r#"{{"scanJobId":"{}"}}"#, stable_uuid(&[account, "cis", &rng.u32(0..4).to_string()]))
        }
        "StartAssessmentRun" => format!(
            r#"{{"assessmentTemplateArn":"arn:aws:inspector:us-east-1:{account}:target/0-abc/template/0-{:08x}"}}"#,
            stable(&[account, "template"]) as u32
        ),
        _ => return None,
    })
}

/// A random (version 4, RFC 4122 variant) UUID.
pub(crate) fn uuid(rng: &mut Rng) -> String {
    let a = rng.u128(..);
    let h = format!("{a:032x}");
    let variant = ["8", "9", "a", "b"][(a >> 126) as usize];
    format!(
        "{}-{}-4{}-{variant}{}-{}",
        &h[0..8],
        &h[8..12],
        &h[13..16],
        &h[17..20],
        &h[20..32]
    )
}

/// An access-key-like id that is the same for the same `parts`: real credentials live for a
/// session (temporary keys, about an hour) or for months (IAM user keys), not for one call.
fn key_id(prefix: &str, parts: &[&str]) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut rng = Rng::with_seed(stable(parts));
    let tail: String = (0..16)
        .map(|_| ALPHABET[rng.usize(0..ALPHABET.len())] as char)
        .collect();
    format!("{prefix}{tail}")
}

/// A uuid that is the same for the same `parts`.
fn stable_uuid(parts: &[&str]) -> String {
    uuid(&mut Rng::with_seed(stable(parts)))
}

fn stable(parts: &[&str]) -> u64 {
    xxhash_rust::xxh3::xxh3_64(parts.join("/").as_bytes())
}

fn json_str(s: &str) -> String {
    serde_json::to_string(s).expect("strings serialize")
}

/// Writes the record text in CloudTrail's own field order.
#[allow(clippy::too_many_arguments)]
pub(super) fn build(
    rng: &mut Rng,
    time: i64,
    account: &str,
    region: &str,
    source: &'static str,
    name: &'static str,
    read_only: bool,
    caller: Caller,
    params: Option<String>,
    error: Option<(&str, String)>,
) -> GeneratedEvent {
    let event_id = uuid(rng);
    let request_id = uuid(rng);
    let event_time = format_micros(time);
    // Temporary credentials are issued at the start of a session; sessions last about an hour.
    let hour = (time / 3_600_000_000).to_string();
    let creation = format_micros(time - time.rem_euclid(3_600_000_000) + 120_000_000);
    // Event history's Username and AccessKeyId lookup values, as the identity below states them.
    let (username, access_key_id) = match caller {
        Caller::IamUser(user) => (
            Some(user.to_owned()),
            Some(key_id("AKIA", &[account, user])),
        ),
        Caller::Role(role) => (
            Some(
                if role == "ci-deploy" {
                    "github-actions"
                } else {
                    "session"
                }
                .to_owned(),
            ),
            Some(key_id("ASIA", &[account, role, &hour])),
        ),
        Caller::Service(svc) => (Some(svc.to_owned()), None),
        Caller::IdentityCenter(_) => (None, None),
        Caller::Root => (
            Some("root".to_owned()),
            Some(key_id("ASIA", &[account, "root", &hour])),
        ),
    };
    let (identity, ip, agent, console) = match caller {
        Caller::IamUser(user) => (
            format!(
                r#"{{"type":"IAMUser","principalId":"AIDA{:016X}","arn":"arn:aws:iam::{account}:user/{user}","accountId":"{account}","accessKeyId":"{}","userName":"{user}"}}"#,
                user.len() as u64 * 0x1F_3A5B_7C9D,
                access_key_id.as_deref().unwrap_or_default()
            ),
            if user == "mallory" { "185.220.101.45".to_owned() } else { format!("198.51.100.{}", 1 + stable(&[user, &hour]) % 60) },
            "aws-cli/2.17.20 md/awscrt#0.20.11 ua/2.0 os/linux#6.5 md/arch#x86_64 lang/python#3.11.9".to_owned(),
            false,
        ),
        Caller::Role(role) => {
            let session = username.as_deref().unwrap_or_default();
            (
                format!(
                    r#"{{"type":"AssumedRole","principalId":"AROA{:016X}:{session}","arn":"arn:aws:sts::{account}:assumed-role/{role}/{session}","accountId":"{account}","accessKeyId":"{}","sessionContext":{{"sessionIssuer":{{"type":"Role","principalId":"AROA{:016X}","arn":"arn:aws:iam::{account}:role/{role}","accountId":"{account}","userName":"{role}"}},"attributes":{{"creationDate":"{creation}","mfaAuthenticated":"false"}}}}}}"#,
                    role.len() as u64 * 0x2B_4C6D_8EAF,
                    access_key_id.as_deref().unwrap_or_default(),
                    role.len() as u64 * 0x2B_4C6D_8EAF
                ),
                {
                    // A session calls from one place: a CI runner, or an instance in the VPC.
                    let h = stable(&[account, role, &hour]);
                    if role == "ci-deploy" { format!("20.42.{}.{}", h % 256, 1 + (h >> 8) % 254) } else { format!("10.0.{}.{}", h % 16, 1 + (h >> 8) % 254) }
                },
                if role == "ci-deploy" { "Boto3/1.34.144 md/Botocore#1.34.144 ua/2.0 os/linux#6.5 lang/python#3.12.4".to_owned() } else { "aws-sdk-go-v2/1.30.3 os/linux lang/go#1.22.5 md/GOOS#linux md/GOARCH#amd64 api/inspector2#1.26.2".to_owned() },
                false,
            )
        }
        Caller::Service(svc) => (
            format!(r#"{{"type":"AWSService","invokedBy":"{svc}"}}"#),
            svc.to_owned(),
            svc.to_owned(),
            false,
        ),
        Caller::IdentityCenter(user) => (
            format!(
                r#"{{"type":"IdentityCenterUser","accountId":"{account}","onBehalfOf":{{"userId":"{}","identityStoreArn":"arn:aws:identitystore::{account}:identitystore/d-9067642ac7"}},"credentialId":"{}"}}"#,
                stable_uuid(&[user]),
                key_id("", &[account, user, &hour])
            ),
            format!("203.0.113.{}", 1 + stable(&[user, &hour]) % 200),
            format!("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36 ({user})"),
            true,
        ),
        Caller::Root => (
            format!(
                r#"{{"type":"Root","principalId":"{account}","arn":"arn:aws:iam::{account}:root","accountId":"{account}","accessKeyId":"{}"}}"#,
                access_key_id.as_deref().unwrap_or_default()
            ),
            format!("198.51.100.{}", 200 + stable(&[account, &hour]) % 50),
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36".to_owned(),
            true,
        ),
    };
    let mut json = String::with_capacity(1400);
    json.push_str(r#"{"eventVersion":"1.10","userIdentity":"#);
    json.push_str(&identity);
    json.push_str(&format!(
        r#","eventTime":"{event_time}","eventSource":"{source}","eventName":"{name}","awsRegion":"{region}","sourceIPAddress":{},"userAgent":{}"#,
        json_str(&ip),
        json_str(&agent)
    ));
    if let Some((code, message)) = &error {
        json.push_str(&format!(
            r#","errorCode":"{code}","errorMessage":{}"#,
            json_str(message)
        ));
    }
    json.push_str(r#","requestParameters":"#);
    json.push_str(params.as_deref().unwrap_or("null"));
    json.push_str(r#","responseElements":"#);
    if read_only || error.is_some() {
        json.push_str("null");
    } else {
        json.push_str(&format!(
            r#"{{"arn":"arn:aws:inspector2:{region}:{account}:owner/{account}/{}/{:016x}"}}"#,
            name.to_ascii_lowercase(),
            rng.u64(..)
        ));
    }
    json.push_str(&format!(
        r#","requestID":"{request_id}","eventID":"{event_id}","readOnly":{read_only},"eventType":"AwsApiCall","managementEvent":true,"recipientAccountId":"{account}","eventCategory":"Management","tlsDetails":{{"tlsVersion":"TLSv1.3","cipherSuite":"TLS_AES_128_GCM_SHA256","clientProvidedHostHeader":"{}.{region}.amazonaws.com"}}"#,
        source.split('.').next().unwrap_or(source)
    ));
    if console {
        json.push_str(r#","sessionCredentialFromConsole":"true""#);
    }
    json.push('}');
    GeneratedEvent {
        time_micros: time,
        account: account.to_owned(),
        region: region.to_owned(),
        event_id,
        event_source: source,
        event_name: name,
        read_only,
        username,
        access_key_id,
        json,
    }
}
