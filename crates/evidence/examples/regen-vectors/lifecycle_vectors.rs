//! The lifecycle, PEF, anchor, DvP and bundle-facts vector files (`vectors/lockstep/`).

use crate::file::File;
use crate::inputs::{self, BARE5, R1, R2, R3, R4, R5, ZEROS, dvp_input, facts, receipt};
use eyre::Result;
use serde_json::json;

/// Writes every file of this group.
pub(crate) fn write_all() -> Result<()> {
    settlement_receipt()?;
    retention_row()?;
    execution_binding()?;
    settlement_binding()?;
    refund()?;
    cancellation()?;
    frame()?;
    audit_chain()?;
    anchor()?;
    dvp_decision()?;
    bundle()?;
    Ok(())
}

/// Settlement receipts.
fn settlement_receipt() -> Result<()> {
    let receipt = receipt();
    let mut f = File::new("settlement_receipt");
    let out = f.ok("settled", receipt.clone())?;
    let mut with_round = receipt.clone();
    with_round["settlement_round"] = json!(2);
    f.differ("with-round", with_round.clone(), &out)?;
    let mut flags = receipt.clone();
    flags["jurisdiction_flags"] = json!(["EU", "UK"]);
    f.differ("flags-reordered", flags, &out)?;
    let mut no_flags = receipt.clone();
    no_flags["jurisdiction_flags"] = json!([]);
    f.ok("no-flags", no_flags)?;
    let mut bad = with_round.clone();
    bad["settlement_round"] = json!(0);
    f.reject("round-zero", bad)?;
    let mut bad = receipt.clone();
    bad["settlement_amount"]["amount_minor"] = json!("2500.00");
    f.reject("decimal-amount", bad)?;
    let mut bad = receipt.clone();
    bad["settlement_amount"]["amount_minor"] = json!(250000);
    f.reject("numeric-amount", bad)?;
    let mut bad = receipt.clone();
    bad["canon_version"] = json!("urn:x402:canonicalisation:jcs-rfc8785-v1");
    f.reject("urn-canon-version", bad)?;
    let mut bad = receipt.clone();
    bad["settlement_result"] = json!("FINAL");
    f.reject("unknown-result", bad)?;
    let mut bad = receipt.clone();
    bad["settlement_round"] = json!(null);
    f.reject("null-round", bad)?;
    let mut bad = receipt.clone();
    bad["memo"] = json!("x");
    f.reject("extra-member", bad)?;
    f.write()?;
    Ok(())
}

/// Retention rows.
fn retention_row() -> Result<()> {
    let mut f = File::new("retention_row");
    f.ok(
        "second-row",
        json!({"content_hash": BARE5, "prev_hash": &R4[7..], "row_number": 2}),
    )?;
    f.reject(
        "row-one-not-genesis",
        json!({"content_hash": BARE5, "prev_hash": &R4[7..], "row_number": 1}),
    )?;
    f.reject(
        "prefixed-content-hash",
        json!({"content_hash": R5, "prev_hash": ZEROS, "row_number": 1}),
    )?;
    f.reject(
        "row-zero",
        json!({"content_hash": BARE5, "prev_hash": ZEROS, "row_number": 0}),
    )?;
    f.write()?;
    Ok(())
}

/// Execution bindings.
fn execution_binding() -> Result<()> {
    let mut f = File::new("execution_binding");
    let out = f.ok(
        "refs",
        json!({"execution_ref": R5, "settlement_ref": R4, "retention_chain_ref": R3}),
    )?;
    f.differ(
        "swapped",
        json!({"execution_ref": R4, "settlement_ref": R5, "retention_chain_ref": R3}),
        &out,
    )?;
    f.reject(
        "missing-settlement",
        json!({"execution_ref": R5, "retention_chain_ref": R3}),
    )?;
    f.write()?;
    Ok(())
}

/// Settlement bindings (receipt + retention row + binding).
fn settlement_binding() -> Result<()> {
    let receipt = receipt();
    let mut f = File::new("settlement_binding");
    let out = f.ok("genesis", json!({"execution_ref": R5, "receipt": receipt}))?;
    f.differ(
        "second-row",
        json!({"execution_ref": R5, "receipt": receipt, "prev_hash": &R4[7..], "row_number": 2}),
        &out,
    )?;
    f.reject(
        "not-the-settled-execution",
        json!({"execution_ref": R4, "receipt": receipt}),
    )?;
    f.write()?;
    Ok(())
}

/// Refunds.
fn refund() -> Result<()> {
    let mut f = File::new("refund");
    let out = f.ok(
        "partial",
        json!({"refund_amount": "125000", "refund_result": "PARTIAL", "subject_ref": R5}),
    )?;
    f.differ(
        "full",
        json!({"refund_amount": "125000", "refund_result": "FULL", "subject_ref": R5}),
        &out,
    )?;
    f.reject(
        "empty-amount",
        json!({"refund_amount": "", "refund_result": "FULL", "subject_ref": R5}),
    )?;
    f.write()?;
    Ok(())
}

/// Cancellations.
fn cancellation() -> Result<()> {
    let mut f = File::new("cancellation");
    let out = f.ok(
        "expired",
        json!({"cancellation_reason": "EXPIRED", "mandate_ref": R2}),
    )?;
    f.differ(
        "compliance",
        json!({"cancellation_reason": "COMPLIANCE_TERMINATED", "mandate_ref": R2}),
        &out,
    )?;
    f.reject(
        "unknown-reason",
        json!({"cancellation_reason": "TIMEOUT", "mandate_ref": R2}),
    )?;
    f.write()?;
    Ok(())
}

/// PEF frames.
fn frame() -> Result<()> {
    let mut f = File::new("frame");
    let frame = json!({"claim_type": "keystone_trace", "receipt_format": "execution-keystone-v1", "receipt": {"b": "é", "a": [1, 2], "c": {"y": true, "x": null}}, "frame_provider_did": "did:web:lockstep.local", "frame_timestamp_ms": 1_779_325_200_000u64});
    let out = f.ok("nested-receipt", frame.clone())?;
    let mut ts = frame.clone();
    ts["frame_timestamp_ms"] = json!(1_779_325_200_001u64);
    f.differ("timestamp-plus-one", ts, &out)?;
    let mut bad = frame.clone();
    bad["claim_type"] = json!("payment_receipt");
    f.reject("unknown-claim-type", bad)?;
    let mut bad = frame.clone();
    bad["receipt"] = json!("text");
    f.reject("string-receipt", bad)?;
    let mut bad = frame.clone();
    bad["frame_provider_did"] = json!("");
    f.reject("empty-provider", bad)?;
    f.write()?;
    Ok(())
}

/// Audit chains of frames.
fn audit_chain() -> Result<()> {
    let mut f = File::new("audit_chain");
    let out = f.ok(
        "three-frames",
        json!({"frame_ids": [R1, R2, R3], "trust_outcome": "PROVISIONAL"}),
    )?;
    f.differ(
        "reordered",
        json!({"frame_ids": [R2, R1, R3], "trust_outcome": "PROVISIONAL"}),
        &out,
    )?;
    f.reject(
        "empty",
        json!({"frame_ids": [], "trust_outcome": "TRUSTED"}),
    )?;
    f.reject(
        "bare-id",
        json!({"frame_ids": [BARE5], "trust_outcome": "TRUSTED"}),
    )?;
    f.write()?;
    Ok(())
}

/// Receipt anchor records.
fn anchor() -> Result<()> {
    let mut f = File::new("anchor");
    let a = inputs::anchor(
        1,
        "0x00000000000000000000000000000000000e5c01",
        "SettlementExecuted",
        1,
    );
    let out = f.ok("executed", a.clone())?;
    let mut other = a.clone();
    other["log_index"] = json!(2);
    f.differ("other-log", other, &out)?;
    let mut bad = a.clone();
    bad["escrow"] = json!("0x00000000000000000000000000000000000E5C01");
    f.reject("checksummed-escrow", bad)?;
    let mut bad = a.clone();
    bad["tx_hash"] = json!("0x1234");
    f.reject("short-tx-hash", bad)?;
    let mut bad = a;
    bad.as_object_mut().map(|m| m.remove("event"));
    f.reject("missing-event", bad)?;
    f.write()?;
    Ok(())
}

/// The DvP decision mapping.
fn dvp_decision() -> Result<()> {
    let mut f = File::new("dvp_decision");
    let out = f.ok("allow", dvp_input("ALLOW"))?;
    f.ok("refer", dvp_input("REFER"))?;
    f.ok("deny", dvp_input("DENY"))?;
    let mut swapped = dvp_input("ALLOW");
    let p = swapped["parties"].clone();
    swapped["parties"] = json!([p[1], p[0]]);
    f.differ("parties-swapped", swapped, &out)?;
    let mut same = dvp_input("ALLOW");
    same["parties"][1] = same["parties"][0].clone();
    f.reject("identical-parties", same)?;
    let mut bad = dvp_input("ALLOW");
    bad["parties"][0]["delivers"]["quantity"] = json!("1.5");
    f.reject("decimal-quantity", bad)?;
    let mut bad = dvp_input("ALLOW");
    bad["parties"][1]["timeout_at_ms"] = json!(1);
    f.reject("timeout-before-created", bad)?;
    let mut bad = dvp_input("ALLOW");
    bad["parties"] = json!([p[0]]);
    f.reject("one-party", bad)?;
    // A multi-party settlement (docs/evidence.md, "N parties"): a third decision joins the
    // composite in party order.
    let mut three = dvp_input("ALLOW");
    let mut fx = p[1].clone();
    fx["platform"] = json!("platform-c");
    fx["external_reference"] = json!("ORD-3003");
    fx["role"] = json!("fx_provider");
    fx["wallet"] = json!("0x3333333333333333333333333333333333333333");
    fx["delivers"] = json!({"quantity": "920000000", "instrument": "eip155:137/erc20:0xcccccccccccccccccccccccccccccccccccccccc"});
    three["parties"] = json!([p[0], p[1], fx]);
    f.ok("three-parties", three)?;
    f.write()?;
    Ok(())
}

/// Bundle facts rejections.
fn bundle() -> Result<()> {
    let mut f = File::new("bundle");
    f.reject("failed-leg", {
        let mut v = facts("ALLOW", "COMMITTED");
        v["legs"][0]["outcome"] = json!("FAILED");
        v
    })?;
    f.reject("anchor-on-other-chain", {
        let mut v = facts("ALLOW", "COMMITTED");
        v["legs"][0]["anchor"]["chain_id"] = json!(10);
        v
    })?;
    f.reject("mixed-settlement-ids", {
        let mut v = facts("ALLOW", "COMMITTED");
        v["legs"][1]["anchor"]["settlement_id"] = json!(format!("0x{}", "1".repeat(64)));
        v
    })?;
    f.write()?;
    Ok(())
}
