//! The closing terms of a repo, fixed when the opening is created: the close's two
//! sides (each party with its legs reversed, the payment leg's quantity the repayment
//! amount), its trade reference and its window. Their ref (`sha256:` over the JCS form)
//! goes into the opening's decision evidence; the close is later registered from these
//! stored terms only, so it cannot be re-priced.

use super::fields::maturity_ms;
use crate::templates::RepoSpec;
use crate::trade::{
    Direction, InstructionBody, InstructionRequest, LegInput, LegType, Party, Role,
};
use crate::{Error, Result, rfc3339};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// `version` of [`ClosingTerms`].
pub const CLOSING_TERMS_VERSION: &str = "lockstep-repo-close/v1";

/// What the close will settle, fixed at opening (docs/evidence.md "Repo binding").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClosingTerms {
    /// `lockstep-repo-close/v1`.
    pub version: String,
    /// The opening settlement.
    pub parent_settlement_id: String,
    /// The opening's trade reference.
    pub parent_trade_reference: String,
    /// The close's trade reference: the opening's with `-CLOSE` appended (its on-chain
    /// settlement id is `keccak256` of it, like any trade reference's).
    pub trade_reference: String,
    /// The template (`repo`).
    pub settlement_type: String,
    /// The window opens (RFC 3339): the close is registered automatically from then on.
    pub maturity_at: String,
    /// The window closes (RFC 3339): the close's deadline, maturity plus the template's
    /// `close_window_secs`.
    pub timeout_at: String,
    /// The cash the close pays back (decimal base units).
    pub repayment_amount: String,
    /// The agreed rate as the instructions stated it (informational), or null.
    pub repo_rate: Option<String>,
    /// The opening's seller (collateral provider): now delivers the repayment and receives
    /// the securities back.
    pub seller: ClosingSide,
    /// The opening's buyer (cash provider): now delivers the securities and receives the
    /// repayment.
    pub buyer: ClosingSide,
}

/// One side of the close.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClosingSide {
    /// The party, as in its opening instruction.
    pub party: Party,
    /// Its opening legs reversed (the payment leg's quantity the repayment amount).
    pub legs: Vec<LegInput>,
}

/// A close fixed at opening: its terms, their ref and the maturity (epoch ms).
#[derive(Debug, Clone)]
pub struct FixedClose {
    /// The terms.
    pub terms: ClosingTerms,
    /// `sha256:<hex>` over their JCS form.
    pub terms_ref: String,
    /// `maturity_at`, epoch ms.
    pub maturity_ms: i64,
}

/// The close's trade reference for an opening's.
pub fn close_trade_reference(opening: &str) -> String {
    format!("{opening}-CLOSE")
}

/// `sha256:<hex>` over the JCS form of the closing terms.
pub fn terms_ref(terms: &ClosingTerms) -> Result<String> {
    let v = serde_json::to_value(terms)?;
    lockstep_evidence::ref_of(&v)
        .map(|r| r.as_str().to_string())
        .map_err(|e| Error::Corrupt {
            what: "closing terms",
            message: e.to_string(),
        })
}

/// A side's legs reversed: each direction flipped, the payment quantity `repayment`.
fn reversed(legs: &[LegInput], repayment: &str) -> Vec<LegInput> {
    legs.iter()
        .map(|l| LegInput {
            direction: match l.direction {
                Direction::Deliver => Direction::Receive,
                Direction::Receive => Direction::Deliver,
            },
            quantity: match l.leg_type {
                LegType::Payment => repayment.to_string(),
                LegType::AssetDelivery => l.quantity.clone(),
            },
            ..l.clone()
        })
        .collect()
}

/// The close of a new repo opening `sid` (trade reference `tr`) matched from `bodies`
/// (the two validated and matched instructions, either order); `None` when the template
/// is not a repo template.
pub fn fix(
    spec: Option<RepoSpec>,
    sid: &str,
    tr: &str,
    bodies: [&InstructionBody; 2],
) -> Result<Option<FixedClose>> {
    let Some(spec) = spec else { return Ok(None) };
    let bad = |m: &str| Error::Corrupt {
        what: "repo instruction",
        message: m.into(),
    };
    let by_role = |r: Role| bodies.iter().find(|b| b.role == r).copied();
    let (Some(seller), Some(buyer)) = (by_role(Role::Seller), by_role(Role::Buyer)) else {
        return Err(bad("a repo needs a seller and a buyer"));
    };
    let maturity = seller
        .maturity_at
        .as_deref()
        .and_then(maturity_ms)
        .ok_or_else(|| bad("no maturity_at"))?;
    let repayment = seller
        .repayment_amount
        .clone()
        .ok_or_else(|| bad("no repayment_amount"))?;
    let window = i64::try_from(spec.close_window_secs.saturating_mul(1000))
        .map_err(|_| bad("close window out of range"))?;
    let side = |b: &InstructionBody| ClosingSide {
        party: b.party.clone(),
        legs: reversed(&b.legs, &repayment),
    };
    let terms = ClosingTerms {
        version: CLOSING_TERMS_VERSION.into(),
        parent_settlement_id: sid.into(),
        parent_trade_reference: tr.into(),
        trade_reference: close_trade_reference(tr),
        settlement_type: seller.template_slug.clone(),
        maturity_at: rfc3339(maturity),
        timeout_at: rfc3339(maturity.saturating_add(window)),
        repayment_amount: repayment.clone(),
        repo_rate: seller.repo_rate.clone(),
        seller: side(seller),
        buyer: side(buyer),
    };
    Ok(Some(FixedClose {
        terms_ref: terms_ref(&terms)?,
        terms,
        maturity_ms: maturity,
    }))
}

/// Fixes the close of a new settlement `row` (not yet stored) of a repo template
/// (`spec`), matched from `bodies`: fills its repo columns (status `open`, maturity,
/// closing terms and their ref). Nothing for other templates.
pub fn fix_into(
    row: &mut crate::settlements::SettlementRow,
    spec: Option<RepoSpec>,
    bodies: [&InstructionBody; 2],
) -> Result<()> {
    let Some(close) = fix(spec, &row.id, &row.trade_reference, bodies)? else {
        return Ok(());
    };
    row.repo_status = super::StoredRepoStatus(Some(super::RepoStatus::Open));
    row.repo_maturity_at = Some(close.maturity_ms);
    row.closing_terms = Some(serde_json::to_string(&close.terms)?);
    row.closing_terms_ref = Some(close.terms_ref);
    Ok(())
}

/// The instruction a side of the close is registered with, on behalf of its platform:
/// the closing terms' party and legs, the close's trade reference and deadline; its
/// idempotency key is its own id (no platform can have used it).
pub fn close_instruction(terms: &ClosingTerms, role: Role, id: &str) -> InstructionBody {
    let side = match role {
        Role::Buyer => &terms.buyer,
        _ => &terms.seller,
    };
    InstructionRequest {
        idempotency_key: id.into(),
        template_slug: terms.settlement_type.clone(),
        role,
        party: side.party.clone(),
        legs: side.legs.clone(),
        timeout_at: terms.timeout_at.clone(),
        trade_reference: Some(terms.trade_reference.clone()),
        counterparty_platform_id: None,
        counterparty_platform_ids: None,
        maturity_at: None,
        repayment_amount: None,
        repo_rate: None,
    }
}

/// The repo member of a settlement's matched terms in its decision evidence
/// (docs/evidence.md "Repo binding"): `("repo", ...)` for an opening (maturity,
/// repayment, rate, the close's trade reference and `closing_terms_ref`), `("repo_close",
/// ...)` for a close (its opening, `closing_terms_ref` and the closing terms themselves);
/// `None` for any other settlement, whose evidence stays as it was.
pub fn evidence_member(
    s: &crate::settlements::SettlementRow,
) -> Result<Option<(&'static str, serde_json::Value)>> {
    let (Some(text), Some(reference)) = (&s.closing_terms, &s.closing_terms_ref) else {
        return Ok(None);
    };
    let terms: ClosingTerms = serde_json::from_str(text).map_err(|e| Error::Corrupt {
        what: "closing terms",
        message: e.to_string(),
    })?;
    Ok(Some(match &s.parent_settlement_id {
        None => (
            "repo",
            serde_json::json!({
                "maturity_at": terms.maturity_at,
                "repayment_amount": terms.repayment_amount,
                "repo_rate": terms.repo_rate,
                "closing_trade_reference": terms.trade_reference,
                "closing_terms_ref": reference,
            }),
        ),
        Some(parent) => (
            "repo_close",
            serde_json::json!({
                "parent_settlement_id": parent,
                "parent_trade_reference": terms.parent_trade_reference,
                "closing_terms_ref": reference,
                "closing_terms": terms,
            }),
        ),
    }))
}
