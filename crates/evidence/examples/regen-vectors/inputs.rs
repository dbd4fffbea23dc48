//! The inputs the vector files share: published refs, DvP parties, anchors and facts.

use serde_json::{Value, json};

/// The published keystone's passport_ref.
pub(crate) const R1: &str =
    "sha256:b3594e33998af01bd1ad208172c5c1ac586daa8c75781379f034d97e50b1a9be";
/// The published keystone's mandate_ref.
pub(crate) const R2: &str =
    "sha256:a4f8cb5ee09b29478ac1cc2f468d66e16d3d25f7a229a31d22ad521e11d04d35";
/// The published keystone's policy_bound_ref.
pub(crate) const R3: &str =
    "sha256:aaee2091799f376ee8cac802ea4920feaa4eca52950488a3e047ff82e6959a21";
/// The published keystone's decision_ref.
pub(crate) const R4: &str =
    "sha256:2a444c629892f44fde1bd004aba9be01dd6cc7fe251eecdd545b82dca9f0bf97";
/// The published keystone's execution_ref.
pub(crate) const R5: &str =
    "sha256:f6e2bfc15b085ed51c4c972de81d1c6b00f4e55b272e2aa12e56bb7c521fc65a";
/// R5 without its `sha256:` prefix.
pub(crate) const BARE5: &str = "f6e2bfc15b085ed51c4c972de81d1c6b00f4e55b272e2aa12e56bb7c521fc65a";
/// The genesis `prev_hash`.
pub(crate) const ZEROS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// One party of the DvP decision input.
fn party(
    platform: &str,
    ext: &str,
    role: &str,
    wallet: &str,
    qty: &str,
    instrument: &str,
) -> Value {
    json!({
        "platform": platform, "external_reference": ext, "role": role, "wallet": wallet,
        "delivers": {"quantity": qty, "instrument": instrument},
        "created_at_ms": 1_779_321_600_000u64, "timeout_at_ms": 1_779_408_000_000u64,
    })
}

/// The DvP decision input of the example settlement with `verdict`.
pub(crate) fn dvp_input(verdict: &str) -> Value {
    json!({
        "parties": [
            party("did:web:bank-a.example", "ORD-1001", "seller", "0x1111111111111111111111111111111111111111", "250000", "eip155:1/erc20:0xaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"),
            party("platform-b", "ORD-2002", "buyer", "0x2222222222222222222222222222222222222222", "1000000000", "eip155:10/erc20:0xbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"),
        ],
        "terms": {
            "trade_reference": "LS-01JEXAMPLE0000000000000001",
            "legs": [
                {"chain_id": 1, "token": "0xaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "amount": "250000", "from": "seller", "to": "buyer"},
                {"chain_id": 10, "token": "0xbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", "amount": "1000000000", "from": "buyer", "to": "seller"}
            ],
            "timeout_at_ms": 1_779_408_000_000u64
        },
        "policy": {"template": "dvp-bilateral/v1", "screening": {"policy_id": "aml.transfer", "version": 3, "deny_jurisdictions": ["XX"]}},
        "verdict": verdict,
    })
}

/// A receipt anchor on `chain_id`; `n` varies the hashes, block and log index.
pub(crate) fn anchor(chain_id: u64, escrow: &str, event: &str, n: u64) -> Value {
    let h = |c: char| format!("0x{}", c.to_string().repeat(64));
    json!({
        "chain_id": chain_id, "escrow": escrow,
        "settlement_id": "0x5e7f2a0c4d1b3e6f8a9c0b2d4e6f8a1c3e5b7d9f0a2c4e6b8d0f2a4c6e8b0d2f",
        "tx_hash": h(char::from(b'a' + n as u8)), "block_number": 19_000_000 + n,
        "block_hash": h(char::from(b'0' + n as u8)), "log_index": n, "event": event,
    })
}

/// The bundle facts of the example settlement (no legs for DENY).
pub(crate) fn facts(verdict: &str, outcome: &str) -> Value {
    let event = if outcome == "COMMITTED" {
        "SettlementExecuted"
    } else {
        "SettlementRefunded"
    };
    let legs = if verdict == "DENY" {
        json!([])
    } else {
        json!([
            {"leg_index": 0, "chain_id": 1, "token": "0xaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "amount": "250000",
             "outcome": outcome, "executed_at_ms": 1_779_325_200_000u64,
             "anchor": anchor(1, "0x00000000000000000000000000000000000e5c01", event, 1)},
            {"leg_index": 1, "chain_id": 10, "token": "0xbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", "amount": "1000000000",
             "outcome": outcome, "executed_at_ms": 1_779_325_212_000u64,
             "anchor": anchor(10, "0x00000000000000000000000000000000000e5c0a", event, 2)},
        ])
    };
    json!({
        "trade_reference": "LS-01JEXAMPLE0000000000000001",
        "decided_at_ms": 1_779_321_700_000u64,
        "frame_provider_did": "did:web:lockstep.local",
        "jurisdiction_flags": ["UK", "EU"],
        "decision": dvp_input(verdict),
        "legs": legs,
    })
}

/// The settlement receipt of the `settlement_receipt` and `settlement_binding` files.
pub(crate) fn receipt() -> Value {
    json!({"canon_version": "jcs-rfc8785-v1", "jurisdiction_flags": ["UK", "EU"], "settled_payment_ref": R5,
        "settlement_amount": {"amount_minor": "250000", "asset_id": "eip155:1/erc20:0xaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"},
        "settlement_chain": "eip155:1", "settlement_provider_did": "did:pkh:eip155:1:0x00000000000000000000000000000000000e5c01",
        "settlement_result": "SETTLED", "settlement_timestamp_ms": 1_779_325_200_000u64})
}
