use std::error::Error as _;
use std::process::ExitCode;

use clap::Parser;

use cli::Cli;

mod cli;
mod commands;
mod error;
mod terminal;

fn main() -> ExitCode {
    trailq::memory::limit_malloc_arenas();
    let cli = Cli::parse();
    match commands::run(cli) {
        Ok(code) => code,
        Err(e) if e.is_broken_pipe() => ExitCode::SUCCESS,
        Err(e) => {
            terminal::note!("error: {e}");
            let mut cause = e.source();
            while let Some(c) = cause {
                terminal::note!("caused by: {c}");
                cause = c.source();
            }
            ExitCode::from(e.exit_code())
        }
    }
}
