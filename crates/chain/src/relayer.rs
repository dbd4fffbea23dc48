//! The LayerZero v2 relayer (receive-side DVN and executor of the escrows' paths) and the
//! permissionless timeout/resend keeper.
//!
//! Every tick (about 250 ms) the relayer:
//!
//! 1. **ingests** the endpoint `PacketSent` logs the indexer stored in `chain_logs` (confirmed
//!    logs, only packets sent by a configured escrow) into `lz_packets`, state `pending`;
//! 2. **delivers** the due packets in nonce order per path (src eid, sender, dst eid,
//!    receiver), on the destination chain, as `contracts/test/RealStack.t.sol` does:
//!    `ReceiveUln302.verify(header, keccak256(payload), 1)`,
//!    `ReceiveUln302.commitVerification(header, keccak256(payload))`, then
//!    `EndpointV2.lzReceive(origin, receiver, guid, message, "")`. Before every step it reads
//!    the destination's state ([`DeliveryState`]), so neither a retry nor a restart repeats a
//!    step that already happened. Every pass is recorded (`attempts`, `last_error`,
//!    `next_attempt_at` with [`backoff_ms`]); after [`MAX_ATTEMPTS`] the packet is `failed`;
//! 3. **times out** live settlements (`AWAITING_DEPOSITS`, `EXECUTING_SWAP`): on each chain
//!    of their legs whose clock has passed `terms.timeoutAt`, `refund(terms)` the hub while it
//!    is OPEN or LOCKED and a spoke while it is OPEN (a LOCKED spoke waits for the hub's
//!    ABORT, which this relayer delivers);
//! 4. **resends** deferred messages: a `MessageDeferred` not followed by a `MessageSent` of
//!    the same kind for the same settlement on the same chain gets `resend(terms)` with the
//!    quoted fee.
//!
//! All state lives in the database and on the chains; what the relayer keeps in memory only
//! throttles retries and log messages, so a restart loses nothing.

use crate::ChainSide;
use crate::client::{ChainClient, rpc};
use crate::error::{ChainError, Result};
use alloy::primitives::{Address, B256, Bytes, U256, keccak256};
use alloy::rpc::types::TransactionRequest;
use alloy::sol_types::SolCall;
use lockstep_bindings::ISettlementEscrow::ISettlementEscrowErrors;
use lockstep_bindings::{
    EscrowRevert, ILayerZeroEndpointV2, ILocalEndpoint, ILocalReceiveUln, ISettlementEscrow,
};
use lockstep_coordinator::now_ms;
use lockstep_coordinator::server::Coordinator;
use lockstep_coordinator::settlements;
use lockstep_coordinator::state::SettlementState;
use sqlx::Row;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// Length of a LayerZero v2 packet header (PacketV1Codec).
pub const HEADER_LEN: usize = 81;
/// The only packet version this relayer understands (`PacketV1Codec.PACKET_VERSION`).
pub const PACKET_VERSION: u8 = 1;
/// Delivery passes after which a packet is marked `failed`.
pub const MAX_ATTEMPTS: i64 = 20;
/// First retry delay, doubled on every failed pass.
pub const BACKOFF_BASE_MS: i64 = 250;
/// Longest retry delay.
pub const BACKOFF_CAP_MS: i64 = 30_000;
/// Confirmations this DVN attests in `verify` (the local receive ULN requires 1).
const DVN_CONFIRMATIONS: u64 = 1;
/// Delay before looking again at a packet whose earlier nonces are not committed yet.
const BLOCKED_RETRY_MS: i64 = 1_000;
/// How often the timeout and resend keepers run.
const KEEPER_EVERY: Duration = Duration::from_secs(1);
/// Rows read per query.
const BATCH: i64 = 256;
/// How long after a `resend` (or finding nothing to resend) the same deferred message is
/// left alone: the `MessageSent` it emitted needs confirmations before the indexer stores it.
const RESEND_QUIET: Duration = Duration::from_secs(120);
/// How long after a failed `resend` the keeper tries again.
const RESEND_RETRY: Duration = Duration::from_secs(10);

/// Packet states in `lz_packets.state`.
mod state {
    pub(super) const PENDING: &str = "pending";
    pub(super) const VERIFIED: &str = "verified";
    pub(super) const COMMITTED: &str = "committed";
    pub(super) const DELIVERED: &str = "delivered";
    pub(super) const FAILED: &str = "failed";
}

// ------------------------------------------------------------------------------- packets

/// Why bytes are not a LayerZero v2 packet.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PacketError {
    /// Shorter than a header and a guid.
    #[error("packet of {0} bytes is shorter than header (81) + guid (32)")]
    TooShort(usize),
    /// A header version other than [`PACKET_VERSION`].
    #[error("packet version {0} is not supported")]
    Version(u8),
    /// The receiver word is not a left-padded EVM address.
    #[error("packet receiver {0} is not an EVM address")]
    Receiver(B256),
}

/// A decoded LayerZero v2 packet (`PacketV1Codec`): `header ‖ guid ‖ message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet {
    /// Header version (1).
    pub version: u8,
    /// Nonce on the path.
    pub nonce: u64,
    /// Source endpoint id.
    pub src_eid: u32,
    /// Sender (the source OApp, left-padded).
    pub sender: B256,
    /// Destination endpoint id.
    pub dst_eid: u32,
    /// Receiver (the destination OApp, left-padded).
    pub receiver: B256,
    /// The packet's guid.
    pub guid: B256,
    /// The OApp message.
    pub message: Bytes,
    /// The 81 header bytes as sent.
    pub header: Bytes,
    /// `guid ‖ message` as sent.
    pub payload: Bytes,
}

fn be_u64(b: &[u8]) -> u64 {
    b.iter().fold(0u64, |acc, x| (acc << 8) | u64::from(*x))
}

impl Packet {
    /// Decodes an encoded packet (the `encodedPayload` of the endpoint's `PacketSent`).
    pub fn parse(bytes: &[u8]) -> Result<Packet, PacketError> {
        if bytes.len() < HEADER_LEN + 32 {
            return Err(PacketError::TooShort(bytes.len()));
        }
        let version = bytes[0];
        if version != PACKET_VERSION {
            return Err(PacketError::Version(version));
        }
        let receiver = B256::from_slice(&bytes[49..81]);
        if receiver[..12].iter().any(|b| *b != 0) {
            return Err(PacketError::Receiver(receiver));
        }
        Ok(Packet {
            version,
            nonce: be_u64(&bytes[1..9]),
            // Four bytes, so the value always fits.
            src_eid: u32::try_from(be_u64(&bytes[9..13])).unwrap_or(u32::MAX),
            sender: B256::from_slice(&bytes[13..45]),
            dst_eid: u32::try_from(be_u64(&bytes[45..49])).unwrap_or(u32::MAX),
            receiver,
            guid: B256::from_slice(&bytes[81..113]),
            message: Bytes::copy_from_slice(&bytes[113..]),
            header: Bytes::copy_from_slice(&bytes[..HEADER_LEN]),
            payload: Bytes::copy_from_slice(&bytes[HEADER_LEN..]),
        })
    }

    /// The receiver as an address.
    pub fn receiver_address(&self) -> Address {
        Address::from_word(self.receiver)
    }

    /// `keccak256(guid ‖ message)`, what the DVN attests and the endpoint stores.
    pub fn payload_hash(&self) -> B256 {
        keccak256(&self.payload)
    }

    /// The path, for logs: `srcEid:sender->dstEid:receiver`.
    pub fn path(&self) -> String {
        format!(
            "{}:{}->{}:{}",
            self.src_eid,
            Address::from_word(self.sender),
            self.dst_eid,
            self.receiver_address()
        )
    }

    /// The endpoint's `Origin` of this packet.
    fn origin(&self) -> ILocalEndpoint::Origin {
        ILocalEndpoint::Origin {
            srcEid: self.src_eid,
            sender: self.sender,
            nonce: self.nonce,
        }
    }
}

/// The native value the executor must pass to `lzReceive`: the sum of the values of the
/// executor `LZRECEIVE` entries of type-3 options (0 for other option types or malformed
/// options, which the send library would not have accepted).
pub fn lz_receive_value(options: &[u8]) -> U256 {
    const TYPE_3: u64 = 3;
    const EXECUTOR_WORKER_ID: u8 = 1;
    const OPTION_TYPE_LZRECEIVE: u8 = 1;
    if options.len() < 2 || be_u64(&options[..2]) != TYPE_3 {
        return U256::ZERO;
    }
    let mut total = U256::ZERO;
    let mut at = 2;
    // Each entry: workerId u8, size u16 (option type + data), option type u8, data.
    while at + 3 <= options.len() {
        let worker = options[at];
        let size = usize::try_from(be_u64(&options[at + 1..at + 3])).unwrap_or(usize::MAX);
        let start = at + 3;
        let Some(end) = start.checked_add(size).filter(|e| *e <= options.len()) else {
            return U256::ZERO;
        };
        if size == 0 {
            return U256::ZERO;
        }
        let (kind, data) = (options[start], &options[start + 1..end]);
        if worker == EXECUTOR_WORKER_ID && kind == OPTION_TYPE_LZRECEIVE && data.len() == 32 {
            total = total.saturating_add(U256::from_be_slice(&data[16..32]));
        }
        at = end;
    }
    total
}

/// Retry delay after `attempts` failed passes: 250 ms, doubling, at most 30 s.
pub fn backoff_ms(attempts: i64) -> i64 {
    let doublings = u32::try_from(attempts.saturating_sub(1).clamp(0, 16)).unwrap_or(16);
    BACKOFF_BASE_MS
        .saturating_mul(1i64 << doublings)
        .min(BACKOFF_CAP_MS)
}

/// Where a packet stands on its destination chain, read before every step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum DeliveryState {
    /// Nothing happened on the destination yet.
    Pending,
    /// This DVN's verification is stored in the receive library.
    Verified,
    /// The endpoint holds the payload hash (`commitVerification` happened).
    Committed,
    /// `lzReceive` happened (or the nonce was otherwise cleared).
    Delivered,
}

impl DeliveryState {
    /// The `lz_packets.state` value.
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Pending => state::PENDING,
            DeliveryState::Verified => state::VERIFIED,
            DeliveryState::Committed => state::COMMITTED,
            DeliveryState::Delivered => state::DELIVERED,
        }
    }

    /// Decides from the destination's views, following `EndpointV2`/`MessagingChannel`:
    /// `lzReceive` clears `inboundPayloadHash` and raises `lazyInboundNonce` to at least the
    /// nonce; `commitVerification` stores the payload hash; `verify` stores the DVN's entry in
    /// `hashLookup` (deleted again by `commitVerification`).
    pub fn decide(
        nonce: u64,
        lazy_inbound_nonce: u64,
        inbound_payload_hash: B256,
        payload_hash: B256,
        dvn_verified: bool,
    ) -> DeliveryState {
        if lazy_inbound_nonce >= nonce && inbound_payload_hash == B256::ZERO {
            DeliveryState::Delivered
        } else if inbound_payload_hash == payload_hash {
            DeliveryState::Committed
        } else if dvn_verified {
            DeliveryState::Verified
        } else {
            DeliveryState::Pending
        }
    }
}

// ------------------------------------------------------------------------------- the loop

/// Runs the relayer and the keepers until `shutdown` becomes true (the current step is
/// finished first). Errors are logged and retried; they never stop the loop.
pub async fn run(side: Arc<ChainSide>, c: Arc<Coordinator>, mut shutdown: watch::Receiver<bool>) {
    let smallest = side
        .chains
        .iter()
        .map(|ch| ch.config.poll_interval_ms)
        .min()
        .unwrap_or(250);
    let tick_ms = smallest.clamp(20, 250);
    let every = Duration::from_millis(tick_ms);
    let leader = side.leader.clone();
    let mut relayer = Relayer::new(side, c);
    tracing::info!(tick_ms, "relayer started");
    loop {
        match leader.turn(every, &mut shutdown).await {
            crate::leader::Turn::Stop => break,
            crate::leader::Turn::Skip => continue,
            crate::leader::Turn::Work => {}
        }
        relayer.tick(&shutdown).await;
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = shutdown.wait_for(|v| *v) => break,
        }
    }
    tracing::info!("relayer stopped");
}

/// In-memory throttles (never the source of truth).
struct Relayer {
    side: Arc<ChainSide>,
    c: Arc<Coordinator>,
    last_keeper: Option<Instant>,
    /// Per (settlement, eid): keeper failures and when to try again.
    keeper_retry: HashMap<(String, u32), (u32, Instant)>,
    /// Per open deferred message: when the resend keeper may look at it again.
    resend_after: HashMap<LogAt, Instant>,
    /// On-chain settlement id -> coordinator settlement id.
    ids: HashMap<B256, String>,
    /// Things already warned about (unreadable terms, unknown eids), to warn once.
    warned: HashSet<String>,
}

impl Relayer {
    fn new(side: Arc<ChainSide>, c: Arc<Coordinator>) -> Relayer {
        Relayer {
            side,
            c,
            last_keeper: None,
            keeper_retry: HashMap::new(),
            resend_after: HashMap::new(),
            ids: HashMap::new(),
            warned: HashSet::new(),
        }
    }

    fn warn_once(&mut self, key: String, message: &str) {
        if self.warned.insert(key.clone()) {
            tracing::warn!(what = %key, "{message}");
        }
    }

    async fn tick(&mut self, shutdown: &watch::Receiver<bool>) {
        if let Err(e) = self.ingest().await {
            tracing::warn!(error = %e, "relayer: ingesting PacketSent logs failed");
        }
        if let Err(e) = self.deliver_due(shutdown).await {
            tracing::warn!(error = %e, "relayer: reading due packets failed");
        }
        if self.last_keeper.is_some_and(|t| t.elapsed() < KEEPER_EVERY) || *shutdown.borrow() {
            return;
        }
        self.last_keeper = Some(Instant::now());
        if let Err(e) = self.timeouts(shutdown).await {
            tracing::warn!(error = %e, "timeout keeper: pass failed");
        }
        if let Err(e) = self.resends(shutdown).await {
            tracing::warn!(error = %e, "resend keeper: pass failed");
        }
    }

    // --------------------------------------------------------------------------- ingest

    /// Copies new `PacketSent` logs into `lz_packets`.
    async fn ingest(&mut self) -> Result<()> {
        let pool = self.c.db.pool();
        let rows = sqlx::query(
            "SELECT l.chain_id, l.tx_hash, l.settlement_key, l.fields FROM chain_logs l \
             LEFT JOIN lz_packets p ON p.guid = l.settlement_key \
             WHERE l.event = 'PacketSent' AND p.guid IS NULL \
             ORDER BY l.chain_id, l.block_number, l.log_index LIMIT $1",
        )
        .bind(BATCH)
        .fetch_all(pool)
        .await?;
        for r in rows {
            let chain_id: i64 = r.try_get("chain_id")?;
            let tx_hash: String = r.try_get("tx_hash")?;
            let guid: String = r.try_get("settlement_key")?;
            let fields: String = r.try_get("fields")?;
            let now = now_ms();
            let parsed = packet_from_fields(&fields).and_then(|(bytes, _)| {
                let p = Packet::parse(&bytes).map_err(|e| e.to_string())?;
                if format!("{:#x}", p.guid) != guid.to_lowercase() {
                    return Err(format!("guid {:#x} does not match the log key", p.guid));
                }
                let nonce = i64::try_from(p.nonce).map_err(|_| "nonce out of range".to_string())?;
                Ok((p, nonce, bytes))
            });
            let q = sqlx::query(
                "INSERT INTO lz_packets (guid, src_chain_id, src_eid, dst_eid, sender, receiver, nonce, packet, src_tx_hash, state, attempts, last_error, next_attempt_at, delivered_tx_hash, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, NULL, $14, $15) ON CONFLICT (guid) DO NOTHING",
            )
            .bind(guid.clone())
            .bind(chain_id);
            let q = match &parsed {
                Ok((p, nonce, bytes)) => {
                    tracing::info!(guid = %guid, path = %p.path(), nonce = p.nonce, src_chain_id = chain_id, src_tx = %tx_hash, "packet sent; queued for delivery");
                    q.bind(i64::from(p.src_eid))
                        .bind(i64::from(p.dst_eid))
                        .bind(format!("{:#x}", p.sender))
                        .bind(format!("{:#x}", p.receiver_address()))
                        .bind(*nonce)
                        .bind(format!("0x{}", hex::encode(bytes)))
                        .bind(tx_hash.clone())
                        .bind(state::PENDING)
                        .bind(0i64)
                        .bind(None::<String>)
                }
                Err(e) => {
                    tracing::error!(guid = %guid, src_chain_id = chain_id, src_tx = %tx_hash, error = %e, "unreadable PacketSent; recorded as failed");
                    q.bind(0i64)
                        .bind(0i64)
                        .bind(String::new())
                        .bind(String::new())
                        .bind(0i64)
                        .bind(String::new())
                        .bind(tx_hash.clone())
                        .bind(state::FAILED)
                        .bind(0i64)
                        .bind(Some(format!("unreadable packet: {e}")))
                }
            };
            q.bind(now).bind(now).bind(now).execute(pool).await?;
        }
        Ok(())
    }

    // --------------------------------------------------------------------------- deliver

    /// Delivers every due packet, in nonce order per path.
    async fn deliver_due(&mut self, shutdown: &watch::Receiver<bool>) -> Result<()> {
        let rows = sqlx::query(
            "SELECT guid, src_chain_id, state, attempts, packet FROM lz_packets \
             WHERE state IN ('pending', 'verified', 'committed') AND next_attempt_at <= $1 \
             ORDER BY src_eid, sender, dst_eid, receiver, nonce LIMIT $2",
        )
        .bind(now_ms())
        .bind(BATCH)
        .fetch_all(self.c.db.pool())
        .await?;
        let mut due = Vec::with_capacity(rows.len());
        for r in rows {
            due.push(DueRow {
                guid: r.try_get("guid")?,
                src_chain_id: r.try_get("src_chain_id")?,
                state: r.try_get("state")?,
                attempts: r.try_get("attempts")?,
                packet: r.try_get("packet")?,
            });
        }
        for row in due {
            if *shutdown.borrow() {
                break;
            }
            if let Err(e) = self.deliver_recorded(&row).await {
                tracing::warn!(guid = %row.guid, error = %e, "recording a delivery pass failed");
            }
        }
        Ok(())
    }

    /// One delivery pass for one packet, recorded in `lz_packets`.
    async fn deliver_recorded(&mut self, row: &DueRow) -> Result<()> {
        let mut progress = Progress {
            state: row.state.clone(),
            delivered_tx: None,
        };
        let outcome = self.deliver(row, &mut progress).await;
        let pool = self.c.db.pool();
        let now = now_ms();
        match outcome {
            Ok(Delivered) => {
                sqlx::query(
                    "UPDATE lz_packets SET state = $1, attempts = $2, last_error = NULL, \
                     delivered_tx_hash = COALESCE($3, delivered_tx_hash), updated_at = $4 WHERE guid = $5",
                )
                .bind(state::DELIVERED)
                .bind(row.attempts.saturating_add(1))
                .bind(progress.delivered_tx.map(|h| format!("{h:#x}")))
                .bind(now)
                .bind(&row.guid)
                .execute(pool)
                .await?;
            }
            Err(PassError::Blocked(msg)) => {
                tracing::debug!(guid = %row.guid, "{msg}");
                sqlx::query(
                    "UPDATE lz_packets SET state = $1, last_error = $2, next_attempt_at = $3, updated_at = $4 WHERE guid = $5",
                )
                .bind(&progress.state)
                .bind(msg)
                .bind(now.saturating_add(BLOCKED_RETRY_MS))
                .bind(now)
                .bind(&row.guid)
                .execute(pool)
                .await?;
            }
            Err(PassError::Failed(e)) => {
                let attempts = row.attempts.saturating_add(1);
                let text = error_text(&e);
                let st = if attempts >= MAX_ATTEMPTS {
                    tracing::error!(guid = %row.guid, attempts, error = %text, "packet delivery failed for good");
                    state::FAILED.to_string()
                } else {
                    tracing::warn!(guid = %row.guid, attempts, retry_in_ms = backoff_ms(attempts), error = %text, "packet delivery attempt failed");
                    progress.state.clone()
                };
                sqlx::query(
                    "UPDATE lz_packets SET state = $1, attempts = $2, last_error = $3, next_attempt_at = $4, updated_at = $5 WHERE guid = $6",
                )
                .bind(st)
                .bind(attempts)
                .bind(text)
                .bind(now.saturating_add(backoff_ms(attempts)))
                .bind(now)
                .bind(&row.guid)
                .execute(pool)
                .await?;
            }
        }
        Ok(())
    }

    /// Reads the packet's log again (a reorg may have replaced or removed it), then walks
    /// the destination from its current state to delivered.
    async fn deliver(
        &self,
        row: &DueRow,
        progress: &mut Progress,
    ) -> std::result::Result<Delivered, PassError> {
        let pool = self.c.db.pool();
        let src_chain = u64::try_from(row.src_chain_id).unwrap_or_default();
        let log = sqlx::query(
            "SELECT fields FROM chain_logs WHERE chain_id = $1 AND event = 'PacketSent' AND settlement_key = $2 \
             ORDER BY block_number DESC, log_index DESC LIMIT 1",
        )
        .bind(row.src_chain_id)
        .bind(&row.guid)
        .fetch_optional(pool)
        .await
        .map_err(ChainError::from)?;
        let Some(log) = log else {
            return Err(PassError::Failed(ChainError::unexpected(
                src_chain,
                "the PacketSent log is no longer among the confirmed logs (reorged out?)",
            )));
        };
        let fields: String = log.try_get("fields").map_err(ChainError::from)?;
        let (bytes, options) = packet_from_fields(&fields).map_err(|e| {
            PassError::Failed(ChainError::unexpected(
                src_chain,
                format!("PacketSent: {e}"),
            ))
        })?;
        let stored = format!("0x{}", hex::encode(&bytes));
        if stored != row.packet.to_lowercase() {
            tracing::warn!(guid = %row.guid, "packet changed on the source chain (reorg); using the confirmed one");
            sqlx::query("UPDATE lz_packets SET packet = $1, updated_at = $2 WHERE guid = $3")
                .bind(&stored)
                .bind(now_ms())
                .bind(&row.guid)
                .execute(pool)
                .await
                .map_err(ChainError::from)?;
        }
        let p = Packet::parse(&bytes).map_err(|e| {
            PassError::Failed(ChainError::unexpected(src_chain, format!("packet: {e}")))
        })?;
        let dst = self.side.chain_by_eid(p.dst_eid).ok_or_else(|| {
            PassError::Failed(ChainError::Config(format!(
                "no configured chain has eid {}",
                p.dst_eid
            )))
        })?;
        let receiver = p.receiver_address();
        if receiver != dst.escrow() {
            return Err(PassError::Failed(ChainError::Config(format!(
                "receiver {receiver} is not the escrow {} of chain {}",
                dst.escrow(),
                dst.chain_id()
            ))));
        }
        let value = lz_receive_value(&options);
        let path = p.path();
        // Each pass moves at most pending -> verified -> committed -> delivered.
        for _ in 0..4 {
            let now = read_delivery_state(dst, &p).await?;
            if now.as_str() != progress.state {
                persist_state(pool, &row.guid, now).await?;
                progress.state = now.as_str().to_string();
            }
            let (step, tx) = match now {
                DeliveryState::Delivered => {
                    tracing::info!(guid = %row.guid, path = %path, nonce = p.nonce, dst_chain_id = dst.chain_id(), tx = ?progress.delivered_tx, "packet delivered");
                    return Ok(Delivered);
                }
                DeliveryState::Pending => (
                    "verify",
                    TransactionRequest::default().to(dst.receive_lib()?).input(
                        ILocalReceiveUln::verifyCall {
                            packetHeader: p.header.clone(),
                            payloadHash: p.payload_hash(),
                            confirmations: DVN_CONFIRMATIONS,
                        }
                        .abi_encode()
                        .into(),
                    ),
                ),
                DeliveryState::Verified => (
                    "commitVerification",
                    TransactionRequest::default().to(dst.receive_lib()?).input(
                        ILocalReceiveUln::commitVerificationCall {
                            packetHeader: p.header.clone(),
                            payloadHash: p.payload_hash(),
                        }
                        .abi_encode()
                        .into(),
                    ),
                ),
                DeliveryState::Committed => {
                    let endpoint = ILayerZeroEndpointV2::new(dst.endpoint()?, dst.provider.clone());
                    let executable = endpoint
                        .inboundNonce(receiver, p.src_eid, p.sender)
                        .call()
                        .await
                        .map_err(|e| rpc(dst.chain_id(), "inboundNonce", e))?;
                    if executable < p.nonce {
                        return Err(PassError::Blocked(format!(
                            "waiting for nonce {} of path {path} to be committed before {}",
                            executable.saturating_add(1),
                            p.nonce
                        )));
                    }
                    (
                        "lzReceive",
                        TransactionRequest::default()
                            .to(dst.endpoint()?)
                            .value(value)
                            .input(
                                ILocalEndpoint::lzReceiveCall {
                                    origin: p.origin(),
                                    receiver,
                                    guid: p.guid,
                                    message: p.message.clone(),
                                    extraData: Bytes::new(),
                                }
                                .abi_encode()
                                .into(),
                            ),
                    )
                }
            };
            let receipt = dst.sender.send(tx, step).await?;
            tracing::info!(
                guid = %row.guid,
                path = %path,
                nonce = p.nonce,
                step,
                dst_chain_id = dst.chain_id(),
                tx = %receipt.transaction_hash,
                gas_used = receipt.gas_used,
                "relay step mined"
            );
            if step == "lzReceive" {
                progress.delivered_tx = Some(receipt.transaction_hash);
            }
        }
        Err(PassError::Failed(ChainError::unexpected(
            dst.chain_id(),
            format!(
                "packet {} did not advance past {}",
                row.guid, progress.state
            ),
        )))
    }

    // --------------------------------------------------------------------------- timeouts

    /// Refunds the live settlements whose deadline passed on a chain of theirs.
    async fn timeouts(&mut self, shutdown: &watch::Receiver<bool>) -> Result<()> {
        let ids: Vec<String> =
            sqlx::query("SELECT id FROM settlements WHERE state = $1 OR state = $2 ORDER BY id")
                .bind(SettlementState::AwaitingDeposits.as_str())
                .bind(SettlementState::ExecutingSwap.as_str())
                .fetch_all(self.c.db.pool())
                .await?
                .iter()
                .map(|r| r.try_get::<String, _>("id"))
                .collect::<std::result::Result<_, _>>()?;
        let live: HashSet<&String> = ids.iter().collect();
        self.keeper_retry.retain(|(id, _), _| live.contains(id));
        let mut clocks: HashMap<u32, u64> = HashMap::new();
        for id in &ids {
            if *shutdown.borrow() {
                break;
            }
            let row = {
                let mut conn = self.c.db.pool().acquire().await?;
                settlements::load(&mut conn, id).await?
            };
            let Some(row) = row else { continue };
            let terms = match crate::escrow_terms(&row) {
                Ok(t) => t,
                Err(e) => {
                    self.warn_once(
                        format!("terms of {id}"),
                        &format!("timeout keeper: cannot read the terms: {e}"),
                    );
                    continue;
                }
            };
            let eids: BTreeSet<u32> = terms.legs.iter().map(|l| l.eid).collect();
            for eid in eids {
                let key = (id.clone(), eid);
                if self
                    .keeper_retry
                    .get(&key)
                    .is_some_and(|(_, at)| Instant::now() < *at)
                {
                    continue;
                }
                match self.timeout_on(id, &terms, eid, &mut clocks).await {
                    Ok(()) => {
                        self.keeper_retry.remove(&key);
                    }
                    Err(e) => {
                        let failures = self.keeper_retry.get(&key).map_or(0, |(n, _)| *n) + 1;
                        let wait = Duration::from_millis(
                            u64::try_from(backoff_ms(i64::from(failures)) * 4).unwrap_or(30_000),
                        )
                        .min(Duration::from_secs(60));
                        tracing::warn!(settlement = %id, eid, failures, error = %error_text(&e), "timeout keeper: refund failed");
                        self.keeper_retry
                            .insert(key, (failures, Instant::now() + wait));
                    }
                }
            }
        }
        Ok(())
    }

    /// The timeout step of one settlement on one chain.
    async fn timeout_on(
        &mut self,
        id: &str,
        terms: &ISettlementEscrow::Terms,
        eid: u32,
        clocks: &mut HashMap<u32, u64>,
    ) -> Result<()> {
        let Some(chain) = self.side.chain_by_eid(eid).cloned() else {
            self.warn_once(
                format!("eid {eid}"),
                "timeout keeper: a settlement has a leg on an eid no configured chain has",
            );
            return Ok(());
        };
        let now = match clocks.get(&eid) {
            Some(t) => *t,
            None => {
                let t = chain.latest_timestamp().await?;
                clocks.insert(eid, t);
                t
            }
        };
        if now <= terms.timeoutAt {
            return Ok(());
        }
        let escrow = ISettlementEscrow::new(chain.escrow(), chain.provider.clone());
        let cur = escrow
            .settlementOf(terms.settlementId)
            .call()
            .await
            .map_err(|e| rpc(chain.chain_id(), "settlementOf", e))?;
        let state = cur.state;
        let hub = eid == terms.hubEid;
        if !refund_due(hub, state) {
            return Ok(());
        }
        let fee = escrow
            .quoteRefund(terms.clone())
            .call()
            .await
            .map_err(|e| rpc(chain.chain_id(), "quoteRefund", e))?;
        let tx = TransactionRequest::default()
            .to(chain.escrow())
            .value(fee)
            .input(
                ISettlementEscrow::refundCall {
                    terms: terms.clone(),
                }
                .abi_encode()
                .into(),
            );
        match chain.sender.send(tx, "refund").await {
            Ok(r) => {
                tracing::info!(settlement = %id, chain_id = chain.chain_id(), hub, state = escrow_state_name(state), fee = %fee, tx = %r.transaction_hash, "deadline passed: refunded");
                Ok(())
            }
            Err(ChainError::Reverted {
                revert:
                    EscrowRevert::Escrow(
                        ISettlementEscrowErrors::EscrowInvalidState(_)
                        | ISettlementEscrowErrors::EscrowAwaitingHub(_),
                    ),
                ..
            }) => {
                tracing::info!(settlement = %id, chain_id = chain.chain_id(), "refund no longer applies (state moved meanwhile)");
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    // --------------------------------------------------------------------------- resends

    /// Resends the deferred messages the escrows have not sent since.
    async fn resends(&mut self, shutdown: &watch::Receiver<bool>) -> Result<()> {
        let rows = sqlx::query(
            "SELECT d.chain_id, d.block_number, d.log_index, d.settlement_key, d.fields, s.fields AS sent \
             FROM chain_logs d LEFT JOIN chain_logs s ON s.chain_id = d.chain_id \
             AND s.settlement_key = d.settlement_key AND s.event = 'MessageSent' \
             AND (s.block_number > d.block_number OR (s.block_number = d.block_number AND s.log_index > d.log_index)) \
             WHERE d.event = 'MessageDeferred' ORDER BY d.chain_id, d.block_number, d.log_index",
        )
        .fetch_all(self.c.db.pool())
        .await?;
        let mut deferred: Vec<Deferred> = Vec::new();
        for r in rows {
            let at = (
                r.try_get::<i64, _>("chain_id")?,
                r.try_get::<i64, _>("block_number")?,
                r.try_get::<i64, _>("log_index")?,
            );
            let kind = kind_of(&r.try_get::<String, _>("fields")?);
            let sent: Option<String> = r.try_get("sent")?;
            let sent_same = sent.is_some_and(|s| kind.is_some() && kind_of(&s) == kind);
            match deferred.last_mut() {
                Some(last) if last.at == at => last.sent_since |= sent_same,
                _ => deferred.push(Deferred {
                    at,
                    key: r.try_get("settlement_key")?,
                    kind,
                    sent_since: sent_same,
                }),
            }
        }
        deferred.retain(|d| !d.sent_since);
        let open_at: HashSet<LogAt> = deferred.iter().map(|d| d.at).collect();
        self.resend_after.retain(|at, _| open_at.contains(at));
        for d in deferred {
            if *shutdown.borrow() {
                break;
            }
            if self
                .resend_after
                .get(&d.at)
                .is_some_and(|t| Instant::now() < *t)
            {
                continue;
            }
            let quiet = match self.resend_one(d.at.0, &d.key, d.kind).await {
                Ok(_) => RESEND_QUIET,
                Err(e) => {
                    tracing::warn!(chain_id = d.at.0, settlement_key = %d.key, kind = ?d.kind, error = %error_text(&e), "resend keeper: resend failed");
                    RESEND_RETRY
                }
            };
            self.resend_after.insert(d.at, Instant::now() + quiet);
        }
        Ok(())
    }

    /// `resend(terms)` on `chain_id` for the settlement with on-chain id `key`. `Ok(false)`
    /// when nothing was sent (unknown settlement, or nothing left to send).
    async fn resend_one(&mut self, chain_id: i64, key: &str, kind: Option<u64>) -> Result<bool> {
        let Some(chain) = u64::try_from(chain_id)
            .ok()
            .and_then(|id| self.side.chain(id))
            .cloned()
        else {
            self.warn_once(
                format!("chain {chain_id}"),
                "resend keeper: a deferred message on a chain that is not configured",
            );
            return Ok(false);
        };
        let onchain: B256 = key
            .parse()
            .map_err(|e| ChainError::Config(format!("settlement key {key}: {e}")))?;
        let Some(id) = self.settlement_for(onchain).await? else {
            self.warn_once(
                format!("settlement {key}"),
                "resend keeper: deferred message of a settlement the coordinator does not know",
            );
            return Ok(false);
        };
        let row = {
            let mut conn = self.c.db.pool().acquire().await?;
            settlements::load(&mut conn, &id).await?
        };
        let Some(row) = row else { return Ok(false) };
        let terms = crate::escrow_terms(&row)?;
        let escrow = ISettlementEscrow::new(chain.escrow(), chain.provider.clone());
        let fee = match escrow.quoteResend(terms.clone()).call().await {
            Ok(f) => f,
            Err(e) => {
                if let Some(EscrowRevert::Escrow(ISettlementEscrowErrors::EscrowNothingToSend(_))) =
                    e.as_revert_data()
                        .map(|d| lockstep_bindings::decode_revert_data(&d))
                {
                    tracing::info!(settlement = %id, chain_id, "resend keeper: nothing left to send");
                    return Ok(false);
                }
                return Err(rpc(chain.chain_id(), "quoteResend", e));
            }
        };
        let tx = TransactionRequest::default()
            .to(chain.escrow())
            .value(fee)
            .input(ISettlementEscrow::resendCall { terms }.abi_encode().into());
        match chain.sender.send(tx, "resend").await {
            Ok(r) => {
                tracing::info!(settlement = %id, chain_id, kind = ?kind, fee = %fee, tx = %r.transaction_hash, "deferred message resent");
                Ok(true)
            }
            Err(ChainError::Reverted {
                revert: EscrowRevert::Escrow(ISettlementEscrowErrors::EscrowNothingToSend(_)),
                ..
            }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// The coordinator's settlement whose on-chain id (`keccak256(trade_reference)`) is
    /// `onchain`; the map is rebuilt from the database on a miss.
    async fn settlement_for(&mut self, onchain: B256) -> Result<Option<String>> {
        if let Some(id) = self.ids.get(&onchain) {
            return Ok(Some(id.clone()));
        }
        let rows =
            sqlx::query("SELECT id, trade_reference FROM settlements WHERE terms IS NOT NULL")
                .fetch_all(self.c.db.pool())
                .await?;
        for r in rows {
            let id: String = r.try_get("id")?;
            let reference: String = r.try_get("trade_reference")?;
            self.ids
                .insert(lockstep_coordinator::terms::settlement_id(&reference), id);
        }
        Ok(self.ids.get(&onchain).cloned())
    }
}

/// Where a log is: (chain id, block number, log index).
type LogAt = (i64, i64, i64);

/// A `MessageDeferred` log and whether a `MessageSent` of the same kind followed it.
struct Deferred {
    at: LogAt,
    key: String,
    kind: Option<u64>,
    sent_since: bool,
}

/// A row of `lz_packets` due for delivery.
struct DueRow {
    guid: String,
    src_chain_id: i64,
    state: String,
    attempts: i64,
    packet: String,
}

/// What a pass changed so far.
struct Progress {
    state: String,
    delivered_tx: Option<B256>,
}

/// A pass ended with the packet delivered.
struct Delivered;

/// Why a pass stopped before delivery.
enum PassError {
    /// An earlier nonce of the path is not committed yet: not an attempt.
    Blocked(String),
    /// A failed attempt.
    Failed(ChainError),
}

impl From<ChainError> for PassError {
    fn from(e: ChainError) -> PassError {
        PassError::Failed(e)
    }
}

/// Reads where `p` stands on `dst`.
async fn read_delivery_state(
    dst: &ChainClient,
    p: &Packet,
) -> std::result::Result<DeliveryState, PassError> {
    let id = dst.chain_id();
    let endpoint = ILayerZeroEndpointV2::new(dst.endpoint()?, dst.provider.clone());
    let receiver = p.receiver_address();
    let lazy = endpoint
        .lazyInboundNonce(receiver, p.src_eid, p.sender)
        .call()
        .await
        .map_err(|e| rpc(id, "lazyInboundNonce", e))?;
    let stored = endpoint
        .inboundPayloadHash(receiver, p.src_eid, p.sender, p.nonce)
        .call()
        .await
        .map_err(|e| rpc(id, "inboundPayloadHash", e))?;
    let payload_hash = p.payload_hash();
    let quick = DeliveryState::decide(p.nonce, lazy, stored, payload_hash, false);
    if quick != DeliveryState::Pending {
        return Ok(quick);
    }
    let uln = ILocalReceiveUln::new(dst.receive_lib()?, dst.provider.clone());
    let v = uln
        .hashLookup(keccak256(&p.header), payload_hash, dst.sender.from())
        .call()
        .await
        .map_err(|e| rpc(id, "hashLookup", e))?;
    let verified = v.submitted && v.confirmations >= DVN_CONFIRMATIONS;
    Ok(DeliveryState::decide(
        p.nonce,
        lazy,
        stored,
        payload_hash,
        verified,
    ))
}

async fn persist_state(
    pool: &sqlx::AnyPool,
    guid: &str,
    now: DeliveryState,
) -> std::result::Result<(), PassError> {
    sqlx::query("UPDATE lz_packets SET state = $1, updated_at = $2 WHERE guid = $3")
        .bind(now.as_str())
        .bind(now_ms())
        .bind(guid)
        .execute(pool)
        .await
        .map_err(ChainError::from)?;
    Ok(())
}

/// The packet bytes and the options of a stored `PacketSent`'s fields.
fn packet_from_fields(fields: &str) -> std::result::Result<(Vec<u8>, Vec<u8>), String> {
    let v: serde_json::Value = serde_json::from_str(fields).map_err(|e| e.to_string())?;
    let hex_field = |k: &str| -> std::result::Result<Vec<u8>, String> {
        let s = v
            .get(k)
            .and_then(|x| x.as_str())
            .ok_or_else(|| format!("no {k}"))?;
        hex::decode(s.trim_start_matches("0x")).map_err(|e| format!("{k}: {e}"))
    };
    let packet = hex_field("encoded_packet")?;
    let options = hex_field("options").unwrap_or_default();
    Ok((packet, options))
}

/// The `kind` of a stored `MessageDeferred`/`MessageSent` (a JSON number).
fn kind_of(fields: &str) -> Option<u64> {
    let v: serde_json::Value = serde_json::from_str(fields).ok()?;
    let k = v.get("kind")?;
    k.as_u64().or_else(|| k.as_str()?.parse().ok())
}

/// The escrow's per-chain states (`ISettlementEscrow.State`).
mod escrow_state {
    pub(super) const NONE: u8 = 0;
    pub(super) const OPEN: u8 = 1;
    pub(super) const LOCKED: u8 = 2;
    pub(super) const EXECUTED: u8 = 3;
    pub(super) const REFUNDED: u8 = 4;
}

fn escrow_state_name(s: u8) -> &'static str {
    match s {
        escrow_state::NONE => "NONE",
        escrow_state::OPEN => "OPEN",
        escrow_state::LOCKED => "LOCKED",
        escrow_state::EXECUTED => "EXECUTED",
        escrow_state::REFUNDED => "REFUNDED",
        _ => "?",
    }
}

/// Whether the timeout keeper refunds a chain in escrow state `state` once the deadline
/// passed: the hub while OPEN or LOCKED (its refund is the abort), a spoke only while OPEN
/// (a LOCKED spoke is unwound only by the hub's ABORT).
pub fn refund_due(hub: bool, state: u8) -> bool {
    match state {
        escrow_state::OPEN => true,
        escrow_state::LOCKED => hub,
        _ => false,
    }
}

/// The LayerZero errors a relay step can revert with (EndpointV2 `Errors`, ReceiveUlnBase,
/// OAppReceiver), to name them in `last_error`.
#[allow(missing_docs, unreachable_pub)]
mod lz_errors {
    alloy::sol! {
        #[derive(Debug)]
        interface LzErrors {
            error LZ_InvalidReceiveLibrary();
            error LZ_InvalidNonce(uint64 nonce);
            error LZ_Unauthorized();
            error LZ_PathNotInitializable();
            error LZ_PathNotVerifiable();
            error LZ_InvalidPayloadHash();
            error LZ_PayloadHashNotFound(bytes32 expected, bytes32 actual);
            error LZ_ULN_Verifying();
            error LZ_ULN_InvalidPacketHeader();
            error LZ_ULN_InvalidPacketVersion();
            error LZ_ULN_InvalidEid();
            error LZ_ULN_InvalidConfigType(uint32 configType);
            error OnlyEndpoint(address addr);
            error OnlyPeer(uint32 eid, bytes32 sender);
            error NoPeer(uint32 eid);
        }
    }
}

/// The text stored in `last_error`: the decoded revert when there is one (escrow errors by
/// the bindings, LayerZero errors here).
fn error_text(e: &ChainError) -> String {
    use alloy::sol_types::SolInterface;
    if let ChainError::Reverted {
        chain_id,
        what,
        revert: EscrowRevert::Other(data),
    } = e
        && let Ok(lz) = lz_errors::LzErrors::LzErrorsErrors::abi_decode(data)
    {
        return format!("chain {chain_id}: {what} reverted: {lz:?}");
    }
    e.to_string()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use alloy::primitives::address;

    #[allow(clippy::too_many_arguments)]
    fn encode(
        version: u8,
        nonce: u64,
        src: u32,
        sender: Address,
        dst: u32,
        receiver: Address,
        guid: B256,
        message: &[u8],
    ) -> Vec<u8> {
        let mut v = vec![version];
        v.extend_from_slice(&nonce.to_be_bytes());
        v.extend_from_slice(&src.to_be_bytes());
        v.extend_from_slice(sender.into_word().as_slice());
        v.extend_from_slice(&dst.to_be_bytes());
        v.extend_from_slice(receiver.into_word().as_slice());
        v.extend_from_slice(guid.as_slice());
        v.extend_from_slice(message);
        v
    }

    #[test]
    fn parses_a_packet_back() {
        let sender = address!("1111111111111111111111111111111111111111");
        let receiver = address!("2222222222222222222222222222222222222222");
        let guid = B256::repeat_byte(0xab);
        let msg = [3u8, 0, 1, 2, 3];
        let bytes = encode(
            1,
            0x0102_0304_0506_0708,
            40161,
            sender,
            40231,
            receiver,
            guid,
            &msg,
        );
        let p = Packet::parse(&bytes).unwrap();
        assert_eq!(p.version, 1);
        assert_eq!(p.nonce, 0x0102_0304_0506_0708);
        assert_eq!(p.src_eid, 40161);
        assert_eq!(p.dst_eid, 40231);
        assert_eq!(p.sender, sender.into_word());
        assert_eq!(p.receiver_address(), receiver);
        assert_eq!(p.guid, guid);
        assert_eq!(p.message.as_ref(), &msg);
        assert_eq!(p.header.as_ref(), &bytes[..81]);
        assert_eq!(p.payload.as_ref(), &bytes[81..]);
        assert_eq!(p.payload_hash(), keccak256(&bytes[81..]));
        assert_eq!(p.path(), format!("40161:{sender}->40231:{receiver}"));
        let o = p.origin();
        assert_eq!(
            (o.srcEid, o.sender, o.nonce),
            (40161, sender.into_word(), p.nonce)
        );
    }

    #[test]
    fn parses_a_packet_with_an_empty_message() {
        let bytes = encode(1, 1, 1, Address::ZERO, 2, Address::ZERO, B256::ZERO, &[]);
        assert_eq!(bytes.len(), 113);
        assert!(Packet::parse(&bytes).unwrap().message.is_empty());
    }

    #[test]
    fn rejects_short_and_foreign_packets() {
        let good = encode(1, 1, 1, Address::ZERO, 2, Address::ZERO, B256::ZERO, b"x");
        assert_eq!(Packet::parse(&good[..112]), Err(PacketError::TooShort(112)));
        assert_eq!(Packet::parse(&good[..80]), Err(PacketError::TooShort(80)));
        assert_eq!(Packet::parse(&[]), Err(PacketError::TooShort(0)));
        let mut v2 = good.clone();
        v2[0] = 2;
        assert_eq!(Packet::parse(&v2), Err(PacketError::Version(2)));
        let mut wide = good;
        wide[49] = 1;
        assert!(matches!(
            Packet::parse(&wide),
            Err(PacketError::Receiver(_))
        ));
    }

    #[test]
    fn backoff_doubles_from_250ms_up_to_30s() {
        let schedule: Vec<i64> = (1..=10).map(backoff_ms).collect();
        assert_eq!(
            schedule,
            [
                250, 500, 1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000, 30_000
            ]
        );
        assert_eq!(backoff_ms(0), 250);
        assert_eq!(backoff_ms(MAX_ATTEMPTS), 30_000);
        assert_eq!(backoff_ms(i64::MAX), 30_000);
    }

    #[test]
    fn delivery_state_follows_the_endpoint() {
        let h = B256::repeat_byte(1);
        let other = B256::repeat_byte(2);
        // Nothing on the destination.
        assert_eq!(
            DeliveryState::decide(5, 4, B256::ZERO, h, false),
            DeliveryState::Pending
        );
        assert_eq!(
            DeliveryState::decide(5, 4, B256::ZERO, h, true),
            DeliveryState::Verified
        );
        // Committed, possibly with a later nonce delivered first (lazy nonce moved past it).
        assert_eq!(
            DeliveryState::decide(5, 4, h, h, false),
            DeliveryState::Committed
        );
        assert_eq!(
            DeliveryState::decide(5, 7, h, h, false),
            DeliveryState::Committed
        );
        // Delivered: cleared and the lazy nonce reached it.
        assert_eq!(
            DeliveryState::decide(5, 5, B256::ZERO, h, false),
            DeliveryState::Delivered
        );
        assert_eq!(
            DeliveryState::decide(5, 9, B256::ZERO, h, true),
            DeliveryState::Delivered
        );
        // Another payload committed at that nonce: ours still has to be verified.
        assert_eq!(
            DeliveryState::decide(5, 4, other, h, false),
            DeliveryState::Pending
        );
        assert_eq!(
            DeliveryState::decide(5, 4, other, h, true),
            DeliveryState::Verified
        );
    }

    #[test]
    fn reads_the_lz_receive_value_of_type_3_options() {
        // OptionsBuilder.newOptions().addExecutorLzReceiveOption(400_000, 0)
        let mut o = vec![0, 3];
        o.extend_from_slice(&[1, 0, 17, 1]);
        o.extend_from_slice(&400_000u128.to_be_bytes());
        assert_eq!(lz_receive_value(&o), U256::ZERO);
        // ... plus addExecutorLzReceiveOption(100_000, 7 ether) and a DVN option.
        o.extend_from_slice(&[1, 0, 33, 1]);
        o.extend_from_slice(&100_000u128.to_be_bytes());
        o.extend_from_slice(&7_000_000_000_000_000_000u128.to_be_bytes());
        o.extend_from_slice(&[2, 0, 2, 1, 0]);
        assert_eq!(
            lz_receive_value(&o),
            U256::from(7_000_000_000_000_000_000u128)
        );
        // Truncated or other types: no value.
        assert_eq!(lz_receive_value(&o[..o.len() - 1]), U256::ZERO);
        assert_eq!(lz_receive_value(&[0, 1]), U256::ZERO);
        assert_eq!(lz_receive_value(&[]), U256::ZERO);
    }

    #[test]
    fn refunds_only_where_the_escrow_allows_it() {
        use escrow_state::*;
        assert!(refund_due(true, OPEN));
        assert!(refund_due(true, LOCKED));
        assert!(refund_due(false, OPEN));
        assert!(!refund_due(false, LOCKED));
        for s in [NONE, EXECUTED, REFUNDED] {
            assert!(!refund_due(true, s));
            assert!(!refund_due(false, s));
        }
    }

    #[test]
    fn reads_stored_fields() {
        let f = r#"{"encoded_packet":"0x0102","options":"0x0003","send_library":"0x00"}"#;
        assert_eq!(packet_from_fields(f).unwrap(), (vec![1, 2], vec![0, 3]));
        assert!(packet_from_fields(r#"{"options":"0x"}"#).is_err());
        assert_eq!(kind_of(r#"{"kind":2,"requiredFee":"0"}"#), Some(2));
        assert_eq!(kind_of(r#"{"requiredFee":"0"}"#), None);
    }

    #[test]
    fn names_layerzero_reverts() {
        use alloy::sol_types::SolError;
        let data = lz_errors::LzErrors::LZ_InvalidNonce { nonce: 3 }.abi_encode();
        let e = ChainError::Reverted {
            chain_id: 7,
            what: "lzReceive".into(),
            revert: lockstep_bindings::decode_revert_data(&data),
        };
        let text = error_text(&e);
        assert!(text.contains("LZ_InvalidNonce"), "{text}");
        assert!(text.contains("lzReceive"), "{text}");
        let other = ChainError::Config("x".into());
        assert_eq!(error_text(&other), other.to_string());
    }
}
