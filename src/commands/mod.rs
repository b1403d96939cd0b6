//! One file per subcommand; `run` dispatches.

use std::process::ExitCode;

use crate::cli::{Cli, Command};
use crate::error::{Error, Result};

pub mod answers;
pub mod convert;
pub mod demo;
pub mod detect;
pub mod emulator;
pub mod export;
pub mod history;
pub mod queries;
pub mod query;
pub mod report;
pub mod schema;
pub mod stores;

/// `--endpoint-url`, the same for every command that calls CloudTrail.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct EndpointArgs {
    /// CloudTrail endpoint (the trailq emulator, a VPC endpoint) [default: AWS_ENDPOINT_URL or AWS]
    #[arg(long, value_name = "URL")]
    pub endpoint_url: Option<String>,
}

/// The async runtime of the AWS-facing commands: two workers, as the machines have two cores.
pub fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Error::Usage(format!("cannot start the async runtime: {e}")))
}

/// A dataset's place as given: `--out DIR|s3://BUCKET/PREFIX`, `--data` likewise.
#[derive(Debug, Clone)]
pub enum DatasetArg {
    Dir(std::path::PathBuf),
    S3(trailq::s3::S3Url),
}

impl DatasetArg {
    pub fn parse(s: &str) -> std::result::Result<DatasetArg, String> {
        match trailq::s3::S3Url::parse(s) {
            Some(Ok(url)) if url.prefix.is_empty() => Err(format!(
                "`{s}`: write the dataset under a prefix (s3://{}/PREFIX/), not at the top of the bucket",
                url.bucket
            )),
            Some(Ok(url)) => Ok(DatasetArg::S3(url)),
            Some(Err(e)) => Err(e),
            None => Ok(DatasetArg::Dir(s.into())),
        }
    }

    /// The folder, when the dataset is local.
    pub fn local(&self) -> Option<&std::path::Path> {
        match self {
            DatasetArg::Dir(path) => Some(path),
            DatasetArg::S3(_) => None,
        }
    }

    /// Where to write; a dataset in S3 with the AWS configuration of `profile` (or the
    /// standard chain).
    pub async fn resolve(&self, profile: Option<&str>) -> Result<trailq::dataset::Out> {
        Ok(match self {
            DatasetArg::S3(url) => trailq::dataset::Out::S3 {
                url: url.clone(),
                config: Box::new(trailq::aws::load(profile, None).await?.config),
            },
            DatasetArg::Dir(path) => trailq::dataset::Out::Dir(path.clone()),
        })
    }
}

impl DatasetArg {
    /// The dataset for the local engine; one in S3 is read with the standard AWS chain
    /// (`AWS_PROFILE`, SSO, environment) and listed once.
    pub async fn open_for_queries(&self) -> Result<trailq::local_engine::Dataset> {
        Ok(match self {
            DatasetArg::Dir(path) => trailq::local_engine::Dataset::open(path)?,
            DatasetArg::S3(url) => {
                let config = trailq::aws::load(None, None).await?.config;
                trailq::local_engine::Dataset::open_s3(url, &config).await?
            }
        })
    }
}

impl std::fmt::Display for DatasetArg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DatasetArg::Dir(path) => write!(f, "{}", path.display()),
            DatasetArg::S3(url) => write!(f, "{url}"),
        }
    }
}

/// `--start`, `--now`…: a time as ISO 8601 (UTC unless it says otherwise), to µs.
pub fn parse_time(s: &str) -> std::result::Result<i64, String> {
    use trailq_events::time::{USER_TIMES, USER_TIMES_TEXT, parse_timestamp_micros};
    let micros = parse_timestamp_micros(s)
        .ok_or_else(|| format!("`{s}` is not a time like 2026-11-24T12:00:00Z"))?;
    if !USER_TIMES.contains(&micros) {
        return Err(format!("`{s}` is {USER_TIMES_TEXT}"));
    }
    Ok(micros)
}

/// `--last 7d`, `--query-timeout 1h`…: a duration.
pub fn parse_span(s: &str) -> std::result::Result<std::time::Duration, String> {
    use trailq_events::time::{LONGEST_SPAN, parse_duration};
    let span = parse_duration(s)
        .ok_or_else(|| format!("`{s}` is not a duration like 500ms, 30s, 15m, 12h or 7d"))?;
    if span > LONGEST_SPAN {
        return Err(format!(
            "`{s}` is longer than trailq handles (at most {}d)",
            LONGEST_SPAN.as_secs() / 86_400
        ));
    }
    Ok(span)
}

pub fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Convert(args) => convert::run(args),
        Command::Demo(args) => demo::run(args),
        Command::Emulator(args) => emulator::run(*args),
        Command::Export(args) => export::run(*args),
        Command::Query(args) => query::run(*args),
        Command::Queries(args) => queries::run(args),
        Command::Stores(args) => stores::run(args),
        Command::History(args) => history::run(args),
        Command::Schema(args) => schema::run(args),
        Command::Detect(args) => detect::run(*args),
        Command::Report(args) => report::run(*args),
    }
}
