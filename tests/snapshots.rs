//! What users read, as they read it: every `--help`, the convert and export summaries, a query's table and the
//! main error messages, compared whole with the snapshots in `tests/snapshots/` (insta). Times,
//! rates, sizes and temporary paths are filtered out; everything else must match to the byte.
//! After an intended change: `INSTA_UPDATE=always cargo test snapshots`, then review the diff.

use std::process::Output;

use serde_json::Value;
use trailq_emulator::generate::{Generator, GeneratorConfig};
use trailq_emulator::limits::Limits;
use trailq_emulator::{DataSource, Emulator, EmulatorConfig};
use trailq_events::time::{format_micros, parse_timestamp_micros};

use crate::util::{corpus, stderr, trailq, trailq_command};

/// Stdout, stderr and the exit status of one run, as one text.
fn shown(o: &Output) -> String {
    format!(
        "exit: {}\n--- stdout\n{}--- stderr\n{}",
        o.status.code().map_or("signal".into(), |c| c.to_string()),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Filters what changes from run to run: temporary folders, durations, rates, sizes.
fn settings(tmp: &std::path::Path) -> insta::Settings {
    let mut s = insta::Settings::clone_current();
    s.set_snapshot_path("snapshots");
    s.set_prepend_module_to_snapshot(false);
    s.add_filter(&regex_escape(&tmp.display().to_string()), "[TMP]");
    s.add_filter(&regex_escape(&corpus().display().to_string()), "[CORPUS]");
    s.add_filter(r"\d+(\.\d+)? s \(\d+ records/s\)", "[ELAPSED]");
    s.add_filter(r"in \d+(\.\d+)? s\b", "in [ELAPSED]");
    s.add_filter(r"\d+(\.\d+)? (B|KiB|MiB|GiB)\b", "[SIZE]");
    s.add_filter(r"trailq \d+\.\d+\.\d+", "trailq [VERSION]");
    s.add_filter(r"\d+\.\d\d/s of the", "[RATE]/s of the");
    s.add_filter(r"; \d+\.\d s\n", "; [ELAPSED]\n");
    s
}

fn regex_escape(text: &str) -> String {
    text.chars()
        .flat_map(|c| {
            let special = "\\.+*?()|[]{}^$#&-~".contains(c);
            special.then_some('\\').into_iter().chain([c])
        })
        .collect()
}

#[test]
fn every_help_text() {
    let tmp = tempfile::tempdir().unwrap();
    let commands: &[&[&str]] = &[
        &[],
        &["export"],
        &["convert"],
        &["query"],
        &["queries"],
        &["queries", "list"],
        &["queries", "show"],
        &["queries", "run"],
        &["stores"],
        &["history"],
        &["schema"],
        &["emulator"],
        &["demo"],
        &["detect"],
        &["report"],
    ];
    for command in commands {
        let mut args: Vec<&str> = command.to_vec();
        args.push("--help");
        let name = if command.is_empty() {
            "help".to_owned()
        } else {
            format!("help-{}", command.join("-"))
        };
        settings(tmp.path()).bind(|| insta::assert_snapshot!(name, shown(&trailq(&args))));
    }
}

#[test]
fn the_convert_summary_and_a_query_table() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("events");
    let (trails, out) = (
        corpus().join("trail_files"),
        out.to_str().unwrap().to_owned(),
    );
    // One reading thread: with more, files finish in any order and so do the rejection lines.
    let converted = trailq([
        "convert",
        trails.to_str().unwrap(),
        "--out",
        &out,
        "--threads",
        "1",
    ]);
    // The corpus's few Inspector records (a Classic call, an inspector-scan ScanSbom).
    let records = tmp.path().join("records");
    let records = records.to_str().unwrap();
    let jsonl = corpus().join("real-records.jsonl");
    trailq([
        "convert",
        jsonl.to_str().unwrap(),
        "--out",
        records,
        "--quiet",
    ]);
    let table = trailq([
        "queries",
        "run",
        "user-agents",
        "--data",
        records,
        "--param",
        "start=2000-01-01",
        "--format",
        "table",
    ]);
    settings(tmp.path()).bind(|| {
        insta::assert_snapshot!("convert-summary", shown(&converted));
        insta::assert_snapshot!("queries-run-table", shown(&table));
    });
}

#[test]
fn the_main_error_messages() {
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("no-such-folder");
    let not_a_dataset = tmp.path().join("empty");
    std::fs::create_dir(&not_a_dataset).unwrap();
    let missing = missing.to_str().unwrap();
    let not_a_dataset = not_a_dataset.to_str().unwrap();
    let out = tmp.path().join("out");
    let out = out.to_str().unwrap();
    let cases: &[(&str, &[&str])] = &[
        (
            "error-convert-missing-input",
            &["convert", missing, "--out", out],
        ),
        (
            "error-unknown-saved-query",
            &["queries", "show", "no-such-query"],
        ),
        (
            "error-bad-parameter",
            &[
                "queries",
                "run",
                "user-agents",
                "--data",
                not_a_dataset,
                "--param",
                "start=yesterday-ish",
            ],
        ),
        (
            "error-not-a-dataset",
            &["queries", "run", "user-agents", "--data", not_a_dataset],
        ),
        (
            "error-bad-duration",
            &["export", "--last", "banana", "--out", out],
        ),
        (
            "error-no-credentials",
            &[
                "stores",
                "--region",
                "us-east-1",
                "--endpoint-url",
                "http://127.0.0.1:9",
            ],
        ),
    ];
    for (name, args) in cases {
        let output = trailq(args.iter());
        // An error is one line: what failed, on what, why, what to do (clap adds its pointer to
        // --help under a usage error).
        let lines = stderr(&output)
            .lines()
            .filter(|l| !l.is_empty() && !l.starts_with("For more information, try"))
            .count();
        assert_eq!(lines, 1, "{name}: {}", stderr(&output));
        settings(tmp.path()).bind(|| insta::assert_snapshot!(*name, shown(&output)));
    }
}

#[test]
fn the_export_summary() {
    const DAY: i64 = 86_400_000_000;
    // Three days of generated activity, moved to end at today's midnight: the same events (and so
    // the same counts) whatever the date, inside Event history's 90 days.
    let fixed = parse_timestamp_micros("2026-11-24T00:00:00Z").unwrap();
    let today = {
        let t = chrono::Utc::now().timestamp_micros();
        t - t.rem_euclid(DAY)
    };
    let generator = Generator::new(GeneratorConfig {
        now_micros: fixed,
        days: 3,
        events_per_day: 300,
        ..GeneratorConfig::default()
    });
    let mut records = Vec::new();
    for day in 0..generator.day_count() {
        for event in generator.day(day) {
            let mut record: Value = serde_json::from_str(&event.json).unwrap();
            record["eventTime"] = format_micros(event.time_micros - fixed + today).into();
            records.push((event.event_id, record.to_string()));
        }
    }
    let emulator = Emulator::spawn(EmulatorConfig {
        data: DataSource::Records(records),
        default_account: Some(GeneratorConfig::default().accounts[0].clone()),
        limits: Limits::OFF,
        ..EmulatorConfig::default()
    })
    .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("events");
    let o = trailq_command()
        .args([
            "export",
            "--start",
            &format_micros(today - 3 * DAY),
            "--end",
        ])
        .arg(format_micros(today - 1_000_000))
        .args([
            "--region",
            "us-east-1",
            "--region",
            "eu-west-1",
            "--rate",
            "100",
        ])
        .arg("--out")
        .arg(&out)
        .args(["--endpoint-url", &emulator.endpoint_url()])
        .env("AWS_ACCESS_KEY_ID", "AKIASNAPSHOT")
        .env("AWS_SECRET_ACCESS_KEY", "x")
        .env("AWS_REGION", "us-east-1")
        .output()
        .unwrap();
    let mut settings = settings(tmp.path());
    // The window moves with the date; its events do not.
    settings.add_filter(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", "[TIME]");
    settings.bind(|| insta::assert_snapshot!("export-summary", shown(&o)));
}
