//! One delivery pass of one packet, as the receive-side DVN and executor, on the packet's
//! destination chain: `ReceiveUln302.verify(header, keccak256(payload), 1)` (unless the
//! chain's `dvn = false`), then, once `ReceiveUln302.verifiable` shows the path's whole DVN
//! quorum verified (every required DVN, e.g. also `lockstep verifier`, R5),
//! `ReceiveUln302.commitVerification(header, keccak256(payload))`, then
//! `EndpointV2.lzReceive(origin, receiver, guid, message, "")` (as
//! `contracts/test/RealStack.t.sol` does). With a `RelayerDvn` contract configured the
//! three steps are one transaction once the other DVNs verified ([`batch`]). Before every step the destination's state is
//! read ([`DeliveryState`]), so neither a retry nor a restart repeats a step that already
//! happened.

use crate::client::{ChainClient, Chains, rpc};
use crate::error::ChainError;
use crate::lz::batch;
use crate::lz::codec::{Packet, lz_receive_value};
use crate::store::{ChainStore, DuePacket, PacketStatus};
use alloy::primitives::{B256, Bytes, U256, keccak256};
use alloy::rpc::types::TransactionRequest;
use alloy::sol_types::SolCall;
use lockstep_bindings::{
    ILayerZeroEndpointV2, ILocalEndpoint, ILocalReceiveUln, IReceiveUlnQuorum,
};

/// Confirmations this DVN attests in `verify` (the local receive ULN requires 1).
const DVN_CONFIRMATIONS: u64 = 1;

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
    /// The stored packet status this destination state corresponds to.
    pub fn status(self) -> PacketStatus {
        match self {
            DeliveryState::Pending => PacketStatus::Pending,
            DeliveryState::Verified => PacketStatus::Verified,
            DeliveryState::Committed => PacketStatus::Committed,
            DeliveryState::Delivered => PacketStatus::Delivered,
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

/// What a pass changed so far (recorded whatever its outcome).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PassProgress {
    /// The status last read on the destination.
    pub status: PacketStatus,
    /// The `lzReceive` transaction, if this pass sent it.
    pub delivered_tx: Option<B256>,
}

/// Why a pass stopped before delivery.
#[derive(Debug)]
pub enum PassError {
    /// An earlier nonce of the path is not committed yet: not an attempt.
    Blocked(Blocked),
    /// A failed attempt.
    Failed(ChainError),
}

impl From<ChainError> for PassError {
    fn from(e: ChainError) -> PassError {
        PassError::Failed(e)
    }
}

/// A packet that cannot move yet, and the nonce of its path it waits for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blocked {
    /// The path (`src_eid:sender->dst_eid:receiver`).
    pub path: String,
    /// The packet's nonce.
    pub nonce: u64,
    /// The nonce whose progress this packet waits for: an earlier uncommitted nonce, or
    /// its own while the DVN quorum has not verified it.
    pub waits_for: u64,
    /// Why it waits.
    pub reason: BlockReason,
}

/// Why a packet waits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockReason {
    /// An earlier nonce of the path is not committed yet (LayerZero delivers in order).
    EarlierNonce,
    /// Fewer than the path's required DVNs have verified this packet yet.
    DvnQuorum {
        /// `requiredDVNCount` of the receiver's effective ULN config.
        required: u8,
    },
}

impl std::fmt::Display for Blocked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.reason {
            BlockReason::EarlierNonce => write!(
                f,
                "waiting for nonce {} of path {} to be committed before {}",
                self.waits_for, self.path, self.nonce
            ),
            BlockReason::DvnQuorum { required } => write!(
                f,
                "waiting for the DVN quorum ({required} required) of nonce {} on path {}",
                self.nonce, self.path
            ),
        }
    }
}

type PassResult<T> = std::result::Result<T, PassError>;

/// The packet bytes and the options of a stored `PacketSent`'s fields.
pub fn packet_from_fields(fields: &str) -> std::result::Result<(Vec<u8>, Vec<u8>), String> {
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

/// Reads where `p` stands on `dst`.
async fn read_delivery_state(dst: &ChainClient, p: &Packet) -> PassResult<DeliveryState> {
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
        .hashLookup(keccak256(&p.header), payload_hash, dst.dvn_address())
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

/// Reads the packet's `PacketSent` log again (a reorg may have replaced or removed it),
/// keeps the queued bytes in step with it, and decodes it.
async fn confirmed_packet(store: &ChainStore, row: &DuePacket) -> PassResult<(Packet, Vec<u8>)> {
    let src = row.src_chain_id;
    let Some(fields) = store.packet_sent_fields(src, &row.guid).await? else {
        return Err(PassError::Failed(ChainError::unexpected(
            src,
            "the PacketSent log is no longer among the confirmed logs (reorged out?)",
        )));
    };
    let (bytes, options) = packet_from_fields(&fields)
        .map_err(|e| PassError::Failed(ChainError::unexpected(src, format!("PacketSent: {e}"))))?;
    let stored = format!("0x{}", hex::encode(&bytes));
    if stored != row.packet.to_lowercase() {
        tracing::warn!(guid = %row.guid, "packet changed on the source chain (reorg); using the confirmed one");
        store.replace_packet_bytes(&row.guid, &stored).await?;
    }
    let p = Packet::parse(&bytes)
        .map_err(|e| PassError::Failed(ChainError::unexpected(src, format!("packet: {e}"))))?;
    Ok((p, options))
}

/// The packet's destination chain, which must hold the receiver as its escrow.
fn destination<'a>(chains: &'a Chains, p: &Packet) -> PassResult<&'a ChainClient> {
    let dst = chains.by_eid(p.dst_eid).ok_or_else(|| {
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
    Ok(dst)
}

/// Waits (as [`PassError::Blocked`], not an attempt) until the path's DVN quorum verified
/// `p` on `dst`: `ReceiveUln302.verifiable` under the receiver's effective ULN config. Until
/// then `commitVerification` would revert (`LZ_ULN_Verifying`); a packet only one DVN
/// verified is never committed.
async fn await_quorum(dst: &ChainClient, p: &Packet) -> PassResult<()> {
    let id = dst.chain_id();
    let uln = IReceiveUlnQuorum::new(dst.receive_lib()?, dst.provider.clone());
    let config = dst
        .uln_configs
        .get(dst, p.receiver_address(), p.src_eid)
        .await?;
    let required = config.requiredDVNCount;
    let ok = uln
        .verifiable(config, keccak256(&p.header), p.payload_hash())
        .call()
        .await
        .map_err(|e| rpc(id, "verifiable", e))?;
    if ok {
        return Ok(());
    }
    Err(PassError::Blocked(Blocked {
        path: p.path(),
        nonce: p.nonce,
        waits_for: p.nonce,
        reason: BlockReason::DvnQuorum { required },
    }))
}

/// The next step from `state` and its transaction (`None` once delivered). `lzReceive`
/// waits until every earlier nonce of the path is committed.
async fn next_step(
    dst: &ChainClient,
    p: &Packet,
    state: DeliveryState,
    value: U256,
) -> PassResult<Option<(&'static str, TransactionRequest)>> {
    let call = |to, input: Vec<u8>| TransactionRequest::default().to(to).input(input.into());
    Ok(Some(match state {
        DeliveryState::Delivered => return Ok(None),
        DeliveryState::Pending if dst.config.dvn => match dst.config.relayer_dvn {
            Some(dvn) => batch::verify_step(dst, p, dvn, DVN_CONFIRMATIONS, value).await?,
            None => (
                "verify",
                call(
                    dst.receive_lib()?,
                    ILocalReceiveUln::verifyCall {
                        packetHeader: p.header.clone(),
                        payloadHash: p.payload_hash(),
                        confirmations: DVN_CONFIRMATIONS,
                    }
                    .abi_encode(),
                ),
            ),
        },
        DeliveryState::Pending | DeliveryState::Verified => {
            await_quorum(dst, p).await?;
            if let Some(dvn) = dst.config.relayer_dvn
                && let Some(step) = batch::deliver_step(dst, p, dvn, value).await?
            {
                return Ok(Some(step));
            }
            (
                "commitVerification",
                call(
                    dst.receive_lib()?,
                    ILocalReceiveUln::commitVerificationCall {
                        packetHeader: p.header.clone(),
                        payloadHash: p.payload_hash(),
                    }
                    .abi_encode(),
                ),
            )
        }
        DeliveryState::Committed => {
            let endpoint = ILayerZeroEndpointV2::new(dst.endpoint()?, dst.provider.clone());
            let executable = endpoint
                .inboundNonce(p.receiver_address(), p.src_eid, p.sender)
                .call()
                .await
                .map_err(|e| rpc(dst.chain_id(), "inboundNonce", e))?;
            if executable < p.nonce {
                return Err(PassError::Blocked(Blocked {
                    path: p.path(),
                    nonce: p.nonce,
                    waits_for: executable.saturating_add(1),
                    reason: BlockReason::EarlierNonce,
                }));
            }
            let input = ILocalEndpoint::lzReceiveCall {
                origin: p.origin(),
                receiver: p.receiver_address(),
                guid: p.guid,
                message: p.message.clone(),
                extraData: Bytes::new(),
            }
            .abi_encode();
            ("lzReceive", call(dst.endpoint()?, input).value(value))
        }
    }))
}

/// Walks the destination from its current state to delivered (at most one of each step
/// per pass), recording every state read in the store and in `progress`.
pub async fn deliver(
    chains: &Chains,
    store: &ChainStore,
    row: &DuePacket,
    progress: &mut PassProgress,
) -> PassResult<()> {
    let (p, options) = confirmed_packet(store, row).await?;
    let dst = destination(chains, &p)?;
    let value = lz_receive_value(&options);
    // Each pass moves at most pending -> verified -> committed -> delivered.
    for _ in 0..4 {
        let now = read_delivery_state(dst, &p).await?;
        if now.status() != progress.status {
            store.set_packet_status(&row.guid, now.status()).await?;
            progress.status = now.status();
        }
        let Some((step, tx)) = next_step(dst, &p, now, value).await? else {
            tracing::info!(guid = %row.guid, path = %p.path(), nonce = p.nonce, dst_chain_id = dst.chain_id(), tx = ?progress.delivered_tx, "packet delivered");
            return Ok(());
        };
        let receipt = dst.sender.send(tx, step).await?;
        tracing::info!(
            guid = %row.guid,
            path = %p.path(),
            nonce = p.nonce,
            step,
            dst_chain_id = dst.chain_id(),
            tx = %receipt.transaction_hash,
            gas_used = receipt.gas_used,
            "relay step mined"
        );
        if batch::delivers(step) {
            progress.delivered_tx = Some(receipt.transaction_hash);
        }
    }
    Err(PassError::Failed(ChainError::unexpected(
        dst.chain_id(),
        format!(
            "packet {} did not advance past {}",
            row.guid, progress.status
        ),
    )))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

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
        // The stored names are today's.
        let names: Vec<_> = [
            DeliveryState::Pending,
            DeliveryState::Verified,
            DeliveryState::Committed,
            DeliveryState::Delivered,
        ]
        .map(|d| d.status().as_str())
        .to_vec();
        assert_eq!(names, ["pending", "verified", "committed", "delivered"]);
    }

    #[test]
    fn reads_stored_fields() {
        let f = r#"{"encoded_packet":"0x0102","options":"0x0003","send_library":"0x00"}"#;
        assert_eq!(packet_from_fields(f).unwrap(), (vec![1, 2], vec![0, 3]));
        assert!(packet_from_fields(r#"{"options":"0x"}"#).is_err());
    }
}
