//! `trailq detect` and `trailq report` on the emulator's data, exported: the planted story is
//! found whole and nothing ordinary above low, on the export and on Lake alike; exit statuses;
//! `--since-last`; OCSF output checked by an independent validator; and the report opened in a
//! real browser, its numbers held against the saved queries' answers, with no network request.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

use trailq_emulator::generate::{FOREIGN_ACCOUNT, Generator};
use trailq_events::time::format_micros;

use crate::queries::{DAY, Event, exported, generator, jsonl, run, with_aws};
use crate::util::{stderr, stdout, trailq, trailq_command};

/// The events the story planted: mallory's, and root handing Inspector to an outside account.
fn planted(now: i64, start: i64, end: i64) -> BTreeSet<String> {
    let g = Generator::new(generator(now));
    (0..g.day_count())
        .flat_map(|d| g.day(d))
        .filter(|e| (start..end).contains(&e.time_micros))
        .map(|e| Event {
            time: e.time_micros,
            json: serde_json::from_str(&e.json).unwrap(),
        })
        .filter(|e| {
            e.principal().ends_with(":user/mallory")
                || (e.name() == "EnableDelegatedAdminAccount"
                    && e.json["requestParameters"]["delegatedAdminAccountId"] == FOREIGN_ACCOUNT)
        })
        .map(|e| e.id())
        .collect()
}

/// `--start START --end END --now NOW`: the window every run here looks at.
fn window_args(now: i64, start: i64, end: i64) -> [String; 6] {
    [
        "--start".to_owned(),
        format_micros(start),
        "--end".into(),
        format_micros(end),
        "--now".into(),
        format_micros(now),
    ]
}

fn code(o: &Output) -> i32 {
    o.status.code().expect("exited")
}

fn lines(text: &str) -> Vec<Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

fn event_ids(finding: &Value) -> Vec<String> {
    finding["event_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn detect_finds_the_planted_story_and_nothing_ordinary_above_low_on_both_engines() {
    let now = {
        let t = chrono::Utc::now().timestamp_micros();
        t - t.rem_euclid(1_000_000)
    };
    let (start, end) = (now - 29 * DAY, now);
    let (emulator, home, data) = exported(now, start, end);
    let planted = planted(now, start, end);
    assert!(planted.len() >= 18, "{}", planted.len());
    let window = window_args(now, start, end);
    let detect = |extra: &[&str]| -> Output {
        trailq(
            ["detect", "--data", data.to_str().unwrap(), "--quiet"]
                .into_iter()
                .map(String::from)
                .chain(window.iter().cloned())
                .chain(extra.iter().map(|s| s.to_string())),
        )
    };

    // Everything, as JSON: the whole story, each finding with a severity, an actor and events.
    let o = detect(&["--min-severity", "informational", "--format", "json"]);
    assert_eq!(code(&o), 1, "findings exit 1: {}", stderr(&o));
    let findings = lines(&stdout(&o));
    let mut found = BTreeSet::new();
    for f in &findings {
        let ids = event_ids(f);
        assert!(!ids.is_empty(), "{f}");
        for key in [
            "detection",
            "severity",
            "time",
            "account",
            "region",
            "actor",
        ] {
            assert!(!f[key].as_str().unwrap_or("").is_empty(), "{key} in {f}");
        }
        let ordinary: Vec<&String> = ids.iter().filter(|id| !planted.contains(*id)).collect();
        let severity = f["severity"].as_str().unwrap();
        if !ordinary.is_empty() {
            assert!(
                matches!(severity, "low" | "informational"),
                "ordinary activity rated {severity}: {f}"
            );
        }
        found.extend(ids);
    }
    let missed: Vec<&String> = planted.difference(&found).collect();
    assert!(
        missed.is_empty(),
        "planted events no finding names: {missed:?}"
    );
    let by_severity = |list: &[Value]| -> BTreeMap<String, usize> {
        let mut counts = BTreeMap::new();
        for f in list {
            *counts
                .entry(f["severity"].as_str().unwrap().to_owned())
                .or_default() += 1;
        }
        counts
    };
    let counts = by_severity(&findings);
    for severity in ["critical", "high", "medium", "low", "informational"] {
        assert!(counts.contains_key(severity), "{severity}: {counts:?}");
    }

    // The default (medium and above), as a table: only the story, most severe first.
    let o = detect(&[]);
    assert_eq!(code(&o), 1);
    let table = stdout(&o);
    let critical = table.find("CRITICAL (").expect("a critical group");
    let medium = table.find("MEDIUM (").expect("a medium group");
    assert!(critical < medium, "{table}");
    assert!(
        table.contains("arn:aws:iam::111122223333:user/mallory"),
        "{table}"
    );
    assert!(!table.contains("LOW ("), "{table}");
    assert!(table.contains("below medium not shown"), "{table}");
    for id in table
        .lines()
        .filter_map(|l| l.trim().strip_prefix("events"))
        .flat_map(|ids| ids.split(','))
        .map(str::trim)
    {
        assert!(planted.contains(id), "{id} is not planted:\n{table}");
    }

    // The same detections on CloudTrail Lake give the same findings.
    let eds = emulator.event_data_stores()[0].id.clone();
    let mut lake = trailq_command();
    lake.args([
        "detect",
        "--eds",
        &eds,
        "--quiet",
        "--min-severity",
        "informational",
        "--format",
        "json",
    ])
    .args(window.iter());
    with_aws(&mut lake, home.path(), &emulator);
    let o = run(&mut lake);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let ids = |list: &[Value]| -> BTreeSet<String> {
        list.iter()
            .map(|f| f["id"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(ids(&lines(&stdout(&o))), ids(&findings));

    // A schedule: --since-last reports each finding once.
    let state = home.path().join("reported.json");
    let scheduled = [
        "--since-last",
        "--state",
        state.to_str().unwrap(),
        "--format",
        "json",
    ];
    let first = detect(&scheduled);
    assert_eq!(code(&first), 1, "{}", stderr(&first));
    assert_eq!(
        lines(&stdout(&first)).len(),
        findings
            .iter()
            .filter(|f| matches!(f["severity"].as_str(), Some("medium" | "high" | "critical")))
            .count()
    );
    let second = detect(&scheduled);
    assert_eq!(code(&second), 0, "{}", stderr(&second));
    assert_eq!(stdout(&second), "");

    // Nothing in the window: exit 0. A failure: exit 2, one line.
    let o = trailq([
        "detect",
        "--data",
        data.to_str().unwrap(),
        "--quiet",
        "--start",
        "2020-01-01T00:00:00Z",
        "--end",
        "2020-01-02T00:00:00Z",
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(stdout(&o), "no findings at medium or above\n");
    let o = trailq(["detect", "--data", "/nonexistent/dataset", "--quiet"]);
    assert_eq!(code(&o), 2);
    assert_eq!(stderr(&o).lines().count(), 1, "{}", stderr(&o));

    // OCSF Detection Findings, checked by an independent validator (OCSF's own schema).
    let ocsf = home.path().join("findings.ocsf.jsonl");
    let o = detect(&[
        "--min-severity",
        "informational",
        "--format",
        "ocsf",
        "--out",
        ocsf.to_str().unwrap(),
    ]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let events = lines(&std::fs::read_to_string(&ocsf).unwrap());
    assert_eq!(events.len(), findings.len());
    let v = ocsf_validate(&ocsf);
    assert!(v.status.success(), "{}", stderr(&v));
    let story = events
        .iter()
        .find(|e| {
            e["finding_info"]["analytic"]["name"] == "suppression-filters" && e["severity_id"] == 4
        })
        .expect("mallory's filter as a High finding");
    assert_eq!(story["class_uid"], 2004);
    assert_eq!(story["cloud"]["account"]["uid"], "111122223333");
    let techniques: Vec<&str> = story["finding_info"]["attacks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["technique"]["uid"].as_str().unwrap())
        .collect();
    assert_eq!(techniques, ["T1562.001", "T1685"]);
    // The validator does reject: a caption that contradicts its ID.
    let tampered = home.path().join("tampered.jsonl");
    let text = serde_json::to_string(story)
        .unwrap()
        .replace("\"High\"", "\"Low\"");
    std::fs::write(&tampered, text + "\n").unwrap();
    let v = ocsf_validate(&tampered);
    assert_eq!(v.status.code(), Some(1), "{}", stderr(&v));

    report_shows_the_saved_queries_answers(&data, home.path(), now, start, end, &findings);
}

fn ocsf_validate(file: &Path) -> Output {
    Command::new(venv_python())
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/ocsf-validate.py"))
        .arg(file)
        .output()
        .expect("the test venv's python (scripts/setup-venv.sh)")
}

fn venv_python() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python")
}

/// Runs Debian's Chromium headless on `page` with `flags`, as root allows, with its own profile
/// and home, and without the background requests it makes by default.
fn chromium(page: &Path, flags: &[String]) -> Output {
    let home = tempfile::tempdir().unwrap();
    let output = Command::new("timeout")
        .arg("120")
        .arg("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--log-level=3",
        ])
        .arg(format!(
            "--user-data-dir={}",
            home.path().join("profile").display()
        ))
        .args(flags)
        .arg(format!("file://{}", page.display()))
        .env("HOME", home.path())
        .output()
        .expect("chromium runs (scripts/setup-chromium.sh installs it)");
    assert!(output.status.success(), "chromium: {}", stderr(&output));
    output
}

/// The http(s)/ws(s) requests a page made, from Chromium's network log: every request job the
/// log records, but Chromium's own (update checks and the like), whose initiator is "not an
/// origin" (a page's is its own origin, `null` for a file).
fn page_requests(page: &Path, dir: &Path) -> Vec<String> {
    let log = dir.join(format!(
        "{}.netlog.json",
        page.file_name().unwrap().to_string_lossy()
    ));
    chromium(
        page,
        &[
            format!("--log-net-log={}", log.display()),
            "--virtual-time-budget=3000".into(),
            "--dump-dom".into(),
        ],
    );
    let text = std::fs::read_to_string(&log).unwrap();
    let netlog: Value = serde_json::from_str(&text)
        .or_else(|_| serde_json::from_str(&format!("{}]}}", text.trim_end().trim_end_matches(','))))
        .expect("a network log");
    let start_job = &netlog["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"];
    assert!(start_job.is_u64(), "the log names its event types");
    netlog["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| &e["type"] == start_job)
        .filter_map(|e| {
            let url = e["params"]["url"].as_str()?;
            let external = ["http://", "https://", "ws://", "wss://", "ftp://"]
                .iter()
                .any(|scheme| url.starts_with(scheme));
            (external && e["params"]["initiator"].as_str() != Some("not an origin"))
                .then(|| url.to_owned())
        })
        .collect()
}

/// The page `trailq report` writes, rendered by Chromium: its tables are the saved queries'
/// answers, its cards their totals and the findings `detect` gave, and it asks the network for
/// nothing.
fn report_shows_the_saved_queries_answers(
    data: &Path,
    dir: &Path,
    now: i64,
    start: i64,
    end: i64,
    findings: &[Value],
) {
    let page = dir.join("report.html");
    let window = window_args(now, start, end);
    let o = trailq(
        [
            "report",
            "--data",
            data.to_str().unwrap(),
            "--quiet",
            "--out",
            page.to_str().unwrap(),
        ]
        .into_iter()
        .map(String::from)
        .chain(window.iter().cloned()),
    );
    assert!(o.status.success(), "{}", stderr(&o));

    let dom = chromium(&page, &["--dump-dom".into()]);
    let mut reader = Command::new(venv_python())
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/tools/report_dom.py"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    reader.stdin.take().unwrap().write_all(&dom.stdout).unwrap();
    let read = reader.wait_with_output().unwrap();
    assert!(read.status.success());
    let seen: Value = serde_json::from_slice(&read.stdout).unwrap();

    let answer = |name: &str, extra: &[String]| -> Vec<Value> {
        let out = dir.join(format!("{name}.report.jsonl"));
        let o = trailq(
            [
                "queries",
                "run",
                name,
                "--data",
                data.to_str().unwrap(),
                "--quiet",
            ]
            .into_iter()
            .map(String::from)
            .chain(["--out".into(), out.display().to_string()])
            .chain([
                "--param".into(),
                format!("start={}", format_micros(start)),
                "--param".into(),
                format!("end={}", format_micros(end)),
                "--now".into(),
                format_micros(now),
            ])
            .chain(extra.iter().cloned()),
        );
        assert!(o.status.success(), "{name}: {}", stderr(&o));
        jsonl(&out)
    };
    let text = |v: &Value| match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    };
    let as_shown = |rows: &[Value]| -> Vec<BTreeMap<String, String>> {
        rows.iter()
            .take(25)
            .map(|r| {
                r.as_object()
                    .unwrap()
                    .iter()
                    .map(|(k, v)| (k.clone(), text(v)))
                    .filter(|(_, v)| !v.is_empty())
                    .collect()
            })
            .collect()
    };
    let tables = seen["tables"].as_array().unwrap();
    let shown = |query: &str, principal: Option<&str>| -> Vec<BTreeMap<String, String>> {
        let table = tables
            .iter()
            .find(|t| t["query"] == query && t["principal"].as_str() == principal)
            .unwrap_or_else(|| panic!("{query} ({principal:?}) on the page"));
        let rows: Vec<BTreeMap<String, String>> =
            serde_json::from_value(table["rows"].clone()).unwrap();
        // An empty cell is a NULL, which the JSON lines of `queries run` leave out.
        rows.into_iter()
            .map(|r| r.into_iter().filter(|(_, v)| !v.is_empty()).collect())
            .collect()
    };
    for query in [
        "first-seen-principals",
        "top-callers",
        "source-ips",
        "user-agents",
    ] {
        let rows = answer(query, &[]);
        assert!(!rows.is_empty(), "{query}");
        assert_eq!(shown(query, None), as_shown(&rows), "{query}");
    }
    // Timelines of the principals behind medium-or-worse findings: mallory (in two accounts).
    let principals: Vec<&str> = seen["principals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    let mallory = "arn:aws:iam::111122223333:user/mallory";
    assert!(principals.contains(&mallory), "{principals:?}");
    let timeline = answer(
        "principal-write-timeline",
        &["--param".into(), format!("principal={mallory}")],
    );
    assert!(timeline.len() >= 10);
    // Under the principal's heading, its timeline leaves the principal column out.
    let mut expected = as_shown(&timeline);
    for row in &mut expected {
        assert_eq!(row.remove("principal").as_deref(), Some(mallory));
    }
    assert_eq!(shown("principal-write-timeline", Some(mallory)), expected);
    // The cards: totals of the activity query, and the findings by severity.
    let activity = answer("activity-by-account-region", &[]);
    let total =
        |column: &str| -> u64 { activity.iter().map(|r| r[column].as_u64().unwrap()).sum() };
    let cards = &seen["cards"];
    assert_eq!(cards["calls"], total("calls"));
    assert_eq!(cards["changes"], total("changes"));
    assert_eq!(cards["errors"], total("errors"));
    for severity in ["critical", "high", "medium", "low", "informational"] {
        let n = findings
            .iter()
            .filter(|f| f["severity"] == severity)
            .count();
        assert_eq!(cards[severity], n, "{severity}");
    }
    // Every finding, with its events.
    let on_page: BTreeMap<String, String> = seen["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (text(&f["id"]), text(&f["events"])))
        .collect();
    let expected: BTreeMap<String, String> = findings
        .iter()
        .map(|f| (text(&f["id"]), event_ids(f).join(", ")))
        .collect();
    assert_eq!(on_page, expected);

    // A picture of it (looked at when the page changes), and no request leaves the page.
    let shot = dir.join("report.png");
    chromium(
        &page,
        &[
            format!("--screenshot={}", shot.display()),
            "--window-size=1280,2400".into(),
        ],
    );
    assert!(std::fs::metadata(&shot).unwrap().len() > 50_000);
    if let Ok(keep) = std::env::var("TRAILQ_REPORT_SCREENSHOT") {
        std::fs::copy(&shot, keep).unwrap();
    }
    assert_eq!(page_requests(&page, dir), Vec::<String>::new());
    // The check sees a request when there is one.
    let leaky = dir.join("leaky.html");
    std::fs::write(
        &leaky,
        "<!DOCTYPE html><html><body><img src=\"https://example.com/logo.png\"></body></html>",
    )
    .unwrap();
    assert_eq!(page_requests(&leaky, dir), ["https://example.com/logo.png"]);
}
