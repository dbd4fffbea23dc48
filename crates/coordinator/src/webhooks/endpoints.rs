//! The platforms' webhook endpoints: create, read, update, delete, rotate the secret.

use super::delivery::DeliveryStatus;
use super::signature::new_secret;
use crate::{Error, Result, rfc3339};
use lockstep_core::{Db, new_id, now_ms};
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
    /// Until when the previous secret still signs (after a rotation).
    pub previous_secret_expires_at: Option<String>,
    /// Creation time.
    pub created_at: String,
    /// Last change.
    pub updated_at: String,
}

/// A `webhook_endpoints` row (the secrets stay in here).
#[derive(Debug, sqlx::FromRow)]
struct EndpointRow {
    id: String,
    url: String,
    description: Option<String>,
    enabled: i64,
    previous_secret: Option<String>,
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
            previous_secret_expires_at: self
                .previous_secret_expires_at
                .filter(|p| *p > now_ms() && self.previous_secret.is_some())
                .map(rfc3339),
            created_at: rfc3339(self.created_at),
            updated_at: rfc3339(self.updated_at),
        }
    }
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
    let r: Option<EndpointRow> =
        sqlx::query_as("SELECT * FROM webhook_endpoints WHERE id = $1 AND platform_id = $2")
            .bind(id)
            .bind(platform)
            .fetch_optional(db.pool())
            .await?;
    Ok(r.map(EndpointRow::view))
}

/// The platform's endpoints.
pub async fn list(db: &Db, platform: &str) -> Result<Vec<Endpoint>> {
    let rows: Vec<EndpointRow> = sqlx::query_as(
        "SELECT * FROM webhook_endpoints WHERE platform_id = $1 ORDER BY created_at, id",
    )
    .bind(platform)
    .fetch_all(db.pool())
    .await?;
    Ok(rows.into_iter().map(EndpointRow::view).collect())
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
    sqlx::query("UPDATE webhook_deliveries SET status = $1, updated_at = $2 WHERE endpoint_id = $3 AND status = $4")
        .bind(DeliveryStatus::Cancelled.as_str()).bind(now_ms()).bind(id).bind(DeliveryStatus::Pending.as_str())
        .execute(&mut *tx).await?;
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
