//! Multi-party matching (docs/coordinator.md, "Multi-party matching"): a template with
//! more than two roles. The first side is issued the trade reference; every other role
//! joins under it. A joining side either waits (roles still missing), completes the trade
//! (every role present and the legs complementary: a settlement forms) or is refused with
//! the rule it broke. The trade-reference rules of two-party matching hold unchanged
//! ([`super::pairing`]): a non-party cannot tell an unknown, foreign or settled reference
//! apart, and a party of the settlement gets a 409.

use super::matching::MatchFailure;
use super::pairing::{
    AlreadySettled, Counterpart, Matched, NO_PENDING_MESSAGE, expire_reference, first_side,
    settlement_of,
};
use crate::Result;
use crate::templates::Template;
use crate::trade::{Direction, InstructionBody, LegInput};
use crate::validate::parse_quantity;
use lockstep_core::InstructionStatus;
use sqlx::AnyConnection;

/// One side of the trade: its row (`None` for the submitter) and its body.
type Side<'a> = (Option<&'a Counterpart>, &'a InstructionBody);

/// Whether `body` lets `platform` take another role (it names none, or names it).
fn allows(body: &InstructionBody, platform: &str) -> bool {
    body.allowed_platforms()
        .is_none_or(|ps| ps.contains(&platform))
}

/// The sides waiting under `tr` besides the first: pending, accepted (no match failure)
/// and naming the reference.
async fn waiting(
    conn: &mut AnyConnection,
    tr: &str,
    first_id: &str,
) -> Result<Vec<(Counterpart, InstructionBody)>> {
    let rows: Vec<Counterpart> = sqlx::query_as("SELECT id, platform_id, status, body FROM instructions WHERE trade_reference = $1 AND status = $2 AND match_failure IS NULL AND id <> $3 ORDER BY created_at, id")
        .bind(tr).bind(InstructionStatus::PendingMatch.as_str()).bind(first_id)
        .fetch_all(&mut *conn).await?;
    rows.into_iter()
        .map(|r| {
            let body: InstructionBody = serde_json::from_str(&r.body)?;
            Ok((r, body))
        })
        .collect()
}

/// Serialises the joins of one trade reference: a no-op update of its earliest row holds
/// that row's lock until commit. Without it, two last-but-one roles arriving together on
/// PostgreSQL (READ COMMITTED) would each miss the other's uncommitted row and both wait
/// forever; with it, the second reads after the first committed (every statement takes a
/// fresh snapshot) and completes the trade. SQLite has one writer anyway.
async fn serialize_joins(conn: &mut AnyConnection, tr: &str) -> Result<()> {
    sqlx::query("UPDATE instructions SET updated_at = updated_at WHERE id = (SELECT id FROM instructions WHERE trade_reference = $1 ORDER BY created_at, id LIMIT 1)")
        .bind(tr)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Joins `body` to the multi-party trade it names (a first side gets a new reference).
/// `Err` when `platform` is a party of the settlement the reference already formed (409).
pub(super) async fn join(
    conn: &mut AnyConnection,
    template: &Template,
    platform: &str,
    body: &InstructionBody,
    now: i64,
) -> Result<std::result::Result<Matched, AlreadySettled>> {
    let Some(tr) = &body.trade_reference else {
        return Ok(Ok(Matched::first()));
    };
    expire_reference(conn, tr, now).await?;
    serialize_joins(conn, tr).await?;
    let first = first_side(conn, tr).await?;
    match settlement_of(conn, tr, platform).await? {
        Some(Ok(settled)) => return Ok(Err(settled)),
        Some(Err(())) => return Ok(Ok(Matched::nothing_waiting(tr))),
        None => {}
    }
    let Some((first, first_body)) = first else {
        return Ok(Ok(Matched::nothing_waiting(tr)));
    };
    if first.platform_id != platform && !allows(&first_body, platform) {
        return Ok(Ok(Matched::nothing_waiting(tr)));
    }
    if first.status != InstructionStatus::PendingMatch {
        let f = MatchFailure::new("no_pending_counterpart", NO_PENDING_MESSAGE);
        return Ok(Ok(Matched::failed(tr, f)));
    }
    if first_body.template_slug != body.template_slug {
        let f = MatchFailure::new(
            "template_mismatch",
            "the template differs from the waiting instruction's",
        );
        return Ok(Ok(Matched::failed(tr, f)));
    }
    let more = waiting(conn, tr, &first.id).await?;
    let mut sides: Vec<Side<'_>> = vec![(Some(&first), &first_body)];
    sides.extend(more.iter().map(|(c, b)| (Some(c), b)));
    if let Some(f) = party_rules(template, platform, body, &sides) {
        return Ok(Ok(Matched::failed(tr, f)));
    }
    let complete = template
        .required_roles
        .iter()
        .all(|r| body.role.as_str() == r || sides.iter().any(|(_, b)| b.role.as_str() == r));
    if !complete {
        // Accepted: it waits for the missing roles (no failure recorded).
        return Ok(Ok(Matched {
            trade_reference: tr.clone(),
            ..Matched::default()
        }));
    }
    let others: Vec<&InstructionBody> = sides.iter().map(|(_, b)| *b).collect();
    if let Err(f) = complementary(body, &others) {
        return Ok(Ok(Matched::failed(tr, f)));
    }
    Ok(Ok(Matched {
        trade_reference: tr.clone(),
        counterpart: Some((first, first_body)),
        more,
        failure: None,
        leftovers: None,
    }))
}

/// The rules about who may join, checked in order: one platform per role unless the
/// template allows otherwise, a role not yet taken, every waiting side's platform list
/// admits this platform, and this side's list admits every waiting side's platform.
fn party_rules(
    template: &Template,
    platform: &str,
    body: &InstructionBody,
    sides: &[Side<'_>],
) -> Option<MatchFailure> {
    fn platform_of<'a>(c: &Option<&'a Counterpart>) -> &'a str {
        c.map_or("", |c| c.platform_id.as_str())
    }
    if !template.allow_same_platform && sides.iter().any(|(c, _)| platform_of(c) == platform) {
        return Some(MatchFailure::new(
            "same_platform",
            format!(
                "an instruction waiting under this trade reference is this platform's own; template {} needs one platform per role",
                template.slug
            ),
        ));
    }
    if sides.iter().any(|(_, b)| b.role == body.role) {
        return Some(MatchFailure::new(
            "duplicate_role",
            format!(
                "role {} is already taken under this trade reference",
                body.role.as_str()
            ),
        ));
    }
    if sides.iter().any(|(_, b)| !allows(b, platform)) {
        return Some(MatchFailure::new(
            "counterparty_mismatch",
            "an instruction waiting under this trade reference names other platforms for the remaining roles",
        ));
    }
    if sides.iter().any(|(c, _)| !allows(body, platform_of(c))) {
        return Some(MatchFailure::new(
            "counterparty_mismatch",
            "an instruction waiting under this trade reference is not from a platform named in counterparty_platform_ids",
        ));
    }
    None
}

/// A leg's pairing key: the instrument (token, case-insensitively) on its chain.
fn same_instrument(a: &LegInput, b: &LegInput) -> bool {
    a.chain_id == b.chain_id && a.instrument_id.eq_ignore_ascii_case(&b.instrument_id)
}

/// The complementarity rule over every side's legs (`mine` is the submitter's, `others`
/// every waiting side's): each delivering leg has exactly one receiving leg of another
/// party with the same instrument, chain, leg type and quantity, and nothing is left
/// over. The submitter's legs are checked first, so a failure names its own leg where it
/// can; a failure among the other sides' legs names none of their values.
pub(crate) fn complementary(
    mine: &InstructionBody,
    others: &[&InstructionBody],
) -> std::result::Result<(), MatchFailure> {
    // (owner, leg): owner 0 is the submitter.
    let all: Vec<(usize, &LegInput)> = std::iter::once(mine)
        .chain(others.iter().copied())
        .enumerate()
        .flat_map(|(o, b)| b.legs.iter().map(move |l| (o, l)))
        .collect();
    for (i, leg) in mine.legs.iter().enumerate() {
        check_leg(&all, leg).map_err(|rule| own_failure(rule, i, leg))?;
    }
    for (_, leg) in all.iter().filter(|(o, _)| *o != 0) {
        check_leg(&all, leg).map_err(others_failure)?;
    }
    Ok(())
}

/// Which rule a leg breaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LegRule {
    /// Not exactly one delivering and one receiving leg of two parties.
    Leftover,
    /// The pair differs in leg type.
    LegType,
    /// The pair differs in quantity.
    Quantity,
}

/// Checks the pair `leg` belongs to among `all`.
fn check_leg(all: &[(usize, &LegInput)], leg: &LegInput) -> std::result::Result<(), LegRule> {
    let by = |d: Direction| -> Vec<&(usize, &LegInput)> {
        all.iter()
            .filter(|(_, l)| l.direction == d && same_instrument(l, leg))
            .collect()
    };
    let (delivering, receiving) = (by(Direction::Deliver), by(Direction::Receive));
    let ([(od, d)], [(or, r)]) = (delivering.as_slice(), receiving.as_slice()) else {
        return Err(LegRule::Leftover);
    };
    if od == or {
        return Err(LegRule::Leftover);
    }
    if d.leg_type != r.leg_type {
        return Err(LegRule::LegType);
    }
    if parse_quantity(&d.quantity).ok() != parse_quantity(&r.quantity).ok() {
        return Err(LegRule::Quantity);
    }
    Ok(())
}

/// The failure for the submitter's leg `i`: its own values only.
fn own_failure(rule: LegRule, i: usize, leg: &LegInput) -> MatchFailure {
    let at = format!(
        "legs[{i}] (instrument {} on chain {})",
        leg.instrument_id, leg.chain_id
    );
    match rule {
        LegRule::Leftover => MatchFailure::new(
            "leftover_leg",
            format!(
                "{at}: no single leg of another party pairs with it (same instrument and chain, opposite direction)"
            ),
        ),
        LegRule::LegType => MatchFailure::new(
            "leg_type_mismatch",
            format!("{at}: the leg type differs from the pairing leg's"),
        ),
        LegRule::Quantity => MatchFailure::new(
            "quantity_mismatch",
            format!("{at}: the quantity differs from the pairing leg's"),
        ),
    }
}

/// The failure among the other sides' legs: no values at all.
fn others_failure(rule: LegRule) -> MatchFailure {
    match rule {
        LegRule::Leftover => MatchFailure::new(
            "leftover_leg",
            "a leg of another party has no single pairing leg: the legs under this trade reference are not complementary",
        ),
        LegRule::LegType => MatchFailure::new(
            "leg_type_mismatch",
            "two other parties' pairing legs differ in leg type",
        ),
        LegRule::Quantity => MatchFailure::new(
            "quantity_mismatch",
            "two other parties' pairing legs differ in quantity",
        ),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::complementary;
    use crate::trade::InstructionBody;
    use serde_json::json;

    /// A body with legs `(leg_type, token, quantity, direction, chain)`.
    fn body(legs: &[(&str, &str, &str, &str, u64)]) -> InstructionBody {
        let legs: Vec<_> = legs
            .iter()
            .map(|(t, tok, q, d, c)| json!({"leg_type": t, "instrument_id": tok, "quantity": q, "direction": d, "chain_id": c}))
            .collect();
        serde_json::from_value(json!({
            "idempotency_key": "k", "template_slug": "dvp-fx", "role": "seller",
            "party": {"external_reference": "r", "name": "n", "wallet_address": "0x2222222222222222222222222222222222222222", "chain_id": 1},
            "legs": legs, "timeout_at": "2030-01-01T00:00:00Z",
        }))
        .unwrap()
    }

    const A: &str = "0x000000000000000000000000000000000000000a";
    const B: &str = "0x000000000000000000000000000000000000000b";

    #[test]
    fn complementary_legs_pass_in_any_order_and_case() {
        let mine = body(&[("payment", A, "5", "deliver", 1)]);
        let other = body(&[(
            "payment",
            &A.to_uppercase().replace("0X", "0x"),
            "5",
            "receive",
            1,
        )]);
        assert_eq!(complementary(&mine, &[&other]), Ok(()));
        assert_eq!(complementary(&other, &[&mine]), Ok(()));
    }

    #[test]
    fn each_leg_rule_has_its_code() {
        let rule = |mine: &InstructionBody, others: &[&InstructionBody]| {
            complementary(mine, others).unwrap_err().rule
        };
        let deliver = body(&[("payment", A, "5", "deliver", 1)]);
        // The same token on another chain is another instrument: both legs are left over.
        let elsewhere = body(&[("payment", A, "5", "receive", 2)]);
        assert_eq!(rule(&deliver, &[&elsewhere]), "leftover_leg");
        // A party's own legs never pair with each other.
        let both = body(&[
            ("payment", A, "5", "deliver", 1),
            ("payment", A, "5", "receive", 1),
        ]);
        assert_eq!(rule(&both, &[]), "leftover_leg");
        // Two receivers for one delivery.
        let r = body(&[("payment", A, "5", "receive", 1)]);
        assert_eq!(rule(&deliver, &[&r, &r]), "leftover_leg");
        let asset = body(&[("asset_delivery", A, "5", "receive", 1)]);
        assert_eq!(rule(&deliver, &[&asset]), "leg_type_mismatch");
        let six = body(&[("payment", A, "6", "receive", 1)]);
        assert_eq!(rule(&deliver, &[&six]), "quantity_mismatch");
    }

    #[test]
    fn a_failure_among_the_others_names_no_value() {
        let mine = body(&[("payment", B, "1", "deliver", 1)]);
        let r = body(&[
            ("payment", B, "1", "receive", 1),
            ("payment", A, "777", "receive", 3),
        ]);
        let d = body(&[("payment", A, "778", "deliver", 3)]);
        let f = complementary(&mine, &[&r, &d]).unwrap_err();
        assert_eq!(f.rule, "quantity_mismatch");
        assert_eq!(
            f.message,
            "two other parties' pairing legs differ in quantity"
        );
        // The submitter's own failing leg is named with its own values only.
        let f = complementary(&d, &[&r, &mine]).unwrap_err();
        assert_eq!(
            f.message,
            format!(
                "legs[0] (instrument {A} on chain 3): the quantity differs from the pairing leg's"
            )
        );
        assert!(!f.message.contains("777"));
    }
}
