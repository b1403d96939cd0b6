//! `trailq stores`: the CloudTrail Lake event data stores of an account and Region.

use std::process::ExitCode;

use clap::Args;
use trailq::source::lake;

use crate::commands::query::LakeArgs;
use crate::commands::runtime;
use crate::error::{Error, Result};
use crate::terminal::{out, out_json};

#[derive(Debug, Args)]
pub struct StoresArgs {
    /// Print JSON
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub lake: LakeArgs,
}

pub fn run(args: StoresArgs) -> Result<ExitCode> {
    let stores = runtime()?.block_on(async {
        let client = args.lake.client().await?;
        lake::stores(&client).await.map_err(Error::from)
    })?;
    if args.json {
        out_json(&stores)?;
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
    out(&lines.join("\n"))?;
    Ok(ExitCode::SUCCESS)
}
