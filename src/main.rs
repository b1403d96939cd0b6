use std::process::ExitCode;

use clap::Parser;

use cli::Cli;

mod cli;
mod commands;
mod error;
mod terminal;

fn main() -> ExitCode {
    trailq::memory::configure_malloc();
    let cli = Cli::parse();
    match commands::run(cli) {
        Ok(code) => code,
        Err(e) if e.is_broken_pipe() => ExitCode::SUCCESS,
        Err(e) => {
            // One line, causes included: what failed, on what, why, and what to do.
            terminal::note!("error: {}", trailq::error_chain(&e));
            ExitCode::from(e.exit_code())
        }
    }
}
