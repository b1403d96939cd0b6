//! The emulator as an organization (`--org`), checked with the AWS CLI as an independent client:
//! Organizations ListAccounts (paged), STS AssumeRole whose credentials act as the member and
//! expire, a member that refuses the role, and Account ListRegions with a disabled Region.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use serde_json::Value;
use trailq_events::time::format_micros;

use trailq_emulator::generate::GeneratorConfig;
use trailq_emulator::limits::Limits;
use trailq_emulator::org::OrgConfig;
use trailq_emulator::{DataSource, Emulator, EmulatorConfig};

use crate::util::{aws_cli, aws_cli_as, stderr, stdout};

const DAY: i64 = 86_400_000_000;

#[test]
fn the_aws_cli_gets_the_accounts_and_working_credentials_from_the_emulator_organization() {
    // 25 accounts: more than one ListAccounts page (20).
    let accounts: Vec<String> = (0..25)
        .map(|i| format!("{:012}", 210_000_000_000u64 + i))
        .collect();
    // The first is the management account, and the emulator's default for unknown keys.
    let (member, refusing) = (&accounts[1], &accounts[2]);
    let emulator = Emulator::spawn(EmulatorConfig {
        data: DataSource::Generated(GeneratorConfig {
            days: 2,
            events_per_day: 400,
            accounts: accounts.clone(),
            regions: vec!["us-east-1".into(), "eu-west-1".into()],
            ..GeneratorConfig::default()
        }),
        disabled_regions: vec![(member.clone(), "eu-west-1".into())],
        limits: Limits::OFF,
        org: Some(OrgConfig {
            deny_assume_role: vec![refusing.clone()],
            credential_lifetime: Duration::from_secs(4),
        }),
        ..EmulatorConfig::default()
    })
    .unwrap();
    let url = emulator.endpoint_url();
    let json = |o: &std::process::Output| -> Value {
        assert!(o.status.success(), "{}", stderr(o));
        serde_json::from_str(&stdout(o)).unwrap()
    };

    // The management account (the emulator's default for unknown keys) lists every account.
    let listed = json(&aws_cli(
        &url,
        "AKIAMANAGEMENT",
        "us-east-1",
        &["organizations", "list-accounts"],
    ));
    let ids: Vec<&str> = listed["Accounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["Id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, accounts.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(
        listed["Accounts"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["Status"] == "ACTIVE")
    );

    // AssumeRole into a member: its credentials act as the member.
    let role = |account: &str| format!("arn:aws:iam::{account}:role/OrganizationAccountAccessRole");
    let assumed = json(&aws_cli(
        &url,
        "AKIAMANAGEMENT",
        "us-east-1",
        &[
            "sts",
            "assume-role",
            "--role-arn",
            &role(member),
            "--role-session-name",
            "trailq-test",
        ],
    ));
    let creds = &assumed["Credentials"];
    let as_member = (
        creds["AccessKeyId"].as_str().unwrap(),
        creds["SecretAccessKey"].as_str().unwrap(),
        creds["SessionToken"].as_str(),
    );
    assert!(as_member.0.starts_with("ASIA"));
    assert_eq!(
        assumed["AssumedRoleUser"]["Arn"],
        format!("arn:aws:sts::{member}:assumed-role/OrganizationAccountAccessRole/trailq-test")
    );
    let events = json(&aws_cli_as(
        &url,
        as_member,
        "us-east-1",
        &["cloudtrail", "lookup-events", "--max-items", "5"],
    ));
    let events = events["Events"].as_array().unwrap();
    assert!(!events.is_empty());
    for e in events {
        let record: Value = serde_json::from_str(e["CloudTrailEvent"].as_str().unwrap()).unwrap();
        assert_eq!(record["recipientAccountId"], member.as_str());
    }
    // Its Regions: eu-west-1 is not enabled for it.
    let regions = json(&aws_cli_as(
        &url,
        as_member,
        "us-east-1",
        &["account", "list-regions"],
    ));
    assert_eq!(
        regions["Regions"],
        serde_json::json!([
            { "RegionName": "us-east-1", "RegionOptStatus": "ENABLED_BY_DEFAULT" },
            { "RegionName": "eu-west-1", "RegionOptStatus": "DISABLED" }
        ])
    );
    // A member cannot list the organization.
    let o = aws_cli_as(
        &url,
        as_member,
        "us-east-1",
        &["organizations", "list-accounts"],
    );
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("AccessDeniedException"),
        "{}",
        stderr(&o)
    );

    // The refusing member, named.
    let o = aws_cli(
        &url,
        "AKIAMANAGEMENT",
        "us-east-1",
        &[
            "sts",
            "assume-role",
            "--role-arn",
            &role(refusing),
            "--role-session-name",
            "trailq-test",
        ],
    );
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("(AccessDenied)") && stderr(&o).contains(refusing.as_str()),
        "{}",
        stderr(&o)
    );

    // After their lifetime the credentials are refused as expired.
    let expires =
        chrono::DateTime::parse_from_rfc3339(creds["Expiration"].as_str().unwrap()).unwrap();
    let now = chrono::DateTime::from_timestamp_micros(emulator.now_micros()).unwrap();
    assert!(
        (expires.timestamp() - now.timestamp()) <= 4,
        "{expires} vs {now}"
    );
    std::thread::sleep(Duration::from_millis(4_500));
    let o = aws_cli_as(
        &url,
        as_member,
        "us-east-1",
        &["cloudtrail", "lookup-events", "--max-items", "1"],
    );
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("ExpiredTokenException"),
        "{}",
        stderr(&o)
    );
}

/// The emulator as an organization of `accounts` (the first is the management account) at
/// CloudTrail's own limits, 3 days of generated events, member credentials lasting 3 s.
fn organization(accounts: &[String], regions: &[&str], refusing: &[String], now: i64) -> Emulator {
    Emulator::spawn(EmulatorConfig {
        data: DataSource::Generated(GeneratorConfig {
            seed: 14,
            now_micros: now,
            days: 3,
            events_per_day: 4_000,
            accounts: accounts.to_vec(),
            regions: regions.iter().map(|r| (*r).to_owned()).collect(),
            noise: 0.3,
        }),
        limits: Limits::AWS,
        org: Some(OrgConfig {
            deny_assume_role: refusing.to_vec(),
            credential_lifetime: Duration::from_secs(3),
        }),
        ..EmulatorConfig::default()
    })
    .unwrap()
}

/// `trailq export --org --all-regions` into `out` over the last two days, as the management
/// account.
fn export_org(
    emulator: &Emulator,
    out: impl AsRef<std::ffi::OsStr>,
    now: i64,
    extra: &[&str],
) -> Command {
    let mut command = crate::util::trailq_command();
    command
        .args(["export", "--org", "--all-regions", "--out"])
        .arg(out)
        .args(["--start", &format_micros(now - 2 * DAY)])
        .args(["--end", &format_micros(now)])
        .args(extra)
        .env("AWS_ACCESS_KEY_ID", "AKIAMANAGEMENT")
        .env("AWS_SECRET_ACCESS_KEY", "secret")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ENDPOINT_URL", emulator.endpoint_url());
    command
}

/// The Inspector events of the last two days in the ground truth, but the refusing accounts'.
fn expected(emulator: &Emulator, refusing: &[String], now: i64) -> BTreeSet<String> {
    emulator
        .ground_truth()
        .iter()
        .filter(|e| !refusing.contains(&e.account))
        .filter(|e| {
            e.event_source
                .as_deref()
                .is_some_and(|s| trailq_events::cloudtrail::INSPECTOR_SOURCES.contains(&s))
        })
        .filter(|e| (now - 2 * DAY..=now).contains(&e.event_time_micros))
        .map(|e| e.event_id.clone())
        .collect()
}

fn exported(out: &Path) -> BTreeSet<String> {
    crate::util::strings(out, "eventID")
        .into_iter()
        .flatten()
        .collect()
}

fn now_seconds() -> i64 {
    let t = chrono::Utc::now().timestamp_micros();
    t - t.rem_euclid(1_000_000)
}

/// `trailq export --org` against the emulator as an organization of 12 accounts × 3 Regions at
/// CloudTrail's own limits: one member refuses the role, and member credentials last 3 s, much
/// less than the export.
#[test]
fn an_organization_export_gets_every_member_but_the_refusing_one_at_each_ones_pace() {
    let now = now_seconds();
    let accounts: Vec<String> = (0..12)
        .map(|i| format!("{:012}", 310_000_000_000u64 + i))
        .collect();
    let regions = ["us-east-1", "eu-west-1", "ap-southeast-2"];
    let refusing = accounts[5].clone();
    let emulator = organization(&accounts, &regions, std::slice::from_ref(&refusing), now);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("org");
    let o = export_org(&emulator, &out, now, &["--json"])
        .output()
        .unwrap();
    // Something was left out: not a success, but the others landed.
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains(&format!("account {refusing} left out: cannot assume arn:aws:iam::{refusing}:role/OrganizationAccountAccessRole: AccessDenied")),
        "{err}"
    );
    let expected = expected(&emulator, std::slice::from_ref(&refusing), now);
    let got = exported(&out);
    assert_eq!(
        got.len(),
        expected.len(),
        "{} exported, {} expected",
        got.len(),
        expected.len()
    );
    assert!(
        got == expected,
        "the exported eventIDs are the ground truth of the 11 members"
    );
    // --json gives every stream: 11 accounts × 3 Regions × 3 event sources.
    let summary: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(summary["streams"].as_array().unwrap().len(), 11 * 3 * 3);
    // Each account-Region at its own 2/s, and none throttled.
    let rates = emulator.rates();
    let lookups: Vec<_> = rates
        .iter()
        .filter(|r| r.operation == "LookupEvents")
        .collect();
    assert_eq!(lookups.len(), 11 * regions.len(), "{lookups:?}");
    assert!(
        lookups
            .iter()
            .all(|r| r.throttled == 0 && r.max_in_any_second <= 2),
        "{lookups:?}"
    );
    // The member sessions expired during the export and were renewed.
    let org = emulator.organization().unwrap();
    let renewed = accounts[1..]
        .iter()
        .filter(|a| **a != refusing)
        .filter(|a| org.credentials_issued(a) > 2)
        .count();
    assert!(renewed > 0, "credentials were renewed as they expired");
}

/// An organization export killed with SIGKILL at random points, then run again with the same
/// command until it finishes, holds exactly the members' events; the summary table is one row
/// per account.
#[test]
fn an_organization_export_killed_at_random_points_resumes_to_exactly_the_ground_truth() {
    let now = now_seconds();
    let accounts: Vec<String> = (0..6)
        .map(|i| format!("{:012}", 320_000_000_000u64 + i))
        .collect();
    let regions = ["us-east-1", "eu-west-1"];
    let emulator = organization(&accounts, &regions, &[], now);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("org");
    // Four kills at random points (the first run's fan-out included), then to the end.
    let (last, kills) = crate::util::kill_at_random_then_finish(
        || export_org(&emulator, &out, now, &["--slice", "6h"]),
        4,
        1500..5000,
        14,
        || {},
    );
    assert!(last.status.success(), "{}", stderr(&last));
    assert!(kills > 0);
    assert!(
        stderr(&last).contains("resuming the export started"),
        "{}",
        stderr(&last)
    );
    let got = exported(&out);
    let expected = expected(&emulator, &[], now);
    assert_eq!(got.len(), expected.len());
    assert!(
        got == expected,
        "the exported eventIDs are the ground truth"
    );
    // 6 accounts × 2 Regions × 3 sources = 36 streams: a row per account, not per stream.
    let table = stdout(&last);
    let rows: Vec<&str> = table
        .lines()
        .filter(|l| accounts.iter().any(|a| l.starts_with(a.as_str())))
        .collect();
    assert_eq!(rows.len(), accounts.len(), "{table}");
    assert!(table.starts_with("account "), "{table}");
    assert!(
        table.contains("account-Regions with ≥ 10 requests: requests/s of the 2/s allowed"),
        "{table}"
    );
}

/// `--org --out s3://…`: the members' events land in the bucket (moto), and a second run finds
/// them there and adds nothing.
#[test]
fn an_organization_export_to_s3_lands_in_the_bucket_and_a_rerun_adds_nothing() {
    let now = now_seconds();
    let accounts: Vec<String> = (0..3)
        .map(|i| format!("{:012}", 330_000_000_000u64 + i))
        .collect();
    let emulator = organization(&accounts, &["us-east-1", "eu-west-1"], &[], now);
    let moto = crate::s3::moto();
    crate::s3::aws(&moto.url, &["s3", "mb", "s3://org-datasets"]);
    let out = "s3://org-datasets/inspector/";
    let run = || {
        let o = export_org(&emulator, out, now, &["--json"])
            .env("AWS_ENDPOINT_URL_S3", &moto.url)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
        serde_json::from_slice::<serde_json::Value>(&o.stdout).unwrap()
    };
    let first = run();
    assert_eq!(first["dataset"], out);
    assert!(
        first["published"]["filesUp"].as_u64().unwrap() > 0,
        "{first}"
    );
    let back = crate::s3::copy_back(&moto.url, out);
    let expected = expected(&emulator, &[], now);
    assert!(!expected.is_empty());
    assert!(
        exported(back.path()) == expected,
        "the bucket holds the ground truth"
    );
    let again = run();
    assert_eq!(again["eventsWritten"], 0, "{again}");
    assert_eq!(
        again["duplicatesDropped"], again["eventsReceived"],
        "{again}"
    );
    let back = crate::s3::copy_back(&moto.url, out);
    let rows: usize = crate::util::read_files(back.path())
        .iter()
        .flat_map(|(_, batches)| batches.iter().map(|b| b.num_rows()))
        .sum();
    assert_eq!(rows, expected.len(), "nothing twice");
}
