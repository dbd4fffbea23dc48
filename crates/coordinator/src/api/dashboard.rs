//! What the dashboard needs beyond the settlement API: a settlement's webhook deliveries,
//! evidence verification on request, and the dashboard itself (docs/coordinator.md,
//! "Dashboard"): one HTML page, a script and a style sheet, compiled into the binary and
//! served at `/dashboard`. The page signs in with a bearer token kept in the browser tab's
//! `sessionStorage` and reads the same JSON API as every other client, so it shows exactly
//! what that token may see.

use super::support::{ApiError, ApiResult, AppState, Auth, ErrorBody, Paginated, page};
use crate::settlements::store;
use crate::webhooks::{self, SettlementDelivery};
use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use lockstep_evidence::bundle::{OfflineOnly, VerifyError, verify_bundle};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

/// The webhook deliveries of a settlement's events: the calling platform's own (operators:
/// every platform's), oldest first, each with its attempts; at most 1,000.
#[utoipa::path(get, path = "/v1/settlements/{id}/webhook-deliveries", params(("id" = String, Path)), responses((status = 200, body = Paginated<SettlementDelivery>), (status = 404, body = ErrorBody)), tag = "settlements")]
pub(super) async fn settlement_deliveries(
    State(c): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<Paginated<SettlementDelivery>>> {
    let reader = auth.settlement_reader()?;
    store::get_visible(&c.db, &id, reader)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let items = webhooks::for_settlement(&c.db, &id, reader).await?;
    let n = i64::try_from(items.len()).unwrap_or(0);
    Ok(page(items, n, n, 0))
}

/// `POST /v1/evidence/verify`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifyRequest {
    /// An evidence bundle (`lockstep-evidence-bundle/v1`), e.g. the `bundle` member of
    /// `GET /v1/settlements/{id}/evidence`.
    #[schema(value_type = Object)]
    pub bundle: Value,
}

/// One check's outcome.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CheckOutcome {
    /// Whether it passed.
    pub passed: bool,
    /// The summary line when it passed, the first difference or error otherwise.
    pub detail: String,
}

/// What `POST /v1/evidence/verify` found.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct VerifyResult {
    /// `true` when the bundle recomputes and, where the chains are configured, every anchor
    /// holds on its chain.
    pub passed: bool,
    /// Every ref recomputed from the facts (no network).
    pub offline: CheckOutcome,
    /// Every anchor re-read from its chain: `null` when this coordinator has no chain side
    /// or the offline check already failed.
    pub chains: Option<CheckOutcome>,
}

/// Verifies an evidence bundle: offline (every ref recomputed from its facts) and, when
/// this coordinator's chains are configured, against the chains (each anchor's receipt,
/// canonical block, escrow, event and settlement id). A bundle that fails is a 200 with
/// `passed: false` and the first difference.
#[utoipa::path(post, path = "/v1/evidence/verify", request_body = VerifyRequest, responses((status = 200, body = VerifyResult), (status = 422, body = ErrorBody, description = "not a bundle: wrong shape or values")), tag = "evidence")]
pub(super) async fn verify_evidence(
    State(c): State<AppState>,
    auth: Auth,
    body: Result<Json<VerifyRequest>, JsonRejection>,
) -> ApiResult<Json<VerifyResult>> {
    auth.settlement_reader()?;
    let Json(req) = body?;
    let offline = match verify_bundle(&req.bundle, &OfflineOnly) {
        Ok(summary) => CheckOutcome {
            passed: true,
            detail: summary.to_string(),
        },
        Err(VerifyError::Mismatch(m)) => CheckOutcome {
            passed: false,
            detail: format!("mismatch: {m}"),
        },
        Err(VerifyError::Invalid(e)) => {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("bundle: {e}"),
            ));
        }
    };
    let chains = match (&c.bundle_anchors, offline.passed) {
        (Some(anchors), true) => Some(match anchors.verify_on_chains(&req.bundle).await {
            Ok(summary) => CheckOutcome {
                passed: true,
                detail: summary,
            },
            Err(e) => CheckOutcome {
                passed: false,
                detail: e.to_string(),
            },
        }),
        _ => None,
    };
    let passed = offline.passed && chains.as_ref().is_none_or(|c| c.passed);
    tracing::info!(
        passed,
        chains_checked = chains.is_some(),
        "evidence bundle verified on request"
    );
    Ok(Json(VerifyResult {
        passed,
        offline,
        chains,
    }))
}

/// One configured verifier's `/healthz`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct VerifierHealth {
    /// The configured URL.
    pub url: String,
    /// `true` when it answered 200.
    pub healthy: bool,
    /// Its HTTP status, `null` when it did not answer.
    pub status: Option<u16>,
    /// Its JSON body (per chain: cursor, refusing, failing), or why it could not be read.
    #[schema(value_type = Object)]
    pub detail: Value,
}

/// How long one verifier's `/healthz` may take before it counts as down.
const VERIFIER_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

/// The one client for verifier health reads (built on first use: the operator page asks
/// every 2 s, and building a client loads the TLS roots each time).
fn verifier_client() -> Result<&'static reqwest::Client, reqwest::Error> {
    static CLIENT: std::sync::OnceLock<reqwest::Client> = std::sync::OnceLock::new();
    if let Some(c) = CLIENT.get() {
        return Ok(c);
    }
    let c = reqwest::Client::builder()
        .timeout(VERIFIER_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .build()?;
    Ok(CLIENT.get_or_init(|| c))
}

/// The independent verifiers' health (operator): each configured `verifier_health_urls`
/// entry's `/healthz`, read now (2 s timeout each).
#[utoipa::path(get, path = "/v1/operator/verifiers", responses((status = 200, body = Paginated<VerifierHealth>)), tag = "operator")]
pub(super) async fn operator_verifiers(
    State(c): State<AppState>,
    auth: Auth,
) -> ApiResult<Json<Paginated<VerifierHealth>>> {
    auth.operator()?;
    let http = verifier_client()
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    let mut items = Vec::new();
    for url in &c.config.verifier_health_urls {
        items.push(match http.get(url).send().await {
            Ok(r) => {
                let status = r.status().as_u16();
                let detail = r.json::<Value>().await.unwrap_or(Value::Null);
                VerifierHealth {
                    url: url.clone(),
                    healthy: status == 200,
                    status: Some(status),
                    detail,
                }
            }
            Err(e) => {
                tracing::warn!(url, error = %e, "verifier health unreadable");
                VerifierHealth {
                    url: url.clone(),
                    healthy: false,
                    status: None,
                    detail: Value::from(e.to_string()),
                }
            }
        });
    }
    let n = i64::try_from(items.len()).unwrap_or(0);
    Ok(page(items, n, n, 0))
}

const INDEX_HTML: &str = include_str!("../../dashboard/index.html");
const APP_JS: &str = include_str!("../../dashboard/app.js");
const APP_CSS: &str = include_str!("../../dashboard/app.css");
/// The page loads only its own script and style sheet and talks only to this origin.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'";

fn asset(content_type: &'static str, body: &'static str) -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CONTENT_SECURITY_POLICY, CSP),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::REFERRER_POLICY, "no-referrer"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
}

/// `GET /dashboard`: the page.
pub(super) async fn index() -> impl IntoResponse {
    asset("text/html; charset=utf-8", INDEX_HTML)
}

/// `GET /dashboard/app.js`.
pub(super) async fn script() -> impl IntoResponse {
    asset("text/javascript; charset=utf-8", APP_JS)
}

/// `GET /dashboard/app.css`.
pub(super) async fn style() -> impl IntoResponse {
    asset("text/css; charset=utf-8", APP_CSS)
}
