//! What the operator sees of `lz_packets`: the filtered packet list (status, attempts, last
//! error, next attempt, the nonce a packet waits for), one packet, a forced retry, the stale
//! packets of the stuck report and the backlog counted by the metrics. Rows become
//! [`StoredPacket`]s: the record and the packet bytes it was queued with.

use super::{ChainStore, to_u64};
use crate::error::{ChainError, Result};
use lockstep_core::{PacketFilter, PacketRecord, PacketStatus};

/// A packet row: its record and the encoded packet it was queued with. The store leaves
/// `record.kind` and `record.onchain_settlement_id` empty: decoding the message is the
/// LayerZero codec's (`crate::desk` fills them in).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredPacket {
    /// The row's fields.
    pub record: PacketRecord,
    /// The encoded packet (0x hex; empty for an unreadable one).
    pub packet: String,
}

/// The stored names of the open statuses, as an SQL list.
const OPEN: &str = "('pending', 'verified', 'committed')";

const VIEW_COLUMNS: &str = "guid, src_chain_id, src_eid, dst_eid, nonce, packet, state, attempts, \
     last_error, next_attempt_at, blocked_on_nonce, blocked_since, created_at, updated_at, \
     delivered_tx_hash";

#[derive(sqlx::FromRow)]
struct ViewRow {
    guid: String,
    src_chain_id: i64,
    src_eid: i64,
    dst_eid: i64,
    nonce: i64,
    packet: String,
    state: String,
    attempts: i64,
    last_error: Option<String>,
    next_attempt_at: i64,
    blocked_on_nonce: Option<i64>,
    blocked_since: Option<i64>,
    created_at: i64,
    updated_at: i64,
    delivered_tx_hash: Option<String>,
}

impl TryFrom<ViewRow> for StoredPacket {
    type Error = ChainError;

    fn try_from(r: ViewRow) -> Result<StoredPacket> {
        let eid = |v: i64| u32::try_from(v).map_err(|_| ChainError::corrupt("eid", v));
        let record = PacketRecord {
            status: PacketStatus::parse(&r.state)
                .ok_or_else(|| ChainError::corrupt("packet state", &r.state))?,
            src_chain_id: to_u64("chain id", r.src_chain_id)?,
            src_eid: eid(r.src_eid)?,
            dst_eid: eid(r.dst_eid)?,
            nonce: to_u64("nonce", r.nonce)?,
            kind: None,
            onchain_settlement_id: None,
            attempts: u32::try_from(r.attempts.max(0)).unwrap_or(u32::MAX),
            blocked_on_nonce: r.blocked_on_nonce.map(|n| to_u64("nonce", n)).transpose()?,
            guid: r.guid,
            last_error: r.last_error,
            next_attempt_at: r.next_attempt_at,
            blocked_since: r.blocked_since,
            delivered_tx_hash: r.delivered_tx_hash,
            created_at: r.created_at,
            updated_at: r.updated_at,
        };
        Ok(StoredPacket {
            record,
            packet: r.packet,
        })
    }
}

/// The `WHERE` clause of a filter (constants only: nothing from the caller is spliced in).
fn where_clause(f: &PacketFilter) -> String {
    let mut conds = Vec::new();
    if let Some(st) = f.status {
        conds.push(format!("state = '{}'", st.as_str()));
    }
    if f.open_only {
        conds.push(format!("state IN {OPEN}"));
    }
    if f.blocked {
        conds.push("blocked_on_nonce IS NOT NULL".to_string());
    }
    if conds.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", conds.join(" AND "))
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
    pub async fn list_packets(&self, open_only: bool, limit: i64) -> Result<Vec<PacketRecord>> {
        let filter = PacketFilter {
            open_only,
            ..PacketFilter::default()
        };
        let (rows, _) = self.find_packets(&filter, limit, 0).await?;
        Ok(rows.into_iter().map(|p| p.record).collect())
    }

    /// A page of the packets matching `filter` in the order of [`ChainStore::list_packets`],
    /// and how many match in all.
    pub async fn find_packets(
        &self,
        filter: &PacketFilter,
        limit: i64,
        offset: i64,
    ) -> Result<(Vec<StoredPacket>, i64)> {
        let cond = where_clause(filter);
        let total: (i64,) = sqlx::query_as(&format!("SELECT COUNT(*) FROM lz_packets {cond}"))
            .fetch_one(self.pool())
            .await?;
        let sql = format!(
            "SELECT {VIEW_COLUMNS} FROM lz_packets {cond} \
             ORDER BY CASE WHEN state IN {OPEN} THEN 0 ELSE 1 END, \
             CASE WHEN state IN {OPEN} THEN created_at ELSE -created_at END, guid \
             LIMIT $1 OFFSET $2"
        );
        let rows: Vec<ViewRow> = sqlx::query_as(&sql)
            .bind(limit)
            .bind(offset)
            .fetch_all(self.pool())
            .await?;
        let items = rows
            .into_iter()
            .map(StoredPacket::try_from)
            .collect::<Result<_>>()?;
        Ok((items, total.0))
    }

    /// One packet by guid (any case).
    pub async fn find_packet(&self, guid: &str) -> Result<Option<StoredPacket>> {
        let row: Option<ViewRow> = sqlx::query_as(&format!(
            "SELECT {VIEW_COLUMNS} FROM lz_packets WHERE guid = $1"
        ))
        .bind(guid.to_lowercase())
        .fetch_optional(self.pool())
        .await?;
        row.map(StoredPacket::try_from).transpose()
    }

    /// Up to `limit` open packets queued before `before_ms`, or waiting for an earlier nonce
    /// since before it (unix ms), oldest first.
    pub async fn stale_packets(&self, before_ms: i64, limit: i64) -> Result<Vec<StoredPacket>> {
        let rows: Vec<ViewRow> = sqlx::query_as(&format!(
            "SELECT {VIEW_COLUMNS} FROM lz_packets WHERE state IN {OPEN} \
             AND (created_at < $1 OR blocked_since < $1) ORDER BY created_at, guid LIMIT $2"
        ))
        .bind(before_ms)
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        rows.into_iter().map(StoredPacket::try_from).collect()
    }

    /// Makes an open packet due now (the operator's forced retry). False when no open
    /// packet has that guid.
    pub async fn retry_packet_now(&self, guid: &str) -> Result<bool> {
        let done = sqlx::query(&format!(
            "UPDATE lz_packets SET next_attempt_at = 0 WHERE guid = $1 AND state IN {OPEN}"
        ))
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
