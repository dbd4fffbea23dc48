//! The transactional outbox: an event per platform and a delivery per enabled endpoint,
//! written in the caller's transaction so a state change and its webhooks commit together.

use super::delivery::DeliveryStatus;
use super::endpoints;
use crate::sql::{Done, Statement};
use crate::{Result, rfc3339};
use lockstep_core::{Db, new_id, now_ms};
use serde_json::Value;
use sqlx::any::AnyRow;
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
    let mut ids = enqueue_rows(conn, &[(platform, event, &data)], only_endpoint).await?;
    Ok(ids.pop().unwrap_or_default())
}

/// Writes one event per `(platform, event type, data)` row, and a delivery per enabled
/// endpoint of its platform (or only to `only_endpoint`), inside the caller's
/// transaction. Returns the event ids in the order of `rows`.
pub async fn enqueue_rows(
    conn: &mut AnyConnection,
    rows: &[(&str, &str, &Value)],
    only_endpoint: Option<&str>,
) -> Result<Vec<String>> {
    let Some((statement, events)) = events_statement(rows, only_endpoint)? else {
        return Ok(Vec::new());
    };
    let done = statement.execute(conn).await?;
    events.deliver(conn, done.rows).await
}

/// Runs `script` ([`crate::sql::run_all`]), whose last statement is `events`' own when
/// there are events, then writes their deliveries. Returns what every statement returned
/// (the events' statement's rows are consumed).
pub(crate) async fn run_with_events(
    conn: &mut AnyConnection,
    script: Vec<Statement<'_>>,
    events: Option<Events<'_>>,
) -> Result<Vec<Done>> {
    let mut done = crate::sql::run_all(conn, script).await?;
    if let Some(events) = events {
        let returned = done.last_mut().map(|d| std::mem::take(&mut d.rows));
        events.deliver(conn, returned.unwrap_or_default()).await?;
    }
    Ok(done)
}

/// Events written by an [`events_statement`], whose deliveries are still to write.
#[derive(Debug)]
pub(crate) struct Events<'a> {
    /// The event ids, in the order of the rows.
    ids: Vec<String>,
    only_endpoint: Option<&'a str>,
    now: i64,
}

/// The statement that writes one event per `(platform, event type, data)` row (`None`
/// for no rows), and what [`Events::deliver`] then needs: one multi-row INSERT whose
/// RETURNING reads each row's platform's enabled endpoints (a correlated subquery;
/// `string_agg` is SQLite 3.44+ and PostgreSQL).
pub(crate) fn events_statement<'q, 'a>(
    rows: &[(&str, &str, &Value)],
    only_endpoint: Option<&'a str>,
) -> Result<Option<(Statement<'q>, Events<'a>)>> {
    if rows.is_empty() {
        return Ok(None);
    }
    let now = now_ms();
    let sql = format!(
        "INSERT INTO webhook_events (id, platform_id, event_type, payload, settlement_id, created_at) VALUES {} RETURNING id, platform_id, (SELECT string_agg(e.id, ',') FROM webhook_endpoints e WHERE e.platform_id = webhook_events.platform_id AND e.enabled = 1) AS endpoints",
        crate::sql::value_rows_after(1, rows.len(), 5, ", $1")
    );
    let mut q = Statement::new(sql).bind(now);
    let mut ids = Vec::with_capacity(rows.len());
    for (platform, event, data) in rows {
        let id = new_id("msg");
        let payload = serde_json::json!({"id": id, "event": event, "data": data});
        q = q
            .bind(id.clone())
            .bind(platform.to_string())
            .bind(event.to_string())
            .bind(serde_json::to_string(&payload)?)
            .bind(data["settlement_id"].as_str().map(str::to_owned));
        ids.push(id);
    }
    let events = Events {
        ids,
        only_endpoint,
        now,
    };
    Ok(Some((q, events)))
}

impl Events<'_> {
    /// Writes the deliveries of the events from `returned`, the rows their statement
    /// returned, with one INSERT for all. Returns the event ids in the order of the rows.
    pub(crate) async fn deliver(
        self,
        conn: &mut AnyConnection,
        mut returned: Vec<AnyRow>,
    ) -> Result<Vec<String>> {
        // RETURNING follows no order: deliveries are written in the events' order.
        let order = |r: &AnyRow| {
            let id: String = r.try_get("id").unwrap_or_default();
            self.ids.iter().position(|i| *i == id)
        };
        returned.sort_by_key(order);
        let mut deliveries = Vec::new();
        for r in returned {
            let id: String = r.try_get("id")?;
            let platform: String = r.try_get("platform_id")?;
            let endpoints: Option<String> = r.try_get("endpoints")?;
            for ep_id in endpoints.as_deref().unwrap_or("").split(',') {
                if ep_id.is_empty() || self.only_endpoint.is_some_and(|o| o != ep_id) {
                    continue;
                }
                deliveries.push((
                    new_id("dlv"),
                    id.clone(),
                    ep_id.to_string(),
                    platform.clone(),
                ));
            }
        }
        insert_deliveries(conn, &deliveries, self.now).await?;
        Ok(self.ids)
    }
}

/// Writes pending deliveries `(id, event, endpoint, platform)`, due at `now`, with one
/// multi-row INSERT.
async fn insert_deliveries(
    conn: &mut AnyConnection,
    deliveries: &[(String, String, String, String)],
    now: i64,
) -> Result<()> {
    if deliveries.is_empty() {
        return Ok(());
    }
    let sql = format!(
        "INSERT INTO webhook_deliveries (id, event_id, endpoint_id, platform_id, status, attempts, next_attempt_at, locked_until, created_at, updated_at) VALUES {}",
        crate::sql::value_rows_after(2, deliveries.len(), 4, ", $1, 0, $2, 0, $2, $2")
    );
    let mut q = sqlx::query(&sql)
        .bind(DeliveryStatus::Pending.as_str())
        .bind(now);
    for (id, event, endpoint, platform) in deliveries {
        q = q.bind(id).bind(event).bind(endpoint).bind(platform);
    }
    q.execute(&mut *conn).await?;
    Ok(())
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
