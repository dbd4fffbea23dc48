//! `lockstep`: the Lockstep coordinator daemon and its operator and evidence commands.
//!
//! Each subcommand lives in its own module; this file only parses arguments and
//! dispatches.

use clap::{Parser, Subcommand};

/// The process's allocator: mimalloc, for Rust's allocations and (its `override`
/// feature) for every `malloc` and `free` of the C code linked in, SQLite's among them.
/// Under load glibc's allocator spent about a tenth of the daemon's CPU, much of it
/// consolidating freed chunks in SQLite's connection threads; with mimalloc the API
/// benchmark's instructions per second at 8 clients rose 8 % in interleaved runs
/// (bench/api/README.md, "The allocator").
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod claim_cmd;
mod coordinator_cmd;
mod deployment_cmd;
mod devnet;
mod evidence_cmd;
mod verifier_cmd;

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
    /// Manage platforms (coordinator clients).
    Platform(coordinator_cmd::PlatformArgs),
    /// Issue and revoke API tokens.
    Token(coordinator_cmd::TokenArgs),
    /// Two local anvil chains with LayerZero, escrows and demo tokens, plus the coordinator.
    Devnet(devnet::DevnetArgs),
    /// Withdraw what an escrow owes you (a leg whose transfer failed): `claim(token, to)`
    /// signed with the key from `LOCKSTEP_CLAIM_KEY` or `--key-file`.
    Claim(claim_cmd::ClaimArgs),
    /// Run the independent DVN: attest the escrows' packets on their destinations
    /// (`ReceiveUln302.verify`) once all of a chain's RPC endpoints agree on them.
    Verifier(verifier_cmd::VerifierArgs),
    /// Check a deployment against the configuration and contracts/src (`deployment check`).
    Deployment(deployment_cmd::DeploymentArgs),
}

/// Structured logs on stderr: `RUST_LOG` filter (default `info`), text or JSON lines.
fn init_tracing(json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    // A second initialisation (never expected) is harmless; ignore its error.
    let _ = if json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Evidence(args) => evidence_cmd::run(args),
        Command::Serve(args) => coordinator_cmd::serve(args),
        Command::Platform(args) => coordinator_cmd::platform(args),
        Command::Token(args) => coordinator_cmd::token(args),
        Command::Devnet(args) => devnet::run(args),
        Command::Claim(args) => claim_cmd::claim(args),
        Command::Verifier(args) => verifier_cmd::run(args),
        Command::Deployment(args) => deployment_cmd::run(args),
    }
}
