//! Instruction handlers: submit, list, get, cancel.

use super::support::{ApiError, ApiResult, AppState, Auth, Page, Paginated, page};
use crate::auth::Scope;
use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::support::ErrorBody;
use crate::instructions::{self, Cancelled, InstructionRequest, InstructionView, Submitted};
use lockstep_core::InstructionStatus;
use utoipa::IntoParams;

/// Submit one side of a trade.
#[utoipa::path(post, path = "/v1/instructions", request_body = InstructionRequest,
    responses(
        (status = 201, body = InstructionView, description = "accepted; `match` tells whether it matched and, if not, which rule failed"),
        (status = 200, body = InstructionView, description = "idempotent replay of the first answer"),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "idempotency key reused with another body, or (to a party of it) the trade reference is already matched into a settlement, or (multi-party) a waiting side changed while this one completed the trade: nothing stored, retry"),
        (status = 422, body = ErrorBody)),
    tag = "instructions")]
pub(super) async fn submit_instruction(
    State(c): State<AppState>,
    auth: Auth,
    body: Result<Json<InstructionRequest>, JsonRejection>,
) -> ApiResult<Response> {
    let platform = auth.platform(Scope::InstructionsWrite)?;
    let Json(req) = body?;
    Ok(
        match instructions::submit(&c.intake, platform, req).await? {
            Submitted::Created(v) => (StatusCode::CREATED, Json(v)).into_response(),
            Submitted::Replayed(v) => (StatusCode::OK, Json(v)).into_response(),
            Submitted::KeyReused => ApiError::new(
                StatusCode::CONFLICT,
                "idempotency_key was already used with another body",
            )
            .into_response(),
            Submitted::Invalid(errs) => ApiError::fields(errs).into_response(),
            Submitted::Settled(s) => ApiError::new(
                StatusCode::CONFLICT,
                format!(
                    "trade reference {} is already matched into settlement {}; it takes no further instruction",
                    s.trade_reference, s.settlement_id
                ),
            )
            .into_response(),
        },
    )
}

/// Instruction list filter.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct InstructionFilter {
    /// `pending_match`, `matched`, `expired`, `cancelled` or `closed`.
    pub status: Option<String>,
    /// Page size (default 50, at most 500).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
    /// Items to skip.
    #[param(minimum = 0)]
    pub offset: Option<i64>,
}

/// The platform's instructions.
#[utoipa::path(get, path = "/v1/instructions", params(InstructionFilter), responses((status = 200, body = Paginated<InstructionView>)), tag = "instructions")]
pub(super) async fn list_instructions(
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
    let status = match &q.status {
        Some(s) => Some(InstructionStatus::parse(s).ok_or_else(|| {
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("status: unknown status {s:?}"),
            )
        })?),
        None => None,
    };
    let (items, total) = instructions::list(&c.db, platform, status, limit, offset).await?;
    Ok(page(items, total, limit, offset))
}

/// One of the platform's instructions (404 for another platform's).
#[utoipa::path(get, path = "/v1/instructions/{id}", params(("id" = String, Path)), responses((status = 200, body = InstructionView), (status = 404, body = ErrorBody)), tag = "instructions")]
pub(super) async fn get_instruction(
    State(c): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<InstructionView>> {
    let platform = auth.platform(Scope::InstructionsRead)?;
    instructions::get(&c.db, platform, &id)
        .await?
        .map(Json)
        .ok_or_else(ApiError::not_found)
}

/// Cancel a `pending_match` instruction.
#[utoipa::path(post, path = "/v1/instructions/{id}/cancel", params(("id" = String, Path)), responses((status = 200, body = InstructionView), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)), tag = "instructions")]
pub(super) async fn cancel_instruction(
    State(c): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<InstructionView>> {
    let platform = auth.platform(Scope::InstructionsWrite)?;
    match instructions::cancel(&c.db, platform, &id).await? {
        Cancelled::Done(v) => Ok(Json(*v)),
        Cancelled::NotFound => Err(ApiError::not_found()),
        Cancelled::WrongStatus(s) => Err(ApiError::new(
            StatusCode::CONFLICT,
            format!("instruction is {s}; only pending_match can be cancelled"),
        )),
    }
}
