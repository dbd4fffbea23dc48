//! One transition for a batch of settlements in a few statements, whatever the batch's
//! size: the settlement worker's `INSTRUCTED` → `COMPLIANCE_CHECKING` step
//! ([`super::batch`]). Each settlement gets exactly what [`super::machine::transition`] would
//! write (the guarded state update, its hashed trail event, a webhook event per party);
//! only the round trips are shared.

use super::machine::{
    NextEvent, TRAIL_HEAD_RETURNING, TrailHead, append_events, event_data, trail_head,
};
use super::store::{self, SettlementRow};
use crate::webhooks::outbox;
use crate::{Error, Result};
use lockstep_core::{SettlementState, now_ms};
use serde_json::Value;
use sqlx::{AnyConnection, Row};
use std::collections::HashMap;

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
    let Some(first) = batch.first() else {
        return Ok(Vec::new());
    };
    let from = first.state;
    if let Some(s) = batch
        .iter()
        .find(|s| s.state != from || !s.state.can_transition_to(to))
    {
        return Err(Error::IllegalTransition {
            settlement_id: s.id.clone(),
            from: s.state,
            to,
        });
    }
    let now = now_ms();
    let heads = update_all(conn, batch, from, to, now).await?;
    let moved: Vec<&SettlementRow> = batch
        .iter()
        .copied()
        .filter(|s| heads.contains_key(&s.id))
        .collect();
    let events: Vec<NextEvent<'_>> = moved
        .iter()
        .map(|s| NextEvent {
            settlement_id: &s.id,
            head: heads.get(&s.id).cloned().flatten(),
            from: Some(from),
            to,
            cause,
            at: now,
        })
        .collect();
    append_events(conn, &events).await?;
    let data: Vec<Value> = moved
        .iter()
        .map(|s| event_data(s, to, Some(from), now))
        .collect();
    let event_name = to.event_name();
    let event = event_name.as_str();
    let mut platforms = Vec::with_capacity(moved.len());
    for s in &moved {
        platforms.push(store::platforms_of(conn, s).await?);
    }
    let rows: Vec<(&str, &str, &Value)> = platforms
        .iter()
        .zip(&data)
        .flat_map(|(ps, d)| ps.iter().map(move |p| (p.as_str(), event, d)))
        .collect();
    outbox::enqueue_rows(conn, &rows, None).await?;
    for s in &moved {
        crate::repo::status::close_moved(conn, s, to).await?;
    }
    Ok(moved.iter().map(|s| s.id.clone()).collect())
}

/// The guarded update of every settlement still in `from`, returning each one's trail head.
async fn update_all(
    conn: &mut AnyConnection,
    batch: &[&SettlementRow],
    from: SettlementState,
    to: SettlementState,
    now: i64,
) -> Result<HashMap<String, TrailHead>> {
    let ids: Vec<String> = (0..batch.len()).map(|i| format!("${}", i + 4)).collect();
    let sql = format!(
        "UPDATE settlements SET state = $1, updated_at = $2 WHERE state = $3 AND id IN ({}){TRAIL_HEAD_RETURNING}",
        ids.join(", ")
    );
    let mut q = sqlx::query(&sql)
        .bind(to.as_str())
        .bind(now)
        .bind(from.as_str());
    for s in batch {
        q = q.bind(s.id.as_str());
    }
    let mut heads = HashMap::new();
    for r in q.fetch_all(&mut *conn).await? {
        heads.insert(r.try_get::<String, _>("id")?, trail_head(&r)?);
    }
    Ok(heads)
}
