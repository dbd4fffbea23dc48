//! The resend keeper: a deferred message (`MessageDeferred`: the fee sent with a step did
//! not cover the LayerZero message) that no `MessageSent` of the same kind followed gets
//! `resend(terms)` with the quoted fee.

use super::{Keeper, KeeperState, LogAt};
use crate::client::rpc;
use crate::error::{ChainError, Result};
use crate::metrics::KeeperAction;
use crate::store::DeferredMessage;
use alloy::primitives::B256;
use alloy::rpc::types::TransactionRequest;
use alloy::sol_types::SolCall;
use lockstep_bindings::ISettlementEscrow::ISettlementEscrowErrors;
use lockstep_bindings::{EscrowRevert, ISettlementEscrow};
use std::collections::HashSet;
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// How long after a `resend` (or finding nothing to resend) the same deferred message is
/// left alone: the `MessageSent` it emitted needs confirmations before the indexer stores it.
const RESEND_QUIET: Duration = Duration::from_secs(120);
/// How long after a failed `resend` the keeper tries again.
const RESEND_RETRY: Duration = Duration::from_secs(10);

/// A `MessageDeferred` log and whether a `MessageSent` of the same kind (and destination)
/// followed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deferred {
    /// Where the deferral is.
    pub at: LogAt,
    /// The on-chain settlement id (0x hex).
    pub key: String,
    /// The message kind.
    pub kind: Option<u64>,
    /// Whether a `MessageSent` of the same kind came after it.
    pub sent_since: bool,
}

/// The `kind` of a stored `MessageDeferred`/`MessageSent` (a JSON number).
pub fn kind_of(fields: &str) -> Option<u64> {
    let v: serde_json::Value = serde_json::from_str(fields).ok()?;
    let k = v.get("kind")?;
    k.as_u64().or_else(|| k.as_str()?.parse().ok())
}

/// The `dstEid` of a stored `MessageDeferred`/`MessageSent` (escrow v2 defers per
/// destination); `None` for a log without one.
pub fn dst_of(fields: &str) -> Option<u64> {
    let v: serde_json::Value = serde_json::from_str(fields).ok()?;
    let k = v.get("dstEid")?;
    k.as_u64().or_else(|| k.as_str()?.parse().ok())
}

/// Whether a later `MessageSent` (`sent` fields) answers a deferral of `kind` to `dst`:
/// same kind and, when the deferral names its destination, same destination.
fn answers(sent: &str, kind: Option<u64>, dst: Option<u64>) -> bool {
    kind.is_some() && kind_of(sent) == kind && (dst.is_none() || dst_of(sent) == dst)
}

/// The deferred messages not yet followed by a `MessageSent` of their kind to their
/// destination, from the store's join rows (one per later `MessageSent`, ordered by
/// deferral).
pub fn open_deferrals(rows: &[DeferredMessage]) -> Vec<Deferred> {
    let mut deferred: Vec<Deferred> = Vec::new();
    for r in rows {
        let at = (r.chain_id, r.block_number, r.log_index);
        let kind = kind_of(&r.fields);
        let dst = dst_of(&r.fields);
        let sent_same = r.sent.as_deref().is_some_and(|s| answers(s, kind, dst));
        match deferred.last_mut() {
            Some(last) if last.at == at => last.sent_since |= sent_same,
            _ => deferred.push(Deferred {
                at,
                key: r.settlement_key.clone(),
                kind,
                sent_since: sent_same,
            }),
        }
    }
    deferred.retain(|d| !d.sent_since);
    deferred
}

impl Keeper {
    /// Resends the deferred messages the escrows have not sent since.
    pub(super) async fn resends(
        &self,
        st: &mut KeeperState,
        shutdown: &watch::Receiver<bool>,
    ) -> Result<()> {
        let deferred = open_deferrals(&self.store.deferred_messages().await?);
        let open_at: HashSet<LogAt> = deferred.iter().map(|d| d.at).collect();
        st.resend_after.retain(|at, _| open_at.contains(at));
        for d in deferred {
            if *shutdown.borrow() {
                break;
            }
            let eid = u64::try_from(d.at.0)
                .ok()
                .and_then(|id| self.chains.by_id(id))
                .map(|c| c.config.eid);
            if eid.is_some_and(|e| !self.acts_on(e)) {
                continue;
            }
            if st
                .resend_after
                .get(&d.at)
                .is_some_and(|t| Instant::now() < *t)
            {
                continue;
            }
            let quiet = match self.resend_one(st, d.at.0, &d.key, d.kind).await {
                Ok(_) => RESEND_QUIET,
                Err(e) => {
                    tracing::warn!(chain_id = d.at.0, onchain_id = %d.key, kind = ?d.kind, error = %e.describe(), "resend keeper: resend failed");
                    RESEND_RETRY
                }
            };
            st.resend_after.insert(d.at, Instant::now() + quiet);
        }
        Ok(())
    }

    /// `resend(terms)` on `chain_id` for the settlement with on-chain id `key`. `Ok(false)`
    /// when nothing was sent (unknown settlement, or nothing left to send).
    async fn resend_one(
        &self,
        st: &mut KeeperState,
        chain_id: i64,
        key: &str,
        kind: Option<u64>,
    ) -> Result<bool> {
        let Some(chain) = u64::try_from(chain_id)
            .ok()
            .and_then(|id| self.chains.by_id(id))
            .cloned()
        else {
            st.warn_once(
                format!("chain {chain_id}"),
                "resend keeper: a deferred message on a chain that is not configured",
            );
            return Ok(false);
        };
        let onchain: B256 = key
            .parse()
            .map_err(|e| ChainError::Config(format!("settlement key {key}: {e}")))?;
        let Some(s) = self.ledger.find_by_onchain_id(onchain).await? else {
            st.warn_once(
                format!("settlement {key}"),
                "resend keeper: deferred message of a settlement the coordinator does not know",
            );
            return Ok(false);
        };
        let escrow = ISettlementEscrow::new(chain.escrow(), chain.provider.clone());
        let fee = match escrow.quoteResend(s.terms.clone()).call().await {
            Ok(f) => f,
            Err(e) => {
                if let Some(EscrowRevert::Escrow(ISettlementEscrowErrors::EscrowNothingToSend(_))) =
                    e.as_revert_data()
                        .map(|d| lockstep_bindings::decode_revert_data(&d))
                {
                    tracing::info!(settlement_id = %s.id, chain_id, "resend keeper: nothing left to send");
                    return Ok(false);
                }
                return Err(rpc(chain.chain_id(), "quoteResend", e));
            }
        };
        let input = ISettlementEscrow::resendCall { terms: s.terms }.abi_encode();
        let tx = TransactionRequest::default()
            .to(chain.escrow())
            .value(fee)
            .input(input.into());
        match chain.sender.send(tx, "resend").await {
            Ok(r) => {
                self.metrics.count_keeper_action(KeeperAction::Resend);
                tracing::info!(settlement_id = %s.id, chain_id, kind = ?kind, fee = %fee, tx = %r.transaction_hash, "deferred message resent");
                Ok(true)
            }
            Err(ChainError::Reverted {
                revert: EscrowRevert::Escrow(ISettlementEscrowErrors::EscrowNothingToSend(_)),
                ..
            }) => Ok(false),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(block: i64, kind: u64, sent: Option<u64>) -> DeferredMessage {
        DeferredMessage {
            chain_id: 1,
            block_number: block,
            log_index: 0,
            settlement_key: "0xab".into(),
            fields: format!(r#"{{"kind":{kind},"requiredFee":"0"}}"#),
            sent: sent.map(|k| format!(r#"{{"kind":{k}}}"#)),
        }
    }

    #[test]
    fn reads_stored_kinds() {
        assert_eq!(kind_of(r#"{"kind":2,"requiredFee":"0"}"#), Some(2));
        assert_eq!(kind_of(r#"{"requiredFee":"0"}"#), None);
    }

    #[test]
    fn a_deferral_is_open_until_a_message_of_its_kind_follows() {
        let rows = [
            row(1, 2, Some(3)),
            row(1, 2, None),
            row(5, 3, Some(3)),
            row(7, 4, None),
        ];
        let open = open_deferrals(&rows);
        let blocks: Vec<i64> = open.iter().map(|d| d.at.1).collect();
        assert_eq!(blocks, [1, 7]);
        assert_eq!(open[0].kind, Some(2));
    }

    #[test]
    fn a_deferral_is_per_destination() {
        let d = |dst: u64, sent: Option<u64>| DeferredMessage {
            chain_id: 1,
            block_number: 3,
            log_index: i64::try_from(dst).unwrap_or(0),
            settlement_key: "0xab".into(),
            fields: format!(r#"{{"kind":3,"dstEid":{dst},"requiredFee":"0"}}"#),
            sent: sent.map(|k| format!(r#"{{"kind":3,"dstEid":{k}}}"#)),
        };
        // ABORT deferred to 40102 and 40103; only 40102 was sent since.
        let rows = [d(40102, Some(40102)), d(40103, Some(40102))];
        let open = open_deferrals(&rows);
        assert_eq!(open.len(), 1);
        assert_eq!(open[0].at.2, 40103);
        assert_eq!(dst_of(&rows[1].fields), Some(40103));
    }
}
