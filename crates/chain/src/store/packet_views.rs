//! What the operator sees of `lz_packets`: the packet list (status, attempts, last error,
//! next attempt, the nonce a packet waits for), a forced retry, and the backlog counted by
//! the metrics.

use super::packets::PacketStatus;
use super::{ChainStore, to_u64};
use crate::error::{ChainError, Result};
use serde::Serialize;

/// One packet as the operator endpoint lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PacketView {
    /// Guid (0x lowercase).
    pub guid: String,
    /// Source chain.
    pub src_chain_id: u64,
    /// Source and destination endpoint ids.
    pub src_eid: u32,
    /// Destination endpoint id.
    pub dst_eid: u32,
    /// Nonce on its path.
    pub nonce: u64,
    /// Where it stands.
    pub status: PacketStatus,
    /// Failed delivery passes so far (waiting for an earlier nonce is not one).
    pub attempts: u32,
    /// The last pass's error, or why it waits.
    pub last_error: Option<String>,
    /// When the next pass is due (unix ms).
    pub next_attempt_at: i64,
    /// The earlier nonce of its path it waits for, if it does.
    pub blocked_on_nonce: Option<u64>,
    /// Since when it waits for that nonce (unix ms).
    pub blocked_since: Option<i64>,
    /// When the relayer queued it (unix ms).
    pub created_at: i64,
    /// The `lzReceive` transaction, once delivered by this relayer.
    pub delivered_tx_hash: Option<String>,
}

#[derive(sqlx::FromRow)]
struct ViewRow {
    guid: String,
    src_chain_id: i64,
    src_eid: i64,
    dst_eid: i64,
    nonce: i64,
    state: String,
    attempts: i64,
    last_error: Option<String>,
    next_attempt_at: i64,
    blocked_on_nonce: Option<i64>,
    blocked_since: Option<i64>,
    created_at: i64,
    delivered_tx_hash: Option<String>,
}

impl TryFrom<ViewRow> for PacketView {
    type Error = ChainError;

    fn try_from(r: ViewRow) -> Result<PacketView> {
        let eid = |v: i64| u32::try_from(v).map_err(|_| ChainError::corrupt("eid", v));
        Ok(PacketView {
            status: PacketStatus::parse(&r.state)
                .ok_or_else(|| ChainError::corrupt("packet state", &r.state))?,
            src_chain_id: to_u64("chain id", r.src_chain_id)?,
            src_eid: eid(r.src_eid)?,
            dst_eid: eid(r.dst_eid)?,
            nonce: to_u64("nonce", r.nonce)?,
            attempts: u32::try_from(r.attempts.max(0)).unwrap_or(u32::MAX),
            blocked_on_nonce: r.blocked_on_nonce.map(|n| to_u64("nonce", n)).transpose()?,
            guid: r.guid,
            last_error: r.last_error,
            next_attempt_at: r.next_attempt_at,
            blocked_since: r.blocked_since,
            created_at: r.created_at,
            delivered_tx_hash: r.delivered_tx_hash,
        })
    }
}

/// Open packets older than a threshold, as the metrics count them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PacketBacklog {
    /// Open packets queued before the threshold.
    pub undelivered: u64,
    /// Open packets waiting for an earlier nonce since before the threshold.
    pub blocked: u64,
}

impl ChainStore {
    /// Up to `limit` packets, the open ones first (oldest first), then the newest closed ones;
    /// `open_only` leaves out the delivered and unreadable ones.
    pub async fn list_packets(&self, open_only: bool, limit: i64) -> Result<Vec<PacketView>> {
        let filter = if open_only {
            "WHERE state IN ('pending', 'verified', 'committed')"
        } else {
            ""
        };
        let sql = format!(
            "SELECT guid, src_chain_id, src_eid, dst_eid, nonce, state, attempts, last_error, \
             next_attempt_at, blocked_on_nonce, blocked_since, created_at, delivered_tx_hash \
             FROM lz_packets {filter} \
             ORDER BY CASE WHEN state IN ('pending', 'verified', 'committed') THEN 0 ELSE 1 END, \
             CASE WHEN state IN ('pending', 'verified', 'committed') THEN created_at ELSE -created_at END \
             LIMIT $1"
        );
        let rows: Vec<ViewRow> = sqlx::query_as(&sql)
            .bind(limit)
            .fetch_all(self.pool())
            .await?;
        rows.into_iter().map(PacketView::try_from).collect()
    }

    /// Makes an open packet due now (the operator's forced retry). False when no open
    /// packet has that guid.
    pub async fn retry_packet_now(&self, guid: &str) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE lz_packets SET next_attempt_at = 0 \
             WHERE guid = $1 AND state IN ('pending', 'verified', 'committed')",
        )
        .bind(guid.to_lowercase())
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Open packets queued, and open packets blocked, before `older_than_ms` (unix ms).
    pub async fn packet_backlog(&self, older_than_ms: i64) -> Result<PacketBacklog> {
        let (undelivered, blocked): (i64, i64) = sqlx::query_as(
            "SELECT \
             COALESCE(SUM(CASE WHEN created_at < $1 THEN 1 ELSE 0 END), 0), \
             COALESCE(SUM(CASE WHEN blocked_since < $1 THEN 1 ELSE 0 END), 0) \
             FROM lz_packets WHERE state IN ('pending', 'verified', 'committed')",
        )
        .bind(older_than_ms)
        .fetch_one(self.pool())
        .await?;
        Ok(PacketBacklog {
            undelivered: to_u64("count", undelivered)?,
            blocked: to_u64("count", blocked)?,
        })
    }
}
