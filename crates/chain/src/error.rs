//! Errors of the chain side.

use lockstep_bindings::EscrowRevert;

/// Everything that can go wrong talking to a chain or the coordinator's store.
#[derive(Debug, thiserror::Error)]
pub enum ChainError {
    /// The configuration cannot be used (missing RPC URL, endpoint, ...).
    #[error("configuration: {0}")]
    Config(String),
    /// A JSON-RPC call failed.
    #[error("chain {chain_id}: rpc {what}: {message}")]
    Rpc {
        /// The chain.
        chain_id: u64,
        /// What was being done.
        what: String,
        /// The transport's message.
        message: String,
    },
    /// A call or transaction reverted; `revert` is the decoded reason.
    #[error("chain {chain_id}: {what} reverted: {revert}")]
    Reverted {
        /// The chain.
        chain_id: u64,
        /// What was being done.
        what: String,
        /// The typed revert.
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
    /// The coordinator's store failed.
    #[error("coordinator: {0}")]
    Coordinator(#[from] lockstep_coordinator::Error),
    /// A database query failed.
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
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
}

/// Result with [`ChainError`].
pub type Result<T, E = ChainError> = std::result::Result<T, E>;
