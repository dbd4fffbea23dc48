//! Webhooks: per-platform endpoints, the transactional outbox and the delivery worker.
//!
//! Every settlement state change writes one event per involved platform
//! (`webhook_events`) and one delivery per enabled endpoint of that platform
//! (`webhook_deliveries`) in the same transaction as the change. The worker claims due
//! deliveries (`FOR UPDATE SKIP LOCKED` on PostgreSQL), signs them the Standard Webhooks
//! way and retries with exponential backoff and jitter, recording every attempt.

use crate::db::{Backend, Db};
use crate::server::Coordinator;
use crate::{Error, Result, new_id, now_ms, rfc3339};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::Sha256;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;
use utoipa::ToSchema;

/// A new endpoint secret: `whsec_` + base64 of 32 random bytes.
pub fn new_secret() -> Result<String> {
    Ok(format!(
        "whsec_{}",
        B64.encode(crate::random_bytes::<32>()?)
    ))
}

/// `v1,<base64 HMAC-SHA256(key, "{id}.{timestamp}.{body}")>` with the key decoded from
/// `whsec_<base64>`.
pub fn sign(secret: &str, id: &str, timestamp: i64, body: &[u8]) -> Option<String> {
    let key = B64.decode(secret.strip_prefix("whsec_")?).ok()?;
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).ok()?;
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(body);
    Some(format!("v1,{}", B64.encode(mac.finalize().into_bytes())))
}

/// Whether any signature in a `webhook-signature` header verifies with `secret`
/// (what a receiver does; used by the tests).
pub fn verify(secret: &str, id: &str, timestamp: i64, body: &[u8], header: &str) -> bool {
    let Some(expected) = sign(secret, id, timestamp, body) else {
        return false;
    };
    header.split(' ').any(|s| s == expected)
}

/// An endpoint as the API shows it (never the secret).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Endpoint {
    /// Id (`whe_...`).
    pub id: String,
    /// Where events are posted.
    pub url: String,
    /// Free text.
    pub description: Option<String>,
    /// Disabled endpoints receive nothing.
    pub enabled: bool,
    /// Until when the previous secret still signs (after a rotation).
    pub previous_secret_expires_at: Option<String>,
    /// Creation time.
    pub created_at: String,
    /// Last change.
    pub updated_at: String,
}

fn endpoint_from_row(r: &AnyRow) -> Result<Endpoint> {
    let prev: Option<i64> = r.try_get("previous_secret_expires_at")?;
    let prev_secret: Option<String> = r.try_get("previous_secret")?;
    Ok(Endpoint {
        id: r.try_get("id")?,
        url: r.try_get("url")?,
        description: r.try_get("description")?,
        enabled: r.try_get::<i64, _>("enabled")? != 0,
        previous_secret_expires_at: prev
            .filter(|p| *p > now_ms() && prev_secret.is_some())
            .map(rfc3339),
        created_at: rfc3339(r.try_get("created_at")?),
        updated_at: rfc3339(r.try_get("updated_at")?),
    })
}

/// Checks a webhook URL: absolute http(s).
pub fn validate_url(url: &str) -> std::result::Result<(), String> {
    let parsed = reqwest::Url::parse(url).map_err(|e| format!("invalid url: {e}"))?;
    if parsed.scheme() != "http" && parsed.scheme() != "https" {
        return Err("url must be http or https".into());
    }
    if parsed.host_str().is_none() {
        return Err("url must have a host".into());
    }
    Ok(())
}

/// Creates an endpoint; returns it and its secret (shown once).
pub async fn create(
    db: &Db,
    platform: &str,
    url: &str,
    description: Option<&str>,
) -> Result<(Endpoint, String)> {
    let id = new_id("whe");
    let secret = new_secret()?;
    let now = now_ms();
    sqlx::query("INSERT INTO webhook_endpoints (id, platform_id, url, description, enabled, secret, created_at, updated_at) VALUES ($1, $2, $3, $4, 1, $5, $6, $6)")
        .bind(&id).bind(platform).bind(url).bind(description.map(str::to_string)).bind(&secret).bind(now)
        .execute(db.pool()).await?;
    let ep = get(db, platform, &id).await?.ok_or(Error::NotFound {
        kind: "webhook endpoint",
        id,
    })?;
    Ok((ep, secret))
}

/// One endpoint of the platform.
pub async fn get(db: &Db, platform: &str, id: &str) -> Result<Option<Endpoint>> {
    let r = sqlx::query("SELECT * FROM webhook_endpoints WHERE id = $1 AND platform_id = $2")
        .bind(id)
        .bind(platform)
        .fetch_optional(db.pool())
        .await?;
    r.as_ref().map(endpoint_from_row).transpose()
}

/// The platform's endpoints.
pub async fn list(db: &Db, platform: &str) -> Result<Vec<Endpoint>> {
    let rows = sqlx::query(
        "SELECT * FROM webhook_endpoints WHERE platform_id = $1 ORDER BY created_at, id",
    )
    .bind(platform)
    .fetch_all(db.pool())
    .await?;
    rows.iter().map(endpoint_from_row).collect()
}

/// Updates url / description / enabled; `None` keeps a field.
pub async fn update(
    db: &Db,
    platform: &str,
    id: &str,
    url: Option<&str>,
    description: Option<&str>,
    enabled: Option<bool>,
) -> Result<Option<Endpoint>> {
    let Some(cur) = get(db, platform, id).await? else {
        return Ok(None);
    };
    sqlx::query("UPDATE webhook_endpoints SET url = $1, description = $2, enabled = $3, updated_at = $4 WHERE id = $5 AND platform_id = $6")
        .bind(url.unwrap_or(&cur.url))
        .bind(description.map(str::to_string).or(cur.description))
        .bind(i64::from(enabled.unwrap_or(cur.enabled)))
        .bind(now_ms()).bind(id).bind(platform)
        .execute(db.pool()).await?;
    get(db, platform, id).await
}

/// Deletes an endpoint and cancels its pending deliveries.
pub async fn delete(db: &Db, platform: &str, id: &str) -> Result<bool> {
    let mut tx = db.pool().begin().await?;
    let r = sqlx::query("DELETE FROM webhook_endpoints WHERE id = $1 AND platform_id = $2")
        .bind(id)
        .bind(platform)
        .execute(&mut *tx)
        .await?;
    sqlx::query("UPDATE webhook_deliveries SET status = 'cancelled', updated_at = $1 WHERE endpoint_id = $2 AND status = 'pending'")
        .bind(now_ms()).bind(id).execute(&mut *tx).await?;
    tx.commit().await?;
    Ok(r.rows_affected() == 1)
}

/// Rotates the secret; the old one keeps signing for `overlap`. Returns the new secret.
pub async fn rotate(
    db: &Db,
    platform: &str,
    id: &str,
    overlap: Duration,
) -> Result<Option<(Endpoint, String)>> {
    let secret = new_secret()?;
    let now = now_ms();
    let r = sqlx::query("UPDATE webhook_endpoints SET previous_secret = secret, previous_secret_expires_at = $1, secret = $2, updated_at = $3 WHERE id = $4 AND platform_id = $5")
        .bind(now + i64::try_from(overlap.as_millis()).unwrap_or(i64::MAX / 2))
        .bind(&secret).bind(now).bind(id).bind(platform)
        .execute(db.pool()).await?;
    if r.rows_affected() == 0 {
        return Ok(None);
    }
    Ok(get(db, platform, id).await?.map(|e| (e, secret)))
}

/// Writes an event for one platform and a delivery per enabled endpoint (or only to
/// `only_endpoint`), inside the caller's transaction.
pub(crate) async fn enqueue(
    conn: &mut AnyConnection,
    platform: &str,
    event: &str,
    data: Value,
    only_endpoint: Option<&str>,
) -> Result<String> {
    let id = new_id("msg");
    let now = now_ms();
    let payload = serde_json::json!({"id": id, "event": event, "data": data});
    sqlx::query("INSERT INTO webhook_events (id, platform_id, event_type, payload, created_at) VALUES ($1, $2, $3, $4, $5)")
        .bind(&id).bind(platform).bind(event).bind(serde_json::to_string(&payload)?).bind(now)
        .execute(&mut *conn).await?;
    let endpoints =
        sqlx::query("SELECT id FROM webhook_endpoints WHERE platform_id = $1 AND enabled = 1")
            .bind(platform)
            .fetch_all(&mut *conn)
            .await?;
    for ep in endpoints {
        let ep_id: String = ep.try_get("id")?;
        if only_endpoint.is_some_and(|o| o != ep_id) {
            continue;
        }
        sqlx::query("INSERT INTO webhook_deliveries (id, event_id, endpoint_id, platform_id, status, attempts, next_attempt_at, locked_until, created_at, updated_at) VALUES ($1, $2, $3, $4, 'pending', 0, $5, 0, $5, $5)")
            .bind(new_id("dlv")).bind(&id).bind(&ep_id).bind(platform).bind(now)
            .execute(&mut *conn).await?;
    }
    Ok(id)
}

/// Queues a `test.ping` to one endpoint. Returns the event id, or `None` if the
/// endpoint is not the platform's.
pub async fn test_ping(db: &Db, platform: &str, id: &str) -> Result<Option<String>> {
    if get(db, platform, id).await?.is_none() {
        return Ok(None);
    }
    let mut tx = db.pool().begin().await?;
    let data = serde_json::json!({"endpoint_id": id, "timestamp": rfc3339(now_ms())});
    let ev = enqueue(&mut tx, platform, "test.ping", data, Some(id)).await?;
    tx.commit().await?;
    Ok(Some(ev))
}

/// One attempt of a delivery.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Attempt {
    /// 1-based attempt number.
    pub attempt: i64,
    /// When.
    pub at: String,
    /// HTTP status, when the receiver answered.
    pub status_code: Option<i64>,
    /// Transport error, when it did not.
    pub error: Option<String>,
    /// Round-trip time.
    pub duration_ms: i64,
}

/// A delivery and its attempts.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Delivery {
    /// Id (`dlv_...`).
    pub id: String,
    /// The event id (the `webhook-id` header).
    pub event_id: String,
    /// Event type.
    pub event: String,
    /// `pending`, `delivered`, `failed` or `cancelled`.
    pub status: String,
    /// Attempts so far.
    pub attempts: i64,
    /// Next attempt (pending only).
    pub next_attempt_at: Option<String>,
    /// Every attempt.
    pub attempt_log: Vec<Attempt>,
    /// The payload.
    #[schema(value_type = Object)]
    pub payload: Value,
    /// Creation time.
    pub created_at: String,
}

/// An endpoint's deliveries, newest first, and their total.
pub async fn deliveries(
    db: &Db,
    platform: &str,
    endpoint: &str,
    limit: i64,
    offset: i64,
) -> Result<(Vec<Delivery>, i64)> {
    let total: i64 = sqlx::query(
        "SELECT COUNT(*) AS n FROM webhook_deliveries WHERE endpoint_id = $1 AND platform_id = $2",
    )
    .bind(endpoint)
    .bind(platform)
    .fetch_one(db.pool())
    .await?
    .try_get("n")?;
    let rows = sqlx::query("SELECT d.id, d.event_id, d.status, d.attempts, d.next_attempt_at, d.created_at, e.event_type, e.payload FROM webhook_deliveries d JOIN webhook_events e ON e.id = d.event_id WHERE d.endpoint_id = $1 AND d.platform_id = $2 ORDER BY d.created_at DESC, d.id DESC LIMIT $3 OFFSET $4")
        .bind(endpoint).bind(platform).bind(limit).bind(offset).fetch_all(db.pool()).await?;
    let mut out = Vec::new();
    for r in rows {
        let id: String = r.try_get("id")?;
        let attempts = sqlx::query("SELECT attempt, at, status_code, error, duration_ms FROM webhook_attempts WHERE delivery_id = $1 ORDER BY attempt")
            .bind(&id).fetch_all(db.pool()).await?
            .iter()
            .map(|a| Ok(Attempt { attempt: a.try_get("attempt")?, at: rfc3339(a.try_get("at")?), status_code: a.try_get("status_code")?, error: a.try_get("error")?, duration_ms: a.try_get("duration_ms")? }))
            .collect::<Result<Vec<_>>>()?;
        let status: String = r.try_get("status")?;
        let payload: String = r.try_get("payload")?;
        out.push(Delivery {
            id,
            event_id: r.try_get("event_id")?,
            event: r.try_get("event_type")?,
            next_attempt_at: (status == "pending")
                .then(|| r.try_get::<i64, _>("next_attempt_at").map(rfc3339))
                .transpose()?,
            status,
            attempts: r.try_get("attempts")?,
            attempt_log: attempts,
            payload: serde_json::from_str(&payload)?,
            created_at: rfc3339(r.try_get("created_at")?),
        });
    }
    Ok((out, total))
}

/// The delay before attempt `n + 1` after `n` failures: `base * 2^(n-1)`, capped at one
/// hour, times a random factor in [0.5, 1] so receivers recovering from an outage are not
/// hit by every sender at once.
pub fn backoff(base_ms: u64, failures: u32) -> Duration {
    let exp = base_ms
        .saturating_mul(1u64 << failures.saturating_sub(1).min(30))
        .min(3_600_000);
    let r = crate::random_bytes::<2>()
        .map(u16::from_le_bytes)
        .unwrap_or(u16::MAX);
    let factor = 0.5 + 0.5 * (f64::from(r) / f64::from(u16::MAX));
    Duration::from_millis((exp as f64 * factor) as u64)
}

/// Claims up to `n` due deliveries for `lease`.
async fn claim(db: &Db, n: i64, lease: Duration) -> Result<Vec<String>> {
    let now = now_ms();
    let until = now + i64::try_from(lease.as_millis()).unwrap_or(60_000);
    let lock = match db.backend() {
        Backend::Postgres => " FOR UPDATE SKIP LOCKED",
        Backend::Sqlite => "",
    };
    let sql = format!(
        "UPDATE webhook_deliveries SET locked_until = $1 WHERE id IN (SELECT id FROM webhook_deliveries WHERE status = 'pending' AND next_attempt_at <= $2 AND locked_until <= $2 ORDER BY next_attempt_at LIMIT $3{lock}) RETURNING id"
    );
    let rows = sqlx::query(&sql)
        .bind(until)
        .bind(now)
        .bind(n)
        .fetch_all(db.pool())
        .await?;
    rows.iter()
        .map(|r| Ok(r.try_get::<String, _>("id")?))
        .collect()
}

/// Delivers one claimed delivery: one HTTP attempt, recorded.
async fn deliver(c: &Coordinator, delivery_id: &str) -> Result<()> {
    let db = &c.db;
    let row = sqlx::query("SELECT d.attempts, d.endpoint_id, e.id AS event_id, e.payload, w.url, w.secret, w.previous_secret, w.previous_secret_expires_at, w.enabled FROM webhook_deliveries d JOIN webhook_events e ON e.id = d.event_id LEFT JOIN webhook_endpoints w ON w.id = d.endpoint_id WHERE d.id = $1")
        .bind(delivery_id).fetch_optional(db.pool()).await?;
    let Some(row) = row else { return Ok(()) };
    let url: Option<String> = row.try_get("url")?;
    let enabled: Option<i64> = row.try_get("enabled")?;
    let (Some(url), Some(1)) = (url, enabled) else {
        sqlx::query(
            "UPDATE webhook_deliveries SET status = 'cancelled', updated_at = $1 WHERE id = $2",
        )
        .bind(now_ms())
        .bind(delivery_id)
        .execute(db.pool())
        .await?;
        return Ok(());
    };
    let event_id: String = row.try_get("event_id")?;
    let body: String = row.try_get("payload")?;
    let secret: String = row.try_get("secret")?;
    let prev: Option<String> = row.try_get("previous_secret")?;
    let prev_until: Option<i64> = row.try_get("previous_secret_expires_at")?;
    let attempt = row.try_get::<i64, _>("attempts")? + 1;
    let ts = now_ms() / 1000;
    let mut sigs = vec![sign(&secret, &event_id, ts, body.as_bytes())];
    if let (Some(p), Some(until)) = (prev, prev_until)
        && until > now_ms()
    {
        sigs.push(sign(&p, &event_id, ts, body.as_bytes()));
    }
    let sig_header = sigs.into_iter().flatten().collect::<Vec<_>>().join(" ");
    let started = Instant::now();
    let resp = c
        .http
        .post(&url)
        .header("content-type", "application/json")
        .header("webhook-id", &event_id)
        .header("webhook-timestamp", ts.to_string())
        .header("webhook-signature", sig_header)
        .body(body)
        .timeout(Duration::from_millis(c.config.webhooks.request_timeout_ms))
        .send()
        .await;
    let duration_ms = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
    let (code, error) = match &resp {
        Ok(r) => (Some(i64::from(r.status().as_u16())), None),
        Err(e) => (None, Some(e.to_string())),
    };
    let ok = resp.as_ref().is_ok_and(|r| r.status().is_success());
    let now = now_ms();
    let mut tx = db.pool().begin().await?;
    sqlx::query("INSERT INTO webhook_attempts (id, delivery_id, attempt, at, status_code, error, duration_ms) VALUES ($1, $2, $3, $4, $5, $6, $7)")
        .bind(new_id("att")).bind(delivery_id).bind(attempt).bind(now).bind(code).bind(error.clone()).bind(duration_ms)
        .execute(&mut *tx).await?;
    let max = i64::from(c.config.webhooks.max_attempts);
    let (status, next) = if ok {
        ("delivered", now)
    } else if attempt >= max {
        ("failed", now)
    } else {
        let failures = u32::try_from(attempt).unwrap_or(u32::MAX);
        let delay = backoff(c.config.webhooks.retry_base_ms, failures);
        (
            "pending",
            now + i64::try_from(delay.as_millis()).unwrap_or(3_600_000),
        )
    };
    sqlx::query("UPDATE webhook_deliveries SET status = $1, attempts = $2, next_attempt_at = $3, locked_until = 0, last_status_code = $4, last_error = $5, updated_at = $6 WHERE id = $7")
        .bind(status).bind(attempt).bind(next).bind(code).bind(error.clone()).bind(now).bind(delivery_id)
        .execute(&mut *tx).await?;
    tx.commit().await?;
    let outcome = if ok { "delivered" } else { "failed_attempt" };
    c.metrics.inc(
        "lockstep_webhook_deliveries_total",
        format!("outcome=\"{outcome}\""),
    );
    if status == "failed" {
        c.metrics
            .inc("lockstep_webhook_failures_total", String::new());
    }
    tracing::info!(
        delivery_id,
        event_id,
        attempt,
        ?code,
        ?error,
        status,
        "webhook attempt"
    );
    Ok(())
}

/// The delivery worker: runs until `shutdown` turns true, finishing the attempt in flight.
pub(crate) async fn run_worker(c: Arc<Coordinator>, mut shutdown: watch::Receiver<bool>) {
    let poll = Duration::from_millis(c.config.webhooks.poll_interval_ms.max(10));
    let lease = Duration::from_millis(c.config.webhooks.request_timeout_ms + 30_000);
    loop {
        if *shutdown.borrow() {
            break;
        }
        match claim(&c.db, 16, lease).await {
            Ok(ids) if !ids.is_empty() => {
                // Attempts of one batch run concurrently, so one slow receiver does not
                // hold up the others; each runs to completion even during shutdown.
                let mut batch = tokio::task::JoinSet::new();
                for id in ids {
                    let c = c.clone();
                    batch.spawn(async move {
                        if let Err(e) = deliver(&c, &id).await {
                            tracing::warn!(delivery_id = id, error = %e, "webhook delivery bookkeeping failed");
                        }
                    });
                }
                while batch.join_next().await.is_some() {}
                continue;
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "claiming webhook deliveries failed"),
        }
        tokio::select! {
            _ = tokio::time::sleep(poll) => {}
            _ = c.webhook_notify.notified() => {}
            _ = shutdown.changed() => {}
        }
    }
    tracing::info!("webhook worker stopped");
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn standard_webhooks_signature_vector() {
        // The Standard Webhooks reference test vector.
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let sig = sign(
            secret,
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            br#"{"test": 2432232314}"#,
        )
        .unwrap();
        assert_eq!(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
        assert!(verify(
            secret,
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            br#"{"test": 2432232314}"#,
            &format!("v1,xxx {sig}")
        ));
        assert!(!verify(
            secret,
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265331,
            br#"{"test": 2432232314}"#,
            &sig
        ));
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        for n in 1..40 {
            let d = backoff(1000, n).as_millis();
            let exp = (1000u128 << (n - 1).min(30)).min(3_600_000);
            assert!(d >= exp / 2 && d <= exp, "attempt {n}: {d}");
        }
    }
}
