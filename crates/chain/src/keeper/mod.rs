//! The permissionless keeper: every second, while this instance leads, one keeper per
//! chain ([`Keeper::for_chain`]; a hung chain delays only its own refunds and resends)
//!
//! - [`timeouts`]: refunds live settlements (`AWAITING_DEPOSITS`, `EXECUTING_SWAP`) on each
//!   chain of their legs whose clock (block timestamp) has passed `terms.timeoutAt`: the
//!   hub while it is OPEN or LOCKED, a spoke while it is OPEN (a LOCKED spoke waits for the
//!   hub's ABORT, which the relayer delivers);
//! - [`balance`]: the relayer key's balance against `min_relayer_balance_wei`, every 10 s;
//! - [`resends`]: a `MessageDeferred` not followed by a `MessageSent` of the same kind for
//!   the same settlement on the same chain gets `resend(terms)` with the quoted fee.
//!
//! Settlements are read through the `Ledger` port; the deferred messages from the chain
//! store. What the keeper keeps in memory only throttles retries and warnings.

pub mod balance;
pub mod resends;
pub mod timeouts;

use crate::client::Chains;
use crate::metrics::ChainMetrics;
use crate::store::ChainStore;
use lockstep_core::{Backoff, Gate, Ledger, Next, Periodic};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{Mutex, watch};

/// How often the keeper runs.
pub const KEEPER_EVERY: Duration = Duration::from_secs(1);

/// Where a log is: (chain id, block number, log index).
pub type LogAt = (i64, i64, i64);

/// In-memory throttles (never the source of truth).
#[derive(Debug, Default)]
pub struct KeeperState {
    /// Per (settlement, eid): refund failures and when to try again.
    refund_retry: HashMap<(String, u32), (u32, Instant)>,
    /// Per open deferred message: when the resend keeper may look at it again.
    resend_after: HashMap<LogAt, Instant>,
    /// When the balance keeper reads the relayer's balance next.
    balance_after: Option<Instant>,
    /// Things already warned about (unknown eids, chains or settlements), to warn once.
    warned: HashSet<String>,
}

impl KeeperState {
    fn warn_once(&mut self, key: String, message: &str) {
        if self.warned.insert(key.clone()) {
            tracing::warn!(what = %key, "{message}");
        }
    }
}

/// What the keeper works with.
#[derive(Clone)]
pub struct Keeper {
    /// The connected chains (clocks, escrows and signers).
    pub chains: Chains,
    /// The chain store (deferred messages).
    pub store: ChainStore,
    /// The settlements.
    pub ledger: Arc<dyn Ledger>,
    /// Where refunds and resends are counted.
    pub metrics: Arc<ChainMetrics>,
    /// The endpoint id of the one chain this keeper acts on (`None`: every chain).
    scope: Option<u32>,
    state: Arc<Mutex<KeeperState>>,
}

impl std::fmt::Debug for Keeper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keeper")
            .field("chains", &self.chains)
            .finish_non_exhaustive()
    }
}

impl Keeper {
    /// A keeper with empty throttles.
    pub fn new(
        chains: Chains,
        store: ChainStore,
        ledger: Arc<dyn Ledger>,
        metrics: Arc<ChainMetrics>,
    ) -> Keeper {
        Keeper {
            chains,
            store,
            ledger,
            metrics,
            scope: None,
            state: Arc::default(),
        }
    }

    /// This keeper, acting only on the chain with endpoint id `eid` (with throttles of its
    /// own): the chain side runs one per chain, so a hung chain never delays a refund due on
    /// another.
    pub fn for_chain(&self, eid: u32) -> Keeper {
        Keeper {
            scope: Some(eid),
            state: Arc::default(),
            ..self.clone()
        }
    }

    /// Whether this keeper acts on the chain with endpoint id `eid`.
    fn acts_on(&self, eid: u32) -> bool {
        self.scope.is_none_or(|only| only == eid)
    }

    /// Runs the timeout and resend passes every [`KEEPER_EVERY`] until shutdown, while
    /// `gate` is open. A failed pass is logged; the next comes a second later.
    pub async fn run(self, gate: Arc<dyn Gate>, shutdown: watch::Receiver<bool>) {
        let stop = shutdown.clone();
        let name = if self.scope.is_some() {
            "keeper (one chain)"
        } else {
            "keeper"
        };
        Periodic::new(name, KEEPER_EVERY)
            .gate(gate)
            .backoff(Backoff::new(KEEPER_EVERY, KEEPER_EVERY))
            .run(shutdown, move || {
                let (k, stop) = (self.clone(), stop.clone());
                async move {
                    k.pass(&stop).await;
                    Ok::<_, std::convert::Infallible>(Next::Idle)
                }
            })
            .await;
    }

    /// One timeout pass, one resend pass, and the balance when due.
    pub async fn pass(&self, shutdown: &watch::Receiver<bool>) {
        let mut st = self.state.lock().await;
        if let Err(e) = self.timeouts(&mut st, shutdown).await {
            tracing::warn!(error = %e, "timeout keeper: pass failed");
        }
        if *shutdown.borrow() {
            return;
        }
        if let Err(e) = self.resends(&mut st, shutdown).await {
            tracing::warn!(error = %e, "resend keeper: pass failed");
        }
        if let Err(e) = self.balance(&mut st).await {
            tracing::warn!(error = %e, "balance keeper: reading the relayer balance failed");
        }
    }
}
