//! Submitting an instruction: validate → replay-or-reserve (the idempotency key) → pair
//! with the first side of the trade ([`super::pairing`]) → persist (the instruction, the
//! first side's status, the new settlement, the closed leftovers and the stored answer)
//! in one transaction.

use super::intake::Intake;
use super::pairing::{
    AlreadySettled, Counterpart, Matched, claim, close_leftovers, find_counterpart,
};
use super::store::{IDEMPOTENCY_LOOKUP, view_by_id};
use super::validate::{FieldError, field_error, validate};
use crate::settlements::SettlementRow;
use crate::settlements::machine;
use crate::templates::Templates;
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
    /// A party of the settlement the trade reference was already matched into submitted
    /// another instruction for it (409; nothing stored).
    Settled(AlreadySettled),
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
/// run first inside the submitting transaction, and again after losing an insert race.
async fn replay(
    conn: &mut AnyConnection,
    platform: &str,
    key: &str,
    hash: &str,
) -> Result<Option<Submitted>> {
    let r = sqlx::query(IDEMPOTENCY_LOOKUP)
        .bind(platform)
        .bind(key)
        .fetch_optional(conn)
        .await?;
    let Some(r) = r else { return Ok(None) };
    let stored: String = r.try_get("request_hash")?;
    if stored != hash {
        return Ok(Some(Submitted::KeyReused));
    }
    let resp: String = r.try_get("response_body")?;
    Ok(Some(Submitted::Replayed(serde_json::from_str(&resp)?)))
}

/// `counterparty_platform_id`, when named: an existing platform, and this platform only
/// where the template allows one platform on both sides.
async fn check_counterparty(
    conn: &mut AnyConnection,
    templates: &Templates,
    platform: &str,
    body: &InstructionBody,
) -> Result<Option<FieldError>> {
    let Some(p) = &body.counterparty_platform_id else {
        return Ok(None);
    };
    let loc = [json!("counterparty_platform_id")];
    if p == platform {
        let allowed = templates
            .get(&body.template_slug)
            .is_some_and(|t| t.allow_same_platform);
        return Ok((!allowed).then(|| {
            field_error(
                &loc,
                format!(
                    "names this platform; template {} needs two platforms",
                    body.template_slug
                ),
            )
        }));
    }
    let known = sqlx::query("SELECT id FROM platforms WHERE id = $1")
        .bind(p)
        .fetch_optional(conn)
        .await?
        .is_some();
    Ok((!known).then(|| field_error(&loc, "unknown platform")))
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

/// Creates the settlement of a match (the first side is already claimed) and closes the
/// reference's leftovers.
async fn settle(
    conn: &mut AnyConnection,
    n: &NewInstruction<'_>,
    trade_reference: &str,
    counterpart: &(Counterpart, InstructionBody),
    sid: &str,
) -> Result<()> {
    let (other, other_body) = counterpart;
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
    machine::create(conn, &row).await?;
    let closed = close_leftovers(conn, trade_reference, counterpart, n.now).await?;
    if closed > 0 {
        tracing::info!(
            trade_reference,
            settlement_id = sid,
            closed,
            "closed pending leftovers of a matched trade reference"
        );
    }
    Ok(())
}

/// Submits an instruction: validates, handles idempotency, assigns a trade reference to
/// a first side, matches a second side.
pub async fn submit(ctx: &Intake, platform: &str, req: InstructionRequest) -> Result<Submitted> {
    let hash = match request_hash(&req) {
        Ok(h) => h,
        // Only a request that breaks a field rule (an integer above 2^53 - 1) has no
        // canonical form: it gets its field errors.
        Err(e) => {
            return match validate(&ctx.templates, &ctx.escrows, &req) {
                Err(errs) => Ok(Submitted::Invalid(errs)),
                Ok(_) => Err(e),
            };
        }
    };
    let key = req.idempotency_key.as_str();
    let mut tx = ctx.db.pool().begin().await?;
    // The idempotency check runs inside the submitting transaction (one turn on SQLite's
    // single writer), before validation: a replay answers as the first time even when
    // the body would no longer validate (its `timeout_at` has passed).
    if let Some(answer) = replay(&mut tx, platform, key, &hash).await? {
        return Ok(answer);
    }
    let (body, deadline) = match validate(&ctx.templates, &ctx.escrows, &req) {
        Ok(v) => v,
        Err(errs) => return Ok(Submitted::Invalid(errs)),
    };
    let now = now_ms();
    let ttl = i64::try_from(ctx.ttl_secs.saturating_mul(1000)).unwrap_or(i64::MAX / 2);
    if let Some(e) = check_counterparty(&mut tx, &ctx.templates, platform, &body).await? {
        return Ok(Submitted::Invalid(vec![e]));
    }
    let mut matched = match find_counterpart(&mut tx, &ctx.templates, platform, &body, now).await? {
        Ok(m) => m,
        Err(settled) => return Ok(Submitted::Settled(settled)),
    };
    let settlement_id = matched.counterpart.as_ref().map(|_| new_id("stl"));
    if let Some(sid) = &settlement_id
        && let Err(settled) = claim(&mut tx, platform, &mut matched, sid, now).await?
    {
        return Ok(Submitted::Settled(settled));
    }
    let n = NewInstruction {
        id: new_id("ins"),
        platform,
        key,
        hash: &hash,
        body,
        deadline,
        expires_at: (now + ttl).min(deadline),
        now,
        settlement_id: matched.counterpart.as_ref().and(settlement_id),
    };
    if !reserve(&mut tx, &n, &matched).await? {
        // A concurrent request with the same key won the race: answer as a replay would.
        drop(tx);
        let mut conn = ctx.db.pool().acquire().await?;
        return Ok(replay(&mut conn, platform, key, &hash)
            .await?
            .unwrap_or(Submitted::KeyReused));
    }
    let view = persist(&mut tx, &n, &matched).await?;
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

/// After the instruction row is in: the settlement of a match, then the stored answer.
async fn persist(conn: &mut AnyConnection, n: &NewInstruction<'_>, m: &Matched) -> Result<Value> {
    if let (Some(c), Some(sid)) = (&m.counterpart, &n.settlement_id) {
        settle(conn, n, &m.trade_reference, c, sid).await?;
    }
    let view = serde_json::to_value(view_by_id(conn, &n.id).await?)?;
    sqlx::query("UPDATE instructions SET response_body = $1 WHERE id = $2")
        .bind(serde_json::to_string(&view)?)
        .bind(&n.id)
        .execute(&mut *conn)
        .await?;
    Ok(view)
}
