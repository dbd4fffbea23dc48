//! `lockstep serve`, `lockstep platform ...` and `lockstep token ...`.

use clap::Args;
use std::process::ExitCode;

/// Arguments of `lockstep serve`.
#[derive(Debug, Args)]
pub(crate) struct ServeArgs {}

/// Runs the coordinator daemon.
pub(crate) fn serve(_args: ServeArgs) -> ExitCode {
    eprintln!("error: the coordinator service is not built yet");
    ExitCode::from(2)
}
