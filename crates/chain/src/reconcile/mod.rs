//! Drives the settlement state machine from the confirmed escrow logs, through the
//! `Ledger` port, and builds the receipt-anchored evidence bundle once a settlement is
//! final.
//!
//! The state is a function of the logs (the database is a cache of the chains):
//!
//! | from | to | when (confirmed logs, on the settlement's escrows) |
//! |---|---|---|
//! | COMPLIANCE_CLEARED | AWAITING_DEPOSITS | `SettlementRegistered` on every chain of the terms |
//! | COMPLIANCE_CLEARED | TIMED_OUT | every chain `SettlementRefunded`, or unregistered with its confirmed clock past `timeoutAt` |
//! | AWAITING_DEPOSITS | EXECUTING_SWAP | `LegDeposited` for every leg |
//! | AWAITING_DEPOSITS | TIMED_OUT | `SettlementRefunded` on every chain, not every leg deposited |
//! | EXECUTING_SWAP | FINALIZED | `SettlementExecuted` on every chain |
//! | EXECUTING_SWAP | ROLLED_BACK | `SettlementRefunded` on every chain (the hub aborted) |
//!
//! Each round re-derives the target from the stored logs and applies the missing edges in
//! order through `Ledger::apply_transition` (the coordinator writes each in one transaction
//! with its event and webhook outbox rows, guarded by the current state), so a restart, a
//! repeated round or a second instance can never apply an edge twice.

pub mod bundle;
pub mod progress;

pub use bundle::{FRAME_PROVIDER_DID, LegChains, bundle_facts, bundle_for};
pub use progress::Progress;

use crate::config::ChainConfig;
use crate::error::{ChainError, Result};
use crate::store::{ChainStore, LogFact};
use alloy::primitives::B256;
use alloy::primitives::{Address, U256};
use lockstep_core::{
    Backoff, ChainSettlement, Gate, Ledger, LedgerError, Next, OwedLeg, Periodic,
    SettlementState as S,
};
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Notify, watch};

/// What the reconciler works with: the chains' escrows, the stored logs and the ledger.
#[derive(Clone)]
pub struct Reconciler {
    /// The configured chains (eid, chain id and escrow of each).
    pub chains: Arc<[ChainConfig]>,
    /// The chain store holding the logs.
    pub store: ChainStore,
    /// The settlements.
    pub ledger: Arc<dyn Ledger>,
}

impl std::fmt::Debug for Reconciler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reconciler")
            .field("chains", &self.chains.len())
            .finish_non_exhaustive()
    }
}

impl Reconciler {
    /// Runs reconciliation rounds every smallest `poll_interval_ms` (20 ms to 1 s), and at
    /// once when `wake` is notified (an indexer stored logs), until shutdown, while `gate`
    /// is open. A failed round is logged and the next one comes at the same interval.
    pub async fn run(
        self,
        gate: Arc<dyn Gate>,
        wake: Arc<Notify>,
        shutdown: watch::Receiver<bool>,
    ) {
        let ms = self
            .chains
            .iter()
            .map(|c| c.poll_interval_ms)
            .min()
            .unwrap_or(500)
            .clamp(20, 1_000);
        let every = Duration::from_millis(ms);
        Periodic::new("reconciler", every)
            .gate(gate)
            .notify(wake)
            .backoff(Backoff::new(every, every))
            .run(shutdown, move || {
                let r = self.clone();
                async move { r.reconcile_all().await.map(|()| Next::Idle) }
            })
            .await;
    }

    /// One round over every settlement the chains can still move (and final ones still
    /// missing their bundle).
    pub async fn reconcile_all(&self) -> Result<()> {
        for s in self.ledger.live_settlements().await? {
            let id = s.id.clone();
            if let Err(e) = self.reconcile_one(s).await {
                tracing::warn!(settlement_id = %id, error = %e, "reconcile failed");
            }
        }
        Ok(())
    }

    /// Where the legs of `s` are (every leg's eid must be a configured chain).
    pub fn legs_at(&self, s: &ChainSettlement) -> Result<LegChains> {
        let mut at = LegChains::default();
        for leg in &s.terms.legs {
            let chain = self
                .chains
                .iter()
                .find(|c| c.eid == leg.eid)
                .ok_or_else(|| {
                    ChainError::Config(format!(
                        "settlement {} has a leg on eid {}, which is not configured",
                        s.id, leg.eid
                    ))
                })?;
            at.escrows
                .insert(chain.chain_id, format!("{:#x}", chain.escrow));
            at.by_eid.insert(leg.eid, chain.chain_id);
        }
        Ok(at)
    }

    /// The stored logs of on-chain settlement `key` emitted by the escrows of `at`.
    pub async fn settlement_logs(&self, key: B256, at: &LegChains) -> Result<Vec<LogFact>> {
        let mut logs = self.store.logs_by_key(key).await?;
        logs.retain(|l| at.escrows.get(&l.chain_id) == Some(&l.address));
        Ok(logs)
    }

    /// Reconciles one settlement: applies every edge its logs justify, then (if final)
    /// builds and stores the bundle.
    pub async fn reconcile_one(&self, mut s: ChainSettlement) -> Result<()> {
        let at = self.legs_at(&s)?;
        let logs = self.settlement_logs(s.terms.settlementId, &at).await?;
        let mut progress = Progress::from_logs(
            at.escrows.keys().copied().collect(),
            s.terms.legs.len(),
            &format!("{:#x}", s.terms_hash),
            &logs,
        );
        if s.state == S::ComplianceCleared {
            progress = progress.with_expired(self.expired_chains(&at, s.terms.timeoutAt).await?);
        }
        self.record_owed_legs(&s.id, &logs).await?;
        while let Some((to, cause)) = progress.next(s.state) {
            match self.ledger.apply_transition(&s.id, to, &cause).await {
                Ok(()) => {
                    tracing::info!(settlement_id = %s.id, from = %s.state, %to, %cause, "settlement moved by chain events");
                }
                Err(LedgerError::Concurrent { .. }) => {}
                Err(e) => return Err(e.into()),
            }
            match self.ledger.settlement(&s.id).await? {
                Some(now) => s = now,
                None => return Ok(()),
            }
        }
        if matches!(s.state, S::Finalized | S::TimedOut | S::RolledBack) && !s.has_bundle {
            let bundle = bundle_for(&s, &at, &logs)?;
            if self.ledger.store_bundle(&s.id, &bundle).await? {
                tracing::info!(settlement_id = %s.id, state = %s.state, "evidence bundle built from the receipts");
            }
        }
        Ok(())
    }

    /// The chains of `at` whose confirmed clock is past `timeout_at`.
    async fn expired_chains(&self, at: &LegChains, timeout_at: u64) -> Result<BTreeSet<u64>> {
        let mut out = BTreeSet::new();
        for &chain_id in at.escrows.keys() {
            if self
                .store
                .confirmed_clock(chain_id)
                .await?
                .is_some_and(|t| t > timeout_at)
            {
                out.insert(chain_id);
            }
        }
        Ok(out)
    }

    /// Records every `LegOwed` log of the settlement through `Ledger::record_owed`
    /// (idempotent: the ledger keeps one per settlement, chain and leg).
    async fn record_owed_legs(&self, id: &str, logs: &[LogFact]) -> Result<()> {
        for l in logs.iter().filter(|l| l.event == "LegOwed") {
            let Some(owed) = owed_leg(l) else {
                tracing::warn!(settlement_id = %id, log = %l.describe(), "LegOwed log with unreadable fields");
                continue;
            };
            if self.ledger.record_owed(id, &owed).await? {
                tracing::info!(settlement_id = %id, chain_id = owed.chain_id, leg_index = owed.leg_index, beneficiary = %owed.beneficiary, refund = owed.refund, "leg owed on chain recorded");
            }
        }
        Ok(())
    }
}

/// The owed leg a stored `LegOwed` log records; `None` if its fields do not parse.
pub fn owed_leg(l: &LogFact) -> Option<OwedLeg> {
    let f = &l.fields;
    let text = |k: &str| f.get(k).and_then(serde_json::Value::as_str);
    Some(OwedLeg {
        leg_index: text("legIndex")?.parse().ok()?,
        chain_id: l.chain_id,
        escrow: l.address.parse::<Address>().ok()?,
        beneficiary: text("beneficiary")?.parse().ok()?,
        token: text("token")?.parse().ok()?,
        amount: text("amount")?.parse::<U256>().ok()?,
        refund: f.get("refund")?.as_bool()?,
        tx_hash: l.tx_hash.parse().ok()?,
    })
}

#[cfg(test)]
mod tests;
