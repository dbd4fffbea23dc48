//! `lockstep`: the Lockstep coordinator daemon and its operator and evidence commands.
//!
//! Each subcommand lives in its own module; this file only parses arguments and
//! dispatches.

use clap::{Parser, Subcommand};

mod coordinator_cmd;
mod evidence_cmd;

/// Lockstep: atomic delivery-versus-payment settlement across platforms and chains.
#[derive(Debug, Parser)]
#[command(name = "lockstep", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Content-addressed evidence: canonical bytes, refs, builders, verification, bench.
    Evidence(evidence_cmd::EvidenceArgs),
    /// Run the coordinator daemon (HTTP API, matching, webhooks).
    Serve(coordinator_cmd::ServeArgs),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Evidence(args) => evidence_cmd::run(args),
        Command::Serve(args) => coordinator_cmd::serve(args),
    }
}
