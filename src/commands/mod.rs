//! One file per subcommand; `run` dispatches.

use std::process::ExitCode;

use crate::cli::{Cli, Command};
use crate::error::Result;

pub mod convert;
pub mod demo;
pub mod emulator;
pub mod export;
pub mod query;
pub mod schema;
pub mod stores;

pub fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Convert(args) => convert::run(args),
        Command::Demo(args) => demo::run(args),
        Command::Emulator(args) => emulator::run(*args),
        Command::Export(args) => export::run(*args),
        Command::Query(args) => query::run(*args),
        Command::Stores(args) => stores::run_stores(args),
        Command::History(args) => stores::run_history(args),
        Command::Schema(args) => schema::run(args),
    }
}
