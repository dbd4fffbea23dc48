//! Webhook delivery: the delivery log the API shows, and the worker that claims due
//! deliveries, sends one signed attempt each and records it, retrying with the
//! [`retry_policy`] until `max_attempts`.

use super::signature::sign;
use crate::config::WebhookConfig;
use crate::metrics::Metrics;
use crate::{Result, rfc3339};
use lockstep_core::{Backend, Backoff, Db, Next, Periodic, new_id, now_ms};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::Row;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{Notify, watch};
use utoipa::ToSchema;

/// Where a delivery stands. Stored and serialised in lower case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryStatus {
    /// Waiting for its next attempt.
    Pending,
    /// A 2xx answer was received (terminal).
    Delivered,
    /// Every attempt failed (terminal).
    Failed,
    /// Its endpoint was deleted or disabled (terminal).
    Cancelled,
}

impl DeliveryStatus {
    /// Every status.
    pub const ALL: [DeliveryStatus; 4] = [
        DeliveryStatus::Pending,
        DeliveryStatus::Delivered,
        DeliveryStatus::Failed,
        DeliveryStatus::Cancelled,
    ];

    /// The stored name, e.g. `pending`.
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::Failed => "failed",
            DeliveryStatus::Cancelled => "cancelled",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<DeliveryStatus> {
        Self::ALL.into_iter().find(|st| st.as_str() == s)
    }
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
    pub status: DeliveryStatus,
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

/// A `webhook_attempts` row.
#[derive(Debug, sqlx::FromRow)]
struct AttemptRow {
    attempt: i64,
    at: i64,
    status_code: Option<i64>,
    error: Option<String>,
    duration_ms: i64,
}

/// A `webhook_deliveries` row joined with its event.
#[derive(Debug, sqlx::FromRow)]
struct DeliveryRow {
    id: String,
    event_id: String,
    status: String,
    attempts: i64,
    next_attempt_at: i64,
    created_at: i64,
    event_type: String,
    payload: String,
}

impl DeliveryRow {
    fn view(self, attempt_log: Vec<Attempt>) -> Result<Delivery> {
        let status = DeliveryStatus::parse(&self.status).ok_or(crate::Error::Corrupt {
            what: "delivery status",
            message: self.status,
        })?;
        Ok(Delivery {
            id: self.id,
            event_id: self.event_id,
            event: self.event_type,
            next_attempt_at: (status == DeliveryStatus::Pending)
                .then(|| rfc3339(self.next_attempt_at)),
            status,
            attempts: self.attempts,
            attempt_log,
            payload: serde_json::from_str(&self.payload)?,
            created_at: rfc3339(self.created_at),
        })
    }
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
    let rows: Vec<DeliveryRow> = sqlx::query_as("SELECT d.id, d.event_id, d.status, d.attempts, d.next_attempt_at, d.created_at, e.event_type, e.payload FROM webhook_deliveries d JOIN webhook_events e ON e.id = d.event_id WHERE d.endpoint_id = $1 AND d.platform_id = $2 ORDER BY d.created_at DESC, d.id DESC LIMIT $3 OFFSET $4")
        .bind(endpoint).bind(platform).bind(limit).bind(offset).fetch_all(db.pool()).await?;
    let mut out = Vec::new();
    for r in rows {
        let attempts: Vec<AttemptRow> = sqlx::query_as("SELECT attempt, at, status_code, error, duration_ms FROM webhook_attempts WHERE delivery_id = $1 ORDER BY attempt")
            .bind(&r.id).fetch_all(db.pool()).await?;
        let log = attempts
            .into_iter()
            .map(|a| Attempt {
                attempt: a.attempt,
                at: rfc3339(a.at),
                status_code: a.status_code,
                error: a.error,
                duration_ms: a.duration_ms,
            })
            .collect();
        out.push(r.view(log)?);
    }
    Ok((out, total))
}

/// The retry policy of deliveries: the delay before attempt `n + 1` after `n` failures is
/// `base * 2^(n-1)`, capped at one hour, times a random factor in [0.5, 1] so receivers
/// recovering from an outage are not hit by every sender at once.
pub fn retry_policy(base_ms: u64) -> Backoff {
    Backoff::new(Duration::from_millis(base_ms), Duration::from_secs(3_600)).with_jitter()
}

/// What the worker needs to send one attempt: the delivery, its event and its endpoint
/// (absent when deleted).
#[derive(Debug, sqlx::FromRow)]
struct Target {
    attempts: i64,
    event_id: String,
    payload: String,
    url: Option<String>,
    secret: Option<String>,
    previous_secret: Option<String>,
    previous_secret_expires_at: Option<i64>,
    enabled: Option<i64>,
}

/// The result of one HTTP attempt.
#[derive(Debug)]
struct Outcome {
    code: Option<i64>,
    error: Option<String>,
    ok: bool,
    duration_ms: i64,
}

/// The delivery worker and what it uses: the database, an HTTP client, the webhook
/// settings, the metrics and its wake-up.
#[derive(Debug, Clone)]
pub struct WebhookWorker {
    /// Storage.
    pub db: Db,
    /// Outgoing HTTP (no redirects).
    pub http: reqwest::Client,
    /// Retry, timeout and polling settings.
    pub config: WebhookConfig,
    /// Where delivery counters go.
    pub metrics: Arc<Metrics>,
    /// Notified when the outbox gained deliveries.
    pub wake: Arc<Notify>,
}

impl WebhookWorker {
    /// Runs until `shutdown` turns true; the attempts in flight finish first.
    pub async fn run(self, shutdown: watch::Receiver<bool>) {
        let poll = Duration::from_millis(self.config.poll_interval_ms.max(10));
        let me = Arc::new(self);
        Periodic::new("webhook-worker", poll)
            .notify(me.wake.clone())
            .backoff(Backoff::new(poll, poll))
            .run(shutdown, || {
                let me = me.clone();
                async move { me.step().await }
            })
            .await;
    }

    /// Claims a batch and delivers it; `Again` while there was something to deliver.
    async fn step(self: Arc<Self>) -> Result<Next> {
        let lease = Duration::from_millis(self.config.request_timeout_ms + 30_000);
        let ids = claim(&self.db, 16, lease).await?;
        if ids.is_empty() {
            return Ok(Next::Idle);
        }
        // Attempts of one batch run concurrently, so one slow receiver does not hold up
        // the others; each runs to completion even during shutdown.
        let mut batch = tokio::task::JoinSet::new();
        for id in ids {
            let me = self.clone();
            batch.spawn(async move {
                if let Err(e) = me.deliver(&id).await {
                    tracing::warn!(delivery_id = id, error = %e, "webhook delivery bookkeeping failed");
                }
            });
        }
        while batch.join_next().await.is_some() {}
        Ok(Next::Again)
    }

    /// Delivers one claimed delivery: one HTTP attempt, recorded.
    async fn deliver(&self, delivery_id: &str) -> Result<()> {
        let target: Option<Target> = sqlx::query_as("SELECT d.attempts, e.id AS event_id, e.payload, w.url, w.secret, w.previous_secret, w.previous_secret_expires_at, w.enabled FROM webhook_deliveries d JOIN webhook_events e ON e.id = d.event_id LEFT JOIN webhook_endpoints w ON w.id = d.endpoint_id WHERE d.id = $1")
            .bind(delivery_id).fetch_optional(self.db.pool()).await?;
        let Some(t) = target else { return Ok(()) };
        let (Some(url), Some(secret), Some(1)) = (&t.url, &t.secret, t.enabled) else {
            sqlx::query("UPDATE webhook_deliveries SET status = $1, updated_at = $2 WHERE id = $3")
                .bind(DeliveryStatus::Cancelled.as_str())
                .bind(now_ms())
                .bind(delivery_id)
                .execute(self.db.pool())
                .await?;
            return Ok(());
        };
        let outcome = self.send(&t, url, secret).await;
        let attempt = t.attempts + 1;
        let status = self.record(delivery_id, attempt, &outcome).await?;
        let label = if outcome.ok {
            "delivered"
        } else {
            "failed_attempt"
        };
        self.metrics.inc(
            "lockstep_webhook_deliveries_total",
            format!("outcome=\"{label}\""),
        );
        if status == DeliveryStatus::Failed {
            self.metrics
                .inc("lockstep_webhook_failures_total", String::new());
        }
        tracing::info!(
            delivery_id,
            event_id = t.event_id,
            attempt,
            code = ?outcome.code,
            error = ?outcome.error,
            status = status.as_str(),
            "webhook attempt"
        );
        Ok(())
    }

    /// Signs (with the previous secret too while it overlaps) and posts the event.
    async fn send(&self, t: &Target, url: &str, secret: &str) -> Outcome {
        let ts = now_ms() / 1000;
        let body = t.payload.as_bytes();
        let mut sigs = vec![sign(secret, &t.event_id, ts, body)];
        if let (Some(p), Some(until)) = (&t.previous_secret, t.previous_secret_expires_at)
            && until > now_ms()
        {
            sigs.push(sign(p, &t.event_id, ts, body));
        }
        let sig_header = sigs.into_iter().flatten().collect::<Vec<_>>().join(" ");
        let started = Instant::now();
        let resp = self
            .http
            .post(url)
            .header("content-type", "application/json")
            .header("webhook-id", &t.event_id)
            .header("webhook-timestamp", ts.to_string())
            .header("webhook-signature", sig_header)
            .body(t.payload.clone())
            .timeout(Duration::from_millis(self.config.request_timeout_ms))
            .send()
            .await;
        let duration_ms = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
        match resp {
            Ok(r) => Outcome {
                code: Some(i64::from(r.status().as_u16())),
                error: None,
                ok: r.status().is_success(),
                duration_ms,
            },
            Err(e) => Outcome {
                code: None,
                error: Some(e.to_string()),
                ok: false,
                duration_ms,
            },
        }
    }

    /// Records the attempt and the delivery's new status (and next attempt) in one
    /// transaction.
    async fn record(&self, delivery_id: &str, attempt: i64, o: &Outcome) -> Result<DeliveryStatus> {
        let now = now_ms();
        let max = i64::from(self.config.max_attempts);
        let (status, next) = if o.ok {
            (DeliveryStatus::Delivered, now)
        } else if attempt >= max {
            (DeliveryStatus::Failed, now)
        } else {
            let failures = u32::try_from(attempt).unwrap_or(u32::MAX);
            let delay = retry_policy(self.config.retry_base_ms).delay(failures);
            (
                DeliveryStatus::Pending,
                now + i64::try_from(delay.as_millis()).unwrap_or(3_600_000),
            )
        };
        let mut tx = self.db.pool().begin().await?;
        sqlx::query("INSERT INTO webhook_attempts (id, delivery_id, attempt, at, status_code, error, duration_ms) VALUES ($1, $2, $3, $4, $5, $6, $7)")
            .bind(new_id("att")).bind(delivery_id).bind(attempt).bind(now).bind(o.code).bind(o.error.clone()).bind(o.duration_ms)
            .execute(&mut *tx).await?;
        sqlx::query("UPDATE webhook_deliveries SET status = $1, attempts = $2, next_attempt_at = $3, locked_until = 0, last_status_code = $4, last_error = $5, updated_at = $6 WHERE id = $7")
            .bind(status.as_str()).bind(attempt).bind(next).bind(o.code).bind(o.error.clone()).bind(now).bind(delivery_id)
            .execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(status)
    }
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
        "UPDATE webhook_deliveries SET locked_until = $1 WHERE id IN (SELECT id FROM webhook_deliveries WHERE status = $4 AND next_attempt_at <= $2 AND locked_until <= $2 ORDER BY next_attempt_at LIMIT $3{lock}) RETURNING id"
    );
    let rows = sqlx::query(&sql)
        .bind(until)
        .bind(now)
        .bind(n)
        .bind(DeliveryStatus::Pending.as_str())
        .fetch_all(db.pool())
        .await?;
    rows.iter()
        .map(|r| Ok(r.try_get::<String, _>("id")?))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        for n in 1..40 {
            let d = retry_policy(1000).delay(n).as_millis();
            let exp = (1000u128 << (n - 1).min(30)).min(3_600_000);
            assert!(d >= exp / 2 && d <= exp, "attempt {n}: {d}");
        }
    }

    #[test]
    fn statuses_round_trip_through_storage_and_json() {
        for s in DeliveryStatus::ALL {
            assert_eq!(DeliveryStatus::parse(s.as_str()), Some(s));
            let json = serde_json::to_string(&s).unwrap_or_default();
            assert_eq!(json, format!("\"{}\"", s.as_str()));
        }
    }
}
