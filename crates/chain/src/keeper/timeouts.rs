//! The timeout keeper: `refund(terms)` on every chain of a live settlement whose clock has
//! passed the deadline, where the escrow allows it ([`refund_due`]), including the escrow
//! v2 abort of a hub that never registered but buffered a spoke's LOCKED for exactly the
//! settlement's terms (permissionless, no attestation: the spoke unwinds even when the
//! coordinator's attester key is gone). The escrow buffers per terms hash and `settlementOf`
//! shows only the first set heard, so when it shows another set the keeper simulates the
//! abort before sending it.

use super::{Keeper, KeeperState};
use crate::client::{ChainClient, rpc};
use crate::error::{ChainError, Result};
use crate::metrics::KeeperAction;
use alloy::rpc::types::TransactionRequest;
use alloy::sol_types::SolCall;
use lockstep_bindings::ISettlementEscrow::ISettlementEscrowErrors;
use lockstep_bindings::{EscrowRevert, ISettlementEscrow, escrow_state};
use lockstep_core::{Backoff, ChainSettlement, SettlementState};
use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// Wait after failed refunds of one settlement on one chain: 1 s doubling, at most 60 s.
pub const REFUND_RETRY: Backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(60));

/// Whether the timeout keeper refunds a chain in escrow state `state` once the deadline
/// passed: the hub while OPEN or LOCKED (its refund is the abort), a spoke only while OPEN
/// (a LOCKED spoke is unwound only by the hub's ABORT), and an unregistered hub (NONE)
/// whose buffered terms hash is the settlement's (`buffered_match`: it holds a LOCKED for
/// exactly these terms and `refund` aborts it).
pub fn refund_due(hub: bool, state: u8, buffered_match: bool) -> bool {
    match state {
        escrow_state::OPEN => true,
        escrow_state::LOCKED => hub,
        escrow_state::NONE => hub && buffered_match,
        _ => false,
    }
}

impl Keeper {
    /// Refunds the live settlements whose deadline passed on a chain of theirs.
    pub(super) async fn timeouts(
        &self,
        st: &mut KeeperState,
        shutdown: &watch::Receiver<bool>,
    ) -> Result<()> {
        let mut live: Vec<ChainSettlement> = self
            .ledger
            .live_settlements()
            .await?
            .into_iter()
            .filter(|s| {
                matches!(
                    s.state,
                    SettlementState::ComplianceCleared
                        | SettlementState::AwaitingDeposits
                        | SettlementState::ExecutingSwap
                )
            })
            .collect();
        live.sort_by(|a, b| a.id.cmp(&b.id));
        let ids: HashSet<&String> = live.iter().map(|s| &s.id).collect();
        st.refund_retry.retain(|(id, _), _| ids.contains(id));
        let mut clocks: HashMap<u32, u64> = HashMap::new();
        for s in &live {
            if *shutdown.borrow() {
                break;
            }
            let eids: BTreeSet<u32> = s.terms.legs.iter().map(|l| l.eid).collect();
            for eid in eids.into_iter().filter(|e| self.acts_on(*e)) {
                self.timeout_with_retry(st, s, eid, &mut clocks).await;
            }
        }
        Ok(())
    }

    /// The timeout step of `s` on `eid`, unless an earlier failure asks to wait.
    async fn timeout_with_retry(
        &self,
        st: &mut KeeperState,
        s: &ChainSettlement,
        eid: u32,
        clocks: &mut HashMap<u32, u64>,
    ) {
        let key = (s.id.clone(), eid);
        if st
            .refund_retry
            .get(&key)
            .is_some_and(|(_, at)| Instant::now() < *at)
        {
            return;
        }
        let Some(chain) = self.chains.by_eid(eid).cloned() else {
            st.warn_once(
                format!("eid {eid}"),
                "timeout keeper: a settlement has a leg on an eid no configured chain has",
            );
            return;
        };
        match self.timeout_on(&chain, s, eid, clocks).await {
            Ok(()) => {
                st.refund_retry.remove(&key);
            }
            Err(e) => {
                let failures = st.refund_retry.get(&key).map_or(0, |(n, _)| *n) + 1;
                let wait = REFUND_RETRY.delay(failures);
                tracing::warn!(settlement_id = %s.id, eid, failures, error = %e.describe(), "timeout keeper: refund failed");
                st.refund_retry
                    .insert(key, (failures, Instant::now() + wait));
            }
        }
    }

    /// The timeout step of one settlement on one chain.
    async fn timeout_on(
        &self,
        chain: &Arc<ChainClient>,
        s: &ChainSettlement,
        eid: u32,
        clocks: &mut HashMap<u32, u64>,
    ) -> Result<()> {
        let terms = &s.terms;
        let now = match clocks.get(&eid) {
            Some(t) => *t,
            None => {
                let t = chain.latest_timestamp().await?;
                clocks.insert(eid, t);
                t
            }
        };
        if now <= terms.timeoutAt {
            return Ok(());
        }
        let escrow = ISettlementEscrow::new(chain.escrow(), chain.provider.clone());
        let on = escrow
            .settlementOf(terms.settlementId)
            .call()
            .await
            .map_err(|e| rpc(chain.chain_id(), "settlementOf", e))?;
        let state = on.state;
        let hub = eid == terms.hubEid;
        let buffered_match = state == escrow_state::NONE
            && hub
            && (on.termsHash == s.terms_hash || abort_would_succeed(chain, terms).await);
        if !refund_due(hub, state, buffered_match) {
            return Ok(());
        }
        let fee = escrow
            .quoteRefund(terms.clone())
            .call()
            .await
            .map_err(|e| rpc(chain.chain_id(), "quoteRefund", e))?;
        let input = ISettlementEscrow::refundCall {
            terms: terms.clone(),
        }
        .abi_encode();
        let tx = TransactionRequest::default()
            .to(chain.escrow())
            .value(fee)
            .input(input.into());
        match chain.sender.send(tx, "refund").await {
            Ok(r) => {
                self.metrics.count_keeper_action(KeeperAction::Refund);
                tracing::info!(settlement_id = %s.id, chain_id = chain.chain_id(), hub, state = escrow_state::name(state), fee = %fee, tx = %r.transaction_hash, "deadline passed: refunded");
                Ok(())
            }
            Err(ChainError::Reverted {
                revert:
                    EscrowRevert::Escrow(
                        ISettlementEscrowErrors::EscrowInvalidState(_)
                        | ISettlementEscrowErrors::EscrowAwaitingHub(_),
                    ),
                ..
            }) => {
                tracing::info!(settlement_id = %s.id, chain_id = chain.chain_id(), "refund no longer applies (state moved meanwhile)");
                Ok(())
            }
            Err(e) => Err(e),
        }
    }
}

/// Whether `refund(terms)` on an unregistered hub would succeed (simulated, no
/// transaction). `settlementOf` shows only the first term set the hub buffered; a LOCKED for
/// our terms heard after another set sits in a buffer of its own, which only the call can see.
async fn abort_would_succeed(chain: &Arc<ChainClient>, terms: &ISettlementEscrow::Terms) -> bool {
    let escrow = ISettlementEscrow::new(chain.escrow(), chain.provider.clone());
    let Ok(fee) = escrow.quoteRefund(terms.clone()).call().await else {
        return false;
    };
    escrow
        .refund(terms.clone())
        .value(fee)
        .from(chain.sender.from())
        .call()
        .await
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refunds_only_where_the_escrow_allows_it() {
        use escrow_state::*;
        for buffered in [false, true] {
            assert!(refund_due(true, OPEN, buffered));
            assert!(refund_due(true, LOCKED, buffered));
            assert!(refund_due(false, OPEN, buffered));
            assert!(!refund_due(false, LOCKED, buffered));
            assert!(!refund_due(false, NONE, buffered));
            for s in [EXECUTED, REFUNDED] {
                assert!(!refund_due(true, s, buffered));
                assert!(!refund_due(false, s, buffered));
            }
        }
        // An unregistered hub is aborted only when it buffered exactly these terms.
        assert!(refund_due(true, NONE, true));
        assert!(!refund_due(true, NONE, false));
    }

    #[test]
    fn refund_retries_wait_like_before() {
        // Before: min(backoff_ms(n) * 4, 60 s) with backoff_ms 250 ms doubling to 30 s.
        let waits: Vec<u64> = (1..=8)
            .map(|n| REFUND_RETRY.delay(n).as_millis() as u64)
            .collect();
        assert_eq!(
            waits,
            [1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 60_000, 60_000]
        );
    }
}
