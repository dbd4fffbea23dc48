//! `lockstep serve`, `lockstep platform ...` and `lockstep token ...`.
//!
//! Settings precedence: flags > environment variables > `--config` TOML file > defaults.
//! The attester key is read only from `LOCKSTEP_ATTESTER_KEY` or `--attester-key-file`.

use alloy::signers::local::PrivateKeySigner;
use clap::{Args, Subcommand};
use eyre::{WrapErr, eyre};
use lockstep_chain::{ChainSide, ChainStore};
use lockstep_cli::LockstepConfig;
use lockstep_coordinator::auth::Scope;
use lockstep_coordinator::{Coordinator, Extras, load_attester};
use lockstep_core::{Db, MetricsSource, PacketDesk, SettlementRegistrar, TransferEligibility};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

/// Where the configuration and the database are.
#[derive(Debug, Args)]
pub(crate) struct StoreArgs {
    /// TOML configuration file.
    #[arg(long, env = "LOCKSTEP_CONFIG")]
    config: Option<PathBuf>,
    /// Database URL (`sqlite://PATH` or `postgres://...`); default: SQLite under the data dir.
    #[arg(long, env = "LOCKSTEP_DATABASE_URL")]
    database_url: Option<String>,
    /// Data directory (default `./.lockstep`).
    #[arg(long, env = "LOCKSTEP_DATA_DIR")]
    data_dir: Option<PathBuf>,
}

impl StoreArgs {
    fn load(&self) -> eyre::Result<LockstepConfig> {
        let mut c = match &self.config {
            Some(p) => LockstepConfig::from_file(p)?,
            None => LockstepConfig::default(),
        };
        if let Some(d) = &self.data_dir {
            c.coordinator.data_dir = d.clone();
        }
        if let Some(u) = &self.database_url {
            c.coordinator.database_url = Some(u.clone());
        }
        Ok(c)
    }
}

/// Connects the database and applies every owner's migrations: the coordinator's tables
/// and the chain side's (both crates record their versions in one `_sqlx_migrations`).
/// Returns the handle and the chain side's store over it.
async fn open_db(url: &str) -> eyre::Result<(Db, ChainStore)> {
    let db = Db::connect(url).await.wrap_err("opening the database")?;
    lockstep_coordinator::migrate(&db)
        .await
        .wrap_err("migrating the coordinator's tables")?;
    let store = ChainStore::open(db.clone())
        .await
        .wrap_err("migrating the chain side's tables")?;
    Ok((db, store))
}

/// Arguments of `lockstep serve`.
#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    #[command(flatten)]
    store: StoreArgs,
    /// Listen address (default 127.0.0.1:8080).
    #[arg(long, env = "LOCKSTEP_LISTEN")]
    listen: Option<String>,
    /// File holding the attester's hex private key (when LOCKSTEP_ATTESTER_KEY is unset).
    #[arg(long, env = "LOCKSTEP_ATTESTER_KEY_FILE")]
    attester_key_file: Option<PathBuf>,
    /// File holding the relayer's hex private key (when LOCKSTEP_RELAYER_KEY is unset): the
    /// signer of registrations, LayerZero deliveries (it is the receive-side DVN) and refunds.
    /// Required when any configured chain has an `rpc_url`.
    #[arg(long, env = "LOCKSTEP_RELAYER_KEY_FILE")]
    relayer_key_file: Option<PathBuf>,
    /// Unmatched instruction time-to-live, seconds (default 86400).
    #[arg(long, env = "LOCKSTEP_INSTRUCTION_TTL_SECS")]
    instruction_ttl_secs: Option<u64>,
    /// Local sanctions list (.json or .csv).
    #[arg(long, env = "LOCKSTEP_SANCTIONS_LIST")]
    sanctions_list: Option<PathBuf>,
    /// External screening service URL.
    #[arg(long, env = "LOCKSTEP_SCREENING_URL")]
    screening_url: Option<String>,
    /// Log JSON lines instead of text.
    #[arg(long, env = "LOCKSTEP_LOG_JSON")]
    log_json: Option<bool>,
}

/// Arguments of `lockstep platform`.
#[derive(Debug, Args)]
pub(crate) struct PlatformArgs {
    #[command(subcommand)]
    command: PlatformCommand,
}

#[derive(Debug, Subcommand)]
enum PlatformCommand {
    /// Create a platform and its first token (printed once).
    Create {
        /// Platform name.
        #[arg(long)]
        name: String,
        #[command(flatten)]
        store: StoreArgs,
    },
}

/// Arguments of `lockstep token`.
#[derive(Debug, Args)]
pub(crate) struct TokenArgs {
    #[command(subcommand)]
    command: TokenCommand,
}

#[derive(Debug, Subcommand)]
enum TokenCommand {
    /// Issue a token (printed once): for a platform, or with --operator an operator token.
    Issue {
        /// The platform.
        #[arg(
            long,
            required_unless_present = "operator",
            conflicts_with = "operator"
        )]
        platform: Option<String>,
        /// Issue an operator token (settlement counts, stuck list, compliance decisions).
        #[arg(long)]
        operator: bool,
        /// Scopes (repeatable); default: every platform scope.
        #[arg(long = "scope")]
        scopes: Vec<String>,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Revoke a token by id.
    Revoke {
        /// The token id (`tok_...`).
        token_id: String,
        #[command(flatten)]
        store: StoreArgs,
    },
}

fn runtime() -> eyre::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .wrap_err("starting the async runtime")
}

fn finish(r: eyre::Result<()>) -> ExitCode {
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}

/// Runs the coordinator daemon until SIGINT/SIGTERM, then shuts down gracefully.
pub(crate) fn serve(args: ServeArgs) -> ExitCode {
    finish(serve_inner(args))
}

fn serve_inner(args: ServeArgs) -> eyre::Result<()> {
    let mut file = args.store.load()?;
    let config = &mut file.coordinator;
    if let Some(l) = args.listen {
        config.listen = l;
    }
    if let Some(t) = args.instruction_ttl_secs {
        config.instruction_ttl_secs = t;
    }
    if let Some(p) = args.sanctions_list {
        config.compliance.sanctions_list = Some(p);
    }
    if let Some(u) = args.screening_url {
        config.compliance.http_url = Some(u);
    }
    if let Some(j) = args.log_json {
        config.log_json = j;
    }
    crate::init_tracing(config.log_json);
    let key = std::env::var("LOCKSTEP_ATTESTER_KEY")
        .ok()
        .filter(|k| !k.is_empty());
    let attester = load_attester(key.as_deref(), args.attester_key_file.as_deref())?;
    let relayer = if file.chain_side_enabled() {
        Some(load_relayer(args.relayer_key_file.as_deref())?)
    } else {
        tracing::warn!(
            "no chain has an rpc_url: the chain side is off and cleared settlements wait in COMPLIANCE_CLEARED"
        );
        None
    };
    runtime()?.block_on(run_daemon(file, attester, relayer))
}

/// Wires the coordinator and the chain side through the core ports and runs them until
/// SIGINT/SIGTERM: the coordinator's `Ledger` goes to the chain side, the chain side's
/// registrar, transfer-eligibility check (R6) and metrics, and the chain store's packet desk,
/// to the coordinator.
async fn run_daemon(
    file: LockstepConfig,
    attester: PrivateKeySigner,
    relayer: Option<PrivateKeySigner>,
) -> eyre::Result<()> {
    let escrows = file.escrows();
    let (db, store) = open_db(&file.coordinator.database_url()).await?;
    let coordinator = Coordinator::new(file.coordinator, db.clone(), escrows, attester)?;
    // The operator's packet desk reads the chain side's store, chain side running or not.
    let packets: Arc<dyn PacketDesk> = Arc::new(store.clone());
    let deposit_log: Arc<dyn lockstep_core::DepositLog> = Arc::new(store.clone());
    let side = match relayer {
        Some(signer) => {
            let side = ChainSide::connect(&file.chains, signer, store, coordinator.ledger())
                .await
                .wrap_err("connecting the chains")?;
            tracing::info!(chains = side.chains().len(), relayer = %side.relayer_address(), "chain side connected");
            Some(side)
        }
        None => None,
    };
    let extras = Extras {
        registrar: side.clone().map(|s| s as Arc<dyn SettlementRegistrar>),
        eligibility: side.clone().map(|s| s as Arc<dyn TransferEligibility>),
        metrics_sources: side
            .iter()
            .map(|s| s.metrics() as Arc<dyn MetricsSource>)
            .collect(),
        packets: Some(packets),
        deposit_log: Some(deposit_log),
        bundle_anchors: Some(Arc::new(lockstep_chain::anchors::ConfiguredAnchors::new(
            file.chains
                .iter()
                .filter_map(|c| Some((c.chain_id, c.rpc_url.clone()?)))
                .collect(),
        ))),
        // Webhook target names resolve through the system resolver.
        webhook_lookup: None,
    };
    let server = coordinator
        .start_with(extras, |rx| match &side {
            Some(side) => side.spawn(rx),
            None => Vec::new(),
        })
        .await?;
    println!(
        "{}",
        serde_json::json!({"listening": server.addr().to_string()})
    );
    shutdown_signal().await;
    tracing::info!("shutting down: finishing in-flight requests and webhook attempts");
    server.shutdown().await;
    Ok(())
}

/// The relayer's signer from `LOCKSTEP_RELAYER_KEY` or a key file.
fn load_relayer(file: Option<&std::path::Path>) -> eyre::Result<PrivateKeySigner> {
    let key = match std::env::var("LOCKSTEP_RELAYER_KEY")
        .ok()
        .filter(|k| !k.is_empty())
    {
        Some(k) => k,
        None => match file {
            Some(f) => std::fs::read_to_string(f)
                .wrap_err_with(|| format!("reading the relayer key file {}", f.display()))?,
            None => eyre::bail!(
                "chains with rpc_url are configured but there is no relayer key: set LOCKSTEP_RELAYER_KEY (hex private key) or --relayer-key-file"
            ),
        },
    };
    key.trim()
        .parse::<PrivateKeySigner>()
        .map_err(|e| eyre::eyre!("relayer key is not a valid secp256k1 private key: {e}"))
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}

/// Runs a platform subcommand.
pub(crate) fn platform(args: PlatformArgs) -> ExitCode {
    crate::init_tracing(false);
    finish((|| {
        let PlatformCommand::Create { name, store } = args.command;
        let config = store.load()?;
        runtime()?.block_on(async move {
            let (db, _) = open_db(&config.coordinator.database_url()).await?;
            let created = lockstep_coordinator::admin::create_platform(&db, &name).await?;
            println!("{}", serde_json::to_string(&created)?);
            Ok(())
        })
    })())
}

/// Runs a token subcommand.
pub(crate) fn token(args: TokenArgs) -> ExitCode {
    crate::init_tracing(false);
    finish((|| match args.command {
        TokenCommand::Issue {
            platform,
            operator,
            scopes,
            store,
        } => {
            let config = store.load()?;
            let scopes: Vec<Scope> = if operator {
                vec![Scope::Operator]
            } else if scopes.is_empty() {
                Scope::PLATFORM_DEFAULT.to_vec()
            } else {
                scopes
                    .iter()
                    .map(|s| s.parse::<Scope>().map_err(|e| eyre!(e)))
                    .collect::<eyre::Result<_>>()?
            };
            runtime()?.block_on(async move {
                let (db, _) = open_db(&config.coordinator.database_url()).await?;
                let t = lockstep_coordinator::admin::issue_token(&db, platform.as_deref(), &scopes)
                    .await?;
                println!("{}", serde_json::to_string(&t)?);
                Ok(())
            })
        }
        TokenCommand::Revoke { token_id, store } => {
            let config = store.load()?;
            runtime()?.block_on(async move {
                let (db, _) = open_db(&config.coordinator.database_url()).await?;
                let revoked = lockstep_coordinator::admin::revoke_token(&db, &token_id).await?;
                println!(
                    "{}",
                    serde_json::json!({"token_id": token_id, "revoked": revoked})
                );
                if revoked {
                    Ok(())
                } else {
                    Err(eyre!("no live token {token_id}"))
                }
            })
        }
    })())
}
