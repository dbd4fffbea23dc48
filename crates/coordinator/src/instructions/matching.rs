//! The matching rules (coordinator.md), checked in order; the first that fails is
//! reported with its machine-readable rule code.

use crate::trade::{InstructionBody, LegInput};
use crate::validate::parse_quantity;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Why two instructions do not match: a machine-readable rule code and a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct MatchFailure {
    /// `template_mismatch`, `same_role`, `instrument_mismatch`, `leg_type_mismatch`,
    /// `quantity_mismatch`, `direction_mismatch`, `chain_mismatch` or `no_pending_counterpart`.
    pub rule: String,
    /// Human explanation.
    pub message: String,
}

fn fail(rule: &str, message: String) -> Result<(), MatchFailure> {
    Err(MatchFailure {
        rule: rule.into(),
        message,
    })
}

/// One per-leg rule: the failure for a leg and its counterpart leg, if any.
type LegRule = fn(&LegInput, &LegInput) -> Result<(), MatchFailure>;

fn leg_type_rule(l: &LegInput, o: &LegInput) -> Result<(), MatchFailure> {
    if l.leg_type != o.leg_type {
        return fail(
            "leg_type_mismatch",
            format!(
                "instrument {} is {} for the counterparty, {} here",
                l.instrument_id,
                l.leg_type.as_str(),
                o.leg_type.as_str()
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
                "instrument {}: counterparty quantity {}, this instruction {}",
                l.instrument_id, l.quantity, o.quantity
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
                "instrument {}: both sides {:?}",
                l.instrument_id, l.direction
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
                "instrument {}: counterparty on chain {}, this instruction on chain {}",
                l.instrument_id, l.chain_id, o.chain_id
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
            format!("instruments differ: counterparty {a:?}, this instruction {b:?}"),
        );
    }
    Ok(())
}

/// The matching rules, checked in order (coordinator.md).
pub fn check_match(first: &InstructionBody, second: &InstructionBody) -> Result<(), MatchFailure> {
    if first.template_slug != second.template_slug {
        return fail(
            "template_mismatch",
            format!(
                "counterparty uses template {}, this instruction {}",
                first.template_slug, second.template_slug
            ),
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
                        format!("instrument {} missing", l.instrument_id),
                    );
                }
                None => {}
            }
        }
    }
    Ok(())
}
