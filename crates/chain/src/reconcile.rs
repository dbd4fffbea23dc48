//! Drives the coordinator's settlement state machine from the confirmed escrow logs, and
//! builds the receipt-anchored evidence bundle once a settlement is final.
//!
//! The state is a function of the logs (the database is a cache of the chains):
//!
//! | from | to | when (confirmed logs, on the settlement's escrows) |
//! |---|---|---|
//! | COMPLIANCE_CLEARED | AWAITING_DEPOSITS | `SettlementRegistered` on every chain of the terms |
//! | AWAITING_DEPOSITS | EXECUTING_SWAP | `LegDeposited` for every leg |
//! | AWAITING_DEPOSITS | TIMED_OUT | `SettlementRefunded` on every chain, not every leg deposited |
//! | EXECUTING_SWAP | FINALIZED | `SettlementExecuted` on every chain |
//! | EXECUTING_SWAP | ROLLED_BACK | `SettlementRefunded` on every chain (the hub aborted) |
//!
//! Each round re-derives the target from the stored logs and applies the missing edges in
//! order through `settlements::apply_transition` (one transaction each, with the event and
//! the webhook outbox rows), so a restart, a repeated round or a second coordinator instance
//! can never apply an edge twice: the state-guarded update lets only one writer through.

use crate::error::{ChainError, Result};
use crate::{ChainSide, escrow_terms};
use alloy::primitives::B256;
use lockstep_coordinator::server::Coordinator;
use lockstep_coordinator::settlements::{self, SettlementRow};
use lockstep_coordinator::state::SettlementState as S;
use lockstep_evidence::bundle::{AnchorRecord, BundleFacts, LegFacts, build_bundle};
use lockstep_evidence::dvp::DvpDecisionInput;
use lockstep_evidence::keystone::Outcome;
use serde_json::Value;
use sqlx::Row;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// `frame_provider_did` of the frames the coordinator emits.
pub const FRAME_PROVIDER_DID: &str = "did:web:lockstep.local";

/// One stored log of a settlement.
#[derive(Debug, Clone)]
pub struct LogFact {
    /// EVM chain id.
    pub chain_id: u64,
    /// Block number.
    pub block_number: u64,
    /// Block hash (0x lowercase).
    pub block_hash: String,
    /// Block timestamp, seconds.
    pub block_timestamp: u64,
    /// Transaction hash (0x lowercase).
    pub tx_hash: String,
    /// Log index in the block.
    pub log_index: u64,
    /// Emitting contract (0x lowercase).
    pub address: String,
    /// Event name.
    pub event: String,
    /// Decoded fields.
    pub fields: Value,
}

impl LogFact {
    fn leg_index(&self) -> Option<usize> {
        self.fields.get("legIndex")?.as_str()?.parse().ok()
    }
    fn describe(&self) -> String {
        format!(
            "{} on chain {} (block {}, tx {})",
            self.event, self.chain_id, self.block_number, self.tx_hash
        )
    }
}

/// Reads the confirmed logs of on-chain settlement `key` emitted by the given escrows.
pub async fn settlement_logs(
    c: &Coordinator,
    key: B256,
    escrows: &BTreeMap<u64, String>,
) -> Result<Vec<LogFact>> {
    let rows = sqlx::query("SELECT chain_id, block_number, block_hash, block_timestamp, tx_hash, log_index, address, event, fields FROM chain_logs WHERE settlement_key = $1 ORDER BY chain_id, block_number, log_index")
        .bind(format!("{key:#x}"))
        .fetch_all(c.db.pool())
        .await?;
    let mut out = Vec::new();
    for r in rows {
        let u = |k: &str| -> Result<u64> {
            Ok(u64::try_from(r.try_get::<i64, _>(k)?).unwrap_or_default())
        };
        let f = LogFact {
            chain_id: u("chain_id")?,
            block_number: u("block_number")?,
            block_hash: r.try_get("block_hash")?,
            block_timestamp: u("block_timestamp")?,
            tx_hash: r.try_get("tx_hash")?,
            log_index: u("log_index")?,
            address: r.try_get("address")?,
            event: r.try_get("event")?,
            fields: serde_json::from_str(&r.try_get::<String, _>("fields")?)?,
        };
        if escrows.get(&f.chain_id) == Some(&f.address) {
            out.push(f);
        }
    }
    Ok(out)
}

/// What the logs say about a settlement.
#[derive(Debug, Default)]
pub struct Progress {
    /// Chains of the terms.
    pub chains: BTreeSet<u64>,
    /// Chains with `SettlementRegistered` for these terms.
    pub registered: BTreeMap<u64, LogFact>,
    /// Deposited legs (`LegDeposited`).
    pub deposited: BTreeMap<usize, LogFact>,
    /// Chains with `SettlementExecuted`.
    pub executed: BTreeMap<u64, LogFact>,
    /// Chains with `SettlementRefunded`.
    pub refunded: BTreeMap<u64, LogFact>,
    /// Number of legs.
    pub legs: usize,
}

impl Progress {
    /// Sorts `logs` (of the escrows of `chains`, for terms hashing to `terms_hash`) into
    /// progress facts.
    pub fn from_logs(
        chains: BTreeSet<u64>,
        legs: usize,
        terms_hash: &str,
        logs: &[LogFact],
    ) -> Progress {
        let mut p = Progress {
            chains,
            legs,
            ..Progress::default()
        };
        let same_terms =
            |l: &LogFact| l.fields.get("termsHash").and_then(Value::as_str) == Some(terms_hash);
        for l in logs {
            match l.event.as_str() {
                "SettlementRegistered" if same_terms(l) => {
                    p.registered.entry(l.chain_id).or_insert_with(|| l.clone());
                }
                "SettlementExecuted" if same_terms(l) => {
                    p.executed.entry(l.chain_id).or_insert_with(|| l.clone());
                }
                "SettlementRefunded" if same_terms(l) => {
                    p.refunded.entry(l.chain_id).or_insert_with(|| l.clone());
                }
                "LegDeposited" => {
                    if let Some(i) = l.leg_index().filter(|i| *i < legs) {
                        p.deposited.entry(i).or_insert_with(|| l.clone());
                    }
                }
                _ => {}
            }
        }
        p
    }

    fn all<T>(&self, m: &BTreeMap<u64, T>) -> bool {
        self.chains.iter().all(|c| m.contains_key(c))
    }

    fn list(m: &BTreeMap<u64, LogFact>) -> String {
        m.values()
            .map(LogFact::describe)
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The next edge from `state` the logs justify, with its cause.
    pub fn next(&self, state: S) -> Option<(S, String)> {
        let all_deposited = self.legs > 0 && self.deposited.len() == self.legs;
        match state {
            S::ComplianceCleared if self.all(&self.registered) => Some((
                S::AwaitingDeposits,
                format!("registered: {}", Self::list(&self.registered)),
            )),
            S::AwaitingDeposits if all_deposited => Some((
                S::ExecutingSwap,
                format!(
                    "every leg deposited: {}",
                    self.deposited
                        .iter()
                        .map(|(i, l)| format!("leg {i} {}", l.describe()))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )),
            S::AwaitingDeposits if self.all(&self.refunded) => Some((
                S::TimedOut,
                format!(
                    "deadline passed, deposits returned: {}",
                    Self::list(&self.refunded)
                ),
            )),
            S::ExecutingSwap if self.all(&self.executed) => Some((
                S::Finalized,
                format!("swap executed: {}", Self::list(&self.executed)),
            )),
            S::ExecutingSwap if self.all(&self.refunded) => Some((
                S::RolledBack,
                format!(
                    "hub aborted, deposits returned: {}",
                    Self::list(&self.refunded)
                ),
            )),
            _ => None,
        }
    }
}

/// Runs reconciliation rounds until shutdown.
pub async fn run(side: Arc<ChainSide>, c: Arc<Coordinator>, mut shutdown: watch::Receiver<bool>) {
    let every = Duration::from_millis(
        side.chains
            .iter()
            .map(|ch| ch.config.poll_interval_ms)
            .min()
            .unwrap_or(500)
            .clamp(20, 1_000),
    );
    loop {
        match side.leader.turn(every, &mut shutdown).await {
            crate::leader::Turn::Stop => break,
            crate::leader::Turn::Skip => continue,
            crate::leader::Turn::Work => {}
        }
        if let Err(e) = reconcile_all(&side, &c).await {
            tracing::warn!(error = %e, "reconcile round failed");
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = shutdown.wait_for(|v| *v) => break,
        }
    }
    tracing::info!("reconciler stopped");
}

/// One round over every settlement the chains can still move (and final ones still
/// missing their bundle).
pub async fn reconcile_all(side: &ChainSide, c: &Coordinator) -> Result<()> {
    let rows = sqlx::query("SELECT id FROM settlements WHERE state IN ('COMPLIANCE_CLEARED', 'AWAITING_DEPOSITS', 'EXECUTING_SWAP') OR (state IN ('FINALIZED', 'TIMED_OUT', 'ROLLED_BACK') AND bundle IS NULL AND terms IS NOT NULL)")
        .fetch_all(c.db.pool())
        .await?;
    for r in rows {
        let id: String = r.try_get("id")?;
        if let Err(e) = reconcile_one(side, c, &id).await {
            tracing::warn!(settlement = %id, error = %e, "reconcile failed");
        }
    }
    Ok(())
}

fn escrows_of(
    side: &ChainSide,
    row: &SettlementRow,
) -> Result<(BTreeMap<u64, String>, BTreeMap<u32, u64>)> {
    let terms = escrow_terms(row)?;
    let mut escrows = BTreeMap::new();
    let mut by_eid = BTreeMap::new();
    for leg in &terms.legs {
        let chain = side.chain_by_eid(leg.eid).ok_or_else(|| {
            ChainError::Config(format!(
                "settlement {} has a leg on eid {}, which is not configured",
                row.id, leg.eid
            ))
        })?;
        escrows.insert(chain.chain_id(), format!("{:#x}", chain.escrow()));
        by_eid.insert(leg.eid, chain.chain_id());
    }
    Ok((escrows, by_eid))
}

/// Reconciles one settlement: applies every edge its logs justify, then (if final) builds
/// and stores the bundle.
pub async fn reconcile_one(side: &ChainSide, c: &Coordinator, id: &str) -> Result<()> {
    let mut conn = c.db.pool().acquire().await?;
    let Some(mut row) = settlements::load(&mut conn, id).await? else {
        return Ok(());
    };
    drop(conn);
    let terms = escrow_terms(&row)?;
    let (escrows, by_eid) = escrows_of(side, &row)?;
    let logs = settlement_logs(c, terms.settlementId, &escrows).await?;
    let terms_hash = row.terms_hash.clone().unwrap_or_default().to_lowercase();
    let progress = Progress::from_logs(
        escrows.keys().copied().collect(),
        terms.legs.len(),
        &terms_hash,
        &logs,
    );
    // Registration is only ours to report once the registrar was handed the settlement.
    while let Some((to, cause)) = progress.next(row.state) {
        match settlements::apply_transition(c, id, to, &cause).await {
            Ok(()) => {
                tracing::info!(settlement = %id, from = %row.state, %to, %cause, "settlement moved by chain events");
            }
            Err(lockstep_coordinator::Error::ConcurrentTransition { .. }) => {}
            Err(e) => return Err(e.into()),
        }
        let mut conn = c.db.pool().acquire().await?;
        match settlements::load(&mut conn, id).await? {
            Some(r) => row = r,
            None => return Ok(()),
        }
    }
    if row.state.is_terminal() && matches!(row.state, S::Finalized | S::TimedOut | S::RolledBack) {
        let has: Option<String> = sqlx::query("SELECT bundle FROM settlements WHERE id = $1")
            .bind(id)
            .fetch_one(c.db.pool())
            .await?
            .try_get("bundle")?;
        if has.is_none() {
            let bundle = bundle_for(&row, &terms, &by_eid, &escrows, &logs)?;
            sqlx::query("UPDATE settlements SET bundle = $1 WHERE id = $2 AND bundle IS NULL")
                .bind(bundle.to_string())
                .bind(id)
                .execute(c.db.pool())
                .await?;
            tracing::info!(settlement = %id, state = %row.state, "evidence bundle built from the receipts");
        }
    }
    Ok(())
}

/// The facts of the bundle: the decision inputs kept at clearing, and per deposited leg the
/// log that paid it out (`LegReleased`, COMMITTED) or returned it (`LegRefunded`,
/// REVERSED). A leg never deposited has no receipt and no entry.
pub fn bundle_facts(
    row: &SettlementRow,
    terms: &lockstep_bindings::ISettlementEscrow::Terms,
    by_eid: &BTreeMap<u32, u64>,
    escrows: &BTreeMap<u64, String>,
    logs: &[LogFact],
) -> Result<BundleFacts> {
    let corrupt = |m: &str| {
        ChainError::Coordinator(lockstep_coordinator::Error::Corrupt {
            what: "decision evidence",
            message: format!("{}: {m}", row.id),
        })
    };
    let doc: Value = serde_json::from_str(row.evidence.as_deref().ok_or_else(|| corrupt("none"))?)?;
    let input: DvpDecisionInput = serde_json::from_value(
        doc.get("input")
            .cloned()
            .ok_or_else(|| corrupt("no input"))?,
    )?;
    let decided_at_ms = doc
        .get("decided_at_ms")
        .and_then(Value::as_u64)
        .ok_or_else(|| corrupt("no decided_at_ms"))?;
    let mut legs = Vec::new();
    for (i, leg) in terms.legs.iter().enumerate() {
        let Some(chain_id) = by_eid.get(&leg.eid).copied() else {
            continue;
        };
        let found = logs.iter().find_map(|l| {
            let outcome = match l.event.as_str() {
                "LegReleased" => Outcome::Committed,
                "LegRefunded" => Outcome::Reversed,
                _ => return None,
            };
            (l.chain_id == chain_id && l.leg_index() == Some(i)).then_some((outcome, l))
        });
        let Some((outcome, l)) = found else { continue };
        legs.push(LegFacts {
            leg_index: i as u64,
            chain_id,
            token: format!("{:#x}", leg.token),
            amount: leg.amount.to_string(),
            outcome,
            executed_at_ms: l.block_timestamp * 1000,
            anchor: AnchorRecord {
                chain_id,
                escrow: escrows.get(&chain_id).cloned().unwrap_or_default(),
                settlement_id: format!("{:#x}", terms.settlementId),
                tx_hash: l.tx_hash.clone(),
                block_number: l.block_number,
                block_hash: l.block_hash.clone(),
                log_index: l.log_index,
                event: l.event.clone(),
            },
        });
    }
    Ok(BundleFacts {
        trade_reference: row.trade_reference.clone(),
        decided_at_ms,
        frame_provider_did: FRAME_PROVIDER_DID.into(),
        jurisdiction_flags: Vec::new(),
        decision: input,
        legs,
    })
}

fn bundle_for(
    row: &SettlementRow,
    terms: &lockstep_bindings::ISettlementEscrow::Terms,
    by_eid: &BTreeMap<u32, u64>,
    escrows: &BTreeMap<u64, String>,
    logs: &[LogFact],
) -> Result<Value> {
    let facts = bundle_facts(row, terms, by_eid, escrows, logs)?;
    Ok(build_bundle(&facts)?)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    const TH: &str = "0x1111111111111111111111111111111111111111111111111111111111111111";

    fn log(chain_id: u64, block: u64, event: &str, fields: Value) -> LogFact {
        LogFact {
            chain_id,
            block_number: block,
            block_hash: format!("0x{block:064x}"),
            block_timestamp: 1_700_000_000 + block,
            tx_hash: format!("0x{:064x}", block * 1000 + chain_id),
            log_index: 0,
            address: "0x00000000000000000000000000000000000e5c01".into(),
            event: event.into(),
            fields,
        }
    }
    fn reg(chain: u64) -> LogFact {
        log(chain, 1, "SettlementRegistered", json!({"termsHash": TH}))
    }
    fn dep(chain: u64, leg: usize) -> LogFact {
        log(
            chain,
            2,
            "LegDeposited",
            json!({"legIndex": leg.to_string()}),
        )
    }
    fn fin(chain: u64, ev: &str) -> LogFact {
        log(chain, 3, ev, json!({"termsHash": TH}))
    }
    fn walk(logs: &[LogFact]) -> Vec<S> {
        let p = Progress::from_logs([1u64, 2].into_iter().collect(), 2, TH, logs);
        let mut s = S::ComplianceCleared;
        let mut out = vec![s];
        while let Some((to, _)) = p.next(s) {
            assert!(s.can_transition_to(to), "{s} -> {to} is not an edge");
            s = to;
            out.push(s);
        }
        out
    }

    #[test]
    fn registration_on_one_chain_is_not_enough() {
        assert_eq!(walk(&[reg(1)]), vec![S::ComplianceCleared]);
        assert_eq!(
            walk(&[reg(1), reg(2)]),
            vec![S::ComplianceCleared, S::AwaitingDeposits]
        );
    }

    #[test]
    fn executed_everywhere_finalizes_through_executing() {
        let logs = [
            reg(1),
            reg(2),
            dep(1, 0),
            dep(2, 1),
            fin(1, "SettlementExecuted"),
        ];
        assert_eq!(
            walk(&logs),
            vec![S::ComplianceCleared, S::AwaitingDeposits, S::ExecutingSwap]
        );
        let mut all = logs.to_vec();
        all.push(fin(2, "SettlementExecuted"));
        assert_eq!(walk(&all).last(), Some(&S::Finalized));
    }

    #[test]
    fn refund_with_a_missing_deposit_times_out() {
        let logs = [
            reg(1),
            reg(2),
            dep(1, 0),
            fin(1, "SettlementRefunded"),
            fin(2, "SettlementRefunded"),
        ];
        assert_eq!(walk(&logs).last(), Some(&S::TimedOut));
        // Only the hub refunded so far: still waiting.
        assert_eq!(walk(&logs[..4]).last(), Some(&S::AwaitingDeposits));
    }

    #[test]
    fn abort_after_every_deposit_rolls_back() {
        let logs = [
            reg(1),
            reg(2),
            dep(1, 0),
            dep(2, 1),
            fin(1, "SettlementRefunded"),
            fin(2, "SettlementRefunded"),
        ];
        assert_eq!(
            walk(&logs),
            vec![
                S::ComplianceCleared,
                S::AwaitingDeposits,
                S::ExecutingSwap,
                S::RolledBack
            ]
        );
    }

    #[test]
    fn events_for_other_terms_and_bad_legs_are_ignored() {
        let other = "0x2222222222222222222222222222222222222222222222222222222222222222";
        let logs = [
            log(1, 1, "SettlementRegistered", json!({"termsHash": other})),
            reg(2),
            dep(1, 7),
        ];
        let p = Progress::from_logs([1u64, 2].into_iter().collect(), 2, TH, &logs);
        assert_eq!(p.registered.len(), 1);
        assert!(p.deposited.is_empty());
    }
}
