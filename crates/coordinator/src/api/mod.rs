//! The HTTP API (axum) and its OpenAPI document, generated from the handlers'
//! annotations by utoipa-axum so the two cannot drift. The handlers live by concern in
//! [`instructions`], [`settlements`], [`packets`] and [`webhooks`]; this module holds the shared
//! state, errors, authentication, paging, the router and the operational endpoints.

pub mod dashboard;
pub mod instructions;
pub mod limits;
mod openapi;
pub mod packets;
mod params;
pub mod settlements;
pub mod support;
pub mod webhooks;

pub use support::{ApiError, ApiResult, ApiState, AppState, Auth, ErrorBody, Page, Paginated};

use crate::templates::Template;
use axum::extract::{DefaultBodyLimit, Path, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router, routing::get};
use openapi::Completeness;
use serde_json::json;
use std::sync::Arc;
use support::page;
use utoipa::{Modify, OpenApi};
use utoipa_axum::{router::OpenApiRouter, routes};

#[derive(OpenApi)]
#[openapi(
    info(title = "Lockstep coordinator", description = "Atomic delivery-versus-payment settlement: instruction matching, compliance, webhooks."),
    security(("bearer" = []))
)]
struct ApiDoc;

/// The router: API, `/openapi.json`, `/healthz`, `/metrics`, behind the request limits
/// ([`limits`]) and the query-parameter rule (unknown parameters: 400).
pub fn router(c: AppState) -> Router {
    let (router, openapi) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(
            instructions::submit_instruction,
            instructions::list_instructions
        ))
        .routes(routes!(instructions::get_instruction))
        .routes(routes!(instructions::cancel_instruction))
        .routes(routes!(settlements::list_settlements))
        .routes(routes!(settlements::get_settlement))
        .routes(routes!(settlements::settlement_events))
        .routes(routes!(settlements::compliance_decision))
        .routes(routes!(settlements::settlement_deposits))
        .routes(routes!(settlements::settlement_evidence))
        .routes(routes!(settlements::operator_retry))
        .routes(routes!(settlements::operator_close))
        .routes(routes!(list_templates))
        .routes(routes!(get_template))
        .routes(routes!(webhooks::create_endpoint, webhooks::list_endpoints))
        .routes(routes!(
            webhooks::get_endpoint,
            webhooks::update_endpoint,
            webhooks::delete_endpoint
        ))
        .routes(routes!(webhooks::rotate_endpoint_secret))
        .routes(routes!(webhooks::ping_endpoint))
        .routes(routes!(webhooks::endpoint_deliveries))
        .routes(routes!(webhooks::recover_endpoint))
        .routes(routes!(webhooks::redeliver_delivery))
        .routes(routes!(settlements::operator_counts))
        .routes(routes!(settlements::operator_stuck))
        .routes(routes!(packets::list_packets))
        .routes(routes!(packets::get_packet))
        .routes(routes!(packets::retry_packet))
        .routes(routes!(dashboard::settlement_deliveries))
        .routes(routes!(dashboard::verify_evidence))
        .routes(routes!(dashboard::operator_verifiers))
        .routes(routes!(healthz))
        .split_for_parts();
    let mut openapi = openapi;
    Completeness.modify(&mut openapi);
    let params = Arc::new(params::QueryParams::from_openapi(&openapi));
    let openapi = Arc::new(openapi);
    router
        .route(
            "/openapi.json",
            get(move || async move { Json(openapi.as_ref().clone()) }),
        )
        .route("/metrics", get(metrics))
        .route_layer(middleware::from_fn_with_state(
            params,
            params::refuse_unknown,
        ))
        // The dashboard's page and assets: no query parameters to check.
        .route("/dashboard", get(dashboard::index))
        .route("/dashboard/app.js", get(dashboard::script))
        .route("/dashboard/app.css", get(dashboard::style))
        .layer(DefaultBodyLimit::max(c.config.http.max_body_bytes))
        .layer(middleware::from_fn_with_state(
            c.clone(),
            limits::limit_request,
        ))
        .layer(middleware::from_fn_with_state(c.clone(), track))
        .with_state(c)
}

async fn track(State(c): State<AppState>, req: Request, next: Next) -> Response {
    let method = req.method().clone();
    let resp = next.run(req).await;
    c.metrics.inc(
        "lockstep_http_requests_total",
        format!("method=\"{method}\",status=\"{}\"", resp.status().as_u16()),
    );
    resp
}

async fn metrics(State(c): State<AppState>) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], {
        let mut out = c.metrics.render();
        for s in &c.metrics_sources {
            s.render(&mut out);
        }
        out
    })
}

/// Liveness and database reachability. Needs no token, so it counts against the
/// caller address's limit for requests without a valid token.
#[utoipa::path(get, path = "/healthz", security(()), responses((status = 200, description = "healthy"), (status = 503, description = "database unreachable")), tag = "operations")]
async fn healthz(State(c): State<AppState>, req: Request) -> Response {
    if let Err(secs) = c.addresses.charge(&c, req.extensions().get()) {
        return limits::too_many("too many requests from this address", secs).into_response();
    }
    if c.db.ping().await {
        Json(json!({"status": "ok"})).into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "database unreachable"})),
        )
            .into_response()
    }
}

/// The settlement templates.
#[utoipa::path(get, path = "/v1/settlement-templates", responses((status = 200, body = Paginated<Template>)), tag = "templates")]
async fn list_templates(State(c): State<AppState>, _auth: Auth) -> Json<Paginated<Template>> {
    let all = c.templates.all();
    let n = i64::try_from(all.len()).unwrap_or(0);
    page(all.to_vec(), n, n, 0)
}

/// One template.
#[utoipa::path(get, path = "/v1/settlement-templates/{slug}", params(("slug" = String, Path)), responses((status = 200, body = Template), (status = 404, body = ErrorBody)), tag = "templates")]
async fn get_template(
    State(c): State<AppState>,
    _auth: Auth,
    Path(slug): Path<String>,
) -> ApiResult<Json<Template>> {
    c.templates
        .get(&slug)
        .cloned()
        .map(Json)
        .ok_or_else(ApiError::not_found)
}
