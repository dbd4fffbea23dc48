//! The "full keystone" workload shared by `lockstep evidence bench` and the criterion
//! benchmark: one complete lifecycle per iteration, all inputs fixed except `i`.

use crate::keystone::{
    Decision, Execution, Mandate, Outcome, Passport, PolicyBinding, TrustOutcome, TrustQuery,
    Verdict,
};
use crate::lifecycle::{
    ExecutionBinding, RetentionRow, SettlementAmount, SettlementReceipt, SettlementResult, genesis,
};
use crate::pef::{ClaimType, Frame, Scratch, audit_chain_refs_into};
use crate::{Preimage, Ref, Result};
use serde::Serialize;
use sha2::{Digest, Sha256};

/// The refs of one full keystone (printed as `last` by the bench).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FullKeystoneRefs {
    /// Passport.
    pub passport_ref: Ref,
    /// Mandate.
    pub mandate_ref: Ref,
    /// Policy.
    pub policy_ref: Ref,
    /// Policy bound to the mandate.
    pub policy_bound_ref: Ref,
    /// Decision.
    pub decision_ref: Ref,
    /// Execution.
    pub execution_ref: Ref,
    /// Trust query over the five refs.
    pub trust_query_ref: Ref,
    /// Settlement receipt.
    pub settlement_ref: Ref,
    /// Retention row.
    pub retention_chain_ref: Ref,
    /// Execution binding.
    pub binding_ref: Ref,
    /// Frame carrying the execution.
    pub execution_frame_id: Ref,
    /// Frame carrying the settlement receipt.
    pub settlement_frame_id: Ref,
    /// Row hashes of the audit chain (serialised bare).
    #[serde(serialize_with = "bare_pair")]
    pub row_hashes: [Ref; 2],
    /// Audit chain cap.
    pub cap: Ref,
}

fn bare_pair<S: serde::Serializer>(r: &[Ref; 2], s: S) -> std::result::Result<S::Ok, S::Error> {
    [r[0].bare(), r[1].bare()].serialize(s)
}

/// Reusable state for [`full_keystone`]: buffers and the preimages whose fixed members
/// are built once; each iteration only overwrites the members that change.
#[derive(Debug)]
pub struct BenchState {
    buf: Vec<u8>,
    scratch: Scratch,
    passport: Passport,
    mandate: Mandate,
    execution_frame: Frame<Execution>,
    settlement_frame: Frame<SettlementReceipt>,
    subject_refs: Vec<Ref>,
    row_hashes: Vec<Ref>,
}

const PROVIDER: &str = "did:web:lockstep.local";

impl Default for BenchState {
    fn default() -> BenchState {
        let zero = genesis();
        BenchState {
            buf: Vec::with_capacity(1024),
            scratch: Scratch::default(),
            passport: Passport {
                agent_id: String::with_capacity(32),
                issuer: "did:algo:issuer".into(),
                scope: "payments".into(),
                validity_window: "2026-06-21/2026-09-21".into(),
            },
            mandate: Mandate {
                cap: "1000".into(),
                payer: "0x00000000000000000000000000000000DEADBEEF".into(),
                period: "monthly".into(),
                revocation_state: "active".into(),
            },
            execution_frame: Frame {
                claim_type: ClaimType::PaymentExecution,
                receipt_format: "execution-ref-v1".into(),
                receipt: Execution {
                    decision_ref: zero,
                    action_type: "payment".into(),
                    scope: "bilateral".into(),
                    outcome: Outcome::Committed,
                    executed_at_ms: 0,
                },
                frame_provider_did: PROVIDER.into(),
                frame_timestamp_ms: 0,
            },
            settlement_frame: Frame {
                claim_type: ClaimType::PaymentSettlement,
                receipt_format: "settlement-attestation-v1".into(),
                receipt: SettlementReceipt {
                    canon_version: crate::keystone::CANON_VERSION.into(),
                    jurisdiction_flags: vec!["UK".into(), "EU".into()],
                    settled_payment_ref: zero,
                    settlement_amount: SettlementAmount {
                        amount_minor: "100000".into(),
                        asset_id: "USDC.6".into(),
                    },
                    settlement_chain: "eip155:1".into(),
                    settlement_provider_did: PROVIDER.into(),
                    settlement_result: SettlementResult::Settled,
                    settlement_timestamp_ms: 0,
                    settlement_round: None,
                },
                frame_provider_did: PROVIDER.into(),
                frame_timestamp_ms: 0,
            },
            subject_refs: Vec::with_capacity(5),
            row_hashes: Vec::with_capacity(2),
        }
    }
}

/// The fixed policy document `{"policy_id": "aml.transfer", "version": 1}`, written
/// canonically (a test checks these bytes equal `canonicalize` of the document).
pub const POLICY_CANONICAL: &[u8] = br#"{"policy_id":"aml.transfer","version":1}"#;

/// Computes one full keystone for index `i` (see docs/evidence.md, "Speed"): every
/// reference is serialised and hashed afresh; only allocations are reused.
pub fn full_keystone(i: u64, st: &mut BenchState) -> Result<FullKeystoneRefs> {
    let k = decide(i, st)?;
    let executed_at_ms = 1_716_460_800_000 + i;
    let execution_ref = execute(st, k.decision_ref, executed_at_ms)?;
    let trust_query_ref = trust_query(st, &k, execution_ref)?;
    let s = settle(st, execution_ref, executed_at_ms + 1000)?;
    let execution_frame = st.execution_frame.refs_with(&mut st.scratch)?;
    let settlement_frame = st.settlement_frame.refs_with(&mut st.scratch)?;
    let cap = audit_chain_refs_into(
        &[execution_frame.frame_id, settlement_frame.frame_id],
        TrustOutcome::Trusted,
        &mut st.buf,
        &mut st.row_hashes,
    )?;
    Ok(FullKeystoneRefs {
        passport_ref: k.passport_ref,
        mandate_ref: k.mandate_ref,
        policy_ref: k.policy_ref,
        policy_bound_ref: k.policy_bound_ref,
        decision_ref: k.decision_ref,
        execution_ref,
        trust_query_ref,
        settlement_ref: s.settlement_ref,
        retention_chain_ref: s.retention_chain_ref,
        binding_ref: s.binding_ref,
        execution_frame_id: execution_frame.frame_id,
        settlement_frame_id: settlement_frame.frame_id,
        row_hashes: [st.row_hashes[0], st.row_hashes[1]],
        cap,
    })
}

/// The refs up to the decision.
struct Decided {
    passport_ref: Ref,
    mandate_ref: Ref,
    policy_ref: Ref,
    policy_bound_ref: Ref,
    decision_ref: Ref,
}

/// Passport (`agent-<i>`), mandate, policy, policy binding and the ALLOW decision.
#[inline]
fn decide(i: u64, st: &mut BenchState) -> Result<Decided> {
    let buf = &mut st.buf;
    st.passport.agent_id.clear();
    st.passport.agent_id.push_str("agent-");
    let mut digits = itoa_buf(i);
    st.passport.agent_id.push_str(digits.as_str());
    let passport_ref = st.passport.reference_with(buf)?;
    let mandate_ref = st.mandate.reference_with(buf)?;
    let policy_ref = Ref::from_digest(Sha256::digest(POLICY_CANONICAL).into());
    let policy_bound_ref = PolicyBinding {
        policy_ref,
        subject_ref: mandate_ref,
    }
    .reference_with(buf)?;
    let decision_ref = Decision {
        agent_ref: passport_ref,
        mandate_ref,
        policy_bound_ref,
        verdict: Verdict::Allow,
    }
    .reference_with(buf)?;
    Ok(Decided {
        passport_ref,
        mandate_ref,
        policy_ref,
        policy_bound_ref,
        decision_ref,
    })
}

/// The execution of `decision_ref` at `executed_at_ms` (also the execution frame's time).
#[inline]
fn execute(st: &mut BenchState, decision_ref: Ref, executed_at_ms: u64) -> Result<Ref> {
    let ef = &mut st.execution_frame;
    ef.receipt.decision_ref = decision_ref;
    ef.receipt.executed_at_ms = executed_at_ms;
    ef.frame_timestamp_ms = executed_at_ms;
    ef.receipt.reference_with(&mut st.buf)
}

/// The TRUSTED trust query over passport, mandate, policy binding, decision and execution.
#[inline]
fn trust_query(st: &mut BenchState, k: &Decided, execution_ref: Ref) -> Result<Ref> {
    st.subject_refs.clear();
    st.subject_refs.extend_from_slice(&[
        k.passport_ref,
        k.mandate_ref,
        k.policy_bound_ref,
        k.decision_ref,
        execution_ref,
    ]);
    let tq = TrustQuery {
        subject_refs: std::mem::take(&mut st.subject_refs),
        trust_outcome: TrustOutcome::Trusted,
    };
    let trust_query_ref = tq.reference_with(&mut st.buf)?;
    st.subject_refs = tq.subject_refs;
    Ok(trust_query_ref)
}

/// The refs of the settlement.
struct Settled {
    settlement_ref: Ref,
    retention_chain_ref: Ref,
    binding_ref: Ref,
}

/// Settlement receipt of `execution_ref` at `settled_at_ms` (also the settlement frame's
/// time), its genesis retention row and the execution binding.
#[inline]
fn settle(st: &mut BenchState, execution_ref: Ref, settled_at_ms: u64) -> Result<Settled> {
    let buf = &mut st.buf;
    let sf = &mut st.settlement_frame;
    sf.receipt.settled_payment_ref = execution_ref;
    sf.receipt.settlement_timestamp_ms = settled_at_ms;
    sf.frame_timestamp_ms = settled_at_ms;
    let settlement_ref = sf.receipt.reference_with(buf)?;
    let retention_chain_ref = RetentionRow {
        content_hash: settlement_ref,
        prev_hash: genesis(),
        row_number: 1,
    }
    .reference_with(buf)?;
    let binding_ref = ExecutionBinding {
        execution_ref,
        settlement_ref,
        retention_chain_ref,
    }
    .reference_with(buf)?;
    Ok(Settled {
        settlement_ref,
        retention_chain_ref,
        binding_ref,
    })
}

/// Runs `n` full keystones and returns the refs of the last one (`None` when `n == 0`).
pub fn run(n: u64) -> Result<Option<FullKeystoneRefs>> {
    let mut st = BenchState::default();
    let mut last = None;
    for i in 0..n {
        last = Some(full_keystone(i, &mut st)?);
    }
    Ok(last)
}

/// Decimal digits of `v` without going through `fmt`.
struct Digits {
    buf: [u8; 20],
    start: usize,
}

impl Digits {
    fn as_str(&mut self) -> &str {
        std::str::from_utf8(&self.buf[self.start..]).unwrap_or("0")
    }
}

fn itoa_buf(mut v: u64) -> Digits {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    Digits { buf, start: i }
}
