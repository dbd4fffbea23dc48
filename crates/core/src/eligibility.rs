//! The transfer-eligibility port (security.md R6): before a settlement is cleared, the
//! coordinator asks the configured [`TransferEligibility`] (the chain side) whether every
//! leg's token lets the depositor pay the escrow and the escrow pay the recipient
//! (ERC-3643 `canTransfer`, identity-registry `isVerified`). Any [`Refusal`] rolls the
//! settlement back with the refusals as its cause; an [`EligibilityError`] (the check could
//! not run) leaves it in `COMPLIANCE_CHECKING` for the worker to retry. With none
//! configured, no check runs. Tokens without such a check are unrestricted.

use alloy::primitives::Address;
use async_trait::async_trait;
use lockstep_bindings::ISettlementEscrow::Terms;

/// One transfer a leg needs that its token refuses now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// Index of the leg in the terms.
    pub leg_index: usize,
    /// The leg's token.
    pub token: Address,
    /// The token's symbol, when it has one.
    pub symbol: Option<String>,
    /// The sender of the refused transfer (the depositor or the escrow).
    pub from: Address,
    /// The receiver of the refused transfer (the escrow or the recipient).
    pub to: Address,
    /// Why, e.g. `"recipient 0x.. is not verified (isVerified false)"`.
    pub reason: String,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let token = match &self.symbol {
            Some(s) => format!("{s} {}", self.token),
            None => self.token.to_string(),
        };
        write!(
            f,
            "leg {}: {token} refuses the transfer {} -> {}: {}",
            self.leg_index, self.from, self.to, self.reason
        )
    }
}

/// The check could not run (an RPC error, an unknown chain); the worker retries later.
#[derive(Debug, thiserror::Error)]
#[error("transfer eligibility check failed: {message}")]
pub struct EligibilityError {
    /// What failed.
    pub message: String,
}

/// Checks the transfers of every leg against the legs' tokens. Implemented by the chain side.
#[async_trait]
pub trait TransferEligibility: Send + Sync + 'static {
    /// For each leg of `terms`: depositor → escrow (skipped when the depositor is unknown,
    /// i.e. a deposit-key leg) and escrow → recipient. Returns every refused transfer
    /// (empty: all allowed).
    async fn check(&self, terms: &Terms) -> Result<Vec<Refusal>, EligibilityError>;
}
