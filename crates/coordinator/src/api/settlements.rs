//! Settlement handlers: list, get, events, deposits, evidence, manual decisions, and the
//! operator's retry, early repo close, counts and stuck list.

use super::support::{ApiError, ApiResult, AppState, Auth, Page, Paginated, page};
use crate::auth::Scope;
use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;

use super::packets::{StuckSettlement, stale_by_settlement};
use super::support::ErrorBody;
use crate::Error;
use crate::repo::close::{CloseRefused, Trigger};
use crate::settlements::deposits::{self, DepositInstruction};
use crate::settlements::owed;
use crate::settlements::screening::{self, DecisionRefused, ManualDecision};
use crate::settlements::store::{self, EventView, SettlementView};
use lockstep_core::{SettlementState, now_ms};
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::{IntoParams, ToSchema};

/// Settlement list filter.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SettlementFilter {
    /// A state, e.g. `COMPLIANCE_CLEARED`.
    pub state: Option<String>,
    /// A template slug, e.g. `cross-chain-dvp`.
    #[param(max_length = 64)]
    pub template: Option<String>,
    /// Settlements with a party on this platform (`plt_...`). For a platform token only
    /// its own id finds anything.
    #[param(max_length = 64)]
    pub platform_id: Option<String>,
    /// Page size (default 50, at most 500).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
    /// Items to skip.
    #[param(minimum = 0)]
    pub offset: Option<i64>,
}

/// Settlements the caller is a party to (operators: all).
#[utoipa::path(get, path = "/v1/settlements", params(SettlementFilter), responses((status = 200, body = Paginated<SettlementView>)), tag = "settlements")]
pub(super) async fn list_settlements(
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
    for (name, v) in [("template", &q.template), ("platform_id", &q.platform_id)] {
        if v.as_ref().is_some_and(|v| v.len() > 64) {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("{name}: at most 64 characters"),
            ));
        }
    }
    let party = match (reader, q.platform_id.as_deref()) {
        (Some(me), Some(p)) if p != me => return Ok(page(Vec::new(), 0, limit, offset)),
        (Some(me), _) => Some(me),
        (None, p) => p,
    };
    let filter = store::ListFilter {
        party,
        state,
        template: q.template.as_deref(),
    };
    let (rows, total) = store::list(&c.db, &filter, limit, offset).await?;
    let items = rows
        .iter()
        .map(|r| r.view())
        .collect::<Result<Vec<_>, _>>()?;
    Ok(page(items, total, limit, offset))
}

/// One settlement: state, parties, compliance, terms, terms hash, decision ref,
/// attestations, and `owed`: the legs an escrow could not pay and owes on chain.
#[utoipa::path(get, path = "/v1/settlements/{id}", params(("id" = String, Path)), responses((status = 200, body = SettlementView), (status = 404, body = ErrorBody)), tag = "settlements")]
pub(super) async fn get_settlement(
    State(c): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<SettlementView>> {
    let reader = auth.settlement_reader()?;
    let s = store::get_visible(&c.db, &id, reader)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let mut v = s.view()?;
    v.owed = owed::list(&c.db, &s.id).await?;
    if let Some(log) = &c.deposit_log {
        let onchain = format!(
            "{:#x}",
            lockstep_core::onchain_settlement_id(&s.trade_reference)
        );
        v.deposits = log.deposits(&onchain).await.map_err(|e| {
            tracing::warn!(settlement_id = %s.id, error = %e, "reading the recorded deposits failed");
            ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "the deposit log is unreadable; retry")
        })?;
    }
    Ok(Json(v))
}

/// The settlement's transition trail, each event hash-chained to the previous one.
#[utoipa::path(get, path = "/v1/settlements/{id}/events", params(("id" = String, Path)), responses((status = 200, body = Paginated<EventView>), (status = 404, body = ErrorBody)), tag = "settlements")]
pub(super) async fn settlement_events(
    State(c): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<Paginated<EventView>>> {
    let reader = auth.settlement_reader()?;
    store::get_visible(&c.db, &id, reader)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let items = store::events(&c.db, &id).await?;
    let n = i64::try_from(items.len()).unwrap_or(i64::MAX);
    Ok(page(items, n, n, 0))
}

/// `GET /v1/settlements/{id}/deposits` query.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DepositQuery {
    /// The custody address that will send the deposit-key legs' deposits: their
    /// `signature` and `deposit_calldata` are made for it (ignored for depositor legs).
    pub sender: Option<String>,
}

/// The legs the calling platform must fund (only its own legs: another platform never sees
/// them), with `approve` and `deposit` calldata, so a custody system can sign without
/// knowing the escrow ABI. A `depositor` leg is deposited by its fixed `sender`; a
/// `deposit_key` leg comes with the one-time key (`deposit_key_private_key`) and, with
/// `?sender=0x...`, the key's signature and the calldata for that sender. Empty until
/// `COMPLIANCE_CLEARED`; deposits succeed only once the chain side has registered the terms.
#[utoipa::path(get, path = "/v1/settlements/{id}/deposits", params(("id" = String, Path), DepositQuery), responses((status = 200, body = Paginated<DepositInstruction>), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody, description = "`sender` is not an address")), tag = "settlements")]
pub(super) async fn settlement_deposits(
    State(c): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    q: Result<Query<DepositQuery>, QueryRejection>,
) -> ApiResult<Json<Paginated<DepositInstruction>>> {
    let platform = auth.platform(Scope::SettlementsRead)?;
    let Query(q) = q?;
    let sender = q
        .sender
        .as_deref()
        .map(crate::validate::parse_address)
        .transpose()
        .map_err(|m| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, format!("sender: {m}")))?;
    let s = store::get_visible(&c.db, &id, Some(platform))
        .await?
        .ok_or_else(ApiError::not_found)?;
    let items = deposits::deposits(&c.db, &c.escrows, &s, platform, sender).await?;
    let n = i64::try_from(items.len()).unwrap_or(0);
    Ok(page(items, n, n, 0))
}

/// The settlement's evidence: the decision evidence (`decision_ref` and every preimage) and,
/// once the settlement is final on chain, `bundle`: the receipt-anchored evidence bundle
/// (docs/evidence.md) that `lockstep evidence verify --rpc` re-checks; `null` before.
#[utoipa::path(get, path = "/v1/settlements/{id}/evidence", params(("id" = String, Path)), responses((status = 200, description = "`{settlement_id, trade_reference, decision_ref, decision, compliance, terms_hash, bundle}`"), (status = 404, body = ErrorBody)), tag = "settlements")]
pub(super) async fn settlement_evidence(
    State(c): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let reader = auth.settlement_reader()?;
    let s = store::get_visible(&c.db, &id, reader)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let v = s.view()?;
    let bundle = store::bundle(&c.db, &s.id).await?;
    Ok(Json(
        json!({"settlement_id": v.id, "trade_reference": v.trade_reference, "decision_ref": v.decision_ref, "decision": v.evidence, "compliance": v.compliance, "terms_hash": v.terms_hash, "bundle": bundle}),
    ))
}

/// Run the settlement's next automatic step now (operator): screening, or the hand-over
/// to the registrar.
#[utoipa::path(post, path = "/v1/operator/settlements/{id}/retry", params(("id" = String, Path)), responses((status = 200, body = SettlementView), (status = 404, body = ErrorBody)), tag = "operator")]
pub(super) async fn operator_retry(
    State(c): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<SettlementView>> {
    auth.operator()?;
    store::get_visible(&c.db, &id, None)
        .await?
        .ok_or_else(ApiError::not_found)?;
    match screening::process(&c.lifecycle, &id).await {
        Ok(()) | Err(Error::ConcurrentTransition { .. }) => {}
        Err(e) => {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                format!("step failed: {e}"),
            ));
        }
    }
    let s = store::get_visible(&c.db, &id, None)
        .await?
        .ok_or_else(ApiError::not_found)?;
    Ok(Json(s.view()?))
}

/// Register a repo opening's close now, before maturity (operator): from the closing
/// terms fixed at opening, exactly as the worker does after maturity. Idempotent: once
/// registered (by this call, an earlier one or the worker) it answers with the same
/// `closing_settlement_id`. Answers the opening.
#[utoipa::path(post, path = "/v1/operator/settlements/{id}/close", params(("id" = String, Path)),
    responses((status = 200, body = SettlementView, description = "the opening, with `closing_settlement_id`"), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "not a FINALIZED repo opening")), tag = "operator")]
pub(super) async fn operator_close(
    State(c): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<SettlementView>> {
    auth.operator()?;
    let trigger = Trigger::Operator(&auth.0.token_id);
    match crate::repo::close::register_close(&c.lifecycle, &id, trigger).await? {
        Ok(_) => {}
        Err(CloseRefused::NotFound(_)) => return Err(ApiError::not_found()),
        Err(e @ CloseRefused::NotClosable(_)) => {
            return Err(ApiError::new(StatusCode::CONFLICT, e.to_string()));
        }
    }
    let s = store::get_visible(&c.db, &id, None)
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
pub(super) async fn compliance_decision(
    State(c): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    body: Result<Json<DecisionRequest>, JsonRejection>,
) -> ApiResult<Json<SettlementView>> {
    auth.operator()?;
    let Json(req) = body?;
    let s = store::get_visible(&c.db, &id, None)
        .await?
        .ok_or_else(ApiError::not_found)?;
    match screening::decide(
        &c.lifecycle,
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
    let s = store::get_visible(&c.db, &id, None)
        .await?
        .ok_or_else(ApiError::not_found)?;
    Ok(Json(s.view()?))
}

/// Per-state settlement counts (operator).
#[utoipa::path(get, path = "/v1/operator/settlement-counts", responses((status = 200, description = "`{\"counts\": {STATE: n}}`")), tag = "operator")]
pub(super) async fn operator_counts(
    State(c): State<AppState>,
    auth: Auth,
) -> ApiResult<Json<Value>> {
    auth.operator()?;
    let counts = store::counts(&c.db).await?;
    let map: serde_json::Map<String, Value> = counts
        .into_iter()
        .map(|(s, n)| (s.as_str().to_string(), json!(n)))
        .collect();
    Ok(Json(json!({"counts": map, "at": crate::rfc3339(now_ms())})))
}

/// Settlements needing an operator (oldest change first): non-terminal ones past their
/// deadline or idle for longer than `stuck_after_secs`, and, in any state, those with a
/// packet undelivered or blocked behind an earlier nonce for longer than that; each with
/// those packets (`stuck_packets`).
#[utoipa::path(get, path = "/v1/operator/stuck-settlements", params(Page), responses((status = 200, body = Paginated<StuckSettlement>)), tag = "operator")]
pub(super) async fn operator_stuck(
    State(c): State<AppState>,
    auth: Auth,
    q: Result<Query<Page>, QueryRejection>,
) -> ApiResult<Json<Paginated<StuckSettlement>>> {
    auth.operator()?;
    let Query(q) = q?;
    let (limit, offset) = q.resolve()?;
    let mut stale = stale_by_settlement(&c).await?;
    let onchain: Vec<String> = stale.keys().cloned().collect();
    let (rows, total) =
        store::stuck(&c.db, c.config.stuck_after_secs, &onchain, limit, offset).await?;
    let items = rows
        .iter()
        .map(|r| {
            let settlement = r.view()?;
            let stuck_packets = stale
                .remove(
                    &lockstep_core::onchain_settlement_id(&settlement.trade_reference).to_string(),
                )
                .unwrap_or_default();
            Ok(StuckSettlement {
                settlement,
                stuck_packets,
            })
        })
        .collect::<Result<Vec<_>, Error>>()?;
    Ok(page(items, total, limit, offset))
}
