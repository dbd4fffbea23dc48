// The "full keystone" workload with the `canonicalize` npm package (RFC 8785) and
// node:crypto, one thread. Same inputs as `lockstep evidence bench`; prints
// {iterations, seconds, keystones_per_sec, last}.
import { createHash } from "node:crypto";
import canonicalize from "canonicalize";

const PROVIDER = "did:web:lockstep.local";
const URN = "urn:x402:canonicalisation:jcs-rfc8785-v1";
const bare = (o) => createHash("sha256").update(canonicalize(o), "utf8").digest("hex");
const ref = (o) => "sha256:" + bare(o);

function frame(claim_type, receipt_format, receipt, frame_timestamp_ms) {
  const receipt_hash = ref(receipt);
  const preimage = {
    canon_version: URN, claim_type, frame_provider_did: PROVIDER, frame_timestamp_ms,
    pef_version: "1", receipt, receipt_format, receipt_hash,
  };
  return { frame_id: ref(preimage), receipt_hash, preimage };
}

function fullKeystone(i) {
  const p = ref({ agent_id: `agent-${i}`, issuer: "did:algo:issuer", scope: "payments",
    validity_window: "2026-06-21/2026-09-21" });
  const m = ref({ payer: "0x00000000000000000000000000000000DEADBEEF", cap: "1000",
    period: "monthly", revocation_state: "active" });
  const pol = ref({ policy_id: "aml.transfer", version: 1 });
  const pb = ref({ policy_ref: pol, subject_ref: m });
  const d = ref({ agent_ref: p, mandate_ref: m, policy_bound_ref: pb, verdict: "ALLOW" });
  const t = 1716460800000 + i;
  const execution = { decision_ref: d, action_type: "payment", scope: "bilateral",
    outcome: "COMMITTED", executed_at_ms: t };
  const e = ref(execution);
  const tq = ref({ subject_refs: [p, m, pb, d, e], trust_outcome: "TRUSTED" });
  const receipt = { canon_version: "jcs-rfc8785-v1", jurisdiction_flags: ["UK", "EU"],
    settled_payment_ref: e, settlement_amount: { amount_minor: "100000", asset_id: "USDC.6" },
    settlement_chain: "eip155:1", settlement_provider_did: PROVIDER,
    settlement_result: "SETTLED", settlement_timestamp_ms: t + 1000 };
  const contentHash = bare(receipt);
  const s = "sha256:" + contentHash;
  const rc = ref({ content_hash: contentHash, prev_hash: "0".repeat(64), row_number: 1 });
  const b = ref({ execution_ref: e, settlement_ref: s, retention_chain_ref: rc });
  const f1 = frame("payment_execution", "execution-ref-v1", execution, t);
  const f2 = frame("payment_settlement", "settlement-attestation-v1", receipt, t + 1000);
  const ids = [f1.frame_id, f2.frame_id];
  const rows = [];
  let prev = "0".repeat(64);
  ids.forEach((fid, k) => {
    const h = bare({ content_hash: fid, prev_hash: prev, row_number: k + 1 });
    rows.push(h);
    prev = h;
  });
  const cap = ref({ subject_refs: ids, trust_outcome: "TRUSTED" });
  return { passport_ref: p, mandate_ref: m, policy_ref: pol, policy_bound_ref: pb,
    decision_ref: d, execution_ref: e, trust_query_ref: tq, settlement_ref: s,
    retention_chain_ref: rc, binding_ref: b, execution_frame_id: f1.frame_id,
    settlement_frame_id: f2.frame_id, row_hashes: rows, cap };
}

const n = Number(process.argv[2] ?? 20000);
const start = process.hrtime.bigint();
let last = null;
for (let i = 0; i < n; i++) last = fullKeystone(i);
const seconds = Number(process.hrtime.bigint() - start) / 1e9;
console.log(JSON.stringify({ iterations: n, seconds, keystones_per_sec: n / seconds, last }));
