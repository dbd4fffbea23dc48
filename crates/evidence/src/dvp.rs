//! The compliance decision of a DvP settlement, mapped onto the Keystone
//! (docs/evidence.md, "Our mapping").
//!
//! Per party: a passport (who, under which platform, in which role, for which window)
//! and a mandate (what its instruction authorised it to deliver). Once per settlement:
//! `policy_ref` (template + screening policy) bound to `terms_ref` (the matched terms).
//! Per party a Keystone decision; the settlement-level `decision_ref` is the corpus'
//! composite trust query over the per-party decisions, in party order, with the trust
//! outcome that the verdict maps to. Its digest is the on-chain `decisionRef`.
//!
//! A settlement has from two ([`MIN_PARTIES`]) to [`MAX_PARTIES`] parties; a party that
//! delivers several legs appears once per delivered leg (same passport, one mandate per
//! leg). Two single-leg parties give exactly the two-party format (the vectors).

use crate::fields::Fields;
use crate::keystone::{
    Decision, Mandate, Passport, PolicyBinding, TrustOutcome, TrustQuery, Verdict, policy_ref,
};
use crate::{Error, Ref, Result};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// What one party delivers into the settlement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    /// Exact quantity, a decimal string in the instrument's base units.
    pub quantity: String,
    /// The instrument (e.g. `eip155:1/erc20:0x…` or a platform asset id).
    pub instrument: String,
}

/// One party of a DvP settlement, as the coordinator knows it at compliance time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DvpParty {
    /// Platform id (`did:…`/`urn:…` kept as is, otherwise `urn:lockstep:platform:<id>`).
    pub platform: String,
    /// The platform's reference for the instruction.
    pub external_reference: String,
    /// Role in the trade (e.g. `buyer`, `seller`).
    pub role: String,
    /// The wallet that deposits.
    pub wallet: String,
    /// What the party delivers.
    pub delivers: Delivery,
    /// When the instruction was created, epoch ms.
    pub created_at_ms: u64,
    /// When the settlement times out, epoch ms.
    pub timeout_at_ms: u64,
}

/// Fewest parties of a settlement decision.
pub const MIN_PARTIES: usize = 2;
/// Most parties of a settlement decision: one per leg of the escrow's 32-leg limit.
pub const MAX_PARTIES: usize = 32;

/// The input of [`settlement_decision`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DvpDecisionInput {
    /// The parties (2 to 32), in the settlement's party order (A, B, then the others).
    pub parties: Vec<DvpParty>,
    /// The matched terms (a JSON object); `terms_ref = ref(terms)`.
    pub terms: Value,
    /// The template and screening policy in force (a JSON object).
    pub policy: Value,
    /// The compliance verdict: ALLOW cleared, REFER flagged, DENY failed.
    pub verdict: Verdict,
}

/// One party's share of the decision: every preimage and ref.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartyDecision {
    /// Passport preimage.
    pub passport: Passport,
    /// `ref(passport)`.
    pub passport_ref: Ref,
    /// Mandate preimage.
    pub mandate: Mandate,
    /// `ref(mandate)`.
    pub mandate_ref: Ref,
    /// Decision preimage.
    pub decision: Decision,
    /// `ref(decision)`.
    pub decision_ref: Ref,
}

/// The compliance decision of a settlement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DvpDecision {
    /// Per-party evidence, in party order.
    pub parties: Vec<PartyDecision>,
    /// `ref(terms)`.
    pub terms_ref: Ref,
    /// `ref(policy)`.
    pub policy_ref: Ref,
    /// `{policy_ref, subject_ref: terms_ref}`.
    pub policy_binding: PolicyBinding,
    /// `ref(policy_binding)`.
    pub policy_bound_ref: Ref,
    /// The verdict.
    pub verdict: Verdict,
    /// `{subject_refs: [decision_ref A, decision_ref B, ...], trust_outcome}`.
    pub settlement_decision: TrustQuery,
    /// `ref(settlement_decision)`: the one settlement-level decision ref (on-chain
    /// `decisionRef` = its digest).
    pub decision_ref: Ref,
}

/// The trust outcome a compliance verdict maps to in the settlement decision.
pub fn verdict_trust_outcome(v: Verdict) -> TrustOutcome {
    match v {
        Verdict::Allow => TrustOutcome::Trusted,
        Verdict::Refer => TrustOutcome::Provisional,
        Verdict::Deny => TrustOutcome::Untrusted,
    }
}

/// The issuer a platform id maps to: DIDs and URNs unchanged, anything else
/// `urn:lockstep:platform:<id>`.
pub fn platform_issuer(platform: &str) -> String {
    if platform.starts_with("did:") || platform.starts_with("urn:") {
        platform.to_owned()
    } else {
        format!("urn:lockstep:platform:{platform}")
    }
}

/// The passport of a party.
pub fn party_passport(p: &DvpParty) -> Passport {
    Passport {
        agent_id: format!("{}:{}", p.platform, p.external_reference),
        issuer: platform_issuer(&p.platform),
        scope: p.role.clone(),
        validity_window: format!(
            "{}/{}",
            rfc3339_ms(p.created_at_ms),
            rfc3339_ms(p.timeout_at_ms)
        ),
    }
}

/// The mandate of a party: `cap = "<quantity> <instrument>"`.
pub fn party_mandate(p: &DvpParty) -> Mandate {
    Mandate {
        cap: format!("{} {}", p.delivers.quantity, p.delivers.instrument),
        payer: p.wallet.clone(),
        period: "single".into(),
        revocation_state: "active".into(),
    }
}

fn validate_party(i: usize, p: &DvpParty) -> Result<()> {
    let f = |name: &str| format!("parties[{i}].{name}");
    for (name, v) in [
        ("platform", &p.platform),
        ("external_reference", &p.external_reference),
        ("role", &p.role),
        ("wallet", &p.wallet),
        ("delivers.instrument", &p.delivers.instrument),
    ] {
        crate::construct::nonempty(&f(name), v)?;
    }
    let q = &p.delivers.quantity;
    if q.is_empty() || !q.bytes().all(|c| c.is_ascii_digit()) {
        return Err(Error::rule(
            f("delivers.quantity"),
            "must be a non-empty string of decimal digits",
        ));
    }
    crate::construct::safe_uint(&f("created_at_ms"), p.created_at_ms)?;
    crate::construct::safe_uint(&f("timeout_at_ms"), p.timeout_at_ms)?;
    if p.timeout_at_ms <= p.created_at_ms {
        return Err(Error::rule(
            f("timeout_at_ms"),
            "must be later than created_at_ms",
        ));
    }
    Ok(())
}

/// Computes every preimage and ref of a settlement's compliance decision.
pub fn settlement_decision(input: &DvpDecisionInput) -> Result<DvpDecision> {
    party_count("parties", input.parties.len())?;
    for (i, p) in input.parties.iter().enumerate() {
        validate_party(i, p)?;
    }
    if !input.terms.is_object() {
        return Err(Error::WrongType {
            field: "terms".into(),
            expected: "object",
            found: crate::fields::type_name(&input.terms),
        });
    }
    let terms_ref = crate::ref_of(&input.terms)?;
    let policy_ref = policy_ref(&input.policy)?;
    let policy_binding = PolicyBinding {
        policy_ref,
        subject_ref: terms_ref,
    };
    let policy_bound_ref = policy_binding.reference()?;
    let party = |p: &DvpParty| -> Result<PartyDecision> {
        let passport = party_passport(p);
        let passport_ref = passport.reference()?;
        let mandate = party_mandate(p);
        let mandate_ref = mandate.reference()?;
        let decision = Decision {
            agent_ref: passport_ref,
            mandate_ref,
            policy_bound_ref,
            verdict: input.verdict,
        };
        let decision_ref = decision.reference()?;
        Ok(PartyDecision {
            passport,
            passport_ref,
            mandate,
            mandate_ref,
            decision,
            decision_ref,
        })
    };
    let parties = input
        .parties
        .iter()
        .map(party)
        .collect::<Result<Vec<_>>>()?;
    for (j, later) in parties.iter().enumerate() {
        if let Some(i) = parties[..j]
            .iter()
            .position(|p| p.decision_ref == later.decision_ref)
        {
            return Err(Error::rule(
                format!("parties[{j}]"),
                format!("identical to parties[{i}]: a settlement needs distinct parties"),
            ));
        }
    }
    let settlement_decision = TrustQuery {
        subject_refs: parties.iter().map(|p| p.decision_ref).collect(),
        trust_outcome: verdict_trust_outcome(input.verdict),
    };
    let decision_ref = settlement_decision.reference()?;
    Ok(DvpDecision {
        parties,
        terms_ref,
        policy_ref,
        policy_binding,
        policy_bound_ref,
        verdict: input.verdict,
        settlement_decision,
        decision_ref,
    })
}

impl DvpParty {
    /// Reads a party from strict JSON (exact keys).
    pub fn from_json(path: &str, v: &Value) -> Result<DvpParty> {
        let mut f = Fields::new(path, v)?;
        let dp = f.path("delivers");
        let d = f.object("delivers")?;
        let mut df = Fields::new(&dp, d)?;
        let delivers = Delivery {
            quantity: df.string("quantity")?,
            instrument: df.string("instrument")?,
        };
        df.finish()?;
        let p = DvpParty {
            platform: f.string("platform")?,
            external_reference: f.string("external_reference")?,
            role: f.string("role")?,
            wallet: f.string("wallet")?,
            delivers,
            created_at_ms: f.uint("created_at_ms")?,
            timeout_at_ms: f.uint("timeout_at_ms")?,
        };
        f.finish()?;
        Ok(p)
    }
}

impl DvpDecisionInput {
    /// Reads the decision input from strict JSON (exact keys).
    pub fn from_json(path: &str, v: &Value) -> Result<DvpDecisionInput> {
        let mut f = Fields::new(path, v)?;
        let pp = f.path("parties");
        let list = f.array("parties")?;
        party_count(&pp, list.len())?;
        let parties = list
            .iter()
            .enumerate()
            .map(|(i, v)| DvpParty::from_json(&format!("{pp}[{i}]"), v))
            .collect::<Result<Vec<_>>>()?;
        let input = DvpDecisionInput {
            parties,
            terms: f.object("terms")?.clone(),
            policy: f.object("policy")?.clone(),
            verdict: Verdict::parse_field(&f.path("verdict"), &f.string("verdict")?)?,
        };
        f.finish()?;
        Ok(input)
    }
}

/// Refuses a party list shorter than [`MIN_PARTIES`] or longer than [`MAX_PARTIES`].
fn party_count(path: &str, n: usize) -> Result<()> {
    if (MIN_PARTIES..=MAX_PARTIES).contains(&n) {
        return Ok(());
    }
    Err(Error::rule(
        path,
        format!("must hold {MIN_PARTIES} to {MAX_PARTIES} parties, not {n}"),
    ))
}

/// Formats epoch milliseconds as RFC 3339 UTC with milliseconds
/// (`2026-06-21T00:00:00.000Z`).
pub fn rfc3339_ms(ms: u64) -> String {
    let secs = ms / 1000;
    let days = (secs / 86_400) as i64;
    let sod = secs % 86_400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        sod / 3600,
        (sod / 60) % 60,
        sod % 60,
        ms % 1000
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn party(role: &str, quantity: &str) -> DvpParty {
        DvpParty {
            platform: format!("plt_{role}"),
            external_reference: format!("ref-{role}"),
            role: role.into(),
            wallet: "0x70997970C51812dc3A010C7d01b50e0d17dc79C8".into(),
            delivers: Delivery {
                quantity: quantity.into(),
                instrument: "eip155:31337/erc20:0x5FbDB2315678afecb367f032d93F642f64180aa3".into(),
            },
            created_at_ms: 1_780_000_000_000,
            timeout_at_ms: 1_780_000_600_000,
        }
    }

    fn input(parties: Vec<DvpParty>) -> DvpDecisionInput {
        DvpDecisionInput {
            parties,
            terms: serde_json::json!({"trade_reference": "T-1"}),
            policy: serde_json::json!({"template": "dvp-fx"}),
            verdict: Verdict::Allow,
        }
    }

    #[test]
    fn three_parties_give_three_decisions_under_one_trust_query_in_party_order() {
        let three = input(vec![
            party("seller", "1000"),
            party("buyer", "500"),
            party("fx_provider", "450"),
        ]);
        let d = settlement_decision(&three).unwrap();
        assert_eq!(d.parties.len(), 3);
        let refs: Vec<Ref> = d.parties.iter().map(|p| p.decision_ref).collect();
        assert_eq!(d.settlement_decision.subject_refs, refs);
        assert_eq!(d.decision_ref, d.settlement_decision.reference().unwrap());
        // The first two parties' decisions do not depend on the third.
        let two = settlement_decision(&input(three.parties[..2].to_vec())).unwrap();
        assert_eq!(two.parties[..], d.parties[..2]);
        assert_ne!(two.decision_ref, d.decision_ref);
        // Strict JSON reads the same input back.
        let back = DvpDecisionInput::from_json("$", &serde_json::to_value(&three).unwrap());
        assert_eq!(back.unwrap(), three);
    }

    #[test]
    fn fewer_than_two_more_than_32_or_repeated_parties_are_refused() {
        let one = settlement_decision(&input(vec![party("seller", "1")])).unwrap_err();
        assert!(one.to_string().contains("2 to 32 parties, not 1"), "{one}");
        let many: Vec<DvpParty> = (0..33).map(|i| party("p", &i.to_string())).collect();
        let e = settlement_decision(&input(many)).unwrap_err();
        assert!(e.to_string().contains("not 33"), "{e}");
        let same = input(vec![party("a", "1"), party("b", "2"), party("a", "1")]);
        let e = settlement_decision(&same).unwrap_err();
        assert!(
            e.to_string().contains("parties[2]") && e.to_string().contains("parties[0]"),
            "{e}"
        );
        let json = serde_json::json!({"parties": [serde_json::to_value(party("a", "1")).unwrap()],
            "terms": {}, "policy": {}, "verdict": "ALLOW"});
        assert!(DvpDecisionInput::from_json("$", &json).is_err());
    }

    #[test]
    fn rfc3339_formats_known_instants() {
        assert_eq!(rfc3339_ms(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339_ms(1_716_460_800_000), "2024-05-23T10:40:00.000Z");
        assert_eq!(rfc3339_ms(951_782_400_123), "2000-02-29T00:00:00.123Z");
    }
}
