//! `trailq demo`: the emulator in-process with 90 days of Amazon Inspector activity in three
//! accounts and two Regions, the real export against it (at CloudTrail's 2 requests/s per
//! account and Region), two saved queries run on the export, the report of the export written
//! beside it, and where to look next.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;

use crate::commands::EndpointArgs;
use crate::commands::detect::WindowArgs;
use crate::commands::export::{ExportArgs, Via, export_with};
use crate::commands::queries::saved_on_dataset;
use crate::commands::query::{LakeArgs, OutputArgs};
use crate::commands::report::{ReportArgs, write_report};
use crate::error::{Error, Result};
use crate::terminal::{note, out};
use trailq::aws;
use trailq::results::Format;
use trailq_emulator::generate::GeneratorConfig;
use trailq_emulator::limits::Limits;
use trailq_emulator::server::KeyAccess;
use trailq_emulator::{DataSource, Emulator, EmulatorConfig};

const ACCOUNTS: [&str; 3] = ["111122223333", "444455556666", "777788889999"];
const REGIONS: [&str; 2] = ["us-east-1", "eu-west-1"];

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// The dataset to write (created if missing)
    #[arg(
        long,
        default_value = "trailq-demo/inspector-events",
        value_name = "DIR"
    )]
    pub out: PathBuf,
    /// Generated events a day over all accounts and Regions (70% Inspector). At 2 requests/s the
    /// busiest account-Region takes about a quarter of a second per event a day to export.
    #[arg(long, default_value_t = 120, value_name = "N")]
    pub events_per_day: u32,
    /// Seed of the generated activity
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// No progress bars
    #[arg(long, short)]
    pub quiet: bool,
}

pub fn run(args: DemoArgs) -> Result<ExitCode> {
    let now = chrono::Utc::now().timestamp_micros();
    let keys: Vec<String> = (0..ACCOUNTS.len())
        .map(|i| format!("AKIATRAILQDEMO{i:06}"))
        .collect();
    let emulator = Emulator::spawn(EmulatorConfig {
        data: DataSource::Generated(GeneratorConfig {
            seed: args.seed,
            now_micros: now,
            days: 91,
            events_per_day: args.events_per_day,
            accounts: ACCOUNTS.map(String::from).to_vec(),
            regions: REGIONS.map(String::from).to_vec(),
            noise: 0.3,
        }),
        keys: keys
            .iter()
            .zip(ACCOUNTS)
            .map(|(k, a)| (k.clone(), KeyAccess::Account(a.to_owned())))
            .collect(),
        limits: Limits::AWS,
        seed: args.seed,
        ..EmulatorConfig::default()
    })
    .map_err(Error::Emulator)?;
    let url = emulator.endpoint_url();
    note!(
        "CloudTrail emulator at {url}: {} events over 91 days in {} accounts × {} Regions, LookupEvents limited to 2 requests/s per account and Region.\n\
         Exporting the last 90 days of Amazon Inspector events from all of them into `{}`…",
        emulator.event_count(),
        ACCOUNTS.len(),
        REGIONS.len(),
        args.out.display()
    );
    let export = ExportArgs {
        out: crate::commands::DatasetArg::Dir(args.out.clone()),
        start: None,
        end: None,
        last: Some(Duration::from_secs(90 * 86_400)),
        since_last: false,
        event_sources: Vec::new(),
        lookup: None,
        where_event_name: Vec::new(),
        read_only: None,
        region: REGIONS.map(String::from).to_vec(),
        all_regions: false,
        profile: Vec::new(),
        org: false,
        role_name: trailq::org::DEFAULT_ROLE.to_owned(),
        accounts: Vec::new(),
        exclude_accounts: Vec::new(),
        endpoint: EndpointArgs {
            endpoint_url: Some(url.clone()),
        },
        via: Via::Lookup,
        eds: None,
        slice: Duration::from_secs(86_400),
        rate: 2.0,
        quiet: args.quiet,
        json: false,
    };
    let (code, _) = crate::commands::runtime()?.block_on(async {
        let mut identities = Vec::new();
        for (key, account) in keys.iter().zip(ACCOUNTS) {
            identities.push(
                aws::static_identity(&format!("demo-{account}"), key, REGIONS[0], &url).await,
            );
        }
        export_with(&export, &identities).await
    })?;
    drop(emulator);
    let dataset = args.out.display();
    // Two saved queries on the export, as a responder would start.
    let library = trailq::library::Library::load(&[])?;
    let output = OutputArgs {
        format: Some(Format::Table),
        out: None,
        json: false,
        quiet: true,
    };
    for name in ["first-seen-principals", "inspector-disabled"] {
        let query = library.get(name)?;
        let values = query.values(&[], now)?;
        out(&format!(
            "\n{}:\n$ trailq queries run {name} --data {dataset}",
            query.title
        ))?;
        crate::commands::runtime()?.block_on(saved_on_dataset(
            query,
            values,
            now,
            &crate::commands::DatasetArg::Dir(args.out.clone()),
            &output,
            Format::Table,
        ))?;
    }
    out("\n`trailq queries list` shows the other saved queries.")?;
    // `who` is the saved queries' principal: Identity Center users have no ARN, services no user.
    // scripts/demo.sh runs this printed line as it stands.
    let files = crate::commands::schema::duckdb_parquet_glob(&dataset.to_string());
    out(&format!(
        "\nThe Parquet dataset is in `{dataset}`. Open it in DuckDB — who created suppression filters (findings hidden) and who turned Inspector off:\n\n  \
         duckdb -c \"SET TimeZone='UTC'; SELECT eventTime, recipientAccountId AS account, awsRegion AS region, eventName, coalesce(userIdentity.arn, userIdentity.invokedBy, userIdentity.onBehalfOf.userId, userIdentity.principalId) AS who, sourceIPAddress AS ip, coalesce(requestParameters['name'], requestParameters['resourceTypes']) AS what FROM read_parquet({files}, hive_partitioning = true) WHERE eventSource = 'inspector2.amazonaws.com' AND errorCode IS NULL AND ((eventName IN ('CreateFilter', 'UpdateFilter') AND requestParameters['action'] = 'SUPPRESS') OR eventName = 'Disable') ORDER BY eventTime DESC\""
    ))?;
    // The investigation as a page: what `trailq report` writes.
    let mut report = args.out.clone().into_os_string();
    report.push("-report.html");
    let report_args = ReportArgs {
        data: Some(crate::commands::DatasetArg::Dir(args.out.clone())),
        eds: None,
        window: WindowArgs {
            start: None,
            end: Some(now),
            last: Some(Duration::from_secs(90 * 86_400)),
        },
        principal: Vec::new(),
        out: PathBuf::from(report),
        now: Some(now),
        queries_dir: None,
        quiet: true,
        lake: LakeArgs::default(),
    };
    crate::commands::runtime()?.block_on(write_report(&report_args, &library, now))?;
    out(&format!(
        "\nThe report — findings, a timeline per suspicious principal, activity over time — is in `{}`; open it in a browser.\n\
         `trailq detect --data {dataset}` lists the findings and exits 1 when there are any (for cron or CI).",
        report_args.out.display()
    ))?;
    Ok(code)
}
