//! `trailq emulator`: the CloudTrail emulator as a server for users' own tools and pipelines.

use std::io::Write;
use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;

use crate::commands::{parse_span, parse_time};
use crate::error::{Error, Result};
use crate::terminal::note;
use trailq_emulator::generate::GeneratorConfig;
use trailq_emulator::lake::LakeTiming;
use trailq_emulator::limits::Limits;
use trailq_emulator::org::OrgConfig;
use trailq_emulator::server::KeyAccess;
use trailq_emulator::{DataSource, Emulator, EmulatorConfig};
use trailq_events::time::format_micros;

#[derive(Debug, Args)]
pub struct EmulatorArgs {
    /// Port to listen on; 0 picks a free one. The first line printed says where it listens.
    #[arg(long, default_value_t = 4580)]
    pub port: u16,
    /// Address to listen on
    #[arg(long, default_value = "127.0.0.1")]
    pub host: IpAddr,
    /// Days of generated activity before --now
    #[arg(long, default_value_t = 91, value_name = "N")]
    pub days: u32,
    /// Seed of the generator: the same seed gives the same events
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// The emulator's clock at start (ISO 8601, UTC) [default: now; with --load, just after the
    /// newest record]
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub now: Option<i64>,
    /// Generated events per day over all accounts and regions (about 70% Inspector)
    #[arg(long, default_value_t = 500, value_name = "N")]
    pub events_per_day: u32,
    /// Accounts of the generated activity (the first is the delegated administrator)
    #[arg(long, value_delimiter = ',', default_values_t = ["111122223333".to_owned(), "444455556666".to_owned(), "777788889999".to_owned()])]
    pub accounts: Vec<String>,
    /// Regions of the generated activity (global services' events go to us-east-1)
    #[arg(long, value_delimiter = ',', default_values_t = ["us-east-1".to_owned(), "eu-west-1".to_owned(), "ap-southeast-2".to_owned()])]
    pub regions: Vec<String>,
    /// Share of generated events from services other than Inspector
    #[arg(long, default_value_t = 0.3, value_name = "FRACTION")]
    pub noise: f64,
    /// Serve the records in these files or folders instead of generated ones (trail files,
    /// LookupEvents output, JSON Lines… as `trailq convert` reads them)
    #[arg(long, value_name = "PATH")]
    pub load: Vec<PathBuf>,
    /// An access key and its account, or `deny` for a key refused every action (repeatable)
    #[arg(long, value_name = "KEY=ACCOUNT|deny", value_parser = parse_key)]
    pub key: Vec<(String, KeyAccess)>,
    /// Account of access keys not given with --key [default: the first account]
    #[arg(long, value_name = "ACCOUNT")]
    pub default_account: Option<String>,
    /// A Region not enabled for an account: its calls fail as on AWS (repeatable)
    #[arg(long, value_name = "ACCOUNT:REGION", value_parser = parse_place)]
    pub disabled_region: Vec<(String, String)>,
    /// `aws`: CloudTrail's limits (LookupEvents 2/s per account and Region, Lake 10/s for
    /// get/describe/list and 1/s otherwise, 10 concurrent queries); `off`: none
    #[arg(long, default_value = "aws", value_parser = ["aws", "off"])]
    pub limits: String,
    /// LookupEvents requests per second per account and Region, or `off`
    #[arg(long, value_name = "N|off", value_parser = parse_rate)]
    pub lookup_rate: Option<Rate>,
    /// Lake queries that may be QUEUED or RUNNING at once per account, or `off`
    #[arg(long, value_name = "N|off", value_parser = parse_rate)]
    pub max_concurrent_queries: Option<Rate>,
    /// Time a Lake query stays QUEUED
    #[arg(long, default_value = "300ms", value_name = "DURATION", value_parser = parse_span)]
    pub query_queued: Duration,
    /// Least time a Lake query stays RUNNING
    #[arg(long, default_value = "700ms", value_name = "DURATION", value_parser = parse_span)]
    pub query_running: Duration,
    /// A Lake query still computing after this ends TIMED_OUT
    #[arg(long, default_value = "1h", value_name = "DURATION", value_parser = parse_span)]
    pub query_timeout: Duration,
    /// Faults to inject: KIND[:ARG]@WHEN[/Operation],… with KIND throttle[:N], 500, 503, reset,
    /// slow:DURATION, expired-token, query-fail and WHEN a probability, every:N or N-M,
    /// e.g. `throttle:5@0.02,503@every:40`
    #[arg(long, default_value = "", value_name = "SPEC")]
    pub faults: String,
    /// LookupEvents NextTokens older than this are refused as expired [default: never]
    #[arg(long, value_name = "DURATION", value_parser = parse_span)]
    pub token_ttl: Option<Duration>,
    /// Write every event the emulator holds (account, region, source, name, time, ID) to this
    /// JSON Lines file, to check an export against
    #[arg(long, value_name = "FILE")]
    pub ground_truth: Option<PathBuf>,
    /// The accounts form one organization, the first its management account: Organizations
    /// ListAccounts, STS AssumeRole and Account ListRegions answer on the same port
    #[arg(long)]
    pub org: bool,
    /// With --org: this member refuses AssumeRole (AccessDenied), as an SCP would (repeatable)
    #[arg(long, value_name = "ACCOUNT", requires = "org")]
    pub deny_assume_role: Vec<String>,
    /// With --org: how long credentials from AssumeRole last
    #[arg(long, value_name = "DURATION", value_parser = parse_span, default_value = "1h", requires = "org")]
    pub credential_lifetime: Duration,
}

/// A number, or `off` for no limit.
#[derive(Debug, Clone, Copy)]
pub struct Rate(Option<u32>);

fn parse_rate(s: &str) -> std::result::Result<Rate, String> {
    if s == "off" {
        return Ok(Rate(None));
    }
    match s.parse::<u32>() {
        Ok(n) if n > 0 => Ok(Rate(Some(n))),
        _ => Err(format!("`{s}` is not a positive number or `off`")),
    }
}

fn parse_key(s: &str) -> std::result::Result<(String, KeyAccess), String> {
    match s.split_once('=') {
        Some((key, "deny")) if !key.is_empty() => Ok((key.to_owned(), KeyAccess::Deny)),
        Some((key, account)) if !key.is_empty() && is_account(account) => {
            Ok((key.to_owned(), KeyAccess::Account(account.to_owned())))
        }
        _ => Err(format!("`{s}` is not KEY=ACCOUNT (12 digits) or KEY=deny")),
    }
}

fn parse_place(s: &str) -> std::result::Result<(String, String), String> {
    match s.split_once(':') {
        Some((account, region)) if is_account(account) && !region.is_empty() => {
            Ok((account.to_owned(), region.to_owned()))
        }
        _ => Err(format!(
            "`{s}` is not ACCOUNT:REGION, e.g. 111122223333:ap-east-1"
        )),
    }
}

fn is_account(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

impl EmulatorArgs {
    fn config(&self) -> Result<EmulatorConfig> {
        if self.accounts.is_empty() || !self.accounts.iter().all(|a| is_account(a)) {
            return Err(Error::Usage(format!(
                "--accounts must be 12-digit account IDs, got `{}`",
                self.accounts.join(",")
            )));
        }
        if self.regions.is_empty() {
            return Err(Error::Usage("--regions needs at least one Region".into()));
        }
        if !(0.0..=1.0).contains(&self.noise) {
            return Err(Error::Usage(format!(
                "--noise {} is not between 0 and 1",
                self.noise
            )));
        }
        let data = if self.load.is_empty() {
            DataSource::Generated(GeneratorConfig {
                seed: self.seed,
                now_micros: self
                    .now
                    .unwrap_or_else(|| chrono::Utc::now().timestamp_micros()),
                days: self.days,
                events_per_day: self.events_per_day,
                accounts: self.accounts.clone(),
                regions: self.regions.clone(),
                noise: self.noise,
            })
        } else {
            // Read through the pipeline's file reader: what `convert` reads, the emulator serves.
            let loaded = trailq::pipeline::read_records(&self.load)?;
            note!(
                "loaded {} records from {} files",
                loaded.records.len(),
                loaded.files
            );
            warn_not_served(&loaded.problems);
            DataSource::Records(loaded.records)
        };
        let mut limits = if self.limits == "off" {
            Limits::OFF
        } else {
            Limits::AWS
        };
        if let Some(Rate(rate)) = self.lookup_rate {
            limits.lookup_events = rate;
        }
        if let Some(Rate(n)) = self.max_concurrent_queries {
            limits.concurrent_queries = n.map(|n| n as usize);
        }
        Ok(EmulatorConfig {
            data,
            now_micros: self.now,
            host: self.host,
            port: self.port,
            keys: self.key.clone(),
            default_account: self.default_account.clone(),
            disabled_regions: self.disabled_region.clone(),
            limits,
            lake: LakeTiming {
                queued: self.query_queued,
                running: self.query_running,
                timeout: self.query_timeout,
            },
            faults: self.faults.clone(),
            token_ttl: self.token_ttl,
            org: self.org.then(|| OrgConfig {
                deny_assume_role: self.deny_assume_role.clone(),
                credential_lifetime: self.credential_lifetime,
            }),
            seed: self.seed,
        })
    }
}

pub fn run(args: EmulatorArgs) -> Result<ExitCode> {
    let config = args.config()?;
    let limits = config.limits;
    let emulator = Emulator::spawn(config).map_err(Error::Emulator)?;
    warn_not_served(&emulator.load_report().problems);
    if let Some(path) = &args.ground_truth {
        std::fs::write(path, emulator.ground_truth_jsonl()).map_err(|e| {
            Error::Usage(format!(
                "cannot write the ground truth to `{}`: {e}",
                path.display()
            ))
        })?;
    }

    let url = emulator.endpoint_url();
    let places = emulator.places();
    let accounts = {
        let mut a: Vec<&str> = places.iter().map(|(a, _)| a.as_str()).collect();
        a.dedup();
        a.len()
    };
    let truth = emulator.ground_truth();
    let oldest = truth.iter().map(|e| e.event_time_micros).min();
    let rate = |r: Option<u32>| r.map_or("no limit".to_owned(), |n| format!("{n}/s"));
    // Ready for Ctrl-C before the address is out: a client may connect at once with more
    // connections than there are descriptors (the test of that does), and the runtime and the
    // signal handler need descriptors of their own. Built after, they once failed with EMFILE.
    let ctrl_c_failed = |e: std::io::Error| Error::Usage(format!("cannot wait for Ctrl-C: {e}"));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(ctrl_c_failed)?;
    let mut ctrl_c = Box::pin(tokio::signal::ctrl_c());
    // The handler is installed on the first poll.
    let interrupted = match runtime.block_on(async { futures::poll!(ctrl_c.as_mut()) }) {
        std::task::Poll::Ready(Err(e)) => return Err(ctrl_c_failed(e)),
        std::task::Poll::Ready(Ok(())) => true,
        std::task::Poll::Pending => false,
    };
    let mut out = std::io::stdout().lock();
    let mut say = |line: String| writeln!(out, "{line}").map_err(Error::Stdout);
    say(format!("trailq emulator listening on {url}"))?;
    say(format!(
        "  events:   {} in {} account(s), {} account-Region pair(s){}",
        emulator.event_count(),
        accounts,
        places.len(),
        oldest.map_or(String::new(), |o| format!(", from {}", format_micros(o)))
    ))?;
    say(format!(
        "  clock:    {} (advancing)",
        format_micros(emulator.now_micros())
    ))?;
    for s in emulator.event_data_stores() {
        say(format!("  Lake:     event data store {} ({})", s.id, s.arn))?;
    }
    say(format!(
        "  limits:   LookupEvents {} per account and Region; Lake {} reads, {} others; {} concurrent queries",
        rate(limits.lookup_events),
        rate(limits.lake_read),
        rate(limits.lake_write),
        limits
            .concurrent_queries
            .map_or("unlimited".to_owned(), |n| n.to_string())
    ))?;
    if !args.faults.is_empty() {
        say(format!("  faults:   {}", args.faults))?;
    }
    if let Some(org) = emulator.organization() {
        say(format!(
            "  org:      {} with {} accounts, management account {}; AssumeRole credentials last {}{}",
            org.id,
            org.accounts.len(),
            org.management(),
            humantime(args.credential_lifetime),
            if args.deny_assume_role.is_empty() {
                String::new()
            } else {
                format!("; {} refuse AssumeRole", args.deny_assume_role.join(", "))
            }
        ))?;
    }
    if let Some(path) = &args.ground_truth {
        say(format!("  ground truth: {}", path.display()))?;
    }
    let region = emulator.home_region();
    say(format!(
        "Try:\n  AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test aws --endpoint-url {url} --region {region} cloudtrail lookup-events --max-items 5\nCtrl-C stops it."
    ))?;
    out.flush().map_err(Error::Stdout)?;
    drop(out);

    if !interrupted {
        let _ = runtime.block_on(ctrl_c);
    }
    drop(emulator);
    Ok(ExitCode::SUCCESS)
}

fn humantime(d: Duration) -> String {
    match d.as_secs() {
        s if s % 3600 == 0 => format!("{}h", s / 3600),
        s if s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

/// Loaded inputs the emulator cannot serve: the first 20, then how many more.
fn warn_not_served(problems: &[String]) {
    for problem in problems.iter().take(20) {
        note!("warning: not served: {problem}");
    }
    if problems.len() > 20 {
        note!(
            "warning: … and {} more records not served",
            problems.len() - 20
        );
    }
}
