//! The on-chain terms of a multi-party settlement (docs/coordinator.md, "Multi-party
//! matching"): every delivering leg of every party, paid to the party whose receiving leg
//! pairs with it, on an escrow hub chosen by the hub rule. For two parties the result is
//! exactly [`crate::terms::build_terms`]'s (same leg order, same hub).

use crate::terms::{BuiltTerms, Escrows, Leg, Terms, leg_of, settlement_id};
use crate::trade::{DepositAuthorization, Direction, InstructionBody, LegInput, LegType};
use crate::{Error, Result};
use alloy::primitives::B256;
use alloy::signers::local::PrivateKeySigner;
use serde_json::json;

/// Most legs one settlement may have (the escrow's limit, docs/protocol.md).
pub const MAX_SETTLEMENT_LEGS: usize = 32;

/// The hub rule: the endpoint id carrying the most legs; a tie goes to the chain of the
/// earliest of those legs in the canonical leg order. Deterministic from the legs alone,
/// and for two parties it is the chain of the first leg (the seller's asset leg), the
/// two-party rule.
pub fn hub_eid(legs: &[Leg]) -> Option<u32> {
    let count = |eid: u32| legs.iter().filter(|l| l.eid == eid).count();
    let most = legs.iter().map(|l| count(l.eid)).max()?;
    legs.iter().map(|l| l.eid).find(|e| count(*e) == most)
}

/// The party whose receiving leg pairs with the delivering leg `l` of party `from`.
fn receiver<'a>(
    parties: &[&'a InstructionBody],
    from: usize,
    l: &LegInput,
) -> Option<&'a InstructionBody> {
    parties
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != from)
        .find(|(_, b)| {
            b.legs.iter().any(|r| {
                r.direction == Direction::Receive
                    && r.chain_id == l.chain_id
                    && r.instrument_id.eq_ignore_ascii_case(&l.instrument_id)
            })
        })
        .map(|(_, b)| *b)
}

/// Builds the terms of matched, complementary instructions (`parties` in the
/// settlement's party order: the template's role order). Canonical leg order: party by
/// party, each party's delivering legs asset before payment, then by chain id and token;
/// each leg's recipient is the wallet of the party receiving it; legs are authorised as
/// in two-party terms (fixed depositor or a one-time key from `key`); the hub is
/// [`hub_eid`]. Fails when the legs do not pair, a chain is not configured or there are
/// more than [`MAX_SETTLEMENT_LEGS`] legs.
pub fn build_multi_party_terms(
    trade_reference: &str,
    timeout_at_ms: i64,
    decision_ref: B256,
    parties: &[&InstructionBody],
    escrows: &Escrows,
    mut key: impl FnMut() -> PrivateKeySigner,
) -> Result<BuiltTerms> {
    let bad = |m: String| Error::Corrupt {
        what: "matched instructions",
        message: m,
    };
    let mut legs = Vec::new();
    let mut secrets = Vec::new();
    for (p, b) in parties.iter().enumerate() {
        let mut mine: Vec<&LegInput> = b
            .legs
            .iter()
            .filter(|l| l.direction == Direction::Deliver)
            .collect();
        mine.sort_by_key(|l| {
            (
                l.leg_type != LegType::AssetDelivery,
                l.chain_id,
                l.instrument_id.to_lowercase(),
            )
        });
        for l in mine {
            let chain = escrows
                .by_chain_id(l.chain_id)
                .ok_or_else(|| bad(format!("chain {} is no longer configured", l.chain_id)))?;
            let to = receiver(parties, p, l).ok_or_else(|| {
                bad(format!(
                    "{}: no party receives {} on chain {}",
                    b.role.as_str(),
                    l.instrument_id,
                    l.chain_id
                ))
            })?;
            let (leg, signer) = leg_of(b, l, to, chain.eid, &mut key).map_err(bad)?;
            let mut entry = json!({"leg_index": legs.len(), "role": b.role.as_str()});
            if let Some(k) = signer {
                entry["authorization"] = json!(DepositAuthorization::DepositKey.as_str());
                entry["deposit_key"] = json!(k.address().to_checksum(None));
                entry["private_key"] = json!(format!("0x{}", hex::encode(k.to_bytes())));
            } else {
                entry["authorization"] = json!(DepositAuthorization::Depositor.as_str());
            }
            secrets.push(entry);
            legs.push(leg);
        }
    }
    if legs.len() > MAX_SETTLEMENT_LEGS {
        return Err(bad(format!(
            "{} legs; an escrow settles at most {MAX_SETTLEMENT_LEGS}",
            legs.len()
        )));
    }
    let hub = hub_eid(&legs).ok_or_else(|| bad("no legs".into()))?;
    let terms = Terms {
        settlementId: settlement_id(trade_reference),
        hubEid: hub,
        timeoutAt: u64::try_from(timeout_at_ms / 1000).map_err(|e| bad(e.to_string()))?,
        decisionRef: decision_ref,
        legs,
    };
    Ok(BuiltTerms { terms, secrets })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
