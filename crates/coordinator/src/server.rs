//! Composition and start: builds the contexts of each concern from the configuration,
//! serves the API and runs the workers (settlement worker, webhook worker, expiry sweeper,
//! and the caller's extra tasks), with graceful shutdown: in-flight requests finish and
//! each worker finishes its current step. Nothing in the crate imports this module.

use crate::api::{self, ApiState};
use crate::compliance::{HttpScreening, SanctionsList, ScreeningProvider};
use crate::config::Config;
use crate::instructions::{self, Intake};
use crate::metrics::Metrics;
use crate::settlements::ledger::CoordinatorLedger;
use crate::settlements::{AfterCommit, Lifecycle, worker};
use crate::templates::Templates;
use crate::terms::Escrows;
use crate::webhooks::WebhookWorker;
use crate::{Error, Result};
use alloy::signers::local::PrivateKeySigner;
use lockstep_core::{
    Backoff, Db, EscrowChain, Ledger, MetricsSource, Next, PacketDesk, Periodic,
    SettlementRegistrar, TransferEligibility,
};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// The coordinator, composed but not started: everything that does not depend on the
/// chain side. Its [`Coordinator::ledger`] is available before [`Coordinator::start`], so
/// the chain side can be built from it and hand back its registrar.
pub struct Coordinator {
    config: Config,
    db: Db,
    escrows: Arc<Escrows>,
    attester: PrivateKeySigner,
    templates: Arc<Templates>,
    providers: Vec<Arc<dyn ScreeningProvider>>,
    metrics: Arc<Metrics>,
    hook: AfterCommit,
}

impl std::fmt::Debug for Coordinator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Coordinator")
            .field("db", &self.db)
            .field("attester", &self.attester.address())
            .finish_non_exhaustive()
    }
}

/// What the composition root adds when starting: the chain side's registrar and metrics.
#[derive(Default)]
pub struct Extras {
    /// Registers cleared settlements on chain; without one they wait in
    /// `COMPLIANCE_CLEARED`.
    pub registrar: Option<Arc<dyn SettlementRegistrar>>,
    /// Checks every leg's transfers against permissioned tokens (ERC-3643 `canTransfer`)
    /// before a settlement is cleared (security.md R6); without one, no check runs.
    pub eligibility: Option<Arc<dyn TransferEligibility>>,
    /// Appended to `/metrics` after the coordinator's own counters.
    pub metrics_sources: Vec<Arc<dyn MetricsSource>>,
    /// The relayer's packets for `/v1/operator/packets` and the stuck report; without one
    /// the packet list is empty and every guid is unknown.
    pub packets: Option<Arc<dyn PacketDesk>>,
    /// Re-checks evidence bundles against the chains (`POST /v1/evidence/verify`); without
    /// one only the offline check runs.
    pub bundle_anchors: Option<Arc<dyn lockstep_core::BundleAnchors>>,
    /// The escrows' recorded deposits (`GET /v1/settlements/{id}`'s `deposits`); without
    /// one the list is empty.
    pub deposit_log: Option<Arc<dyn lockstep_core::DepositLog>>,
    /// Resolves webhook target names (checked and pinned by the worker); default: the
    /// system resolver.
    pub webhook_lookup: Option<Arc<dyn crate::webhooks::Lookup>>,
}

impl std::fmt::Debug for Extras {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Extras")
            .field("registrar", &self.registrar.is_some())
            .field("eligibility", &self.eligibility.is_some())
            .field("metrics_sources", &self.metrics_sources.len())
            .field("packets", &self.packets.is_some())
            .field("webhook_lookup", &self.webhook_lookup)
            .finish()
    }
}

/// The screening providers the configuration enables.
fn providers(config: &Config) -> Result<Vec<Arc<dyn ScreeningProvider>>> {
    let mut providers: Vec<Arc<dyn ScreeningProvider>> = Vec::new();
    if let Some(path) = &config.compliance.sanctions_list {
        providers.push(Arc::new(SanctionsList::load(path)?));
    }
    if let Some(url) = &config.compliance.http_url {
        let timeout = Duration::from_millis(config.compliance.http_timeout_ms.unwrap_or(10_000));
        providers.push(Arc::new(HttpScreening::new(url, timeout)?));
    }
    if providers.is_empty() {
        tracing::warn!("no screening provider configured: every settlement passes screening");
    }
    Ok(providers)
}

impl Coordinator {
    /// Composes the coordinator over an already connected and migrated database (see
    /// [`crate::migrate()`]): checks the configuration and the escrow list, loads the
    /// templates and the screening providers.
    pub fn new(
        config: Config,
        db: Db,
        escrows: Vec<EscrowChain>,
        attester: PrivateKeySigner,
    ) -> Result<Coordinator> {
        config.validate()?;
        let escrows = Arc::new(Escrows::new(escrows)?);
        let metrics = Arc::new(Metrics::default());
        Ok(Coordinator {
            providers: providers(&config)?,
            templates: Arc::new(Templates::load(&config.enable_templates)?),
            hook: AfterCommit::new(metrics.clone()),
            metrics,
            config,
            db,
            escrows,
            attester,
        })
    }

    /// Connects `config.database_url()`, applies the coordinator's migrations and
    /// composes (for a coordinator without a chain side, e.g. the API tests).
    pub async fn open(
        config: Config,
        escrows: Vec<EscrowChain>,
        attester: PrivateKeySigner,
    ) -> Result<Coordinator> {
        let db = Db::connect(&config.database_url()).await?;
        crate::migrate(&db).await?;
        Coordinator::new(config, db, escrows, attester)
    }

    /// The database.
    pub fn db(&self) -> &Db {
        &self.db
    }

    /// The `Ledger` port over this coordinator's settlements, for the chain side.
    pub fn ledger(&self) -> Arc<dyn Ledger> {
        Arc::new(CoordinatorLedger::new(self.db.clone(), self.hook.clone()))
    }

    /// Binds `config.listen` and starts the API and the workers.
    pub async fn start(self, extras: Extras) -> Result<Server> {
        self.start_with(extras, |_| Vec::new()).await
    }

    /// Like [`Coordinator::start`], plus the tasks `spawn` starts (the chain side's
    /// indexers, reconciler and relayer); they get the shutdown signal and are awaited on
    /// shutdown.
    pub async fn start_with(
        self,
        extras: Extras,
        spawn: impl FnOnce(watch::Receiver<bool>) -> Vec<JoinHandle<()>>,
    ) -> Result<Server> {
        let io = |source| Error::Io {
            path: self.config.listen.clone(),
            source,
        };
        let listener = tokio::net::TcpListener::bind(&self.config.listen)
            .await
            .map_err(io)?;
        let addr = listener.local_addr().map_err(io)?;
        let ledger = self.ledger();
        let (tx, rx) = watch::channel(false);
        let mut tasks = self.spawn_workers(extras, listener, &rx)?;
        tasks.extend(spawn(rx.clone()));
        Ok(Server {
            addr,
            db: self.db,
            ledger,
            shutdown: tx,
            tasks,
        })
    }

    /// Starts the HTTP server, the settlement and webhook workers and the expiry sweeper.
    fn spawn_workers(
        &self,
        extras: Extras,
        listener: tokio::net::TcpListener,
        rx: &watch::Receiver<bool>,
    ) -> Result<Vec<JoinHandle<()>>> {
        let lifecycle = Arc::new(Lifecycle {
            db: self.db.clone(),
            hook: self.hook.clone(),
            templates: self.templates.clone(),
            providers: self.providers.clone(),
            attester: self.attester.clone(),
            escrows: self.escrows.clone(),
            registrar: extras.registrar,
            eligibility: extras.eligibility,
        });
        let intake = Intake {
            db: self.db.clone(),
            hook: self.hook.clone(),
            templates: self.templates.clone(),
            escrows: self.escrows.clone(),
            ttl_secs: self.config.instruction_ttl_secs,
            group: None,
        };
        // SQLite has one writer: submissions share its transactions (group commit).
        let intake = Intake {
            group: (self.db.backend() == lockstep_core::Backend::Sqlite)
                .then(|| crate::instructions::GroupCommit::spawn(intake.clone()))
                .transpose()?,
            ..intake
        };
        let webhooks = WebhookWorker::new(
            self.db.clone(),
            self.config.webhooks.clone(),
            extras
                .webhook_lookup
                .unwrap_or_else(|| Arc::new(crate::webhooks::SystemLookup)),
            self.metrics.clone(),
            self.hook.webhook_wake(),
        )?;
        let state = Arc::new(ApiState {
            db: self.db.clone(),
            intake,
            lifecycle: lifecycle.clone(),
            templates: self.templates.clone(),
            escrows: self.escrows.clone(),
            metrics: self.metrics.clone(),
            metrics_sources: extras.metrics_sources,
            packets: extras.packets,
            bundle_anchors: extras.bundle_anchors,
            deposit_log: extras.deposit_log,
            limiter: Default::default(),
            addresses: Default::default(),
            config: self.config.clone(),
        });
        tracing::info!(addr = %self.config.listen, attester = %self.attester.address(), backend = ?self.db.backend(), "coordinator listening");
        Ok(vec![
            tokio::spawn(crate::serve::serve(
                listener,
                api::router(state),
                self.config.http.clone(),
                rx.clone(),
            )),
            tokio::spawn(webhooks.run(rx.clone())),
            self.spawn_settlement_worker(lifecycle, rx.clone())?,
            tokio::spawn(sweep(
                self.db.clone(),
                self.config.expiry_sweep_interval_ms,
                rx.clone(),
            )),
        ])
    }

    /// The settlement worker. On SQLite it runs, like intake's group commit, on a thread
    /// of its own (it holds the one writer, [`lockstep_core::spawn_on_own_thread`]); on
    /// PostgreSQL on the runtime's workers, where its parallel rounds (each with its own
    /// connection) compute their outcomes side by side.
    fn spawn_settlement_worker(
        &self,
        lifecycle: Arc<Lifecycle>,
        rx: watch::Receiver<bool>,
    ) -> Result<JoinHandle<()>> {
        let run = worker::run(lifecycle, rx);
        match self.db.backend() {
            lockstep_core::Backend::Sqlite => {
                lockstep_core::spawn_on_own_thread("lockstep-settlements", run).map_err(|source| {
                    Error::Thread {
                        task: "settlement worker",
                        source,
                    }
                })
            }
            lockstep_core::Backend::Postgres => Ok(tokio::spawn(run)),
        }
    }
}

/// The expiry sweeper: marks unmatched instructions past their expiry as expired.
async fn sweep(db: Db, interval_ms: u64, rx: watch::Receiver<bool>) {
    let every = Duration::from_millis(interval_ms.max(10));
    Periodic::new("expiry-sweeper", every)
        .backoff(Backoff::new(every, every))
        .run(rx, || {
            let db = db.clone();
            async move {
                let n = instructions::expire(&db, None).await?;
                if n > 0 {
                    tracing::info!(expired = n, "expired unmatched instructions");
                }
                Ok::<_, Error>(Next::Idle)
            }
        })
        .await;
}

/// A started service.
pub struct Server {
    addr: SocketAddr,
    db: Db,
    ledger: Arc<dyn Ledger>,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("addr", &self.addr)
            .field("tasks", &self.tasks.len())
            .finish_non_exhaustive()
    }
}

impl Server {
    /// The bound address (useful with port 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The database.
    pub fn db(&self) -> &Db {
        &self.db
    }

    /// The `Ledger` port (what the chain side was given).
    pub fn ledger(&self) -> &Arc<dyn Ledger> {
        &self.ledger
    }

    /// Stops accepting, lets in-flight requests and the workers' current steps finish,
    /// then closes the database pool.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        for t in self.tasks {
            let _ = t.await;
        }
        self.db.pool().close().await;
    }
}

/// Loads the attester key: the hex private key in `key` (from `LOCKSTEP_ATTESTER_KEY`),
/// else the first line of `file`. Never from the TOML file.
pub fn load_attester(
    key: Option<&str>,
    file: Option<&std::path::Path>,
) -> Result<PrivateKeySigner> {
    let text = match (key, file) {
        (Some(k), _) => k.trim().to_string(),
        (None, Some(f)) => std::fs::read_to_string(f)
            .map_err(|source| Error::Io {
                path: f.display().to_string(),
                source,
            })?
            .lines()
            .next()
            .unwrap_or_default()
            .trim()
            .to_string(),
        (None, None) => {
            return Err(Error::Config(
                "no attester key: set LOCKSTEP_ATTESTER_KEY (hex private key) or --attester-key-file".into(),
            ));
        }
    };
    text.parse::<PrivateKeySigner>().map_err(|e| {
        Error::Config(format!(
            "attester key is not a valid secp256k1 private key: {e}"
        ))
    })
}
