//! Helpers shared by the integration tests: run the binary, run DuckDB, read a dataset back.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use arrow::array::{AsArray, RecordBatch};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

/// Runs `trailq` with `args`.
/// The trailq binary with nothing from the developer's shell that changes what it connects to or
/// reads: no AWS credentials, profile, Region or endpoint, no config or credentials files, no
/// instance metadata, no `TRAILQ_*` defaults, and no `~/.config/trailq/queries`. Tests that need
/// any of these set them on the returned command.
pub fn trailq_command() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_trailq"));
    for var in [
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "AWS_ENDPOINT_URL",
        "TRAILQ_EDS",
        "TRAILQ_QUERIES_DIR",
    ] {
        c.env_remove(var);
    }
    c.env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("XDG_CONFIG_HOME", "/nonexistent/trailq-tests")
        // Help text wraps to the terminal's width: the snapshots are taken at 100 columns.
        .env("COLUMNS", "100");
    c
}

pub fn trailq<I, S>(args: I) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    trailq_command().args(args).output().expect("trailq runs")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// `trailq convert … --json`: exit code and parsed summary.
pub fn convert(inputs: &[&Path], out: &Path) -> (i32, serde_json::Value, String) {
    let mut args: Vec<std::ffi::OsString> = vec!["convert".into(), "--json".into()];
    args.extend(inputs.iter().map(|p| p.as_os_str().to_owned()));
    args.push("--out".into());
    args.push(out.as_os_str().to_owned());
    let o = trailq(args);
    let summary = serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("summary is JSON ({e}): {}\n{}", stdout(&o), stderr(&o)));
    (o.status.code().expect("exited"), summary, stderr(&o))
}

/// The real-record corpus, kept in the repository (`tests/corpus/`, each record's source and
/// licence in its provenance files), so a clone alone runs every test.
pub fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus")
}

/// Runs SQL in the DuckDB CLI (installed by scripts/test.sh) and returns its JSON rows.
pub fn duckdb(sql: &str) -> Vec<serde_json::Value> {
    let o = duckdb_raw(sql);
    assert!(
        o.status.success(),
        "duckdb failed on\n{sql}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let text = String::from_utf8_lossy(&o.stdout);
    // One JSON array per statement that returns rows; we only ever look at the last one.
    let last = text
        .trim()
        .rsplit_once("\n[")
        .map_or(text.trim().to_owned(), |(_, l)| format!("[{l}"));
    if last.is_empty() {
        return Vec::new();
    }
    serde_json::from_str(&last).unwrap_or_else(|e| panic!("duckdb JSON ({e}): {text}"))
}

pub fn duckdb_raw(sql: &str) -> Output {
    let bin = std::env::var_os("TRAILQ_DUCKDB")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/duckdb"));
    assert!(
        bin.exists(),
        "DuckDB CLI not found at {}: run scripts/test.sh, which installs it into .venv",
        bin.display()
    );
    Command::new(bin)
        .args(["-json", "-c", &format!("SET TimeZone='UTC'; {sql}")])
        .output()
        .expect("duckdb runs")
}

/// `read_parquet` over a whole dataset, as the README tells users.
pub fn dataset_sql(out: &Path) -> String {
    format!(
        "read_parquet('{}/**/*.parquet', hive_partitioning = true)",
        out.display()
    )
}

/// Every data file of a dataset with its batches (read with the parquet crate).
pub fn read_files(out: &Path) -> Vec<(PathBuf, Vec<RecordBatch>)> {
    let mut files = Vec::new();
    for dir in std::fs::read_dir(out).unwrap() {
        let dir = dir.unwrap().path();
        if !dir.is_dir() || dir.ends_with("_trailq") {
            continue;
        }
        for f in std::fs::read_dir(&dir).unwrap() {
            let f = f.unwrap().path();
            // What `**/*.parquet` globs see; a killed run's hidden `.partial` files are not data.
            if f.extension().is_none_or(|e| e != "parquet")
                || f.file_name().unwrap().to_string_lossy().starts_with('.')
            {
                continue;
            }
            let reader = ParquetRecordBatchReaderBuilder::try_new(File::open(&f).unwrap())
                .unwrap_or_else(|e| panic!("{} is readable Parquet: {e}", f.display()))
                .build()
                .unwrap();
            files.push((f, reader.map(Result::unwrap).collect()));
        }
    }
    files.sort_by(|a, b| a.0.cmp(&b.0));
    files
}

/// All values of a string column across a dataset.
pub fn strings(out: &Path, column: &str) -> Vec<Option<String>> {
    read_files(out)
        .iter()
        .flat_map(|(_, batches)| batches.iter())
        .flat_map(|b| {
            b.column_by_name(column)
                .unwrap()
                .as_string::<i32>()
                .iter()
                .map(|v| v.map(str::to_owned))
                .collect::<Vec<_>>()
        })
        .collect()
}

/// Writes a gzip file.
pub fn write_gz(path: &Path, text: &str) {
    use std::io::Write;
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let mut e =
        flate2::write::GzEncoder::new(File::create(path).unwrap(), flate2::Compression::fast());
    e.write_all(text.as_bytes()).unwrap();
    e.finish().unwrap();
}

/// Runs the AWS CLI (installed into .venv by scripts/test.sh) against an endpoint with a
/// throwaway identity: no profile, no metadata service, JSON output.
pub fn aws_cli(endpoint: &str, access_key: &str, region: &str, args: &[&str]) -> Output {
    aws_cli_as(endpoint, (access_key, "secret", None), region, args)
}

/// [`aws_cli`] with full credentials: key, secret and a session token (assumed-role credentials).
pub fn aws_cli_as(
    endpoint: &str,
    (access_key, secret, token): (&str, &str, Option<&str>),
    region: &str,
    args: &[&str],
) -> Output {
    let bin = std::env::var_os("TRAILQ_AWS_CLI")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/aws"));
    assert!(
        bin.exists(),
        "AWS CLI not found at {}: run scripts/test.sh, which installs it into .venv",
        bin.display()
    );
    Command::new(bin)
        .args([
            "--endpoint-url",
            endpoint,
            "--region",
            region,
            "--output",
            "json",
        ])
        .args(args)
        .env("AWS_ACCESS_KEY_ID", access_key)
        .env("AWS_SECRET_ACCESS_KEY", secret)
        .env("AWS_SESSION_TOKEN", token.unwrap_or(""))
        .env_remove("AWS_PROFILE")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_PAGER", "")
        .output()
        .expect("aws runs")
}

/// Runs the command that `start` builds, SIGKILLing it at a random moment (`after_ms`, seeded by
/// `seed`) up to `kills` times, and `between` after each kill; then once more to its end.
/// Returns the finished run's output and how many kills there were (a run may finish before
/// its moment comes).
pub fn kill_at_random_then_finish(
    start: impl FnMut() -> Command,
    kills: usize,
    after_ms: std::ops::Range<u64>,
    seed: u64,
    between: impl FnMut(),
) -> (Output, usize) {
    kill_at_random_once_armed(start, kills, after_ms, seed, || true, between)
}

/// [`kill_at_random_then_finish`], the random moment counted from when `armed` (asked every
/// 250 ms) first says yes: e.g. once the run has committed something, so that a loaded machine
/// running it slowly cannot make every kill land before any progress.
pub fn kill_at_random_once_armed(
    mut start: impl FnMut() -> Command,
    kills: usize,
    after_ms: std::ops::Range<u64>,
    seed: u64,
    mut armed: impl FnMut() -> bool,
    mut between: impl FnMut(),
) -> (Output, usize) {
    use std::process::Stdio;
    use std::time::{Duration, Instant};
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut killed = 0;
    loop {
        let mut child = start()
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        if killed < kills {
            while !armed() && child.try_wait().unwrap().is_none() {
                std::thread::sleep(Duration::from_millis(250));
            }
            let deadline = Instant::now() + Duration::from_millis(rng.u64(after_ms.clone()));
            while Instant::now() < deadline && child.try_wait().unwrap().is_none() {
                std::thread::sleep(Duration::from_millis(20));
            }
            if child.try_wait().unwrap().is_none() {
                child.kill().unwrap(); // SIGKILL
                child.wait().unwrap();
                killed += 1;
                between();
                continue;
            }
        }
        eprintln!("killed {killed} times before the run finished");
        return (child.wait_with_output().unwrap(), killed);
    }
}
