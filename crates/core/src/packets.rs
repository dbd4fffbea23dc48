//! The packet-desk port: what the operator sees of the relayer's LayerZero packets, and the
//! forced retry. The chain side implements [`PacketDesk`] over its store (`lz_packets`); the
//! coordinator serves it on `/v1/operator/packets` and adds the stale packets to the
//! stuck-settlements report. Without one configured the coordinator lists no packets.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use std::fmt;
use utoipa::ToSchema;

/// Where a packet stands; stored in `lz_packets.state` by the names of [`PacketStatus::as_str`]
/// (`pending -> verified -> committed -> delivered`). A readable packet is never abandoned:
/// it stays in its open status, retried with capped backoff, until the destination shows it
/// delivered. Only a `PacketSent` that cannot be parsed is `unreadable`.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum PacketStatus {
    /// Nothing happened on the destination yet.
    Pending,
    /// This DVN's verification is stored in the destination's receive library.
    Verified,
    /// The destination endpoint holds the payload hash.
    Committed,
    /// `lzReceive` happened (terminal).
    Delivered,
    /// The `PacketSent` could not be parsed into a packet (terminal: there is nothing to
    /// deliver).
    Unreadable,
}

impl PacketStatus {
    /// Every status, in delivery order.
    pub const ALL: [PacketStatus; 5] = [
        PacketStatus::Pending,
        PacketStatus::Verified,
        PacketStatus::Committed,
        PacketStatus::Delivered,
        PacketStatus::Unreadable,
    ];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            PacketStatus::Pending => "pending",
            PacketStatus::Verified => "verified",
            PacketStatus::Committed => "committed",
            PacketStatus::Delivered => "delivered",
            PacketStatus::Unreadable => "unreadable",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<PacketStatus> {
        Self::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// Whether the relayer still works on a packet in this status.
    pub fn is_open(self) -> bool {
        !matches!(self, PacketStatus::Delivered | PacketStatus::Unreadable)
    }
}

impl fmt::Display for PacketStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The escrow message a packet carries: its first byte (`SettlementMsgCodec`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum MessageKind {
    /// Spoke to hub: every leg on the sending chain is deposited (1).
    Locked,
    /// Hub to spoke: the settlement executed, pay the legs (2).
    Release,
    /// Hub to spoke: the settlement aborted, refund the deposits (3).
    Abort,
}

impl MessageKind {
    /// The kind of a message's first byte, if it is one.
    pub fn from_byte(b: u8) -> Option<MessageKind> {
        match b {
            1 => Some(MessageKind::Locked),
            2 => Some(MessageKind::Release),
            3 => Some(MessageKind::Abort),
            _ => None,
        }
    }
}

/// One packet as the chain side knows it (times in unix ms).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PacketRecord {
    /// Guid (0x lowercase).
    pub guid: String,
    /// Source chain.
    pub src_chain_id: u64,
    /// Source endpoint id.
    pub src_eid: u32,
    /// Destination endpoint id.
    pub dst_eid: u32,
    /// Nonce on its path.
    pub nonce: u64,
    /// The escrow message's kind, when the packet decodes as one.
    pub kind: Option<MessageKind>,
    /// The on-chain settlement id (`Terms.settlementId`, 0x lowercase), when the message
    /// decodes.
    pub onchain_settlement_id: Option<String>,
    /// Where it stands.
    pub status: PacketStatus,
    /// Failed delivery passes so far (waiting for an earlier nonce is not one).
    pub attempts: u32,
    /// The last pass's error, or why it waits.
    pub last_error: Option<String>,
    /// When the next pass is due.
    pub next_attempt_at: i64,
    /// The earlier nonce of its path it waits for, if it does.
    pub blocked_on_nonce: Option<u64>,
    /// Since when it waits for that nonce.
    pub blocked_since: Option<i64>,
    /// The `lzReceive` transaction, once delivered by this relayer.
    pub delivered_tx_hash: Option<String>,
    /// When the relayer queued it.
    pub created_at: i64,
    /// Last change.
    pub updated_at: i64,
}

/// Which packets a list returns (all conditions must hold).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PacketFilter {
    /// Only this status.
    pub status: Option<PacketStatus>,
    /// Only packets the relayer still works on (`pending`, `verified`, `committed`).
    pub open_only: bool,
    /// Only packets waiting for an earlier nonce of their path.
    pub blocked: bool,
}

/// What a forced retry found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RetryOutcome {
    /// The packet is open and now due: the relayer's next pass takes it.
    Scheduled(Box<PacketRecord>),
    /// The packet is closed (`delivered` or `unreadable`): there is nothing to retry.
    Closed(Box<PacketRecord>),
    /// No packet has that guid.
    NotFound,
}

/// The packet store failed.
#[derive(Debug, thiserror::Error)]
#[error("packet store failed")]
pub struct PacketDeskError(#[source] pub Box<dyn std::error::Error + Send + Sync>);

/// The relayer's packets, for operators. Implemented by the chain side.
#[async_trait]
pub trait PacketDesk: Send + Sync + 'static {
    /// A page of the packets matching `filter`, the open ones first (oldest first), then the
    /// newest closed ones; and how many match in all.
    async fn list(
        &self,
        filter: &PacketFilter,
        limit: i64,
        offset: i64,
    ) -> Result<(Vec<PacketRecord>, i64), PacketDeskError>;

    /// One packet by guid (any case).
    async fn get(&self, guid: &str) -> Result<Option<PacketRecord>, PacketDeskError>;

    /// Makes an open packet due now (idempotent).
    async fn retry_now(&self, guid: &str) -> Result<RetryOutcome, PacketDeskError>;

    /// Up to `limit` open packets queued before `before_ms`, or waiting for an earlier
    /// nonce since before it, oldest first.
    async fn stale(&self, before_ms: i64, limit: i64)
    -> Result<Vec<PacketRecord>, PacketDeskError>;
}
