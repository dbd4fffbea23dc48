//! `lockstep deployment check`: parses the flags, runs the check of `lockstep-deployment`
//! over the configuration's `[[chains]]` (the expected escrow code is the one compiled from
//! this build's `contracts/src`) and prints its table (docs/chain.md, "Deployment
//! check"). Exit status 0 when every row holds, 1 on any deviation, 2 when the check could
//! not start (configuration, flags).

use clap::{Args, Subcommand};
use eyre::{WrapErr, bail};
use lockstep_cli::LockstepConfig;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

/// `lockstep deployment ...`
#[derive(Debug, Args)]
pub(crate) struct DeploymentArgs {
    #[command(subcommand)]
    command: DeploymentCommand,
}

#[derive(Debug, Subcommand)]
enum DeploymentCommand {
    /// Check every configured escrow: bytecode (compiled from contracts/src), owner and
    /// delegate (the timelock, delay above maxSettlementDuration), peers, explicit
    /// libraries, and at least two required DVNs including the verifier on every receive
    /// path. Prints one table; exits 1 on any deviation.
    Check(CheckArgs),
}

/// Arguments of `lockstep deployment check`.
#[derive(Debug, Args)]
struct CheckArgs {
    /// The TOML configuration (its `[[chains]]`: escrow, endpoint, send_lib, receive_lib,
    /// timelock, verifier_dvn, rpc_url).
    #[arg(long, env = "LOCKSTEP_CONFIG")]
    config: PathBuf,
    /// RPC of a chain, overriding its `rpc_url` (repeatable).
    #[arg(long = "rpc", value_name = "CHAIN_ID=URL", value_parser = parse_rpc)]
    rpc: Vec<(u64, String)>,
}

/// `CHAIN_ID=URL`.
fn parse_rpc(s: &str) -> Result<(u64, String), String> {
    let (id, url) = s
        .split_once('=')
        .ok_or_else(|| format!("{s}: expected CHAIN_ID=URL"))?;
    let id = id
        .trim()
        .parse()
        .map_err(|e| format!("{s}: chain id: {e}"))?;
    Ok((id, url.trim().to_string()))
}

/// Runs `lockstep deployment ...`.
pub(crate) fn run(args: DeploymentArgs) -> ExitCode {
    crate::init_tracing(false);
    let DeploymentCommand::Check(args) = args.command;
    match check(args) {
        Ok(report) => {
            print!("{}", report.table());
            let failed = report.failures().count();
            if failed == 0 {
                println!("deployment check passed ({} rows)", report.rows.len());
            } else {
                println!(
                    "deployment check FAILED: {failed} of {} rows",
                    report.rows.len()
                );
            }
            ExitCode::from(report.exit_code())
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn check(args: CheckArgs) -> eyre::Result<lockstep_deployment::Report> {
    let config = LockstepConfig::from_file(&args.config)?;
    if config.chains.is_empty() {
        bail!("{} configures no [[chains]]", args.config.display());
    }
    let rpcs: BTreeMap<u64, String> = args.rpc.into_iter().collect();
    if let Some(id) = rpcs
        .keys()
        .find(|id| !config.chains.iter().any(|c| c.chain_id == **id))
    {
        bail!("--rpc {id}=...: chain {id} is not configured");
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .wrap_err("starting the async runtime")?;
    Ok(rt.block_on(lockstep_deployment::run_check(&config.chains, &rpcs)))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn rpc_flags_parse_as_chain_id_and_url() {
        assert_eq!(
            parse_rpc("31337=http://127.0.0.1:8545").unwrap(),
            (31337, "http://127.0.0.1:8545".to_string())
        );
        assert!(parse_rpc("http://127.0.0.1:8545").is_err());
        assert!(parse_rpc("a=http://x").is_err());
    }
}
