//! Redeliver one delivery, or recover every failed delivery of an endpoint since a time.
//!
//! Both put deliveries back to `pending`, due at once, with a fresh retry schedule (the
//! attempt numbers go on; the round starts at the current attempt count). Both are
//! idempotent: a delivery that is already pending stays queued once (one in flight is
//! left alone), and a repeated recover finds nothing failed any more. Only deliveries of
//! the platform's own enabled endpoints are touched; every statement is limited to the
//! platform's rows.

use super::delivery::{Delivery, DeliveryStatus, delivery};
use super::endpoints;
use crate::Result;
use lockstep_core::{Db, now_ms};

/// What a redeliver did.
#[derive(Debug)]
pub enum Redelivery {
    /// Queued now (or already queued, or in flight).
    Queued(Box<Delivery>),
    /// Already delivered; nothing changed.
    Delivered,
    /// Its endpoint is deleted or disabled; nothing changed.
    EndpointInactive,
}

/// Requeues deliveries matching `filter` (SQL over `webhook_deliveries`, parameters from
/// `$4` on, bound by `bind`); `$1` = now, `$2` = platform, `$3` = pending.
fn requeue_sql(filter: &str) -> String {
    format!(
        "UPDATE webhook_deliveries SET status = $3, next_attempt_at = $1, round_start = attempts, updated_at = $1 \
         WHERE platform_id = $2 AND locked_until <= $1 AND {filter} \
         AND EXISTS (SELECT 1 FROM webhook_endpoints w WHERE w.id = webhook_deliveries.endpoint_id AND w.platform_id = $2 AND w.enabled = 1)"
    )
}

/// Attempts one of the platform's deliveries again now, with a fresh retry schedule.
/// `None` when the platform has no such delivery.
pub async fn redeliver(db: &Db, platform: &str, id: &str) -> Result<Option<Redelivery>> {
    let sql = requeue_sql("id = $4 AND status IN ($3, $5, $6)");
    sqlx::query(&sql)
        .bind(now_ms())
        .bind(platform)
        .bind(DeliveryStatus::Pending.as_str())
        .bind(id)
        .bind(DeliveryStatus::Failed.as_str())
        .bind(DeliveryStatus::Cancelled.as_str())
        .execute(db.pool())
        .await?;
    let Some(d) = delivery(db, platform, id).await? else {
        return Ok(None);
    };
    Ok(Some(match d.status {
        DeliveryStatus::Pending => Redelivery::Queued(Box::new(d)),
        DeliveryStatus::Delivered => Redelivery::Delivered,
        DeliveryStatus::Failed | DeliveryStatus::Cancelled => Redelivery::EndpointInactive,
    }))
}

/// What a recover did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recovery {
    /// This many failed deliveries were queued again.
    Queued(u64),
    /// The endpoint is disabled; nothing changed.
    EndpointDisabled,
}

/// Queues every `failed` delivery of the platform's endpoint created at or after `since`
/// (epoch ms) again. `None` when the platform has no such endpoint.
pub async fn recover(
    db: &Db,
    platform: &str,
    endpoint: &str,
    since: i64,
) -> Result<Option<Recovery>> {
    let Some(ep) = endpoints::get(db, platform, endpoint).await? else {
        return Ok(None);
    };
    if !ep.enabled {
        return Ok(Some(Recovery::EndpointDisabled));
    }
    let sql = requeue_sql("endpoint_id = $4 AND status = $5 AND created_at >= $6");
    let r = sqlx::query(&sql)
        .bind(now_ms())
        .bind(platform)
        .bind(DeliveryStatus::Pending.as_str())
        .bind(endpoint)
        .bind(DeliveryStatus::Failed.as_str())
        .bind(since)
        .execute(db.pool())
        .await?;
    Ok(Some(Recovery::Queued(r.rows_affected())))
}
