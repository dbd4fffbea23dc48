//! One transition for a batch of settlements in a few statements, whatever the batch's
//! size: the settlement worker's `INSTRUCTED` → `COMPLIANCE_CHECKING` step
//! ([`super::batch`]). Each settlement gets exactly what [`machine::transition`] would
//! write (the guarded state update, its hashed trail event, a webhook event per party);
//! only the round trips are shared.

use super::machine::{
    NEW_SETTLEMENT_COLUMNS, bind_new_settlement, creation_cause, event_data, event_hash,
    event_record, new_settlement_values,
};
use super::store::{self, SettlementRow};
use crate::webhooks::outbox;
use crate::{Error, Result, rfc3339};
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
    insert_events(conn, &moved, &heads, from, to, cause, now).await?;
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

/// The trail head of a settlement (`None`: no event yet).
type Head = Option<(i64, String)>;

/// The guarded update of every settlement still in `from`, returning each one's trail head.
async fn update_all(
    conn: &mut AnyConnection,
    batch: &[&SettlementRow],
    from: SettlementState,
    to: SettlementState,
    now: i64,
) -> Result<HashMap<String, Head>> {
    let ids: Vec<String> = (0..batch.len()).map(|i| format!("${}", i + 4)).collect();
    let sql = format!(
        "UPDATE settlements SET state = $1, updated_at = $2 WHERE state = $3 AND id IN ({}) RETURNING id, (SELECT seq FROM settlement_events e WHERE e.settlement_id = settlements.id ORDER BY seq DESC LIMIT 1) AS last_seq, (SELECT hash FROM settlement_events e WHERE e.settlement_id = settlements.id ORDER BY seq DESC LIMIT 1) AS last_hash",
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
        let head = match r.try_get::<Option<i64>, _>("last_seq")? {
            Some(seq) => Some((seq, r.try_get::<String, _>("last_hash")?)),
            None => None,
        };
        heads.insert(r.try_get::<String, _>("id")?, head);
    }
    Ok(heads)
}

/// One INSERT of the next trail event of every moved settlement.
async fn insert_events(
    conn: &mut AnyConnection,
    moved: &[&SettlementRow],
    heads: &HashMap<String, Head>,
    from: SettlementState,
    to: SettlementState,
    cause: &str,
    now: i64,
) -> Result<()> {
    if moved.is_empty() {
        return Ok(());
    }
    let at = rfc3339(now);
    let mut rows = Vec::with_capacity(moved.len());
    for s in moved {
        let (seq, prev) = match heads.get(&s.id).cloned().flatten() {
            Some((seq, hash)) => (seq + 1, Some(hash)),
            None => (1, None),
        };
        let record = event_record(&s.id, seq, Some(from), to, cause, &at, prev.as_deref());
        rows.push((s.id.as_str(), seq, prev, event_hash(&record)?));
    }
    let values: Vec<String> = (0..rows.len())
        .map(|i| {
            let b = 5 + 4 * i;
            format!("(${b}, ${}, $1, $2, $3, $4, ${}, ${})", b + 1, b + 2, b + 3)
        })
        .collect();
    let sql = format!(
        "INSERT INTO settlement_events (settlement_id, seq, from_state, to_state, cause, at, prev_hash, hash) VALUES {}",
        values.join(", ")
    );
    let mut q = sqlx::query(&sql)
        .bind(from.as_str())
        .bind(to.as_str())
        .bind(cause)
        .bind(now);
    for (id, seq, prev, hash) in rows {
        q = q.bind(id).bind(seq).bind(prev).bind(hash);
    }
    q.execute(&mut *conn).await?;
    Ok(())
}

/// Creates every settlement of `batch` in `INSTRUCTED` (two-party settlements only: their
/// parties are the seller and buyer columns) with its first event and its webhook
/// events, inside the caller's transaction: one INSERT each for the settlements, their
/// parties, their events and their webhook events. Each gets exactly what
/// [`super::machine::create`] would write. The caller runs
/// [`super::machine::AfterCommit::transitioned`] for each after committing.
pub async fn create_all(conn: &mut AnyConnection, batch: &[SettlementRow]) -> Result<()> {
    if batch.is_empty() {
        return Ok(());
    }
    if let Some(s) = batch.iter().find(|s| !s.more_parties.is_empty()) {
        return Err(Error::Corrupt {
            what: "settlement batch",
            message: format!("{} has more than two parties", s.id),
        });
    }
    let values: Vec<String> = (0..batch.len())
        .map(|i| new_settlement_values(16 * i))
        .collect();
    let sql = format!(
        "INSERT INTO settlements ({NEW_SETTLEMENT_COLUMNS}) VALUES {}",
        values.join(", ")
    );
    let mut q = sqlx::query(&sql);
    for s in batch {
        q = bind_new_settlement(q, s);
    }
    q.execute(&mut *conn).await?;
    insert_parties_all(conn, batch).await?;
    insert_first_events(conn, batch).await?;
    let data: Vec<Value> = batch
        .iter()
        .map(|s| event_data(s, SettlementState::Instructed, None, s.created_at))
        .collect();
    let event_name = SettlementState::Instructed.event_name();
    let event = event_name.as_str();
    let rows: Vec<(&str, &str, &Value)> = batch
        .iter()
        .zip(&data)
        .flat_map(|(s, d)| s.platforms().into_iter().map(move |p| (p, event, d)))
        .collect();
    outbox::enqueue_rows(conn, &rows, None).await?;
    Ok(())
}

/// One INSERT of the seller (position 0) and buyer (position 1) of every settlement.
async fn insert_parties_all(conn: &mut AnyConnection, batch: &[SettlementRow]) -> Result<()> {
    let values: Vec<String> = (0..2 * batch.len())
        .map(|i| {
            let b = 5 * i;
            format!(
                "(${}, ${}, ${}, ${}, ${})",
                b + 1,
                b + 2,
                b + 3,
                b + 4,
                b + 5
            )
        })
        .collect();
    let sql = format!(
        "INSERT INTO settlement_parties (settlement_id, position, role, platform_id, instruction_id) VALUES {}",
        values.join(", ")
    );
    let mut q = sqlx::query(&sql);
    for s in batch {
        q = q
            .bind(s.id.as_str())
            .bind(0_i64)
            .bind("seller")
            .bind(s.seller_platform_id.as_str())
            .bind(s.seller_instruction_id.as_str())
            .bind(s.id.as_str())
            .bind(1_i64)
            .bind("buyer")
            .bind(s.buyer_platform_id.as_str())
            .bind(s.buyer_instruction_id.as_str());
    }
    q.execute(&mut *conn).await?;
    Ok(())
}

/// One INSERT of every settlement's first trail event (seq 1, no previous hash).
async fn insert_first_events(conn: &mut AnyConnection, batch: &[SettlementRow]) -> Result<()> {
    let mut rows = Vec::with_capacity(batch.len());
    for s in batch {
        let cause = creation_cause(s);
        let to = SettlementState::Instructed;
        let record = event_record(&s.id, 1, None, to, &cause, &rfc3339(s.created_at), None);
        rows.push((s, cause, event_hash(&record)?));
    }
    let values: Vec<String> = (0..rows.len())
        .map(|i| {
            let b = 2 + 4 * i;
            format!(
                "(${}, 1, NULL, $1, ${}, ${}, NULL, ${})",
                b,
                b + 1,
                b + 2,
                b + 3
            )
        })
        .collect();
    let sql = format!(
        "INSERT INTO settlement_events (settlement_id, seq, from_state, to_state, cause, at, prev_hash, hash) VALUES {}",
        values.join(", ")
    );
    let mut q = sqlx::query(&sql).bind(SettlementState::Instructed.as_str());
    for (s, cause, hash) in rows {
        q = q
            .bind(s.id.as_str())
            .bind(cause)
            .bind(s.created_at)
            .bind(hash);
    }
    q.execute(&mut *conn).await?;
    Ok(())
}
