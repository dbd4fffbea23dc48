//! What every handler shares: the state, the error answer, the authenticated caller and
//! paging.

use super::limits::{AddressLimiter, too_many};
use crate::Error;
use crate::auth::{Principal, Scope};
use crate::config::Config;
use crate::instructions::{FieldError, Intake};
use crate::metrics::{Metrics, RateLimiter};
use crate::settlements::Lifecycle;
use crate::templates::Templates;
use crate::terms::Escrows;
use axum::Json;
use axum::extract::ConnectInfo;
use axum::extract::FromRequestParts;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::http::{StatusCode, header, request::Parts};
use axum::response::{IntoResponse, Response};
use lockstep_core::{Db, MetricsSource, PacketDesk, PacketDeskError};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::sync::Arc;
use utoipa::{IntoParams, ToSchema};

/// The state every handler shares: the contexts of the concerns it calls into.
pub struct ApiState {
    /// Storage.
    pub db: Db,
    /// Instruction intake (validation, matching).
    pub intake: Intake,
    /// The settlement lifecycle (screening, decisions, the registrar hand-over).
    pub lifecycle: Arc<Lifecycle>,
    /// Settlement templates.
    pub templates: Arc<Templates>,
    /// The escrow per chain (deposit instructions).
    pub escrows: Arc<Escrows>,
    /// The coordinator's counters.
    pub metrics: Arc<Metrics>,
    /// Further `/metrics` text (the chain side's).
    pub metrics_sources: Vec<Arc<dyn MetricsSource>>,
    /// The relayer's packets (the chain side's), if wired.
    pub packets: Option<Arc<dyn PacketDesk>>,
    /// Re-checks evidence bundles against the chains, if wired.
    pub bundle_anchors: Option<Arc<dyn lockstep_core::BundleAnchors>>,
    /// The escrows' recorded deposits, if wired.
    pub deposit_log: Option<Arc<dyn lockstep_core::DepositLog>>,
    /// Per-token request limits.
    pub limiter: RateLimiter,
    /// Per-address limits for requests without a valid token.
    pub addresses: AddressLimiter,
    /// Configuration in force (rate limits, stuck threshold, secret overlap).
    pub config: Config,
}

impl std::fmt::Debug for ApiState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiState")
            .field("db", &self.db)
            .finish_non_exhaustive()
    }
}

/// The handlers' shared state.
pub type AppState = Arc<ApiState>;

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
    pub(crate) fn new(status: StatusCode, detail: impl Into<String>) -> ApiError {
        ApiError {
            status,
            detail: detail.into(),
            errors: None,
            retry_after: None,
        }
    }
    /// Adds `Retry-After: secs`.
    pub(crate) fn retry_after(mut self, secs: u64) -> ApiError {
        self.retry_after = Some(secs);
        self
    }
    pub(crate) fn not_found() -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "not found")
    }
    pub(crate) fn fields(errors: Vec<FieldError>) -> ApiError {
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
            Error::ConcurrentTransition { .. }
            | Error::IllegalTransition { .. }
            | Error::ConcurrentMatch { .. } => ApiError::new(StatusCode::CONFLICT, e.to_string()),
            e => {
                tracing::error!(error = %e, "request failed");
                ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
            }
        }
    }
}

impl From<PacketDeskError> for ApiError {
    fn from(e: PacketDeskError) -> Self {
        tracing::error!(error = %e, source = ?std::error::Error::source(&e), "reading the relayer's packets failed");
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
    }
}

impl From<JsonRejection> for ApiError {
    fn from(r: JsonRejection) -> Self {
        // axum's own statuses: 400 syntax, 422 data, 415 content type, 413 size.
        ApiError::new(r.status(), r.body_text())
    }
}

impl From<QueryRejection> for ApiError {
    fn from(r: QueryRejection) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, r.body_text())
    }
}

/// A handler result.
pub type ApiResult<T> = Result<T, ApiError>;

/// The authenticated caller (401 without a valid bearer token).
#[derive(Debug)]
pub struct Auth(pub Principal);

impl FromRequestParts<AppState> for Auth {
    type Rejection = ApiError;

    /// Requests without a valid token are charged to the caller's address (429 beyond
    /// the per-address limit); one over that limit gets a token looked up only if it was
    /// valid before (docs/coordinator.md, "Server limits").
    async fn from_request_parts(parts: &mut Parts, c: &AppState) -> Result<Self, ApiError> {
        let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>();
        let Some(token) = bearer(parts) else {
            return Err(c.addresses.charge(c, peer).map_or_else(throttled, |()| {
                ApiError::new(StatusCode::UNAUTHORIZED, "missing bearer token")
            }));
        };
        let hash = crate::auth::hash_token(token);
        c.addresses.may_look_up(c, peer, &hash).map_err(throttled)?;
        let Some(p) = crate::auth::authenticate_hash(&c.db, &hash).await? else {
            return Err(c.addresses.charge(c, peer).map_or_else(throttled, |()| {
                ApiError::new(StatusCode::UNAUTHORIZED, "invalid or revoked token")
            }));
        };
        c.addresses.remember(&hash);
        c.limiter
            .check(
                &p.token_id,
                c.config.rate_limit_per_second,
                c.config.rate_limit_burst,
            )
            .map_err(|secs| too_many("rate limit exceeded for this token", secs))?;
        Ok(Auth(p))
    }
}

fn throttled(secs: u64) -> ApiError {
    too_many(
        "too many requests without a valid token from this address",
        secs,
    )
}

/// The bearer token of the `Authorization` header, if any.
fn bearer(parts: &Parts) -> Option<&str> {
    parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
        .filter(|t| !t.is_empty())
}

impl Auth {
    /// The caller's platform, if the token has `scope` (403 otherwise).
    pub(crate) fn platform(&self, scope: Scope) -> ApiResult<&str> {
        match (&self.0.platform_id, self.0.has(scope)) {
            (Some(p), true) => Ok(p),
            _ => Err(ApiError::new(
                StatusCode::FORBIDDEN,
                format!("token lacks scope {scope}"),
            )),
        }
    }

    /// Settlement visibility: `None` for operators (everything), the platform otherwise.
    pub(crate) fn settlement_reader(&self) -> ApiResult<Option<&str>> {
        if self.0.has(Scope::Operator) {
            return Ok(None);
        }
        self.platform(Scope::SettlementsRead).map(Some)
    }

    pub(crate) fn operator(&self) -> ApiResult<()> {
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
#[into_params(parameter_in = Query)]
pub struct Page {
    /// Page size (default 50, at most 500).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
    /// Items to skip.
    #[param(minimum = 0)]
    pub offset: Option<i64>,
}

impl Page {
    pub(crate) fn resolve(&self) -> ApiResult<(i64, i64)> {
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

pub(crate) fn page<T>(items: Vec<T>, total: i64, limit: i64, offset: i64) -> Json<Paginated<T>> {
    Json(Paginated {
        items,
        total,
        limit,
        offset,
    })
}
