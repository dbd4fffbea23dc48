//! Submitting an instruction: validate → replay-or-reserve (the idempotency key) → match
//! against the pending side of the trade → persist (the instruction, the counterpart's
//! status, the new settlement and the stored answer) in one transaction.

use super::intake::Intake;
use super::matching::{MatchFailure, check_match};
use super::store::view_by_id;
use super::validate::{FieldError, field_error, validate};
use crate::settlements::SettlementRow;
use crate::settlements::machine;
use crate::trade::{InstructionBody, InstructionRequest, Role};
use crate::{Error, Result};
use lockstep_core::{InstructionStatus, SettlementState, new_id, now_ms};
use serde_json::{Value, json};
use sqlx::{AnyConnection, Row};

/// The answer to a submission.
#[derive(Debug)]
pub enum Submitted {
    /// First submission (201).
    Created(Value),
    /// Same key, same body (200, the first answer).
    Replayed(Value),
    /// Same key, another body (409).
    KeyReused,
    /// Field errors (422).
    Invalid(Vec<FieldError>),
}

/// SHA-256 over the JCS form of the request, hex: what "the same body" means.
fn request_hash(req: &InstructionRequest) -> Result<String> {
    let v = serde_json::to_value(req)?;
    let bytes = lockstep_evidence::canonicalize(&v).map_err(|e| Error::Corrupt {
        what: "request",
        message: e.to_string(),
    })?;
    Ok(lockstep_evidence::sha256_hex(&bytes))
}

/// The answer for a key already used by the platform: the first answer for the same
/// body, `KeyReused` for another; `None` if the key is new. The one idempotency check,
/// run before validation, again inside the transaction, and after losing an insert race.
async fn replay(
    conn: &mut AnyConnection,
    platform: &str,
    key: &str,
    hash: &str,
) -> Result<Option<Submitted>> {
    let r = sqlx::query("SELECT request_hash, response_body FROM instructions WHERE platform_id = $1 AND idempotency_key = $2")
        .bind(platform).bind(key).fetch_optional(conn).await?;
    let Some(r) = r else { return Ok(None) };
    let stored: String = r.try_get("request_hash")?;
    if stored != hash {
        return Ok(Some(Submitted::KeyReused));
    }
    let resp: String = r.try_get("response_body")?;
    Ok(Some(Submitted::Replayed(serde_json::from_str(&resp)?)))
}

/// The pending instruction a second side matched.
#[derive(Debug, sqlx::FromRow)]
struct Counterpart {
    id: String,
    platform_id: String,
    #[sqlx(try_from = "String")]
    status: InstructionStatus,
    body: String,
}

/// The outcome of matching: the trade reference, and either the counterpart or why
/// nothing matched (`None` for a first side).
#[derive(Debug, Default)]
struct Matched {
    trade_reference: String,
    counterpart: Option<(Counterpart, InstructionBody)>,
    failure: Option<MatchFailure>,
}

/// Matches a second side against the pending instructions of its trade (expiring stale
/// ones first); a first side gets a new trade reference. `Err` for an unknown reference.
async fn find_counterpart(
    conn: &mut AnyConnection,
    body: &InstructionBody,
    now: i64,
) -> Result<std::result::Result<Matched, FieldError>> {
    let Some(tr) = &body.trade_reference else {
        return Ok(Ok(Matched {
            trade_reference: format!("LS-{}", ulid::Ulid::new()),
            ..Matched::default()
        }));
    };
    sqlx::query("UPDATE instructions SET status = $1, updated_at = $2 WHERE trade_reference = $3 AND status = $4 AND expires_at <= $2")
        .bind(InstructionStatus::Expired.as_str()).bind(now).bind(tr).bind(InstructionStatus::PendingMatch.as_str())
        .execute(&mut *conn).await?;
    let rows: Vec<Counterpart> = sqlx::query_as("SELECT id, platform_id, status, body FROM instructions WHERE trade_reference = $1 ORDER BY created_at, id")
        .bind(tr).fetch_all(&mut *conn).await?;
    if rows.is_empty() {
        return Ok(Err(field_error(
            &[json!("trade_reference")],
            format!("unknown trade reference {tr:?}"),
        )));
    }
    let mut out = Matched {
        trade_reference: tr.clone(),
        ..Matched::default()
    };
    for r in rows
        .into_iter()
        .filter(|r| r.status == InstructionStatus::PendingMatch)
    {
        let other: InstructionBody = serde_json::from_str(&r.body)?;
        match check_match(&other, body) {
            Ok(()) => {
                // As before the split, an earlier row's failure stays recorded.
                out.counterpart = Some((r, other));
                return Ok(Ok(out));
            }
            Err(f) => {
                out.failure.get_or_insert(f);
            }
        }
    }
    out.failure.get_or_insert_with(|| MatchFailure {
        rule: "no_pending_counterpart".into(),
        message: format!(
            "no instruction of trade {tr} is waiting for a match (matched, cancelled or expired)"
        ),
    });
    Ok(Ok(out))
}

/// The instruction about to be stored.
#[derive(Debug)]
struct NewInstruction<'a> {
    id: String,
    platform: &'a str,
    key: &'a str,
    hash: &'a str,
    body: InstructionBody,
    deadline: i64,
    expires_at: i64,
    now: i64,
    settlement_id: Option<String>,
}

/// Reserves the idempotency key by inserting the instruction; `false` if a concurrent
/// request with the same key won the race.
async fn reserve(conn: &mut AnyConnection, n: &NewInstruction<'_>, m: &Matched) -> Result<bool> {
    let status = if m.counterpart.is_some() {
        InstructionStatus::Matched
    } else {
        InstructionStatus::PendingMatch
    };
    let inserted = sqlx::query("INSERT INTO instructions (id, platform_id, idempotency_key, request_hash, response_body, template_slug, role, trade_reference, status, body, settlement_id, match_failure, timeout_at, expires_at, created_at, updated_at) VALUES ($1, $2, $3, $4, '', $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $14)")
        .bind(&n.id).bind(n.platform).bind(n.key).bind(n.hash).bind(&n.body.template_slug).bind(n.body.role.as_str())
        .bind(&m.trade_reference).bind(status.as_str()).bind(serde_json::to_string(&n.body)?).bind(n.settlement_id.clone())
        .bind(m.failure.as_ref().map(serde_json::to_string).transpose()?).bind(n.deadline).bind(n.expires_at).bind(n.now)
        .execute(&mut *conn).await;
    match inserted {
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Ok(false),
        Err(e) => Err(e.into()),
        Ok(_) => Ok(true),
    }
}

/// Marks the counterpart matched (it must still be pending) and creates the settlement.
async fn settle(
    conn: &mut AnyConnection,
    n: &NewInstruction<'_>,
    trade_reference: &str,
    (other, other_body): &(Counterpart, InstructionBody),
    sid: &str,
) -> Result<()> {
    let r = sqlx::query("UPDATE instructions SET status = $1, settlement_id = $2, updated_at = $3 WHERE id = $4 AND status = $5")
        .bind(InstructionStatus::Matched.as_str()).bind(sid).bind(n.now).bind(&other.id).bind(InstructionStatus::PendingMatch.as_str())
        .execute(&mut *conn).await?;
    if r.rows_affected() != 1 {
        return Err(Error::ConcurrentTransition {
            settlement_id: sid.into(),
            expected: SettlementState::Instructed,
        });
    }
    let other_deadline = chrono::DateTime::parse_from_rfc3339(&other_body.timeout_at)
        .map(|t| t.timestamp_millis())
        .unwrap_or(n.deadline);
    let mine = (n.id.clone(), n.platform.to_string());
    let theirs = (other.id.clone(), other.platform_id.clone());
    let (seller, buyer) = if n.body.role == Role::Seller {
        (mine, theirs)
    } else {
        (theirs, mine)
    };
    let row = SettlementRow {
        id: sid.into(),
        trade_reference: trade_reference.into(),
        template_slug: n.body.template_slug.clone(),
        state: SettlementState::Instructed,
        seller_instruction_id: seller.0,
        buyer_instruction_id: buyer.0,
        seller_platform_id: seller.1,
        buyer_platform_id: buyer.1,
        timeout_at: n.deadline.min(other_deadline),
        compliance: None,
        decision_ref: None,
        evidence: None,
        terms: None,
        terms_hash: None,
        attestations: None,
        registrar_notified_at: None,
        created_at: n.now,
        updated_at: n.now,
    };
    machine::create(conn, &row).await
}

/// Submits an instruction: validates, handles idempotency, assigns a trade reference to
/// a first side, matches a second side.
pub async fn submit(ctx: &Intake, platform: &str, req: InstructionRequest) -> Result<Submitted> {
    let hash = match request_hash(&req) {
        Ok(h) => h,
        // A number the canonical form cannot carry (e.g. a chain id beyond 2^53 - 1).
        Err(Error::Corrupt { message, .. }) => {
            return Ok(Submitted::Invalid(vec![field_error(&[], message)]));
        }
        Err(e) => return Err(e),
    };
    let key = req.idempotency_key.as_str();
    {
        let mut conn = ctx.db.pool().acquire().await?;
        if let Some(answer) = replay(&mut conn, platform, key, &hash).await? {
            return Ok(answer);
        }
    }
    let (body, deadline) = match validate(&ctx.templates, &ctx.escrows, &req) {
        Ok(v) => v,
        Err(errs) => return Ok(Submitted::Invalid(errs)),
    };
    let now = now_ms();
    let ttl = i64::try_from(ctx.ttl_secs.saturating_mul(1000)).unwrap_or(i64::MAX / 2);
    let mut tx = ctx.db.pool().begin().await?;
    // Re-check inside the transaction (a concurrent submission with the same key).
    if let Some(answer) = replay(&mut tx, platform, key, &hash).await? {
        return Ok(answer);
    }
    let matched = match find_counterpart(&mut tx, &body, now).await? {
        Ok(m) => m,
        Err(e) => return Ok(Submitted::Invalid(vec![e])),
    };
    let n = NewInstruction {
        id: new_id("ins"),
        platform,
        key,
        hash: &hash,
        body,
        deadline,
        expires_at: (now + ttl).min(deadline),
        now,
        settlement_id: matched.counterpart.as_ref().map(|_| new_id("stl")),
    };
    if !reserve(&mut tx, &n, &matched).await? {
        // A concurrent request with the same key won the race: answer as a replay would.
        drop(tx);
        let mut conn = ctx.db.pool().acquire().await?;
        return Ok(replay(&mut conn, platform, key, &hash)
            .await?
            .unwrap_or(Submitted::KeyReused));
    }
    if let (Some(c), Some(sid)) = (&matched.counterpart, &n.settlement_id) {
        settle(&mut tx, &n, &matched.trade_reference, c, sid).await?;
    }
    let view = serde_json::to_value(view_by_id(&mut tx, &n.id).await?)?;
    sqlx::query("UPDATE instructions SET response_body = $1 WHERE id = $2")
        .bind(serde_json::to_string(&view)?)
        .bind(&n.id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    let metrics = ctx.hook.metrics();
    metrics.inc("lockstep_instructions_total", String::new());
    if matched.counterpart.is_some() {
        metrics.inc("lockstep_matches_total", String::new());
        ctx.hook.transitioned(SettlementState::Instructed);
        ctx.hook.wake_settlements();
    }
    Ok(Submitted::Created(view))
}
