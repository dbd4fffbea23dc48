//! One entry point per construction, taking the construction's JSON input and returning
//! its named outputs: used by the vector files (`vectors/`), their runner and their
//! regeneration, and by anything that wants to drive the constructions from JSON.

use crate::bundle::{AnchorRecord, BundleFacts, build_bundle};
use crate::dvp::{DvpDecisionInput, settlement_decision};
use crate::fields::Fields;
use crate::keystone::{
    Decision, Execution, KeystoneInput, Mandate, Passport, PolicyBinding, TrustOutcome, TrustQuery,
    bind_keystone, policy_ref,
};
use crate::lifecycle::{
    Cancellation, ExecutionBinding, Refund, RetentionRow, SettlementReceipt, genesis,
    settlement_binding,
};
use crate::pef::{Frame, audit_chain_of_frames};
use crate::{Error, Preimage, Ref, Result};
use serde_json::{Value, json};

/// Every construction name [`compute`] accepts.
pub const CONSTRUCTIONS: &[&str] = &[
    "canonical",
    "passport",
    "mandate",
    "policy",
    "policy_binding",
    "decision",
    "execution",
    "trust_query",
    "keystone",
    "settlement_receipt",
    "retention_row",
    "execution_binding",
    "settlement_binding",
    "refund",
    "cancellation",
    "frame",
    "audit_chain",
    "anchor",
    "dvp_decision",
    "bundle",
];

fn one(key: &str, r: Ref) -> Value {
    json!({ key: r })
}

/// Computes construction `name` over `input`, returning its outputs as a JSON object.
pub fn compute(name: &str, input: &Value) -> Result<Value> {
    match name {
        "canonical" => {
            let bytes = crate::canonicalize(input)?;
            let text =
                String::from_utf8(bytes.clone()).map_err(|e| Error::rule("$", e.to_string()))?;
            Ok(json!({ "canonical": text, "ref": crate::ref_of_bytes(&bytes) }))
        }
        "passport" => Ok(one(
            "passport_ref",
            Passport::from_json("$", input)?.reference()?,
        )),
        "mandate" => Ok(one(
            "mandate_ref",
            Mandate::from_json("$", input)?.reference()?,
        )),
        "policy" => Ok(one("policy_ref", policy_ref(input)?)),
        "policy_binding" => policy_binding_of(input),
        "decision" => Ok(one(
            "decision_ref",
            Decision::from_json("$", input)?.reference()?,
        )),
        "execution" => Ok(one(
            "execution_ref",
            Execution::from_json("$", input)?.reference()?,
        )),
        "trust_query" => Ok(one(
            "trust_query_ref",
            TrustQuery::from_json("$", input)?.reference()?,
        )),
        "keystone" => Ok(
            serde_json::to_value(bind_keystone(&KeystoneInput::from_json("$", input)?)?)
                .map_err(|e| Error::rule("$", e.to_string()))?,
        ),
        "settlement_receipt" => {
            let r = SettlementReceipt::from_json("$", input)?.reference()?;
            Ok(json!({ "content_hash": r.bare(), "settlement_ref": r }))
        }
        "retention_row" => Ok(one(
            "retention_chain_ref",
            RetentionRow::from_json("$", input)?.reference()?,
        )),
        "execution_binding" => Ok(one(
            "binding_ref",
            ExecutionBinding::from_json("$", input)?.reference()?,
        )),
        "settlement_binding" => settlement_binding_of(input),
        "refund" => Ok(one(
            "refund_ref",
            Refund::from_json("$", input)?.reference()?,
        )),
        "cancellation" => Ok(one(
            "cancellation_ref",
            Cancellation::from_json("$", input)?.reference()?,
        )),
        "frame" => Frame::from_json("$", input)?.to_output(),
        "audit_chain" => audit_chain_of(input),
        "anchor" => Ok(one(
            "anchor_ref",
            AnchorRecord::from_json("$", input)?.reference()?,
        )),
        "dvp_decision" => dvp_decision_of(input),
        "bundle" => build_bundle(&BundleFacts::from_json("$", input)?),
        other => Err(Error::NotInEnum {
            field: "construction".into(),
            value: other.to_owned(),
            allowed: CONSTRUCTIONS.join(", "),
        }),
    }
}

/// `policy_binding`: `{policy (document), subject_ref}` or `{policy_ref, subject_ref}`.
fn policy_binding_of(input: &Value) -> Result<Value> {
    let mut f = Fields::new("$", input)?;
    let pr = match f.opt("policy") {
        Some(doc) => policy_ref(doc)?,
        None => f.reference("policy_ref")?,
    };
    let subject_ref = f.reference("subject_ref")?;
    f.finish()?;
    let b = PolicyBinding {
        policy_ref: pr,
        subject_ref,
    };
    Ok(json!({ "policy_ref": pr, "policy_bound_ref": b.reference()? }))
}

/// `settlement_binding`: `{execution_ref, receipt, prev_hash?, row_number?}`.
fn settlement_binding_of(input: &Value) -> Result<Value> {
    let mut f = Fields::new("$", input)?;
    let execution_ref = f.reference("execution_ref")?;
    let receipt = SettlementReceipt::from_json("receipt", f.req("receipt")?)?;
    let prev = match f.opt("prev_hash") {
        Some(v) => Ref::from_bare("prev_hash", &crate::fields::as_string("prev_hash", v)?)?,
        None => genesis(),
    };
    let row = match f.opt("row_number") {
        Some(v) => crate::fields::as_uint("row_number", v)?,
        None => 1,
    };
    f.finish()?;
    serde_json::to_value(settlement_binding(execution_ref, &receipt, prev, row)?)
        .map_err(|e| Error::rule("$", e.to_string()))
}

/// `audit_chain`: `{frame_ids, trust_outcome?}`.
fn audit_chain_of(input: &Value) -> Result<Value> {
    let mut f = Fields::new("$", input)?;
    let ids = crate::keystone::refs_from_json("frame_ids", f.array("frame_ids")?)?;
    let outcome = match f.opt("trust_outcome") {
        Some(v) => TrustOutcome::parse_field(
            "trust_outcome",
            &crate::fields::as_string("trust_outcome", v)?,
        )?,
        None => TrustOutcome::Trusted,
    };
    f.finish()?;
    serde_json::to_value(audit_chain_of_frames(&ids, outcome)?)
        .map_err(|e| Error::rule("$", e.to_string()))
}

/// `dvp_decision`: the whole decision plus its on-chain `decisionRef`.
fn dvp_decision_of(input: &Value) -> Result<Value> {
    let d = settlement_decision(&DvpDecisionInput::from_json("$", input)?)?;
    let mut v = serde_json::to_value(&d).map_err(|e| Error::rule("$", e.to_string()))?;
    if let Some(m) = v.as_object_mut() {
        m.insert(
            "onchain_decision_ref".into(),
            json!(format!("0x{}", d.decision_ref.bare())),
        );
    }
    Ok(v)
}

/// The canonical bytes any preimage would hash (exposed for vector tooling).
pub fn canonical_text<P: Preimage>(p: &P) -> Result<String> {
    String::from_utf8(p.canonical()?).map_err(|e| Error::rule("$", e.to_string()))
}
