//! `lockstep evidence ...` subcommands.

use clap::{Args, Subcommand};
use std::process::ExitCode;

/// Arguments of `lockstep evidence`.
#[derive(Debug, Args)]
pub(crate) struct EvidenceArgs {
    #[command(subcommand)]
    command: EvidenceCommand,
}

#[derive(Debug, Subcommand)]
enum EvidenceCommand {
    /// Print the SHA-256 of standard input (placeholder until the evidence CLI lands).
    Sha256,
}

/// Runs an evidence subcommand.
pub(crate) fn run(args: EvidenceArgs) -> ExitCode {
    match args.command {
        EvidenceCommand::Sha256 => {
            let mut buf = Vec::new();
            if let Err(e) = std::io::Read::read_to_end(&mut std::io::stdin(), &mut buf) {
                eprintln!("error: reading stdin: {e}");
                return ExitCode::from(2);
            }
            println!("{}", lockstep_evidence::sha256_hex(&buf));
            ExitCode::SUCCESS
        }
    }
}
