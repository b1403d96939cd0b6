//! Writes the emulator's seeded Inspector activity as gzipped trail log files, for the demo and
//! the convert benchmark: `cargo run --release --example trail_files -- --out DIR [--days N] …`.

use std::path::PathBuf;

use clap::Parser;
use trailq_emulator::generate::{Generator, GeneratorConfig};
use trailq_emulator::trail_files::write_trail_files;

#[derive(Parser)]
struct Args {
    /// Folder to write `AWSLogs/…` into
    #[arg(long)]
    out: PathBuf,
    #[arg(long, default_value_t = 90)]
    days: u32,
    #[arg(long, default_value_t = 2000)]
    events_per_day: u32,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// End of the window (ISO-8601 UTC); default: now
    #[arg(long)]
    now: Option<String>,
    #[arg(long, default_value_t = 2)]
    threads: usize,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let mut config = GeneratorConfig {
        seed: args.seed,
        days: args.days,
        events_per_day: args.events_per_day,
        ..GeneratorConfig::default()
    };
    if let Some(now) = &args.now {
        config.now_micros = trailq_events::time::parse_timestamp_micros(now)
            .ok_or_else(|| format!("--now `{now}` is not a time like 2026-11-24T00:00:00Z"))?;
    }
    let written = write_trail_files(
        &Generator::new(config),
        &args.out,
        "o-exampleorgid",
        args.threads,
    )?;
    println!(
        "wrote {} records in {} files ({} bytes) under {}",
        written.records,
        written.files,
        written.bytes,
        args.out.display()
    );
    Ok(())
}
