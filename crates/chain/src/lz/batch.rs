//! Delivery through the coordinator's `RelayerDvn` contract (`contracts/src/relay`): when
//! the chain configures one, it is the DVN address the receive paths require, and the
//! relayer waits until every *other* DVN of the path's quorum verified a packet, then
//! verifies, commits and calls `lzReceive` in one transaction (`verifyAndDeliver`), or,
//! once verified, commits and delivers in one (`deliver`). One transaction per packet
//! instead of three saves two transactions' base cost and the cold reads they repeat.
//!
//! An earlier nonce of the path that is not delivered yet keeps `lzReceive` from running;
//! then the contract only verifies (or the receive library only commits) and `lzReceive`
//! follows as its own step once the path is clear, as without the contract.

use crate::client::{ChainClient, rpc};
use crate::lz::codec::Packet;
use crate::lz::delivery::{BlockReason, Blocked, PassError};
use alloy::primitives::{Address, U256, keccak256};
use alloy::rpc::types::TransactionRequest;
use alloy::sol_types::SolCall;
use lockstep_bindings::{ILayerZeroEndpointV2, ILocalReceiveUln, RelayerDvn};

type Step = (&'static str, TransactionRequest);

fn call(to: Address, input: Vec<u8>) -> TransactionRequest {
    TransactionRequest::default().to(to).input(input.into())
}

fn delivery(p: &Packet) -> RelayerDvn::Delivery {
    RelayerDvn::Delivery {
        header: p.header.clone(),
        payloadHash: p.payload_hash(),
        origin: RelayerDvn::Origin {
            srcEid: p.src_eid,
            sender: p.sender,
            nonce: p.nonce,
        },
        receiver: p.receiver_address(),
        guid: p.guid,
        message: p.message.clone(),
    }
}

/// Whether `lzReceive` of `p` can run once it is committed: every earlier nonce of its path
/// is delivered or committed (`EndpointV2.inboundNonce`).
pub async fn executable(dst: &ChainClient, p: &Packet) -> Result<bool, PassError> {
    let endpoint = ILayerZeroEndpointV2::new(dst.endpoint()?, dst.provider.clone());
    let next = endpoint
        .inboundNonce(p.receiver_address(), p.src_eid, p.sender)
        .call()
        .await
        .map_err(|e| rpc(dst.chain_id(), "inboundNonce", e))?;
    Ok(next.saturating_add(1) >= p.nonce)
}

/// Whether every DVN of the path's quorum other than `ours` verified `p`, so that `ours`
/// completes it: every other required DVN, and enough optional ones to reach the threshold
/// (counting `ours` if it is optional). Follows `ReceiveUlnBase.verifiable`.
pub async fn others_verified(
    dst: &ChainClient,
    p: &Packet,
    ours: Address,
) -> Result<(bool, u8), PassError> {
    let id = dst.chain_id();
    let lib = dst.receive_lib()?;
    let config = dst
        .uln_configs
        .get(dst, p.receiver_address(), p.src_eid)
        .await?;
    let lookup = ILocalReceiveUln::new(lib, dst.provider.clone());
    let header_hash = keccak256(&p.header);
    let verified = |dvn: Address| {
        let lookup = &lookup;
        async move {
            let v = lookup
                .hashLookup(header_hash, p.payload_hash(), dvn)
                .call()
                .await
                .map_err(|e| rpc(id, "hashLookup", e))?;
            Ok::<bool, PassError>(v.submitted && v.confirmations >= config.confirmations)
        }
    };
    for dvn in config.requiredDVNs.iter().filter(|d| **d != ours) {
        if !verified(*dvn).await? {
            return Ok((false, config.requiredDVNCount));
        }
    }
    let mut optional = 0u8;
    for dvn in &config.optionalDVNs {
        if *dvn == ours || verified(*dvn).await? {
            optional = optional.saturating_add(1);
        }
    }
    Ok((
        optional >= config.optionalDVNThreshold,
        config.requiredDVNCount,
    ))
}

/// The coordinator's verification of `p` through `dvn`, once the rest of the quorum has
/// verified: with the commit and `lzReceive` when the path is clear (`verifyAndDeliver`),
/// else the verification alone.
pub async fn verify_step(
    dst: &ChainClient,
    p: &Packet,
    dvn: Address,
    confirmations: u64,
    value: U256,
) -> Result<Step, PassError> {
    let (ready, required) = others_verified(dst, p, dvn).await?;
    if !ready {
        return Err(PassError::Blocked(Blocked {
            path: p.path(),
            nonce: p.nonce,
            waits_for: p.nonce,
            reason: BlockReason::DvnQuorum { required },
        }));
    }
    let lib = dst.receive_lib()?;
    if executable(dst, p).await? {
        let input = RelayerDvn::verifyAndDeliverCall {
            receiveLib: lib,
            confirmations,
            d: delivery(p),
        }
        .abi_encode();
        return Ok(("verifyAndDeliver", call(dvn, input).value(value)));
    }
    let input = RelayerDvn::verifyCall {
        receiveLib: lib,
        header: p.header.clone(),
        payloadHash: p.payload_hash(),
        confirmations,
    }
    .abi_encode();
    Ok(("verify", call(dvn, input)))
}

/// Commit and `lzReceive` of a quorum-verified `p` in one transaction through `dvn`
/// (`deliver`), when the path is clear; `None` when an earlier nonce is not delivered yet.
pub async fn deliver_step(
    dst: &ChainClient,
    p: &Packet,
    dvn: Address,
    value: U256,
) -> Result<Option<Step>, PassError> {
    if !executable(dst, p).await? {
        return Ok(None);
    }
    let input = RelayerDvn::deliverCall {
        receiveLib: dst.receive_lib()?,
        d: delivery(p),
    }
    .abi_encode();
    Ok(Some(("deliver", call(dvn, input).value(value))))
}

/// Whether a mined step ran `lzReceive` (its transaction is the delivery).
pub fn delivers(step: &str) -> bool {
    matches!(step, "lzReceive" | "verifyAndDeliver" | "deliver")
}
