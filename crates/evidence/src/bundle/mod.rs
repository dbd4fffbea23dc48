//! The evidence bundle of a DvP settlement: every preimage and ref from the compliance
//! decision to the per-leg receipts, their PEF frames and the capped audit chain; and
//! its offline verification.
//!
//! Verification rebuilds every derived value from the bundle's `facts` with the typed
//! constructors (so every ref is recomputed and every link re-derived) and compares the
//! result with the bundle in document order; the first difference is reported with its
//! JSON path, the expected and the found value. Online re-anchoring plugs in through
//! [`AnchorChecker`].

use crate::construct::{ObjWriter, nonempty, safe_uint};
use crate::dvp::{DvpDecisionInput, settlement_decision, verdict_trust_outcome};
use crate::fields::{Fields, as_string};
use crate::keystone::{Execution, Outcome};
use crate::lifecycle::{
    ExecutionBinding, Refund, RefundResult, RetentionRow, SettlementAmount, SettlementReceipt,
    SettlementResult, genesis,
};
use crate::pef::{ClaimType, Frame, JsonReceipt, PEF_CANON_VERSION, audit_chain_of_frames};
use crate::{Error, Preimage, Ref, Result};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

/// `bundle_version` of the bundles this crate writes and verifies.
pub const BUNDLE_VERSION: &str = "lockstep-evidence-bundle/v1";
/// `action_type` of a leg's execution.
pub const LEG_ACTION_TYPE: &str = "dvp_settlement";

/// Where a leg's outcome was recorded on-chain: the log of the escrow event that
/// executed or unwound it. `anchor_ref = ref(anchor)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnchorRecord {
    /// EVM chain id.
    pub chain_id: u64,
    /// Escrow contract address, `0x` + 40 lowercase hex.
    pub escrow: String,
    /// On-chain `settlementId`, `0x` + 64 lowercase hex.
    pub settlement_id: String,
    /// Transaction hash, `0x` + 64 lowercase hex.
    pub tx_hash: String,
    /// Block number.
    pub block_number: u64,
    /// Block hash, `0x` + 64 lowercase hex.
    pub block_hash: String,
    /// Index of the log in the block.
    pub log_index: u64,
    /// Event name (e.g. `SettlementExecuted`, `SettlementRefunded`).
    pub event: String,
}

fn check_hex(field: &str, v: &str, digits: usize) -> Result<()> {
    let ok = v.len() == digits + 2
        && v.starts_with("0x")
        && v[2..]
            .bytes()
            .all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f'));
    if !ok {
        return Err(Error::rule(
            field,
            format!("must be 0x followed by {digits} lowercase hex digits"),
        ));
    }
    Ok(())
}

impl Preimage for AnchorRecord {
    fn validate(&self) -> Result<()> {
        safe_uint("chain_id", self.chain_id)?;
        check_hex("escrow", &self.escrow, 40)?;
        check_hex("settlement_id", &self.settlement_id, 64)?;
        check_hex("tx_hash", &self.tx_hash, 64)?;
        safe_uint("block_number", self.block_number)?;
        check_hex("block_hash", &self.block_hash, 64)?;
        safe_uint("log_index", self.log_index)?;
        nonempty("event", &self.event)
    }
    fn write_canonical(&self, out: &mut Vec<u8>) {
        let mut o = ObjWriter::begin(out);
        o.str("block_hash", &self.block_hash);
        o.uint("block_number", self.block_number);
        o.uint("chain_id", self.chain_id);
        o.str("escrow", &self.escrow);
        o.str("event", &self.event);
        o.uint("log_index", self.log_index);
        o.str("settlement_id", &self.settlement_id);
        o.str("tx_hash", &self.tx_hash);
        o.end();
    }
}

impl AnchorRecord {
    /// Reads an anchor record from strict JSON (exact keys).
    pub fn from_json(path: &str, v: &Value) -> Result<AnchorRecord> {
        let mut f = Fields::new(path, v)?;
        let a = AnchorRecord {
            chain_id: f.uint("chain_id")?,
            escrow: f.string("escrow")?,
            settlement_id: f.string("settlement_id")?,
            tx_hash: f.string("tx_hash")?,
            block_number: f.uint("block_number")?,
            block_hash: f.string("block_hash")?,
            log_index: f.uint("log_index")?,
            event: f.string("event")?,
        };
        f.finish()?;
        a.validate().map_err(|e| prefix(path, e))?;
        Ok(a)
    }

    /// The content reference of the anchor (validated first).
    pub fn reference(&self) -> Result<Ref> {
        <Self as Preimage>::reference(self)
    }
}

fn prefix(path: &str, e: Error) -> Error {
    match e {
        Error::Rule { field, rule } => Error::Rule {
            field: crate::fields::join(path, &field),
            rule,
        },
        Error::Empty { field } => Error::Empty {
            field: crate::fields::join(path, &field),
        },
        Error::IntegerOutOfRange { field, value } => Error::IntegerOutOfRange {
            field: crate::fields::join(path, &field),
            value,
        },
        other => other,
    }
}

/// What happened to one leg, as the chain recorded it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LegFacts {
    /// Index into the on-chain `legs` array.
    pub leg_index: u64,
    /// EVM chain id of the leg.
    pub chain_id: u64,
    /// ERC-20 token, `0x` + 40 lowercase hex.
    pub token: String,
    /// Exact amount in base units (decimal digits).
    pub amount: String,
    /// `COMMITTED` (executed) or `REVERSED` (refunded after deposit).
    pub outcome: Outcome,
    /// Block timestamp × 1000 of the receipt that executed or unwound the leg.
    pub executed_at_ms: u64,
    /// The receipt anchor.
    pub anchor: AnchorRecord,
}

impl LegFacts {
    fn from_json(path: &str, v: &Value) -> Result<LegFacts> {
        let mut f = Fields::new(path, v)?;
        let ap = f.path("anchor");
        let op = f.path("outcome");
        let l = LegFacts {
            leg_index: f.uint("leg_index")?,
            chain_id: f.uint("chain_id")?,
            token: f.string("token")?,
            amount: f.string("amount")?,
            outcome: Outcome::parse_field(&op, &f.string("outcome")?)?,
            executed_at_ms: f.uint("executed_at_ms")?,
            anchor: AnchorRecord::from_json(&ap, f.req("anchor")?)?,
        };
        f.finish()?;
        check_hex(&crate::fields::join(path, "token"), &l.token, 40)?;
        if l.amount.is_empty() || !l.amount.bytes().all(|c| c.is_ascii_digit()) {
            return Err(Error::rule(
                crate::fields::join(path, "amount"),
                "must be a non-empty string of decimal digits",
            ));
        }
        if !matches!(l.outcome, Outcome::Committed | Outcome::Reversed) {
            return Err(Error::rule(
                op,
                "a leg's outcome must be COMMITTED or REVERSED",
            ));
        }
        if l.anchor.chain_id != l.chain_id {
            return Err(Error::rule(
                format!("{ap}.chain_id"),
                format!("must equal the leg's chain_id {}", l.chain_id),
            ));
        }
        Ok(l)
    }
}

/// Everything a settlement's bundle is derived from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BundleFacts {
    /// The coordinator's trade reference (`settlementId = keccak256(utf8(it))`).
    pub trade_reference: String,
    /// When the compliance decision was taken, epoch ms.
    pub decided_at_ms: u64,
    /// The DID of the party emitting the frames.
    pub frame_provider_did: String,
    /// Jurisdiction codes carried by every settlement receipt, in order.
    pub jurisdiction_flags: Vec<String>,
    /// The compliance decision's inputs.
    pub decision: DvpDecisionInput,
    /// Per-leg outcomes, in leg order (empty when nothing was registered, e.g. DENY).
    pub legs: Vec<LegFacts>,
}

impl BundleFacts {
    /// Reads bundle facts from strict JSON (exact keys).
    pub fn from_json(path: &str, v: &Value) -> Result<BundleFacts> {
        let mut f = Fields::new(path, v)?;
        let jp = f.path("jurisdiction_flags");
        let jurisdiction_flags = f
            .array("jurisdiction_flags")?
            .iter()
            .enumerate()
            .map(|(i, v)| as_string(&format!("{jp}[{i}]"), v))
            .collect::<Result<Vec<_>>>()?;
        let dp = f.path("decision");
        let lp = f.path("legs");
        let facts = BundleFacts {
            trade_reference: f.string("trade_reference")?,
            decided_at_ms: f.uint("decided_at_ms")?,
            frame_provider_did: f.string("frame_provider_did")?,
            jurisdiction_flags,
            decision: DvpDecisionInput::from_json(&dp, f.req("decision")?)?,
            legs: f
                .array("legs")?
                .iter()
                .enumerate()
                .map(|(i, v)| LegFacts::from_json(&format!("{lp}[{i}]"), v))
                .collect::<Result<Vec<_>>>()?,
        };
        f.finish()?;
        nonempty(
            &crate::fields::join(path, "trade_reference"),
            &facts.trade_reference,
        )?;
        nonempty(
            &format!("{path}.frame_provider_did"),
            &facts.frame_provider_did,
        )?;
        for (i, l) in facts.legs.iter().enumerate() {
            if facts.legs[..i].iter().any(|o| o.leg_index == l.leg_index) {
                return Err(Error::rule(
                    format!("{lp}[{i}].leg_index"),
                    "duplicate leg_index",
                ));
            }
            if l.anchor.settlement_id != facts.legs[0].anchor.settlement_id {
                return Err(Error::rule(
                    format!("{lp}[{i}].anchor.settlement_id"),
                    "every anchor must carry the same settlement_id",
                ));
            }
        }
        Ok(facts)
    }
}

/// The PEF frames of a bundle, in order, with their ids (the audit chain's input).
struct FrameSink {
    provider: String,
    frames: Vec<Value>,
    ids: Vec<Ref>,
}

impl FrameSink {
    /// Appends one frame by `provider`.
    fn push<R: Preimage>(
        &mut self,
        claim_type: ClaimType,
        receipt_format: &str,
        receipt: R,
        frame_timestamp_ms: u64,
    ) -> Result<()> {
        let out = Frame {
            claim_type,
            receipt_format: receipt_format.into(),
            receipt,
            frame_provider_did: self.provider.clone(),
            frame_timestamp_ms,
        }
        .to_output()?;
        let id = Ref::parse_field("frame_id", out["frame_id"].as_str().unwrap_or_default())?;
        self.ids.push(id);
        self.frames.push(out);
        Ok(())
    }
}

/// Builds the complete evidence bundle of a settlement from its facts.
pub fn build_bundle(facts: &BundleFacts) -> Result<Value> {
    let d = settlement_decision(&facts.decision)?;
    let mut sink = FrameSink {
        provider: facts.frame_provider_did.clone(),
        frames: Vec::new(),
        ids: Vec::new(),
    };
    sink.push(
        ClaimType::CompositeVerdict,
        "lockstep-settlement-decision-v1",
        d.settlement_decision.clone(),
        facts.decided_at_ms,
    )?;
    let mut legs = Vec::new();
    let mut prev = genesis();
    for (n, l) in facts.legs.iter().enumerate() {
        let (leg, row_ref) = leg_entry(facts, l, d.decision_ref, n as u64 + 1, prev, &mut sink)?;
        prev = row_ref;
        legs.push(leg);
    }
    let audit = audit_chain_of_frames(&sink.ids, verdict_trust_outcome(d.verdict))?;
    Ok(json!({
        "bundle_version": BUNDLE_VERSION,
        "facts": facts,
        "decision": decision_json(&d),
        "legs": legs,
        "frames": sink.frames,
        "audit_chain": audit,
    }))
}

/// The `decision` section: every preimage and ref of the compliance decision.
fn decision_json(d: &crate::dvp::DvpDecision) -> Value {
    let parties: Vec<Value> = d
        .parties
        .iter()
        .map(|p| {
            json!({
                "passport": p.passport.to_value(),
                "passport_ref": p.passport_ref,
                "mandate": p.mandate.to_value(),
                "mandate_ref": p.mandate_ref,
                "decision": p.decision.to_value(),
                "decision_ref": p.decision_ref,
            })
        })
        .collect();
    json!({
        "terms_ref": d.terms_ref,
        "policy_ref": d.policy_ref,
        "policy_binding": d.policy_binding.to_value(),
        "policy_bound_ref": d.policy_bound_ref,
        "parties": parties,
        "settlement_decision": d.settlement_decision.to_value(),
        "decision_ref": d.decision_ref,
        "onchain_decision_ref": format!("0x{}", d.decision_ref.bare()),
    })
}

/// The settlement receipt of one leg, provided by its escrow (`did:pkh`) and pointing at
/// its anchor.
fn receipt_of(
    facts: &BundleFacts,
    l: &LegFacts,
    chain: &str,
    anchor_ref: Ref,
    execution_ref: Ref,
) -> SettlementReceipt {
    SettlementReceipt {
        canon_version: crate::keystone::CANON_VERSION.into(),
        jurisdiction_flags: facts.jurisdiction_flags.clone(),
        settled_payment_ref: execution_ref,
        settlement_amount: SettlementAmount {
            amount_minor: l.amount.clone(),
            asset_id: format!("{chain}/erc20:{}", l.token),
        },
        settlement_chain: chain.to_string(),
        settlement_provider_did: format!("did:pkh:{chain}:{}#{anchor_ref}", l.anchor.escrow),
        settlement_result: if l.outcome == Outcome::Committed {
            SettlementResult::Settled
        } else {
            SettlementResult::Reversed
        },
        settlement_timestamp_ms: l.executed_at_ms,
        settlement_round: None,
    }
}

/// One leg's entry (execution, receipt, retention row `row_number` chained to `prev`,
/// binding, and the refund of a reversed leg) and its frames; returns the entry and the
/// retention row's ref (the next row's `prev_hash`).
fn leg_entry(
    facts: &BundleFacts,
    l: &LegFacts,
    decision_ref: Ref,
    row_number: u64,
    prev: Ref,
    sink: &mut FrameSink,
) -> Result<(Value, Ref)> {
    let anchor_ref = l.anchor.reference()?;
    let chain = format!("eip155:{}", l.chain_id);
    let execution = Execution {
        decision_ref,
        action_type: LEG_ACTION_TYPE.into(),
        scope: format!("{chain}:leg:{}", l.leg_index),
        outcome: l.outcome,
        executed_at_ms: l.executed_at_ms,
    };
    let execution_ref = execution.reference()?;
    let receipt = receipt_of(facts, l, &chain, anchor_ref, execution_ref);
    let settlement_ref = receipt.reference()?;
    let row = RetentionRow {
        content_hash: settlement_ref,
        prev_hash: prev,
        row_number,
    };
    let retention_chain_ref = row.reference()?;
    let binding = ExecutionBinding {
        execution_ref,
        settlement_ref,
        retention_chain_ref,
    };
    let binding_ref = binding.reference()?;
    let mut leg = Map::new();
    leg.insert("leg_index".into(), json!(l.leg_index));
    leg.insert("anchor_ref".into(), anchor_ref.into());
    leg.insert("execution".into(), execution.to_value());
    leg.insert("execution_ref".into(), execution_ref.into());
    leg.insert("settlement_receipt".into(), receipt.to_value());
    leg.insert("content_hash".into(), json!(settlement_ref.bare()));
    leg.insert("settlement_ref".into(), settlement_ref.into());
    leg.insert("retention_row".into(), row.to_value());
    leg.insert("retention_chain_ref".into(), retention_chain_ref.into());
    leg.insert("binding".into(), binding.to_value());
    leg.insert("binding_ref".into(), binding_ref.into());
    let ts = l.executed_at_ms;
    use ClaimType::{PaymentExecution, PaymentRefund, PaymentSettlement};
    sink.push(
        PaymentSettlement,
        "lockstep-receipt-anchor-v1",
        l.anchor.clone(),
        ts,
    )?;
    sink.push(PaymentExecution, "execution-ref-v1", execution, ts)?;
    sink.push(PaymentSettlement, "settlement-attestation-v1", receipt, ts)?;
    let binding_receipt = JsonReceipt(json!({
        "binding_ref": binding_ref,
        "canon_version": PEF_CANON_VERSION,
        "execution_ref": execution_ref,
        "retention_chain_ref": retention_chain_ref,
        "settlement_ref": settlement_ref,
    }));
    sink.push(
        PaymentExecution,
        "execution-binding-v1",
        binding_receipt,
        ts,
    )?;
    if l.outcome == Outcome::Reversed {
        let refund = Refund {
            refund_amount: l.amount.clone(),
            refund_result: RefundResult::Full,
            subject_ref: execution_ref,
        };
        leg.insert("refund".into(), refund.to_value());
        leg.insert("refund_ref".into(), refund.reference()?.into());
        sink.push(PaymentRefund, "refund-receipt-v1", refund, ts)?;
    }
    Ok((Value::Object(leg), retention_chain_ref))
}

mod verify;
pub use verify::{
    AnchorChecker, Mismatch, OfflineOnly, VerifyError, VerifySummary, first_difference,
    verify_bundle,
};
