//! The per-chain indexer: reads the escrow's events and the endpoint's `PacketSent` from a
//! persisted cursor up to `head - confirmations`, and stores each log once in `chain_logs`
//! (through the [`ChainStore`]).
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

pub mod decode;

pub use decode::{StoredLog, decode_escrow_log, decode_packet_sent};

use crate::client::{ChainClient, rpc};
use crate::error::{ChainError, Result};
use crate::metrics::ChainMetrics;
use crate::store::{BlockRow, ChainStore, Cursor, IndexedRound, NewLog};
use crate::wake::Wakes;
use alloy::eips::BlockNumberOrTag;
use alloy::providers::Provider;
use alloy::rpc::types::{Filter, Log};
use lockstep_core::{Backoff, Gate, Next, Periodic};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// Most blocks read in one `eth_getLogs`.
const MAX_RANGE: u64 = 2_000;
/// Block hashes of the last this-many blocks are kept for the reorg walk-back (older ones
/// only where a log is stored).
const KEEP_RECENT_BLOCKS: u64 = 256;

/// A failed round of one chain's indexer (the task log names the chain).
#[derive(Debug, thiserror::Error)]
#[error("chain {chain_id}: {source}")]
pub struct RoundError {
    /// The chain.
    pub chain_id: u64,
    /// What failed.
    #[source]
    pub source: ChainError,
}

/// The indexer's wait after `n` failed rounds in a row: `interval * 2^min(n, 5)`.
pub fn failure_backoff(interval: Duration) -> Backoff {
    Backoff::new(interval.saturating_mul(2), interval.saturating_mul(32))
}

/// Runs the indexer of one chain until shutdown, while `gate` is open (the leader); wakes
/// the loops that read the stored logs ([`Wakes::logs_indexed`]) after each round that
/// stored any.
pub async fn run(
    chain: Arc<ChainClient>,
    store: ChainStore,
    metrics: Arc<ChainMetrics>,
    wakes: Wakes,
    gate: Arc<dyn Gate>,
    shutdown: watch::Receiver<bool>,
) {
    let every = Duration::from_millis(chain.config.poll_interval_ms.max(20));
    let task = Periodic::new("indexer", every)
        .gate(gate)
        .backoff(failure_backoff(every));
    task.run(shutdown, move || {
        let (chain, store, metrics, wakes) =
            (chain.clone(), store.clone(), metrics.clone(), wakes.clone());
        async move {
            match index_once(&chain, &store, &metrics).await {
                Ok(Round::UpToDate) => Ok(Next::Idle),
                // More confirmed blocks may be waiting: read on without pausing.
                Ok(Round::Advanced { logs }) => {
                    if logs > 0 {
                        wakes.logs_indexed();
                    }
                    Ok(Next::Again)
                }
                Err(source) => Err(RoundError {
                    chain_id: chain.chain_id(),
                    source,
                }),
            }
        }
    })
    .await;
}

/// What an indexing round did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Round {
    /// The cursor is at the confirmed head: nothing to read.
    UpToDate,
    /// The cursor advanced; `logs` logs were stored.
    Advanced {
        /// How many logs the round stored.
        logs: usize,
    },
}

async fn block_opt(chain: &ChainClient, n: u64) -> Result<Option<BlockRow>> {
    let b = chain
        .provider
        .get_block_by_number(BlockNumberOrTag::Number(n))
        .await
        .map_err(|e| rpc(chain.chain_id(), "eth_getBlockByNumber", e))?;
    Ok(b.map(|b| BlockRow {
        number: n,
        hash: b.header.hash,
        timestamp: b.header.timestamp,
    }))
}

async fn block_at(chain: &ChainClient, n: u64) -> Result<BlockRow> {
    block_opt(chain, n)
        .await?
        .ok_or_else(|| ChainError::unexpected(chain.chain_id(), format!("no block {n}")))
}

/// Compares the stored cursor with the chain and rewinds past a reorg. Returns the block
/// to continue after.
async fn check_reorg(chain: &ChainClient, store: &ChainStore, cursor: Cursor) -> Result<u64> {
    let id = chain.chain_id();
    let n = cursor.block_number;
    // A chain rolled back below the cursor has no block `n` any more: a reorg too.
    if block_opt(chain, n).await?.map(|b| b.hash) == Some(cursor.block_hash) {
        return Ok(n);
    }
    let mut ancestor: Option<Cursor> = None;
    for (bn, stored) in store.blocks_newest_first(id).await? {
        if let Some(b) = block_opt(chain, bn).await?
            && b.hash == stored
        {
            ancestor = Some(Cursor {
                block_number: bn,
                block_hash: b.hash,
            });
            break;
        }
    }
    let back_to = match ancestor {
        Some(a) => a,
        None => {
            let floor = chain.config.start_block.saturating_sub(1);
            Cursor {
                block_number: floor,
                block_hash: block_at(chain, floor).await?.hash,
            }
        }
    };
    let dropped = store.rewind(id, back_to).await?;
    tracing::warn!(
        chain_id = id,
        cursor = n,
        rewound_to = back_to.block_number,
        dropped_logs = dropped,
        "reorg detected: indexed blocks replaced on chain; rewound"
    );
    Ok(back_to.block_number)
}

/// The blocks this round reads, `(from, to)`, or `None` when the cursor is at the
/// confirmed head; also the block indexed so far.
async fn next_window(chain: &ChainClient, store: &ChainStore) -> Result<(u64, Option<(u64, u64)>)> {
    let head = chain
        .provider
        .get_block_number()
        .await
        .map_err(|e| rpc(chain.chain_id(), "eth_blockNumber", e))?;
    let safe = head.saturating_sub(chain.config.confirmations);
    let last = match store.cursor(chain.chain_id()).await? {
        Some(c) => check_reorg(chain, store, c).await?,
        None => chain.config.start_block.saturating_sub(1),
    };
    let from = last + 1;
    if from > safe {
        return Ok((last, None));
    }
    Ok((last, Some((from, safe.min(from + MAX_RANGE - 1)))))
}

/// Decodes the kept logs of `logs` and checks each against its block header read in this
/// round (a mismatch is a reorg in progress: the round is dropped).
async fn build_round(chain: &ChainClient, to: u64, logs: &[Log]) -> Result<IndexedRound> {
    let id = chain.chain_id();
    let escrow = chain.escrow();
    // Headers of every block with a log, plus the new cursor block.
    let mut blocks: BTreeMap<u64, BlockRow> = BTreeMap::new();
    blocks.insert(to, block_at(chain, to).await?);
    let mut kept = Vec::new();
    for log in logs {
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
        let Some(s) = stored else { continue };
        if let std::collections::btree_map::Entry::Vacant(v) = blocks.entry(bn) {
            v.insert(block_at(chain, bn).await?);
        }
        let header = blocks[&bn];
        if header.hash != bh {
            return Err(ChainError::unexpected(
                id,
                format!("block {bn} changed during the round (reorg in progress); retrying"),
            ));
        }
        kept.push(NewLog {
            block_number: bn,
            log_index: li,
            block_hash: header.hash,
            block_timestamp: header.timestamp,
            tx_hash: txh,
            address: log.address(),
            event: s.event,
            key: s.key,
            fields: s.fields,
        });
    }
    let cursor_block = blocks[&to];
    let with_logs = |bn: &u64| *bn == to || kept.iter().any(|l| l.block_number == *bn);
    Ok(IndexedRound {
        chain_id: id,
        blocks: blocks
            .into_values()
            .filter(|b| with_logs(&b.number))
            .collect(),
        logs: kept,
        cursor: Cursor {
            block_number: to,
            block_hash: cursor_block.hash,
        },
        prune_below: to.saturating_sub(KEEP_RECENT_BLOCKS),
    })
}

/// One indexing round.
pub async fn index_once(
    chain: &ChainClient,
    store: &ChainStore,
    metrics: &ChainMetrics,
) -> Result<Round> {
    chain.check.ensure().await?;
    let id = chain.chain_id();
    let (last, window) = next_window(chain, store).await?;
    let Some((from, to)) = window else {
        metrics.set_indexed_height(id, last);
        return Ok(Round::UpToDate);
    };
    let filter = Filter::new()
        .address(vec![chain.escrow(), chain.endpoint()?])
        .from_block(from)
        .to_block(to);
    let logs: Vec<Log> = chain
        .provider
        .get_logs(&filter)
        .await
        .map_err(|e| rpc(id, "eth_getLogs", e))?;
    let round = build_round(chain, to, &logs).await?;
    store.commit_round(&round).await?;
    metrics.set_indexed_height(id, to);
    for l in &round.logs {
        tracing::debug!(chain_id = id, block = l.block_number, log_index = l.log_index, event = %l.event, key = %l.key, "indexed");
    }
    if !round.logs.is_empty() {
        tracing::info!(
            chain_id = id,
            from,
            to,
            logs = round.logs.len(),
            "indexed confirmed logs"
        );
    }
    Ok(Round::Advanced {
        logs: round.logs.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_rounds_wait_interval_times_two_to_the_failures_up_to_32() {
        let every = Duration::from_millis(500);
        let b = failure_backoff(every);
        let waits: Vec<u128> = (1..=7).map(|n| b.delay(n).as_millis()).collect();
        // Before: `every * (1 << failures.min(5))`.
        let before: Vec<u128> = (1u32..=7)
            .map(|n| (every * (1 << n.min(5))).as_millis())
            .collect();
        assert_eq!(waits, before);
        assert_eq!(waits, [1_000, 2_000, 4_000, 8_000, 16_000, 16_000, 16_000]);
    }
}
