//! The transactional outbox: an event per platform and a delivery per enabled endpoint,
//! written in the caller's transaction so a state change and its webhooks commit together.

use super::delivery::DeliveryStatus;
use super::endpoints;
use crate::{Result, rfc3339};
use lockstep_core::{Db, new_id, now_ms};
use serde_json::Value;
use sqlx::{AnyConnection, Row};

/// Writes an event for one platform and a delivery per enabled endpoint (or only to
/// `only_endpoint`), inside the caller's transaction. Returns the event id.
pub async fn enqueue(
    conn: &mut AnyConnection,
    platform: &str,
    event: &str,
    data: Value,
    only_endpoint: Option<&str>,
) -> Result<String> {
    let mut ids = enqueue_all(conn, &[platform], event, &data, only_endpoint).await?;
    Ok(ids.pop().unwrap_or_default())
}

/// Writes one event per platform of `platforms` (each with its own id) and a delivery per
/// enabled endpoint of each (or only to `only_endpoint`), inside the caller's
/// transaction. Returns the event ids in the order of `platforms`.
///
/// One round trip for the events: a multi-row INSERT whose RETURNING reads each row's
/// platform's enabled endpoints (a correlated subquery; `string_agg` is SQLite 3.44+ and
/// PostgreSQL). Then one INSERT per delivery.
pub async fn enqueue_all(
    conn: &mut AnyConnection,
    platforms: &[&str],
    event: &str,
    data: &Value,
    only_endpoint: Option<&str>,
) -> Result<Vec<String>> {
    if platforms.is_empty() {
        return Ok(Vec::new());
    }
    let now = now_ms();
    let settlement = data["settlement_id"].as_str().map(str::to_owned);
    let ids: Vec<String> = platforms.iter().map(|_| new_id("msg")).collect();
    let rows: Vec<String> = (0..platforms.len())
        .map(|i| {
            let b = 4 + 3 * i;
            format!("(${}, ${}, $1, ${}, $2, $3)", b, b + 1, b + 2)
        })
        .collect();
    let sql = format!(
        "INSERT INTO webhook_events (id, platform_id, event_type, payload, created_at, settlement_id) VALUES {} RETURNING id, (SELECT string_agg(e.id, ',') FROM webhook_endpoints e WHERE e.platform_id = webhook_events.platform_id AND e.enabled = 1) AS endpoints",
        rows.join(", ")
    );
    let mut q = sqlx::query(&sql).bind(event).bind(now).bind(settlement);
    for (id, platform) in ids.iter().zip(platforms) {
        let payload = serde_json::json!({"id": id, "event": event, "data": data});
        q = q
            .bind(id.clone())
            .bind(platform.to_string())
            .bind(serde_json::to_string(&payload)?);
    }
    let returned = q.fetch_all(&mut *conn).await?;
    for r in returned {
        let id: String = r.try_get("id")?;
        let endpoints: Option<String> = r.try_get("endpoints")?;
        let Some(platform) = ids.iter().position(|i| *i == id).map(|i| platforms[i]) else {
            continue;
        };
        for ep_id in endpoints.as_deref().unwrap_or("").split(',') {
            if ep_id.is_empty() || only_endpoint.is_some_and(|o| o != ep_id) {
                continue;
            }
            sqlx::query("INSERT INTO webhook_deliveries (id, event_id, endpoint_id, platform_id, status, attempts, next_attempt_at, locked_until, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, 0, $6, 0, $6, $6)")
                .bind(new_id("dlv")).bind(&id).bind(ep_id).bind(platform).bind(DeliveryStatus::Pending.as_str()).bind(now)
                .execute(&mut *conn).await?;
        }
    }
    Ok(ids)
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
