#!/usr/bin/env python3
"""Recompute every ref of the bundle vectors with the algovoi reference packages.

Usage (with the venv that bench/evidence/run sets up):
    ~/.cache/lockstep/bench-evidence-venv/bin/python bench/evidence/crosscheck_bundles.py
Exits non-zero and names the first ref that the reference packages compute differently.
"""
import json
import pathlib
import sys

from algovoi_agent_passport_lite import passport_ref
from algovoi_execution_ref import decision_ref, execution_binding, execution_ref, trust_query_ref
from algovoi_payment_mandate_lite import mandate_ref
from algovoi_pef_keystone import verify_audit_chain, verify_frame
from algovoi_policy_binding import policy_bound_ref, policy_ref
from algovoi_refund_receipt_lite import refund_ref
from algovoi_substrate import sha256_jcs

ROOT = pathlib.Path(__file__).resolve().parents[2] / "vectors" / "bundles"


def check(name):
    b = json.loads((ROOT / f"{name}.bundle.json").read_text())
    d = b["decision"]
    checks = [
        ("frames", all(verify_frame(f) for f in b["frames"])),
        ("audit_chain", verify_audit_chain(b["audit_chain"], [f["frame_id"] for f in b["frames"]])),
        ("policy_ref", policy_ref(b["facts"]["decision"]["policy"]) == d["policy_ref"]),
        ("policy_bound_ref", policy_bound_ref(subject_ref=d["terms_ref"], policy_ref=d["policy_ref"]) == d["policy_bound_ref"]),
        ("decision_ref", trust_query_ref(**d["settlement_decision"]) == d["decision_ref"]),
    ]
    for i, p in enumerate(d["parties"]):
        checks += [
            (f"parties[{i}].passport_ref", passport_ref(**p["passport"]) == p["passport_ref"]),
            (f"parties[{i}].mandate_ref", mandate_ref(**p["mandate"]) == p["mandate_ref"]),
            (f"parties[{i}].decision_ref", decision_ref(p["passport_ref"], p["mandate_ref"], d["policy_bound_ref"], p["decision"]["verdict"]) == p["decision_ref"]),
        ]
    for i, leg in enumerate(b["legs"]):
        checks += [
            (f"legs[{i}].execution_ref", execution_ref(**leg["execution"]) == leg["execution_ref"]),
            (f"legs[{i}].settlement_ref", "sha256:" + sha256_jcs(leg["settlement_receipt"]) == leg["settlement_ref"]),
            (f"legs[{i}].retention_chain_ref", "sha256:" + sha256_jcs(leg["retention_row"]) == leg["retention_chain_ref"]),
            (f"legs[{i}].binding_ref", execution_binding(**leg["binding"]) == leg["binding_ref"]),
        ]
        if "refund" in leg:
            checks.append((f"legs[{i}].refund_ref", refund_ref(**leg["refund"]) == leg["refund_ref"]))
    for what, ok in checks:
        if not ok:
            sys.exit(f"{name}: {what} differs from the reference packages")
    print(f"{name}: {len(checks)} checks agree with the reference packages")


for n in ("settled", "refunded", "denied"):
    check(n)
