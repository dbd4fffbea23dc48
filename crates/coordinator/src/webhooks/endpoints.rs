//! The platforms' webhook endpoints: create, read, update, delete, rotate the secret.
//! Every statement is limited to the calling platform's rows.

use super::delivery::DeliveryStatus;
use super::signature::new_secret;
use crate::{Error, Result, rfc3339};
use lockstep_core::{Backend, Db, new_id, now_ms};
use serde::{Deserialize, Serialize};
use std::time::Duration;
use utoipa::ToSchema;

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
    /// Until when the last replaced secret still signs (after a rotation); every earlier
    /// replaced secret signs until its own, earlier, expiry.
    pub previous_secret_expires_at: Option<String>,
    /// Creation time.
    pub created_at: String,
    /// Last change.
    pub updated_at: String,
}

/// A `webhook_endpoints` row with the latest expiry of its live previous secrets (the
/// secrets stay in the database).
#[derive(Debug, sqlx::FromRow)]
struct EndpointRow {
    id: String,
    url: String,
    description: Option<String>,
    enabled: i64,
    previous_secret_expires_at: Option<i64>,
    created_at: i64,
    updated_at: i64,
}

impl EndpointRow {
    fn view(self) -> Endpoint {
        Endpoint {
            id: self.id,
            url: self.url,
            description: self.description,
            enabled: self.enabled != 0,
            previous_secret_expires_at: self.previous_secret_expires_at.map(rfc3339),
            created_at: rfc3339(self.created_at),
            updated_at: rfc3339(self.updated_at),
        }
    }
}

/// The endpoint columns plus the latest live previous-secret expiry (`$1` = now).
const SELECT: &str = "SELECT w.id, w.url, w.description, w.enabled, w.created_at, w.updated_at, (SELECT MAX(p.expires_at) FROM webhook_previous_secrets p WHERE p.endpoint_id = w.id AND p.platform_id = w.platform_id AND p.expires_at > $1) AS previous_secret_expires_at FROM webhook_endpoints w";

/// At most this many replaced secrets sign at once; a rotation beyond is refused until
/// the oldest expires (each one keeps signing for its whole overlap window).
pub const MAX_PREVIOUS_SECRETS: i64 = 10;

/// Creates an endpoint; returns it and its secret (shown once). The caller has checked
/// the URL ([`super::TargetPolicy::check_url`]).
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
    let r: Option<EndpointRow> =
        sqlx::query_as(&format!("{SELECT} WHERE w.id = $2 AND w.platform_id = $3"))
            .bind(now_ms())
            .bind(id)
            .bind(platform)
            .fetch_optional(db.pool())
            .await?;
    Ok(r.map(EndpointRow::view))
}

/// The platform's endpoints.
pub async fn list(db: &Db, platform: &str) -> Result<Vec<Endpoint>> {
    let rows: Vec<EndpointRow> = sqlx::query_as(&format!(
        "{SELECT} WHERE w.platform_id = $2 ORDER BY w.created_at, w.id"
    ))
    .bind(now_ms())
    .bind(platform)
    .fetch_all(db.pool())
    .await?;
    Ok(rows.into_iter().map(EndpointRow::view).collect())
}

/// Updates url / description / enabled; `None` keeps a field. The caller has checked a
/// new URL.
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

/// Deletes an endpoint and its previous secrets and cancels its pending deliveries, in
/// one transaction whose every statement is limited to the platform's rows. `false`, and
/// nothing changed, when the platform has no such endpoint.
pub async fn delete(db: &Db, platform: &str, id: &str) -> Result<bool> {
    let mut tx = db.pool().begin().await?;
    let r = sqlx::query("DELETE FROM webhook_endpoints WHERE id = $1 AND platform_id = $2")
        .bind(id)
        .bind(platform)
        .execute(&mut *tx)
        .await?;
    if r.rows_affected() != 1 {
        tx.rollback().await?;
        return Ok(false);
    }
    sqlx::query("DELETE FROM webhook_previous_secrets WHERE endpoint_id = $1 AND platform_id = $2")
        .bind(id)
        .bind(platform)
        .execute(&mut *tx)
        .await?;
    sqlx::query("UPDATE webhook_deliveries SET status = $1, updated_at = $2 WHERE endpoint_id = $3 AND platform_id = $4 AND status = $5")
        .bind(DeliveryStatus::Cancelled.as_str()).bind(now_ms()).bind(id).bind(platform).bind(DeliveryStatus::Pending.as_str())
        .execute(&mut *tx).await?;
    tx.commit().await?;
    Ok(true)
}

/// What a rotation did.
#[derive(Debug)]
pub enum Rotation {
    /// The endpoint and its new secret (shown once).
    Rotated(Endpoint, String),
    /// [`MAX_PREVIOUS_SECRETS`] replaced secrets still sign; nothing changed.
    TooMany,
}

/// Rotates the secret: the current one joins the previous secrets and keeps signing for
/// `overlap`, as every earlier one does for the rest of its own window. `None` when the
/// platform has no such endpoint.
pub async fn rotate(
    db: &Db,
    platform: &str,
    id: &str,
    overlap: Duration,
) -> Result<Option<Rotation>> {
    let secret = new_secret()?;
    let now = now_ms();
    let lock = match db.backend() {
        Backend::Postgres => " FOR UPDATE",
        Backend::Sqlite => "",
    };
    let mut tx = db.pool().begin().await?;
    // The row lock (PostgreSQL) makes concurrent rotations each keep what they replace.
    let current: Option<String> = sqlx::query_scalar(&format!(
        "SELECT secret FROM webhook_endpoints WHERE id = $1 AND platform_id = $2{lock}"
    ))
    .bind(id)
    .bind(platform)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(current) = current else {
        return Ok(None);
    };
    sqlx::query("DELETE FROM webhook_previous_secrets WHERE endpoint_id = $1 AND platform_id = $2 AND expires_at <= $3")
        .bind(id).bind(platform).bind(now).execute(&mut *tx).await?;
    let live: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM webhook_previous_secrets WHERE endpoint_id = $1 AND platform_id = $2",
    )
    .bind(id)
    .bind(platform)
    .fetch_one(&mut *tx)
    .await?;
    if live >= MAX_PREVIOUS_SECRETS {
        return Ok(Some(Rotation::TooMany));
    }
    let until = now.saturating_add(i64::try_from(overlap.as_millis()).unwrap_or(i64::MAX / 2));
    sqlx::query("INSERT INTO webhook_previous_secrets (endpoint_id, platform_id, secret, expires_at) VALUES ($1, $2, $3, $4)")
        .bind(id).bind(platform).bind(&current).bind(until).execute(&mut *tx).await?;
    sqlx::query("UPDATE webhook_endpoints SET secret = $1, updated_at = $2 WHERE id = $3 AND platform_id = $4")
        .bind(&secret).bind(now).bind(id).bind(platform).execute(&mut *tx).await?;
    tx.commit().await?;
    Ok(get(db, platform, id)
        .await?
        .map(|e| Rotation::Rotated(e, secret)))
}

/// The secrets that sign a delivery to an endpoint now: `current` first, then every
/// replaced one still inside its overlap window, newest first.
pub(crate) async fn signing_secrets(
    db: &Db,
    endpoint_id: &str,
    current: &str,
) -> Result<Vec<String>> {
    let previous: Vec<String> = sqlx::query_scalar(
        "SELECT secret FROM webhook_previous_secrets WHERE endpoint_id = $1 AND expires_at > $2 ORDER BY expires_at DESC",
    )
    .bind(endpoint_id)
    .bind(now_ms())
    .fetch_all(db.pool())
    .await?;
    Ok(std::iter::once(current.to_string())
        .chain(previous)
        .collect())
}
