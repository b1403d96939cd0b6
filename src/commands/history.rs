//! `trailq history`: the recent CloudTrail Lake queries of an event data store.

use std::process::ExitCode;

use clap::Args;
use trailq::source::lake;

use crate::commands::query::{LakeArgs, resolve_eds};
use crate::commands::runtime;
use crate::error::{Error, Result};
use crate::terminal::{out, out_json};

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

pub fn run(args: HistoryArgs) -> Result<ExitCode> {
    let queries = runtime()?.block_on(async {
        let client = args.lake.client().await?;
        let eds = resolve_eds(&client, &args.eds).await?;
        lake::history(&client, &eds, args.limit)
            .await
            .map_err(Error::from)
    })?;
    if args.json {
        out_json(&queries)?;
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
    out(&lines.join("\n"))?;
    Ok(ExitCode::SUCCESS)
}
