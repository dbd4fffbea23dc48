//! The operator's packet desk (`/v1/operator/packets`): the relayer's LayerZero packets with
//! their status, attempts, last error, next attempt and the nonce they wait for, and the
//! forced retry; and the stale packets the stuck-settlements report adds to each
//! settlement. Served through the `PacketDesk` port (the chain side's); without one the list
//! is empty and every guid is unknown (404).

use super::support::{ApiError, ApiResult, AppState, Auth, ErrorBody, Page, Paginated, page};
use crate::rfc3339;
use crate::settlements::store::{self, SettlementView};
use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use lockstep_core::{MessageKind, PacketFilter, PacketRecord, PacketStatus, RetryOutcome, now_ms};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use utoipa::{IntoParams, ToSchema};

/// At most this many stale packets are read for one stuck-settlements report.
const STALE_PACKETS_MAX: i64 = 500;

/// A packet's path: source and destination chain and LayerZero endpoint ids.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PacketPath {
    /// Source EVM chain id.
    pub src_chain_id: u64,
    /// Source endpoint id.
    pub src_eid: u32,
    /// Destination EVM chain id (`null` when no configured escrow has `dst_eid`).
    pub dst_chain_id: Option<u64>,
    /// Destination endpoint id.
    pub dst_eid: u32,
}

/// One LayerZero packet an escrow sent, as the relayer tracks it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PacketView {
    /// Guid (0x, lowercase).
    pub guid: String,
    /// Where it goes.
    pub path: PacketPath,
    /// Nonce on its path (delivered in order).
    pub nonce: u64,
    /// The coordinator's settlement (`stl_...`), when the message decodes and the settlement
    /// is known here.
    pub settlement_id: Option<String>,
    /// The on-chain settlement id (`Terms.settlementId`), when the message decodes.
    pub onchain_settlement_id: Option<String>,
    /// The escrow message (`LOCKED`, `RELEASE`, `ABORT`), when it decodes.
    pub message_kind: Option<MessageKind>,
    /// Where it stands.
    pub status: PacketStatus,
    /// Failed delivery passes so far (waiting for an earlier nonce is not one).
    pub attempts: u32,
    /// The last pass's error, or why it waits.
    pub last_error: Option<String>,
    /// When the relayer's next pass is due (RFC 3339; in the past: due now).
    pub next_attempt_at: String,
    /// The earlier nonce of its path it waits for, if it does.
    pub blocked_on_nonce: Option<u64>,
    /// Since when it waits for that nonce (RFC 3339).
    pub blocked_since: Option<String>,
    /// The `lzReceive` transaction, once delivered by this relayer.
    pub delivered_tx_hash: Option<String>,
    /// When the relayer queued it (RFC 3339).
    pub created_at: String,
    /// Last change (RFC 3339).
    pub updated_at: String,
}

/// A stuck settlement: the settlement as everywhere else, and its packets undelivered or
/// blocked behind an earlier nonce for longer than the stuck threshold.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct StuckSettlement {
    /// The settlement.
    #[serde(flatten)]
    pub settlement: SettlementView,
    /// Its stale packets (empty when only the settlement itself is late or idle).
    pub stuck_packets: Vec<PacketView>,
}

/// `GET /v1/operator/packets` query.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PacketQuery {
    /// Only packets in this status.
    pub status: Option<PacketStatus>,
    /// Only packets the relayer still works on (`pending`, `verified`, `committed`).
    pub open_only: Option<bool>,
    /// Only packets waiting for an earlier nonce of their path.
    pub blocked: Option<bool>,
    /// Page size (default 50, at most 500).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
    /// Items to skip.
    #[param(minimum = 0)]
    pub offset: Option<i64>,
}

/// The API view of packet records: resolves destination chains and settlement ids.
async fn views(c: &AppState, records: Vec<PacketRecord>) -> ApiResult<Vec<PacketView>> {
    let onchain: Vec<String> = records
        .iter()
        .filter_map(|r| r.onchain_settlement_id.clone())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let ids = store::ids_by_onchain(&c.db, &onchain).await?;
    Ok(records.into_iter().map(|r| view(c, &ids, r)).collect())
}

fn view(c: &AppState, ids: &HashMap<String, String>, r: PacketRecord) -> PacketView {
    PacketView {
        path: PacketPath {
            src_chain_id: r.src_chain_id,
            src_eid: r.src_eid,
            dst_chain_id: c.escrows.by_eid(r.dst_eid).map(|e| e.chain_id),
            dst_eid: r.dst_eid,
        },
        settlement_id: r
            .onchain_settlement_id
            .as_ref()
            .and_then(|o| ids.get(o).cloned()),
        guid: r.guid,
        nonce: r.nonce,
        onchain_settlement_id: r.onchain_settlement_id,
        message_kind: r.kind,
        status: r.status,
        attempts: r.attempts,
        last_error: r.last_error,
        next_attempt_at: rfc3339(r.next_attempt_at),
        blocked_on_nonce: r.blocked_on_nonce,
        blocked_since: r.blocked_since.map(rfc3339),
        delivered_tx_hash: r.delivered_tx_hash,
        created_at: rfc3339(r.created_at),
        updated_at: rfc3339(r.updated_at),
    }
}

/// The relayer's packets, open ones first (oldest first), then the newest closed ones
/// (operator).
#[utoipa::path(get, path = "/v1/operator/packets", params(PacketQuery), responses((status = 200, body = Paginated<PacketView>)), tag = "operator")]
pub(super) async fn list_packets(
    State(c): State<AppState>,
    auth: Auth,
    q: Result<Query<PacketQuery>, QueryRejection>,
) -> ApiResult<Json<Paginated<PacketView>>> {
    auth.operator()?;
    let Query(q) = q?;
    let (limit, offset) = Page {
        limit: q.limit,
        offset: q.offset,
    }
    .resolve()?;
    let Some(desk) = &c.packets else {
        return Ok(page(Vec::new(), 0, limit, offset));
    };
    let filter = PacketFilter {
        status: q.status,
        open_only: q.open_only.unwrap_or(false),
        blocked: q.blocked.unwrap_or(false),
    };
    let (records, total) = desk.list(&filter, limit, offset).await?;
    Ok(page(views(&c, records).await?, total, limit, offset))
}

/// One packet by guid (operator).
#[utoipa::path(get, path = "/v1/operator/packets/{guid}", params(("guid" = String, Path)), responses((status = 200, body = PacketView), (status = 404, body = ErrorBody)), tag = "operator")]
pub(super) async fn get_packet(
    State(c): State<AppState>,
    auth: Auth,
    Path(guid): Path<String>,
) -> ApiResult<Json<PacketView>> {
    auth.operator()?;
    let desk = c.packets.as_ref().ok_or_else(ApiError::not_found)?;
    let record = desk.get(&guid).await?.ok_or_else(ApiError::not_found)?;
    Ok(Json(one(&c, record).await?))
}

/// Force the relayer's next delivery pass of an open packet now (operator; idempotent).
/// Answers the packet as it stands; 409 when it is delivered (or unreadable: nothing to
/// deliver).
#[utoipa::path(post, path = "/v1/operator/packets/{guid}/retry", params(("guid" = String, Path)), responses((status = 200, body = PacketView), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "the packet is delivered or unreadable")), tag = "operator")]
pub(super) async fn retry_packet(
    State(c): State<AppState>,
    auth: Auth,
    Path(guid): Path<String>,
) -> ApiResult<Json<PacketView>> {
    auth.operator()?;
    let desk = c.packets.as_ref().ok_or_else(ApiError::not_found)?;
    match desk.retry_now(&guid).await? {
        RetryOutcome::Scheduled(r) => Ok(Json(one(&c, *r).await?)),
        RetryOutcome::Closed(r) => Err(ApiError::new(
            StatusCode::CONFLICT,
            format!("packet {} is {}: nothing to retry", r.guid, r.status),
        )),
        RetryOutcome::NotFound => Err(ApiError::not_found()),
    }
}

async fn one(c: &AppState, record: PacketRecord) -> ApiResult<PacketView> {
    let mut v = views(c, vec![record]).await?;
    v.pop().ok_or_else(ApiError::not_found)
}

/// The open packets queued, or blocked behind an earlier nonce, for longer than
/// `stuck_after_secs`, by on-chain settlement id (packets whose message does not decode
/// belong to no settlement and are left out).
pub(super) async fn stale_by_settlement(
    c: &AppState,
) -> ApiResult<HashMap<String, Vec<PacketView>>> {
    let Some(desk) = &c.packets else {
        return Ok(HashMap::new());
    };
    let after_ms =
        i64::try_from(c.config.stuck_after_secs.saturating_mul(1000)).unwrap_or(i64::MAX);
    let before = now_ms().saturating_sub(after_ms);
    let records = desk.stale(before, STALE_PACKETS_MAX).await?;
    let mut by: HashMap<String, Vec<PacketView>> = HashMap::new();
    for v in views(c, records).await? {
        if let Some(id) = v.onchain_settlement_id.clone() {
            by.entry(id).or_default().push(v);
        }
    }
    Ok(by)
}
