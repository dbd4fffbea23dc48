//! What the coordinator needs to know of each chain: where its escrow is. The chain side's
//! full configuration (RPC, confirmations, LayerZero endpoint and receive library) is
//! `lockstep_chain::ChainConfig`; the `lockstep` binary derives these from it.

use alloy::primitives::Address;
use serde::{Deserialize, Serialize};

/// One chain's escrow deployment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct EscrowChain {
    /// EVM chain id (the EIP-712 domain's `chainId`).
    pub chain_id: u64,
    /// LayerZero v2 endpoint id (the `eid` of the terms' legs).
    pub eid: u32,
    /// The `SettlementEscrow` on this chain (the EIP-712 verifying contract).
    pub escrow: Address,
    /// The escrow's immutable `maxSettlementDuration` (seconds): registration refuses a
    /// `timeoutAt` further away, so the coordinator refuses such instructions up front.
    /// `None` when not configured (no up-front check; the escrow still enforces it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_settlement_duration_secs: Option<u64>,
}
