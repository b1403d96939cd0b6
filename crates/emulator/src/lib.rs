//! The CloudTrail emulator: CloudTrail's JSON 1.1 API on loopback, with realistic Inspector
//! activity, CloudTrail's limits and injectable faults. No AWS is reachable where trailq is built
//! and tested, so every AWS-facing feature runs against this; users get it to try trailq and to
//! test their own pipelines offline.
//!
//! ```text
//!  generate (seeded) ─┐                       ┌─ lookup: LookupEvents
//!  or files ──────────┴─▶ store::EventStore ──┤
//!                                             └─ lake: StartQuery … over DataFusion (trailq_lake_sql)
//!  server: HTTP, SigV4 caller, limits::RateLimiter, faults::Faults, dispatch
//! ```
//! [`Emulator::spawn`] runs it on its own thread and runtime, so tests, `trailq demo` and
//! `trailq emulator` use it the same way.

pub mod faults;
pub mod generate;
pub mod lake;
pub mod limits;
pub mod lookup;
pub mod org;
pub mod server;
pub mod store;
pub mod tokens;
pub mod trail_files;

use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use fastrand::Rng;
use tokio::sync::watch;

use crate::faults::{FaultSpecError, Faults};
use crate::generate::{Generator, GeneratorConfig};
use crate::lake::{Lake, LakeTiming};
use crate::limits::{Limits, RateLimiter, RateReport};
use crate::lookup::Tokens;
use crate::org::{Org, OrgConfig};
use crate::server::{Access, Clock, KeyAccess, State};
use crate::store::{EventStore, GroundTruthEvent, LoadReport};

/// Where the emulator's events come from.
#[derive(Debug, Clone)]
pub enum DataSource {
    Generated(GeneratorConfig),
    /// Records a caller read, each with where it came from: `(origin, record text)`.
    Records(Vec<(String, String)>),
}

#[derive(Debug, Clone)]
pub struct EmulatorConfig {
    pub data: DataSource,
    /// The clock at start (µs). Default: the generator's `now`; for files, just after the newest
    /// record, so that Event history's 90 days cover them.
    pub now_micros: Option<i64>,
    pub host: IpAddr,
    /// 0 picks a free port.
    pub port: u16,
    pub keys: Vec<(String, KeyAccess)>,
    /// The account of keys not in `keys`. Default: the first account with events.
    pub default_account: Option<String>,
    /// (account, region) pairs whose region is not enabled.
    pub disabled_regions: Vec<(String, String)>,
    pub limits: Limits,
    pub lake: LakeTiming,
    /// See [`faults`] for the syntax.
    pub faults: String,
    /// NextTokens older than this are refused as expired.
    pub token_ttl: Option<Duration>,
    /// The accounts form an organization (Organizations, STS and Account answer too).
    pub org: Option<OrgConfig>,
    pub seed: u64,
}

impl Default for EmulatorConfig {
    fn default() -> Self {
        EmulatorConfig {
            data: DataSource::Generated(GeneratorConfig::default()),
            now_micros: None,
            host: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: 0,
            keys: Vec::new(),
            default_account: None,
            disabled_regions: Vec::new(),
            limits: Limits::AWS,
            lake: LakeTiming::default(),
            faults: String::new(),
            token_ttl: None,
            org: None,
            seed: 1,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum EmulatorError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot start the emulator's runtime")]
    Runtime(#[source] std::io::Error),
    #[error("invalid --faults: {0}")]
    Faults(#[from] FaultSpecError),
}

/// A running emulator. Dropping it stops it.
pub struct Emulator {
    addr: SocketAddr,
    home_region: String,
    state: Arc<State>,
    load_report: LoadReport,
    shutdown: watch::Sender<bool>,
    thread: Option<JoinHandle<()>>,
}

impl Emulator {
    /// Builds the data set and starts serving on a thread of its own.
    pub fn spawn(mut config: EmulatorConfig) -> Result<Emulator, EmulatorError> {
        let faults = Faults::parse(&config.faults, config.seed ^ 0xFA)?;
        let data = std::mem::replace(&mut config.data, DataSource::Records(Vec::new()));
        let (store, load_report, generated_now, accounts, regions) = match data {
            DataSource::Generated(g) => {
                let store = EventStore::generated(&Generator::new(g.clone()));
                let (accounts, regions) = (g.accounts.clone(), g.regions.clone());
                (
                    store,
                    LoadReport::default(),
                    Some(g.now_micros),
                    accounts,
                    regions,
                )
            }
            DataSource::Records(records) => {
                let (store, report) = EventStore::from_records(records);
                let (mut accounts, mut regions): (Vec<String>, Vec<String>) = store
                    .places()
                    .map(|(a, r)| (a.to_owned(), r.to_owned()))
                    .unzip();
                accounts.dedup();
                regions.sort();
                regions.dedup();
                (store, report, None, accounts, regions)
            }
        };
        let now = config
            .now_micros
            .or(generated_now)
            .or_else(|| store.latest_micros().map(|t| t + 1_000_000))
            .unwrap_or_else(|| chrono::Utc::now().timestamp_micros());
        let default_account = config
            .default_account
            .clone()
            .or_else(|| accounts.first().cloned())
            .unwrap_or_else(|| "111122223333".to_owned());
        let mut rng = Rng::with_seed(config.seed ^ 0xED5);
        let store_id = generate::uuid(&mut rng);
        // The Region the event data store lives in, and the one the banner suggests.
        let home_region = if regions.iter().any(|r| r == "us-east-1") {
            "us-east-1".to_owned()
        } else {
            regions
                .first()
                .cloned()
                .unwrap_or_else(|| "us-east-1".to_owned())
        };
        let eds = lake::default_store(
            store_id,
            &home_region,
            &default_account,
            now - 400 * 86_400_000_000,
        );
        let access = Access {
            keys: config.keys.iter().cloned().collect(),
            default_account: default_account.clone(),
            disabled_regions: config
                .disabled_regions
                .iter()
                .cloned()
                .collect::<HashSet<_>>(),
        };
        let disabled = access.disabled_regions.clone();
        let mut state = State::new(
            Clock::new(now),
            store,
            Lake::new(config.lake, vec![eds], default_account),
            RateLimiter::new(config.limits),
            faults,
            Tokens::new(
                config.seed ^ 0x70_6b6e,
                config.token_ttl.map(|d| d.as_micros() as i64),
            ),
            access,
            config.seed,
        );
        state.org = config.org.as_ref().map(|org| {
            Org::new(
                org,
                accounts.clone(),
                regions.clone(),
                disabled,
                config.seed,
            )
        });
        let state = Arc::new(state);

        let addr = SocketAddr::new(config.host, config.port);
        let listener = std::net::TcpListener::bind(addr)
            .map_err(|source| EmulatorError::Bind { addr, source })?;
        let addr = listener
            .local_addr()
            .map_err(|source| EmulatorError::Bind { addr, source })?;
        listener
            .set_nonblocking(true)
            .map_err(|source| EmulatorError::Bind { addr, source })?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("trailq-emulator")
            .enable_all()
            .build()
            .map_err(EmulatorError::Runtime)?;
        let (shutdown, stopped) = watch::channel(false);
        let serving = Arc::clone(&state);
        let thread = std::thread::Builder::new()
            .name("trailq-emulator".into())
            .spawn(move || {
                runtime.block_on(async move {
                    match tokio::net::TcpListener::from_std(listener) {
                        Ok(listener) => server::serve(listener, serving, stopped).await,
                        Err(e) => {
                            // Best effort: stderr may be closed, and a panic here helps no one.
                            use std::io::Write as _;
                            let _ = writeln!(
                                std::io::stderr(),
                                "error: the emulator cannot listen: {e}"
                            );
                        }
                    }
                });
                // Open keep-alive connections end with the runtime.
                runtime.shutdown_timeout(Duration::from_millis(100));
            })
            .map_err(EmulatorError::Runtime)?;
        Ok(Emulator {
            addr,
            home_region,
            state,
            load_report,
            shutdown,
            thread: Some(thread),
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// What to pass as `--endpoint-url`.
    pub fn endpoint_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The organization, when started with `--org`.
    pub fn organization(&self) -> Option<&Org> {
        self.state.org.as_ref()
    }

    /// The Region of the event data store (us-east-1 when it has events).
    pub fn home_region(&self) -> &str {
        &self.home_region
    }

    /// Every event held, per account and region, newest first.
    pub fn ground_truth(&self) -> Vec<GroundTruthEvent> {
        self.state.store.ground_truth()
    }

    /// The same as JSON Lines.
    pub fn ground_truth_jsonl(&self) -> String {
        self.state.store.ground_truth_jsonl()
    }

    /// Requests accepted, throttled and faulted per account, region and rate class.
    pub fn rates(&self) -> Vec<RateReport> {
        self.state.limiter.report()
    }

    /// The emulator's clock now (µs).
    pub fn now_micros(&self) -> i64 {
        self.state.clock.now_micros()
    }

    pub fn event_count(&self) -> usize {
        self.state.store.len()
    }

    /// The (account, region) pairs that have events.
    pub fn places(&self) -> Vec<(String, String)> {
        self.state
            .store
            .places()
            .map(|(a, r)| (a.to_owned(), r.to_owned()))
            .collect()
    }

    /// The event data stores Lake queries can name.
    pub fn event_data_stores(&self) -> Vec<lake::EventDataStore> {
        self.state.lake.stores().to_vec()
    }

    /// What loading files found (empty for generated data).
    pub fn load_report(&self) -> &LoadReport {
        &self.load_report
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
