//! One transition for a batch of settlements in a few statements, whatever the batch's
//! size: the settlement worker's `INSTRUCTED` → `COMPLIANCE_CHECKING` step and its
//! clearances ([`super::batch`]). Each settlement gets what [`super::machine::transition`]
//! writes (the guarded state update, its hashed trail event, a webhook event per party),
//! plus its [`Also`] (further columns in the same update, further webhook events after the
//! state's); only the round trips are shared.

use super::machine::{
    Also, NextEvent, TRAIL_HEAD_RETURNING, TrailHead, event_data, trail_head, trail_statement,
};
use super::store::{self, SettlementRow};
use crate::sql::Statement;
use crate::webhooks::outbox;
use crate::{Error, Result};
use lockstep_core::{SettlementState, now_ms};
use serde_json::Value;
use sqlx::{AnyConnection, Row};
use std::collections::HashMap;

/// One settlement's part of a batch transition: its row, the cause of its event and what
/// it writes besides the state (its `also.columns` must name the same columns, in the
/// same order, as every other member's).
#[derive(Debug)]
pub struct Member<'a> {
    /// The settlement as read.
    pub s: &'a SettlementRow,
    /// Its event's cause.
    pub cause: &'a str,
    /// Further columns and webhook events.
    pub also: Also<'a>,
}

/// Moves every settlement of `batch` (all in one state) to `to` inside the caller's
/// transaction: one guarded update for all (returning each trail head), one INSERT of
/// their events and one of their webhook events. Returns the ids moved; a settlement no
/// longer in its state (moved by another actor since it was read) is left out, with
/// nothing written for it.
pub async fn transition_all(
    conn: &mut AnyConnection,
    batch: &[&SettlementRow],
    to: SettlementState,
    cause: &str,
) -> Result<Vec<String>> {
    let members: Vec<Member<'_>> = batch
        .iter()
        .map(|s| Member {
            s,
            cause,
            also: Also::default(),
        })
        .collect();
    transition_all_with(conn, &members, to).await
}

/// [`transition_all`] where each member has its own cause, further columns (set by the
/// same guarded update, a `CASE id` per column) and further webhook events (queued after
/// its state event).
pub async fn transition_all_with(
    conn: &mut AnyConnection,
    batch: &[Member<'_>],
    to: SettlementState,
) -> Result<Vec<String>> {
    let Some(first) = batch.first() else {
        return Ok(Vec::new());
    };
    let from = first.s.state;
    if let Some(m) = batch
        .iter()
        .find(|m| m.s.state != from || !m.s.state.can_transition_to(to))
    {
        return Err(Error::IllegalTransition {
            settlement_id: m.s.id.clone(),
            from: m.s.state,
            to,
        });
    }
    let now = now_ms();
    let heads = update_all(conn, batch, from, to, now).await?;
    let moved: Vec<&Member<'_>> = batch
        .iter()
        .filter(|m| heads.contains_key(&m.s.id))
        .collect();
    let events: Vec<NextEvent<'_>> = moved
        .iter()
        .map(|m| NextEvent {
            settlement_id: &m.s.id,
            head: heads.get(&m.s.id).cloned().flatten(),
            from: Some(from),
            to,
            cause: m.cause,
            at: now,
        })
        .collect();
    let event_name = to.event_name();
    let state_data: Vec<Value> = moved
        .iter()
        .map(|m| event_data(m.s, to, Some(from), now))
        .collect();
    let mut platforms = Vec::with_capacity(moved.len());
    for m in &moved {
        platforms.push(store::platforms_of(conn, m.s).await?);
    }
    // Per settlement: its state event, then its further events, each to every party.
    let mut rows: Vec<(&str, &str, &Value)> = Vec::new();
    for ((m, data), ps) in moved.iter().zip(&state_data).zip(&platforms) {
        let events = std::iter::once((event_name.as_str(), data))
            .chain(m.also.events.iter().map(|(e, d)| (*e, d)));
        for (e, d) in events {
            rows.extend(ps.iter().map(|p| (p.as_str(), e, d)));
        }
    }
    // The trail events and the webhook events: on SQLite one request.
    let mut script: Vec<Statement<'_>> = trail_statement(&events)?.into_iter().collect();
    let webhooks = outbox::events_statement(&rows, None)?.map(|(st, events)| {
        script.push(st);
        events
    });
    outbox::run_with_events(conn, script, webhooks).await?;
    for m in &moved {
        crate::repo::status::close_moved(conn, m.s, to).await?;
    }
    Ok(moved.iter().map(|m| m.s.id.clone()).collect())
}

/// The guarded update of `n` settlements (`$1` new state, `$2` time, `$3` expected state,
/// the ids from `$4`), setting each of `columns` per row with a `CASE id` whose values
/// follow the ids (row-major). The rows are found by primary key (`id IN (...)`), so the
/// plan needs no statistics (tests/plans.rs). Returns each row's id and trail head.
pub fn update_all_sql(n: usize, columns: &[&str]) -> String {
    let id = |i: usize| format!("${}", i + 4);
    let value = |i: usize, c: usize| format!("${}", 4 + n + i * columns.len() + c);
    let set: String = (columns.iter().enumerate())
        .map(|(c, name)| {
            let arms: String = (0..n)
                .map(|i| format!(" WHEN {} THEN {}", id(i), value(i, c)))
                .collect();
            format!(", {name} = CASE id{arms} END")
        })
        .collect();
    let ids: Vec<String> = (0..n).map(id).collect();
    format!(
        "UPDATE settlements SET state = $1, updated_at = $2{set} WHERE state = $3 AND id IN ({}){TRAIL_HEAD_RETURNING}",
        ids.join(", ")
    )
}

/// The guarded update of every member still in `from`, returning each one's trail head.
async fn update_all(
    conn: &mut AnyConnection,
    batch: &[Member<'_>],
    from: SettlementState,
    to: SettlementState,
    now: i64,
) -> Result<HashMap<String, TrailHead>> {
    let columns: Vec<&str> = batch
        .first()
        .map(|m| m.also.columns.iter().map(|(c, _)| *c).collect())
        .unwrap_or_default();
    if let Some(m) = batch.iter().find(|m| {
        !m.also
            .columns
            .iter()
            .map(|(c, _)| *c)
            .eq(columns.iter().copied())
    }) {
        return Err(Error::Corrupt {
            what: "batch transition",
            message: format!("settlement {} sets other columns than its batch", m.s.id),
        });
    }
    let sql = update_all_sql(batch.len(), &columns);
    // Inside the caller's transaction, rolled back on any error.
    let sql = crate::sql::or_fail_on(conn, &sql);
    let mut q = sqlx::query(&sql)
        .bind(to.as_str())
        .bind(now)
        .bind(from.as_str());
    for m in batch {
        q = q.bind(m.s.id.as_str());
    }
    for m in batch {
        for (_, v) in &m.also.columns {
            q = q.bind(v.as_str());
        }
    }
    let mut heads = HashMap::new();
    for r in q.fetch_all(&mut *conn).await? {
        heads.insert(r.try_get::<String, _>("id")?, trail_head(&r)?);
    }
    Ok(heads)
}
