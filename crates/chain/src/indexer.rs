//! The per-chain indexer: reads the escrow's events and the endpoint's `PacketSent` from a
//! persisted cursor up to `head - confirmations`, and stores each log once in `chain_logs`.
//!
//! Reorgs: the hash of the cursor block and of every block that held a kept log is stored
//! (`chain_blocks`). Each round first compares the cursor block's stored hash with the
//! chain's; on a mismatch it walks back through the stored blocks to the newest one the
//! chain still has, deletes every log and block above it, and continues from there. Logs are
//! only read once they have `confirmations` blocks on top, so a reorg no deeper than that
//! never reaches the store. Within a round, every log's block hash is checked against the
//! block header read in the same round, so a reorg during the round discards the round.
//! Logs and the cursor advance in one database transaction: after a crash, indexing resumes
//! from the last committed cursor and the primary key `(chain_id, block_number, log_index)`
//! makes a repeated insert a no-op.

use crate::client::{ChainClient, rpc};
use crate::error::{ChainError, Result};
use alloy::eips::BlockNumberOrTag;
use alloy::primitives::{Address, B256};
use alloy::providers::Provider;
use alloy::rpc::types::{Filter, Log};
use alloy::sol_types::{SolEvent, SolEventInterface};
use lockstep_bindings::ILayerZeroEndpointV2::PacketSent;
use lockstep_bindings::ISettlementEscrow::ISettlementEscrowEvents as Ev;
use lockstep_coordinator::now_ms;
use lockstep_coordinator::server::Coordinator;
use serde_json::{Value, json};
use sqlx::Row;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// Most blocks read in one `eth_getLogs`.
const MAX_RANGE: u64 = 2_000;

/// One decoded log, ready to store.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredLog {
    /// Event name (`LegDeposited`, `PacketSent`, ...).
    pub event: String,
    /// The on-chain settlement id (escrow events) or the packet guid (`PacketSent`).
    pub key: B256,
    /// The decoded parameters by Solidity name.
    pub fields: Value,
}

fn h(b: impl AsRef<[u8]>) -> String {
    format!("0x{}", hex::encode(b.as_ref()))
}

/// Decodes an escrow log; `None` for events that concern no settlement (e.g. `AttesterSet`)
/// or that are not the escrow's.
pub fn decode_escrow_log(log: &alloy::primitives::Log) -> Option<StoredLog> {
    let ev = Ev::decode_log(log).ok()?.data;
    let (event, key, fields) = match ev {
        Ev::SettlementRegistered(e) => (
            "SettlementRegistered",
            e.settlementId,
            json!({"termsHash": h(e.termsHash), "hubEid": e.hubEid, "timeoutAt": e.timeoutAt.to_string(), "decisionRef": h(e.decisionRef)}),
        ),
        Ev::LegDeposited(e) => (
            "LegDeposited",
            e.settlementId,
            json!({"legIndex": e.legIndex.to_string(), "depositor": h(e.depositor), "token": h(e.token), "amount": e.amount.to_string()}),
        ),
        Ev::SettlementLocked(e) => (
            "SettlementLocked",
            e.settlementId,
            json!({"termsHash": h(e.termsHash)}),
        ),
        Ev::SpokeLocked(e) => (
            "SpokeLocked",
            e.settlementId,
            json!({"termsHash": h(e.termsHash), "spokeEid": e.spokeEid}),
        ),
        Ev::SettlementExecuted(e) => (
            "SettlementExecuted",
            e.settlementId,
            json!({"termsHash": h(e.termsHash), "decisionRef": h(e.decisionRef)}),
        ),
        Ev::LegReleased(e) => (
            "LegReleased",
            e.settlementId,
            json!({"legIndex": e.legIndex.to_string(), "recipient": h(e.recipient), "token": h(e.token), "amount": e.amount.to_string()}),
        ),
        Ev::SettlementRefunded(e) => (
            "SettlementRefunded",
            e.settlementId,
            json!({"termsHash": h(e.termsHash)}),
        ),
        Ev::LegRefunded(e) => (
            "LegRefunded",
            e.settlementId,
            json!({"legIndex": e.legIndex.to_string(), "depositor": h(e.depositor), "token": h(e.token), "amount": e.amount.to_string()}),
        ),
        Ev::MessageSent(e) => (
            "MessageSent",
            e.settlementId,
            json!({"kind": e.kind, "dstEid": e.dstEid, "guid": h(e.guid), "nativeFee": e.nativeFee.to_string()}),
        ),
        Ev::MessageDeferred(e) => (
            "MessageDeferred",
            e.settlementId,
            json!({"kind": e.kind, "requiredFee": e.requiredFee.to_string(), "providedFee": e.providedFee.to_string()}),
        ),
        Ev::MessageReceived(e) => (
            "MessageReceived",
            e.settlementId,
            json!({"kind": e.kind, "srcEid": e.srcEid, "guid": h(e.guid)}),
        ),
        Ev::MessageBuffered(e) => (
            "MessageBuffered",
            e.settlementId,
            json!({"kind": e.kind, "srcEid": e.srcEid, "termsHash": h(e.termsHash)}),
        ),
        Ev::MessageIgnored(e) => (
            "MessageIgnored",
            e.settlementId,
            json!({"kind": e.kind, "srcEid": e.srcEid, "state": e.state}),
        ),
        Ev::AttesterSet(_) => return None,
    };
    Some(StoredLog {
        event: event.into(),
        key,
        fields,
    })
}

/// Decodes an endpoint `PacketSent` whose packet was sent by `escrow`; the key is the guid.
pub fn decode_packet_sent(log: &alloy::primitives::Log, escrow: Address) -> Option<StoredLog> {
    let e = PacketSent::decode_log(log).ok()?.data;
    let p = &e.encodedPayload;
    // header: version(1) nonce(8) srcEid(4) sender(32) dstEid(4) receiver(32); then guid.
    if p.len() < 81 + 32 || p[13 + 12..45] != escrow.as_slice()[..] {
        return None;
    }
    let guid = B256::from_slice(&p[81..113]);
    Some(StoredLog {
        event: "PacketSent".into(),
        key: guid,
        fields: json!({"encoded_packet": h(p), "options": h(&e.options), "send_library": h(e.sendLibrary)}),
    })
}

/// Runs the indexer of one chain until shutdown.
pub async fn run(
    chain: Arc<ChainClient>,
    leader: Arc<crate::leader::Leader>,
    c: Arc<Coordinator>,
    mut shutdown: watch::Receiver<bool>,
) {
    let every = Duration::from_millis(chain.config.poll_interval_ms.max(20));
    let mut failures = 0u32;
    loop {
        match leader.turn(every, &mut shutdown).await {
            crate::leader::Turn::Stop => break,
            crate::leader::Turn::Skip => continue,
            crate::leader::Turn::Work => {}
        }
        match index_once(&chain, &c).await {
            Ok(advanced) => {
                failures = 0;
                // More confirmed blocks may be waiting: read on without pausing. (The
                // reconciler polls the stored logs on its own interval.)
                if advanced {
                    continue;
                }
            }
            Err(e) => {
                failures += 1;
                tracing::warn!(chain_id = chain.chain_id(), error = %e, failures, "indexer round failed");
            }
        }
        let pause = every * (1 << failures.min(5));
        tokio::select! {
            _ = tokio::time::sleep(pause) => {}
            _ = shutdown.wait_for(|v| *v) => break,
        }
    }
    tracing::info!(chain_id = chain.chain_id(), "indexer stopped");
}

async fn block_opt(chain: &ChainClient, n: u64) -> Result<Option<(B256, u64)>> {
    let b = chain
        .provider
        .get_block_by_number(BlockNumberOrTag::Number(n))
        .await
        .map_err(|e| rpc(chain.chain_id(), "eth_getBlockByNumber", e))?;
    Ok(b.map(|b| (b.header.hash, b.header.timestamp)))
}

async fn block_at(chain: &ChainClient, n: u64) -> Result<(B256, u64)> {
    block_opt(chain, n)
        .await?
        .ok_or_else(|| ChainError::unexpected(chain.chain_id(), format!("no block {n}")))
}

fn to_i64(chain_id: u64, what: &str, v: u64) -> Result<i64> {
    i64::try_from(v).map_err(|_| ChainError::unexpected(chain_id, format!("{what} {v} too large")))
}

/// The stored cursor: last indexed block and its hash.
pub async fn cursor(c: &Coordinator, chain_id: u64) -> Result<Option<(u64, B256)>> {
    let row = sqlx::query("SELECT block_number, block_hash FROM chain_cursors WHERE chain_id = $1")
        .bind(to_i64(chain_id, "chain id", chain_id)?)
        .fetch_optional(c.db.pool())
        .await?;
    let Some(row) = row else { return Ok(None) };
    let n: i64 = row.try_get("block_number")?;
    let hash: String = row.try_get("block_hash")?;
    let hash = hash
        .parse()
        .map_err(|_| ChainError::unexpected(chain_id, format!("stored hash {hash}")))?;
    Ok(Some((u64::try_from(n).unwrap_or(0), hash)))
}

/// Compares the stored cursor with the chain and rewinds past a reorg. Returns the block
/// to continue after.
async fn check_reorg(chain: &ChainClient, c: &Coordinator, n: u64, stored: B256) -> Result<u64> {
    let id = chain.chain_id();
    // A chain rolled back below the cursor has no block `n` any more: a reorg too.
    if block_opt(chain, n).await?.map(|b| b.0) == Some(stored) {
        return Ok(n);
    }
    let cid = to_i64(id, "chain id", id)?;
    let rows = sqlx::query("SELECT block_number, block_hash FROM chain_blocks WHERE chain_id = $1 ORDER BY block_number DESC")
        .bind(cid)
        .fetch_all(c.db.pool())
        .await?;
    let floor = chain.config.start_block.saturating_sub(1);
    let mut ancestor: Option<(u64, B256)> = None;
    for r in rows {
        let bn = u64::try_from(r.try_get::<i64, _>("block_number")?).unwrap_or(0);
        let bh: String = r.try_get("block_hash")?;
        if let Some((chain_hash, _)) = block_opt(chain, bn).await?
            && format!("{chain_hash:#x}") == bh.to_lowercase()
        {
            ancestor = Some((bn, chain_hash));
            break;
        }
    }
    let (back_to, back_hash) = match ancestor {
        Some(a) => a,
        None => (floor, block_at(chain, floor).await?.0),
    };
    let mut tx = c.db.pool().begin().await?;
    let dropped = sqlx::query("DELETE FROM chain_logs WHERE chain_id = $1 AND block_number > $2")
        .bind(cid)
        .bind(to_i64(id, "block", back_to)?)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    sqlx::query("DELETE FROM chain_blocks WHERE chain_id = $1 AND block_number > $2")
        .bind(cid)
        .bind(to_i64(id, "block", back_to)?)
        .execute(&mut *tx)
        .await?;
    sqlx::query("UPDATE chain_cursors SET block_number = $1, block_hash = $2, updated_at = $3 WHERE chain_id = $4")
        .bind(to_i64(id, "block", back_to)?)
        .bind(format!("{back_hash:#x}"))
        .bind(now_ms())
        .bind(cid)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    tracing::warn!(
        chain_id = id,
        cursor = n,
        rewound_to = back_to,
        dropped_logs = dropped,
        "reorg detected: indexed blocks replaced on chain; rewound"
    );
    Ok(back_to)
}

/// One indexing round; `true` when the cursor advanced.
pub async fn index_once(chain: &ChainClient, c: &Coordinator) -> Result<bool> {
    let id = chain.chain_id();
    let cid = to_i64(id, "chain id", id)?;
    let endpoint = chain.endpoint()?;
    let escrow = chain.escrow();
    let head = chain
        .provider
        .get_block_number()
        .await
        .map_err(|e| rpc(id, "eth_blockNumber", e))?;
    let safe = head.saturating_sub(chain.config.confirmations);
    let last = match cursor(c, id).await? {
        Some((n, hash)) => check_reorg(chain, c, n, hash).await?,
        None => chain.config.start_block.saturating_sub(1),
    };
    let from = last + 1;
    if from > safe {
        return Ok(false);
    }
    let to = safe.min(from + MAX_RANGE - 1);
    let filter = Filter::new()
        .address(vec![escrow, endpoint])
        .from_block(from)
        .to_block(to);
    let logs: Vec<Log> = chain
        .provider
        .get_logs(&filter)
        .await
        .map_err(|e| rpc(id, "eth_getLogs", e))?;
    // Headers of every block with a log, plus the new cursor block.
    let mut blocks: BTreeMap<u64, (B256, u64)> = BTreeMap::new();
    blocks.insert(to, block_at(chain, to).await?);
    let mut rows = Vec::new();
    for log in &logs {
        let (Some(bn), Some(bh), Some(txh), Some(li)) = (
            log.block_number,
            log.block_hash,
            log.transaction_hash,
            log.log_index,
        ) else {
            return Err(ChainError::unexpected(
                id,
                "log without position (pending?)",
            ));
        };
        if log.removed {
            continue;
        }
        let stored = if log.address() == escrow {
            decode_escrow_log(&log.inner)
        } else {
            decode_packet_sent(&log.inner, escrow)
        };
        let Some(stored) = stored else { continue };
        if let std::collections::btree_map::Entry::Vacant(v) = blocks.entry(bn) {
            v.insert(block_at(chain, bn).await?);
        }
        let (hash, _) = blocks[&bn];
        if hash != bh {
            return Err(ChainError::unexpected(
                id,
                format!("block {bn} changed during the round (reorg in progress); retrying"),
            ));
        }
        rows.push((bn, li, txh, log.address(), stored));
    }
    let mut tx = c.db.pool().begin().await?;
    let now = now_ms();
    for (bn, (hash, ts)) in &blocks {
        let keep = *bn == to || rows.iter().any(|r| r.0 == *bn);
        if !keep {
            continue;
        }
        sqlx::query("INSERT INTO chain_blocks (chain_id, block_number, block_hash, block_timestamp) VALUES ($1, $2, $3, $4) ON CONFLICT (chain_id, block_number) DO UPDATE SET block_hash = excluded.block_hash, block_timestamp = excluded.block_timestamp")
            .bind(cid)
            .bind(to_i64(id, "block", *bn)?)
            .bind(format!("{hash:#x}"))
            .bind(to_i64(id, "timestamp", *ts)?)
            .execute(&mut *tx)
            .await?;
    }
    for (bn, li, txh, address, s) in &rows {
        let (hash, ts) = blocks[bn];
        sqlx::query("INSERT INTO chain_logs (chain_id, block_number, log_index, block_hash, block_timestamp, tx_hash, address, event, settlement_key, fields, indexed_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT (chain_id, block_number, log_index) DO NOTHING")
            .bind(cid)
            .bind(to_i64(id, "block", *bn)?)
            .bind(to_i64(id, "log index", *li)?)
            .bind(format!("{hash:#x}"))
            .bind(to_i64(id, "timestamp", ts)?)
            .bind(format!("{txh:#x}"))
            .bind(format!("{address:#x}"))
            .bind(&s.event)
            .bind(format!("{:#x}", s.key))
            .bind(s.fields.to_string())
            .bind(now)
            .execute(&mut *tx)
            .await?;
        tracing::debug!(chain_id = id, block = bn, log_index = li, event = %s.event, key = %s.key, "indexed");
    }
    let (to_hash, _) = blocks[&to];
    sqlx::query("INSERT INTO chain_cursors (chain_id, block_number, block_hash, updated_at) VALUES ($1, $2, $3, $4) ON CONFLICT (chain_id) DO UPDATE SET block_number = excluded.block_number, block_hash = excluded.block_hash, updated_at = excluded.updated_at")
        .bind(cid)
        .bind(to_i64(id, "block", to)?)
        .bind(format!("{to_hash:#x}"))
        .bind(now)
        .execute(&mut *tx)
        .await?;
    // Keep block hashes for the reorg walk-back only where needed: the last 256 blocks,
    // and blocks holding logs.
    sqlx::query("DELETE FROM chain_blocks WHERE chain_id = $1 AND block_number < $2 AND block_number NOT IN (SELECT block_number FROM chain_logs WHERE chain_id = $1)")
        .bind(cid)
        .bind(to_i64(id, "block", to.saturating_sub(256))?)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    if !rows.is_empty() {
        tracing::info!(
            chain_id = id,
            from,
            to,
            logs = rows.len(),
            "indexed confirmed logs"
        );
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use alloy::primitives::{Bytes, LogData, U256, address};
    use lockstep_bindings::ISettlementEscrow;

    #[test]
    fn decodes_escrow_events_by_solidity_name() {
        let escrow = address!("0x00000000000000000000000000000000000e5c01");
        let id = B256::repeat_byte(0xab);
        let ev = ISettlementEscrow::LegDeposited {
            settlementId: id,
            legIndex: U256::from(1),
            depositor: address!("0x00000000000000000000000000000000000000d1"),
            token: address!("0x00000000000000000000000000000000000000e1"),
            amount: U256::from(2500u64),
        };
        let log = alloy::primitives::Log {
            address: escrow,
            data: ev.encode_log_data(),
        };
        let s = decode_escrow_log(&log).unwrap();
        assert_eq!(s.event, "LegDeposited");
        assert_eq!(s.key, id);
        assert_eq!(s.fields["legIndex"], "1");
        assert_eq!(s.fields["amount"], "2500");
        assert_eq!(
            s.fields["token"],
            "0x00000000000000000000000000000000000000e1"
        );
        // Not an escrow event.
        let junk = alloy::primitives::Log {
            address: escrow,
            data: LogData::new_unchecked(vec![B256::ZERO], Bytes::new()),
        };
        assert!(decode_escrow_log(&junk).is_none());
    }

    #[test]
    fn keeps_only_packets_sent_by_the_escrow() {
        let escrow = address!("0x00000000000000000000000000000000000e5c01");
        let guid = B256::repeat_byte(0x42);
        let mut packet = vec![1u8];
        packet.extend_from_slice(&7u64.to_be_bytes());
        packet.extend_from_slice(&40101u32.to_be_bytes());
        packet.extend_from_slice(escrow.into_word().as_slice());
        packet.extend_from_slice(&40102u32.to_be_bytes());
        packet.extend_from_slice(escrow.into_word().as_slice());
        packet.extend_from_slice(guid.as_slice());
        packet.extend_from_slice(b"message");
        let ev = PacketSent {
            encodedPayload: Bytes::from(packet),
            options: Bytes::new(),
            sendLibrary: Address::ZERO,
        };
        let log = alloy::primitives::Log {
            address: Address::ZERO,
            data: ev.encode_log_data(),
        };
        let s = decode_packet_sent(&log, escrow).unwrap();
        assert_eq!(s.event, "PacketSent");
        assert_eq!(s.key, guid);
        let other = address!("0x00000000000000000000000000000000000e5c02");
        assert!(decode_packet_sent(&log, other).is_none());
    }
}
