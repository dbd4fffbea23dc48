//! Errors of the chain side. Every error keeps its cause as its `source`: alloy's transport
//! and contract errors, sqlx's, the ledger's.

use lockstep_bindings::EscrowRevert;
use lockstep_core::LedgerError;

/// A boxed error cause.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Everything that can go wrong talking to a chain, the chain store or the ledger.
#[derive(Debug, thiserror::Error)]
pub enum ChainError {
    /// The configuration cannot be used (missing RPC URL, endpoint, ...).
    #[error("configuration: {0}")]
    Config(String),
    /// A JSON-RPC call failed.
    #[error("chain {chain_id}: rpc {what}: {source}")]
    Rpc {
        /// The chain.
        chain_id: u64,
        /// What was being done.
        what: String,
        /// The transport's (or contract call's) error.
        #[source]
        source: BoxError,
    },
    /// A call or transaction reverted; `revert` is the decoded reason.
    #[error("chain {chain_id}: {what} reverted: {revert}")]
    Reverted {
        /// The chain.
        chain_id: u64,
        /// What was being done.
        what: String,
        /// The typed revert.
        #[source]
        revert: EscrowRevert,
    },
    /// A transaction was mined with status 0.
    #[error("chain {chain_id}: {what}: transaction {tx_hash} failed on chain")]
    Failed {
        /// The chain.
        chain_id: u64,
        /// What was being done.
        what: String,
        /// The mined transaction.
        tx_hash: String,
    },
    /// The chain answered something that cannot be right (e.g. a log without a block hash).
    #[error("chain {chain_id}: unexpected answer: {message}")]
    Unexpected {
        /// The chain.
        chain_id: u64,
        /// What was wrong.
        #[source]
        message: UnexpectedAnswer,
    },
    /// The settlement ledger (the coordinator, through the port) failed.
    #[error("ledger: {0}")]
    Ledger(#[from] LedgerError),
    /// A settlement lacks what the chain side needs from the ledger (e.g. the decision
    /// inputs of its evidence bundle).
    #[error("settlement {settlement_id}: {what} missing")]
    Missing {
        /// The settlement.
        settlement_id: String,
        /// What is missing.
        what: &'static str,
    },
    /// A chain-store query failed.
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    /// The chain store's migrations could not be applied.
    #[error("chain store migrations: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A value read from the chain store is not what the chain side wrote.
    #[error("chain store: corrupt {what}: {value}")]
    Corrupt {
        /// Which value.
        what: &'static str,
        /// The value as stored.
        value: String,
    },
    /// Stored JSON could not be read.
    #[error("stored json: {0}")]
    Json(#[from] serde_json::Error),
    /// Evidence could not be built.
    #[error("evidence: {0}")]
    Evidence(#[from] lockstep_evidence::Error),
}

/// A description of an answer from a node that makes no sense.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UnexpectedAnswer(pub String);

impl ChainError {
    /// An unexpected answer from chain `chain_id`.
    pub fn unexpected(chain_id: u64, message: impl Into<String>) -> ChainError {
        ChainError::Unexpected {
            chain_id,
            message: UnexpectedAnswer(message.into()),
        }
    }

    /// A failed JSON-RPC call `what` on chain `chain_id`, keeping alloy's error as source.
    pub fn rpc(chain_id: u64, what: impl Into<String>, source: impl Into<BoxError>) -> ChainError {
        ChainError::Rpc {
            chain_id,
            what: what.into(),
            source: source.into(),
        }
    }

    /// The text recorded for a failed step (`lz_packets.last_error`, keeper logs): a
    /// LayerZero revert is named by its decoded error (see `lockstep_bindings::lz`);
    /// anything else is the error's own message.
    pub fn describe(&self) -> String {
        if let ChainError::Reverted {
            chain_id,
            what,
            revert: EscrowRevert::Other(data),
        } = self
            && let Some(lz) = lockstep_bindings::decode_lz_revert(data)
        {
            return format!("chain {chain_id}: {what} reverted: {lz:?}");
        }
        self.to_string()
    }

    /// A stored value that cannot be read back.
    pub fn corrupt(what: &'static str, value: impl ToString) -> ChainError {
        ChainError::Corrupt {
            what,
            value: value.to_string(),
        }
    }
}

/// Result with [`ChainError`].
pub type Result<T, E = ChainError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_layerzero_reverts() {
        use alloy::sol_types::SolError;
        use lockstep_bindings::lz::LzErrors;
        let data = LzErrors::LZ_InvalidNonce { nonce: 3 }.abi_encode();
        let e = ChainError::Reverted {
            chain_id: 7,
            what: "lzReceive".into(),
            revert: lockstep_bindings::decode_revert_data(&data),
        };
        let text = e.describe();
        assert!(text.contains("LZ_InvalidNonce"), "{text}");
        assert!(text.contains("lzReceive"), "{text}");
        let other = ChainError::Config("x".into());
        assert_eq!(other.describe(), other.to_string());
    }
}
