//! The compliance decision evidence, computed by `lockstep-evidence` (the Keystone mapping
//! of docs/evidence.md). The coordinator never canonicalises evidence itself.

use crate::{Error, Result};
use lockstep_evidence::Ref;
use lockstep_evidence::dvp::{Delivery, DvpDecisionInput, DvpParty, settlement_decision};
use lockstep_evidence::keystone::Verdict;
use serde_json::Value;

/// One party as the evidence needs it.
#[derive(Debug, Clone)]
pub struct EvidenceParty {
    /// Platform id.
    pub platform_id: String,
    /// The platform's reference for the instruction.
    pub external_reference: String,
    /// The party's role (`seller`, `buyer`, or a multi-party template's role).
    pub role: String,
    /// The party's wallet (checksummed).
    pub wallet: String,
    /// Quantity it delivers (decimal string, base units).
    pub quantity: String,
    /// Instrument it delivers, `eip155:<chain_id>/erc20:<address>`.
    pub instrument: String,
    /// Instruction creation time, epoch ms.
    pub created_at_ms: i64,
    /// Settlement timeout, epoch ms.
    pub timeout_at_ms: i64,
}

/// The verdict a screening outcome maps to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ComplianceVerdict {
    /// Cleared.
    Allow,
    /// Flagged for manual review.
    Refer,
    /// Failed or rejected.
    Deny,
}

/// The settlement-level decision: its ref and every preimage (a JSON document stored with
/// the settlement).
#[derive(Debug, Clone)]
pub struct DecisionEvidence {
    /// The settlement-level decision ref; its digest is the on-chain `decisionRef`.
    pub decision_ref: Ref,
    /// The full `DvpDecision` (every preimage and ref) as JSON, plus `input` (the
    /// `DvpDecisionInput` it was computed from) and `decided_at_ms`.
    pub document: Value,
}

/// Computes the decision evidence of a settlement (parties in settlement order: seller,
/// buyer, then the further parties of a multi-party settlement; a party delivering several
/// legs once per leg).
pub fn decision(
    settlement_id: &str,
    parties: &[&EvidenceParty],
    matched_terms: &Value,
    policy: &Value,
    verdict: ComplianceVerdict,
) -> Result<DecisionEvidence> {
    let err = |message: String| Error::Evidence {
        settlement_id: settlement_id.into(),
        message,
    };
    let party = |p: &EvidenceParty| -> Result<DvpParty> {
        Ok(DvpParty {
            platform: p.platform_id.clone(),
            external_reference: p.external_reference.clone(),
            role: p.role.clone(),
            wallet: p.wallet.clone(),
            delivers: Delivery {
                quantity: p.quantity.clone(),
                instrument: p.instrument.clone(),
            },
            created_at_ms: u64::try_from(p.created_at_ms).map_err(|e| err(e.to_string()))?,
            timeout_at_ms: u64::try_from(p.timeout_at_ms).map_err(|e| err(e.to_string()))?,
        })
    };
    let input = DvpDecisionInput {
        parties: parties.iter().map(|p| party(p)).collect::<Result<_>>()?,
        terms: matched_terms.clone(),
        policy: policy.clone(),
        verdict: match verdict {
            ComplianceVerdict::Allow => Verdict::Allow,
            ComplianceVerdict::Refer => Verdict::Refer,
            ComplianceVerdict::Deny => Verdict::Deny,
        },
    };
    let out = settlement_decision(&input).map_err(|e| err(e.to_string()))?;
    let mut document = serde_json::to_value(&out)?;
    if let Value::Object(o) = &mut document {
        // Kept so the receipt-anchored bundle can be rebuilt from the same inputs later.
        o.insert("input".into(), serde_json::to_value(&input)?);
        o.insert("decided_at_ms".into(), Value::from(lockstep_core::now_ms()));
    }
    Ok(DecisionEvidence {
        decision_ref: out.decision_ref,
        document,
    })
}
