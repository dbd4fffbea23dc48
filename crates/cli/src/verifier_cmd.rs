//! `lockstep verifier`: runs the independent DVN (crate `lockstep-verifier`) as its own
//! process: its configuration file, its key from `LOCKSTEP_VERIFIER_KEY` or `--key-file`
//! (never the configuration), `/healthz` and `/metrics` on the configured listen address.

use clap::Args;
use eyre::{WrapErr, eyre};
use lockstep_verifier::{Verifier, VerifierConfig, http};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

/// The environment variable holding the verifier's hex private key.
const KEY_ENV: &str = "LOCKSTEP_VERIFIER_KEY";

/// Arguments of `lockstep verifier`.
#[derive(Debug, Args)]
pub(crate) struct VerifierArgs {
    /// The verifier's TOML configuration (chains, escrows, RPC endpoints, listen address).
    #[arg(long)]
    config: PathBuf,
    /// File holding the verifier's hex private key (default: `LOCKSTEP_VERIFIER_KEY`).
    #[arg(long)]
    key_file: Option<PathBuf>,
    /// Log JSON lines instead of text.
    #[arg(long)]
    log_json: bool,
}

/// Runs `lockstep verifier` until ctrl-c or SIGTERM.
pub(crate) fn run(args: VerifierArgs) -> ExitCode {
    crate::init_tracing(args.log_json);
    let result = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .wrap_err("starting the async runtime")
        .and_then(|rt| rt.block_on(serve(args)));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = format!("{e:#}"), "verifier stopped");
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}

fn signer(key_file: Option<&PathBuf>) -> eyre::Result<alloy::signers::local::PrivateKeySigner> {
    let hex = match key_file {
        Some(path) => std::fs::read_to_string(path)
            .wrap_err_with(|| format!("reading the key file {}", path.display()))?,
        None => std::env::var(KEY_ENV).map_err(|_| eyre!("set {KEY_ENV} or pass --key-file"))?,
    };
    hex.trim()
        .parse()
        .map_err(|e| eyre!("the verifier key is not a hex private key: {e}"))
}

async fn serve(args: VerifierArgs) -> eyre::Result<()> {
    let config = VerifierConfig::load(&args.config)?;
    let signer = signer(args.key_file.as_ref())?;
    let listen = config.listen.clone();
    let verifier = Arc::new(Verifier::new(config, signer)?);
    let listener = tokio::net::TcpListener::bind(&listen)
        .await
        .wrap_err_with(|| format!("binding {listen}"))?;
    tracing::info!(listen = %listen, dvn = %verifier.address(), "verifier started");
    let app = http::router(verifier.health());
    let server = axum::serve(listener, app);
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        r = server => r.wrap_err("serving /healthz and /metrics")?,
        () = verifier.run() => {}
        _ = tokio::signal::ctrl_c() => tracing::info!("ctrl-c: stopping"),
        () = term => tracing::info!("SIGTERM: stopping"),
    }
    Ok(())
}
