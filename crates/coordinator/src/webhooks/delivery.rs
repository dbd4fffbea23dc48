//! Webhook delivery: the delivery log the API shows, and the worker that claims due
//! deliveries, sends one signed attempt each and records it, retrying on the
//! [`super::schedule`] until it is spent.
//!
//! What a platform sees of an attempt that got no HTTP answer is the same whatever the
//! cause (refused, reset, timed out, TLS failure, a target refused after resolution):
//! the error [`UNDELIVERABLE`], no duration, and a next attempt no sooner than one
//! request timeout after the attempt started. The cause is logged server-side only.

use super::endpoints::signing_secrets;
use super::resolver::{Lookup, delivery_client};
use super::schedule::{retry_delay, unit_random};
use super::signature::sign;
use super::target::TargetPolicy;
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

/// The error of every attempt that got no HTTP answer (the cause is not disclosed: it
/// would tell a platform the port state of the target).
pub const UNDELIVERABLE: &str =
    "could not deliver: no HTTP response from the target (cause not disclosed)";

/// One attempt of a delivery.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Attempt {
    /// 1-based attempt number.
    pub attempt: i64,
    /// When it started.
    pub at: String,
    /// HTTP status, when the receiver answered.
    pub status_code: Option<i64>,
    /// [`UNDELIVERABLE`], when it did not.
    pub error: Option<String>,
    /// Round-trip time, when the receiver answered.
    pub duration_ms: Option<i64>,
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
    let rows: Vec<DeliveryRow> = sqlx::query_as(&format!("{SELECT_DELIVERY} WHERE d.endpoint_id = $1 AND d.platform_id = $2 ORDER BY d.created_at DESC, d.id DESC LIMIT $3 OFFSET $4"))
        .bind(endpoint).bind(platform).bind(limit).bind(offset).fetch_all(db.pool()).await?;
    let mut out = Vec::new();
    for r in rows {
        out.push(with_attempts(db, r).await?);
    }
    Ok((out, total))
}

/// One delivery of the platform.
pub async fn delivery(db: &Db, platform: &str, id: &str) -> Result<Option<Delivery>> {
    let row: Option<DeliveryRow> = sqlx::query_as(&format!(
        "{SELECT_DELIVERY} WHERE d.id = $1 AND d.platform_id = $2"
    ))
    .bind(id)
    .bind(platform)
    .fetch_optional(db.pool())
    .await?;
    match row {
        Some(r) => Ok(Some(with_attempts(db, r).await?)),
        None => Ok(None),
    }
}

/// A delivery of a settlement's event, with the platform and endpoint it went to.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SettlementDelivery {
    /// The platform the event was for.
    pub platform_id: String,
    /// The endpoint it was posted to.
    pub endpoint_id: String,
    /// The delivery and its attempts.
    #[serde(flatten)]
    pub delivery: Delivery,
}

/// A delivery row with its platform and endpoint.
#[derive(Debug, sqlx::FromRow)]
struct SettlementDeliveryRow {
    #[sqlx(flatten)]
    row: DeliveryRow,
    platform_id: String,
    endpoint_id: String,
}

/// Most deliveries [`for_settlement`] returns (a settlement has about ten events per
/// platform and endpoint).
pub const SETTLEMENT_DELIVERIES_MAX: i64 = 1_000;

/// The deliveries of settlement `settlement_id`'s events, oldest first: `platform`'s only,
/// or every platform's (`None`, the operator).
pub async fn for_settlement(
    db: &Db,
    settlement_id: &str,
    platform: Option<&str>,
) -> Result<Vec<SettlementDelivery>> {
    let sql = format!(
        "SELECT d.id, d.event_id, d.status, d.attempts, d.next_attempt_at, d.created_at, e.event_type, e.payload, d.platform_id, d.endpoint_id FROM webhook_deliveries d JOIN webhook_events e ON e.id = d.event_id WHERE e.settlement_id = $1 AND ($2 = '' OR d.platform_id = $2) ORDER BY d.created_at, d.id LIMIT {SETTLEMENT_DELIVERIES_MAX}"
    );
    let rows: Vec<SettlementDeliveryRow> = sqlx::query_as(&sql)
        .bind(settlement_id)
        .bind(platform.unwrap_or_default())
        .fetch_all(db.pool())
        .await?;
    let mut out = Vec::new();
    for r in rows {
        out.push(SettlementDelivery {
            platform_id: r.platform_id,
            endpoint_id: r.endpoint_id,
            delivery: with_attempts(db, r.row).await?,
        });
    }
    Ok(out)
}

/// A delivery row joined with its event.
const SELECT_DELIVERY: &str = "SELECT d.id, d.event_id, d.status, d.attempts, d.next_attempt_at, d.created_at, e.event_type, e.payload FROM webhook_deliveries d JOIN webhook_events e ON e.id = d.event_id";

/// The API view of a delivery row with its attempt log.
async fn with_attempts(db: &Db, r: DeliveryRow) -> Result<Delivery> {
    let attempts: Vec<AttemptRow> = sqlx::query_as("SELECT attempt, at, status_code, error, duration_ms FROM webhook_attempts WHERE delivery_id = $1 ORDER BY attempt")
        .bind(&r.id).fetch_all(db.pool()).await?;
    let log = attempts
        .into_iter()
        .map(|a| Attempt {
            attempt: a.attempt,
            at: rfc3339(a.at),
            duration_ms: a.status_code.map(|_| a.duration_ms),
            status_code: a.status_code,
            error: a.error,
        })
        .collect();
    r.view(log)
}

/// What the worker needs to send one attempt: the delivery, its event and its endpoint
/// (absent when deleted).
#[derive(Debug, sqlx::FromRow)]
struct Target {
    attempts: i64,
    round_start: i64,
    endpoint_id: String,
    event_id: String,
    payload: String,
    url: Option<String>,
    secret: Option<String>,
    enabled: Option<i64>,
}

/// The result of one HTTP attempt.
#[derive(Debug)]
struct Outcome {
    /// Start (epoch ms).
    at: i64,
    /// HTTP status, when the receiver answered.
    code: Option<i64>,
    ok: bool,
    duration_ms: i64,
}

impl Outcome {
    /// [`UNDELIVERABLE`] when there was no answer.
    fn error(&self) -> Option<String> {
        self.code.is_none().then(|| UNDELIVERABLE.to_string())
    }
}

/// The delivery worker and what it uses: the database, an HTTP client, the webhook
/// settings and target rules, the metrics and its wake-up.
#[derive(Debug, Clone)]
pub struct WebhookWorker {
    db: Db,
    http: reqwest::Client,
    config: WebhookConfig,
    policy: Arc<TargetPolicy>,
    metrics: Arc<Metrics>,
    wake: Arc<Notify>,
}

impl WebhookWorker {
    /// A worker whose client resolves names with `lookup` (checked and pinned, see
    /// [`super::resolver`]) and admits the targets `config` allows.
    pub fn new(
        db: Db,
        config: WebhookConfig,
        lookup: Arc<dyn Lookup>,
        metrics: Arc<Metrics>,
        wake: Arc<Notify>,
    ) -> Result<WebhookWorker> {
        let policy = Arc::new(TargetPolicy::new(&config.allow_private_targets));
        let http = delivery_client(policy.clone(), lookup)?;
        Ok(WebhookWorker {
            db,
            http,
            config,
            policy,
            metrics,
            wake,
        })
    }

    /// Runs until `shutdown` turns true; the attempts in flight finish first.
    pub async fn run(self, shutdown: watch::Receiver<bool>) {
        let poll = Duration::from_millis(self.config.poll_interval_ms.max(10));
        // On SQLite it is woken after every intake commit that matched (hundreds a second
        // under load), most of which queue no delivery: a burst costs one look.
        let settle = match self.db.backend() {
            Backend::Sqlite => SETTLE,
            Backend::Postgres => Duration::ZERO,
        };
        let me = Arc::new(self);
        Periodic::new("webhook-worker", poll)
            .notify(me.wake.clone())
            .settle(settle)
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
        let target: Option<Target> = sqlx::query_as("SELECT d.attempts, d.round_start, d.endpoint_id, e.id AS event_id, e.payload, w.url, w.secret, w.enabled FROM webhook_deliveries d JOIN webhook_events e ON e.id = d.event_id LEFT JOIN webhook_endpoints w ON w.id = d.endpoint_id AND w.platform_id = d.platform_id WHERE d.id = $1")
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
        let outcome = self.send(&t, url, secret).await?;
        let attempt = t.attempts + 1;
        let status = self
            .record(delivery_id, attempt, attempt - t.round_start, &outcome)
            .await?;
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
            status = status.as_str(),
            "webhook attempt"
        );
        Ok(())
    }

    /// Checks the target, signs with every live secret and posts the event.
    async fn send(&self, t: &Target, url: &str, secret: &str) -> Result<Outcome> {
        let at = now_ms();
        let started = Instant::now();
        let elapsed = || i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
        let unanswered = |duration_ms| Outcome {
            at,
            code: None,
            ok: false,
            duration_ms,
        };
        // Literal addresses here; names in the client's resolver, after resolution.
        let checked = match self.policy.check_url(url) {
            Ok(u) => u,
            Err(e) => {
                tracing::warn!(event_id = t.event_id, endpoint_id = t.endpoint_id, reason = %e, "webhook target refused");
                return Ok(unanswered(0));
            }
        };
        let ts = at / 1000;
        let body = t.payload.as_bytes();
        let sig_header = signing_secrets(&self.db, &t.endpoint_id, secret)
            .await?
            .iter()
            .filter_map(|s| sign(s, &t.event_id, ts, body))
            .collect::<Vec<_>>()
            .join(" ");
        let resp = self
            .http
            .post(checked)
            .header("content-type", "application/json")
            .header("webhook-id", &t.event_id)
            .header("webhook-timestamp", ts.to_string())
            .header("webhook-signature", sig_header)
            .body(t.payload.clone())
            .timeout(Duration::from_millis(self.config.request_timeout_ms))
            .send()
            .await;
        Ok(match resp {
            Ok(r) => Outcome {
                at,
                code: Some(i64::from(r.status().as_u16())),
                ok: r.status().is_success(),
                duration_ms: elapsed(),
            },
            Err(e) => {
                tracing::warn!(event_id = t.event_id, endpoint_id = t.endpoint_id, error = %error_chain(&e), "webhook attempt got no answer");
                unanswered(elapsed())
            }
        })
    }

    /// When a failed attempt's delivery is tried next, or `None` when its schedule is
    /// spent. `failures` counts the failed attempts of the current round. Counted from
    /// the attempt's start and, without an answer, at least one request timeout later,
    /// so the schedule tells nothing about how the attempt failed.
    fn next_attempt(&self, failures: i64, o: &Outcome) -> Option<i64> {
        let c = &self.config;
        let delay = retry_delay(
            &c.retry_schedule_ms,
            c.retry_jitter,
            u64::try_from(failures).unwrap_or(0),
            unit_random(),
        )?;
        let delay = i64::try_from(delay.as_millis()).unwrap_or(i64::MAX / 2);
        let floor = match o.code {
            Some(_) => o.duration_ms,
            None => i64::try_from(c.request_timeout_ms).unwrap_or(i64::MAX / 2),
        };
        Some(o.at.saturating_add(delay.max(floor)))
    }

    /// Records the attempt and the delivery's new status (and next attempt) in one
    /// transaction.
    async fn record(
        &self,
        delivery_id: &str,
        attempt: i64,
        failures: i64,
        o: &Outcome,
    ) -> Result<DeliveryStatus> {
        let now = now_ms();
        let (status, next) = if o.ok {
            (DeliveryStatus::Delivered, now)
        } else {
            match self.next_attempt(failures, o) {
                Some(next) => (DeliveryStatus::Pending, next),
                None => (DeliveryStatus::Failed, now),
            }
        };
        let mut tx = self.db.pool().begin().await?;
        sqlx::query("INSERT INTO webhook_attempts (id, delivery_id, attempt, at, status_code, error, duration_ms) VALUES ($1, $2, $3, $4, $5, $6, $7)")
            .bind(new_id("att")).bind(delivery_id).bind(attempt).bind(o.at).bind(o.code).bind(o.error()).bind(o.duration_ms)
            .execute(&mut *tx).await?;
        sqlx::query("UPDATE webhook_deliveries SET status = $1, attempts = $2, next_attempt_at = $3, locked_until = 0, last_status_code = $4, last_error = $5, updated_at = $6 WHERE id = $7")
            .bind(status.as_str()).bind(attempt).bind(next).bind(o.code).bind(o.error()).bind(now).bind(delivery_id)
            .execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(status)
    }
}

/// An error and its sources, for the server log.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(s) = cur {
        out.push_str(": ");
        out.push_str(&s.to_string());
        cur = s.source();
    }
    out
}

/// How long the worker lets wake-ups gather on SQLite before it looks for due
/// deliveries ([`Periodic::settle`]); a delivery is later by at most as much.
pub const SETTLE: Duration = Duration::from_millis(10);

/// Whether any delivery is due (`$1` status, `$2` now): the claim's own predicate.
const ANY_DUE: &str = "SELECT id FROM webhook_deliveries WHERE status = $1 AND next_attempt_at <= $2 AND locked_until <= $2 LIMIT 1";

/// Claims up to `n` due deliveries for `lease`.
///
/// On SQLite the worker is woken after every commit that changed a settlement, most of
/// which queue no delivery (no endpoint): it first looks through the read pool, which
/// does not queue behind the one writer, and takes the writer only when something is due.
/// Readers see every committed delivery, and the wake-up follows the commit.
async fn claim(db: &Db, n: i64, lease: Duration) -> Result<Vec<String>> {
    let now = now_ms();
    let until = now + i64::try_from(lease.as_millis()).unwrap_or(60_000);
    let lock = match db.backend() {
        Backend::Postgres => " FOR UPDATE SKIP LOCKED",
        Backend::Sqlite => {
            let due = sqlx::query(ANY_DUE)
                .bind(DeliveryStatus::Pending.as_str())
                .bind(now)
                .fetch_optional(db.reads())
                .await?;
            if due.is_none() {
                return Ok(Vec::new());
            }
            ""
        }
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
    fn statuses_round_trip_through_storage_and_json() {
        for s in DeliveryStatus::ALL {
            assert_eq!(DeliveryStatus::parse(s.as_str()), Some(s));
            let json = serde_json::to_string(&s).unwrap_or_default();
            assert_eq!(json, format!("\"{}\"", s.as_str()));
        }
    }
}
