//! Pairing a second side with the first side of its trade reference (docs/coordinator.md,
//! "Matching"). A trade reference is not a bearer secret:
//!
//! - only the first side (the instruction the reference was issued to) can be matched;
//!   second sides never match each other;
//! - a first side that names `counterparty_platform_id` can be matched by that platform
//!   only; to every other platform its reference looks unknown;
//! - both sides from one platform only where the template allows it;
//! - to a platform that is not a party, an unknown, a foreign (bound to someone else) and
//!   a settled reference give the same answer: the instruction waits, `pending_match`, with
//!   rule `no_pending_counterpart` and one fixed message;
//! - a party of the settlement a reference was matched into gets a 409 for a late
//!   instruction; when a settlement is created, the pending leftovers of the platforms that
//!   were told about the reference are closed (`closed`, webhook `instruction.closed`).

use super::matching::{MatchFailure, check_match};
use crate::rfc3339;
use crate::templates::Templates;
use crate::trade::InstructionBody;
use crate::webhooks::outbox;
use crate::{Error, Result};
use lockstep_core::InstructionStatus;
use serde_json::json;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};
use std::sync::LazyLock;

/// The one answer for a reference that is unknown, bound to another platform, not
/// waiting, or settled without the submitter: nothing tells them apart.
pub(crate) const NO_PENDING_MESSAGE: &str =
    "no instruction under this trade reference is waiting for a match with this platform";

/// The first side of a trade reference (or, in a multi-party trade, a side waiting under it).
#[derive(Debug, sqlx::FromRow)]
pub(super) struct Counterpart {
    /// Its id.
    pub(super) id: String,
    /// Its platform.
    pub(super) platform_id: String,
    #[sqlx(try_from = "String")]
    pub(super) status: InstructionStatus,
    pub(super) body: String,
}

/// The outcome of pairing: the trade reference, and either the first side to match or
/// why nothing matched (both `None` for a first side).
#[derive(Debug, Default)]
pub(super) struct Matched {
    /// The submitted (or, for a first side, the new) trade reference.
    pub(super) trade_reference: String,
    /// The first side this instruction matches.
    pub(super) counterpart: Option<(Counterpart, InstructionBody)>,
    /// Multi-party trades: the other sides waiting under the reference that this one
    /// completes (with `counterpart`, every other role).
    pub(super) more: Vec<(Counterpart, InstructionBody)>,
    /// Why it did not match.
    pub(super) failure: Option<MatchFailure>,
    /// How many other instructions are pending under the reference beside the first side:
    /// as the reference read counted them, then as the claim did (`None`: not counted).
    pub(super) leftovers: Option<i64>,
}

impl Matched {
    /// No match, with the answer every non-party gets.
    pub(super) fn nothing_waiting(trade_reference: &str) -> Matched {
        Matched::failed(
            trade_reference,
            MatchFailure::new("no_pending_counterpart", NO_PENDING_MESSAGE),
        )
    }

    /// No match: `failure`.
    pub(super) fn failed(trade_reference: &str, failure: MatchFailure) -> Matched {
        Matched {
            trade_reference: trade_reference.into(),
            failure: Some(failure),
            ..Matched::default()
        }
    }

    /// A first side: a new trade reference.
    pub(super) fn first() -> Matched {
        Matched {
            trade_reference: format!("LS-{}", ulid::Ulid::new()),
            ..Matched::default()
        }
    }
}

/// A settlement already made from the trade reference, seen by one of its parties.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlreadySettled {
    /// The settlement.
    pub settlement_id: String,
    /// The trade reference.
    pub trade_reference: String,
}

/// The settlement of `tr`, if any: `Some(Ok)` when `platform` is one of its parties,
/// `Some(Err(()))` when it is not.
pub(super) async fn settlement_of(
    conn: &mut AnyConnection,
    tr: &str,
    platform: &str,
) -> Result<Option<std::result::Result<AlreadySettled, ()>>> {
    let r = sqlx::query(
        "SELECT id AS settlement_id, seller_platform_id, buyer_platform_id, party_count FROM settlements WHERE trade_reference = $1",
    )
    .bind(tr)
    .fetch_optional(&mut *conn)
    .await?;
    match r {
        Some(r) => parties_of(conn, &r, tr, platform).await,
        None => Ok(None),
    }
}

/// [`settlement_of`] from a row with its columns (`settlement_id` null: none).
async fn parties_of(
    conn: &mut AnyConnection,
    r: &AnyRow,
    tr: &str,
    platform: &str,
) -> Result<Option<std::result::Result<AlreadySettled, ()>>> {
    let Some(id) = r.try_get::<Option<String>, _>("settlement_id")? else {
        return Ok(None);
    };
    let seller: String = r.try_get("seller_platform_id")?;
    let buyer: String = r.try_get("buyer_platform_id")?;
    let more = r.try_get::<i64, _>("party_count")? > 2
        && sqlx::query(
            "SELECT position FROM settlement_parties WHERE settlement_id = $1 AND platform_id = $2",
        )
        .bind(&id)
        .bind(platform)
        .fetch_optional(&mut *conn)
        .await?
        .is_some();
    if seller != platform && buyer != platform && !more {
        return Ok(Some(Err(())));
    }
    Ok(Some(Ok(AlreadySettled {
        settlement_id: id,
        trade_reference: tr.into(),
    })))
}

/// What a second side needs to know of its reference `tr` (an SQL expression), with
/// `pending` the pending status's parameter, as the columns and the joins of a SELECT:
/// the earliest expiry among its pending instructions (at or before now: some have
/// expired) and how many are pending, its first side and its settlement. One statement
/// reads one snapshot, so a first side seen matched comes with its settlement (one
/// transaction wrote both). It does not depend on the time, so a group can read it at
/// its start for a submission that runs later (`super::group`, which reads all of its
/// references in one statement).
pub(super) fn reference_read(tr: &str, pending: &str) -> (String, String) {
    (
        format!(
            "(SELECT MIN(expires_at) FROM instructions WHERE trade_reference = {tr} AND status = {pending}) AS next_expiry, (SELECT COUNT(*) FROM instructions WHERE trade_reference = {tr} AND status = {pending}) AS pending, f.id AS first_id, f.platform_id AS first_platform, f.status AS first_status, f.body AS first_body, s.id AS settlement_id, s.seller_platform_id, s.buyer_platform_id, s.party_count"
        ),
        format!(
            "LEFT JOIN instructions f ON f.id = (SELECT id FROM instructions WHERE trade_reference = {tr} ORDER BY created_at, id LIMIT 1) LEFT JOIN settlements s ON s.trade_reference = {tr}"
        ),
    )
}

/// The [`reference_read`] of one reference (`$1` reference, `$2` the pending status).
static REFERENCE: LazyLock<String> = LazyLock::new(|| {
    let (columns, joins) = reference_read("$1", "$2");
    format!("SELECT {columns} FROM (SELECT 1 AS one) q {joins}")
});

/// The [`REFERENCE`] row of `tr`.
async fn read_reference(conn: &mut AnyConnection, tr: &str) -> Result<AnyRow> {
    Ok(sqlx::query(&REFERENCE)
        .bind(tr)
        .bind(InstructionStatus::PendingMatch.as_str())
        .fetch_one(conn)
        .await?)
}

/// A trade reference as a second side finds it.
struct Reference {
    /// Its first side ([`first_side`]).
    first: Option<(Counterpart, InstructionBody)>,
    /// Its settlement ([`settlement_of`]).
    settled: Option<std::result::Result<AlreadySettled, ()>>,
    /// How many instructions are pending under it (the first side included).
    pending: i64,
}

/// The state of `tr` after expiring its pending instructions past their expiry
/// ([`expire_reference`]); one round trip unless something had expired, none when
/// `read` is its [`REFERENCE`] row read earlier in this transaction with nothing under
/// `tr` written since.
async fn reference(
    conn: &mut AnyConnection,
    tr: &str,
    platform: &str,
    now: i64,
    read: Option<AnyRow>,
) -> Result<Reference> {
    let mut r = match read {
        Some(r) => r,
        None => read_reference(conn, tr).await?,
    };
    if r.try_get::<Option<i64>, _>("next_expiry")?
        .is_some_and(|at| at <= now)
    {
        expire_reference(conn, tr, now).await?;
        r = read_reference(conn, tr).await?;
    }
    let first = match r.try_get::<Option<String>, _>("first_id")? {
        Some(id) => {
            let status: String = r.try_get("first_status")?;
            let c = Counterpart {
                id,
                platform_id: r.try_get("first_platform")?,
                status: InstructionStatus::try_from(status).map_err(|e| Error::Corrupt {
                    what: "instruction status",
                    message: e.to_string(),
                })?,
                body: r.try_get("first_body")?,
            };
            let body: InstructionBody = serde_json::from_str(&c.body)?;
            body.trade_reference.is_none().then_some((c, body))
        }
        None => None,
    };
    let settled = parties_of(conn, &r, tr, platform).await?;
    Ok(Reference {
        first,
        settled,
        pending: r.try_get("pending")?,
    })
}

/// The first side of `tr`: its earliest instruction, provided that one was issued the
/// reference (its body has none). Nobody can name a reference before it is issued.
pub(super) async fn first_side(
    conn: &mut AnyConnection,
    tr: &str,
) -> Result<Option<(Counterpart, InstructionBody)>> {
    let r: Option<Counterpart> = sqlx::query_as("SELECT id, platform_id, status, body FROM instructions WHERE trade_reference = $1 ORDER BY created_at, id LIMIT 1")
        .bind(tr).fetch_optional(&mut *conn).await?;
    let Some(r) = r else { return Ok(None) };
    let body: InstructionBody = serde_json::from_str(&r.body)?;
    Ok(body.trade_reference.is_none().then_some((r, body)))
}

/// Serialises, on PostgreSQL, the transactions that pair under trade reference `tr`
/// (a transaction-level advisory lock on its hash), so each reads what the one before it
/// committed: otherwise a waiting side read before a match commits, and the match's count
/// of leftovers read before that side commits, and it stays pending after the match. On
/// SQLite the write transaction (`BEGIN IMMEDIATE`) already serialises them.
pub(super) async fn lock_reference(conn: &mut AnyConnection, tr: &str) -> Result<()> {
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
        .bind(tr)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Expires the reference's pending instructions past their expiry.
pub(super) async fn expire_reference(conn: &mut AnyConnection, tr: &str, now: i64) -> Result<()> {
    sqlx::query("UPDATE instructions SET status = $1, updated_at = $2 WHERE trade_reference = $3 AND status = $4 AND expires_at <= $2")
        .bind(InstructionStatus::Expired.as_str()).bind(now).bind(tr).bind(InstructionStatus::PendingMatch.as_str())
        .execute(&mut *conn).await?;
    Ok(())
}

/// Matches a second side against the first side of its trade (expiring stale
/// instructions first); a first side gets a new trade reference. `Err` when `platform` is
/// a party of the settlement the reference was already matched into (409).
pub(super) async fn find_counterpart(
    conn: &mut AnyConnection,
    templates: &Templates,
    platform: &str,
    body: &InstructionBody,
    now: i64,
    read: Option<AnyRow>,
) -> Result<std::result::Result<Matched, AlreadySettled>> {
    let Some(tr) = &body.trade_reference else {
        return Ok(Ok(Matched::first()));
    };
    let Reference {
        first,
        settled,
        pending,
    } = reference(conn, tr, platform, now, read).await?;
    match settled {
        Some(Ok(settled)) => return Ok(Err(settled)),
        Some(Err(())) => return Ok(Ok(Matched::nothing_waiting(tr))),
        None => {}
    }
    let Some((first, first_body)) = first else {
        return Ok(Ok(Matched::nothing_waiting(tr)));
    };
    let allow_same = templates
        .get(&body.template_slug)
        .is_some_and(|t| t.allow_same_platform);
    let binds_other = |b: &InstructionBody, p: &str| {
        b.counterparty_platform_id
            .as_deref()
            .is_some_and(|c| c != p)
    };
    let own = first.platform_id == platform;
    let failure = if !own && binds_other(&first_body, platform) {
        return Ok(Ok(Matched::nothing_waiting(tr)));
    } else if own && !allow_same {
        Some(MatchFailure::new(
            "same_platform",
            format!(
                "the waiting instruction is this platform's own; template {} needs two platforms",
                body.template_slug
            ),
        ))
    } else if binds_other(&first_body, platform) {
        Some(MatchFailure::new(
            "counterparty_mismatch",
            "the waiting instruction names another counterparty platform",
        ))
    } else if binds_other(body, &first.platform_id) {
        Some(MatchFailure::new(
            "counterparty_mismatch",
            "the waiting instruction is not from the platform named in counterparty_platform_id",
        ))
    } else if first.status != InstructionStatus::PendingMatch {
        Some(MatchFailure::new(
            "no_pending_counterpart",
            NO_PENDING_MESSAGE,
        ))
    } else {
        check_match(&first_body, body).err()
    };
    Ok(Ok(match failure {
        Some(f) => Matched::failed(tr, f),
        // The first side is pending (checked above): the others pending beside it.
        None => Matched {
            trade_reference: tr.clone(),
            counterpart: Some((first, first_body)),
            leftovers: Some(pending - 1),
            ..Matched::default()
        },
    }))
}

/// Claims the first side for settlement `sid` (it must still be pending). When another
/// instruction took it first, the answer it gets instead: a 409 for a party of that
/// settlement, the non-party answer otherwise.
pub(super) async fn claim(
    conn: &mut AnyConnection,
    platform: &str,
    m: &mut Matched,
    sid: &str,
    now: i64,
) -> Result<std::result::Result<(), AlreadySettled>> {
    let Some((first, _)) = &m.counterpart else {
        return Ok(Ok(()));
    };
    // The claim also counts the reference's other pending instructions, so a match with
    // none (the usual case) skips [`close_leftovers`].
    if let Some(leftovers) = claim_one(conn, &first.id, &m.trade_reference, sid, now).await? {
        m.leftovers = Some(leftovers);
        return Ok(Ok(()));
    }
    if let Some(Ok(settled)) = settlement_of(conn, &m.trade_reference, platform).await? {
        return Ok(Err(settled));
    }
    *m = Matched::nothing_waiting(&m.trade_reference);
    Ok(Ok(()))
}

/// Marks a pending instruction of reference `tr` matched into `sid`; `None` when it was
/// no longer pending, else how many other instructions are still pending under `tr`.
pub(super) async fn claim_one(
    conn: &mut AnyConnection,
    id: &str,
    tr: &str,
    sid: &str,
    now: i64,
) -> Result<Option<i64>> {
    let r = sqlx::query("UPDATE instructions SET status = $1, settlement_id = $2, updated_at = $3 WHERE id = $4 AND status = $5 RETURNING (SELECT COUNT(*) FROM instructions o WHERE o.trade_reference = $6 AND o.status = $5 AND o.id <> $4) AS leftovers")
        .bind(InstructionStatus::Matched.as_str()).bind(sid).bind(now).bind(id)
        .bind(InstructionStatus::PendingMatch.as_str()).bind(tr)
        .fetch_optional(&mut *conn).await?;
    r.map(|r| r.try_get::<i64, _>("leftovers"))
        .transpose()
        .map_err(Into::into)
}

/// After a match: closes the trade reference's other pending instructions of the
/// platforms the first side let match it (every platform when it named none), each with
/// an `instruction.closed` webhook to its platform. Other platforms' instructions were
/// told nothing and wait out their expiry, as on an unknown reference.
pub(super) async fn close_leftovers(
    conn: &mut AnyConnection,
    tr: &str,
    (first, first_body): &(Counterpart, InstructionBody),
    now: i64,
) -> Result<u64> {
    let rows = sqlx::query(
        "SELECT id, platform_id FROM instructions WHERE trade_reference = $1 AND status = $2",
    )
    .bind(tr)
    .bind(InstructionStatus::PendingMatch.as_str())
    .fetch_all(&mut *conn)
    .await?;
    let mut closed = 0;
    for r in rows {
        let id: String = r.try_get("id")?;
        let platform: String = r.try_get("platform_id")?;
        let told = platform == first.platform_id
            || first_body
                .allowed_platforms()
                .is_none_or(|ps| ps.contains(&platform.as_str()));
        if !told {
            continue;
        }
        let u = sqlx::query(
            "UPDATE instructions SET status = $1, updated_at = $2 WHERE id = $3 AND status = $4",
        )
        .bind(InstructionStatus::Closed.as_str())
        .bind(now)
        .bind(&id)
        .bind(InstructionStatus::PendingMatch.as_str())
        .execute(&mut *conn)
        .await?;
        if u.rows_affected() != 1 {
            continue;
        }
        let data = json!({
            "instruction_id": id,
            "trade_reference": tr,
            "status": InstructionStatus::Closed,
            "reason": "the trade reference was matched by another instruction",
            "timestamp": rfc3339(now),
        });
        outbox::enqueue(conn, &platform, "instruction.closed", data, None).await?;
        closed += 1;
    }
    Ok(closed)
}
