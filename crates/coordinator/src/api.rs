//! The HTTP API (axum) and its OpenAPI document, generated from the handlers'
//! annotations by utoipa-axum so the two cannot drift.

use crate::auth::{Principal, Scope};
use crate::instructions::{
    self, Cancelled, FieldError, InstructionRequest, InstructionView, Submitted,
};
use crate::server::Coordinator;
use crate::settlements::{
    self, DecisionRefused, DepositInstruction, EventView, ManualDecision, SettlementView,
};
use crate::state::SettlementState;
use crate::templates::Template;
use crate::webhooks::{self, Delivery, Endpoint};
use crate::{Error, now_ms};
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequestParts, Path, Query, Request, State};
use axum::http::{StatusCode, header, request::Parts};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router, routing::get};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{IntoParams, Modify, OpenApi, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

type AppState = Arc<Coordinator>;

/// An error answer: `{"detail": "...", "errors": [...]}`.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    detail: String,
    errors: Option<Vec<FieldError>>,
    retry_after: Option<u64>,
}

/// The error body.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    /// What went wrong.
    pub detail: String,
    /// Field errors (422).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<FieldError>>,
}

impl ApiError {
    fn new(status: StatusCode, detail: impl Into<String>) -> ApiError {
        ApiError {
            status,
            detail: detail.into(),
            errors: None,
            retry_after: None,
        }
    }
    fn not_found() -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "not found")
    }
    fn fields(errors: Vec<FieldError>) -> ApiError {
        let detail = errors
            .iter()
            .map(|e| {
                format!(
                    "{}: {}",
                    e.loc
                        .iter()
                        .map(|l| l
                            .as_str()
                            .map(str::to_string)
                            .unwrap_or_else(|| l.to_string()))
                        .collect::<Vec<_>>()
                        .join("."),
                    e.msg
                )
            })
            .collect::<Vec<_>>()
            .join("; ");
        ApiError {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            detail,
            errors: Some(errors),
            retry_after: None,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut r = (
            self.status,
            Json(ErrorBody {
                detail: self.detail,
                errors: self.errors,
            }),
        )
            .into_response();
        if let Some(secs) = self.retry_after
            && let Ok(v) = secs.to_string().parse()
        {
            r.headers_mut().insert(header::RETRY_AFTER, v);
        }
        if self.status == StatusCode::UNAUTHORIZED
            && let Ok(v) = "Bearer".parse()
        {
            r.headers_mut().insert(header::WWW_AUTHENTICATE, v);
        }
        r
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        match e {
            Error::ConcurrentTransition { .. } | Error::IllegalTransition { .. } => {
                ApiError::new(StatusCode::CONFLICT, e.to_string())
            }
            e => {
                tracing::error!(error = %e, "request failed");
                ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
            }
        }
    }
}

impl From<JsonRejection> for ApiError {
    fn from(r: JsonRejection) -> Self {
        let status = match &r {
            JsonRejection::JsonDataError(_) => StatusCode::UNPROCESSABLE_ENTITY,
            _ => StatusCode::BAD_REQUEST,
        };
        ApiError::new(status, r.body_text())
    }
}

impl From<QueryRejection> for ApiError {
    fn from(r: QueryRejection) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, r.body_text())
    }
}

type ApiResult<T> = Result<T, ApiError>;

/// The authenticated caller (401 without a valid bearer token).
#[derive(Debug)]
pub struct Auth(pub Principal);

impl FromRequestParts<AppState> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, c: &AppState) -> Result<Self, ApiError> {
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| ApiError::new(StatusCode::UNAUTHORIZED, "missing bearer token"))?;
        match crate::auth::authenticate(&c.db, token).await? {
            Some(p) => {
                if let Err(secs) = c.limiter.check(
                    &p.token_id,
                    c.config.rate_limit_per_second,
                    c.config.rate_limit_burst,
                ) {
                    let mut e = ApiError::new(
                        StatusCode::TOO_MANY_REQUESTS,
                        "rate limit exceeded for this token",
                    );
                    e.retry_after = Some(secs);
                    return Err(e);
                }
                Ok(Auth(p))
            }
            None => Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "invalid or revoked token",
            )),
        }
    }
}

impl Auth {
    /// The caller's platform, if the token has `scope` (403 otherwise).
    fn platform(&self, scope: Scope) -> ApiResult<&str> {
        match (&self.0.platform_id, self.0.has(scope)) {
            (Some(p), true) => Ok(p),
            _ => Err(ApiError::new(
                StatusCode::FORBIDDEN,
                format!("token lacks scope {scope}"),
            )),
        }
    }

    /// Settlement visibility: `None` for operators (everything), the platform otherwise.
    fn settlement_reader(&self) -> ApiResult<Option<&str>> {
        if self.0.has(Scope::Operator) {
            return Ok(None);
        }
        self.platform(Scope::SettlementsRead).map(Some)
    }

    fn operator(&self) -> ApiResult<()> {
        if self.0.has(Scope::Operator) {
            Ok(())
        } else {
            Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "token lacks scope operator",
            ))
        }
    }
}

/// `?limit=&offset=` (limit 1..=500, default 50).
#[derive(Debug, Deserialize, IntoParams)]
pub struct Page {
    /// Page size (default 50, at most 500).
    pub limit: Option<i64>,
    /// Items to skip.
    pub offset: Option<i64>,
}

impl Page {
    fn resolve(&self) -> ApiResult<(i64, i64)> {
        let limit = self.limit.unwrap_or(50);
        let offset = self.offset.unwrap_or(0);
        if !(1..=500).contains(&limit) {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "limit must be between 1 and 500",
            ));
        }
        if offset < 0 {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "offset must not be negative",
            ));
        }
        Ok((limit, offset))
    }
}

/// A page of results.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Paginated<T> {
    /// This page.
    pub items: Vec<T>,
    /// All matching items.
    pub total: i64,
    /// Page size.
    pub limit: i64,
    /// Offset.
    pub offset: i64,
}

fn page<T>(items: Vec<T>, total: i64, limit: i64, offset: i64) -> Json<Paginated<T>> {
    Json(Paginated {
        items,
        total,
        limit,
        offset,
    })
}

struct SecurityAddon;

impl Modify for SecurityAddon {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "Lockstep coordinator", description = "Atomic delivery-versus-payment settlement: instruction matching, compliance, webhooks."),
    modifiers(&SecurityAddon),
    security(("bearer" = []))
)]
struct ApiDoc;

/// The router: API, `/openapi.json`, `/healthz`, `/metrics`.
pub fn router(c: AppState) -> Router {
    let (router, openapi) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(submit_instruction, list_instructions))
        .routes(routes!(get_instruction))
        .routes(routes!(cancel_instruction))
        .routes(routes!(list_settlements))
        .routes(routes!(get_settlement))
        .routes(routes!(settlement_events))
        .routes(routes!(compliance_decision))
        .routes(routes!(settlement_deposits))
        .routes(routes!(settlement_evidence))
        .routes(routes!(operator_retry))
        .routes(routes!(list_templates))
        .routes(routes!(get_template))
        .routes(routes!(create_endpoint, list_endpoints))
        .routes(routes!(get_endpoint, update_endpoint, delete_endpoint))
        .routes(routes!(rotate_endpoint_secret))
        .routes(routes!(ping_endpoint))
        .routes(routes!(endpoint_deliveries))
        .routes(routes!(operator_counts))
        .routes(routes!(operator_stuck))
        .routes(routes!(healthz))
        .split_for_parts();
    let openapi = Arc::new(openapi);
    router
        .route(
            "/openapi.json",
            get(move || async move { Json(openapi.as_ref().clone()) }),
        )
        .route("/metrics", get(metrics))
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
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        c.metrics.render(),
    )
}

/// Liveness and database reachability.
#[utoipa::path(get, path = "/healthz", security(()), responses((status = 200, description = "healthy"), (status = 503, description = "database unreachable")), tag = "operations")]
async fn healthz(State(c): State<AppState>) -> Response {
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

/// Submit one side of a trade.
#[utoipa::path(post, path = "/v1/instructions", request_body = InstructionRequest,
    responses(
        (status = 201, body = InstructionView, description = "accepted; `match` tells whether it matched and, if not, which rule failed"),
        (status = 200, body = InstructionView, description = "idempotent replay of the first answer"),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "idempotency key reused with another body"),
        (status = 422, body = ErrorBody)),
    tag = "instructions")]
async fn submit_instruction(
    State(c): State<AppState>,
    auth: Auth,
    body: Result<Json<InstructionRequest>, JsonRejection>,
) -> ApiResult<Response> {
    let platform = auth.platform(Scope::InstructionsWrite)?;
    let Json(req) = body?;
    Ok(match instructions::submit(&c, platform, req).await? {
        Submitted::Created(v) => (StatusCode::CREATED, Json(v)).into_response(),
        Submitted::Replayed(v) => (StatusCode::OK, Json(v)).into_response(),
        Submitted::KeyReused => ApiError::new(
            StatusCode::CONFLICT,
            "idempotency_key was already used with another body",
        )
        .into_response(),
        Submitted::Invalid(errs) => ApiError::fields(errs).into_response(),
    })
}

/// Instruction list filter.
#[derive(Debug, Deserialize, IntoParams)]
pub struct InstructionFilter {
    /// `pending_match`, `matched`, `expired` or `cancelled`.
    pub status: Option<String>,
    /// Page size.
    pub limit: Option<i64>,
    /// Offset.
    pub offset: Option<i64>,
}

/// The platform's instructions.
#[utoipa::path(get, path = "/v1/instructions", params(InstructionFilter), responses((status = 200, body = Paginated<InstructionView>)), tag = "instructions")]
async fn list_instructions(
    State(c): State<AppState>,
    auth: Auth,
    q: Result<Query<InstructionFilter>, QueryRejection>,
) -> ApiResult<Json<Paginated<InstructionView>>> {
    let platform = auth.platform(Scope::InstructionsRead)?;
    let Query(q) = q?;
    let (limit, offset) = Page {
        limit: q.limit,
        offset: q.offset,
    }
    .resolve()?;
    if let Some(s) = &q.status
        && !["pending_match", "matched", "expired", "cancelled"].contains(&s.as_str())
    {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("status: unknown status {s:?}"),
        ));
    }
    let (items, total) =
        instructions::list(&c, platform, q.status.as_deref(), limit, offset).await?;
    Ok(page(items, total, limit, offset))
}

/// One of the platform's instructions (404 for another platform's).
#[utoipa::path(get, path = "/v1/instructions/{id}", params(("id" = String, Path)), responses((status = 200, body = InstructionView), (status = 404, body = ErrorBody)), tag = "instructions")]
async fn get_instruction(
    State(c): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<InstructionView>> {
    let platform = auth.platform(Scope::InstructionsRead)?;
    instructions::get(&c, platform, &id)
        .await?
        .map(Json)
        .ok_or_else(ApiError::not_found)
}

/// Cancel a `pending_match` instruction.
#[utoipa::path(post, path = "/v1/instructions/{id}/cancel", params(("id" = String, Path)), responses((status = 200, body = InstructionView), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)), tag = "instructions")]
async fn cancel_instruction(
    State(c): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<InstructionView>> {
    let platform = auth.platform(Scope::InstructionsWrite)?;
    match instructions::cancel(&c, platform, &id).await? {
        Cancelled::Done(v) => Ok(Json(*v)),
        Cancelled::NotFound => Err(ApiError::not_found()),
        Cancelled::WrongStatus(s) => Err(ApiError::new(
            StatusCode::CONFLICT,
            format!("instruction is {s}; only pending_match can be cancelled"),
        )),
    }
}

/// Settlement list filter.
#[derive(Debug, Deserialize, IntoParams)]
pub struct SettlementFilter {
    /// A state, e.g. `COMPLIANCE_CLEARED`.
    pub state: Option<String>,
    /// Page size.
    pub limit: Option<i64>,
    /// Offset.
    pub offset: Option<i64>,
}

/// Settlements the caller is a party to (operators: all).
#[utoipa::path(get, path = "/v1/settlements", params(SettlementFilter), responses((status = 200, body = Paginated<SettlementView>)), tag = "settlements")]
async fn list_settlements(
    State(c): State<AppState>,
    auth: Auth,
    q: Result<Query<SettlementFilter>, QueryRejection>,
) -> ApiResult<Json<Paginated<SettlementView>>> {
    let reader = auth.settlement_reader()?;
    let Query(q) = q?;
    let (limit, offset) = Page {
        limit: q.limit,
        offset: q.offset,
    }
    .resolve()?;
    let state = match &q.state {
        Some(s) => Some(SettlementState::parse(s).ok_or_else(|| {
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("state: unknown state {s:?}"),
            )
        })?),
        None => None,
    };
    let (rows, total) = settlements::list(&c, reader, state, limit, offset).await?;
    let items = rows
        .iter()
        .map(|r| r.view())
        .collect::<Result<Vec<_>, _>>()?;
    Ok(page(items, total, limit, offset))
}

/// One settlement: state, parties, compliance, terms, terms hash, decision ref, attestations.
#[utoipa::path(get, path = "/v1/settlements/{id}", params(("id" = String, Path)), responses((status = 200, body = SettlementView), (status = 404, body = ErrorBody)), tag = "settlements")]
async fn get_settlement(
    State(c): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<SettlementView>> {
    let reader = auth.settlement_reader()?;
    let s = settlements::get_visible(&c, &id, reader)
        .await?
        .ok_or_else(ApiError::not_found)?;
    Ok(Json(s.view()?))
}

/// The settlement's transition trail, each event hash-chained to the previous one.
#[utoipa::path(get, path = "/v1/settlements/{id}/events", params(("id" = String, Path)), responses((status = 200, body = Paginated<EventView>), (status = 404, body = ErrorBody)), tag = "settlements")]
async fn settlement_events(
    State(c): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<Paginated<EventView>>> {
    let reader = auth.settlement_reader()?;
    settlements::get_visible(&c, &id, reader)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let items = settlements::events(&c, &id).await?;
    let n = i64::try_from(items.len()).unwrap_or(i64::MAX);
    Ok(page(items, n, n, 0))
}

/// The legs the calling platform must fund, with `approve` and `deposit` calldata, so a
/// custody system can sign without knowing the escrow ABI. Empty until `COMPLIANCE_CLEARED`;
/// deposits succeed only once the chain side has registered the terms.
#[utoipa::path(get, path = "/v1/settlements/{id}/deposits", params(("id" = String, Path)), responses((status = 200, body = Paginated<DepositInstruction>), (status = 404, body = ErrorBody)), tag = "settlements")]
async fn settlement_deposits(
    State(c): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<Paginated<DepositInstruction>>> {
    let platform = auth.platform(Scope::SettlementsRead)?;
    let s = settlements::get_visible(&c, &id, Some(platform))
        .await?
        .ok_or_else(ApiError::not_found)?;
    let items = settlements::deposits(&c, &s, platform).await?;
    let n = i64::try_from(items.len()).unwrap_or(0);
    Ok(page(items, n, n, 0))
}

/// The settlement's evidence: the decision evidence (`decision_ref` and every preimage) and,
/// once the settlement is final on chain, `bundle`: the receipt-anchored evidence bundle
/// (docs/evidence.md) that `lockstep evidence verify --rpc` re-checks; `null` before.
#[utoipa::path(get, path = "/v1/settlements/{id}/evidence", params(("id" = String, Path)), responses((status = 200, description = "`{settlement_id, trade_reference, decision_ref, decision, compliance, terms_hash, bundle}`"), (status = 404, body = ErrorBody)), tag = "settlements")]
async fn settlement_evidence(
    State(c): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let reader = auth.settlement_reader()?;
    let s = settlements::get_visible(&c, &id, reader)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let v = s.view()?;
    let bundle = settlements::bundle(&c, &s.id).await?;
    Ok(Json(
        json!({"settlement_id": v.id, "trade_reference": v.trade_reference, "decision_ref": v.decision_ref, "decision": v.evidence, "compliance": v.compliance, "terms_hash": v.terms_hash, "bundle": bundle}),
    ))
}

/// Run the settlement's next automatic step now (operator): screening, or the hand-over
/// to the registrar.
#[utoipa::path(post, path = "/v1/operator/settlements/{id}/retry", params(("id" = String, Path)), responses((status = 200, body = SettlementView), (status = 404, body = ErrorBody)), tag = "operator")]
async fn operator_retry(
    State(c): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<SettlementView>> {
    auth.operator()?;
    settlements::get_visible(&c, &id, None)
        .await?
        .ok_or_else(ApiError::not_found)?;
    match settlements::process(&c, &id).await {
        Ok(()) | Err(Error::ConcurrentTransition { .. }) => {}
        Err(e) => {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                format!("step failed: {e}"),
            ));
        }
    }
    let s = settlements::get_visible(&c, &id, None)
        .await?
        .ok_or_else(ApiError::not_found)?;
    Ok(Json(s.view()?))
}

/// A manual compliance decision.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecisionRequest {
    /// `approve` or `reject`.
    pub decision: ManualDecision,
    /// Why (kept with the compliance record).
    #[serde(default)]
    pub reason: Option<String>,
}

/// Decide a flagged settlement (operator tokens only: a party should not clear its own
/// counterparty).
#[utoipa::path(post, path = "/v1/settlements/{id}/compliance-decision", params(("id" = String, Path)), request_body = DecisionRequest,
    responses((status = 200, body = SettlementView), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "not held for a manual decision")), tag = "settlements")]
async fn compliance_decision(
    State(c): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    body: Result<Json<DecisionRequest>, JsonRejection>,
) -> ApiResult<Json<SettlementView>> {
    auth.operator()?;
    let Json(req) = body?;
    let s = settlements::get_visible(&c, &id, None)
        .await?
        .ok_or_else(ApiError::not_found)?;
    match settlements::decide(
        &c,
        &s,
        req.decision,
        &format!("operator token {}", auth.0.token_id),
        req.reason.as_deref(),
    )
    .await
    {
        Ok(()) => {}
        Err(DecisionRefused::NotFlagged(state)) => {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                format!("settlement is {state} and not held for a manual decision"),
            ));
        }
        Err(DecisionRefused::Failed(e)) => return Err(e.into()),
    }
    let s = settlements::get_visible(&c, &id, None)
        .await?
        .ok_or_else(ApiError::not_found)?;
    Ok(Json(s.view()?))
}

/// The settlement templates.
#[utoipa::path(get, path = "/v1/settlement-templates", responses((status = 200, body = Paginated<Template>)), tag = "templates")]
async fn list_templates(State(c): State<AppState>, _auth: Auth) -> Json<Paginated<Template>> {
    let n = i64::try_from(c.templates.len()).unwrap_or(0);
    page(c.templates.clone(), n, n, 0)
}

/// One template.
#[utoipa::path(get, path = "/v1/settlement-templates/{slug}", params(("slug" = String, Path)), responses((status = 200, body = Template), (status = 404, body = ErrorBody)), tag = "templates")]
async fn get_template(
    State(c): State<AppState>,
    _auth: Auth,
    Path(slug): Path<String>,
) -> ApiResult<Json<Template>> {
    c.template(&slug)
        .cloned()
        .map(Json)
        .ok_or_else(ApiError::not_found)
}

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

/// Register a webhook endpoint.
#[utoipa::path(post, path = "/v1/webhook-endpoints", request_body = EndpointRequest, responses((status = 201, body = EndpointWithSecret), (status = 422, body = ErrorBody)), tag = "webhooks")]
async fn create_endpoint(
    State(c): State<AppState>,
    auth: Auth,
    body: Result<Json<EndpointRequest>, JsonRejection>,
) -> ApiResult<(StatusCode, Json<EndpointWithSecret>)> {
    let platform = auth.platform(Scope::WebhooksManage)?;
    let Json(req) = body?;
    let url = req
        .url
        .ok_or_else(|| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "url: required"))?;
    webhooks::validate_url(&url)
        .map_err(|m| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, format!("url: {m}")))?;
    let (endpoint, secret) =
        webhooks::create(&c.db, platform, &url, req.description.as_deref()).await?;
    Ok((
        StatusCode::CREATED,
        Json(EndpointWithSecret { endpoint, secret }),
    ))
}

/// The platform's webhook endpoints.
#[utoipa::path(get, path = "/v1/webhook-endpoints", responses((status = 200, body = Paginated<Endpoint>)), tag = "webhooks")]
async fn list_endpoints(
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
async fn get_endpoint(
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
async fn update_endpoint(
    State(c): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    body: Result<Json<EndpointRequest>, JsonRejection>,
) -> ApiResult<Json<Endpoint>> {
    let platform = auth.platform(Scope::WebhooksManage)?;
    let Json(req) = body?;
    if let Some(u) = &req.url {
        webhooks::validate_url(u)
            .map_err(|m| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, format!("url: {m}")))?;
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
async fn delete_endpoint(
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

/// Rotate the secret; the previous one keeps signing (alongside) for 24 h.
#[utoipa::path(post, path = "/v1/webhook-endpoints/{id}/rotate-secret", params(("id" = String, Path)), responses((status = 200, body = EndpointWithSecret), (status = 404, body = ErrorBody)), tag = "webhooks")]
async fn rotate_endpoint_secret(
    State(c): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<EndpointWithSecret>> {
    let platform = auth.platform(Scope::WebhooksManage)?;
    let overlap = Duration::from_secs(c.config.webhooks.secret_overlap_secs);
    let (endpoint, secret) = webhooks::rotate(&c.db, platform, &id, overlap)
        .await?
        .ok_or_else(ApiError::not_found)?;
    Ok(Json(EndpointWithSecret { endpoint, secret }))
}

/// Queue a `test.ping` to the endpoint.
#[utoipa::path(post, path = "/v1/webhook-endpoints/{id}/test", params(("id" = String, Path)), responses((status = 202, description = "queued; body `{event_id}`"), (status = 404, body = ErrorBody)), tag = "webhooks")]
async fn ping_endpoint(
    State(c): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let platform = auth.platform(Scope::WebhooksManage)?;
    let ev = webhooks::test_ping(&c.db, platform, &id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    c.webhook_notify.notify_one();
    Ok((StatusCode::ACCEPTED, Json(json!({"event_id": ev}))))
}

/// The endpoint's delivery log with every attempt.
#[utoipa::path(get, path = "/v1/webhook-endpoints/{id}/deliveries", params(("id" = String, Path), Page), responses((status = 200, body = Paginated<Delivery>), (status = 404, body = ErrorBody)), tag = "webhooks")]
async fn endpoint_deliveries(
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

/// Per-state settlement counts (operator).
#[utoipa::path(get, path = "/v1/operator/settlement-counts", responses((status = 200, description = "`{\"counts\": {STATE: n}}`")), tag = "operator")]
async fn operator_counts(State(c): State<AppState>, auth: Auth) -> ApiResult<Json<Value>> {
    auth.operator()?;
    let counts = settlements::counts(&c).await?;
    let map: serde_json::Map<String, Value> = counts
        .into_iter()
        .map(|(s, n)| (s.as_str().to_string(), json!(n)))
        .collect();
    Ok(Json(json!({"counts": map, "at": crate::rfc3339(now_ms())})))
}

/// Non-terminal settlements past their deadline or idle too long (operator).
#[utoipa::path(get, path = "/v1/operator/stuck-settlements", params(Page), responses((status = 200, body = Paginated<SettlementView>)), tag = "operator")]
async fn operator_stuck(
    State(c): State<AppState>,
    auth: Auth,
    q: Result<Query<Page>, QueryRejection>,
) -> ApiResult<Json<Paginated<SettlementView>>> {
    auth.operator()?;
    let Query(q) = q?;
    let (limit, offset) = q.resolve()?;
    let (rows, total) = settlements::stuck(&c, limit, offset).await?;
    let items = rows
        .iter()
        .map(|r| r.view())
        .collect::<Result<Vec<_>, _>>()?;
    Ok(page(items, total, limit, offset))
}
