//! Webhook endpoint handlers: create, list, get, update, delete, rotate the secret, ping,
//! the delivery log, redeliver one delivery and recover an endpoint's failed ones.

use super::support::{ApiError, ApiResult, AppState, Auth, Page, Paginated, page};
use crate::auth::Scope;
use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;

use super::support::ErrorBody;
use crate::instructions::validate::field_error;
use crate::webhooks::{self, Delivery, Endpoint, Recovery, Redelivery, Rotation, TargetPolicy};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::time::Duration;
use utoipa::ToSchema;

/// Create or update an endpoint.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EndpointRequest {
    /// Where to post (http or https).
    pub url: Option<String>,
    /// Free text.
    pub description: Option<String>,
    /// Enable or disable (update only).
    pub enabled: Option<bool>,
}

/// An endpoint with its secret (shown once).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct EndpointWithSecret {
    /// The endpoint.
    #[serde(flatten)]
    pub endpoint: Endpoint,
    /// `whsec_<base64>`; store it now, it is not shown again.
    pub secret: String,
}

/// Refuses a target the webhook rules do not allow (422 at `body.url`), without any
/// network access.
fn check_url(c: &AppState, url: &str) -> ApiResult<()> {
    TargetPolicy::new(&c.config.webhooks.allow_private_targets)
        .check_url(url)
        .map(drop)
        .map_err(|e| ApiError::fields(vec![field_error(&[json!("url")], e.to_string())]))
}

/// Register a webhook endpoint.
#[utoipa::path(post, path = "/v1/webhook-endpoints", request_body = EndpointRequest, responses((status = 201, body = EndpointWithSecret), (status = 422, body = ErrorBody)), tag = "webhooks")]
pub(super) async fn create_endpoint(
    State(c): State<AppState>,
    auth: Auth,
    body: Result<Json<EndpointRequest>, JsonRejection>,
) -> ApiResult<(StatusCode, Json<EndpointWithSecret>)> {
    let platform = auth.platform(Scope::WebhooksManage)?;
    let Json(req) = body?;
    let url = req
        .url
        .ok_or_else(|| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "url: required"))?;
    check_url(&c, &url)?;
    let (endpoint, secret) =
        webhooks::create(&c.db, platform, &url, req.description.as_deref()).await?;
    Ok((
        StatusCode::CREATED,
        Json(EndpointWithSecret { endpoint, secret }),
    ))
}

/// The platform's webhook endpoints.
#[utoipa::path(get, path = "/v1/webhook-endpoints", responses((status = 200, body = Paginated<Endpoint>)), tag = "webhooks")]
pub(super) async fn list_endpoints(
    State(c): State<AppState>,
    auth: Auth,
) -> ApiResult<Json<Paginated<Endpoint>>> {
    let platform = auth.platform(Scope::WebhooksManage)?;
    let items = webhooks::list(&c.db, platform).await?;
    let n = i64::try_from(items.len()).unwrap_or(0);
    Ok(page(items, n, n, 0))
}

/// One endpoint.
#[utoipa::path(get, path = "/v1/webhook-endpoints/{id}", params(("id" = String, Path)), responses((status = 200, body = Endpoint), (status = 404, body = ErrorBody)), tag = "webhooks")]
pub(super) async fn get_endpoint(
    State(c): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<Endpoint>> {
    let platform = auth.platform(Scope::WebhooksManage)?;
    webhooks::get(&c.db, platform, &id)
        .await?
        .map(Json)
        .ok_or_else(ApiError::not_found)
}

/// Update url, description or enabled.
#[utoipa::path(patch, path = "/v1/webhook-endpoints/{id}", params(("id" = String, Path)), request_body = EndpointRequest, responses((status = 200, body = Endpoint), (status = 404, body = ErrorBody)), tag = "webhooks")]
pub(super) async fn update_endpoint(
    State(c): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    body: Result<Json<EndpointRequest>, JsonRejection>,
) -> ApiResult<Json<Endpoint>> {
    let platform = auth.platform(Scope::WebhooksManage)?;
    let Json(req) = body?;
    if let Some(u) = &req.url {
        check_url(&c, u)?;
    }
    webhooks::update(
        &c.db,
        platform,
        &id,
        req.url.as_deref(),
        req.description.as_deref(),
        req.enabled,
    )
    .await?
    .map(Json)
    .ok_or_else(ApiError::not_found)
}

/// Delete an endpoint (pending deliveries are cancelled).
#[utoipa::path(delete, path = "/v1/webhook-endpoints/{id}", params(("id" = String, Path)), responses((status = 204), (status = 404, body = ErrorBody)), tag = "webhooks")]
pub(super) async fn delete_endpoint(
    State(c): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let platform = auth.platform(Scope::WebhooksManage)?;
    if webhooks::delete(&c.db, platform, &id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found())
    }
}

/// Rotate the secret; every replaced secret keeps signing (alongside) for the overlap
/// (24 h by default), even after further rotations.
#[utoipa::path(post, path = "/v1/webhook-endpoints/{id}/rotate-secret", params(("id" = String, Path)), responses((status = 200, body = EndpointWithSecret), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "too many replaced secrets still sign")), tag = "webhooks")]
pub(super) async fn rotate_endpoint_secret(
    State(c): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<EndpointWithSecret>> {
    let platform = auth.platform(Scope::WebhooksManage)?;
    let overlap = Duration::from_secs(c.config.webhooks.secret_overlap_secs);
    match webhooks::rotate(&c.db, platform, &id, overlap)
        .await?
        .ok_or_else(ApiError::not_found)?
    {
        Rotation::Rotated(endpoint, secret) => Ok(Json(EndpointWithSecret { endpoint, secret })),
        Rotation::TooMany => Err(ApiError::new(
            StatusCode::CONFLICT,
            format!(
                "{} replaced secrets still sign; rotate again when the oldest expires",
                webhooks::endpoints::MAX_PREVIOUS_SECRETS
            ),
        )),
    }
}

/// Queue a `test.ping` to the endpoint.
#[utoipa::path(post, path = "/v1/webhook-endpoints/{id}/test", params(("id" = String, Path)), responses((status = 202, description = "queued; body `{event_id}`"), (status = 404, body = ErrorBody)), tag = "webhooks")]
pub(super) async fn ping_endpoint(
    State(c): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let platform = auth.platform(Scope::WebhooksManage)?;
    let ev = webhooks::test_ping(&c.db, platform, &id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    c.lifecycle.hook.queued_webhooks();
    Ok((StatusCode::ACCEPTED, Json(json!({"event_id": ev}))))
}

/// The endpoint's delivery log with every attempt.
#[utoipa::path(get, path = "/v1/webhook-endpoints/{id}/deliveries", params(("id" = String, Path), Page), responses((status = 200, body = Paginated<Delivery>), (status = 404, body = ErrorBody)), tag = "webhooks")]
pub(super) async fn endpoint_deliveries(
    State(c): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    q: Result<Query<Page>, QueryRejection>,
) -> ApiResult<Json<Paginated<Delivery>>> {
    let platform = auth.platform(Scope::WebhooksManage)?;
    let Query(q) = q?;
    let (limit, offset) = q.resolve()?;
    webhooks::get(&c.db, platform, &id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let (items, total) = webhooks::deliveries(&c.db, platform, &id, limit, offset).await?;
    Ok(page(items, total, limit, offset))
}

/// Attempt one delivery again now with a fresh retry schedule (failed, cancelled or
/// pending; idempotent: an already queued or in-flight delivery stays queued once).
#[utoipa::path(post, path = "/v1/webhook-deliveries/{id}/redeliver", params(("id" = String, Path)), responses((status = 202, body = Delivery, description = "queued"), (status = 401, body = ErrorBody, description = "missing, invalid or revoked token"), (status = 403, body = ErrorBody, description = "the token lacks webhooks:manage"), (status = 404, body = ErrorBody, description = "no such delivery of this platform"), (status = 409, body = ErrorBody, description = "already delivered, or the endpoint is deleted or disabled")), tag = "webhooks")]
pub(super) async fn redeliver_delivery(
    State(c): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> ApiResult<(StatusCode, Json<Delivery>)> {
    let platform = auth.platform(Scope::WebhooksManage)?;
    let conflict = |m: &str| Err(ApiError::new(StatusCode::CONFLICT, m));
    match webhooks::redeliver(&c.db, platform, &id)
        .await?
        .ok_or_else(ApiError::not_found)?
    {
        Redelivery::Queued(d) => {
            c.lifecycle.hook.queued_webhooks();
            Ok((StatusCode::ACCEPTED, Json(*d)))
        }
        Redelivery::Delivered => conflict("already delivered"),
        Redelivery::EndpointInactive => conflict("the endpoint is deleted or disabled"),
    }
}

/// Recover failed deliveries: `since` (RFC 3339) bounds their creation time.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecoverRequest {
    /// Deliveries created at or after this time (RFC 3339).
    pub since: String,
}

/// How many failed deliveries were queued again.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RecoverResponse {
    /// Deliveries queued by this call (0 when repeated).
    pub recovered: u64,
}

/// Queue every failed delivery of the endpoint created since a time again, with a fresh
/// retry schedule (idempotent: a repeat finds nothing failed any more).
#[utoipa::path(post, path = "/v1/webhook-endpoints/{id}/recover", params(("id" = String, Path)), request_body = RecoverRequest, responses((status = 202, body = RecoverResponse, description = "queued"), (status = 400, body = ErrorBody, description = "malformed JSON"), (status = 401, body = ErrorBody, description = "missing, invalid or revoked token"), (status = 403, body = ErrorBody, description = "the token lacks webhooks:manage"), (status = 404, body = ErrorBody, description = "no such endpoint of this platform"), (status = 409, body = ErrorBody, description = "the endpoint is disabled"), (status = 422, body = ErrorBody, description = "missing or invalid `since`")), tag = "webhooks")]
pub(super) async fn recover_endpoint(
    State(c): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    body: Result<Json<RecoverRequest>, JsonRejection>,
) -> ApiResult<(StatusCode, Json<RecoverResponse>)> {
    let platform = auth.platform(Scope::WebhooksManage)?;
    let Json(req) = body?;
    let since = chrono::DateTime::parse_from_rfc3339(&req.since)
        .map_err(|e| {
            ApiError::fields(vec![field_error(
                &[json!("since")],
                format!("not an RFC 3339 time: {e}"),
            )])
        })?
        .timestamp_millis();
    match webhooks::recover(&c.db, platform, &id, since)
        .await?
        .ok_or_else(ApiError::not_found)?
    {
        Recovery::Queued(recovered) => {
            if recovered > 0 {
                c.lifecycle.hook.queued_webhooks();
            }
            Ok((StatusCode::ACCEPTED, Json(RecoverResponse { recovered })))
        }
        Recovery::EndpointDisabled => Err(ApiError::new(
            StatusCode::CONFLICT,
            "the endpoint is disabled",
        )),
    }
}
