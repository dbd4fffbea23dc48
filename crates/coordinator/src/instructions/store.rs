//! Instruction rows (`sqlx::FromRow`) and their API views; the queries behind listing,
//! lazy expiry and cancellation.

use super::matching::MatchFailure;
use super::pairing::Matched;
use crate::settlements::SettlementRow;
use crate::settlements::machine::{creation, creation_cause};
use crate::sql::Statement;
use crate::trade::{InstructionBody, LegInput, Party, Role};
use crate::webhooks::outbox;
use crate::{Error, Result, rfc3339};
use lockstep_core::{Db, InstructionStatus, now_ms};
use serde::{Deserialize, Serialize};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};
use std::collections::HashMap;
use utoipa::ToSchema;

/// The match outcome shown with an instruction.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct MatchView {
    /// Whether the instruction is matched.
    pub matched: bool,
    /// The settlement, when matched.
    pub settlement_id: Option<String>,
    /// The failed rule, when not matched.
    pub rule: Option<String>,
    /// Why not.
    pub message: Option<String>,
}

/// An instruction as the API shows it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct InstructionView {
    /// Id (`ins_...`).
    pub id: String,
    /// `pending_match`, `matched`, `expired`, `cancelled` or `closed`.
    pub status: InstructionStatus,
    /// Shared by both sides of the trade.
    pub trade_reference: String,
    /// Template.
    pub template_slug: String,
    /// Role.
    pub role: Role,
    /// Party (wallet checksummed).
    pub party: Party,
    /// Legs (addresses checksummed).
    pub legs: Vec<LegInput>,
    /// The only platform this instruction may be matched with, when it names one.
    pub counterparty_platform_id: Option<String>,
    /// Multi-role templates: the platforms allowed to take the other roles, when named.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub counterparty_platform_ids: Option<Vec<String>>,
    /// Deadline of the settlement.
    pub timeout_at: String,
    /// When a pending instruction expires.
    pub expires_at: String,
    /// The settlement, once matched.
    pub settlement_id: Option<String>,
    /// Match outcome (null for a first side still waiting, and for a side of a multi-party
    /// trade that joined and waits for the other roles).
    #[serde(rename = "match")]
    pub match_result: Option<MatchView>,
    /// Creation time.
    pub created_at: String,
    /// Last change.
    pub updated_at: String,
}

/// The idempotency lookup: a platform's instruction by its idempotency key (`$1`
/// platform, `$2` key). Its index, `instructions_idempotency`, is exactly this key, so the
/// plan is one unique-index probe even on a never-analysed PostgreSQL database
/// (migration 0008, tests/plans.rs).
pub const IDEMPOTENCY_LOOKUP: &str = "SELECT request_hash, response_body FROM instructions WHERE platform_id = $1 AND idempotency_key = $2";

/// An instruction about to be inserted, with its stored answer (`response_body`, the
/// view the row reads back as): every value of its `instructions` row.
#[derive(Debug)]
pub(super) struct NewRow {
    pub(super) id: String,
    pub(super) platform: String,
    pub(super) key: String,
    pub(super) hash: String,
    pub(super) response_body: String,
    pub(super) template_slug: String,
    pub(super) role: &'static str,
    pub(super) trade_reference: String,
    pub(super) status: InstructionStatus,
    pub(super) body: String,
    pub(super) settlement_id: Option<String>,
    pub(super) match_failure: Option<String>,
    pub(super) timeout_at: i64,
    pub(super) expires_at: i64,
    pub(super) now: i64,
}

/// Inserts `rows` with one statement (`created_at` = `updated_at` = `now`). A used
/// idempotency key fails it with the unique violation of `instructions_idempotency`.
async fn insert_rows(conn: &mut AnyConnection, rows: &[NewRow]) -> sqlx::Result<()> {
    insert_statement(rows).execute(conn).await?;
    Ok(())
}

/// The INSERT of [`insert_rows`].
fn insert_statement(rows: &[NewRow]) -> Statement<'_> {
    let sql = format!(
        "INSERT INTO instructions (id, platform_id, idempotency_key, request_hash, response_body, template_slug, role, trade_reference, status, body, settlement_id, match_failure, timeout_at, expires_at, created_at, updated_at) VALUES {}",
        crate::sql::value_rows(rows.len(), 16)
    );
    let mut q = Statement::new(sql);
    for r in rows {
        q = q
            .bind(&r.id)
            .bind(&r.platform)
            .bind(&r.key)
            .bind(&r.hash)
            .bind(&r.response_body)
            .bind(&r.template_slug)
            .bind(r.role)
            .bind(&r.trade_reference)
            .bind(r.status.as_str())
            .bind(&r.body)
            .bind(r.settlement_id.as_deref())
            .bind(r.match_failure.as_deref())
            .bind(r.timeout_at)
            .bind(r.expires_at)
            .bind(r.now)
            .bind(r.now);
    }
    q
}

/// Inserts one instruction, reserving its idempotency key; `false` if a concurrent
/// request with the same key won the race.
pub(super) async fn insert_one(conn: &mut AnyConnection, row: NewRow) -> Result<bool> {
    match insert_rows(conn, std::slice::from_ref(&row)).await {
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Ok(false),
        Err(e) => Err(e.into()),
        Ok(()) => Ok(true),
    }
}

/// What a group of submissions ([`super::group`]) writes at its end instead of at once:
/// the instructions, the claims of the first sides they match, and the settlements
/// matched without leftovers to close. Every read a later submission of the group makes
/// is by its own idempotency key or trade reference, so the group flushes first whenever
/// one names a deferred reference ([`Deferred::names`]) or repeats a key.
#[derive(Debug, Default)]
pub(super) struct Deferred {
    /// Instructions to insert.
    pub(super) instructions: Vec<NewRow>,
    /// First sides to mark matched: `(id, trade reference, settlement, time)`.
    claims: Vec<(String, String, String, i64)>,
    /// Settlements to create (after their instructions).
    pub(super) settlements: Vec<SettlementRow>,
    /// Trade references read at the group's start ([`super::pairing::reference_read`]),
    /// each until a submission naming it takes it ([`Deferred::take_reference`]).
    references: References,
}

/// Trade reference → its row read at a group's start.
#[derive(Default)]
struct References(HashMap<String, AnyRow>);

impl std::fmt::Debug for References {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.0.keys()).finish()
    }
}

impl Deferred {
    /// Whether anything deferred is under trade reference `tr`.
    pub(super) fn names(&self, tr: &str) -> bool {
        self.instructions.iter().any(|r| r.trade_reference == tr)
            || self.claims.iter().any(|(_, t, _, _)| t == tr)
            || self.settlements.iter().any(|s| s.trade_reference == tr)
    }

    /// Nothing deferred yet; `read` the rows of the group's read of its trade references,
    /// each with its reference as `tr`.
    pub(super) fn with_references(read: Vec<AnyRow>) -> Result<Deferred> {
        let mut references = HashMap::with_capacity(read.len());
        for row in read {
            references.insert(row.try_get("tr")?, row);
        }
        Ok(Deferred {
            references: References(references),
            ..Deferred::default()
        })
    }

    /// The group's earlier read of `tr`, for the first submission that names it; later
    /// ones read it again (the first may have written under it).
    pub(super) fn take_reference(&mut self, tr: &str) -> Option<AnyRow> {
        self.references.0.remove(tr)
    }

    /// Defers the claim of `m`'s first side for settlement `sid`: it was read pending in
    /// this write transaction, and nothing of the group touched its reference since.
    pub(super) fn claim(&mut self, m: &Matched, sid: &str, now: i64) {
        if let Some((first, _)) = &m.counterpart {
            let tr = m.trade_reference.clone();
            self.claims.push((first.id.clone(), tr, sid.into(), now));
        }
    }

    /// Writes everything deferred, on SQLite in one request ([`outbox::run_with_events`]):
    /// one INSERT for the instructions (a used key fails it, and the group is run again
    /// one by one), one UPDATE for the claims, which must find each first side still
    /// pending, then the settlements ([`creation`]), each with its matching cause.
    pub(super) async fn flush(&mut self, conn: &mut AnyConnection) -> Result<()> {
        let instructions = std::mem::take(&mut self.instructions);
        let claims = std::mem::take(&mut self.claims);
        let settlements = std::mem::take(&mut self.settlements);
        let batch: Vec<(&SettlementRow, String)> =
            settlements.iter().map(|s| (s, creation_cause(s))).collect();
        let mut script = Vec::new();
        if !instructions.is_empty() {
            script.push(insert_statement(&instructions));
        }
        let claimed_at = claims_statement(&claims).map(|st| {
            script.push(st);
            script.len() - 1
        });
        let mut events = None;
        if let Some(c) = creation(conn, &batch).await? {
            script.extend(c.statements);
            events = c.events;
        }
        let done = outbox::run_with_events(conn, script, events).await?;
        if let (Some(i), Some((_, first_tr, _, _))) = (claimed_at, claims.first()) {
            let claimed = done.get(i).map_or(0, |d| d.rows_affected);
            if usize::try_from(claimed).ok() != Some(claims.len()) {
                return Err(Error::ConcurrentMatch {
                    trade_reference: first_tr.clone(),
                });
            }
        }
        Ok(())
    }
}

/// The UPDATE that marks every claimed first side `(id, trade reference, settlement,
/// time)` matched, where it is still pending (`None` for no claims).
fn claims_statement(claims: &[(String, String, String, i64)]) -> Option<Statement<'_>> {
    if claims.is_empty() {
        return None;
    }
    let n = claims.len();
    let arms = |k: usize| -> String {
        (0..n)
            .map(|i| format!(" WHEN ${} THEN ${}", 3 + 3 * i, 3 + 3 * i + k))
            .collect()
    };
    let ids: Vec<String> = (0..n).map(|i| format!("${}", 3 + 3 * i)).collect();
    let sql = format!(
        "UPDATE instructions SET status = $1, settlement_id = CASE id{} END, updated_at = CASE id{} END WHERE status = $2 AND id IN ({})",
        arms(1),
        arms(2),
        ids.join(", ")
    );
    let mut q = Statement::new(sql)
        .bind(InstructionStatus::Matched.as_str())
        .bind(InstructionStatus::PendingMatch.as_str());
    for (id, _, sid, now) in claims {
        q = q.bind(id).bind(sid).bind(*now);
    }
    Some(q)
}

/// The columns of [`InstructionRow`].
const COLS: &str = "id, status, trade_reference, template_slug, body, settlement_id, match_failure, timeout_at, expires_at, created_at, updated_at";

/// An `instructions` row as the views read it (and as submission writes it).
#[derive(Debug, sqlx::FromRow)]
pub(super) struct InstructionRow {
    pub(super) id: String,
    #[sqlx(try_from = "String")]
    pub(super) status: InstructionStatus,
    pub(super) trade_reference: String,
    pub(super) template_slug: String,
    pub(super) body: String,
    pub(super) settlement_id: Option<String>,
    pub(super) match_failure: Option<String>,
    pub(super) timeout_at: i64,
    pub(super) expires_at: i64,
    pub(super) created_at: i64,
    pub(super) updated_at: i64,
}

impl InstructionRow {
    /// The API view of the row.
    pub(super) fn view(self) -> Result<InstructionView> {
        let body: InstructionBody =
            serde_json::from_str(&self.body).map_err(|e| Error::Corrupt {
                what: "instruction body",
                message: e.to_string(),
            })?;
        let failure: Option<MatchFailure> = self
            .match_failure
            .as_deref()
            .and_then(|f| serde_json::from_str(f).ok());
        let match_result = match &self.settlement_id {
            Some(sid) => Some(MatchView {
                matched: true,
                settlement_id: Some(sid.clone()),
                rule: None,
                message: None,
            }),
            None => failure.map(|f| MatchView {
                matched: false,
                settlement_id: None,
                rule: Some(f.rule),
                message: Some(f.message),
            }),
        };
        Ok(InstructionView {
            id: self.id,
            status: self.status,
            trade_reference: self.trade_reference,
            template_slug: self.template_slug,
            role: body.role,
            party: body.party,
            legs: body.legs,
            counterparty_platform_id: body.counterparty_platform_id,
            counterparty_platform_ids: body.counterparty_platform_ids,
            timeout_at: rfc3339(self.timeout_at),
            expires_at: rfc3339(self.expires_at),
            settlement_id: self.settlement_id,
            match_result,
            created_at: rfc3339(self.created_at),
            updated_at: rfc3339(self.updated_at),
        })
    }
}

/// One instruction's view, inside the caller's transaction.
pub(crate) async fn view_by_id(conn: &mut AnyConnection, id: &str) -> Result<InstructionView> {
    let r: InstructionRow =
        sqlx::query_as(&format!("SELECT {COLS} FROM instructions WHERE id = $1"))
            .bind(id)
            .fetch_one(conn)
            .await?;
    r.view()
}

/// Marks pending instructions past their expiry as expired (all platforms, or one).
pub async fn expire(db: &Db, platform: Option<&str>) -> Result<u64> {
    let base = "UPDATE instructions SET status = $1, updated_at = $2 WHERE status = $3 AND expires_at <= $2";
    let q = match platform {
        Some(_) => format!("{base} AND platform_id = $4"),
        None => base.to_string(),
    };
    let mut q = sqlx::query(&q)
        .bind(InstructionStatus::Expired.as_str())
        .bind(now_ms())
        .bind(InstructionStatus::PendingMatch.as_str());
    if let Some(p) = platform {
        q = q.bind(p);
    }
    Ok(q.execute(db.pool()).await?.rows_affected())
}

/// One of the platform's instructions (lazily expired).
pub async fn get(db: &Db, platform: &str, id: &str) -> Result<Option<InstructionView>> {
    expire(db, Some(platform)).await?;
    let r: Option<InstructionRow> = sqlx::query_as(&format!(
        "SELECT {COLS} FROM instructions WHERE id = $1 AND platform_id = $2"
    ))
    .bind(id)
    .bind(platform)
    .fetch_optional(db.pool())
    .await?;
    r.map(InstructionRow::view).transpose()
}

/// The platform's instructions, newest first, optionally with one status.
pub async fn list(
    db: &Db,
    platform: &str,
    status: Option<InstructionStatus>,
    limit: i64,
    offset: i64,
) -> Result<(Vec<InstructionView>, i64)> {
    expire(db, Some(platform)).await?;
    let cond = if status.is_some() {
        "platform_id = $1 AND status = $2"
    } else {
        "platform_id = $1 AND $2 = $2"
    };
    let st = status.map(InstructionStatus::as_str).unwrap_or("");
    let total: i64 = sqlx::query(&format!(
        "SELECT COUNT(*) AS n FROM instructions WHERE {cond}"
    ))
    .bind(platform)
    .bind(st)
    .fetch_one(db.pool())
    .await?
    .try_get("n")?;
    let rows: Vec<InstructionRow> = sqlx::query_as(&format!("SELECT {COLS} FROM instructions WHERE {cond} ORDER BY created_at DESC, id DESC LIMIT $3 OFFSET $4"))
        .bind(platform).bind(st).bind(limit).bind(offset).fetch_all(db.pool()).await?;
    Ok((
        rows.into_iter()
            .map(InstructionRow::view)
            .collect::<Result<_>>()?,
        total,
    ))
}

/// The outcome of a cancel request.
#[derive(Debug)]
pub enum Cancelled {
    /// Cancelled; the new view.
    Done(Box<InstructionView>),
    /// Not the platform's, or missing.
    NotFound,
    /// Not `pending_match`; its current status.
    WrongStatus(InstructionStatus),
}

/// Cancels a pending instruction.
pub async fn cancel(db: &Db, platform: &str, id: &str) -> Result<Cancelled> {
    let Some(v) = get(db, platform, id).await? else {
        return Ok(Cancelled::NotFound);
    };
    let r = sqlx::query("UPDATE instructions SET status = $1, updated_at = $2 WHERE id = $3 AND platform_id = $4 AND status = $5")
        .bind(InstructionStatus::Cancelled.as_str()).bind(now_ms()).bind(id).bind(platform).bind(InstructionStatus::PendingMatch.as_str())
        .execute(db.pool()).await?;
    if r.rows_affected() != 1 {
        return Ok(Cancelled::WrongStatus(v.status));
    }
    Ok(match get(db, platform, id).await? {
        Some(v) => Cancelled::Done(Box::new(v)),
        None => Cancelled::NotFound,
    })
}
