//! Forged LayerZero packets (R5 tests): a packet between the two escrows that no escrow
//! ever sent, with a correct header (the real path, its next nonce) and the escrow's own
//! encoding of a message for a real settlement, verified on the destination's
//! ReceiveUln302 by one DVN key alone (the coordinator's relayer key).

use crate::chain::{CallOutcome, Chain, Custody};
use alloy::primitives::{B256, Bytes, U256, keccak256};
use alloy::sol_types::{SolCall, SolValue};
use eyre::{bail, eyre};
use lockstep_bindings::ISettlementEscrow::Terms;
use lockstep_bindings::{
    EscrowRevert, ILayerZeroEndpointV2, ILocalEndpoint, ILocalReceiveUln, IReceiveUlnQuorum,
    LzRevert, RelayerDvn, decode_lz_revert,
};
use lockstep_verifier::check::guid;

/// `SettlementMsgCodec.LOCKED` (spoke -> hub).
pub const LOCKED: u8 = 1;
/// `SettlementMsgCodec.RELEASE` (hub -> spoke).
pub const RELEASE: u8 = 2;

/// A packet from `src`'s escrow to `dst`'s escrow that was never sent.
#[derive(Debug, Clone)]
pub struct ForgedPacket {
    /// Its nonce on the path (the path's next outbound nonce when forged).
    pub nonce: u64,
    /// PacketV1 header: `version nonce srcEid sender dstEid receiver`.
    pub header: Bytes,
    /// `GUID.generate` of the header fields.
    pub guid: B256,
    /// `kind ‖ abi.encode(terms)`, as the escrow encodes it.
    pub message: Bytes,
    /// `keccak256(guid ‖ message)`, what a DVN attests.
    pub payload_hash: B256,
    src_eid: u32,
    sender: B256,
}

impl ForgedPacket {
    /// A `kind` message for `terms` on the path `src` escrow -> `dst` escrow, at the path's
    /// next nonce (read from `src`'s EndpointV2).
    pub async fn next_on_path(
        src: &Chain,
        dst: &Chain,
        kind: u8,
        terms: &Terms,
    ) -> eyre::Result<ForgedPacket> {
        let (s, d) = (&src.info, &dst.info);
        let sent = ILayerZeroEndpointV2::new(s.endpoint, &src.provider)
            .outboundNonce(s.escrow, d.eid, d.escrow.into_word())
            .call()
            .await?;
        let nonce = sent + 1;
        let (sender, receiver) = (s.escrow.into_word(), d.escrow.into_word());
        let mut header = vec![1u8];
        header.extend_from_slice(&nonce.to_be_bytes());
        header.extend_from_slice(&s.eid.to_be_bytes());
        header.extend_from_slice(sender.as_slice());
        header.extend_from_slice(&d.eid.to_be_bytes());
        header.extend_from_slice(receiver.as_slice());
        let guid = guid(nonce, s.eid, sender, d.eid, receiver);
        let mut message = vec![kind];
        message.extend_from_slice(&terms.abi_encode());
        let payload_hash = keccak256([guid.as_slice(), &message].concat());
        Ok(ForgedPacket {
            nonce,
            header: header.into(),
            guid,
            message: message.into(),
            payload_hash,
            src_eid: s.eid,
            sender,
        })
    }

    /// The coordinator's DVN verification of this packet on `dst`: `RelayerDvn.verify(
    /// receiveLib, header, payloadHash, 1)` sent by `relayer` (its operator key) to the chain's
    /// `RelayerDvn`, the DVN address the receive paths require (must succeed).
    pub async fn verify_as_relayer_dvn(&self, relayer: &Custody, dst: &Chain) -> eyre::Result<()> {
        let data = RelayerDvn::verifyCall {
            receiveLib: dst.info.receive_lib,
            header: self.header.clone(),
            payloadHash: self.payload_hash,
            confirmations: 1,
        }
        .abi_encode();
        relayer
            .send(
                dst.info.chain_id,
                dst.info.relayer_dvn,
                data.into(),
                U256::ZERO,
            )
            .await?;
        Ok(())
    }

    /// Whether `dvn`'s verification of this packet is stored in `dst`'s ReceiveUln302.
    pub async fn verified_by(
        &self,
        dst: &Chain,
        dvn: alloy::primitives::Address,
    ) -> eyre::Result<bool> {
        let v = ILocalReceiveUln::new(dst.info.receive_lib, &dst.provider)
            .hashLookup(keccak256(&self.header), self.payload_hash, dvn)
            .call()
            .await?;
        Ok(v.submitted)
    }

    /// `ReceiveUln302.verifiable` under the escrow's effective receive config on `dst`.
    pub async fn verifiable(&self, dst: &Chain) -> eyre::Result<bool> {
        let uln = IReceiveUlnQuorum::new(dst.info.receive_lib, &dst.provider);
        let config = uln
            .getUlnConfig(dst.info.escrow, self.src_eid)
            .call()
            .await?;
        Ok(uln
            .verifiable(config, keccak256(&self.header), self.payload_hash)
            .call()
            .await?)
    }

    /// `commitVerification(header, payloadHash)` simulated from `who` on `dst`: the
    /// LayerZero error it reverts with (an error if it would succeed).
    pub async fn commit_revert(&self, who: &Custody, dst: &Chain) -> eyre::Result<LzRevert> {
        let data = ILocalReceiveUln::commitVerificationCall {
            packetHeader: self.header.clone(),
            payloadHash: self.payload_hash,
        }
        .abi_encode();
        let out = who
            .call(
                dst.info.chain_id,
                dst.info.receive_lib,
                data.into(),
                U256::ZERO,
            )
            .await?;
        match out {
            CallOutcome::Reverted(EscrowRevert::Other(d)) => decode_lz_revert(&d)
                .ok_or_else(|| eyre!("commitVerification reverted with 0x{d:x}")),
            other => bail!("commitVerification of the forged packet: {other:?}"),
        }
    }

    /// `lzReceive` simulated from `who` on `dst`: the revert it meets (an error if it would
    /// succeed).
    pub async fn lz_receive_outcome(
        &self,
        who: &Custody,
        dst: &Chain,
    ) -> eyre::Result<CallOutcome> {
        let s = &dst.info;
        let data = ILocalEndpoint::lzReceiveCall {
            origin: ILocalEndpoint::Origin {
                srcEid: self.src_eid,
                sender: self.sender,
                nonce: self.nonce,
            },
            receiver: s.escrow,
            guid: self.guid,
            message: self.message.clone(),
            extraData: Bytes::new(),
        }
        .abi_encode();
        let out = who
            .call(s.chain_id, s.endpoint, data.into(), U256::ZERO)
            .await?;
        if matches!(out, CallOutcome::Ok(_)) {
            bail!("lzReceive of the forged packet would succeed");
        }
        Ok(out)
    }

    /// The payload hash `dst`'s EndpointV2 holds for this packet's nonce (zero unless
    /// committed).
    pub async fn committed_hash(&self, dst: &Chain) -> eyre::Result<B256> {
        Ok(ILayerZeroEndpointV2::new(dst.info.endpoint, &dst.provider)
            .inboundPayloadHash(dst.info.escrow, self.src_eid, self.sender, self.nonce)
            .call()
            .await?)
    }
}
