//! The relayer loop. Every tick (the smallest `poll_interval_ms`, 20 to 250 ms), and at
//! once when woken ([`crate::Wakes`]: new logs indexed, a packet queued for a chain), it:
//!
//! 1. **ingests** the endpoint `PacketSent` logs the indexer stored (confirmed logs, only
//!    packets sent by a configured escrow) into `lz_packets`, status `pending`
//!    (`unreadable` at once for a packet that cannot be parsed);
//! 2. **delivers** the due packets in nonce order per path (src eid, sender, dst eid,
//!    receiver) with [`delivery::deliver`]. Every pass is recorded (`attempts`,
//!    `last_error`, `next_attempt_at` after [`RELAY_BACKOFF`], or the destination chain's
//!    `relay_retry_base_ms`/`relay_retry_cap_ms`). A readable packet is
//!    **never abandoned**: there is no attempt limit, so an RPC outage or an empty gas
//!    balance of any length ends in delivery once it is over (at most [`RELAY_BACKOFF`]'s
//!    cap later). A packet waiting for an earlier nonce is looked at again after a second,
//!    one waiting for its DVN quorum after the destination's `poll_interval_ms` (at most
//!    250 ms), without counting an attempt; an earlier-nonce wait is logged at warning
//!    level, with the nonce it waits for, when it starts waiting for that nonce.
//!
//! All state lives in the database and on the chains, so a restart loses nothing.

use crate::client::Chains;
use crate::error::Result;
use crate::lz::codec::Packet;
use crate::lz::delivery::{self, BlockReason, PassError, PassProgress, packet_from_fields};
use crate::metrics::ChainMetrics;
use crate::store::{ChainStore, DuePacket, NewPacket, PacketSentLog, PacketStatus};
use crate::wake::Wakes;
use lockstep_core::{Backoff, Gate, Next, Periodic, now_ms};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// Retry delay after failed passes: 1 s, doubling, at most 60 s, each delay scaled by a
/// random factor in [0.5, 1] so packets failing together do not retry in lockstep. A chain's
/// `relay_retry_base_ms`/`relay_retry_cap_ms` replace the two numbers for packets bound for
/// it ([`crate::ChainConfig::relay_backoff`]).
pub const RELAY_BACKOFF: Backoff =
    Backoff::new(Duration::from_secs(1), Duration::from_secs(60)).with_jitter();
/// Delay before looking again at a packet whose earlier nonces are not committed yet.
const BLOCKED_RETRY_MS: i64 = 1_000;
/// Longest delay before looking again at a packet waiting for the other DVNs'
/// verifications; the destination's `poll_interval_ms` when shorter. Short, because
/// delivery follows the last verification (the relayer's own verification is part of its
/// delivery transaction) and the look is a few cheap reads.
const QUORUM_RETRY_MAX_MS: u64 = 250;
/// Open packets queued (or blocked) longer than this are counted by the
/// `lockstep_lz_packets_*_stale` metrics.
pub const PACKET_ALERT_AFTER_MS: i64 = 120_000;
/// Rows read per query.
const BATCH: i64 = 256;

/// The retry delay after `attempts` failed passes, in milliseconds, as stored.
pub fn retry_delay_ms(attempts: u32) -> i64 {
    delay_ms(&RELAY_BACKOFF, attempts)
}

fn delay_ms(backoff: &Backoff, attempts: u32) -> i64 {
    i64::try_from(backoff.delay(attempts).as_millis()).unwrap_or(i64::MAX)
}

/// What the relayer works with.
#[derive(Debug, Clone)]
pub struct Relayer {
    /// The connected chains (destinations and their signers).
    pub chains: Chains,
    /// The chain store (logs and packets).
    pub store: ChainStore,
    /// Where the packet counts are published.
    pub metrics: Arc<ChainMetrics>,
}

/// The row to queue for a stored `PacketSent`: `pending`, or `unreadable`.
fn packet_row(log: &PacketSentLog) -> NewPacket {
    let parsed = packet_from_fields(&log.fields).and_then(|(bytes, _)| {
        let p = Packet::parse(&bytes).map_err(|e| e.to_string())?;
        if format!("{:#x}", p.guid) != log.settlement_key.to_lowercase() {
            return Err(format!("guid {:#x} does not match the log key", p.guid));
        }
        let nonce = i64::try_from(p.nonce).map_err(|_| "nonce out of range".to_string())?;
        Ok((p, nonce, bytes))
    });
    let (guid, chain_id, tx) = (&log.settlement_key, log.chain_id, &log.tx_hash);
    match parsed {
        Ok((p, nonce, bytes)) => {
            tracing::info!(guid = %guid, path = %p.path(), nonce = p.nonce, src_chain_id = chain_id, src_tx = %tx, "packet sent; queued for delivery");
            NewPacket {
                guid: guid.clone(),
                src_chain_id: chain_id,
                src_eid: p.src_eid,
                dst_eid: p.dst_eid,
                sender: format!("{:#x}", p.sender),
                receiver: format!("{:#x}", p.receiver_address()),
                nonce,
                packet: format!("0x{}", hex::encode(bytes)),
                src_tx_hash: tx.clone(),
                status: PacketStatus::Pending,
                last_error: None,
            }
        }
        Err(e) => {
            tracing::error!(guid = %guid, src_chain_id = chain_id, src_tx = %tx, error = %e, "unreadable PacketSent; recorded as unreadable");
            NewPacket {
                guid: guid.clone(),
                src_chain_id: chain_id,
                src_eid: 0,
                dst_eid: 0,
                sender: String::new(),
                receiver: String::new(),
                nonce: 0,
                packet: String::new(),
                src_tx_hash: tx.clone(),
                status: PacketStatus::Unreadable,
                last_error: Some(format!("unreadable packet: {e}")),
            }
        }
    }
}

impl Relayer {
    /// Runs the relayer until `shutdown` becomes true (the current pass is finished first),
    /// while `gate` is open: this task ingests the `PacketSent` logs and publishes the packet
    /// metrics, and one delivery task per configured chain delivers the packets bound for
    /// it, so a hung or dead chain delays only its own packets. Errors are logged; they
    /// never stop a loop.
    ///
    /// `wakes` shortens the waits: the ingest loop runs as soon as an indexer stored logs,
    /// and a destination's delivery loop as soon as a packet for it is queued.
    pub async fn run(self, gate: Arc<dyn Gate>, wakes: Wakes, shutdown: watch::Receiver<bool>) {
        let tick_ms = self.chains.min_poll_interval_ms(250).clamp(20, 250);
        let every = Duration::from_millis(tick_ms);
        tracing::info!(
            tick_ms,
            destinations = self.chains.all().len(),
            "relayer started"
        );
        let mut deliveries = tokio::task::JoinSet::new();
        for eid in self.chains.all().iter().map(|c| c.config.eid) {
            let (r, stop) = (self.clone(), shutdown.clone());
            let task = Periodic::new("relayer delivery", every)
                .gate(gate.clone())
                .notify(wakes.delivery(eid))
                .backoff(Backoff::new(every, every))
                .run(shutdown.clone(), move || {
                    let (r, stop) = (r.clone(), stop.clone());
                    async move {
                        if let Err(e) = r.deliver_due_to(eid, &stop).await {
                            tracing::warn!(dst_eid = eid, error = %e, "relayer: reading due packets failed");
                        }
                        Ok::<_, std::convert::Infallible>(Next::Idle)
                    }
                });
            deliveries.spawn(task);
        }
        Periodic::new("relayer", every)
            .gate(gate)
            .notify(wakes.ingest())
            .backoff(Backoff::new(every, every))
            .run(shutdown, move || {
                let (r, wakes) = (self.clone(), wakes.clone());
                async move {
                    for dst_eid in r.ingest_and_count().await {
                        wakes.packet_due(dst_eid);
                    }
                    Ok::<_, std::convert::Infallible>(Next::Idle)
                }
            })
            .await;
        while deliveries.join_next().await.is_some() {}
    }

    /// One tick of every loop in turn: ingest, deliver to every chain, ingest again and
    /// publish the counts after the deliveries.
    pub async fn tick(&self, shutdown: &watch::Receiver<bool>) {
        self.ingest_and_count().await;
        if let Err(e) = self.deliver_due(shutdown).await {
            tracing::warn!(error = %e, "relayer: reading due packets failed");
        }
        self.ingest_and_count().await;
    }

    /// Ingests the new `PacketSent` logs and publishes the packet metrics; returns the
    /// destinations of the packets queued.
    async fn ingest_and_count(&self) -> Vec<u32> {
        let queued = self.ingest().await.unwrap_or_else(|e| {
            tracing::warn!(error = %e, "relayer: ingesting PacketSent logs failed");
            Vec::new()
        });
        match self.store.packet_counts().await {
            Ok(counts) => self.metrics.set_packet_counts(&counts),
            Err(e) => tracing::debug!(error = %e, "relayer: counting packets failed"),
        }
        let threshold = now_ms().saturating_sub(PACKET_ALERT_AFTER_MS);
        match self.store.packet_backlog(threshold).await {
            Ok(backlog) => self.metrics.set_packet_backlog(backlog),
            Err(e) => tracing::debug!(error = %e, "relayer: counting stale packets failed"),
        }
        queued
    }

    /// Copies new `PacketSent` logs into `lz_packets`; returns the destination eids of the
    /// packets queued for delivery (one entry per packet).
    pub async fn ingest(&self) -> Result<Vec<u32>> {
        let mut queued = Vec::new();
        for log in self.store.unqueued_packet_logs(BATCH).await? {
            let row = packet_row(&log);
            self.store.insert_packet(&row).await?;
            if row.status == PacketStatus::Pending {
                queued.push(row.dst_eid);
            }
        }
        Ok(queued)
    }

    /// Delivers every due packet, in nonce order per path.
    pub async fn deliver_due(&self, shutdown: &watch::Receiver<bool>) -> Result<()> {
        let due = self.store.due_packets(now_ms(), BATCH).await?;
        self.deliver_rows(&due, shutdown).await;
        Ok(())
    }

    /// Delivers the due packets bound for the chain with endpoint id `dst_eid`.
    pub async fn deliver_due_to(
        &self,
        dst_eid: u32,
        shutdown: &watch::Receiver<bool>,
    ) -> Result<()> {
        let due = self.store.due_packets_to(now_ms(), dst_eid, BATCH).await?;
        self.deliver_rows(&due, shutdown).await;
        Ok(())
    }

    /// When to look again at a packet for `dst_eid` that waits for its DVN quorum: the
    /// destination's `poll_interval_ms`, at most [`QUORUM_RETRY_MAX_MS`].
    fn quorum_retry_ms(&self, dst_eid: u32) -> i64 {
        let ms = self
            .chains
            .by_eid(dst_eid)
            .map_or(QUORUM_RETRY_MAX_MS, |c| c.config.poll_interval_ms)
            .clamp(20, QUORUM_RETRY_MAX_MS);
        i64::try_from(ms).unwrap_or(250)
    }

    async fn deliver_rows(&self, rows: &[DuePacket], shutdown: &watch::Receiver<bool>) {
        for row in rows {
            if *shutdown.borrow() {
                break;
            }
            if let Err(e) = self.deliver_recorded(row).await {
                tracing::warn!(guid = %row.guid, error = %e, "recording a delivery pass failed");
            }
        }
    }

    /// One delivery pass for one packet, recorded in `lz_packets`.
    async fn deliver_recorded(&self, row: &DuePacket) -> Result<()> {
        let mut progress = PassProgress {
            status: row.status,
            delivered_tx: None,
        };
        let outcome = delivery::deliver(&self.chains, &self.store, row, &mut progress).await;
        let now = now_ms();
        let attempts = row.attempts.saturating_add(1);
        match outcome {
            Ok(()) => {
                self.store
                    .record_delivered(&row.guid, attempts, progress.delivered_tx)
                    .await
            }
            Err(PassError::Blocked(b)) => {
                let waits_for = i64::try_from(b.waits_for).unwrap_or(i64::MAX);
                if row.blocked_on_nonce != Some(waits_for) {
                    match b.reason {
                        BlockReason::EarlierNonce => {
                            tracing::warn!(guid = %row.guid, path = %b.path, nonce = b.nonce, waits_for = b.waits_for, "packet blocked behind an earlier nonce of its path")
                        }
                        BlockReason::DvnQuorum { required } => {
                            tracing::info!(guid = %row.guid, path = %b.path, nonce = b.nonce, required, "packet waits for its DVN quorum")
                        }
                    }
                }
                let wait = match b.reason {
                    BlockReason::EarlierNonce => BLOCKED_RETRY_MS,
                    BlockReason::DvnQuorum { .. } => self.quorum_retry_ms(row.dst_eid),
                };
                let next = now.saturating_add(wait);
                self.store
                    .record_blocked(&row.guid, progress.status, &b.to_string(), waits_for, next)
                    .await
            }
            Err(PassError::Failed(e)) => {
                let text = e.describe();
                // The destination's `relay_retry_*_ms` (RELAY_BACKOFF unless configured).
                let retry_in_ms = match self.chains.by_eid(row.dst_eid) {
                    Some(dst) => delay_ms(&dst.config.relay_backoff(), attempts),
                    None => retry_delay_ms(attempts),
                };
                tracing::warn!(guid = %row.guid, status = %progress.status, attempts, retry_in_ms, error = %text, "packet delivery attempt failed; retrying");
                self.store
                    .record_failed_attempt(
                        &row.guid,
                        progress.status,
                        attempts,
                        &text,
                        now.saturating_add(retry_in_ms),
                    )
                    .await
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::lz::codec::tests::encode;
    use crate::store::{BlockRow, Cursor, IndexedRound, NewLog};
    use alloy::primitives::{Address, B256};
    use serde_json::json;

    /// The uncapped-by-jitter delay after `n` failures: 1 s doubling, at most 60 s.
    fn full_delay_ms(n: u32) -> i64 {
        (1_000i64 << n.saturating_sub(1).min(20)).min(60_000)
    }

    #[test]
    fn retry_delays_double_from_1s_to_a_60s_cap_with_jitter() {
        for n in 1..=100u32 {
            let (full, d) = (full_delay_ms(n), retry_delay_ms(n));
            assert!(
                full / 2 <= d && d <= full,
                "after {n} failures: {d} ms, full {full}"
            );
        }
        assert_eq!(
            (1..=8).map(full_delay_ms).collect::<Vec<_>>(),
            [1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 60_000, 60_000]
        );
        let capped = retry_delay_ms(u32::MAX);
        assert!((30_000..=60_000).contains(&capped), "{capped}");
        // Jitter: 50 draws at the cap are not all equal.
        let draws: std::collections::BTreeSet<i64> = (0..50).map(|_| retry_delay_ms(50)).collect();
        assert!(draws.len() > 1, "{draws:?}");
    }

    async fn relayer(dir: &tempfile::TempDir) -> Relayer {
        let db = lockstep_core::Db::connect(&lockstep_core::db::sqlite_url_for(dir.path()))
            .await
            .unwrap();
        Relayer {
            // No chain configured: every delivery fails before any RPC.
            chains: Chains::default(),
            store: ChainStore::open(db).await.unwrap(),
            metrics: Arc::default(),
        }
    }

    async fn packet_sent(store: &ChainStore, index: u64, guid: B256, packet: &[u8]) {
        let hash = B256::repeat_byte(9);
        let fields = json!({"encoded_packet": format!("0x{}", hex::encode(packet)), "options": "0x", "send_library": "0x00"});
        store
            .commit_round(&IndexedRound {
                chain_id: 1,
                blocks: vec![BlockRow {
                    number: 9,
                    hash,
                    timestamp: 9,
                }],
                logs: vec![NewLog {
                    block_number: 9,
                    log_index: index,
                    block_hash: hash,
                    block_timestamp: 9,
                    tx_hash: B256::repeat_byte(0xcc),
                    address: Address::ZERO,
                    event: "PacketSent".into(),
                    key: guid,
                    fields,
                }],
                cursor: Cursor {
                    block_number: 9,
                    block_hash: hash,
                },
                prune_below: 0,
            })
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn queues_sent_packets_and_never_gives_a_readable_one_up() {
        let dir = tempfile::tempdir().unwrap();
        let r = relayer(&dir).await;
        let (good, bad) = (B256::repeat_byte(0x42), B256::repeat_byte(0x43));
        let escrow = Address::repeat_byte(0xe5);
        let bytes = encode(1, 1, 40101, escrow, 40102, escrow, good, b"m");
        packet_sent(&r.store, 0, good, &bytes).await;
        packet_sent(&r.store, 1, bad, &bytes[..80]).await;
        r.ingest().await.unwrap();
        let (g, b) = (format!("{good:#x}"), format!("{bad:#x}"));
        assert_eq!(
            r.store.packet_status(&g).await.unwrap(),
            Some((PacketStatus::Pending, 0, None))
        );
        let (st, attempts, err) = r.store.packet_status(&b).await.unwrap().unwrap();
        assert_eq!((st, attempts), (PacketStatus::Unreadable, 0));
        assert!(err.unwrap().starts_with("unreadable packet: "));

        let (_tx, stop) = watch::channel(false);
        r.deliver_due(&stop).await.unwrap();
        let (st, attempts, err) = r.store.packet_status(&g).await.unwrap().unwrap();
        assert_eq!((st, attempts), (PacketStatus::Pending, 1));
        assert_eq!(
            err.as_deref(),
            Some("configuration: no configured chain has eid 40102")
        );
        assert!(
            r.store.due_packets(now_ms(), 10).await.unwrap().is_empty(),
            "backing off"
        );
        // 100 failed passes: still pending, every delay within the jittered, capped schedule.
        for n in 2..=100u32 {
            let due = r.store.due_packets(i64::MAX, 10).await.unwrap();
            assert_eq!(due.len(), 1, "pass {n}");
            let before = now_ms();
            r.deliver_recorded(&due[0]).await.unwrap();
            let after = now_ms();
            let open = r.store.list_packets(true, 10).await.unwrap();
            assert_eq!(open.len(), 1, "pass {n}");
            let p = &open[0];
            assert_eq!(
                (p.guid.as_str(), p.status, p.attempts),
                (g.as_str(), PacketStatus::Pending, n)
            );
            let full = full_delay_ms(n);
            assert!(
                before + full / 2 <= p.next_attempt_at && p.next_attempt_at <= after + full,
                "pass {n}: next attempt {} ms after the pass, full delay {full}",
                p.next_attempt_at - before
            );
        }
        assert!(r.store.retry_packet_now(&g).await.unwrap(), "open: retried");
        assert!(
            !r.store.retry_packet_now(&b).await.unwrap(),
            "unreadable: nothing to retry"
        );
        assert_eq!(r.store.due_packets(now_ms(), 10).await.unwrap().len(), 1);
        r.tick(&stop).await;
        let mut text = String::new();
        lockstep_core::MetricsSource::render(r.metrics.as_ref(), &mut text);
        for line in [
            "lockstep_lz_packets{status=\"pending\"} 1",
            "lockstep_lz_packets{status=\"unreadable\"} 1",
        ] {
            assert!(text.contains(line), "{line} in {text}");
        }
    }
}
