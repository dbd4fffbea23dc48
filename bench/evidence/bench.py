#!/usr/bin/env python3
"""The "full keystone" workload with the algovoi reference packages (one thread).

Same inputs as `lockstep evidence bench` (docs/evidence.md, "Speed"); prints
{iterations, seconds, keystones_per_sec, last} with the refs of the last iteration.
"""
import json
import sys
import time

from algovoi_agent_passport_lite import passport_ref
from algovoi_payment_mandate_lite import mandate_ref
from algovoi_policy_binding import policy_bound_ref, policy_ref
from algovoi_execution_ref import decision_ref, execution_ref, execution_binding, trust_query_ref
from algovoi_settlement_attestation import build_settlement_attestation
from algovoi_pef_keystone import evidence_frame, audit_chain_of_frames
from algovoi_substrate import sha256_jcs

PROVIDER = "did:web:lockstep.local"
POLICY = {"policy_id": "aml.transfer", "version": 1}


def full_keystone(i):
    p = passport_ref(agent_id=f"agent-{i}", issuer="did:algo:issuer", scope="payments",
                     validity_window="2026-06-21/2026-09-21")
    m = mandate_ref(payer="0x00000000000000000000000000000000DEADBEEF", cap="1000",
                    period="monthly", revocation_state="active")
    pol = policy_ref(POLICY)
    pb = policy_bound_ref(subject_ref=m, policy_ref=pol)
    d = decision_ref(p, m, pb, "ALLOW")
    t = 1716460800000 + i
    e = execution_ref(d, "payment", "bilateral", "COMMITTED", t)
    tq = trust_query_ref([p, m, pb, d, e], "TRUSTED")
    receipt = build_settlement_attestation(
        settled_payment_ref=e, settlement_result="SETTLED", settlement_timestamp_ms=t + 1000,
        settlement_provider_did=PROVIDER,
        settlement_amount={"amount_minor": "100000", "asset_id": "USDC.6"},
        settlement_chain="eip155:1", jurisdiction_flags=["UK", "EU"])
    content_hash = sha256_jcs(receipt)
    s = "sha256:" + content_hash
    row = {"content_hash": content_hash, "prev_hash": "0" * 64, "row_number": 1}
    rc = "sha256:" + sha256_jcs(row)
    b = execution_binding(e, s, rc)
    exec_preimage = {"decision_ref": d, "action_type": "payment", "scope": "bilateral",
                     "outcome": "COMMITTED", "executed_at_ms": t}
    f1 = evidence_frame(claim_type="payment_execution", receipt_format="execution-ref-v1",
                        receipt=exec_preimage, frame_provider_did=PROVIDER, frame_timestamp_ms=t)
    f2 = evidence_frame(claim_type="payment_settlement", receipt_format="settlement-attestation-v1",
                        receipt=dict(receipt), frame_provider_did=PROVIDER,
                        frame_timestamp_ms=t + 1000)
    chain = audit_chain_of_frames([f1["frame_id"], f2["frame_id"]], "TRUSTED")
    return {
        "passport_ref": p, "mandate_ref": m, "policy_ref": pol, "policy_bound_ref": pb,
        "decision_ref": d, "execution_ref": e, "trust_query_ref": tq, "settlement_ref": s,
        "retention_chain_ref": rc, "binding_ref": b,
        "execution_frame_id": f1["frame_id"], "settlement_frame_id": f2["frame_id"],
        "row_hashes": [r["row_hash"] for r in chain["rows"]], "cap": chain["cap"],
    }


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
    start = time.perf_counter()
    last = None
    for i in range(n):
        last = full_keystone(i)
    seconds = time.perf_counter() - start
    print(json.dumps({"iterations": n, "seconds": seconds,
                      "keystones_per_sec": n / seconds, "last": last}))


if __name__ == "__main__":
    main()
