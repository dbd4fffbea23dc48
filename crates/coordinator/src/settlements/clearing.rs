//! What clearing builds from the matched instructions of every party: the decision
//! evidence (docs/evidence.md) and the on-chain terms (docs/onchain-terms.md; for more
//! than two parties the multi-party builder and hub rule of docs/coordinator.md).
//!
//! Two parties keep the two-party formats exactly (matched terms keyed `seller` / `buyer`,
//! one Keystone decision per party). More parties: the matched terms list every party
//! under `parties`, in position order, and each party has one Keystone decision per leg
//! it delivers.

use super::store::SettlementRow;
use crate::evidence::{ComplianceVerdict, DecisionEvidence, EvidenceParty};
use crate::multileg::build_multi_party_terms;
use crate::terms::{self, BuiltTerms, Escrows};
use crate::trade::{Direction, InstructionBody};
use crate::{Error, Result, rfc3339};
use alloy::primitives::B256;
use alloy::signers::local::PrivateKeySigner;
use serde_json::{Value, json};

/// One party of a settlement with its matched instruction.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Party<'a> {
    /// The party's platform.
    pub platform_id: &'a str,
    /// Its matched instruction.
    pub body: &'a InstructionBody,
    /// When the instruction was created, epoch ms.
    pub created_at: i64,
}

/// Every party of `s` in position order: the seller and buyer columns, then the parties
/// of `more` (platform, instruction, creation time) of a multi-party settlement.
pub(crate) fn parties<'a>(
    s: &'a SettlementRow,
    [(seller, seller_at), (buyer, buyer_at)]: &'a [(InstructionBody, i64); 2],
    more: &'a [(String, InstructionBody, i64)],
) -> Vec<Party<'a>> {
    let mut all = vec![
        Party {
            platform_id: &s.seller_platform_id,
            body: seller,
            created_at: *seller_at,
        },
        Party {
            platform_id: &s.buyer_platform_id,
            body: buyer,
            created_at: *buyer_at,
        },
    ];
    all.extend(more.iter().map(|(platform, body, at)| Party {
        platform_id: platform,
        body,
        created_at: *at,
    }));
    all
}

/// `eip155:<chain_id>/erc20:<address>`.
fn instrument(chain_id: u64, token: &str) -> String {
    format!("eip155:{chain_id}/erc20:{token}")
}

/// The evidence parties of `p`: one per leg it delivers, in its instruction's order.
fn evidence_parties(s: &SettlementRow, p: &Party<'_>) -> Result<Vec<EvidenceParty>> {
    let b = p.body;
    let out: Vec<EvidenceParty> = b
        .legs
        .iter()
        .filter(|l| l.direction == Direction::Deliver)
        .map(|leg| EvidenceParty {
            platform_id: p.platform_id.into(),
            external_reference: b.party.external_reference.clone(),
            role: b.role.as_str().into(),
            wallet: b.party.wallet_address.clone(),
            quantity: leg.quantity.clone(),
            instrument: instrument(leg.chain_id, &leg.instrument_id),
            created_at_ms: p.created_at,
            timeout_at_ms: s.timeout_at,
        })
        .collect();
    if out.is_empty() {
        return Err(Error::Corrupt {
            what: "matched instructions",
            message: format!("{} delivers nothing", b.role.as_str()),
        });
    }
    Ok(out)
}

/// The matched (off-chain) terms the decision binds: `seller` / `buyer` for two parties,
/// `parties` (role, party, legs; position order) for more; a repo's binding to its close
/// (the opening) or its opening (the close) under the member docs/evidence.md names.
fn matched_terms(s: &SettlementRow, parties: &[Party<'_>]) -> Result<Value> {
    let mut v = json!({
        "trade_reference": s.trade_reference,
        "settlement_type": s.template_slug,
        "timeout_at": rfc3339(s.timeout_at),
    });
    if let [seller, buyer] = parties {
        v["seller"] = json!({"party": seller.body.party, "legs": seller.body.legs});
        v["buyer"] = json!({"party": buyer.body.party, "legs": buyer.body.legs});
    } else {
        v["parties"] = parties
            .iter()
            .map(|p| json!({"role": p.body.role.as_str(), "party": p.body.party, "legs": p.body.legs}))
            .collect();
    }
    if let Some((key, member)) = crate::repo::closing::evidence_member(s)? {
        v[key] = member;
    }
    Ok(v)
}

/// The decision evidence over the matched terms (its digest goes on chain), under
/// `policy` (template and screening providers).
pub(crate) fn decision_evidence(
    s: &SettlementRow,
    parties: &[Party<'_>],
    policy: &Value,
) -> Result<DecisionEvidence> {
    let mut evidence = Vec::new();
    for p in parties {
        evidence.extend(evidence_parties(s, p)?);
    }
    let refs: Vec<&EvidenceParty> = evidence.iter().collect();
    crate::evidence::decision(
        &s.id,
        &refs,
        &matched_terms(s, parties)?,
        policy,
        ComplianceVerdict::Allow,
    )
}

/// The on-chain terms: the two-party builder for two parties, the multi-party builder
/// (every pairing, the hub rule) for more. One-time deposit keys come from
/// [`PrivateKeySigner::random`].
pub(crate) fn build_terms(
    s: &SettlementRow,
    decision_ref: B256,
    parties: &[Party<'_>],
    escrows: &Escrows,
) -> Result<BuiltTerms> {
    if let [seller, buyer] = parties {
        return terms::build_terms(
            &s.trade_reference,
            s.timeout_at,
            decision_ref,
            [seller.body, buyer.body],
            escrows,
            PrivateKeySigner::random,
        );
    }
    let bodies: Vec<&InstructionBody> = parties.iter().map(|p| p.body).collect();
    build_multi_party_terms(
        &s.trade_reference,
        s.timeout_at,
        decision_ref,
        &bodies,
        escrows,
        PrivateKeySigner::random,
    )
}
