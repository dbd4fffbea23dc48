//! The Keystone constructions' vector files (`vectors/lockstep/`).

use crate::file::File;
use crate::inputs::{BARE5, R1, R2, R3, R4, R5, dvp_input};
use eyre::Result;
use serde_json::json;

/// Writes every file of this group.
pub(crate) fn write_all() -> Result<()> {
    passport()?;
    mandate()?;
    policy()?;
    policy_binding()?;
    decision()?;
    execution()?;
    trust_query()?;
    keystone()?;
    Ok(())
}

/// Passport preimages.
fn passport() -> Result<()> {
    let mut f = File::new("passport");
    let base = json!({"agent_id": "did:web:bank-a.example:ORD-1001", "issuer": "did:web:bank-a.example", "scope": "seller", "validity_window": "2026-05-21T00:00:00.000Z/2026-05-22T00:00:00.000Z"});
    let out = f.ok("dvp-seller", base.clone())?;
    f.ok("non-ascii", json!({"agent_id": "agent-é-😀", "issuer": "urn:lockstep:platform:b", "scope": "buyer", "validity_window": "a/b"}))?;
    f.differ("issuer-swap", json!({"agent_id": "did:web:bank-a.example:ORD-1001", "issuer": "urn:lockstep:platform:bank-a", "scope": "seller", "validity_window": "2026-05-21T00:00:00.000Z/2026-05-22T00:00:00.000Z"}), &out)?;
    f.reject(
        "empty-scope",
        json!({"agent_id": "a", "issuer": "i", "scope": "", "validity_window": "w"}),
    )?;
    f.reject(
        "missing-issuer",
        json!({"agent_id": "a", "scope": "s", "validity_window": "w"}),
    )?;
    f.reject(
        "extra-member",
        json!({"agent_id": "a", "issuer": "i", "scope": "s", "validity_window": "w", "extra": "x"}),
    )?;
    f.reject(
        "number-agent-id",
        json!({"agent_id": 1, "issuer": "i", "scope": "s", "validity_window": "w"}),
    )?;
    f.write()?;
    Ok(())
}

/// Mandate preimages.
fn mandate() -> Result<()> {
    let mut f = File::new("mandate");
    let out = f.ok("dvp-single", json!({"cap": "250000 eip155:1/erc20:0xaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "payer": "0x1111111111111111111111111111111111111111", "period": "single", "revocation_state": "active"}))?;
    f.differ("revoked", json!({"cap": "250000 eip155:1/erc20:0xaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "payer": "0x1111111111111111111111111111111111111111", "period": "single", "revocation_state": "revoked"}), &out)?;
    f.reject(
        "numeric-cap",
        json!({"cap": 1000, "payer": "p", "period": "single", "revocation_state": "active"}),
    )?;
    f.reject(
        "empty-period",
        json!({"cap": "1", "payer": "p", "period": "", "revocation_state": "active"}),
    )?;
    f.write()?;
    Ok(())
}

/// Policy documents.
fn policy() -> Result<()> {
    let mut f = File::new("policy");
    let out = f.ok("dvp-template", dvp_input("ALLOW")["policy"].clone())?;
    f.differ("version-bump", json!({"template": "dvp-bilateral/v1", "screening": {"policy_id": "aml.transfer", "version": 4, "deny_jurisdictions": ["XX"]}}), &out)?;
    f.reject("array-policy", json!(["not", "an", "object"]))?;
    f.reject_text("unsafe-integer", r#"{"limit":9007199254740993}"#)?;
    f.write()?;
    Ok(())
}

/// Policy bindings.
fn policy_binding() -> Result<()> {
    let mut f = File::new("policy_binding");
    let out = f.ok("refs", json!({"policy_ref": R3, "subject_ref": R5}))?;
    f.differ(
        "swapped",
        json!({"policy_ref": R5, "subject_ref": R3}),
        &out,
    )?;
    f.reject(
        "bare-subject",
        json!({"policy_ref": R3, "subject_ref": BARE5}),
    )?;
    f.write()?;
    Ok(())
}

/// Decisions.
fn decision() -> Result<()> {
    let mut f = File::new("decision");
    let out = f.ok(
        "refer",
        json!({"agent_ref": R1, "mandate_ref": R2, "policy_bound_ref": R3, "verdict": "REFER"}),
    )?;
    f.differ(
        "allow",
        json!({"agent_ref": R1, "mandate_ref": R2, "policy_bound_ref": R3, "verdict": "ALLOW"}),
        &out,
    )?;
    f.reject(
        "lowercase-verdict",
        json!({"agent_ref": R1, "mandate_ref": R2, "policy_bound_ref": R3, "verdict": "allow"}),
    )?;
    f.reject("uppercase-hex-ref", json!({"agent_ref": R1.to_uppercase().replace("SHA256", "sha256"), "mandate_ref": R2, "policy_bound_ref": R3, "verdict": "ALLOW"}))?;
    f.write()?;
    Ok(())
}

/// Executions (integer timestamp rules).
fn execution() -> Result<()> {
    let mut f = File::new("execution");
    let out = f.ok("dvp-leg", json!({"decision_ref": R4, "action_type": "dvp_settlement", "scope": "eip155:1:leg:0", "outcome": "COMMITTED", "executed_at_ms": 1_779_325_200_000u64}))?;
    f.differ("reversed", json!({"decision_ref": R4, "action_type": "dvp_settlement", "scope": "eip155:1:leg:0", "outcome": "REVERSED", "executed_at_ms": 1_779_325_200_000u64}), &out)?;
    f.ok("max-safe-timestamp", json!({"decision_ref": R4, "action_type": "payment", "scope": "bilateral", "outcome": "SKIPPED", "executed_at_ms": 9_007_199_254_740_991u64}))?;
    f.reject_text("float-timestamp", &format!(r#"{{"decision_ref":"{R4}","action_type":"payment","scope":"bilateral","outcome":"COMMITTED","executed_at_ms":1716460800000.5}}"#))?;
    f.reject_text("integral-float-timestamp", &format!(r#"{{"decision_ref":"{R4}","action_type":"payment","scope":"bilateral","outcome":"COMMITTED","executed_at_ms":1716460800000.0}}"#))?;
    // An exponent literal is a double even when its value is integral (as in Python).
    f.reject_text("exponent-timestamp", &format!(r#"{{"decision_ref":"{R4}","action_type":"payment","scope":"bilateral","outcome":"COMMITTED","executed_at_ms":1716460800000e0}}"#))?;
    f.reject("bool-timestamp", json!({"decision_ref": R4, "action_type": "payment", "scope": "bilateral", "outcome": "COMMITTED", "executed_at_ms": true}))?;
    f.reject("negative-timestamp", json!({"decision_ref": R4, "action_type": "payment", "scope": "bilateral", "outcome": "COMMITTED", "executed_at_ms": -1}))?;
    f.reject_text("timestamp-beyond-2-pow-53", &format!(r#"{{"decision_ref":"{R4}","action_type":"payment","scope":"bilateral","outcome":"COMMITTED","executed_at_ms":9007199254740992}}"#))?;
    f.reject("unknown-outcome", json!({"decision_ref": R4, "action_type": "payment", "scope": "bilateral", "outcome": "DONE", "executed_at_ms": 1}))?;
    f.write()?;
    Ok(())
}

/// Trust queries.
fn trust_query() -> Result<()> {
    let mut f = File::new("trust_query");
    let out = f.ok(
        "settlement-decision",
        json!({"subject_refs": [R4, R5], "trust_outcome": "TRUSTED"}),
    )?;
    f.differ(
        "reordered",
        json!({"subject_refs": [R5, R4], "trust_outcome": "TRUSTED"}),
        &out,
    )?;
    f.reject(
        "bare-member",
        json!({"subject_refs": [BARE5], "trust_outcome": "TRUSTED"}),
    )?;
    f.write()?;
    Ok(())
}

/// Whole keystone records.
fn keystone() -> Result<()> {
    let mut f = File::new("keystone");
    f.ok("refer-failed", json!({"passport_ref": R1, "mandate_ref": R2, "policy_bound_ref": R3, "verdict": "REFER", "action_type": "payment", "scope": "bilateral", "outcome": "FAILED", "executed_at_ms": 1_716_460_801_000u64, "trust_outcome": "PROVISIONAL"}))?;
    f.reject("missing-trust-outcome", json!({"passport_ref": R1, "mandate_ref": R2, "policy_bound_ref": R3, "verdict": "ALLOW", "action_type": "payment", "scope": "bilateral", "outcome": "COMMITTED", "executed_at_ms": 1}))?;
    f.write()?;
    Ok(())
}
