//! `trailq stores` (Lake event data stores) and `trailq history` (recent Lake queries).

use std::io::Write;
use std::process::ExitCode;

use clap::Args;

use crate::commands::query::{LakeArgs, resolve_eds};
use crate::commands::runtime;
use crate::error::{Error, Result};
use trailq::source::lake;

#[derive(Debug, Args)]
pub struct StoresArgs {
    /// Print JSON
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub lake: LakeArgs,
}

#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// The event data store: ID, ARN or name
    #[arg(long, env = "TRAILQ_EDS", value_name = "ID|ARN|NAME")]
    pub eds: String,
    /// How many of the most recent queries to list
    #[arg(long, default_value_t = 20, value_name = "N")]
    pub limit: usize,
    /// Print JSON
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub lake: LakeArgs,
}

fn print(lines: &[String]) -> Result<()> {
    let mut out = std::io::stdout().lock();
    for l in lines {
        writeln!(out, "{l}").map_err(Error::Stdout)?;
    }
    Ok(())
}

fn json<T: serde::Serialize>(value: &T) -> Result<()> {
    print(&[serde_json::to_string_pretty(value).expect("serializes")])
}

pub fn run_stores(args: StoresArgs) -> Result<ExitCode> {
    let stores = runtime()?.block_on(async {
        let client = args.lake.client().await?;
        lake::stores(&client).await.map_err(Error::from)
    })?;
    if args.json {
        json(&stores)?;
        return Ok(ExitCode::SUCCESS);
    }
    let yes_no = |b: Option<bool>| match b {
        Some(true) => "yes",
        Some(false) => "no",
        None => "-",
    };
    let mut lines = vec![format!(
        "{:<36}  {:<24} {:<20} {:>9}  {:<12} {:<12}",
        "id", "name", "status", "retention", "multi-region", "organization"
    )];
    for s in &stores {
        lines.push(format!(
            "{:<36}  {:<24} {:<20} {:>9}  {:<12} {:<12}",
            s.id,
            s.name,
            s.status.as_deref().unwrap_or("-"),
            s.retention_days
                .map_or("-".to_owned(), |d| format!("{d} d")),
            yes_no(s.multi_region),
            yes_no(s.organization)
        ));
    }
    if stores.is_empty() {
        lines.push("(no event data stores in this account and Region)".into());
    }
    print(&lines)?;
    Ok(ExitCode::SUCCESS)
}

pub fn run_history(args: HistoryArgs) -> Result<ExitCode> {
    let queries = runtime()?.block_on(async {
        let client = args.lake.client().await?;
        let eds = resolve_eds(&client, &args.eds).await?;
        lake::history(&client, &eds, args.limit)
            .await
            .map_err(Error::from)
    })?;
    if args.json {
        json(&queries)?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut lines = vec![format!(
        "{:<36}  {:<10} {:<19}  statement",
        "query id", "status", "created (UTC)"
    )];
    for q in &queries {
        let statement: String = q
            .statement
            .as_deref()
            .unwrap_or("")
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        let short: String = statement.chars().take(60).collect();
        lines.push(format!(
            "{:<36}  {:<10} {:<19}  {short}{}",
            q.id,
            q.status,
            q.created.as_deref().unwrap_or("-"),
            if statement.chars().count() > 60 {
                "…"
            } else {
                ""
            }
        ));
    }
    if queries.is_empty() {
        lines.push("(no queries in the last 7 days)".into());
    }
    print(&lines)?;
    Ok(ExitCode::SUCCESS)
}
