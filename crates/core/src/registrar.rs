//! The registrar port, the other way round from [`crate::ledger`]: after a settlement
//! reaches `COMPLIANCE_CLEARED`, the coordinator's settlement worker hands it to the
//! configured [`SettlementRegistrar`] (the chain side), which submits
//! `register(terms, signature)` on every escrow the terms touch. With none configured,
//! cleared settlements wait in `COMPLIANCE_CLEARED`.

use alloy::primitives::{Address, B256};
use async_trait::async_trait;
use lockstep_bindings::ISettlementEscrow::Terms;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A signed registration for one chain (EIP-712, docs/onchain-terms.md).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Attestation {
    /// EVM chain id of the escrow.
    pub chain_id: u64,
    /// LayerZero endpoint id of that chain.
    pub eid: u32,
    /// The escrow (EIP-712 verifying contract).
    #[schema(value_type = String)]
    pub escrow: Address,
    /// The attester's address.
    #[schema(value_type = String)]
    pub attester: Address,
    /// 65 bytes `r || s || v`, 0x-hex.
    pub signature: String,
}

/// A settlement ready for on-chain registration.
#[derive(Debug, Clone)]
pub struct ClearedSettlement {
    /// The coordinator's settlement id (`stl_...`).
    pub id: String,
    /// The trade reference (`settlementId = keccak256(trade_reference)`).
    pub trade_reference: String,
    /// The terms every escrow registers.
    pub terms: Terms,
    /// `keccak256(abi.encode(terms))`.
    pub terms_hash: B256,
    /// One signed registration per chain.
    pub attestations: Vec<Attestation>,
}

/// Registration of a settlement did not go through (yet); the settlement worker retries.
#[derive(Debug, thiserror::Error)]
#[error("registering settlement {settlement_id} on chain failed")]
pub struct RegistrationError {
    /// The settlement.
    pub settlement_id: String,
    /// What failed (an RPC error, a revert, a missing chain).
    #[source]
    pub source: Box<dyn std::error::Error + Send + Sync>,
}

/// A chain's clock could not be read (yet); the caller waits and asks again.
#[derive(Debug, thiserror::Error)]
#[error("reading the clock of chain {chain_id} failed")]
pub struct ClockError {
    /// The chain.
    pub chain_id: u64,
    /// What failed (an RPC error).
    #[source]
    pub source: Box<dyn std::error::Error + Send + Sync>,
}

/// Registers cleared settlements on chain. Implemented by the chain side.
#[async_trait]
pub trait SettlementRegistrar: Send + Sync + 'static {
    /// Registers the settlement on every chain it touches (idempotent: a chain that already
    /// holds it is skipped). An `Err` is logged and retried by the settlement worker.
    async fn register(&self, settlement: &ClearedSettlement) -> Result<(), RegistrationError>;

    /// The clock of chain `chain_id`: its latest block's timestamp (unix seconds), the
    /// clock that judges deadlines on chain. The coordinator reads it to decide when a
    /// repo's maturity has passed. `Ok(None)`: this registrar keeps no clock for the chain
    /// (the default), so the coordinator's own clock applies.
    async fn chain_time(&self, _chain_id: u64) -> Result<Option<u64>, ClockError> {
        Ok(None)
    }
}
