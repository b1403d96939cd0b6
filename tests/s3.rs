//! `trailq convert s3://…` against a real S3 implementation nobody here wrote: moto's server
//! (installed into .venv by scripts/test.sh), with the trail written by the emulator's generator in
//! the organization layout (3 accounts × 3 Regions × 4 days, digest and Insights files beside
//! it), uploaded with the AWS CLI. Faults come from a proxy of our own between trailq and moto
//! (`tests/tools/s3_fault_proxy.py`): SlowDown 503s, resets, bodies cut short, AccessDenied,
//! requests never answered.
//! `--out s3://…` datasets are copied back with `aws s3 cp --recursive` and read as any other.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use trailq_emulator::generate::{Generator, GeneratorConfig};
use trailq_emulator::trail_files::write_trail_files;

use crate::util::{stderr, stdout};

const DAY: i64 = 86_400_000_000;
const ACCOUNTS: [&str; 3] = ["111111111111", "222222222222", "333333333333"];
const REGIONS: [&str; 3] = ["us-east-1", "eu-west-1", "ap-southeast-2"];
const ORG: &str = "o-s3test0001";

fn venv(bin: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(".venv/bin")
        .join(bin)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A process killed when dropped.
pub struct Server {
    child: Child,
    pub url: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// moto's S3 server on a free port.
pub fn moto() -> Server {
    let bin = venv("moto_server");
    assert!(
        bin.exists(),
        "moto_server not found at {}: run scripts/test.sh, which installs it into .venv",
        bin.display()
    );
    let port = free_port();
    let child = Command::new(bin)
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "moto did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    Server {
        child,
        url: format!("http://127.0.0.1:{port}"),
    }
}

/// The fault proxy in front of `upstream`.
fn proxy(upstream: &str, faults: &[&str]) -> Server {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/tools/s3_fault_proxy.py");
    let mut child = Command::new("python3")
        .arg(script)
        .args(["--upstream", upstream])
        .args(faults)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port = line
        .trim()
        .strip_prefix("listening ")
        .expect("the proxy starts");
    Server {
        url: format!("http://127.0.0.1:{port}"),
        child,
    }
}

fn proxy_stats(proxy: &Server) -> Value {
    let o = Command::new("curl")
        .args(["-s", &format!("{}/_proxy/stats", proxy.url)])
        .output()
        .unwrap();
    serde_json::from_slice(&o.stdout).unwrap()
}

pub fn aws(endpoint: &str, args: &[&str]) -> Output {
    let o = crate::util::aws_cli(endpoint, "AKIATEST", "us-east-1", args);
    assert!(o.status.success(), "aws {args:?}: {}", stderr(&o));
    o
}

/// The organization's trail: gzipped log files, and digest and Insights files beside them.
struct Trail {
    dir: tempfile::TempDir,
    generator: Generator,
    now: i64,
}

fn trail(days: u32) -> Trail {
    // Noon (UTC) yesterday, not the moment the test runs: the tests cut the trail at days before
    // `now` and expect deliveries on both sides of a cut to share a day, and the last day to
    // hold events. Run in the minutes after midnight, a trail ending at the real now had a last
    // day with no events in it yet, and those tests failed (session 25's CI, 00:00 UTC).
    let now = {
        let t = chrono::Utc::now().timestamp_micros();
        t - t.rem_euclid(DAY) - DAY / 2
    };
    let generator = Generator::new(GeneratorConfig {
        seed: 13,
        now_micros: now,
        days,
        events_per_day: 600,
        accounts: ACCOUNTS.map(String::from).to_vec(),
        regions: REGIONS.map(String::from).to_vec(),
        noise: 0.5,
    });
    let dir = tempfile::tempdir().unwrap();
    write_trail_files(&generator, dir.path(), ORG, 2).unwrap();
    let day = chrono::DateTime::from_timestamp_micros(now)
        .unwrap()
        .format("%Y/%m/%d")
        .to_string();
    for account in ACCOUNTS {
        for (folder, name) in [
            ("CloudTrail-Digest", "CloudTrail-Digest"),
            ("CloudTrail-Insight", "CloudTrail-Insight"),
        ] {
            let path = dir.path().join(format!(
                "AWSLogs/{ORG}/{account}/{folder}/us-east-1/{day}/{account}_{name}_us-east-1_org-trail_us-east-1_20261130T000000Z.json.gz"
            ));
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            crate::util::write_gz(
                &path,
                r#"{"awsAccountId":"x","digestStartTime":"2026-11-30T00:00:00Z","logFiles":[]}"#,
            );
        }
    }
    Trail {
        dir,
        generator,
        now,
    }
}

impl Trail {
    /// Every generated eventID with its time.
    fn events(&self) -> Vec<(String, i64)> {
        (0..self.generator.day_count())
            .flat_map(|d| self.generator.day(d))
            .map(|e| (e.event_id, e.time_micros))
            .collect()
    }

    fn ids_between(&self, start: i64, end: i64) -> BTreeSet<String> {
        self.events()
            .into_iter()
            .filter(|(_, t)| (start..=end).contains(t))
            .map(|(id, _)| id)
            .collect()
    }

    /// The trail's log files (not digests), relative to the trail's root.
    fn log_files(&self) -> Vec<PathBuf> {
        let mut files = Vec::new();
        let mut stack = vec![self.dir.path().to_owned()];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(d).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    stack.push(p);
                } else if p.to_str().unwrap().contains("/CloudTrail/") {
                    files.push(p.strip_prefix(self.dir.path()).unwrap().to_owned());
                }
            }
        }
        files.sort();
        files
    }
}

/// A bucket in moto holding `dir` under `prefix`.
fn upload(endpoint: &str, bucket: &str, dir: &Path, prefix: &str) {
    aws(endpoint, &["s3", "mb", &format!("s3://{bucket}")]);
    aws(
        endpoint,
        &[
            "s3",
            "cp",
            "--recursive",
            "--quiet",
            dir.to_str().unwrap(),
            &format!("s3://{bucket}/{prefix}"),
        ],
    );
}

/// `trailq` with S3 at `endpoint` (moto, or the proxy in front of it).
fn trailq_s3(endpoint: &str) -> Command {
    let mut c = crate::util::trailq_command();
    c.env("AWS_ACCESS_KEY_ID", "AKIATEST")
        .env("AWS_SECRET_ACCESS_KEY", "secret")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ENDPOINT_URL_S3", endpoint);
    c
}

/// `trailq convert` with S3 at `endpoint`.
fn convert_s3(endpoint: &str, args: &[&str]) -> Command {
    let mut c = trailq_s3(endpoint);
    c.arg("convert").args(args);
    c
}

fn run_json(mut c: Command) -> (i32, Value, String) {
    let o = c.output().unwrap();
    let summary = serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("summary is JSON ({e}): {}\n{}", stdout(&o), stderr(&o)));
    (o.status.code().unwrap(), summary, stderr(&o))
}

fn ids(out: &Path) -> BTreeSet<String> {
    crate::util::strings(out, "eventID")
        .into_iter()
        .flatten()
        .collect()
}

/// (eventID, eventJson) of every row: the whole record, as stored.
fn rows(out: &Path) -> BTreeSet<(String, String)> {
    let ids = crate::util::strings(out, "eventID");
    let json = crate::util::strings(out, "eventJson");
    ids.into_iter()
        .zip(json)
        .map(|(i, j)| (i.unwrap(), j.unwrap()))
        .collect()
}

#[test]
fn convert_from_s3_is_the_local_convert_and_lists_only_the_windows_day_folders() {
    let trail = trail(4);
    let moto = moto();
    upload(&moto.url, "org-trail", trail.dir.path(), "");
    let counting = proxy(&moto.url, &[]);
    let dir = tempfile::tempdir().unwrap();

    // The whole trail: the same dataset as converting a local copy.
    let (local, from_s3) = (dir.path().join("local"), dir.path().join("s3"));
    let (code, _, err) = crate::util::convert(&[trail.dir.path()], &local);
    assert_eq!(code, 0, "{err}");
    let (code, summary, err) = run_json(convert_s3(
        &counting.url,
        &[
            "s3://org-trail",
            "--json",
            "--out",
            from_s3.to_str().unwrap(),
        ],
    ));
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        rows(&from_s3),
        rows(&local),
        "the same rows, record for record"
    );
    assert_eq!(
        ids(&from_s3),
        trail.ids_between(i64::MIN, i64::MAX),
        "every generated event"
    );
    let logs = trail.log_files().len() as u64;
    assert_eq!(summary["s3"]["objectsRead"], logs);
    assert_eq!(summary["files_skipped"], serde_json::json!({}));
    let places = summary["s3"]["places"].as_array().unwrap();
    assert_eq!(places.len(), 9, "3 accounts × 3 Regions");
    assert_eq!(
        places
            .iter()
            .map(|p| p["objects"].as_u64().unwrap())
            .sum::<u64>(),
        logs
    );
    // Digest and Insights folders are never even listed.
    let stats = proxy_stats(&counting);
    let prefixes: Vec<&str> = stats["list_prefixes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    assert!(
        prefixes
            .iter()
            .all(|p| !p.contains("Digest") && !p.contains("Insight")),
        "{prefixes:?}"
    );

    // A window: exactly its events, and the list requests grow with days × account-Regions.
    // Discovery is 6 listings (the bucket, AWSLogs/, the organization, each account's
    // CloudTrail/); then one per account-Region and day folder (each holds < 1,000 objects).
    let mut lists = Vec::new();
    for days in [1, 2] {
        let out = dir.path().join(format!("window-{days}"));
        let (start, end) = (
            trail.now - 3 * DAY + DAY / 3,
            trail.now - (3 - days) * DAY + DAY / 3,
        );
        let (code, summary, err) = run_json(convert_s3(
            &moto.url,
            &[
                "s3://org-trail/",
                "--json",
                "--start",
                &trailq_events::time::format_micros(start),
                "--end",
                &trailq_events::time::format_micros(end),
                "--out",
                out.to_str().unwrap(),
            ],
        ));
        assert_eq!(code, 0, "{err}");
        assert_eq!(
            ids(&out),
            trail.ids_between(start, end),
            "exactly the window"
        );
        assert!(
            summary["filtered_out"].as_u64().unwrap() > 0,
            "edge days hold events outside"
        );
        let listed = summary["s3"]["listRequests"].as_u64().unwrap();
        // The window's days, and the day after its end for files delivered after midnight.
        let day_folders = ((end + 3_600_000_000) / DAY - (start - 60_000_000) / DAY + 1) as u64;
        assert_eq!(listed, 6 + 9 * day_folders, "{days} day(s)");
        assert!(summary["s3"]["objectsRead"].as_u64().unwrap() < logs);
        lists.push(listed);
    }
    assert!(lists[1] > lists[0]);
}

/// A convert from S3 commits the days it has passed as it reads (`from_s3::Counters`), as from
/// local files: the local test's eight days and late delivery give the same dataset from S3.
/// Whether day 1 is written before its late rows come depends on the order the GETs finish
/// in, so this asserts the outcome, not the moment.
#[test]
fn eight_days_and_a_late_delivery_from_s3_land_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let inputs = dir.path().join("in");
    let expected = crate::convert::eight_days_and_a_late_delivery(&inputs);
    let moto = moto();
    upload(&moto.url, "trail", &inputs, "");
    let out = dir.path().join("ds");
    let (code, summary, err) = run_json(convert_s3(
        &moto.url,
        &["s3://trail", "--json", "--out", out.to_str().unwrap()],
    ));
    assert_eq!(code, 0, "{err}");
    assert_eq!(summary["rows_written"], 40_010, "{summary}");
    assert_eq!(summary["duplicates_dropped"], 2);
    assert_eq!(crate::util::read_files(&out).len(), 8, "one file a day");
    let got: Vec<String> = crate::util::strings(&out, "eventID")
        .into_iter()
        .flatten()
        .collect();
    assert_eq!(got.len(), expected.len(), "every event exactly once");
    assert_eq!(
        got.into_iter().collect::<std::collections::HashSet<_>>(),
        expected
    );
}

#[test]
fn since_last_reads_only_what_arrived_since_including_a_late_delivery() {
    let trail = trail(3);
    let moto = moto();
    let files = trail.log_files();
    // The first delivery: files named before the cut, but one held back (it arrives late).
    let cut = trail.now - DAY;
    let named =
        |f: &PathBuf| trailq::source::trail_bucket::delivered_at(f.to_str().unwrap()).unwrap();
    let (early, later): (Vec<&PathBuf>, Vec<&PathBuf>) = files.iter().partition(|f| named(f) < cut);
    let late = *early
        .iter()
        .rfind(|f| named(f) > cut - 1_800_000_000)
        .unwrap();
    let first = tempfile::tempdir().unwrap();
    for f in early.iter().filter(|f| **f != late) {
        let to = first.path().join(f);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(trail.dir.path().join(f), to).unwrap();
    }
    upload(&moto.url, "org-trail", first.path(), "trails/main/");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("events");
    let url = "s3://org-trail/trails/main";
    let (code, summary, err) = run_json(convert_s3(
        &moto.url,
        &[url, "--json", "--out", out.to_str().unwrap()],
    ));
    assert_eq!(code, 0, "{err}");
    assert_eq!(summary["s3"]["objectsRead"], early.len() as u64 - 1);

    // Then the rest arrives, with the late file among it.
    let second = tempfile::tempdir().unwrap();
    for f in later.iter().chain([&late]) {
        let to = second.path().join(f);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(trail.dir.path().join(f), to).unwrap();
    }
    aws(
        &moto.url,
        &[
            "s3",
            "cp",
            "--recursive",
            "--quiet",
            second.path().to_str().unwrap(),
            &format!("{url}/"),
        ],
    );
    let (code, summary, err) = run_json(convert_s3(
        &moto.url,
        &[
            url,
            "--since-last",
            "--json",
            "--out",
            out.to_str().unwrap(),
        ],
    ));
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        summary["s3"]["objectsRead"],
        later.len() as u64 + 1,
        "only the new objects, the late one included"
    );
    assert_eq!(summary["duplicates_dropped"], 0);
    assert_eq!(ids(&out), trail.ids_between(i64::MIN, i64::MAX));
    // Nothing new: nothing read.
    let (code, summary, err) = run_json(convert_s3(
        &moto.url,
        &[
            url,
            "--since-last",
            "--json",
            "--out",
            out.to_str().unwrap(),
        ],
    ));
    assert_eq!(code, 0, "{err}");
    assert_eq!(summary["s3"]["objectsRead"], 0);
}

#[test]
fn killed_at_random_points_under_faults_it_resumes_to_exactly_the_events() {
    let trail = trail(3);
    let moto = moto();
    upload(&moto.url, "org-trail", trail.dir.path(), "");
    let faulty = proxy(
        &moto.url,
        &[
            "--slowdown-every",
            "7",
            "--reset-every",
            "13",
            "--truncate-every",
            "5",
        ],
    );
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("events");
    let (last, kills) = crate::util::kill_at_random_then_finish(
        || {
            convert_s3(
                &faulty.url,
                &["s3://org-trail", "--json", "--out", out.to_str().unwrap()],
            )
        },
        3,
        300..4000,
        13,
        // Whatever is visible between runs is whole Parquet (read_files asserts it).
        || drop(crate::util::read_files(&out)),
    );
    assert!(last.status.success(), "{}", stderr(&last));
    assert!(kills > 0);
    let summary: Value = serde_json::from_slice(&last.stdout).unwrap();
    assert!(summary["s3"]["failedAttempts"].as_u64().unwrap() > 0);
    let stats = proxy_stats(&faulty);
    for fault in ["slowdowns", "resets", "truncated"] {
        assert!(stats[fault].as_u64().unwrap() > 0, "{fault}: {stats}");
    }
    assert_eq!(ids(&out), trail.ids_between(i64::MIN, i64::MAX));
    let total: usize = crate::util::read_files(&out)
        .iter()
        .flat_map(|(_, batches)| batches.iter().map(|b| b.num_rows()))
        .sum();
    assert_eq!(total, trail.events().len(), "nothing landed twice");
}

#[test]
fn s3_errors_name_the_bucket_prefix_or_key_and_the_rest_lands() {
    let trail = trail(2);
    let moto = moto();
    upload(&moto.url, "org-trail", trail.dir.path(), "");
    let dir = tempfile::tempdir().unwrap();

    let o = convert_s3(&moto.url, &["s3://no-such-trail", "--out"])
        .arg(dir.path().join("a"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        stderr(&o).trim(),
        "error: s3://no-such-trail/: the bucket does not exist (NoSuchBucket); check its name, and the account and endpoint in use"
    );

    // One account-Region denied (a per-account KMS key, say), one object truncated at rest.
    let denied = format!("{}/CloudTrail/eu-west-1/", ACCOUNTS[1]);
    let corrupt_key = {
        let files = trail.log_files();
        let f = files
            .iter()
            .find(|f| {
                f.to_str()
                    .unwrap()
                    .contains(&format!("{}/CloudTrail/us-east-1/", ACCOUNTS[2]))
            })
            .unwrap()
            .clone();
        let bytes = std::fs::read(trail.dir.path().join(&f)).unwrap();
        let cut = dir.path().join("cut.json.gz");
        std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
        aws(
            &moto.url,
            &[
                "s3",
                "cp",
                "--quiet",
                cut.to_str().unwrap(),
                &format!("s3://org-trail/{}", f.display()),
            ],
        );
        f.to_str().unwrap().to_owned()
    };
    let denying = proxy(&moto.url, &["--deny", &denied]);
    let out = dir.path().join("events");
    let (code, summary, err) = run_json(convert_s3(
        &denying.url,
        &["s3://org-trail", "--json", "--out", out.to_str().unwrap()],
    ));
    assert_eq!(code, 1, "something was skipped: {err}");
    assert!(
        err.contains(&format!("s3://org-trail/AWSLogs/{ORG}/{denied}"))
            && err.contains("AccessDenied"),
        "{err}"
    );
    assert!(
        err.contains(&format!("rejected file `s3://org-trail/{corrupt_key}`")),
        "{err}"
    );
    let rejected = std::fs::read_to_string(out.join("_trailq/rejected.jsonl")).unwrap();
    assert!(
        rejected.contains(&format!("s3://org-trail/{corrupt_key}")),
        "{rejected}"
    );
    assert_eq!(summary["files_rejected"], 1);
    // Every other account-Region landed.
    let got = ids(&out);
    let place =
        |e: &trailq_emulator::generate::GeneratedEvent| (e.account.clone(), e.region.clone());
    let denied_place = (ACCOUNTS[1].to_owned(), "eu-west-1".to_owned());
    let expected: BTreeSet<String> = (0..trail.generator.day_count())
        .flat_map(|d| trail.generator.day(d))
        .filter(|e| {
            place(e) != denied_place && !(e.account == ACCOUNTS[2] && e.region == "us-east-1")
        })
        .map(|e| e.event_id)
        .collect();
    assert!(
        expected.is_subset(&got),
        "every other account-Region landed"
    );
    assert!(got.iter().all(|id| {
        !trail
            .generator
            .day(0)
            .iter()
            .chain(trail.generator.day(1).iter())
            .any(|e| &e.event_id == id && place(e) == denied_place)
    }));
}

#[test]
fn a_request_s3_never_answers_is_given_up_named_and_the_rest_lands() {
    let trail = trail(2);
    let moto = moto();
    upload(&moto.url, "org-trail", trail.dir.path(), "");
    // Every listing of one account-Region, and one object of another, are read by the proxy and
    // never answered.
    let silent_place = format!("{}/CloudTrail/eu-west-1/", ACCOUNTS[1]);
    let silent_key = trail
        .log_files()
        .into_iter()
        .map(|f| f.to_str().unwrap().to_owned())
        .find(|f| f.contains(&format!("{}/CloudTrail/us-east-1/", ACCOUNTS[2])))
        .unwrap();
    let silent = proxy(
        &moto.url,
        &["--stall", &silent_place, "--stall", &silent_key],
    );
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("events");
    let mut convert = convert_s3(
        &silent.url,
        &["s3://org-trail", "--json", "--out", out.to_str().unwrap()],
    );
    convert.env("TRAILQ_S3_STALL_SECONDS", "2");
    let (code, _, err) = run_json(convert);
    assert_eq!(code, 1, "something was skipped: {err}");
    for what in [
        format!("s3://org-trail/AWSLogs/{ORG}/{silent_place}"),
        format!("s3://org-trail/{silent_key}"),
    ] {
        assert!(
            err.lines()
                .any(|l| l.contains(&what) && l.contains("no answer from S3 in 2 s")),
            "{what}: {err}"
        );
    }
    assert!(proxy_stats(&silent)["stalled"].as_u64().unwrap() >= 2);
    let got = ids(&out);
    let place =
        |e: &trailq_emulator::generate::GeneratedEvent| (e.account.clone(), e.region.clone());
    let events: Vec<_> = (0..trail.generator.day_count())
        .flat_map(|d| trail.generator.day(d))
        .collect();
    // The stalled object's events, from the file uploaded.
    let stalled: BTreeSet<String> = {
        let file = std::fs::File::open(trail.dir.path().join(&silent_key)).unwrap();
        let doc: Value = serde_json::from_reader(flate2::read::GzDecoder::new(file)).unwrap();
        doc["Records"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["eventID"].as_str().unwrap().to_owned())
            .collect()
    };
    assert!(!stalled.is_empty());
    let silent_place = (ACCOUNTS[1].to_owned(), "eu-west-1".to_owned());
    for e in &events {
        let expected = place(e) != silent_place && !stalled.contains(&e.event_id);
        assert_eq!(got.contains(&e.event_id), expected, "{e:?}");
    }
}

#[test]
fn s3_over_tls_trusts_only_what_its_roots_vouch_for_and_says_so_at_once() {
    let trail = trail(2);
    let moto = moto();
    upload(&moto.url, "org-trail", trail.dir.path(), "");
    let tls = crate::tls::terminate_tls(moto.url.rsplit(':').next().unwrap().parse().unwrap());
    let convert = |roots: &str, out: &Path| {
        let mut c = convert_s3(
            &format!("https://127.0.0.1:{}", tls.port),
            &["s3://org-trail", "--json", "--out", out.to_str().unwrap()],
        );
        c.env("SSL_CERT_FILE", tls.dir.path().join(roots))
            .env_remove("SSL_CERT_DIR");
        c.output().unwrap()
    };
    let dir = tempfile::tempdir().unwrap();

    let trusted = convert("ca.pem", &dir.path().join("a"));
    assert_eq!(trusted.status.code(), Some(0), "{}", stderr(&trusted));
    let expected: BTreeSet<String> = (0..trail.generator.day_count())
        .flat_map(|d| trail.generator.day(d))
        .map(|e| e.event_id)
        .collect();
    assert_eq!(ids(&dir.path().join("a")), expected);

    // Refused: exit 2 and one line with what to do (no longer after ten retries and exit 1).
    let untrusted = convert("other-ca.pem", &dir.path().join("b"));
    crate::tls::assert_refused(&untrusted, "s3://org-trail/");
}

/// `s3://BUCKET/PREFIX/` copied back to a local folder with the AWS CLI.
pub fn copy_back(endpoint: &str, url: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    aws(
        endpoint,
        &[
            "s3",
            "cp",
            "--recursive",
            "--quiet",
            url,
            dir.path().to_str().unwrap(),
        ],
    );
    dir
}

/// The keys under `s3://bucket/prefix`.
fn keys(endpoint: &str, bucket: &str, prefix: &str) -> Vec<String> {
    let o = aws(
        endpoint,
        &[
            "s3api",
            "list-objects-v2",
            "--bucket",
            bucket,
            "--prefix",
            prefix,
            "--query",
            "Contents[].Key",
            "--output",
            "json",
        ],
    );
    serde_json::from_slice::<Option<Vec<String>>>(&o.stdout)
        .unwrap()
        .unwrap_or_default()
}

#[test]
fn a_dataset_written_to_s3_is_the_local_one_and_since_last_finds_its_state_there() {
    let trail = trail(3);
    let moto = moto();
    aws(&moto.url, &["s3", "mb", "s3://datasets"]);
    let dir = tempfile::tempdir().unwrap();
    let local = dir.path().join("local");
    let (code, _, err) = crate::util::convert(&[trail.dir.path()], &local);
    assert_eq!(code, 0, "{err}");

    // The trail arrives in two deliveries: all but the last day, then the last day.
    let files = trail.log_files();
    let cut = trail.now - DAY;
    let named =
        |f: &PathBuf| trailq::source::trail_bucket::delivered_at(f.to_str().unwrap()).unwrap();
    let (early, later): (Vec<&PathBuf>, Vec<&PathBuf>) = files.iter().partition(|f| named(f) < cut);
    let deliver = |batch: &[&PathBuf], first: bool| {
        let staged = tempfile::tempdir().unwrap();
        for f in batch {
            let to = staged.path().join(f);
            std::fs::create_dir_all(to.parent().unwrap()).unwrap();
            std::fs::copy(trail.dir.path().join(f), to).unwrap();
        }
        if first {
            upload(&moto.url, "org-trail", staged.path(), "");
        } else {
            aws(
                &moto.url,
                &[
                    "s3",
                    "cp",
                    "--recursive",
                    "--quiet",
                    staged.path().to_str().unwrap(),
                    "s3://org-trail/",
                ],
            );
        }
    };
    let out = "s3://datasets/cloudtrail/org/";
    deliver(&early, true);
    let (code, first, err) = run_json(convert_s3(
        &moto.url,
        &["s3://org-trail", "--json", "--out", out],
    ));
    assert_eq!(code, 0, "{err}");
    assert_eq!(first["dataset"], out);
    assert_eq!(first["published"]["filesUp"], first["files_out"]);
    deliver(&later, false);
    let (code, second, err) = run_json(convert_s3(
        &moto.url,
        &["s3://org-trail", "--since-last", "--json", "--out", out],
    ));
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        second["s3"]["objectsRead"],
        later.len() as u64,
        "the state under the prefix's _trailq/ said what was read: {second}"
    );
    // The day the deliveries share was merged into one file: its first file came down, and
    // was deleted once the merged one was up.
    assert!(
        second["published"]["filesDown"].as_u64().unwrap() > 0,
        "{second}"
    );
    assert!(
        second["published"]["deleted"].as_u64().unwrap() > 0,
        "{second}"
    );

    let state = keys(&moto.url, "datasets", "cloudtrail/org/_trailq/");
    assert!(
        state.contains(&"cloudtrail/org/_trailq/convert-s3.json".to_owned()),
        "{state:?}"
    );
    assert!(
        !state
            .iter()
            .any(|k| k.ends_with("/lock") || k.ends_with("/publish.json")),
        "the lock is released and no publish is pending: {state:?}"
    );
    let back = copy_back(&moto.url, out);
    assert_eq!(
        rows(back.path()),
        rows(&local),
        "the same rows as the local convert"
    );
    let total: usize = crate::util::read_files(back.path())
        .iter()
        .flat_map(|(_, batches)| batches.iter().map(|b| b.num_rows()))
        .sum();
    assert_eq!(total, trail.events().len(), "nothing twice");
    // DuckDB, an independent reader, sees the same rows per day in the copy and the local dataset.
    let per_day = |root: &Path| {
        crate::util::duckdb(&format!(
            "SELECT event_date::VARCHAR AS d, count(*) AS n, count(DISTINCT eventID) AS ids FROM {} GROUP BY 1 ORDER BY 1",
            crate::util::dataset_sql(root)
        ))
    };
    assert_eq!(per_day(back.path()), per_day(&local));
}

#[test]
fn a_day_file_larger_than_one_upload_part_lands_whole_in_parts() {
    // 3,000 records of one day with 5,000 incompressible characters each: the day's Parquet
    // file is over 8 MiB, the part size, so it goes up as a multipart upload of parts read one at
    // a time (what keeps a publish within its memory budget).
    let dir = tempfile::tempdir().unwrap();
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    let mut random_text = |len: usize| -> String {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        (0..len)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                ALPHABET[(state % 64) as usize] as char
            })
            .collect()
    };
    let account = ACCOUNTS[0];
    for file in 0..3 {
        let records: Vec<String> = (0..1000)
            .map(|i| {
                let n = file * 1000 + i;
                format!(
                    r#"{{"eventVersion":"1.09","userIdentity":{{"type":"AssumedRole","accountId":"{account}"}},"eventTime":"2026-11-20T10:{:02}:{:02}Z","eventSource":"s3.amazonaws.com","eventName":"PutObject","awsRegion":"us-east-1","sourceIPAddress":"10.0.0.1","userAgent":"test","requestParameters":{{"key":"{}"}},"responseElements":null,"requestID":"R{n}","eventID":"00000000-0000-4000-8000-{n:012}","readOnly":false,"eventType":"AwsApiCall","managementEvent":false,"recipientAccountId":"{account}"}}"#,
                    n / 60 % 60,
                    n % 60,
                    random_text(5000)
                )
            })
            .collect();
        crate::util::write_gz(
            &dir.path().join(format!(
                "AWSLogs/{ORG}/{account}/CloudTrail/us-east-1/2026/11/20/{account}_CloudTrail_us-east-1_20261120T10{file}5Z_big{file}.json.gz"
            )),
            &format!(r#"{{"Records":[{}]}}"#, records.join(",")),
        );
    }
    let moto = moto();
    upload(&moto.url, "org-trail", dir.path(), "");
    aws(&moto.url, &["s3", "mb", "s3://datasets"]);
    let out = "s3://datasets/big/";
    let (code, summary, err) = run_json(convert_s3(
        &moto.url,
        &["s3://org-trail", "--json", "--out", out],
    ));
    assert_eq!(code, 0, "{err}");
    assert_eq!(summary["rows_written"], 3000, "{summary}");
    let data: Vec<String> = keys(&moto.url, "datasets", "big/event_date=")
        .into_iter()
        .filter(|k| k.ends_with(".parquet"))
        .collect();
    assert_eq!(data.len(), 1, "one day, one file: {data:?}");
    let head: Value = serde_json::from_slice(
        &aws(
            &moto.url,
            &[
                "s3api",
                "head-object",
                "--bucket",
                "datasets",
                "--key",
                &data[0],
            ],
        )
        .stdout,
    )
    .unwrap();
    assert!(
        head["ContentLength"].as_u64().unwrap() > 8 << 20,
        "larger than one part: {head}"
    );
    // S3 gives an object put in N parts the ETag "…-N".
    let etag = head["ETag"].as_str().unwrap().trim_matches('"');
    let parts: u32 = etag.rsplit_once('-').map_or(1, |(_, n)| n.parse().unwrap());
    assert!(parts >= 2, "sent in parts: {head}");
    // What came back is what a local convert of the same files writes, row for row.
    let local = dir.path().join("local");
    let (code, _, err) = crate::util::convert(&[&dir.path().join("AWSLogs")], &local);
    assert_eq!(code, 0, "{err}");
    let back = copy_back(&moto.url, out);
    let got = rows(back.path());
    assert_eq!(got.len(), 3000);
    assert_eq!(got, rows(&local), "the same rows as the local convert");
}

#[test]
fn a_dataset_in_s3_has_one_writer_and_a_dead_writers_lock_is_taken_over() {
    let trail = trail(1);
    let moto = moto();
    upload(&moto.url, "org-trail", trail.dir.path(), "");
    aws(&moto.url, &["s3", "mb", "s3://datasets"]);
    let out = "s3://datasets/events/";
    let host = {
        let o = Command::new("hostname").output().unwrap();
        stdout(&o).trim().to_owned()
    };
    let lock = |pid: u32| {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lock");
        let now = chrono::Utc::now().timestamp();
        std::fs::write(
            &path,
            format!(r#"{{"host":"{host}","pid":{pid},"started":"2026-12-01T00:00:00Z","refreshed_unix":{now}}}"#),
        )
        .unwrap();
        aws(
            &moto.url,
            &[
                "s3",
                "cp",
                "--quiet",
                path.to_str().unwrap(),
                &format!("{out}_trailq/lock"),
            ],
        );
    };
    // A live process holds it (this test's own): refused, saying who and what to do.
    lock(std::process::id());
    let o = convert_s3(&moto.url, &["s3://org-trail", "--out", out])
        .output()
        .unwrap();
    assert!(!o.status.success());
    let err = stderr(&o);
    assert!(
        err.contains(&format!(
            "another trailq run (process {} on {host}",
            std::process::id()
        )) && err.contains("s3://datasets/events/_trailq/lock"),
        "{err}"
    );
    assert!(
        keys(&moto.url, "datasets", "events/event_date").is_empty(),
        "nothing written"
    );
    // Its process is gone (killed): the lock is taken over and the run lands.
    let mut gone = Command::new("true").spawn().unwrap();
    let dead = gone.id();
    gone.wait().unwrap();
    lock(dead);
    let (code, summary, err) = run_json(convert_s3(
        &moto.url,
        &["s3://org-trail", "--json", "--out", out],
    ));
    assert_eq!(code, 0, "{err}");
    assert_eq!(summary["rows_written"], trail.events().len() as u64);
    assert!(keys(&moto.url, "datasets", "events/_trailq/lock").is_empty());
}

#[test]
fn a_convert_to_s3_killed_at_random_points_under_faults_ends_with_exactly_the_events() {
    let trail = trail(3);
    let moto = moto();
    upload(&moto.url, "org-trail", trail.dir.path(), "");
    aws(&moto.url, &["s3", "mb", "s3://datasets"]);
    // Reads and writes go through the proxy: SlowDown and resets on PUTs and multipart parts too.
    let faulty = proxy(
        &moto.url,
        &["--slowdown-every", "11", "--reset-every", "17"],
    );
    let out = "s3://datasets/events/";
    // Committing (and publishing) every second, a killed run leaves its progress in the bucket:
    // the next one goes on with --since-last from there. Each kill comes at a random moment
    // after the run has published its state once (on a loaded machine a run's first seconds
    // may be all start-up).
    let resumed = std::cell::Cell::new(0);
    let state_version = || {
        let o = aws(
            &moto.url,
            &[
                "s3api",
                "list-objects-v2",
                "--bucket",
                "datasets",
                "--prefix",
                "events/_trailq/convert-s3.json",
                "--query",
                "Contents[].[Key, ETag, LastModified]",
                "--output",
                "text",
            ],
        );
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    let before = std::cell::RefCell::new(String::new());
    let (last, kills) = crate::util::kill_at_random_once_armed(
        || {
            *before.borrow_mut() = state_version();
            let state = keys(&moto.url, "datasets", "events/_trailq/convert-s3.json");
            let mut c = convert_s3(&faulty.url, &["s3://org-trail", "--json", "--out", out]);
            if !state.is_empty() {
                c.arg("--since-last");
                resumed.set(resumed.get() + 1);
            }
            c.env("TRAILQ_S3_COMMIT_SECONDS", "1");
            c
        },
        4,
        0..4000,
        21,
        || state_version() != *before.borrow(),
        || {
            // Between runs, what is in the bucket is whole Parquet (read_files asserts it).
            let back = copy_back(&moto.url, out);
            drop(crate::util::read_files(back.path()));
        },
    );
    assert!(last.status.success(), "{}", stderr(&last));
    assert!(kills > 0);
    assert!(
        resumed.get() > 0,
        "a killed run left its progress in the bucket"
    );
    let summary: Value = serde_json::from_slice(&last.stdout).unwrap();
    assert!(
        summary["s3"]["objectsRead"].as_u64().unwrap() < trail.log_files().len() as u64,
        "the last run read only what the killed ones had not committed: {summary}"
    );
    let stats = proxy_stats(&faulty);
    for fault in ["slowdowns", "resets"] {
        assert!(stats[fault].as_u64().unwrap() > 0, "{fault}: {stats}");
    }
    let back = copy_back(&moto.url, out);
    assert_eq!(ids(back.path()), trail.ids_between(i64::MIN, i64::MAX));
    let total: usize = crate::util::read_files(back.path())
        .iter()
        .flat_map(|(_, batches)| batches.iter().map(|b| b.num_rows()))
        .sum();
    assert_eq!(total, trail.events().len(), "nothing landed twice");
}

#[test]
fn a_publish_cut_short_is_finished_or_undone_by_the_next_run() {
    let trail = trail(2);
    let moto = moto();
    upload(&moto.url, "org-trail", trail.dir.path(), "");
    aws(&moto.url, &["s3", "mb", "s3://datasets"]);
    let out = "s3://datasets/events/";
    let (code, _, err) = run_json(convert_s3(
        &moto.url,
        &["s3://org-trail", "--json", "--out", out],
    ));
    assert_eq!(code, 0, "{err}");
    let data: Vec<String> = keys(&moto.url, "datasets", "events/event_date=")
        .into_iter()
        .filter(|k| k.ends_with(".parquet"))
        .collect();
    assert!(data.len() >= 2, "{data:?}");
    let copy = |from: &str, to: &str| {
        aws(
            &moto.url,
            &[
                "s3",
                "cp",
                "--quiet",
                &format!("s3://datasets/{from}"),
                &format!("s3://datasets/{to}"),
            ],
        );
    };
    let beside = |key: &str, name: &str| format!("{}/{name}", key.rsplit_once('/').unwrap().0);
    // Cut short after its one upload (a merged file: here a copy of the file it replaces): the
    // next run finishes it, deleting the replaced file.
    let merged = beside(&data[0], "part-20261202T000000-0000000a-00001.parquet");
    copy(&data[0], &merged);
    // Cut short before its second upload: undone, the replaced file stays.
    let half = beside(&data[1], "part-20261202T000000-0000000b-00001.parquet");
    let missing = beside(&data[1], "part-20261202T000000-0000000b-00002.parquet");
    copy(&data[1], &half);
    let journal = |uploads: &[&str], deletes: &[&str]| {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("publish.json");
        std::fs::write(
            &path,
            serde_json::json!({"uploads": uploads, "deletes": deletes}).to_string(),
        )
        .unwrap();
        aws(
            &moto.url,
            &[
                "s3",
                "cp",
                "--quiet",
                path.to_str().unwrap(),
                "s3://datasets/events/_trailq/publish.json",
            ],
        );
    };
    journal(&[&merged], &[&data[0]]);
    let (code, _, err) = run_json(convert_s3(
        &moto.url,
        &["s3://org-trail", "--json", "--out", out],
    ));
    assert_eq!(code, 0, "{err}");
    journal(&[&half, &missing], &[&data[1]]);
    let (code, summary, err) = run_json(convert_s3(
        &moto.url,
        &["s3://org-trail", "--json", "--out", out],
    ));
    assert_eq!(code, 0, "{err}");
    assert_eq!(summary["rows_written"], 0);
    let now_there = keys(&moto.url, "datasets", "events/");
    assert!(
        now_there.contains(&merged) && !now_there.contains(&data[0]),
        "{now_there:?}"
    );
    assert!(
        now_there.contains(&data[1]) && !now_there.contains(&half),
        "{now_there:?}"
    );
    assert!(
        !now_there.iter().any(|k| k.ends_with("publish.json")),
        "{now_there:?}"
    );
    let back = copy_back(&moto.url, out);
    let total: usize = crate::util::read_files(back.path())
        .iter()
        .flat_map(|(_, batches)| batches.iter().map(|b| b.num_rows()))
        .sum();
    assert_eq!(total, trail.events().len(), "every event once");
    assert_eq!(ids(back.path()), trail.ids_between(i64::MIN, i64::MAX));
}

/// `queries run`, `detect` and `report` on `--data s3://…` read the dataset in place: the same
/// answers as on the local copy, reading only the day partitions in a query's time bounds.
#[test]
fn saved_queries_detections_and_the_report_read_a_dataset_in_s3_in_place() {
    let trail = trail(4);
    let moto = moto();
    aws(&moto.url, &["s3", "mb", "s3://datasets"]);
    let dir = tempfile::tempdir().unwrap();
    let local = dir.path().join("local");
    let (code, _, err) = crate::util::convert(&[trail.dir.path()], &local);
    assert_eq!(code, 0, "{err}");
    let url = "s3://datasets/org/events/";
    let o = convert_s3(
        &moto.url,
        &[trail.dir.path().to_str().unwrap(), "--out", url, "-q"],
    )
    .output()
    .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let run = |args: &[&str]| {
        let o = trailq_s3(&moto.url).args(args).output().unwrap();
        (o.status.code().unwrap(), stdout(&o), stderr(&o))
    };
    let start = chrono::DateTime::from_timestamp_micros(trail.now - 3 * DAY)
        .unwrap()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let mut names: Vec<String> =
        std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("queries"))
            .unwrap()
            .filter_map(|e| {
                e.unwrap()
                    .file_name()
                    .to_str()?
                    .strip_suffix(".sql")
                    .map(String::from)
            })
            .collect();
    names.sort();
    let (mut rows_seen, mut pruned) = (0, false);
    for name in &names {
        let on = |data: &str| {
            run(&[
                "queries",
                "run",
                name,
                "--data",
                data,
                "--format",
                "csv",
                "--param",
                &format!("start={start}"),
            ])
        };
        let (code_local, here, err_local) = on(local.to_str().unwrap());
        let (code_s3, there, err_s3) = on(url);
        if err_local.contains("has no value: pass --param") {
            // A query with a required parameter (a principal to follow): the same refusal.
            assert_eq!((code_s3, err_s3), (code_local, err_local), "{name}");
            continue;
        }
        assert_eq!(code_local, 0, "{name}: {err_local}");
        assert_eq!(code_s3, 0, "{name}: {err_s3}");
        assert_eq!(there, here, "{name}: the same answer in S3 as locally");
        rows_seen += here.lines().count().saturating_sub(1);
        // The same pruning as locally ("33 rows; read 4 of 5 day partitions (4 files) in …").
        let read = |e: &str| {
            e.lines()
                .find(|l| l.contains("day partitions"))
                .and_then(|l| l.split(" in ").next())
                .map(str::to_owned)
        };
        let read_s3 = read(&err_s3);
        assert_eq!(read_s3, read(&err_local), "{name}");
        pruned |= read_s3.is_some_and(|l| l.contains("read 4 of 5 day partitions"));
    }
    assert!(
        rows_seen > 0,
        "the saved queries found something in the trail"
    );
    assert!(pruned, "the day before --param start was not read");
    let (code_local, findings_local, _) = run(&[
        "detect",
        "--data",
        local.to_str().unwrap(),
        "--format",
        "json",
        "--min-severity",
        "informational",
        "--last",
        "5d",
    ]);
    let (code_s3, findings_s3, err) = run(&[
        "detect",
        "--data",
        url,
        "--format",
        "json",
        "--min-severity",
        "informational",
        "--last",
        "5d",
    ]);
    assert_eq!(code_s3, code_local, "{err}");
    assert_eq!(findings_s3, findings_local);
    let report = dir.path().join("report.html");
    let (code, _, err) = run(&[
        "report",
        "--data",
        url,
        "--out",
        report.to_str().unwrap(),
        "-q",
    ]);
    assert_eq!(code, 0, "{err}");
    let html = std::fs::read_to_string(&report).unwrap();
    assert!(html.contains(url), "the report names the dataset it read");
}
