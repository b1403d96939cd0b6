//! The emulator's data set: deterministic, seeded, realistic Amazon Inspector activity.
//!
//! All three Inspector event sources with their real operation names (reference §7) in realistic
//! proportions — reads dominate; suppression filters, Disable, delegated-admin and organization
//! changes are rare — called by IAM users, assumed roles, AWS services, Identity Center users and
//! root, with AccessDenied/ValidationException errors, over several accounts and regions, plus
//! noise from other services (global ones in us-east-1). Ordinary calls carry what a well-run
//! organization puts in them (narrow suppression filters, its own keys and buckets, only code
//! scanning switched off), so that `trailq detect` rates nothing ordinary above low. A few
//! suspicious events are planted at fixed offsets before `now` so that tests, saved queries and
//! detections have something certain to find.
//! The same config always yields the same records, byte for byte.

use fastrand::Rng;

mod record;
mod story;

pub use story::{FOREIGN_ACCOUNT, PLANTED, Planted};

pub(crate) use record::uuid;
use record::{access_denied, build, request_parameters};

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
    // Removing the delegated administrator is not ordinary activity (the detections rate it
    // high); it happens once in an organization's life, not every few weeks.
    ("EnableDelegatedAdminAccount", 1, false),
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
            let time = plant.time(cfg.now_micros);
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
