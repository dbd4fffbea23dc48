//! The Keystone chain: passport → mandate → policy binding → decision → execution →
//! trust query, byte-compatible with `algovoi-execution-ref` and the `*-lite` packages.

use crate::construct::{ObjWriter, closed_enum, inherent_reference, nonempty, safe_uint};
use crate::fields::Fields;
use crate::{Error, Preimage, Ref, Result};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// `canon_version` of receipts and keystone records.
pub const CANON_VERSION: &str = "jcs-rfc8785-v1";

/// Agent identity: `passport_ref = ref({agent_id, issuer, scope, validity_window})`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Passport {
    /// Agent identifier.
    pub agent_id: String,
    /// Issuer (a DID or URN).
    pub issuer: String,
    /// What the agent may do.
    pub scope: String,
    /// `"<start>/<end>"`.
    pub validity_window: String,
}

impl Preimage for Passport {
    fn validate(&self) -> Result<()> {
        nonempty("agent_id", &self.agent_id)?;
        nonempty("issuer", &self.issuer)?;
        nonempty("scope", &self.scope)?;
        nonempty("validity_window", &self.validity_window)
    }
    fn write_canonical(&self, out: &mut Vec<u8>) {
        let mut o = ObjWriter::begin(out);
        o.str("agent_id", &self.agent_id);
        o.str("issuer", &self.issuer);
        o.str("scope", &self.scope);
        o.str("validity_window", &self.validity_window);
        o.end();
    }
}

impl Passport {
    /// Reads a passport preimage from strict JSON (exact keys).
    pub fn from_json(path: &str, v: &Value) -> Result<Passport> {
        let mut f = Fields::new(path, v)?;
        let p = Passport {
            agent_id: f.string("agent_id")?,
            issuer: f.string("issuer")?,
            scope: f.string("scope")?,
            validity_window: f.string("validity_window")?,
        };
        f.finish()?;
        Ok(p)
    }
}

/// Spend authority: `mandate_ref = ref({cap, payer, period, revocation_state})`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mandate {
    /// The cap, as a string (money is never a JSON number).
    pub cap: String,
    /// Who pays (a wallet).
    pub payer: String,
    /// The cap's period (`"single"` for a DvP instruction).
    pub period: String,
    /// `"active"` or `"revoked"` (free-form in the corpus, non-empty).
    pub revocation_state: String,
}

impl Preimage for Mandate {
    fn validate(&self) -> Result<()> {
        nonempty("cap", &self.cap)?;
        nonempty("payer", &self.payer)?;
        nonempty("period", &self.period)?;
        nonempty("revocation_state", &self.revocation_state)
    }
    fn write_canonical(&self, out: &mut Vec<u8>) {
        let mut o = ObjWriter::begin(out);
        o.str("cap", &self.cap);
        o.str("payer", &self.payer);
        o.str("period", &self.period);
        o.str("revocation_state", &self.revocation_state);
        o.end();
    }
}

impl Mandate {
    /// Reads a mandate preimage from strict JSON (exact keys).
    pub fn from_json(path: &str, v: &Value) -> Result<Mandate> {
        let mut f = Fields::new(path, v)?;
        let m = Mandate {
            cap: f.string("cap")?,
            payer: f.string("payer")?,
            period: f.string("period")?,
            revocation_state: f.string("revocation_state")?,
        };
        f.finish()?;
        Ok(m)
    }
}

/// `policy_ref = ref(policy document)`; the document must be a JSON object.
pub fn policy_ref(policy: &Value) -> Result<Ref> {
    if !policy.is_object() {
        return Err(Error::WrongType {
            field: "policy".into(),
            expected: "object",
            found: crate::fields::type_name(policy),
        });
    }
    crate::ref_of(policy)
}

/// `policy_bound_ref = ref({policy_ref, subject_ref})`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyBinding {
    /// The policy in force.
    pub policy_ref: Ref,
    /// What it is bound to.
    pub subject_ref: Ref,
}

impl Preimage for PolicyBinding {
    fn validate(&self) -> Result<()> {
        Ok(())
    }
    fn write_canonical(&self, out: &mut Vec<u8>) {
        let mut o = ObjWriter::begin(out);
        o.reference("policy_ref", &self.policy_ref);
        o.reference("subject_ref", &self.subject_ref);
        o.end();
    }
}

impl PolicyBinding {
    /// Reads a policy binding preimage from strict JSON.
    pub fn from_json(path: &str, v: &Value) -> Result<PolicyBinding> {
        let mut f = Fields::new(path, v)?;
        let b = PolicyBinding {
            policy_ref: f.reference("policy_ref")?,
            subject_ref: f.reference("subject_ref")?,
        };
        f.finish()?;
        Ok(b)
    }
}

closed_enum!(
    /// The decision verdict.
    Verdict, "verdict" {
        /// Cleared.
        Allow => "ALLOW",
        /// Failed.
        Deny => "DENY",
        /// Flagged for review.
        Refer => "REFER",
    }
);

/// `decision_ref = ref({agent_ref, mandate_ref, policy_bound_ref, verdict})`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    /// The passport ref of the agent the decision was made for.
    pub agent_ref: Ref,
    /// The mandate it was checked against.
    pub mandate_ref: Ref,
    /// The policy in force, bound to its subject.
    pub policy_bound_ref: Ref,
    /// The verdict.
    pub verdict: Verdict,
}

impl Preimage for Decision {
    fn validate(&self) -> Result<()> {
        Ok(())
    }
    fn write_canonical(&self, out: &mut Vec<u8>) {
        let mut o = ObjWriter::begin(out);
        o.reference("agent_ref", &self.agent_ref);
        o.reference("mandate_ref", &self.mandate_ref);
        o.reference("policy_bound_ref", &self.policy_bound_ref);
        o.str("verdict", self.verdict.as_str());
        o.end();
    }
}

impl Decision {
    /// Reads a decision preimage from strict JSON.
    pub fn from_json(path: &str, v: &Value) -> Result<Decision> {
        let mut f = Fields::new(path, v)?;
        let d = Decision {
            agent_ref: f.reference("agent_ref")?,
            mandate_ref: f.reference("mandate_ref")?,
            policy_bound_ref: f.reference("policy_bound_ref")?,
            verdict: Verdict::parse_field(&f.path("verdict"), &f.string("verdict")?)?,
        };
        f.finish()?;
        Ok(d)
    }
}

closed_enum!(
    /// What happened to the authorised action.
    Outcome, "outcome" {
        /// Executed.
        Committed => "COMMITTED",
        /// Not attempted.
        Skipped => "SKIPPED",
        /// Attempted and failed.
        Failed => "FAILED",
        /// Executed, then unwound (refunded).
        Reversed => "REVERSED",
    }
);

/// `execution_ref = ref({decision_ref, action_type, scope, outcome, executed_at_ms})`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Execution {
    /// The decision that authorised the action.
    pub decision_ref: Ref,
    /// What kind of action (`payment`, `dvp_settlement`, ...).
    pub action_type: String,
    /// Its scope (`bilateral`, ...).
    pub scope: String,
    /// The outcome.
    pub outcome: Outcome,
    /// When, in epoch milliseconds (a JSON integer).
    pub executed_at_ms: u64,
}

impl Preimage for Execution {
    fn validate(&self) -> Result<()> {
        nonempty("action_type", &self.action_type)?;
        nonempty("scope", &self.scope)?;
        safe_uint("executed_at_ms", self.executed_at_ms)
    }
    fn write_canonical(&self, out: &mut Vec<u8>) {
        let mut o = ObjWriter::begin(out);
        o.str("action_type", &self.action_type);
        o.reference("decision_ref", &self.decision_ref);
        o.uint("executed_at_ms", self.executed_at_ms);
        o.str("outcome", self.outcome.as_str());
        o.str("scope", &self.scope);
        o.end();
    }
}

impl Execution {
    /// Reads an execution preimage from strict JSON.
    pub fn from_json(path: &str, v: &Value) -> Result<Execution> {
        let mut f = Fields::new(path, v)?;
        let e = Execution {
            decision_ref: f.reference("decision_ref")?,
            action_type: f.string("action_type")?,
            scope: f.string("scope")?,
            outcome: Outcome::parse_field(&f.path("outcome"), &f.string("outcome")?)?,
            executed_at_ms: f.uint("executed_at_ms")?,
        };
        f.finish()?;
        Ok(e)
    }
}

closed_enum!(
    /// The categorical outcome of a composite trust query.
    TrustOutcome, "trust_outcome" {
        /// Trusted.
        Trusted => "TRUSTED",
        /// Provisionally trusted.
        Provisional => "PROVISIONAL",
        /// Not enough evidence.
        InsufficientEvidence => "INSUFFICIENT_EVIDENCE",
        /// Not trusted.
        Untrusted => "UNTRUSTED",
    }
);

/// `trust_query_ref = ref({subject_refs, trust_outcome})`; order is load-bearing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrustQuery {
    /// The assessed references, in order (non-empty).
    pub subject_refs: Vec<Ref>,
    /// The verdict.
    pub trust_outcome: TrustOutcome,
}

impl Preimage for TrustQuery {
    fn validate(&self) -> Result<()> {
        if self.subject_refs.is_empty() {
            return Err(Error::rule("subject_refs", "must be a non-empty list"));
        }
        Ok(())
    }
    fn write_canonical(&self, out: &mut Vec<u8>) {
        write_trust_query(out, &self.subject_refs, self.trust_outcome);
    }
}

pub(crate) fn write_trust_query(out: &mut Vec<u8>, refs: &[Ref], outcome: TrustOutcome) {
    let mut o = ObjWriter::begin(out);
    let a = o.key("subject_refs");
    a.push(b'[');
    for (i, r) in refs.iter().enumerate() {
        if i > 0 {
            a.push(b',');
        }
        a.push(b'"');
        a.extend_from_slice(r.as_bytes());
        a.push(b'"');
    }
    a.push(b']');
    o.str("trust_outcome", outcome.as_str());
    o.end();
}

impl TrustQuery {
    /// Reads a trust query preimage from strict JSON.
    pub fn from_json(path: &str, v: &Value) -> Result<TrustQuery> {
        let mut f = Fields::new(path, v)?;
        let p = f.path("subject_refs");
        let arr = f.array("subject_refs")?;
        let subject_refs = refs_from_json(&p, arr)?;
        let t = TrustQuery {
            subject_refs,
            trust_outcome: TrustOutcome::parse_field(
                &f.path("trust_outcome"),
                &f.string("trust_outcome")?,
            )?,
        };
        f.finish()?;
        t.validate()?;
        Ok(t)
    }
}

pub(crate) fn refs_from_json(path: &str, arr: &[Value]) -> Result<Vec<Ref>> {
    arr.iter()
        .enumerate()
        .map(|(i, v)| {
            let p = format!("{path}[{i}]");
            Ref::parse_field(&p, &crate::fields::as_string(&p, v)?)
        })
        .collect()
}

inherent_reference!(
    Passport,
    Mandate,
    PolicyBinding,
    Decision,
    Execution,
    TrustQuery
);

/// The inputs of `bind_keystone`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeystoneInput {
    /// Passport ref (the decision's `agent_ref`).
    pub passport_ref: Ref,
    /// Mandate ref.
    pub mandate_ref: Ref,
    /// Policy-bound ref.
    pub policy_bound_ref: Ref,
    /// The verdict.
    pub verdict: Verdict,
    /// Execution action type.
    pub action_type: String,
    /// Execution scope.
    pub scope: String,
    /// Execution outcome.
    pub outcome: Outcome,
    /// Execution time, epoch ms.
    pub executed_at_ms: u64,
    /// Trust verdict over the whole chain.
    pub trust_outcome: TrustOutcome,
}

impl KeystoneInput {
    /// Reads the input from strict JSON (exact keys).
    pub fn from_json(path: &str, v: &Value) -> Result<KeystoneInput> {
        let mut f = Fields::new(path, v)?;
        let k = KeystoneInput {
            passport_ref: f.reference("passport_ref")?,
            mandate_ref: f.reference("mandate_ref")?,
            policy_bound_ref: f.reference("policy_bound_ref")?,
            verdict: Verdict::parse_field(&f.path("verdict"), &f.string("verdict")?)?,
            action_type: f.string("action_type")?,
            scope: f.string("scope")?,
            outcome: Outcome::parse_field(&f.path("outcome"), &f.string("outcome")?)?,
            executed_at_ms: f.uint("executed_at_ms")?,
            trust_outcome: TrustOutcome::parse_field(
                &f.path("trust_outcome"),
                &f.string("trust_outcome")?,
            )?,
        };
        f.finish()?;
        Ok(k)
    }
}

/// The whole keystone record, as `algovoi_execution_ref.bind_keystone` returns it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeystoneRecord {
    /// Always `jcs-rfc8785-v1`.
    pub canon_version: String,
    /// Always `execution_keystone`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Input.
    pub passport_ref: Ref,
    /// Input.
    pub mandate_ref: Ref,
    /// Input.
    pub policy_bound_ref: Ref,
    /// Input.
    pub verdict: Verdict,
    /// Computed.
    pub decision_ref: Ref,
    /// Input.
    pub action_type: String,
    /// Input.
    pub scope: String,
    /// Input.
    pub outcome: Outcome,
    /// Input.
    pub executed_at_ms: u64,
    /// Computed.
    pub execution_ref: Ref,
    /// Input.
    pub trust_outcome: TrustOutcome,
    /// Computed: the record's content address.
    pub trust_query_ref: Ref,
    /// `[passport, mandate, policy_bound, decision, execution]`.
    pub chain: Vec<Ref>,
}

/// Binds an execution to the full keystone (`bind_keystone`).
pub fn bind_keystone(k: &KeystoneInput) -> Result<KeystoneRecord> {
    let decision_ref = Decision {
        agent_ref: k.passport_ref,
        mandate_ref: k.mandate_ref,
        policy_bound_ref: k.policy_bound_ref,
        verdict: k.verdict,
    }
    .reference()?;
    let execution_ref = Execution {
        decision_ref,
        action_type: k.action_type.clone(),
        scope: k.scope.clone(),
        outcome: k.outcome,
        executed_at_ms: k.executed_at_ms,
    }
    .reference()?;
    let chain = vec![
        k.passport_ref,
        k.mandate_ref,
        k.policy_bound_ref,
        decision_ref,
        execution_ref,
    ];
    let trust_query_ref = TrustQuery {
        subject_refs: chain.clone(),
        trust_outcome: k.trust_outcome,
    }
    .reference()?;
    Ok(KeystoneRecord {
        canon_version: CANON_VERSION.into(),
        kind: "execution_keystone".into(),
        passport_ref: k.passport_ref,
        mandate_ref: k.mandate_ref,
        policy_bound_ref: k.policy_bound_ref,
        verdict: k.verdict,
        decision_ref,
        action_type: k.action_type.clone(),
        scope: k.scope.clone(),
        outcome: k.outcome,
        executed_at_ms: k.executed_at_ms,
        execution_ref,
        trust_outcome: k.trust_outcome,
        trust_query_ref,
        chain,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn r(s: &str) -> Ref {
        s.parse().unwrap()
    }

    #[test]
    fn golden_keystone_chain() {
        let passport = Passport {
            agent_id: "agent-001".into(),
            issuer: "did:algo:issuer".into(),
            scope: "payments".into(),
            validity_window: "2026-06-21/2026-09-21".into(),
        };
        let mandate = Mandate {
            cap: "1000".into(),
            payer: "0x00000000000000000000000000000000DEADBEEF".into(),
            period: "monthly".into(),
            revocation_state: "active".into(),
        };
        let p = passport.reference().unwrap();
        let m = mandate.reference().unwrap();
        assert_eq!(
            p,
            r("sha256:b3594e33998af01bd1ad208172c5c1ac586daa8c75781379f034d97e50b1a9be")
        );
        assert_eq!(
            m,
            r("sha256:a4f8cb5ee09b29478ac1cc2f468d66e16d3d25f7a229a31d22ad521e11d04d35")
        );
        let rec = bind_keystone(&KeystoneInput {
            passport_ref: p,
            mandate_ref: m,
            policy_bound_ref: r(
                "sha256:aaee2091799f376ee8cac802ea4920feaa4eca52950488a3e047ff82e6959a21",
            ),
            verdict: Verdict::Allow,
            action_type: "payment".into(),
            scope: "bilateral".into(),
            outcome: Outcome::Committed,
            executed_at_ms: 1_716_460_800_000,
            trust_outcome: TrustOutcome::Trusted,
        })
        .unwrap();
        assert_eq!(
            rec.decision_ref,
            r("sha256:2a444c629892f44fde1bd004aba9be01dd6cc7fe251eecdd545b82dca9f0bf97")
        );
        assert_eq!(
            rec.execution_ref,
            r("sha256:f6e2bfc15b085ed51c4c972de81d1c6b00f4e55b272e2aa12e56bb7c521fc65a")
        );
        assert_eq!(
            rec.trust_query_ref,
            r("sha256:18fb601a08c71eb6bed11e1c117f33bdc0ada6d635ea9bb9cca15e8410ce7ebd")
        );
    }
}
