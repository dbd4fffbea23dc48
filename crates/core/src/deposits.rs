//! The port through which the coordinator shows a settlement's deposits as the escrows
//! recorded them (`LegDeposited`, confirmed logs the chain side indexed): who deposited
//! which leg, on which chain, when and in which transaction. The chain store implements it.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// One deposit an escrow recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ObservedDeposit {
    /// The chain.
    pub chain_id: u64,
    /// The leg of the terms.
    pub leg_index: u64,
    /// The address whose tokens went into the escrow.
    pub depositor: String,
    /// The token.
    pub token: String,
    /// Base units, decimal.
    pub amount: String,
    /// The deposit's transaction.
    pub tx_hash: String,
    /// Its block.
    pub block_number: u64,
    /// Its block's timestamp, unix seconds.
    pub block_timestamp: u64,
}

/// The deposit log could not be read.
#[derive(Debug, thiserror::Error)]
#[error("deposit log failed")]
pub struct DepositLogError(#[source] pub Box<dyn std::error::Error + Send + Sync>);

/// A settlement's recorded deposits, by on-chain settlement id (`0x` + 64 hex).
#[async_trait]
pub trait DepositLog: Send + Sync + 'static {
    /// The deposits of on-chain settlement `onchain_id`, by chain, block and log order.
    async fn deposits(&self, onchain_id: &str) -> Result<Vec<ObservedDeposit>, DepositLogError>;
}
