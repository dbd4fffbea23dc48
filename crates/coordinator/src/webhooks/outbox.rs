//! The transactional outbox: an event per platform and a delivery per enabled endpoint,
//! written in the caller's transaction so a state change and its webhooks commit together.

use super::delivery::DeliveryStatus;
use super::endpoints;
use crate::{Result, rfc3339};
use lockstep_core::{Db, new_id, now_ms};
use serde_json::Value;
use sqlx::{AnyConnection, Row};

/// Writes an event for one platform and a delivery per enabled endpoint (or only to
/// `only_endpoint`), inside the caller's transaction.
pub async fn enqueue(
    conn: &mut AnyConnection,
    platform: &str,
    event: &str,
    data: Value,
    only_endpoint: Option<&str>,
) -> Result<String> {
    let id = new_id("msg");
    let now = now_ms();
    let settlement = data["settlement_id"].as_str().map(str::to_owned);
    let payload = serde_json::json!({"id": id, "event": event, "data": data});
    // One round trip: the event, returning the platform's enabled endpoints (a
    // subquery in RETURNING; `string_agg` is SQLite 3.44+ and PostgreSQL).
    let endpoints: Option<String> = sqlx::query("INSERT INTO webhook_events (id, platform_id, event_type, payload, created_at, settlement_id) VALUES ($1, $2, $3, $4, $5, $6) RETURNING (SELECT string_agg(id, ',') FROM webhook_endpoints WHERE platform_id = $2 AND enabled = 1) AS endpoints")
        .bind(&id).bind(platform).bind(event).bind(serde_json::to_string(&payload)?).bind(now).bind(settlement)
        .fetch_one(&mut *conn).await?
        .try_get("endpoints")?;
    let endpoints = endpoints.unwrap_or_default();
    for ep_id in endpoints.split(',').filter(|e| !e.is_empty()) {
        if only_endpoint.is_some_and(|o| o != ep_id) {
            continue;
        }
        sqlx::query("INSERT INTO webhook_deliveries (id, event_id, endpoint_id, platform_id, status, attempts, next_attempt_at, locked_until, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, 0, $6, 0, $6, $6)")
            .bind(new_id("dlv")).bind(&id).bind(ep_id).bind(platform).bind(DeliveryStatus::Pending.as_str()).bind(now)
            .execute(&mut *conn).await?;
    }
    Ok(id)
}

/// Queues a `test.ping` to one endpoint. Returns the event id, or `None` if the
/// endpoint is not the platform's.
pub async fn test_ping(db: &Db, platform: &str, id: &str) -> Result<Option<String>> {
    if endpoints::get(db, platform, id).await?.is_none() {
        return Ok(None);
    }
    let mut tx = db.pool().begin().await?;
    let data = serde_json::json!({"endpoint_id": id, "timestamp": rfc3339(now_ms())});
    let ev = enqueue(&mut tx, platform, "test.ping", data, Some(id)).await?;
    tx.commit().await?;
    Ok(Some(ev))
}
