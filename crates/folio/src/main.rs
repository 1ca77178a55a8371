//! The `folio` binary: parses the command line and dispatches. The work lives
//! in the library crates; this file only wires them together.

mod cli;
mod config;
mod engine_cmds;
mod files;
mod keys;
mod ops;
mod service;
mod worker_metrics;

use std::process::ExitCode;

use clap::Parser;
use cli::Command;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    let result = match cli.command {
        // The job child: nothing else runs in this process.
        Command::RunJob => return ExitCode::from(folio_worker::child::child_main() as u8),
        Command::Serve(args) => config::Config::load(&args).and_then(service::serve),
        Command::Worker(args) => config::Config::load(&args).and_then(service::worker),
        Command::Migrate(args) => config::Config::load(&args).and_then(service::migrate),
        Command::Config(args) => config::Config::load(&args).map(|c| {
            println!(
                "{}",
                serde_json::to_string_pretty(&c.masked()).unwrap_or_default()
            );
        }),
        Command::Backup { out, service } => {
            config::Config::load(&service).and_then(|c| ops::backup(&c, &out))
        }
        Command::Healthcheck { url, timeout } => ops::healthcheck(url, timeout),
        Command::Keys { command } => keys::run(command),
        _ => engine_cmds::run(cli),
    };
    match result {
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
