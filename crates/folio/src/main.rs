//! The `folio` binary: parses the command line and dispatches. The work lives
//! in the library crates; this file only wires them together.

mod cli;
mod engine_cmds;
mod files;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    match engine_cmds::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            // One clear line: the stable code when the engine produced it.
            match err.downcast_ref::<folio_engine::Error>() {
                Some(e) => eprintln!("folio: error[{}]: {e}", e.code()),
                None => eprintln!("folio: error: {err:#}"),
            }
            ExitCode::FAILURE
        }
    }
}
