//! Submitting an instruction: validate → replay-or-reserve (the idempotency key) → pair
//! with the first side of the trade ([`super::pairing`]) → persist (the instruction, the
//! first side's status, the new settlement, the closed leftovers and the stored answer)
//! in one transaction.

use super::intake::Intake;
use super::multiparty;
use super::pairing::{
    AlreadySettled, Matched, claim, claim_one, close_leftovers, find_counterpart, lock_reference,
};
use super::store::{
    Deferred, IDEMPOTENCY_LOOKUP, InstructionRow, InstructionView, NewRow, insert_one,
};
use super::validate::{FieldError, field_error, validate};
use crate::repo::StoredRepoStatus;
use crate::settlements::machine;
use crate::settlements::{PartyView, SettlementRow};
use crate::templates::Templates;
use crate::trade::{InstructionBody, InstructionRequest, Role};
use crate::{Error, Result};
use lockstep_core::{Backend, InstructionStatus, SettlementState, new_id, now_ms};
use serde_json::{Value, json};
use sqlx::{Any, AnyConnection, Connection, Row, Transaction};

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
    match r {
        Some(r) => answer_of(
            &Stored {
                request_hash: r.try_get("request_hash")?,
                response_body: r.try_get("response_body")?,
            },
            hash,
        )
        .map(Some),
        None => Ok(None),
    }
}

/// What is stored under a used idempotency key.
#[derive(Debug, Clone)]
pub(super) struct Stored {
    /// The hash of the first request.
    pub(super) request_hash: String,
    /// The first answer.
    pub(super) response_body: String,
}

/// The answer for a key already used: the first answer for the same body (`hash`),
/// `KeyReused` for another.
fn answer_of(stored: &Stored, hash: &str) -> Result<Submitted> {
    if stored.request_hash != hash {
        return Ok(Submitted::KeyReused);
    }
    Ok(Submitted::Replayed(serde_json::from_str(
        &stored.response_body,
    )?))
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

impl NewInstruction<'_> {
    /// The stored status.
    fn status(m: &Matched) -> InstructionStatus {
        if m.counterpart.is_some() {
            InstructionStatus::Matched
        } else {
            InstructionStatus::PendingMatch
        }
    }

    /// The view of the row [`reserve`] writes: what reading it back would give, so the
    /// stored answer goes into the same INSERT.
    fn view(&self, m: &Matched) -> Result<InstructionView> {
        InstructionRow {
            id: self.id.clone(),
            status: Self::status(m),
            trade_reference: m.trade_reference.clone(),
            template_slug: self.body.template_slug.clone(),
            body: serde_json::to_string(&self.body)?,
            settlement_id: self.settlement_id.clone(),
            match_failure: m.failure.as_ref().map(serde_json::to_string).transpose()?,
            timeout_at: self.deadline,
            expires_at: self.expires_at,
            created_at: self.now,
            updated_at: self.now,
        }
        .view()
    }

    /// The row to insert, its stored answer `view`.
    fn row(&self, m: &Matched, view: &Value) -> Result<NewRow> {
        Ok(NewRow {
            response_body: serde_json::to_string(view)?,
            template_slug: self.body.template_slug.clone(),
            role: self.body.role.as_str(),
            trade_reference: m.trade_reference.clone(),
            status: Self::status(m),
            body: serde_json::to_string(&self.body)?,
            match_failure: m.failure.as_ref().map(serde_json::to_string).transpose()?,
            id: self.id.clone(),
            platform: self.platform.into(),
            key: self.key.into(),
            hash: self.hash.into(),
            settlement_id: self.settlement_id.clone(),
            timeout_at: self.deadline,
            expires_at: self.expires_at,
            now: self.now,
        })
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
    defer: Option<&mut Deferred>,
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
    match defer {
        // Nothing to close: a group creates it with the group's others.
        Some(later) if m.leftovers == Some(0) => {
            later.settlements.push(row);
            return Ok(());
        }
        // The leftovers are read and closed now: everything deferred goes first.
        Some(earlier) => earlier.flush(conn).await?,
        None => {}
    }
    machine::create(conn, &row).await?;
    if m.leftovers == Some(0) {
        return Ok(());
    }
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
        if claim_one(conn, &c.id, &m.trade_reference, sid, now)
            .await?
            .is_none()
        {
            return Ok(false);
        }
    }
    Ok(true)
}

/// A request as far as it goes without the database: the hash of its canonical form
/// and its validation (computed outside SQLite's single writer; [`super::group`]).
#[derive(Debug)]
pub(super) struct Prepared {
    /// The platform submitting.
    pub(super) platform: String,
    /// Its idempotency key.
    pub(super) key: String,
    /// [`request_hash`].
    hash: String,
    /// The validated body and its deadline, or the field errors.
    checked: std::result::Result<(InstructionBody, i64), Vec<FieldError>>,
}

impl Prepared {
    /// The trade reference the request names, when it validated.
    pub(super) fn trade_reference(&self) -> Option<&str> {
        self.checked.as_ref().ok()?.0.trade_reference.as_deref()
    }
}

/// Hashes and validates `req`; `Err` carries the answer when there is nothing to look up
/// (a request without a canonical form gets its field errors).
pub(super) fn prepare(
    ctx: &Intake,
    platform: &str,
    req: InstructionRequest,
) -> Result<std::result::Result<Prepared, Submitted>> {
    let checked = validate(&ctx.templates, &ctx.escrows, &req);
    let hash = match request_hash(&req) {
        Ok(h) => h,
        // Only a request that breaks a field rule (an integer above 2^53 - 1) has no
        // canonical form: it gets its field errors.
        Err(e) => {
            return match checked {
                Err(errs) => Ok(Err(Submitted::Invalid(errs))),
                Ok(_) => Err(e),
            };
        }
    };
    Ok(Ok(Prepared {
        platform: platform.into(),
        key: req.idempotency_key,
        hash,
        checked,
    }))
}

/// What one submission did inside its transaction.
#[derive(Debug)]
pub(super) enum Step {
    /// An answer with nothing to keep (the caller may roll back).
    Answer(Submitted),
    /// The instruction (and a settlement, when `matched`) was written: commit, then
    /// [`after_commit`].
    Written {
        /// The 201 body.
        view: Value,
        /// Whether it created a settlement.
        matched: bool,
    },
    /// A concurrent request with the same key won the insert race: roll back and answer
    /// with [`replay`].
    LostRace,
}

/// Submits an instruction: validates, handles idempotency, assigns a trade reference to
/// a first side, matches a second side. On SQLite the transaction is shared with the
/// submissions queued beside it ([`super::group`]); on PostgreSQL each has its own.
pub async fn submit(ctx: &Intake, platform: &str, req: InstructionRequest) -> Result<Submitted> {
    let p = match prepare(ctx, platform, req)? {
        Ok(p) => p,
        Err(answer) => return Ok(answer),
    };
    if let Some(group) = &ctx.group {
        return group.submit(p).await;
    }
    let mut conn = ctx.db.pool().acquire().await?;
    alone(&mut conn, ctx, &p).await
}

/// Opens a submitting transaction. On SQLite it is `BEGIN IMMEDIATE`: the write lock is
/// taken first, waiting up to `busy_timeout` while another process holds it, instead of
/// reading under a deferred transaction and failing at the first write (a read
/// transaction cannot wait to become a writer).
async fn begin(conn: &mut AnyConnection, backend: Backend) -> Result<Transaction<'_, Any>> {
    Ok(match backend {
        Backend::Sqlite => conn.begin_with("BEGIN IMMEDIATE").await?,
        Backend::Postgres => conn.begin().await?,
    })
}

/// One submission in a transaction of its own on `conn`.
pub(super) async fn alone(
    conn: &mut AnyConnection,
    ctx: &Intake,
    p: &Prepared,
) -> Result<Submitted> {
    let mut tx = begin(conn, ctx.db.backend()).await?;
    match run(&mut tx, ctx, p, None, None).await? {
        Step::Answer(a) => Ok(a),
        Step::Written { view, matched } => {
            tx.commit().await?;
            after_commit(ctx, matched);
            Ok(Submitted::Created(view))
        }
        Step::LostRace => {
            tx.rollback().await?;
            Ok(replay(conn, &p.platform, &p.key, &p.hash)
                .await?
                .unwrap_or(Submitted::KeyReused))
        }
    }
}

/// Metrics and wake-ups once a written submission has committed.
pub(super) fn after_commit(ctx: &Intake, matched: bool) {
    let metrics = ctx.hook.metrics();
    metrics.inc("lockstep_instructions_total", String::new());
    if matched {
        metrics.inc("lockstep_matches_total", String::new());
        ctx.hook.transitioned(SettlementState::Instructed);
        ctx.hook.wake_settlements();
    }
}

/// One submission inside the caller's transaction: replay-or-reserve, pair, persist.
/// Every [`Step::Answer`] leaves at most housekeeping behind (pending instructions of the
/// reference that had expired are marked so), which is true whether or not it commits.
///
/// `known` is what the caller already read under the key ([`super::group`] reads a
/// whole group's keys in one statement); `None`: look it up here.
///
/// `defer`, when given, takes the instruction, the claim of a two-party first side and a
/// matched settlement without leftovers to close instead of writing them here: the
/// caller writes them before committing ([`Deferred::flush`]). A used key then fails
/// that flush instead of answering [`Step::LostRace`].
pub(super) async fn run(
    conn: &mut AnyConnection,
    ctx: &Intake,
    p: &Prepared,
    known: Option<Option<&Stored>>,
    mut defer: Option<&mut Deferred>,
) -> Result<Step> {
    let (platform, key, hash) = (p.platform.as_str(), p.key.as_str(), p.hash.as_str());
    // The idempotency check comes before validation: a replay answers as the first time
    // even when the body would no longer validate (its `timeout_at` has passed).
    let answer = match known {
        Some(stored) => stored.map(|s| answer_of(s, hash)).transpose()?,
        None => replay(conn, platform, key, hash).await?,
    };
    if let Some(answer) = answer {
        return Ok(Step::Answer(answer));
    }
    let (body, deadline) = match &p.checked {
        Ok((b, d)) => (b.clone(), *d),
        Err(errs) => return Ok(Step::Answer(Submitted::Invalid(errs.clone()))),
    };
    let now = now_ms();
    let ttl = i64::try_from(ctx.ttl_secs.saturating_mul(1000)).unwrap_or(i64::MAX / 2);
    if let Some(e) = check_counterparty(conn, &ctx.templates, platform, &body).await? {
        return Ok(Step::Answer(Submitted::Invalid(vec![e])));
    }
    if ctx.db.backend() == Backend::Postgres
        && let Some(tr) = &body.trade_reference
    {
        lock_reference(conn, tr).await?;
    }
    // The group's read of the reference, if it made one: only the first submission that
    // names the reference may use it (it may write under it).
    let read = body
        .trade_reference
        .as_deref()
        .zip(defer.as_deref_mut())
        .and_then(|(tr, d)| d.take_reference(tr));
    let found = match ctx.templates.get(&body.template_slug) {
        Some(t) if t.is_multi_party() => multiparty::join(conn, t, platform, &body, now).await?,
        _ => find_counterpart(conn, &ctx.templates, platform, &body, now, read).await?,
    };
    let mut matched = match found {
        Ok(m) => m,
        Err(settled) => return Ok(Step::Answer(Submitted::Settled(settled))),
    };
    let settlement_id = matched.counterpart.as_ref().map(|_| new_id("stl"));
    if let Some(sid) = &settlement_id {
        // In a group, a two-party first side read pending in this write transaction is
        // still pending: its claim joins the group's flush.
        let claimed = match defer.as_deref_mut() {
            Some(later) if matched.more.is_empty() && matched.leftovers.is_some() => {
                later.claim(&matched, sid, now);
                Ok(())
            }
            _ => claim(conn, platform, &mut matched, sid, now).await?,
        };
        if let Err(settled) = claimed {
            return Ok(Step::Answer(Submitted::Settled(settled)));
        }
    }
    if let Some(sid) = &settlement_id
        && !claim_more(conn, &matched, sid, now).await?
    {
        // A waiting side was cancelled or expired since it was read: nothing of this
        // attempt may be kept; the platform retries and joins (or completes) afresh.
        return Err(Error::ConcurrentMatch {
            trade_reference: matched.trade_reference,
        });
    }
    let n = NewInstruction {
        id: new_id("ins"),
        platform,
        key,
        hash,
        body,
        deadline,
        expires_at: (now + ttl).min(deadline),
        now,
        settlement_id: matched.counterpart.as_ref().and(settlement_id),
    };
    let view = serde_json::to_value(n.view(&matched)?)?;
    let row = n.row(&matched, &view)?;
    match defer.as_deref_mut() {
        Some(later) => later.instructions.push(row),
        None => {
            if !insert_one(conn, row).await? {
                return Ok(Step::LostRace);
            }
        }
    }
    if let Some(sid) = &n.settlement_id {
        settle(conn, &ctx.templates, &n, &matched, sid, defer).await?;
    }
    Ok(Step::Written {
        view,
        matched: matched.counterpart.is_some(),
    })
}
