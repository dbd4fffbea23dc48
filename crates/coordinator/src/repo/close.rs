//! Registering a repo's close from the terms fixed at opening, exactly once: by the
//! settlement worker once the opening is `FINALIZED` and its maturity has passed by the
//! hub chain's clock ([`due_round`]), or early by an operator ([`register_close`]).
//!
//! One transaction claims the opening (`closing_settlement_id` set where it is NULL, the
//! row lock making a concurrent registrar wait and then find it taken), writes the
//! close's two instructions (one per platform, status `matched`), creates the close
//! settlement (`parent_settlement_id`, unique) and queues the `close_registered`
//! webhooks; a crash before the commit leaves nothing, after it the close exists once.

use super::closing::{ClosingTerms, close_instruction};
use super::status::{CLOSE_REGISTERED, RepoStatus, StoredRepoStatus};
use crate::instructions::store::view_by_id;
use crate::instructions::submit::request_hash;
use crate::settlements::machine::{self, notify_parties};
use crate::settlements::queue::{self, Queue};
use crate::settlements::store::{self, SettlementRow, parse_json};
use crate::settlements::{Lifecycle, worker::with_causes};
use crate::trade::Role;
use crate::{Error, Result, rfc3339};
use lockstep_core::{InstructionStatus, SettlementState, new_id, now_ms};
use serde_json::json;
use sqlx::AnyConnection;
use std::collections::HashMap;

/// Why a close cannot be registered for a settlement.
#[derive(Debug, thiserror::Error)]
pub enum CloseRefused {
    /// No such settlement.
    #[error("no settlement {0}")]
    NotFound(String),
    /// Not a repo opening, or not `FINALIZED` (yet).
    #[error("{0}")]
    NotClosable(String),
}

/// Who registers a close.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger<'a> {
    /// The settlement worker: maturity has passed by the hub chain's clock.
    Maturity,
    /// An operator (the token id), possibly before maturity: refused while the close's
    /// deadline is further away than the escrows register.
    Operator(&'a str),
}

impl Trigger<'_> {
    /// The close's first event's cause.
    fn cause(self) -> String {
        match self {
            Trigger::Maturity => "maturity passed".into(),
            Trigger::Operator(token) => format!("early close by operator token {token}"),
        }
    }
}

/// A registered close.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registered {
    /// The close settlement.
    pub closing_settlement_id: String,
    /// Whether this call registered it (false: it already was).
    pub created: bool,
}

/// Registers the close of repo opening `id` now, unless it already is (idempotent).
pub async fn register_close(
    lc: &Lifecycle,
    id: &str,
    trigger: Trigger<'_>,
) -> Result<std::result::Result<Registered, CloseRefused>> {
    let mut tx = lc.db.pool().begin().await?;
    let o = match closable(&mut tx, id).await? {
        Closable::Opening(o) => o,
        Closable::Registered(r) => return Ok(Ok(r)),
        Closable::Refused(e) => return Ok(Err(e)),
    };
    let (terms, terms_ref) = fixed_terms(&o)?;
    let now = now_ms();
    if let Trigger::Operator(_) = trigger
        && let Some(refused) = too_early(lc, &terms, now)?
    {
        return Ok(Err(refused));
    }
    let sid = new_id("stl");
    let claimed = sqlx::query("UPDATE settlements SET closing_settlement_id = $1, repo_status = $2, worker_lease_until = 0, updated_at = $3 WHERE id = $4 AND state = $5 AND closing_settlement_id IS NULL AND repo_status = $6")
        .bind(&sid).bind(RepoStatus::Closing.as_str()).bind(now).bind(id).bind(SettlementState::Finalized.as_str()).bind(RepoStatus::Open.as_str())
        .execute(&mut *tx).await?;
    if claimed.rows_affected() != 1 {
        // Another registrar took it between the read and the claim: answer from its row.
        drop(tx);
        let mut conn = lc.db.pool().acquire().await?;
        return Ok(match closable(&mut conn, id).await? {
            Closable::Registered(r) => Ok(r),
            Closable::Refused(e) => Err(e),
            Closable::Opening(_) => Err(CloseRefused::NotClosable(format!(
                "repo opening {id} changed while its close was being registered; retry"
            ))),
        });
    }
    let cause = trigger.cause();
    let close = insert_close(&mut tx, &o, &terms, &terms_ref, &sid, now, &cause).await?;
    let data = json!({
        "settlement_id": o.id,
        "closing_settlement_id": sid,
        "closing_trade_reference": terms.trade_reference,
        "repo_status": RepoStatus::Closing,
        "maturity_at": terms.maturity_at,
        "closing_timeout_at": terms.timeout_at,
        "timestamp": rfc3339(now),
    });
    notify_parties(&mut tx, &close, CLOSE_REGISTERED, &data).await?;
    tx.commit().await?;
    tracing::info!(opening = id, close = sid, cause, "repo close registered");
    lc.hook.transitioned(SettlementState::Instructed);
    lc.hook.wake_settlements();
    Ok(Ok(Registered {
        closing_settlement_id: sid,
        created: true,
    }))
}

/// What [`closable`] found.
enum Closable {
    /// A `FINALIZED` repo opening without a close.
    Opening(Box<SettlementRow>),
    /// Its close is registered already.
    Registered(Registered),
    /// Unknown, not a repo opening, or not `FINALIZED`.
    Refused(CloseRefused),
}

/// Whether settlement `id` is a repo opening whose close can be registered now.
async fn closable(conn: &mut AnyConnection, id: &str) -> Result<Closable> {
    let Some(o) = store::load(conn, id).await? else {
        return Ok(Closable::Refused(CloseRefused::NotFound(id.into())));
    };
    if let Some(c) = &o.closing_settlement_id {
        return Ok(Closable::Registered(Registered {
            closing_settlement_id: c.clone(),
            created: false,
        }));
    }
    let refused = |m: String| Ok(Closable::Refused(CloseRefused::NotClosable(m)));
    if o.repo_status.0.is_none() || o.parent_settlement_id.is_some() {
        return refused(format!("settlement {id} is not a repo opening"));
    }
    if o.state != SettlementState::Finalized {
        return refused(format!(
            "repo opening {id} is {}: only a FINALIZED opening is closed",
            o.state
        ));
    }
    Ok(Closable::Opening(Box::new(o)))
}

/// The closing terms stored with an opening, and their ref.
fn fixed_terms(o: &SettlementRow) -> Result<(ClosingTerms, String)> {
    let missing = |what: &str| Error::Corrupt {
        what: "repo opening",
        message: format!("{} has no {what}", o.id),
    };
    let terms: ClosingTerms = parse_json("closing_terms", o.closing_terms.as_deref())?
        .ok_or_else(|| missing("closing terms"))?;
    let reference = o
        .closing_terms_ref
        .clone()
        .ok_or_else(|| missing("closing terms ref"))?;
    Ok((terms, reference))
}

/// An early close whose deadline is further from `now` than the smallest settlement
/// duration limit of its chains' escrows: registration would be refused on chain.
fn too_early(lc: &Lifecycle, terms: &ClosingTerms, now: i64) -> Result<Option<CloseRefused>> {
    let deadline = deadline_ms(terms)?;
    let limits = terms
        .seller
        .legs
        .iter()
        .filter_map(|l| lc.escrows.by_chain_id(l.chain_id))
        .filter_map(|c| c.max_settlement_duration_secs);
    if super::fields::registrable(deadline, now, limits) {
        return Ok(None);
    }
    Ok(Some(CloseRefused::NotClosable(format!(
        "too early: the close's deadline {} is further away than the escrows' settlement duration limit; try closer to maturity ({})",
        terms.timeout_at, terms.maturity_at
    ))))
}

/// The close's deadline (epoch ms) from its terms.
fn deadline_ms(terms: &ClosingTerms) -> Result<i64> {
    chrono::DateTime::parse_from_rfc3339(&terms.timeout_at)
        .map(|t| t.timestamp_millis())
        .map_err(|e| Error::Corrupt {
            what: "closing terms",
            message: e.to_string(),
        })
}

/// Writes the close's instructions and creates the close settlement `sid` from `terms`.
async fn insert_close(
    conn: &mut AnyConnection,
    o: &SettlementRow,
    terms: &ClosingTerms,
    terms_ref: &str,
    sid: &str,
    now: i64,
    cause: &str,
) -> Result<SettlementRow> {
    let deadline = deadline_ms(terms)?;
    let mut ids = Vec::with_capacity(2);
    for (role, platform) in [
        (Role::Seller, &o.seller_platform_id),
        (Role::Buyer, &o.buyer_platform_id),
    ] {
        let iid = new_id("ins");
        let body = close_instruction(terms, role, &iid);
        sqlx::query("INSERT INTO instructions (id, platform_id, idempotency_key, request_hash, response_body, template_slug, role, trade_reference, status, body, settlement_id, match_failure, timeout_at, expires_at, created_at, updated_at) VALUES ($1, $2, $1, $3, '', $4, $5, $6, $7, $8, $9, NULL, $10, $10, $11, $11)")
            .bind(&iid).bind(platform).bind(request_hash(&body)?).bind(&body.template_slug).bind(role.as_str())
            .bind(&terms.trade_reference).bind(InstructionStatus::Matched.as_str()).bind(serde_json::to_string(&body)?)
            .bind(sid).bind(deadline).bind(now)
            .execute(&mut *conn).await?;
        ids.push(iid);
    }
    let row = SettlementRow {
        id: sid.into(),
        trade_reference: terms.trade_reference.clone(),
        state: SettlementState::Instructed,
        seller_instruction_id: ids[0].clone(),
        buyer_instruction_id: ids[1].clone(),
        timeout_at: deadline,
        created_at: now,
        updated_at: now,
        parent_settlement_id: Some(o.id.clone()),
        closing_settlement_id: None,
        repo_status: StoredRepoStatus(None),
        repo_maturity_at: None,
        closing_terms: o.closing_terms.clone(),
        closing_terms_ref: Some(terms_ref.into()),
        compliance: None,
        decision_ref: None,
        evidence: None,
        terms: None,
        terms_hash: None,
        attestations: None,
        registrar_notified_at: None,
        ..o.clone()
    };
    machine::create_with_cause(conn, &row, &format!("repo close of {}: {cause}", o.id)).await?;
    for iid in &ids {
        let view = serde_json::to_string(&view_by_id(conn, iid).await?)?;
        sqlx::query("UPDATE instructions SET response_body = $1 WHERE id = $2")
            .bind(view)
            .bind(iid)
            .execute(&mut *conn)
            .await?;
    }
    Ok(row)
}

/// The clock (unix ms) that decides whether `o`'s maturity has passed: the latest block
/// time of its hub chain (the chain of its terms' `hubEid`), read through the registrar
/// once per round and chain; the coordinator's clock when no registrar is configured or
/// it keeps no clock for that chain. `None` when the chain's clock cannot be read now.
async fn clock_ms(
    lc: &Lifecycle,
    o: &SettlementRow,
    clocks: &mut HashMap<u64, Option<i64>>,
) -> Result<Option<i64>> {
    let hub = parse_json::<serde_json::Value>("terms", o.terms.as_deref())?
        .and_then(|t| crate::terms::terms_from_json(&t))
        .and_then(|t| lc.escrows.by_eid(t.hubEid))
        .map(|c| c.chain_id);
    let (Some(reg), Some(chain_id)) = (&lc.registrar, hub) else {
        return Ok(Some(now_ms()));
    };
    if let Some(t) = clocks.get(&chain_id) {
        return Ok(*t);
    }
    let t = match reg.chain_time(chain_id).await {
        Ok(Some(secs)) => Some(i64::try_from(secs.saturating_mul(1000)).unwrap_or(i64::MAX)),
        Ok(None) => Some(now_ms()),
        Err(e) => {
            tracing::warn!(chain_id, error = %with_causes(&e), "cannot read the hub chain's clock; repo closes wait");
            None
        }
    };
    clocks.insert(chain_id, t);
    Ok(t)
}

/// The worker's repo round: claims finalised repo openings without a close, registers
/// the close of each whose maturity has passed and leaves the others for a later round
/// (leased for [`queue::RETRY_AFTER`]). Returns how many closes it registered.
pub async fn due_round(lc: &Lifecycle) -> Result<usize> {
    // On SQLite, most rounds find nothing: look through the read pool first.
    if lc.db.backend() == lockstep_core::Backend::Sqlite
        && !queue::any_waiting(&lc.db, Queue::RepoClose).await?
    {
        return Ok(0);
    }
    let mut tx = lc.db.pool().begin().await?;
    let claimed = queue::claim(
        &mut tx,
        lc.db.backend(),
        Queue::RepoClose,
        crate::settlements::batch::BATCH,
    )
    .await?;
    tx.commit().await?;
    let mut clocks = HashMap::new();
    let mut registered = 0;
    for o in &claimed {
        let due = match (clock_ms(lc, o, &mut clocks).await?, o.repo_maturity_at) {
            (Some(now), Some(maturity)) => now >= maturity,
            _ => false,
        };
        if due {
            match register_close(lc, &o.id, Trigger::Maturity).await {
                // Registered (by this round or just before by another instance): the
                // opening has left the queue.
                Ok(Ok(r)) => {
                    registered += usize::from(r.created);
                    continue;
                }
                Ok(Err(refused)) => {
                    tracing::warn!(settlement_id = o.id, %refused, "a due repo close was refused");
                }
                Err(e) => {
                    tracing::warn!(settlement_id = o.id, error = %with_causes(&e), "registering a repo close failed; will retry");
                }
            }
        }
        let mut conn = lc.db.pool().acquire().await?;
        queue::retry_later(&mut conn, &o.id).await?;
    }
    Ok(registered)
}
