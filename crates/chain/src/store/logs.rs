//! Cursors, block hashes and decoded logs: what the indexer read from each chain.
//!
//! A round of the indexer is committed with [`ChainStore::commit_round`] (logs, block
//! hashes and the cursor in one transaction, so a crash resumes after the last committed
//! round); a reorg is undone with [`ChainStore::rewind`].

use super::{ChainStore, parse_b256, to_i64, to_u64};
use crate::error::Result;
use alloy::primitives::{Address, B256};
use lockstep_core::now_ms;
use serde_json::Value;

/// The last indexed block of a chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    /// Block number.
    pub block_number: u64,
    /// Its hash when it was indexed.
    pub block_hash: B256,
}

/// A block whose hash the store keeps (cursor blocks and blocks that held a kept log).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockRow {
    /// Block number.
    pub number: u64,
    /// Block hash.
    pub hash: B256,
    /// Block timestamp, seconds.
    pub timestamp: u64,
}

/// A decoded log to store.
#[derive(Debug, Clone, PartialEq)]
pub struct NewLog {
    /// Block number.
    pub block_number: u64,
    /// Block-wide log index.
    pub log_index: u64,
    /// Block hash.
    pub block_hash: B256,
    /// Block timestamp, seconds.
    pub block_timestamp: u64,
    /// Transaction hash.
    pub tx_hash: B256,
    /// Emitting contract.
    pub address: Address,
    /// Event name (`LegDeposited`, `PacketSent`, ...).
    pub event: String,
    /// The on-chain settlement id (escrow events) or the packet guid (`PacketSent`).
    pub key: B256,
    /// The decoded parameters by Solidity name.
    pub fields: Value,
}

/// What one indexing round of a chain commits at once.
#[derive(Debug, Clone, PartialEq)]
pub struct IndexedRound {
    /// The chain.
    pub chain_id: u64,
    /// Block hashes to keep (the new cursor block and every block with a kept log).
    pub blocks: Vec<BlockRow>,
    /// The kept logs.
    pub logs: Vec<NewLog>,
    /// The new cursor.
    pub cursor: Cursor,
    /// Block hashes below this, of blocks without a stored log, are dropped.
    pub prune_below: u64,
}

/// One stored log, as the reconciler and the evidence bundle read it.
#[derive(Debug, Clone, PartialEq)]
pub struct LogFact {
    /// EVM chain id.
    pub chain_id: u64,
    /// Block number.
    pub block_number: u64,
    /// Block hash (0x lowercase).
    pub block_hash: String,
    /// Block timestamp, seconds.
    pub block_timestamp: u64,
    /// Transaction hash (0x lowercase).
    pub tx_hash: String,
    /// Log index in the block.
    pub log_index: u64,
    /// Emitting contract (0x lowercase).
    pub address: String,
    /// Event name.
    pub event: String,
    /// Decoded fields.
    pub fields: Value,
}

impl LogFact {
    /// The `legIndex` field of a leg event.
    pub fn leg_index(&self) -> Option<usize> {
        self.fields.get("legIndex")?.as_str()?.parse().ok()
    }

    /// `Event on chain N (block B, tx T)`, for transition causes.
    pub fn describe(&self) -> String {
        format!(
            "{} on chain {} (block {}, tx {})",
            self.event, self.chain_id, self.block_number, self.tx_hash
        )
    }
}

#[derive(sqlx::FromRow)]
struct LogRow {
    chain_id: i64,
    block_number: i64,
    block_hash: String,
    block_timestamp: i64,
    tx_hash: String,
    log_index: i64,
    address: String,
    event: String,
    fields: String,
}

impl LogRow {
    fn into_fact(self) -> Result<LogFact> {
        Ok(LogFact {
            chain_id: to_u64("chain id", self.chain_id)?,
            block_number: to_u64("block number", self.block_number)?,
            block_hash: self.block_hash,
            block_timestamp: to_u64("block timestamp", self.block_timestamp)?,
            tx_hash: self.tx_hash,
            log_index: to_u64("log index", self.log_index)?,
            address: self.address,
            event: self.event,
            fields: serde_json::from_str(&self.fields)?,
        })
    }
}

/// A stored endpoint `PacketSent` not yet copied into `lz_packets`.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct PacketSentLog {
    /// Source chain.
    pub chain_id: i64,
    /// The sending transaction (0x lowercase).
    pub tx_hash: String,
    /// The packet guid (0x lowercase), the log's `settlement_key`.
    pub settlement_key: String,
    /// The stored fields (`encoded_packet`, `options`, `send_library`).
    pub fields: String,
}

/// A stored `MessageDeferred`, with the fields of one `MessageSent` of the same settlement
/// on the same chain after it (if any; one row per such later log).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct DeferredMessage {
    /// Chain of the escrow.
    pub chain_id: i64,
    /// Block of the deferral.
    pub block_number: i64,
    /// Its log index.
    pub log_index: i64,
    /// The on-chain settlement id (0x lowercase).
    pub settlement_key: String,
    /// The deferral's fields.
    pub fields: String,
    /// The fields of a later `MessageSent`, if any.
    pub sent: Option<String>,
}

impl ChainStore {
    /// The stored cursor of `chain_id`.
    pub async fn cursor(&self, chain_id: u64) -> Result<Option<Cursor>> {
        let row: Option<(i64, String)> = sqlx::query_as(
            "SELECT block_number, block_hash FROM chain_cursors WHERE chain_id = $1",
        )
        .bind(to_i64("chain id", chain_id)?)
        .fetch_optional(self.pool())
        .await?;
        row.map(|(n, h)| {
            Ok(Cursor {
                block_number: to_u64("cursor block", n)?,
                block_hash: parse_b256("cursor hash", &h)?,
            })
        })
        .transpose()
    }

    /// The timestamp of `chain_id`'s cursor block: the chain's clock as far as the indexer
    /// has confirmed it (`None` before the first round).
    pub async fn confirmed_clock(&self, chain_id: u64) -> Result<Option<u64>> {
        let row: Option<(i64,)> = sqlx::query_as(
            "SELECT b.block_timestamp FROM chain_cursors c JOIN chain_blocks b ON b.chain_id = c.chain_id AND b.block_number = c.block_number WHERE c.chain_id = $1",
        )
        .bind(to_i64("chain id", chain_id)?)
        .fetch_optional(self.pool())
        .await?;
        row.map(|(t,)| to_u64("block timestamp", t)).transpose()
    }

    /// Every kept block hash of `chain_id`, newest first (the reorg walk-back).
    pub async fn blocks_newest_first(&self, chain_id: u64) -> Result<Vec<(u64, B256)>> {
        let rows: Vec<(i64, String)> = sqlx::query_as(
            "SELECT block_number, block_hash FROM chain_blocks WHERE chain_id = $1 ORDER BY block_number DESC",
        )
        .bind(to_i64("chain id", chain_id)?)
        .fetch_all(self.pool())
        .await?;
        rows.into_iter()
            .map(|(n, h)| Ok((to_u64("block number", n)?, parse_b256("block hash", &h)?)))
            .collect()
    }

    /// Drops every log and block hash of `chain_id` above `back_to` and moves the cursor
    /// there, in one transaction. Returns the number of logs dropped.
    pub async fn rewind(&self, chain_id: u64, back_to: Cursor) -> Result<u64> {
        let cid = to_i64("chain id", chain_id)?;
        let n = to_i64("block number", back_to.block_number)?;
        let mut tx = self.pool().begin().await?;
        let dropped =
            sqlx::query("DELETE FROM chain_logs WHERE chain_id = $1 AND block_number > $2")
                .bind(cid)
                .bind(n)
                .execute(&mut *tx)
                .await?
                .rows_affected();
        sqlx::query("DELETE FROM chain_blocks WHERE chain_id = $1 AND block_number > $2")
            .bind(cid)
            .bind(n)
            .execute(&mut *tx)
            .await?;
        sqlx::query("UPDATE chain_cursors SET block_number = $1, block_hash = $2, updated_at = $3 WHERE chain_id = $4")
            .bind(n)
            .bind(format!("{:#x}", back_to.block_hash))
            .bind(now_ms())
            .bind(cid)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(dropped)
    }

    /// Stores a round: the block hashes, the logs (a log already stored is left as it is)
    /// and the new cursor, then prunes old block hashes no log needs; one transaction.
    pub async fn commit_round(&self, round: &IndexedRound) -> Result<()> {
        let cid = to_i64("chain id", round.chain_id)?;
        let now = now_ms();
        let mut tx = self.pool().begin().await?;
        for b in &round.blocks {
            sqlx::query("INSERT INTO chain_blocks (chain_id, block_number, block_hash, block_timestamp) VALUES ($1, $2, $3, $4) ON CONFLICT (chain_id, block_number) DO UPDATE SET block_hash = excluded.block_hash, block_timestamp = excluded.block_timestamp")
                .bind(cid)
                .bind(to_i64("block number", b.number)?)
                .bind(format!("{:#x}", b.hash))
                .bind(to_i64("block timestamp", b.timestamp)?)
                .execute(&mut *tx)
                .await?;
        }
        for l in &round.logs {
            sqlx::query("INSERT INTO chain_logs (chain_id, block_number, log_index, block_hash, block_timestamp, tx_hash, address, event, settlement_key, fields, indexed_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT (chain_id, block_number, log_index) DO NOTHING")
                .bind(cid)
                .bind(to_i64("block number", l.block_number)?)
                .bind(to_i64("log index", l.log_index)?)
                .bind(format!("{:#x}", l.block_hash))
                .bind(to_i64("block timestamp", l.block_timestamp)?)
                .bind(format!("{:#x}", l.tx_hash))
                .bind(format!("{:#x}", l.address))
                .bind(&l.event)
                .bind(format!("{:#x}", l.key))
                .bind(l.fields.to_string())
                .bind(now)
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query("INSERT INTO chain_cursors (chain_id, block_number, block_hash, updated_at) VALUES ($1, $2, $3, $4) ON CONFLICT (chain_id) DO UPDATE SET block_number = excluded.block_number, block_hash = excluded.block_hash, updated_at = excluded.updated_at")
            .bind(cid)
            .bind(to_i64("block number", round.cursor.block_number)?)
            .bind(format!("{:#x}", round.cursor.block_hash))
            .bind(now)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM chain_blocks WHERE chain_id = $1 AND block_number < $2 AND block_number NOT IN (SELECT block_number FROM chain_logs WHERE chain_id = $1)")
            .bind(cid)
            .bind(to_i64("block number", round.prune_below)?)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Every stored log with `settlement_key = key` (an on-chain settlement id or a packet
    /// guid), in chain, block and log order.
    pub async fn logs_by_key(&self, key: B256) -> Result<Vec<LogFact>> {
        let rows: Vec<LogRow> = sqlx::query_as("SELECT chain_id, block_number, block_hash, block_timestamp, tx_hash, log_index, address, event, fields FROM chain_logs WHERE settlement_key = $1 ORDER BY chain_id, block_number, log_index")
            .bind(format!("{key:#x}"))
            .fetch_all(self.pool())
            .await?;
        rows.into_iter().map(LogRow::into_fact).collect()
    }

    /// Up to `limit` stored `PacketSent` logs without an `lz_packets` row, oldest first.
    pub async fn unqueued_packet_logs(&self, limit: i64) -> Result<Vec<PacketSentLog>> {
        Ok(sqlx::query_as(
            "SELECT l.chain_id, l.tx_hash, l.settlement_key, l.fields FROM chain_logs l \
             LEFT JOIN lz_packets p ON p.guid = l.settlement_key \
             WHERE l.event = 'PacketSent' AND p.guid IS NULL \
             ORDER BY l.chain_id, l.block_number, l.log_index LIMIT $1",
        )
        .bind(limit)
        .fetch_all(self.pool())
        .await?)
    }

    /// The fields of the newest stored `PacketSent` of `guid` on `chain_id` (`None` when a
    /// reorg removed it).
    pub async fn packet_sent_fields(&self, chain_id: u64, guid: &str) -> Result<Option<String>> {
        let row: Option<(String,)> = sqlx::query_as(
            "SELECT fields FROM chain_logs WHERE chain_id = $1 AND event = 'PacketSent' AND settlement_key = $2 \
             ORDER BY block_number DESC, log_index DESC LIMIT 1",
        )
        .bind(to_i64("chain id", chain_id)?)
        .bind(guid)
        .fetch_optional(self.pool())
        .await?;
        Ok(row.map(|r| r.0))
    }

    /// Every stored `MessageDeferred`, joined with each later `MessageSent` of the same
    /// settlement on the same chain, in chain, block and log order.
    pub async fn deferred_messages(&self) -> Result<Vec<DeferredMessage>> {
        Ok(sqlx::query_as(
            "SELECT d.chain_id, d.block_number, d.log_index, d.settlement_key, d.fields, s.fields AS sent \
             FROM chain_logs d LEFT JOIN chain_logs s ON s.chain_id = d.chain_id \
             AND s.settlement_key = d.settlement_key AND s.event = 'MessageSent' \
             AND (s.block_number > d.block_number OR (s.block_number = d.block_number AND s.log_index > d.log_index)) \
             WHERE d.event = 'MessageDeferred' ORDER BY d.chain_id, d.block_number, d.log_index",
        )
        .fetch_all(self.pool())
        .await?)
    }
}
