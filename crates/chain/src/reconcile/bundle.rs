//! The facts of a final settlement's receipt-anchored evidence bundle, from the decision
//! the ledger kept at clearing and the stored logs that paid each deposited leg out or
//! back. Pure: no I/O.

use crate::error::{ChainError, Result};
use crate::store::LogFact;
use lockstep_core::ChainSettlement;
use lockstep_evidence::bundle::{AnchorRecord, BundleFacts, LegFacts, build_bundle};
use lockstep_evidence::keystone::Outcome;
use serde_json::Value;
use std::collections::BTreeMap;

/// `frame_provider_did` of the frames the coordinator emits.
pub const FRAME_PROVIDER_DID: &str = "did:web:lockstep.local";

/// Where a settlement's legs are: eid → chain id, and chain id → escrow (0x lowercase).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LegChains {
    /// The chain of each leg's eid.
    pub by_eid: BTreeMap<u32, u64>,
    /// The escrow of each chain the legs use.
    pub escrows: BTreeMap<u64, String>,
}

/// The log that paid leg `i` out (`LegReleased`, COMMITTED) or back (`LegRefunded`,
/// REVERSED) on `chain_id`, or recorded it as owed (`LegOwed`: COMMITTED when it was being
/// released, REVERSED when refunded; the escrow emits it instead of the payout event).
fn leg_outcome(logs: &[LogFact], chain_id: u64, i: usize) -> Option<(Outcome, &LogFact)> {
    logs.iter().find_map(|l| {
        let outcome = match l.event.as_str() {
            "LegReleased" => Outcome::Committed,
            "LegRefunded" => Outcome::Reversed,
            "LegOwed" if l.fields.get("refund").and_then(Value::as_bool) == Some(true) => {
                Outcome::Reversed
            }
            "LegOwed" => Outcome::Committed,
            _ => return None,
        };
        (l.chain_id == chain_id && l.leg_index() == Some(i)).then_some((outcome, l))
    })
}

/// The facts of the bundle: the decision inputs kept at clearing, and per deposited leg the
/// log that paid it out (`LegReleased`, COMMITTED) or returned it (`LegRefunded`,
/// REVERSED), or recorded it as owed (`LegOwed`, by its `refund` flag). A leg never deposited has no receipt and no entry.
pub fn bundle_facts(
    s: &ChainSettlement,
    legs_at: &LegChains,
    logs: &[LogFact],
) -> Result<BundleFacts> {
    let decision = s.decision.as_ref().ok_or_else(|| ChainError::Missing {
        settlement_id: s.id.clone(),
        what: "decision evidence",
    })?;
    let mut legs = Vec::new();
    for (i, leg) in s.terms.legs.iter().enumerate() {
        let Some(chain_id) = legs_at.by_eid.get(&leg.eid).copied() else {
            continue;
        };
        let Some((outcome, l)) = leg_outcome(logs, chain_id, i) else {
            continue;
        };
        legs.push(LegFacts {
            leg_index: i as u64,
            chain_id,
            token: format!("{:#x}", leg.token),
            amount: leg.amount.to_string(),
            outcome,
            executed_at_ms: l.block_timestamp * 1000,
            anchor: AnchorRecord {
                chain_id,
                escrow: legs_at.escrows.get(&chain_id).cloned().unwrap_or_default(),
                settlement_id: format!("{:#x}", s.terms.settlementId),
                tx_hash: l.tx_hash.clone(),
                block_number: l.block_number,
                block_hash: l.block_hash.clone(),
                log_index: l.log_index,
                event: l.event.clone(),
            },
        });
    }
    Ok(BundleFacts {
        trade_reference: s.trade_reference.clone(),
        decided_at_ms: decision.decided_at_ms,
        frame_provider_did: FRAME_PROVIDER_DID.into(),
        jurisdiction_flags: Vec::new(),
        decision: decision.input.clone(),
        legs,
    })
}

/// The evidence bundle of a final settlement.
pub fn bundle_for(s: &ChainSettlement, legs_at: &LegChains, logs: &[LogFact]) -> Result<Value> {
    let facts = bundle_facts(s, legs_at, logs)?;
    Ok(build_bundle(&facts)?)
}
