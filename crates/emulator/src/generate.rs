//! The emulator's data set: deterministic, seeded, realistic Amazon Inspector activity.
//!
//! All three Inspector event sources with their real operation names (reference §7) in realistic
//! proportions — reads dominate; suppression filters, Disable, delegated-admin and organization
//! changes are rare — called by IAM users, assumed roles, AWS services, Identity Center users and
//! root, with AccessDenied/ValidationException errors, over several accounts and regions, plus
//! noise from other services (global ones in us-east-1). A few suspicious events are planted at
//! fixed offsets before `now` so that tests and saved queries have something certain to find.
//! The same config always yields the same records, byte for byte.

use fastrand::Rng;

use trailq_events::time::format_micros;

const MICROS_PER_DAY: i64 = 86_400_000_000;

/// What to generate. `now` pins the clock so that runs are reproducible.
#[derive(Debug, Clone)]
pub struct GeneratorConfig {
    pub seed: u64,
    /// End of the generated window, µs since the epoch (UTC).
    pub now_micros: i64,
    pub days: u32,
    /// Events per day over all accounts and regions, Inspector and noise together.
    pub events_per_day: u32,
    pub accounts: Vec<String>,
    pub regions: Vec<String>,
    /// Share of events from services other than Inspector.
    pub noise: f64,
}

impl Default for GeneratorConfig {
    fn default() -> Self {
        GeneratorConfig {
            seed: 1,
            now_micros: chrono::Utc::now().timestamp_micros(),
            days: 91,
            events_per_day: 2_000,
            accounts: ["111122223333", "444455556666", "777788889999"]
                .map(String::from)
                .to_vec(),
            regions: ["us-east-1", "eu-west-1", "ap-southeast-2"]
                .map(String::from)
                .to_vec(),
            noise: 0.3,
        }
    }
}

/// One generated record and where CloudTrail would keep it.
#[derive(Debug, Clone)]
pub struct GeneratedEvent {
    pub time_micros: i64,
    pub account: String,
    pub region: String,
    pub event_id: String,
    pub event_source: &'static str,
    pub event_name: &'static str,
    pub read_only: bool,
    /// What Event history's `Username` attribute matches: the IAM user, the role session, the
    /// calling service, `root`.
    pub username: Option<String>,
    pub access_key_id: Option<String>,
    /// The record's JSON text, as it appears in a trail file or a `CloudTrailEvent` string.
    pub json: String,
}

pub use trailq_events::cloudtrail::{
    INSPECTOR_CLASSIC, INSPECTOR_SCAN, INSPECTOR_SOURCES, INSPECTOR2,
};

/// (operation, relative weight, read-only). Weights per 10,000 Inspector (v2) calls.
const INSPECTOR2_OPS: &[(&str, u32, bool)] = &[
    ("ListFindings", 2600, true),
    ("ListCoverage", 900, true),
    ("BatchGetAccountStatus", 800, true),
    ("ListFindingAggregations", 600, true),
    ("ListCoverageStatistics", 500, true),
    ("GetConfiguration", 400, true),
    ("DescribeOrganizationConfiguration", 350, true),
    ("ListMembers", 350, true),
    ("ListFilters", 300, true),
    ("BatchGetFindingDetails", 300, true),
    ("ListUsageTotals", 250, true),
    ("GetDelegatedAdminAccount", 200, true),
    ("ListDelegatedAdminAccounts", 120, true),
    ("GetFindingsReportStatus", 150, true),
    ("SearchVulnerabilities", 150, true),
    ("BatchGetFreeTrialInfo", 100, true),
    ("ListAccountPermissions", 100, true),
    ("GetEc2DeepInspectionConfiguration", 80, true),
    ("BatchGetMemberEc2DeepInspectionStatus", 60, true),
    ("GetEncryptionKey", 60, true),
    ("ListCisScanConfigurations", 80, true),
    ("ListCisScans", 80, true),
    ("GetCisScanReport", 40, true),
    ("ListCodeSecurityIntegrations", 50, true),
    ("ListCodeSecurityScanConfigurations", 40, true),
    ("GetSbomExport", 40, true),
    ("ListTagsForResource", 60, true),
    ("GetMember", 60, true),
    ("BatchGetCodeSnippet", 40, true),
    ("StartCisSession", 100, false),
    ("SendCisSessionHealth", 250, false),
    ("SendCisSessionTelemetry", 250, false),
    ("StopCisSession", 90, false),
    ("CreateFindingsReport", 25, false),
    ("CreateSbomExport", 15, false),
    ("CreateFilter", 12, false),
    ("UpdateFilter", 8, false),
    ("DeleteFilter", 5, false),
    ("TagResource", 10, false),
    ("UntagResource", 3, false),
    ("AssociateMember", 4, false),
    ("DisassociateMember", 2, false),
    ("Enable", 4, false),
    ("Disable", 1, false),
    ("UpdateConfiguration", 3, false),
    ("UpdateOrganizationConfiguration", 2, false),
    ("EnableDelegatedAdminAccount", 1, false),
    ("DisableDelegatedAdminAccount", 1, false),
    ("UpdateEncryptionKey", 1, false),
    ("ResetEncryptionKey", 1, false),
    ("UpdateEc2DeepInspectionConfiguration", 2, false),
    ("UpdateOrgEc2DeepInspectionConfiguration", 1, false),
    ("BatchUpdateMemberEc2DeepInspectionStatus", 1, false),
    ("CreateCisScanConfiguration", 2, false),
    ("UpdateCisScanConfiguration", 2, false),
    ("DeleteCisScanConfiguration", 1, false),
    ("CreateCodeSecurityIntegration", 1, false),
    ("UpdateCodeSecurityIntegration", 1, false),
    ("CreateCodeSecurityScanConfiguration", 1, false),
    ("StartCodeSecurityScan", 3, false),
    ("StartOnDemandScan", 2, false),
    ("CancelFindingsReport", 1, false),
];

const CLASSIC_OPS: &[(&str, u32, bool)] = &[
    ("ListFindings", 30, true),
    ("DescribeFindings", 25, true),
    ("ListAssessmentRuns", 15, true),
    ("DescribeAssessmentRuns", 10, true),
    ("ListAssessmentTemplates", 8, true),
    ("ListRulesPackages", 5, true),
    ("StartAssessmentRun", 3, false),
    ("CreateAssessmentTemplate", 1, false),
    ("CreateResourceGroup", 1, false),
    ("SubscribeToEvent", 1, false),
];

/// Other services' calls that share the window: (source, name, read-only, global).
const NOISE_OPS: &[(&str, &str, bool, bool)] = &[
    ("sts.amazonaws.com", "AssumeRole", true, false),
    ("ec2.amazonaws.com", "DescribeInstances", true, false),
    ("ecr.amazonaws.com", "DescribeImages", true, false),
    (
        "ssm.amazonaws.com",
        "UpdateInstanceInformation",
        false,
        false,
    ),
    (
        "securityhub.amazonaws.com",
        "BatchImportFindings",
        false,
        false,
    ),
    ("kms.amazonaws.com", "Decrypt", true, false),
    ("lambda.amazonaws.com", "ListFunctions20150331", true, false),
    ("iam.amazonaws.com", "ListRoles", true, true),
    ("iam.amazonaws.com", "GetRole", true, true),
    ("organizations.amazonaws.com", "ListAccounts", true, true),
];

/// Who calls: (kind, name, weight).
#[derive(Clone, Copy, PartialEq)]
enum Caller {
    IamUser(&'static str),
    Role(&'static str),
    Service(&'static str),
    IdentityCenter(&'static str),
    Root,
}

const CALLERS: &[(Caller, u32)] = &[
    (Caller::Role("SecurityAudit"), 30),
    (Caller::Role("InspectorAdmin"), 8),
    (Caller::Role("ci-deploy"), 10),
    (Caller::Service("securityhub.amazonaws.com"), 25),
    (Caller::IamUser("alice"), 8),
    (Caller::IamUser("bob"), 6),
    (Caller::IdentityCenter("carol@example.com"), 10),
    (Caller::Root, 1),
];

/// Deterministic generator; iterate day by day with [`Generator::day`].
///
/// Each UTC day has its own random stream, seeded by the seed and the date: two generators with
/// the same seed but different `now` agree on the events of the days they share, so an emulator
/// restarted later holds the same past plus what is new (what `--since-last` is tested on).
pub struct Generator {
    config: GeneratorConfig,
    start_micros: i64,
    now_micros: i64,
    /// The first UTC day the window touches, in days since the epoch.
    first_day: i64,
}

impl Generator {
    pub fn new(config: GeneratorConfig) -> Self {
        let now = config.now_micros - config.now_micros.rem_euclid(1_000_000);
        let start_micros = now - i64::from(config.days) * MICROS_PER_DAY;
        Generator {
            config,
            start_micros,
            now_micros: now,
            first_day: start_micros.div_euclid(MICROS_PER_DAY),
        }
    }

    pub fn config(&self) -> &GeneratorConfig {
        &self.config
    }

    /// Start of the window (µs).
    pub fn start_micros(&self) -> i64 {
        self.start_micros
    }

    /// How many UTC days the window touches: the valid arguments of [`Generator::day`].
    pub fn day_count(&self) -> u32 {
        let last_day = (self.now_micros - 1).div_euclid(MICROS_PER_DAY);
        u32::try_from(last_day - self.first_day + 1).unwrap_or(0)
    }

    /// The events of the `index`th UTC day of the window (0 = oldest) that fall inside the
    /// window, unordered, planted ones included. Any day can be generated alone.
    pub fn day(&self, index: u32) -> Vec<GeneratedEvent> {
        let cfg = &self.config;
        let day = self.first_day + i64::from(index);
        let mut rng = Rng::with_seed(
            cfg.seed
                ^ (day as u64)
                    .wrapping_add(1)
                    .wrapping_mul(0x9E37_79B9_7F4A_7C15),
        );
        let day_start = day * MICROS_PER_DAY;
        let window = self.start_micros..self.now_micros;
        let mut events = Vec::with_capacity(cfg.events_per_day as usize + 4);
        for _ in 0..cfg.events_per_day {
            // CloudTrail times have whole seconds.
            let time = day_start + rng.i64(0..86_400) * 1_000_000;
            // Drawn even when outside the window, so the rest of the day's stream is the same.
            let event = self.random_event(&mut rng, time);
            if window.contains(&time) {
                events.push(event);
            }
        }
        for plant in PLANTED {
            let time = cfg.now_micros
                - plant.days_ago * MICROS_PER_DAY
                - plant.hour_offset * 3_600_000_000;
            if time >= day_start && time < day_start + MICROS_PER_DAY && window.contains(&time) {
                // Seeded by its time too: planted events move with `now`, and a moved event is
                // another event (another eventID).
                let mut prng = Rng::with_seed(cfg.seed ^ time as u64 ^ 0xDEAD_BEEF);
                events.push(self.planted_event(&mut prng, plant, time));
            }
        }
        events
    }

    fn pick_account<'a>(&'a self, rng: &mut Rng) -> &'a str {
        // The first account (the delegated administrator) sees most of the activity.
        let n = self.config.accounts.len();
        let i = if rng.f64() < 0.5 { 0 } else { rng.usize(0..n) };
        &self.config.accounts[i]
    }

    fn pick_region<'a>(&'a self, rng: &mut Rng) -> &'a str {
        let n = self.config.regions.len();
        let i = if rng.f64() < 0.4 { 0 } else { rng.usize(0..n) };
        &self.config.regions[i]
    }

    fn random_event(&self, rng: &mut Rng, time: i64) -> GeneratedEvent {
        let account = self.pick_account(rng).to_owned();
        let mut region = self.pick_region(rng).to_owned();
        if rng.f64() < self.config.noise {
            let (source, name, read_only, global) = NOISE_OPS[rng.usize(0..NOISE_OPS.len())];
            if global {
                // Global services' events are recorded in us-east-1.
                region = "us-east-1".to_owned();
            }
            let caller = pick_caller(rng);
            return build(
                rng, time, &account, &region, source, name, read_only, caller, None, None,
            );
        }
        let roll = rng.u32(0..100);
        let (source, ops) = if roll < 88 {
            (INSPECTOR2, INSPECTOR2_OPS)
        } else if roll < 95 {
            (INSPECTOR_SCAN, &[("ScanSbom", 1, true)][..])
        } else {
            (INSPECTOR_CLASSIC, CLASSIC_OPS)
        };
        let (name, read_only) = pick_weighted(rng, ops);
        let mut caller = pick_caller(rng);
        if matches!(
            name,
            "StartCisSession"
                | "SendCisSessionHealth"
                | "SendCisSessionTelemetry"
                | "StopCisSession"
        ) {
            caller = Caller::Role("AmazonSSMRoleForInstancesQuickSetup");
        } else if source == INSPECTOR_SCAN {
            caller = Caller::Role("ci-deploy");
        } else if caller == Caller::Service("securityhub.amazonaws.com") && !read_only {
            caller = Caller::Role("InspectorAdmin");
        }
        let error = match rng.u32(0..1000) {
            0..=24 => Some(("AccessDeniedException", access_denied(&account, caller, source, name))),
            25..=29 if !read_only => Some(("ValidationException", "1 validation error detected: Value at 'filterCriteria' failed to satisfy constraint".to_owned())),
            _ => None,
        };
        let params = request_parameters(rng, name, &account);
        build(
            rng, time, &account, &region, source, name, read_only, caller, params, error,
        )
    }

    fn planted_event(&self, rng: &mut Rng, plant: &Planted, time: i64) -> GeneratedEvent {
        let cfg = &self.config;
        let account = cfg.accounts[plant.account_index.min(cfg.accounts.len() - 1)].clone();
        let region = cfg.regions[0].clone();
        let error = plant.error.map(|code| {
            (
                code,
                access_denied(&account, plant.caller, plant.source, plant.name),
            )
        });
        build(
            rng,
            time,
            &account,
            &region,
            plant.source,
            plant.name,
            plant.read_only,
            plant.caller,
            Some(plant.params.replace("{foreign}", FOREIGN_ACCOUNT)),
            error,
        )
    }
}

/// The account outside the organization that planted events send data and control to.
pub const FOREIGN_ACCOUNT: &str = "999988887777";

/// A suspicious event placed `days_ago` before `now`, for tests and saved queries to find. Most
/// tell one story: `mallory`, an IAM user seen for the first time, probes what she may do, then
/// blinds Inspector and sends its data out of the organization.
pub struct Planted {
    pub days_ago: i64,
    pub hour_offset: i64,
    pub account_index: usize,
    pub source: &'static str,
    pub name: &'static str,
    read_only: bool,
    caller: Caller,
    pub params: &'static str,
    /// An error code the call failed with.
    pub error: Option<&'static str>,
}

const fn plant(
    days_ago: i64,
    hour_offset: i64,
    account_index: usize,
    name: &'static str,
    caller: Caller,
    params: &'static str,
) -> Planted {
    Planted {
        days_ago,
        hour_offset,
        account_index,
        source: INSPECTOR2,
        name,
        read_only: false,
        caller,
        params,
        error: None,
    }
}

const MALLORY: Caller = Caller::IamUser("mallory");

pub const PLANTED: &[Planted] = &[
    // Reconnaissance: what may this identity do? Denied.
    Planted {
        read_only: true,
        error: Some("AccessDeniedException"),
        ..plant(16, 4, 0, "ListDelegatedAdminAccounts", MALLORY, "{}")
    },
    Planted {
        read_only: true,
        error: Some("AccessDeniedException"),
        ..plant(
            16,
            3,
            0,
            "GetEncryptionKey",
            MALLORY,
            r#"{"scanType":"CODE","resourceType":"AWS_LAMBDA_FUNCTION"}"#,
        )
    },
    Planted {
        read_only: true,
        error: Some("AccessDeniedException"),
        ..plant(16, 2, 0, "ListMembers", MALLORY, r#"{"maxResults":50}"#)
    },
    plant(
        15,
        1,
        0,
        "UpdateOrganizationConfiguration",
        MALLORY,
        r#"{"autoEnable":{"ec2":false,"ecr":false,"lambda":false,"lambdaCode":false,"codeRepository":false}}"#,
    ),
    plant(
        12,
        3,
        0,
        "CreateFilter",
        MALLORY,
        r#"{"action":"SUPPRESS","name":"hide-critical-ec2","description":"temporary","filterCriteria":{"severity":[{"comparison":"EQUALS","value":"CRITICAL"}],"resourceType":[{"comparison":"EQUALS","value":"AWS_EC2_INSTANCE"}]}}"#,
    ),
    plant(
        11,
        6,
        0,
        "UpdateEncryptionKey",
        MALLORY,
        r#"{"kmsKeyId":"arn:aws:kms:us-east-1:{foreign}:key/7e1f2a3b-4c5d-4e6f-8a9b-0c1d2e3f4a5b","scanType":"CODE","resourceType":"AWS_LAMBDA_FUNCTION"}"#,
    ),
    plant(
        10,
        2,
        1,
        "DisassociateMember",
        MALLORY,
        r#"{"accountId":"777788889999"}"#,
    ),
    plant(
        9,
        5,
        1,
        "Disable",
        MALLORY,
        r#"{"accountIds":["444455556666"],"resourceTypes":["EC2","ECR","LAMBDA"]}"#,
    ),
    plant(
        8,
        4,
        0,
        "UpdateEc2DeepInspectionConfiguration",
        MALLORY,
        r#"{"activateDeepInspection":false}"#,
    ),
    plant(
        7,
        3,
        0,
        "DeleteCisScanConfiguration",
        MALLORY,
        r#"{"scanConfigurationArn":"arn:aws:inspector2:us-east-1:111122223333:owner/111122223333/cis-configuration/0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0"}"#,
    ),
    plant(
        6,
        2,
        0,
        "CreateCodeSecurityIntegration",
        MALLORY,
        r#"{"name":"gitlab-mirror","type":"GITLAB_SELF_MANAGED","details":{"gitlabSelfManaged":{"instanceUrl":"https://git.attacker.example","accessToken":"HIDDEN_DUE_TO_SECURITY_REASONS"}}}"#,
    ),
    plant(
        5,
        2,
        0,
        "CreateFindingsReport",
        MALLORY,
        r#"{"reportFormat":"JSON","s3Destination":{"bucketName":"exfil-reports-{foreign}","keyPrefix":"inspector","kmsKeyArn":"arn:aws:kms:us-east-1:{foreign}:key/0d9c7a6e-1b2c-4d5e-8f90-a1b2c3d4e5f6"}}"#,
    ),
    plant(
        4,
        1,
        0,
        "CreateSbomExport",
        MALLORY,
        r#"{"reportFormat":"CYCLONEDX_1_4","s3Destination":{"bucketName":"exfil-sbom-{foreign}","keyPrefix":"sbom","kmsKeyArn":"arn:aws:kms:us-east-1:{foreign}:key/0d9c7a6e-1b2c-4d5e-8f90-a1b2c3d4e5f6"}}"#,
    ),
    Planted {
        source: INSPECTOR_SCAN,
        read_only: true,
        ..plant(
            3,
            2,
            0,
            "ScanSbom",
            MALLORY,
            r#"{"outputFormat":"INSPECTOR","sbom":"HIDDEN_DUE_TO_SECURITY_REASONS"}"#,
        )
    },
    plant(
        2,
        1,
        0,
        "DeleteFilter",
        MALLORY,
        r#"{"arn":"arn:aws:inspector2:us-east-1:111122223333:owner/111122223333/filter/hide-critical-ec2"}"#,
    ),
    // Control handed to an account outside the organization.
    plant(
        20,
        7,
        0,
        "EnableDelegatedAdminAccount",
        Caller::Root,
        r#"{"delegatedAdminAccountId":"{foreign}","clientToken":"5f1c2b64-0d0e-4f5e-9c55-1a2b3c4d5e6f"}"#,
    ),
];

/// One of `items`, with probability proportional to its weight.
fn weighted<'a, T>(rng: &mut Rng, items: &'a [T], weight: impl Fn(&T) -> u32) -> &'a T {
    let total: u32 = items.iter().map(&weight).sum();
    let mut r = rng.u32(0..total);
    for item in items {
        if r < weight(item) {
            return item;
        }
        r -= weight(item);
    }
    unreachable!("weights sum to total")
}

fn pick_weighted(rng: &mut Rng, ops: &[(&'static str, u32, bool)]) -> (&'static str, bool) {
    let (name, _, read_only) = weighted(rng, ops, |o| o.1);
    (name, *read_only)
}

fn pick_caller(rng: &mut Rng) -> Caller {
    weighted(rng, CALLERS, |c| c.1).0
}

fn access_denied(account: &str, caller: Caller, source: &str, name: &str) -> String {
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
fn request_parameters(rng: &mut Rng, name: &str, account: &str) -> Option<String> {
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
            let action = if rng.u32(0..10) < 3 { "SUPPRESS" } else { "NONE" };
            format!(
                r#"{{"action":"{action}","name":"filter-{}","filterCriteria":{{"severity":[{{"comparison":"EQUALS","value":"{sev}"}}]}}}}"#,
                rng.u32(1..500)
            )
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
        "Disable" | "Enable" => format!(
            r#"{{"accountIds":["{account}"],"resourceTypes":["{}"]}}"#,
            ["EC2", "ECR", "LAMBDA", "LAMBDA_CODE"][rng.usize(0..4)]
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
fn build(
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

#[cfg(test)]
mod tests {
    use super::*;
    use trailq_events::record::parse_record;

    fn config() -> GeneratorConfig {
        GeneratorConfig {
            now_micros: trailq_events::time::parse_timestamp_micros("2026-11-24T00:00:00Z")
                .unwrap(),
            days: 30,
            events_per_day: 300,
            ..GeneratorConfig::default()
        }
    }

    #[test]
    fn the_same_config_gives_the_same_records() {
        let a = Generator::new(config());
        let b = Generator::new(config());
        for d in [0, 7, 29] {
            let (x, y) = (a.day(d), b.day(d));
            assert_eq!(x.len(), y.len());
            assert!(x.iter().zip(&y).all(|(x, y)| x.json == y.json));
        }
        let other = Generator::new(GeneratorConfig {
            seed: 2,
            ..config()
        });
        assert_ne!(a.day(3)[0].json, other.day(3)[0].json);
    }

    #[test]
    fn a_later_now_keeps_the_shared_past() {
        let earlier = Generator::new(config());
        let later = Generator::new(GeneratorConfig {
            now_micros: config().now_micros + 2 * MICROS_PER_DAY + 3_600_000_000,
            ..config()
        });
        let ids = |g: &Generator| -> std::collections::BTreeSet<(i64, String)> {
            (0..g.day_count())
                .flat_map(|d| g.day(d))
                .filter(|e| {
                    !e.json.contains("mallory") && e.event_name != "EnableDelegatedAdminAccount"
                })
                .map(|e| (e.time_micros, e.event_id))
                .collect()
        };
        let (a, b) = (ids(&earlier), ids(&later));
        let shared_from = later.start_micros();
        let a_shared: std::collections::BTreeSet<_> = a
            .iter()
            .filter(|(t, _)| *t >= shared_from)
            .cloned()
            .collect();
        assert!(!a_shared.is_empty());
        assert!(
            a_shared.is_subset(&b),
            "the days both cover hold the same events"
        );
        assert!(
            b.iter().any(|(t, _)| *t >= config().now_micros),
            "and the later one has new ones"
        );
    }

    #[test]
    fn records_parse_and_cover_the_sources_planted_events_and_errors() {
        let g = Generator::new(config());
        assert_eq!(g.day_count(), 30, "now is midnight: 30 whole days");
        let events: Vec<_> = (0..30).flat_map(|d| g.day(d)).collect();
        assert_eq!(events.len(), 30 * 300 + PLANTED.len());
        let mut sources = std::collections::HashSet::new();
        let mut errors = 0;
        for e in &events {
            let row = parse_record(&e.json).unwrap_or_else(|err| panic!("{err}: {}", e.json));
            assert_eq!(row.event_time_micros, e.time_micros);
            serde_json::from_str::<serde_json::Value>(&e.json).unwrap();
            sources.insert(e.event_source);
            errors += usize::from(e.json.contains("\"errorCode\""));
        }
        for s in INSPECTOR_SOURCES {
            assert!(sources.contains(s), "{s}");
        }
        assert!(sources.len() > 5, "noise from other services");
        assert!(errors > 20, "{errors}");
        let suppress = events
            .iter()
            .filter(|e| e.event_name == "CreateFilter" && e.json.contains("hide-critical-ec2"))
            .count();
        assert_eq!(suppress, 1);
    }
}
