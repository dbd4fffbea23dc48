//! The relayer's packets (`lz_packets`): one row per LayerZero packet an escrow sent, with
//! its typed [`PacketStatus`], attempts, last error and next attempt time.

use super::{ChainStore, to_u64};
use crate::error::{ChainError, Result};
use alloy::primitives::B256;
use lockstep_core::now_ms;

pub use lockstep_core::PacketStatus;

/// A packet to queue (from a stored `PacketSent`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPacket {
    /// Guid (0x lowercase).
    pub guid: String,
    /// Source chain.
    pub src_chain_id: i64,
    /// Source endpoint id.
    pub src_eid: u32,
    /// Destination endpoint id.
    pub dst_eid: u32,
    /// Sender word (0x lowercase).
    pub sender: String,
    /// Receiver address (0x lowercase).
    pub receiver: String,
    /// Nonce on the path.
    pub nonce: i64,
    /// The encoded packet (0x lowercase).
    pub packet: String,
    /// The sending transaction.
    pub src_tx_hash: String,
    /// `Pending`, or `Unreadable`.
    pub status: PacketStatus,
    /// Why it is unreadable, if it is.
    pub last_error: Option<String>,
}

/// A packet due for a delivery pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DuePacket {
    /// Guid (0x lowercase).
    pub guid: String,
    /// Source chain.
    pub src_chain_id: u64,
    /// LayerZero endpoint id of the destination chain.
    pub dst_eid: u32,
    /// Stored status.
    pub status: PacketStatus,
    /// Passes so far.
    pub attempts: u32,
    /// The encoded packet as queued (0x hex).
    pub packet: String,
    /// The earlier nonce of its path it was last found waiting for, if it was.
    pub blocked_on_nonce: Option<i64>,
}

#[derive(sqlx::FromRow)]
struct DueRow {
    guid: String,
    src_chain_id: i64,
    dst_eid: i64,
    state: String,
    attempts: i64,
    packet: String,
    blocked_on_nonce: Option<i64>,
}

impl ChainStore {
    /// Queues a packet; a guid already queued is left as it is.
    pub async fn insert_packet(&self, p: &NewPacket) -> Result<()> {
        let now = now_ms();
        sqlx::query(
            "INSERT INTO lz_packets (guid, src_chain_id, src_eid, dst_eid, sender, receiver, nonce, packet, src_tx_hash, state, attempts, last_error, next_attempt_at, delivered_tx_hash, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, NULL, $14, $15) ON CONFLICT (guid) DO NOTHING",
        )
        .bind(&p.guid)
        .bind(p.src_chain_id)
        .bind(i64::from(p.src_eid))
        .bind(i64::from(p.dst_eid))
        .bind(&p.sender)
        .bind(&p.receiver)
        .bind(p.nonce)
        .bind(&p.packet)
        .bind(&p.src_tx_hash)
        .bind(p.status.as_str())
        .bind(0i64)
        .bind(p.last_error.as_deref())
        .bind(now)
        .bind(now)
        .bind(now)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Up to `limit` open packets whose next attempt is due at `now_ms`, in nonce order per
    /// path (src eid, sender, dst eid, receiver).
    pub async fn due_packets(&self, now_ms: i64, limit: i64) -> Result<Vec<DuePacket>> {
        self.due_packets_where(now_ms, None, limit).await
    }

    /// [`ChainStore::due_packets`] bound for the chain with endpoint id `dst_eid` only (the
    /// relayer runs one delivery loop per destination chain).
    pub async fn due_packets_to(
        &self,
        now_ms: i64,
        dst_eid: u32,
        limit: i64,
    ) -> Result<Vec<DuePacket>> {
        self.due_packets_where(now_ms, Some(dst_eid), limit).await
    }

    async fn due_packets_where(
        &self,
        now_ms: i64,
        dst_eid: Option<u32>,
        limit: i64,
    ) -> Result<Vec<DuePacket>> {
        let only_dst = if dst_eid.is_some() {
            "AND dst_eid = $3"
        } else {
            ""
        };
        let sql = format!(
            "SELECT guid, src_chain_id, dst_eid, state, attempts, packet, blocked_on_nonce FROM lz_packets \
             WHERE state IN ('pending', 'verified', 'committed') AND next_attempt_at <= $1 {only_dst} \
             ORDER BY src_eid, sender, dst_eid, receiver, nonce LIMIT $2"
        );
        let mut query = sqlx::query_as::<_, DueRow>(&sql).bind(now_ms).bind(limit);
        if let Some(eid) = dst_eid {
            query = query.bind(i64::from(eid));
        }
        let rows = query.fetch_all(self.pool()).await?;
        rows.into_iter()
            .map(|r| {
                Ok(DuePacket {
                    status: PacketStatus::parse(&r.state)
                        .ok_or_else(|| ChainError::corrupt("packet state", &r.state))?,
                    src_chain_id: to_u64("chain id", r.src_chain_id)?,
                    dst_eid: u32::try_from(r.dst_eid)
                        .map_err(|_| ChainError::corrupt("dst eid", r.dst_eid))?,
                    attempts: u32::try_from(r.attempts.max(0)).unwrap_or(u32::MAX),
                    guid: r.guid,
                    packet: r.packet,
                    blocked_on_nonce: r.blocked_on_nonce,
                })
            })
            .collect()
    }

    /// Records the status read on the destination.
    pub async fn set_packet_status(&self, guid: &str, status: PacketStatus) -> Result<()> {
        sqlx::query("UPDATE lz_packets SET state = $1, updated_at = $2 WHERE guid = $3")
            .bind(status.as_str())
            .bind(now_ms())
            .bind(guid)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Replaces the queued packet bytes with the confirmed ones (after a reorg).
    pub async fn replace_packet_bytes(&self, guid: &str, packet: &str) -> Result<()> {
        sqlx::query("UPDATE lz_packets SET packet = $1, updated_at = $2 WHERE guid = $3")
            .bind(packet)
            .bind(now_ms())
            .bind(guid)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Records a pass that delivered the packet (`tx` is the `lzReceive`, if this pass
    /// sent it).
    pub async fn record_delivered(
        &self,
        guid: &str,
        attempts: u32,
        tx: Option<B256>,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE lz_packets SET state = $1, attempts = $2, last_error = NULL, \
             blocked_on_nonce = NULL, blocked_since = NULL, delivered_tx_hash = COALESCE($3, delivered_tx_hash), updated_at = $4 WHERE guid = $5",
        )
        .bind(PacketStatus::Delivered.as_str())
        .bind(i64::from(attempts))
        .bind(tx.map(|h| format!("{h:#x}")))
        .bind(now_ms())
        .bind(guid)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Records a pass that waited for nonce `waits_for` of the packet's path (not an
    /// attempt): look again at `next_attempt_at`. `blocked_since` is kept while it waits for
    /// the same nonce.
    pub async fn record_blocked(
        &self,
        guid: &str,
        status: PacketStatus,
        why: &str,
        waits_for: i64,
        next_attempt_at: i64,
    ) -> Result<()> {
        let now = now_ms();
        sqlx::query(
            "UPDATE lz_packets SET state = $1, last_error = $2, next_attempt_at = $3, updated_at = $4, \
             blocked_since = CASE WHEN blocked_on_nonce = $5 THEN blocked_since ELSE $4 END, \
             blocked_on_nonce = $5 WHERE guid = $6",
        )
        .bind(status.as_str())
        .bind(why)
        .bind(next_attempt_at)
        .bind(now)
        .bind(waits_for)
        .bind(guid)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Records a failed attempt: its number, the error, the status read on the destination
    /// (still open: a packet is never given up) and when to try again.
    pub async fn record_failed_attempt(
        &self,
        guid: &str,
        status: PacketStatus,
        attempts: u32,
        error: &str,
        next_attempt_at: i64,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE lz_packets SET state = $1, attempts = $2, last_error = $3, next_attempt_at = $4, updated_at = $5, \
             blocked_on_nonce = NULL, blocked_since = NULL WHERE guid = $6",
        )
        .bind(status.as_str())
        .bind(i64::from(attempts))
        .bind(error)
        .bind(next_attempt_at)
        .bind(now_ms())
        .bind(guid)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// The number of packets in each status (every status listed, zeros included).
    pub async fn packet_counts(&self) -> Result<Vec<(PacketStatus, u64)>> {
        let rows: Vec<(String, i64)> =
            sqlx::query_as("SELECT state, COUNT(*) FROM lz_packets GROUP BY state")
                .fetch_all(self.pool())
                .await?;
        Ok(PacketStatus::ALL
            .into_iter()
            .map(|st| {
                let n = rows
                    .iter()
                    .filter(|(s, _)| s == st.as_str())
                    .map(|(_, n)| to_u64("count", *n).unwrap_or(0))
                    .sum();
                (st, n)
            })
            .collect())
    }

    /// One packet's status, attempts and last error (for tests and diagnostics).
    pub async fn packet_status(
        &self,
        guid: &str,
    ) -> Result<Option<(PacketStatus, u32, Option<String>)>> {
        let row: Option<(String, i64, Option<String>)> =
            sqlx::query_as("SELECT state, attempts, last_error FROM lz_packets WHERE guid = $1")
                .bind(guid)
                .fetch_optional(self.pool())
                .await?;
        row.map(|(s, a, e)| {
            let st =
                PacketStatus::parse(&s).ok_or_else(|| ChainError::corrupt("packet state", &s))?;
            Ok((
                st,
                u32::try_from(to_u64("attempts", a)?).unwrap_or(u32::MAX),
                e,
            ))
        })
        .transpose()
    }
}
