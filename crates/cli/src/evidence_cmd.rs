//! `lockstep evidence ...`: canonical bytes, refs, builders, bundle verification and
//! the speed benchmark. Outputs use the reference Python packages' keys so the two can
//! be compared directly. Bad input: one line on stderr, nothing on stdout, exit 2.

use clap::{Args, Subcommand};
use eyre::{WrapErr, eyre};
use lockstep_evidence::vectors::compute;
use lockstep_evidence::{bundle, canonicalize, parse_strict, ref_of};
use serde_json::Value;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `lockstep evidence`.
#[derive(Debug, Args)]
pub(crate) struct EvidenceArgs {
    #[command(subcommand)]
    command: EvidenceCommand,
}

#[derive(Debug, Subcommand)]
enum EvidenceCommand {
    /// Print the RFC 8785 canonical bytes of a JSON document (stdin when no file).
    Canon {
        /// Input file (default: stdin).
        file: Option<PathBuf>,
    },
    /// Print `sha256:<hex>` of the canonical bytes of a JSON document.
    Ref {
        /// Input file (default: stdin).
        file: Option<PathBuf>,
    },
    /// Build one construction from its inputs (JSON) and print its output (JSON).
    Build {
        #[command(subcommand)]
        what: BuildCommand,
    },
    /// Verify an evidence bundle: exit 0 when every ref recomputes offline and, with
    /// `--rpc`, every receipt anchor is found on its chain (receipt, block hash, log, event,
    /// settlement id).
    Verify {
        /// The bundle file.
        bundle: PathBuf,
        /// `CHAIN_ID=URL`: re-check the anchors on that chain (repeat per chain; every
        /// anchored chain needs one once any is given).
        #[arg(long = "rpc", value_name = "CHAIN_ID=URL")]
        rpc: Vec<String>,
    },
    /// Build an evidence bundle from settlement facts (see docs/evidence.md).
    Bundle {
        /// Facts file (default: stdin).
        file: Option<PathBuf>,
    },
    /// Time N full keystones on one thread and print the rate and the last refs.
    Bench {
        /// Number of full keystones.
        #[arg(long, default_value_t = 100_000)]
        iterations: u64,
    },
}

#[derive(Debug, Subcommand)]
enum BuildCommand {
    /// `bind_keystone`: the whole keystone record.
    Keystone {
        /// Input file (default: stdin).
        file: Option<PathBuf>,
    },
    /// `evidence_frame`: a Payment Evidence Frame.
    Frame {
        /// Input file (default: stdin).
        file: Option<PathBuf>,
    },
    /// `audit_chain_of_frames`: rows, row hashes and cap.
    AuditChain {
        /// Input file (default: stdin).
        file: Option<PathBuf>,
    },
    /// Settlement binding: content hash, retention row, binding.
    SettlementBinding {
        /// Input file (default: stdin).
        file: Option<PathBuf>,
    },
}

/// Runs an evidence subcommand.
pub(crate) fn run(args: EvidenceArgs) -> ExitCode {
    match execute(args.command) {
        Ok(Outcome::Out(bytes)) => {
            let mut out = std::io::stdout().lock();
            if out.write_all(&bytes).and_then(|()| out.flush()).is_err() {
                return ExitCode::from(2);
            }
            ExitCode::SUCCESS
        }
        Ok(Outcome::Mismatch(line)) => {
            eprintln!("{line}");
            ExitCode::from(1)
        }
        Err(e) => {
            let msg = format!("{e:#}").replace('\n', " ");
            eprintln!("error: {msg}");
            ExitCode::from(2)
        }
    }
}

enum Outcome {
    Out(Vec<u8>),
    Mismatch(String),
}

fn read_input(file: Option<&PathBuf>) -> eyre::Result<Value> {
    let mut bytes = Vec::new();
    match file {
        Some(p) => {
            bytes = std::fs::read(p).wrap_err_with(|| format!("reading {}", p.display()))?;
        }
        None => {
            std::io::stdin()
                .read_to_end(&mut bytes)
                .wrap_err("reading stdin")?;
        }
    }
    Ok(parse_strict(&bytes)?)
}

fn json_line(v: &impl serde::Serialize) -> eyre::Result<Outcome> {
    let mut s = serde_json::to_vec(v)?;
    s.push(b'\n');
    Ok(Outcome::Out(s))
}

fn execute(cmd: EvidenceCommand) -> eyre::Result<Outcome> {
    match cmd {
        EvidenceCommand::Canon { file } => {
            let v = read_input(file.as_ref())?;
            Ok(Outcome::Out(canonicalize(&v)?))
        }
        EvidenceCommand::Ref { file } => {
            let v = read_input(file.as_ref())?;
            Ok(Outcome::Out(format!("{}\n", ref_of(&v)?).into_bytes()))
        }
        EvidenceCommand::Build { what } => build(what),
        EvidenceCommand::Bundle { file } => {
            let v = read_input(file.as_ref())?;
            json_line(&compute("bundle", &v)?)
        }
        EvidenceCommand::Verify { bundle: path, rpc } => {
            let v = read_input(Some(&path))?;
            let fetched;
            let checker: &dyn bundle::AnchorChecker = if rpc.is_empty() {
                &bundle::OfflineOnly
            } else {
                let mut urls = std::collections::BTreeMap::new();
                for r in &rpc {
                    let (id, url) = r
                        .split_once('=')
                        .ok_or_else(|| eyre!("--rpc {r}: expected CHAIN_ID=URL"))?;
                    let id: u64 = id
                        .trim()
                        .parse()
                        .map_err(|e| eyre!("--rpc {r}: chain id: {e}"))?;
                    urls.insert(id, url.trim().to_string());
                }
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()?;
                // Refs are checked first (offline, no network) so a tampered bundle is
                // reported as such before any RPC failure.
                if let Err(e) = bundle::verify_bundle(&v, &bundle::OfflineOnly) {
                    return match e {
                        bundle::VerifyError::Mismatch(m) => {
                            Ok(Outcome::Mismatch(format!("mismatch: {m}")))
                        }
                        bundle::VerifyError::Invalid(e) => Err(eyre!(e)),
                    };
                }
                fetched = rt
                    .block_on(lockstep_chain::anchors::RpcAnchors::fetch(&v, &urls))
                    .map_err(|e| eyre!(e))?;
                &fetched
            };
            match bundle::verify_bundle(&v, checker) {
                Ok(summary) => Ok(Outcome::Out(format!("{summary}\n").into_bytes())),
                Err(bundle::VerifyError::Mismatch(m)) => {
                    Ok(Outcome::Mismatch(format!("mismatch: {m}")))
                }
                Err(bundle::VerifyError::Invalid(e)) => Err(eyre!(e)),
            }
        }
        EvidenceCommand::Bench { iterations } => bench(iterations),
    }
}

fn build(what: BuildCommand) -> eyre::Result<Outcome> {
    // The same entry points the vector files use, so CLI output and vectors agree.
    let (construction, file) = match what {
        BuildCommand::Keystone { file } => ("keystone", file),
        BuildCommand::Frame { file } => ("frame", file),
        BuildCommand::AuditChain { file } => ("audit_chain", file),
        BuildCommand::SettlementBinding { file } => ("settlement_binding", file),
    };
    let v = read_input(file.as_ref())?;
    json_line(&compute(construction, &v)?)
}

fn bench(iterations: u64) -> eyre::Result<Outcome> {
    if iterations == 0 {
        return Err(eyre!("--iterations must be at least 1"));
    }
    let start = std::time::Instant::now();
    let last = lockstep_evidence::bench::run(iterations)?;
    let seconds = start.elapsed().as_secs_f64();
    tracing::debug!(iterations, seconds, "evidence bench finished");
    json_line(&serde_json::json!({
        "iterations": iterations,
        "seconds": seconds,
        "keystones_per_sec": iterations as f64 / seconds,
        "last": last,
    }))
}
