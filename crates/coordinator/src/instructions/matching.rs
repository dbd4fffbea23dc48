//! The matching rules (coordinator.md), checked in order; the first that fails is
//! reported with its machine-readable rule code. A message says which rule failed and
//! names only what both sides share (an instrument both list) or the submitter's own
//! values, never the waiting instruction's values (quantities, chains, other
//! instruments): the trade reference alone must not reveal the counterparty's terms.

use crate::trade::{InstructionBody, LegInput};
use crate::validate::parse_quantity;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Why two instructions do not match: a machine-readable rule code and a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct MatchFailure {
    /// `template_mismatch`, `same_role`, `instrument_mismatch`, `leg_type_mismatch`,
    /// `quantity_mismatch`, `direction_mismatch`, `chain_mismatch`, `same_platform`,
    /// `counterparty_mismatch` or `no_pending_counterpart`; multi-party templates also
    /// `duplicate_role` and `leftover_leg` (docs/coordinator.md "Multi-party matching");
    /// the repo template also `maturity_mismatch`, `repayment_mismatch` and
    /// `repo_rate_mismatch` (docs/coordinator.md "Repo").
    pub rule: String,
    /// Human explanation.
    pub message: String,
}

impl MatchFailure {
    /// A failure of `rule`.
    pub(crate) fn new(rule: &str, message: impl Into<String>) -> MatchFailure {
        MatchFailure {
            rule: rule.into(),
            message: message.into(),
        }
    }
}

fn fail(rule: &str, message: String) -> Result<(), MatchFailure> {
    Err(MatchFailure::new(rule, message))
}

/// One per-leg rule: the failure for a leg and its counterpart leg, if any.
type LegRule = fn(&LegInput, &LegInput) -> Result<(), MatchFailure>;

fn leg_type_rule(l: &LegInput, o: &LegInput) -> Result<(), MatchFailure> {
    if l.leg_type != o.leg_type {
        return fail(
            "leg_type_mismatch",
            format!(
                "instrument {}: the leg type differs from the waiting instruction's",
                o.instrument_id
            ),
        );
    }
    Ok(())
}

fn quantity_rule(l: &LegInput, o: &LegInput) -> Result<(), MatchFailure> {
    if parse_quantity(&l.quantity).ok() != parse_quantity(&o.quantity).ok() {
        return fail(
            "quantity_mismatch",
            format!(
                "instrument {}: the quantity differs from the waiting instruction's",
                o.instrument_id
            ),
        );
    }
    Ok(())
}

fn direction_rule(l: &LegInput, o: &LegInput) -> Result<(), MatchFailure> {
    if l.direction == o.direction {
        return fail(
            "direction_mismatch",
            format!(
                "instrument {}: both instructions have direction {}",
                o.instrument_id,
                o.direction.as_str()
            ),
        );
    }
    Ok(())
}

fn chain_rule(l: &LegInput, o: &LegInput) -> Result<(), MatchFailure> {
    if l.chain_id != o.chain_id {
        return fail(
            "chain_mismatch",
            format!(
                "instrument {}: the chain differs from the waiting instruction's",
                o.instrument_id
            ),
        );
    }
    Ok(())
}

/// The per-leg rules, in the order they are checked (each over every leg).
const LEG_RULES: [LegRule; 4] = [leg_type_rule, quantity_rule, direction_rule, chain_rule];

/// Both sides name the same instruments (case-insensitively).
fn same_instruments(first: &InstructionBody, second: &InstructionBody) -> Result<(), MatchFailure> {
    let sorted = |b: &InstructionBody| {
        let mut v: Vec<String> = b
            .legs
            .iter()
            .map(|l| l.instrument_id.to_lowercase())
            .collect();
        v.sort();
        v
    };
    let (a, b) = (sorted(first), sorted(second));
    if a != b {
        return fail(
            "instrument_mismatch",
            "the instruments differ from the waiting instruction's".into(),
        );
    }
    Ok(())
}

/// The matching rules, checked in order (coordinator.md).
pub fn check_match(first: &InstructionBody, second: &InstructionBody) -> Result<(), MatchFailure> {
    if first.template_slug != second.template_slug {
        return fail(
            "template_mismatch",
            "the template differs from the waiting instruction's".into(),
        );
    }
    if first.role == second.role {
        return fail(
            "same_role",
            format!("both instructions have role {}", first.role.as_str()),
        );
    }
    same_instruments(first, second)?;
    for (i, rule) in LEG_RULES.iter().enumerate() {
        for l in &first.legs {
            let counterpart = second
                .legs
                .iter()
                .find(|o| o.instrument_id.eq_ignore_ascii_case(&l.instrument_id));
            match counterpart {
                Some(o) => rule(l, o)?,
                None if i == 0 => {
                    return fail(
                        "instrument_mismatch",
                        "the instruments differ from the waiting instruction's".into(),
                    );
                }
                None => {}
            }
        }
    }
    crate::repo::fields::check_match(first, second)
}
