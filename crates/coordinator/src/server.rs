//! The running service: shared state, the HTTP server and the background workers, with
//! graceful shutdown (in-flight requests finish; each worker finishes its current step).

use crate::compliance::{HttpScreening, SanctionsList, ScreeningProvider};
use crate::config::Config;
use crate::db::Db;
use crate::metrics::Metrics;
use crate::registrar::SettlementRegistrar;
use crate::templates::Template;
use crate::{Error, Result};
use alloy::signers::local::PrivateKeySigner;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;

/// Everything the handlers and workers share.
pub struct Coordinator {
    /// Storage.
    pub db: Db,
    /// Configuration in force.
    pub config: Config,
    /// Settlement templates.
    pub templates: Vec<Template>,
    /// Prometheus counters.
    pub metrics: Metrics,
    /// Per-token request limits.
    pub limiter: crate::metrics::RateLimiter,
    /// Signs registration attestations.
    pub attester: PrivateKeySigner,
    /// Configured screening providers.
    pub providers: Vec<Arc<dyn ScreeningProvider>>,
    /// The chain side, when configured.
    pub registrar: Option<Arc<dyn SettlementRegistrar>>,
    /// Wakes the settlement worker.
    pub settlement_notify: Notify,
    /// Wakes the webhook worker.
    pub webhook_notify: Notify,
    /// Outgoing HTTP (webhooks).
    pub http: reqwest::Client,
}

impl std::fmt::Debug for Coordinator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Coordinator")
            .field("db", &self.db)
            .field("attester", &self.attester.address())
            .finish_non_exhaustive()
    }
}

impl Coordinator {
    /// Connects the database (migrating it), loads templates and screening providers.
    pub async fn new(
        config: Config,
        attester: PrivateKeySigner,
        registrar: Option<Arc<dyn SettlementRegistrar>>,
    ) -> Result<Coordinator> {
        config.validate()?;
        let db = Db::connect(&config.database_url()).await?;
        let mut providers: Vec<Arc<dyn ScreeningProvider>> = Vec::new();
        if let Some(path) = &config.compliance.sanctions_list {
            providers.push(Arc::new(SanctionsList::load(path)?));
        }
        if let Some(url) = &config.compliance.http_url {
            let timeout =
                Duration::from_millis(config.compliance.http_timeout_ms.unwrap_or(10_000));
            providers.push(Arc::new(HttpScreening::new(url, timeout)?));
        }
        if providers.is_empty() {
            tracing::warn!("no screening provider configured: every settlement passes screening");
        }
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| Error::Config(format!("http client: {e}")))?;
        Ok(Coordinator {
            db,
            config,
            templates: crate::templates::built_in()?,
            metrics: Metrics::default(),
            limiter: Default::default(),
            attester,
            providers,
            registrar,
            settlement_notify: Notify::new(),
            webhook_notify: Notify::new(),
            http,
        })
    }

    /// A template by slug.
    pub fn template(&self, slug: &str) -> Option<&Template> {
        self.templates.iter().find(|t| t.slug == slug)
    }
}

/// A started service.
#[derive(Debug)]
pub struct Server {
    addr: SocketAddr,
    coordinator: Arc<Coordinator>,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl Server {
    /// Binds `config.listen` and starts the API and the workers.
    pub async fn start(c: Coordinator) -> Result<Server> {
        Self::start_with(c, |_, _| Vec::new()).await
    }

    /// Like [`Server::start`], plus the tasks `extra` starts (the chain side's indexers,
    /// reconciler and relayer); they get the shutdown signal and are awaited on shutdown.
    pub async fn start_with(
        c: Coordinator,
        extra: impl FnOnce(Arc<Coordinator>, watch::Receiver<bool>) -> Vec<JoinHandle<()>>,
    ) -> Result<Server> {
        let listener = tokio::net::TcpListener::bind(&c.config.listen)
            .await
            .map_err(|source| Error::Io {
                path: c.config.listen.clone(),
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| Error::Io {
            path: c.config.listen.clone(),
            source,
        })?;
        let c = Arc::new(c);
        let (tx, rx) = watch::channel(false);
        let app = crate::api::router(c.clone());
        let mut srx = rx.clone();
        let http = tokio::spawn(async move {
            let graceful = async move {
                let _ = srx.wait_for(|v| *v).await;
            };
            if let Err(e) = axum::serve(listener, app)
                .with_graceful_shutdown(graceful)
                .await
            {
                tracing::error!(error = %e, "http server failed");
            }
            tracing::info!("http server stopped");
        });
        let webhooks = tokio::spawn(crate::webhooks::run_worker(c.clone(), rx.clone()));
        let settlements = tokio::spawn(crate::settlements::run_worker(c.clone(), rx.clone()));
        let sweeper = {
            let c = c.clone();
            let mut rx = rx.clone();
            tokio::spawn(async move {
                let every = Duration::from_millis(c.config.expiry_sweep_interval_ms.max(10));
                loop {
                    tokio::select! {
                        _ = tokio::time::sleep(every) => {}
                        _ = rx.wait_for(|v| *v) => break,
                    }
                    match crate::instructions::expire(&c, None).await {
                        Ok(0) => {}
                        Ok(n) => tracing::info!(expired = n, "expired unmatched instructions"),
                        Err(e) => tracing::warn!(error = %e, "expiry sweep failed"),
                    }
                }
            })
        };
        let mut tasks = vec![http, webhooks, settlements, sweeper];
        tasks.extend(extra(c.clone(), rx.clone()));
        tracing::info!(%addr, attester = %c.attester.address(), backend = ?c.db.backend(), "coordinator listening");
        Ok(Server {
            addr,
            coordinator: c,
            shutdown: tx,
            tasks,
        })
    }

    /// The bound address (useful with port 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The shared state.
    pub fn coordinator(&self) -> &Arc<Coordinator> {
        &self.coordinator
    }

    /// Stops accepting, lets in-flight requests and the workers' current steps finish,
    /// then closes the database pool.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        for t in self.tasks {
            let _ = t.await;
        }
        self.coordinator.db.pool().close().await;
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
