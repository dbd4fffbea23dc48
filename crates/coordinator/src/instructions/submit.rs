//! Submitting an instruction: validate → replay-or-reserve (the idempotency key) → pair
//! with the first side of the trade ([`super::pairing`]) → persist (the instruction, the
//! first side's status, the new settlement, the closed leftovers and the stored answer)
//! in one transaction.

use super::intake::Intake;
use super::multiparty;
use super::pairing::{
    AlreadySettled, Matched, claim, claim_one, close_leftovers, find_counterpart,
};
use super::store::{IDEMPOTENCY_LOOKUP, view_by_id};
use super::validate::{FieldError, field_error, validate};
use crate::repo::StoredRepoStatus;
use crate::settlements::machine;
use crate::settlements::{PartyView, SettlementRow};
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
pub(crate) fn request_hash(req: &InstructionRequest) -> Result<String> {
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

/// `counterparty_platform_id` or `counterparty_platform_ids`, when named: existing
/// platforms, and this platform only where the template allows one platform on both sides.
async fn check_counterparty(
    conn: &mut AnyConnection,
    templates: &Templates,
    platform: &str,
    body: &InstructionBody,
) -> Result<Option<FieldError>> {
    let named = body
        .counterparty_platform_id
        .iter()
        .map(|p| (vec![json!("counterparty_platform_id")], p))
        .chain(
            body.counterparty_platform_ids
                .iter()
                .flatten()
                .enumerate()
                .map(|(i, p)| (vec![json!("counterparty_platform_ids"), json!(i)], p)),
        );
    for (loc, p) in named {
        if p == platform {
            let allowed = templates
                .get(&body.template_slug)
                .is_some_and(|t| t.allow_same_platform);
            if allowed {
                continue;
            }
            return Ok(Some(field_error(
                &loc,
                format!(
                    "names this platform; template {} needs two platforms",
                    body.template_slug
                ),
            )));
        }
        let known = sqlx::query("SELECT id FROM platforms WHERE id = $1")
            .bind(p)
            .fetch_optional(&mut *conn)
            .await?
            .is_some();
        if !known {
            return Ok(Some(field_error(&loc, "unknown platform")));
        }
    }
    Ok(None)
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

/// Creates the settlement of a match (every other side is already claimed) and closes the
/// reference's leftovers. The first two template roles fill the seller and buyer columns;
/// further roles of a multi-party template follow in the template's role order.
async fn settle(
    conn: &mut AnyConnection,
    templates: &Templates,
    n: &NewInstruction<'_>,
    m: &Matched,
    sid: &str,
) -> Result<()> {
    let Some(counterpart) = &m.counterpart else {
        return Ok(());
    };
    let deadline = |b: &InstructionBody| {
        chrono::DateTime::parse_from_rfc3339(&b.timeout_at)
            .map(|t| t.timestamp_millis())
            .unwrap_or(n.deadline)
    };
    let mut parties: Vec<(Role, String, String)> =
        vec![(n.body.role, n.id.clone(), n.platform.to_string())];
    let mut timeout_at = n.deadline;
    for (c, b) in std::iter::once(counterpart).chain(&m.more) {
        parties.push((b.role, c.id.clone(), c.platform_id.clone()));
        timeout_at = timeout_at.min(deadline(b));
    }
    let order = |r: &Role| {
        templates
            .get(&n.body.template_slug)
            .and_then(|t| t.required_roles.iter().position(|x| x == r.as_str()))
            .unwrap_or(usize::MAX)
    };
    parties.sort_by_key(|(r, _, _)| (*r != Role::Seller, *r != Role::Buyer, order(r)));
    let mut it = parties.into_iter();
    let (Some(seller), Some(buyer)) = (it.next(), it.next()) else {
        return Ok(());
    };
    let mut row = SettlementRow {
        id: sid.into(),
        trade_reference: m.trade_reference.clone(),
        template_slug: n.body.template_slug.clone(),
        state: SettlementState::Instructed,
        seller_instruction_id: seller.1,
        buyer_instruction_id: buyer.1,
        seller_platform_id: seller.2,
        buyer_platform_id: buyer.2,
        timeout_at,
        compliance: None,
        decision_ref: None,
        evidence: None,
        terms: None,
        terms_hash: None,
        attestations: None,
        registrar_notified_at: None,
        created_at: n.now,
        updated_at: n.now,
        party_count: 2,
        parent_settlement_id: None,
        closing_settlement_id: None,
        repo_status: StoredRepoStatus(None),
        repo_maturity_at: None,
        closing_terms: None,
        closing_terms_ref: None,
        more_parties: it
            .map(|(role, instruction_id, platform_id)| PartyView {
                role: role.as_str().into(),
                platform_id,
                instruction_id,
            })
            .collect(),
    };
    let repo = templates.get(&n.body.template_slug).and_then(|t| t.repo);
    crate::repo::closing::fix_into(&mut row, repo, [&n.body, &counterpart.1])?;
    machine::create(conn, &row).await?;
    let closed = close_leftovers(conn, &m.trade_reference, counterpart, n.now).await?;
    if closed > 0 {
        tracing::info!(
            trade_reference = m.trade_reference,
            settlement_id = sid,
            closed,
            "closed pending leftovers of a matched trade reference"
        );
    }
    Ok(())
}

/// Claims the further sides of a multi-party match; `false` if one is no longer pending.
async fn claim_more(conn: &mut AnyConnection, m: &Matched, sid: &str, now: i64) -> Result<bool> {
    for (c, _) in &m.more {
        if !claim_one(conn, &c.id, sid, now).await? {
            return Ok(false);
        }
    }
    Ok(true)
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
    let found = match ctx.templates.get(&body.template_slug) {
        Some(t) if t.is_multi_party() => multiparty::join(&mut tx, t, platform, &body, now).await?,
        _ => find_counterpart(&mut tx, &ctx.templates, platform, &body, now).await?,
    };
    let mut matched = match found {
        Ok(m) => m,
        Err(settled) => return Ok(Submitted::Settled(settled)),
    };
    let settlement_id = matched.counterpart.as_ref().map(|_| new_id("stl"));
    if let Some(sid) = &settlement_id
        && let Err(settled) = claim(&mut tx, platform, &mut matched, sid, now).await?
    {
        return Ok(Submitted::Settled(settled));
    }
    if let Some(sid) = &settlement_id
        && !claim_more(&mut tx, &matched, sid, now).await?
    {
        // A waiting side was cancelled or expired since it was read: nothing of this
        // attempt is kept; the platform retries and joins (or completes) afresh.
        return Err(Error::ConcurrentMatch {
            trade_reference: matched.trade_reference,
        });
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
    let view = persist(&mut tx, &ctx.templates, &n, &matched).await?;
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
async fn persist(
    conn: &mut AnyConnection,
    templates: &Templates,
    n: &NewInstruction<'_>,
    m: &Matched,
) -> Result<Value> {
    if let Some(sid) = &n.settlement_id {
        settle(conn, templates, n, m, sid).await?;
    }
    let view = serde_json::to_value(view_by_id(conn, &n.id).await?)?;
    sqlx::query("UPDATE instructions SET response_body = $1 WHERE id = $2")
        .bind(serde_json::to_string(&view)?)
        .bind(&n.id)
        .execute(&mut *conn)
        .await?;
    Ok(view)
}
