//! A reader that went away (`trailq … | head -1`, `trailq … 2>&1 | head -1`): every command that
//! writes output, run with stdout — and then stdout and stderr together — on a pipe whose reader is
//! already closed, so that its first write fails. It must end quietly (0, 141, or 1 where data was
//! rejected), never panic (101) and never print `error:`, and what it writes to disk is still
//! written.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use trailq_emulator::generate::GeneratorConfig;
use trailq_emulator::lake::LakeTiming;
use trailq_emulator::limits::Limits;
use trailq_emulator::{DataSource, Emulator, EmulatorConfig};

use crate::util::{corpus, stderr, trailq_command};

/// The write end of a pipe nobody reads any more.
fn closed_pipe() -> std::io::PipeWriter {
    let (reader, writer) = std::io::pipe().expect("a pipe");
    drop(reader);
    writer
}

/// Runs `cmd` with stdout closed (stderr captured), then with stdout and stderr on one closed pipe.
fn check(label: &str, make: impl Fn() -> Command, allowed: &[i32]) {
    let mut cmd = make();
    let out: Output = cmd
        .stdout(closed_pipe())
        .stderr(Stdio::piped())
        .output()
        .expect("trailq runs");
    let err = stderr(&out);
    assert!(
        !err.contains("error:") && !err.contains("panicked"),
        "{label} with stdout closed printed:\n{err}"
    );
    assert_status(label, "stdout closed", &out, allowed);

    let pipe = closed_pipe();
    let both = pipe.try_clone().expect("a second handle");
    let out = make()
        .stdout(pipe)
        .stderr(both)
        .output()
        .expect("trailq runs");
    assert_status(label, "stdout and stderr closed", &out, allowed);
}

fn assert_status(label: &str, how: &str, out: &Output, allowed: &[i32]) {
    use std::os::unix::process::ExitStatusExt;
    let ok = match out.status.code() {
        Some(code) => code == 0 || code == 141 || allowed.contains(&code),
        // Ended by SIGPIPE, as `head` leaves `cat`: quiet, and what shells report as 141.
        None => out.status.signal() == Some(libc::SIGPIPE),
    };
    assert!(ok, "{label} with {how} ended {:?}", out.status);
}

fn trailq(args: &[&str]) -> impl Fn() -> Command {
    let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    move || {
        let mut c = trailq_command();
        c.args(&args);
        c
    }
}

fn text(path: &Path) -> String {
    path.to_str().expect("UTF-8 test paths").to_owned()
}

#[test]
fn every_command_that_writes_output_ends_quietly_when_its_reader_is_gone() {
    let dir = tempfile::tempdir().unwrap();
    let records = text(&corpus().join("real-records.jsonl"));

    // convert: the corpus holds records without eventTime, so 1 (rejected) is its honest status;
    // the dataset must be written whatever happened to the terminal.
    for (i, json) in [false, true].into_iter().enumerate() {
        let out = dir.path().join(format!("convert-{i}"));
        let mut args = vec!["convert", records.as_str(), "--out", text(&out).leak()];
        if json {
            args.push("--json");
        }
        check(&format!("convert (json: {json})"), trailq(&args), &[1]);
        let parts = std::fs::read_dir(&out)
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .starts_with("event_date=")
            })
            .count();
        assert!(
            parts > 10,
            "convert with its reader gone wrote {parts} partitions"
        );
    }
    let data = text(&dir.path().join("convert-0"));
    let results = text(&dir.path().join("results.csv"));

    // A saved query on the converted dataset, in every output format.
    let local = [
        "queries",
        "run",
        "user-agents",
        "--data",
        &data,
        "--param",
        "start=2000-01-01",
    ];
    let mut offline: Vec<Vec<&str>> = vec![
        vec!["--help"],
        vec!["export", "--help"],
        vec!["schema"],
        vec!["schema", "--ddl", "duckdb", &data],
        vec!["schema", "--ddl", "athena", "s3://bucket/events/"],
        vec!["queries", "list"],
        vec!["queries", "show", "suppression-filters"],
    ];
    for extra in [
        &[][..],
        &["--format", "csv"],
        &["--format", "json"],
        &["--format", "jsonl"],
        &["--json", "--format", "csv", "--out", &results],
    ] {
        offline.push([&local[..], extra].concat());
    }
    for args in &offline {
        check(&args.join(" "), trailq(args), &[]);
    }

    let now = {
        let t = chrono::Utc::now().timestamp_micros();
        t - t.rem_euclid(1_000_000)
    };
    let emulator = Emulator::spawn(EmulatorConfig {
        data: DataSource::Generated(GeneratorConfig {
            now_micros: now,
            days: 3,
            events_per_day: 200,
            ..GeneratorConfig::default()
        }),
        limits: Limits::OFF,
        lake: LakeTiming {
            queued: Duration::from_millis(5),
            running: Duration::from_millis(5),
            timeout: Duration::from_secs(60),
        },
        ..EmulatorConfig::default()
    })
    .unwrap();
    let endpoint = emulator.endpoint_url();
    let eds = emulator.event_data_stores()[0].id.clone();
    let export_out = dir.path().join("export");
    let online: Vec<Vec<&str>> = vec![
        vec!["stores"],
        vec!["history", "--eds", &eds],
        vec![
            "query",
            "--eds",
            &eds,
            "--sql",
            "SELECT eventName, count(*) AS n FROM {{eds}} GROUP BY eventName",
        ],
        vec![
            "query",
            "--eds",
            &eds,
            "--sql",
            "SELECT eventID FROM {{eds}}",
            "--format",
            "csv",
            "--json",
            "--out",
            &results,
        ],
        vec!["queries", "run", "top-callers", "--eds", &eds],
        vec![
            "export",
            "--last",
            "2d",
            "--rate",
            "100",
            "--out",
            text(&export_out).leak(),
            "--json",
        ],
    ];
    for args in &online {
        let args = args.clone();
        let endpoint = endpoint.clone();
        check(
            &args.join(" "),
            move || {
                let mut c = trailq_command();
                c.args(&args)
                    .args(["--endpoint-url", &endpoint, "--region", "us-east-1"])
                    .env("AWS_ACCESS_KEY_ID", "AKIAPIPETEST")
                    .env("AWS_SECRET_ACCESS_KEY", "x");
                c
            },
            &[],
        );
    }
    assert!(
        export_out.join("_trailq/export.json").exists(),
        "the export with its reader gone kept no state"
    );
}
