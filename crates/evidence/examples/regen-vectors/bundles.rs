//! `vectors/bundles/`: the good bundles with their facts and the tampered variants.

use crate::file::write_json;
use crate::inputs::facts;
use crate::root;
use eyre::{Result, eyre};
use lockstep_evidence::bundle::{
    BundleFacts, OfflineOnly, VerifyError, build_bundle, verify_bundle,
};
use serde_json::{Value, json};
use std::path::Path;

/// Sets (or, with `None`, removes) the member at JSON pointer `ptr`.
fn set_pointer(v: &mut Value, ptr: &str, new: Option<Value>) -> Result<()> {
    let (parent, last) = ptr
        .rsplit_once('/')
        .ok_or_else(|| eyre!("bad pointer {ptr}"))?;
    let p = v
        .pointer_mut(parent)
        .ok_or_else(|| eyre!("no parent for {ptr}"))?;
    match (p, new) {
        (Value::Object(m), Some(n)) => {
            m.insert(last.to_owned(), n);
        }
        (Value::Object(m), None) => {
            m.shift_remove(last);
        }
        (Value::Array(a), Some(n)) => {
            let i: usize = last.parse()?;
            a[i] = n;
        }
        (Value::Array(a), None) => {
            let i: usize = last.parse()?;
            a.remove(i);
        }
        _ => return Err(eyre!("cannot apply {ptr}")),
    }
    Ok(())
}

/// Builds, verifies and writes the good bundles and their facts; returns their names.
fn good_bundles(dir: &Path) -> Result<Vec<&'static str>> {
    let mut good = Vec::new();
    for (name, verdict, outcome) in [
        ("settled", "ALLOW", "COMMITTED"),
        ("refunded", "REFER", "REVERSED"),
        ("denied", "DENY", "COMMITTED"),
    ] {
        let f = facts(verdict, outcome);
        let b = build_bundle(&BundleFacts::from_json("$", &f)?)?;
        verify_bundle(&b, &OfflineOnly).map_err(|e| eyre!("{name}: {e}"))?;
        write_json(&dir.join(format!("{name}.facts.json")), &f)?;
        write_json(&dir.join(format!("{name}.bundle.json")), &b)?;
        good.push(name);
    }
    Ok(good)
}

const OTHER_REF: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
const HASH_9: &str = "0x9999999999999999999999999999999999999999999999999999999999999999";
const HASH_1: &str = "0x1111111111111111111111111111111111111111111111111111111111111111";
const BARE_1: &str = "1111111111111111111111111111111111111111111111111111111111111111";
const RAISED_CAP: &str = "9000000000 eip155:10/erc20:0xbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
const AMOUNT: &str = "/legs/1/settlement_receipt/settlement_amount/amount_minor";

/// One tampering: id, the good bundle it starts from, the JSON pointer it changes and
/// the string set there (`None` removes the member).
type Tamper = (
    &'static str,
    &'static str,
    &'static str,
    Option<&'static str>,
);

/// Every tampering, in file order.
#[rustfmt::skip]
const TAMPERS: &[Tamper] = &[
    ("execution-ref-replaced", "settled", "/legs/0/execution_ref", Some(OTHER_REF)),
    ("anchor-tx-hash-changed", "settled", "/facts/legs/0/anchor/tx_hash", Some(HASH_9)),
    ("frame-receipt-outcome-flipped", "settled", "/frames/2/preimage/receipt/outcome", Some("REVERSED")),
    ("frame-id-replaced", "settled", "/frames/3/frame_id", Some(OTHER_REF)),
    ("row-hash-replaced", "settled", "/audit_chain/rows/1/row_hash", Some(BARE_1)),
    ("row-prev-hash-prefixed", "settled", "/audit_chain/rows/1/row/prev_hash", Some(OTHER_REF)),
    ("cap-replaced", "settled", "/audit_chain/cap", Some(OTHER_REF)),
    ("mandate-cap-raised", "settled", "/decision/parties/1/mandate/cap", Some(RAISED_CAP)),
    ("verdict-in-facts-changed", "refunded", "/facts/decision/verdict", Some("ALLOW")),
    ("settlement-receipt-amount-changed", "settled", AMOUNT, Some("1")),
    ("refund-removed", "refunded", "/legs/0/refund", None),
    ("frame-removed", "settled", "/frames/4", None),
    ("extra-member", "denied", "/note", Some("added")),
    ("bundle-version", "denied", "/bundle_version", Some("lockstep-evidence-bundle/v0")),
    ("onchain-decision-ref-changed", "denied", "/decision/onchain_decision_ref", Some(HASH_1)),
];

/// Applies one tampering to its good bundle and records the first mismatch that
/// verification reports; a tamper that verifies, or that is invalid rather than
/// mismatched, is an error.
fn tamper_case(dir: &Path, &(id, base, ptr, value): &Tamper) -> Result<Value> {
    let value = value.map(Value::from);
    let text = std::fs::read(dir.join(format!("{base}.bundle.json")))?;
    let mut b = lockstep_evidence::parse_strict(&text)?;
    set_pointer(&mut b, ptr, value.clone())?;
    let mismatch = match verify_bundle(&b, &OfflineOnly) {
        Ok(_) => return Err(eyre!("tamper {id} verified")),
        Err(VerifyError::Mismatch(m)) => m,
        Err(VerifyError::Invalid(e)) => {
            return Err(eyre!("tamper {id} is invalid rather than mismatched: {e}"));
        }
    };
    let mut c = json!({"id": id, "bundle": format!("{base}.bundle.json"), "pointer": ptr});
    match value {
        Some(v) => c["set"] = v,
        None => c["remove"] = json!(true),
    }
    c["first_mismatch"] = serde_json::to_value(&mismatch)?;
    Ok(c)
}

/// Writes `vectors/bundles/`: the good bundles, their facts and `tampered.json`.
pub(crate) fn write_all() -> Result<()> {
    let dir = root().join("bundles");
    std::fs::create_dir_all(&dir)?;
    let good = good_bundles(&dir)?;
    let cases = TAMPERS
        .iter()
        .map(|t| tamper_case(&dir, t))
        .collect::<Result<Vec<_>>>()?;
    write_json(
        &dir.join("tampered.json"),
        &json!({"source": "lockstep (generated by `cargo run -p lockstep-evidence --example regen-vectors`)", "good": good, "tampered": cases}),
    )
}
