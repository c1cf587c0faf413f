//! `portal`: parse the command line, run it, exit with the code of its class of failure.

use std::process::ExitCode;

use clap::Parser;
use portal_cli::{args::Cli, color};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(portal_cli::error::CliError::from)
        .and_then(|runtime| runtime.block_on(portal_cli::run(&cli)));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{}: {e}", color::for_stream(false).red("error"));
            ExitCode::from(e.exit_code())
        }
    }
}
