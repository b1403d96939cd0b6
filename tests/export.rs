//! `trailq export` (the real binary) against the emulator, with CloudTrail's limits on.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

use trailq_emulator::generate::{GeneratorConfig, INSPECTOR_SCAN, INSPECTOR_SOURCES};
use trailq_emulator::lake::LakeTiming;
use trailq_emulator::limits::Limits;
use trailq_emulator::server::KeyAccess;
use trailq_emulator::store::GroundTruthEvent;
use trailq_emulator::{DataSource, Emulator, EmulatorConfig};
use trailq_events::time::format_micros;

use crate::util::{aws_cli, read_files, stderr, stdout, strings, trailq_command};

const A1: &str = "111122223333";
const A2: &str = "444455556666";
const DAY: i64 = 86_400_000_000;
const REGIONS: [&str; 2] = ["us-east-1", "eu-west-1"];

/// The emulator's clock starts at the real time: the exporter fixes its window (and Event
/// history's 90-day reach) from the real clock, as it would against AWS.
fn real_now() -> i64 {
    let now = chrono::Utc::now().timestamp_micros();
    now - now.rem_euclid(1_000_000)
}

fn emulator(now: i64, faults: &str) -> Emulator {
    Emulator::spawn(EmulatorConfig {
        data: DataSource::Generated(GeneratorConfig {
            seed: 11,
            now_micros: now,
            days: 95,
            events_per_day: 40,
            accounts: vec![A1.into(), A2.into()],
            regions: REGIONS.map(String::from).to_vec(),
            noise: 0.3,
        }),
        keys: vec![
            ("AKIAEXPORTACCOUNT001".into(), KeyAccess::Account(A1.into())),
            ("AKIAEXPORTACCOUNT002".into(), KeyAccess::Account(A2.into())),
            ("AKIAEXPORTDENIED0001".into(), KeyAccess::Deny),
        ],
        disabled_regions: vec![(A2.into(), "ap-east-1".into())],
        limits: Limits::AWS,
        lake: LakeTiming::default(),
        faults: faults.into(),
        ..EmulatorConfig::default()
    })
    .unwrap()
}

/// An AWS configuration with profiles `one`, `two` (the two accounts) and `denied`.
fn aws_config(dir: &Path) {
    std::fs::write(
        dir.join("config"),
        "[profile one]\nregion = us-east-1\n[profile two]\nregion = eu-west-1\n[profile denied]\nregion = us-east-1\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("credentials"),
        "[one]\naws_access_key_id = AKIAEXPORTACCOUNT001\naws_secret_access_key = x\n\
         [two]\naws_access_key_id = AKIAEXPORTACCOUNT002\naws_secret_access_key = x\n\
         [denied]\naws_access_key_id = AKIAEXPORTDENIED0001\naws_secret_access_key = x\n",
    )
    .unwrap();
}

fn export_command(emulator: &Emulator, home: &Path, args: &[&str]) -> Command {
    let mut c = trailq_command();
    c.arg("export")
        .args(args)
        .args(["--endpoint-url", &emulator.endpoint_url()])
        .env("AWS_CONFIG_FILE", home.join("config"))
        .env("AWS_SHARED_CREDENTIALS_FILE", home.join("credentials"));
    c
}

fn export(emulator: &Emulator, home: &Path, args: &[&str]) -> Output {
    export_command(emulator, home, args).output().unwrap()
}

/// The window the tests export: 89 days back (clear of the 90-day edge, which moves while
/// the test runs) to the emulator's clock at start.
fn window_args(out: &Path, now: i64) -> Vec<String> {
    vec![
        "--out".into(),
        out.display().to_string(),
        "--start".into(),
        format_micros(now - 89 * DAY),
        "--end".into(),
        format_micros(now),
        "--profile".into(),
        "one".into(),
        "--profile".into(),
        "two".into(),
        "--region".into(),
        "us-east-1".into(),
        "--region".into(),
        "eu-west-1".into(),
    ]
}

fn inspector_truth(truth: &[GroundTruthEvent], start: i64, end: i64) -> BTreeSet<String> {
    truth
        .iter()
        .filter(|e| INSPECTOR_SOURCES.contains(&e.event_source.as_deref().unwrap_or_default()))
        .filter(|e| (start..=end).contains(&e.event_time_micros))
        .map(|e| e.event_id.clone())
        .collect()
}

/// The dataset's eventIDs, asserting each appears once.
fn exported_ids(out: &Path) -> BTreeSet<String> {
    let ids: Vec<String> = strings(out, "eventID").into_iter().flatten().collect();
    let set: BTreeSet<String> = ids.iter().cloned().collect();
    assert_eq!(
        set.len(),
        ids.len(),
        "an eventID appears once in the dataset"
    );
    set
}

/// Compares ID sets, describing the difference instead of printing thousands of IDs.
fn assert_same(got: &BTreeSet<String>, expected: &BTreeSet<String>, truth: &[GroundTruthEvent]) {
    let describe = |ids: Vec<&String>| -> Vec<String> {
        ids.iter()
            .take(5)
            .map(|id| match truth.iter().find(|e| &e.event_id == *id) {
                Some(e) => format!(
                    "{} {} {} {:?} {}",
                    e.account, e.region, e.event_time, e.event_name, id
                ),
                None => format!("{id} (not held by the emulator)"),
            })
            .collect()
    };
    let missing: Vec<&String> = expected.difference(got).collect();
    let extra: Vec<&String> = got.difference(expected).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "{} missing, e.g. {:#?}\n{} unexpected, e.g. {:#?}",
        missing.len(),
        describe(missing.clone()),
        extra.len(),
        describe(extra.clone())
    );
}

/// trailq's account of throttling agrees with the server's: every throttle the emulator answered
/// is one trailq counted (and retried), and no request failed otherwise. (The emulator's limiter
/// already holds every caller to 2/s, so asserting that would test the emulator, not trailq.)
fn assert_throttles_accounted(emulator: &Emulator, summary: &Value) {
    let rates: Vec<_> = emulator
        .rates()
        .into_iter()
        .filter(|r| r.operation == "LookupEvents")
        .collect();
    assert!(!rates.is_empty());
    let server: u64 = rates.iter().map(|r| r.throttled).sum();
    assert!(
        rates.iter().all(|r| r.accepted > 0 && r.faulted == 0),
        "{rates:?}"
    );
    let counted: u64 = summary["streams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["throttles"].as_u64().unwrap())
        .sum();
    assert_eq!(
        counted, server,
        "trailq's summary vs the emulator: {rates:?}"
    );
}

#[test]
fn export_gets_the_ground_truth_of_every_account_and_region_at_the_limit() {
    let now = real_now();
    let emulator = emulator(now, "");
    let home = tempfile::tempdir().unwrap();
    aws_config(home.path());
    let out = home.path().join("events");
    let mut args = window_args(&out, now);
    args.extend(["--json".into(), "--slice".into(), "20d".into()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let o = export(&emulator, home.path(), &args);
    assert!(o.status.success(), "{}", stderr(&o));
    let summary: Value = serde_json::from_str(&stdout(&o)).unwrap();
    let truth = emulator.ground_truth();
    let expected = inspector_truth(&truth, now - 89 * DAY, now);
    assert_same(&exported_ids(&out), &expected, &truth);
    assert_eq!(summary["eventsWritten"], expected.len());
    assert_eq!(summary["streams"].as_array().unwrap().len(), 2 * 2 * 3);
    let accounts: BTreeSet<&str> = summary["places"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["account"].as_str())
        .collect();
    assert_eq!(accounts, BTreeSet::from([A1, A2]));
    assert_throttles_accounted(&emulator, &summary);

    // The same command again (an explicit window: asked again in full) adds no row.
    let o = export(&emulator, home.path(), &args);
    assert!(o.status.success(), "{}", stderr(&o));
    let again: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(again["eventsWritten"], 0);
    assert_eq!(exported_ids(&out), expected);

    // The AWS CLI, over the same emulator, sees the same events for one Region and source.
    let o = aws_cli(
        &emulator.endpoint_url(),
        "AKIAEXPORTACCOUNT002",
        "eu-west-1",
        &[
            "cloudtrail",
            "lookup-events",
            "--lookup-attributes",
            &format!("AttributeKey=EventSource,AttributeValue={INSPECTOR_SCAN}"),
            "--start-time",
            &format_micros(now - 89 * DAY),
            "--end-time",
            &format_micros(now),
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let cli: BTreeSet<String> = serde_json::from_str::<Value>(&stdout(&o)).unwrap()["Events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["EventId"].as_str().unwrap().to_owned())
        .collect();
    let ours: BTreeSet<String> = emulator
        .ground_truth()
        .iter()
        .filter(|e| e.account == A2 && e.region == "eu-west-1")
        .filter(|e| e.event_source.as_deref() == Some(INSPECTOR_SCAN))
        .filter(|e| expected.contains(&e.event_id))
        .map(|e| e.event_id.clone())
        .collect();
    assert!(!cli.is_empty());
    assert_eq!(cli, ours);
    assert!(cli.is_subset(&exported_ids(&out)));
}

#[test]
fn export_survives_throttling_bursts_server_errors_resets_and_expired_tokens() {
    let faults = "throttle:4@0.05/LookupEvents,503@0.05,500@every:13,reset@0.04,expired-token@0.1,slow:300ms@0.02";
    let now = real_now();
    let emulator = emulator(now, faults);
    let home = tempfile::tempdir().unwrap();
    aws_config(home.path());
    let out = home.path().join("events");
    let mut args = window_args(&out, now);
    args.extend(["--json".into(), "--slice".into(), "7d".into()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let o = export(&emulator, home.path(), &args);
    assert!(o.status.success(), "{}", stderr(&o));
    let summary: Value = serde_json::from_str(&stdout(&o)).unwrap();
    let total = |field: &str| -> u64 {
        summary["streams"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s[field].as_u64().unwrap())
            .sum()
    };
    eprintln!(
        "under faults: {} retries, {} throttles, {} token restarts",
        total("retries"),
        total("throttles"),
        total("tokenRestarts")
    );
    assert!(total("retries") > 0 && total("throttles") > 0 && total("tokenRestarts") > 0);
    let truth = emulator.ground_truth();
    assert_same(
        &exported_ids(&out),
        &inspector_truth(&truth, now - 89 * DAY, now),
        &truth,
    );
}

#[test]
fn an_export_killed_at_random_points_resumes_to_exactly_the_ground_truth() {
    let now = real_now();
    let emulator = emulator(now, "");
    let home = tempfile::tempdir().unwrap();
    aws_config(home.path());
    let out = home.path().join("events");
    let mut args = window_args(&out, now);
    args.extend(["--quiet".into(), "--slice".into(), "5d".into()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    // Killed until one run finishes before its random moment comes (at most 29 kills).
    let (last, kills) = crate::util::kill_at_random_then_finish(
        || export_command(&emulator, home.path(), &args),
        29,
        500..4000,
        5,
        // Whatever is visible between runs is whole Parquet (read_files asserts it).
        || drop(read_files(&out)),
    );
    assert!(last.status.success(), "{}", stderr(&last));
    assert!(kills > 0);
    let truth = emulator.ground_truth();
    assert_same(
        &exported_ids(&out),
        &inspector_truth(&truth, now - 89 * DAY, now),
        &truth,
    );
}

#[test]
fn since_last_exports_only_what_is_new() {
    let home = tempfile::tempdir().unwrap();
    aws_config(home.path());
    let out = home.path().join("events");
    let now = real_now();
    let first = emulator(now, "");
    let base = [
        "--out",
        out.to_str().unwrap(),
        "--profile",
        "one",
        "--region",
        "us-east-1",
        "--quiet",
    ];
    let o = export(
        &first,
        home.path(),
        &[&base[..], &["--since-last"]].concat(),
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("no finished export"), "{}", stderr(&o));
    let (start, end) = (now - 30 * DAY, now);
    let window = [
        "--start",
        &format_micros(start),
        "--end",
        &format_micros(end),
    ];
    let o = export(&first, home.path(), &[&base[..], &window].concat());
    assert!(o.status.success(), "{}", stderr(&o));
    drop(first);

    // Two days later, the same account has new activity.
    let later = now + 2 * DAY;
    let second = emulator(later, "");
    let o = export(
        &second,
        home.path(),
        &[
            &base[..],
            &["--since-last", "--end", &format_micros(later), "--json"],
        ]
        .concat(),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let summary: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(
        summary["windowStart"],
        format_micros(end - 3_600_000_000),
        "from the last end, with an hour's overlap"
    );
    let truth = second.ground_truth();
    // Planted events move with the clock (and so are other events each time): compare the rest.
    let planted: Vec<&str> = trailq_emulator::generate::PLANTED
        .iter()
        .map(|p| p.name)
        .collect();
    let expected: BTreeSet<String> = truth
        .iter()
        .filter(|e| e.account == A1 && e.region == "us-east-1")
        .filter(|e| INSPECTOR_SOURCES.contains(&e.event_source.as_deref().unwrap_or_default()))
        .filter(|e| (start..=later).contains(&e.event_time_micros))
        .filter(|e| !planted.contains(&e.event_name.as_deref().unwrap_or_default()))
        .map(|e| e.event_id.clone())
        .collect();
    let all_ids = exported_ids(&out);
    let got: BTreeSet<String> = strings(&out, "eventID")
        .into_iter()
        .zip(strings(&out, "eventName"))
        .filter(|(_, name)| !planted.contains(&name.as_deref().unwrap_or_default()))
        .filter_map(|(id, _)| id)
        .collect();
    assert!(got.is_subset(&all_ids));
    assert_same(&got, &expected, &truth);
    assert!(
        summary["eventsReceived"].as_u64().unwrap() < expected.len() as u64 / 3,
        "only the new part was fetched"
    );
}

#[test]
fn export_errors_are_one_line_with_what_to_do() {
    let now = real_now();
    let emulator = emulator(now, "");
    let home = tempfile::tempdir().unwrap();
    aws_config(home.path());
    let out = home.path().join("events");
    let out_s = out.to_str().unwrap();

    let o = export(
        &emulator,
        home.path(),
        &["--out", out_s, "--profile", "denied", "--quiet"],
    );
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert!(
        e.contains("AccessDeniedException") && e.contains("cloudtrail:LookupEvents"),
        "{e}"
    );

    let o = export(
        &emulator,
        home.path(),
        &["--out", out_s, "--profile", "nosuch", "--quiet"],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("no AWS credentials for profile `nosuch`"),
        "{}",
        stderr(&o)
    );

    let o = export(
        &emulator,
        home.path(),
        &[
            "--out",
            out_s,
            "--profile",
            "one",
            "--start",
            "2026-11-20T00:00:00Z",
            "--end",
            "2026-11-01T00:00:00Z",
            "--quiet",
        ],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("before it starts"), "{}", stderr(&o));

    // A Region not enabled for the account is skipped with a warning; the rest is exported.
    let o = export(
        &emulator,
        home.path(),
        &[
            "--out",
            out_s,
            "--profile",
            "two",
            "--region",
            "ap-east-1",
            "--region",
            "eu-west-1",
            "--start",
            &format_micros(now - 10 * DAY),
            "--end",
            &format_micros(now),
            "--quiet",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("warning: ap-east-1 is not enabled for two"),
        "{}",
        stderr(&o)
    );
    assert!(!exported_ids(&out).is_empty());
}

#[test]
fn the_demo_exports_three_accounts_and_points_at_the_planted_activity() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("demo");
    let o = crate::util::trailq([
        "demo",
        "--events-per-day",
        "20",
        "--quiet",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    // The saved queries it runs on the export find the planted newcomer and the Disable.
    let first_seen = text
        .split("$ trailq queries run first-seen-principals")
        .nth(1)
        .unwrap_or_else(|| panic!("first-seen-principals in {text}"));
    assert!(first_seen.contains(":user/mallory"), "{text}");
    let disabled = text
        .split("$ trailq queries run inspector-disabled")
        .nth(1)
        .unwrap_or_else(|| panic!("inspector-disabled in {text}"));
    assert!(disabled.contains("| Disable "), "{text}");
    // It ends with the report, written beside the dataset, and says where.
    let report = dir.path().join("demo-report.html");
    assert!(
        text.contains(&format!("is in `{}`", report.display())),
        "{text}"
    );
    let page = std::fs::read_to_string(&report).unwrap();
    assert!(page.contains("arn:aws:iam::111122223333:user/mallory"));
    assert!(page.contains("data-severity=\"critical\""));
    let command = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("duckdb -c "))
        .unwrap_or_else(|| panic!("the DuckDB one-liner: {text}"));
    // An Identity Center user's suppression filter (such a user has no ARN), added to the
    // export: the one-liner must still say who made it.
    let ic_user = "94482488-3041-7026-18f5-1e2ab4e5ea10";
    let record = format!(
        r#"{{"eventVersion":"1.09","userIdentity":{{"type":"IdentityCenterUser","accountId":"111122223333","onBehalfOf":{{"userId":"{ic_user}","identityStoreArn":"arn:aws:identitystore::111122223333:identitystore/d-1234567890"}},"credentialId":"EXAMPLEcredentialId"}},"eventTime":"2026-11-20T09:30:00Z","eventSource":"inspector2.amazonaws.com","eventName":"CreateFilter","awsRegion":"us-east-1","sourceIPAddress":"198.51.100.7","userAgent":"aws-internal/3","requestParameters":{{"action":"SUPPRESS","name":"ic-user-filter"}},"responseElements":null,"requestID":"5d6a3e0c-1b7e-4d8f-9a51-0c2f8e7d6b41","eventID":"0b1e2f3a-4c5d-4e6f-8a7b-9c0d1e2f3a4b","readOnly":false,"eventType":"AwsApiCall","managementEvent":true,"recipientAccountId":"111122223333","eventCategory":"Management"}}"#
    );
    let record_file = dir.path().join("ic-user.json");
    std::fs::write(&record_file, record).unwrap();
    let o = crate::util::trailq([
        "convert",
        record_file.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--quiet",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    // The printed command, run as printed, finds the planted suppression filter and Disable.
    let sql = command.trim_matches('"').replace("\\\"", "\"");
    let rows = crate::util::duckdb(&sql);
    assert!(
        rows.iter().any(|r| r["eventName"] == "CreateFilter"
            && r["who"]
                .as_str()
                .is_some_and(|a| a.ends_with("user/mallory"))),
        "{rows:?}"
    );
    assert!(rows.iter().any(|r| r["eventName"] == "Disable"), "{rows:?}");
    assert!(
        rows.iter()
            .any(|r| r["eventName"] == "CreateFilter" && r["who"] == ic_user),
        "{rows:?}"
    );
    // Every row names who did it (the saved queries' principal expression, not only the ARN).
    assert!(rows.iter().all(|r| r["who"].is_string()), "{rows:?}");
    let accounts: BTreeSet<String> = strings(&out, "recipientAccountId")
        .into_iter()
        .flatten()
        .collect();
    assert_eq!(accounts.len(), 3);
}

#[test]
fn via_lake_exports_the_same_events_into_the_same_dataset() {
    let now = real_now();
    let emulator = emulator(now, "");
    let home = tempfile::tempdir().unwrap();
    aws_config(home.path());
    let out = home.path().join("events");
    let eds = emulator.event_data_stores()[0].arn.clone();
    let (start, end) = (now - 60 * DAY, now);
    let o = export(
        &emulator,
        home.path(),
        &[
            "--via",
            "lake",
            "--eds",
            &eds,
            "--profile",
            "one",
            "--out",
            out.to_str().unwrap(),
            "--start",
            &format_micros(start),
            "--end",
            &format_micros(end),
            "--slice",
            "30d",
            "--json",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let summary: Value = serde_json::from_str(&stdout(&o)).unwrap();
    // An organization store: every account and Region, Inspector's three sources.
    let truth = emulator.ground_truth();
    let expected = inspector_truth(&truth, start, end);
    assert_same(&exported_ids(&out), &expected, &truth);
    assert_eq!(summary["eventsWritten"], expected.len());
    // The rows are the event schema, as from Event history: DuckDB sees the same columns.
    let rows = crate::util::duckdb(&format!(
        "SELECT count(*) AS n, count(DISTINCT recipientAccountId) AS accounts, min(eventTime) >= TIMESTAMPTZ '{}' AS in_window FROM {}",
        format_micros(start),
        crate::util::dataset_sql(&out)
    ));
    assert_eq!(rows[0]["accounts"], 2);
    assert_eq!(rows[0]["in_window"], true);
}
