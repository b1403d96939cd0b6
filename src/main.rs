use std::error::Error as _;
use std::process::ExitCode;

use clap::Parser;

use trailq::cli::Cli;

fn main() -> ExitCode {
    trailq::memory::limit_malloc_arenas();
    let cli = Cli::parse();
    match trailq::commands::run(cli) {
        Ok(code) => code,
        Err(e) if e.is_broken_pipe() => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            let mut cause = e.source();
            while let Some(c) = cause {
                eprintln!("caused by: {c}");
                cause = c.source();
            }
            ExitCode::from(e.exit_code())
        }
    }
}
