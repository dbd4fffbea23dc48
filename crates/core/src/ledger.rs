//! The `Ledger` port: how the chain side reads and moves settlements without knowing how
//! the coordinator stores them. The coordinator implements it over its tables; the chain
//! side (indexer, reconciler, relayer, keeper) takes an `Arc<dyn Ledger>`; a test can drive
//! the chain side with a fake.

use crate::state::SettlementState;
use alloy::primitives::{Address, B256, U256};
use async_trait::async_trait;
use lockstep_bindings::ISettlementEscrow::Terms;
use lockstep_evidence::dvp::DvpDecisionInput;

/// A settlement as the chain side sees it: registered (or about to be) on chain, with the
/// terms every escrow holds.
#[derive(Debug, Clone)]
pub struct ChainSettlement {
    /// The coordinator's settlement id (`stl_...`).
    pub id: String,
    /// The trade reference the on-chain id is derived from.
    pub trade_reference: String,
    /// `keccak256(trade_reference)`, the escrows' `settlementId`.
    pub onchain_id: B256,
    /// The coordinator's current state.
    pub state: SettlementState,
    /// The terms registered on every escrow.
    pub terms: Terms,
    /// `keccak256(abi.encode(terms))`.
    pub terms_hash: B256,
    /// The compliance decision the evidence bundle is built from (present once cleared).
    pub decision: Option<DecisionRecord>,
    /// Whether the receipt-anchored evidence bundle is already stored.
    pub has_bundle: bool,
}

/// The inputs of the compliance decision, as kept at clearing.
#[derive(Debug, Clone)]
pub struct DecisionRecord {
    /// The DvP decision input (parties, verdicts, legs) the decision reference hashes.
    pub input: DvpDecisionInput,
    /// When the decision was taken, epoch ms.
    pub decided_at_ms: u64,
}

/// A leg whose transfer failed on chain (frozen or blacklisted address, paused or
/// permissioned token, hostile code) and is now owed to its beneficiary by the escrow, who
/// withdraws it with `claim(token, to)` (security.md R1). Read from the escrow's `LegOwed`
/// log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwedLeg {
    /// Index of the leg in the terms.
    pub leg_index: u64,
    /// EVM chain id of the escrow that owes it.
    pub chain_id: u64,
    /// That escrow.
    pub escrow: Address,
    /// Who may claim it: the recipient (release) or the depositor (refund).
    pub beneficiary: Address,
    /// The ERC-20.
    pub token: Address,
    /// Amount in base units.
    pub amount: U256,
    /// `true` when the leg was being refunded to its depositor, `false` when released to its
    /// recipient.
    pub refund: bool,
    /// The transaction that recorded it.
    pub tx_hash: B256,
}

/// Why a ledger call failed.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    /// No settlement with that id.
    #[error("settlement {0} not found")]
    NotFound(String),
    /// The settlement moved between reading and writing; re-read and decide again.
    #[error("settlement {settlement_id} moved concurrently (it was {expected})")]
    Concurrent {
        /// The settlement.
        settlement_id: String,
        /// The state the caller read.
        expected: SettlementState,
    },
    /// The edge is not in the transition table.
    #[error("settlement {settlement_id}: {from} -> {to} is not an allowed transition")]
    IllegalTransition {
        /// The settlement.
        settlement_id: String,
        /// Current state.
        from: SettlementState,
        /// Requested state.
        to: SettlementState,
    },
    /// A stored value the port must hand out cannot be read.
    #[error("settlement {settlement_id}: stored {what} is corrupt: {message}")]
    Corrupt {
        /// The settlement.
        settlement_id: String,
        /// Which value.
        what: &'static str,
        /// What is wrong with it.
        message: String,
    },
    /// The store behind the ledger failed.
    #[error("ledger storage failed")]
    Storage(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// What the chain side may read and change of the settlements.
#[async_trait]
pub trait Ledger: Send + Sync + 'static {
    /// Every settlement the chains can still move (`COMPLIANCE_CLEARED`,
    /// `AWAITING_DEPOSITS`, `EXECUTING_SWAP`) plus final ones whose evidence bundle is not
    /// stored yet; only settlements that have on-chain terms.
    async fn live_settlements(&self) -> Result<Vec<ChainSettlement>, LedgerError>;

    /// One settlement by the coordinator's id; `None` if unknown or without terms yet.
    async fn settlement(&self, id: &str) -> Result<Option<ChainSettlement>, LedgerError>;

    /// One settlement by its on-chain id; `None` if no settlement with terms has it.
    async fn find_by_onchain_id(
        &self,
        onchain_id: B256,
    ) -> Result<Option<ChainSettlement>, LedgerError>;

    /// Moves the settlement from its current state to `to`, recording `cause` in its event
    /// trail and notifying its platforms, in one transaction. Fails with
    /// [`LedgerError::IllegalTransition`] for an edge not in the table and
    /// [`LedgerError::Concurrent`] if another writer moved it meanwhile.
    async fn apply_transition(
        &self,
        id: &str,
        to: SettlementState,
        cause: &str,
    ) -> Result<(), LedgerError>;

    /// Records that a leg of the settlement is owed on chain (once per settlement, chain and
    /// leg: returns `false` if already recorded) and tells every platform of the
    /// settlement (webhook `settlement.leg_owed`).
    async fn record_owed(&self, id: &str, owed: &OwedLeg) -> Result<bool, LedgerError>;

    /// Stores the receipt-anchored evidence bundle of a final settlement, once: returns
    /// `false` (and changes nothing) if a bundle is already stored.
    async fn store_bundle(&self, id: &str, bundle: &serde_json::Value)
    -> Result<bool, LedgerError>;
}
