//! The library's error type.

use crate::state::SettlementState;

/// Errors of the coordinator library. HTTP handlers map them to status codes in
/// [`crate::api`]; everything unexpected becomes a 500 with a logged cause.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A database operation failed.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// A schema migration failed.
    #[error("migration {version} failed: {source}")]
    Migration {
        /// The migration's version number.
        version: i64,
        /// The database error.
        source: sqlx::Error,
    },
    /// The configuration is invalid.
    #[error("configuration error: {0}")]
    Config(String),
    /// An edge that the state machine table does not allow.
    #[error("settlement {settlement_id}: transition {from} -> {to} is not allowed")]
    IllegalTransition {
        /// The settlement.
        settlement_id: String,
        /// Its current state.
        from: SettlementState,
        /// The refused target state.
        to: SettlementState,
    },
    /// The settlement left the expected state while we were working on it.
    #[error("settlement {settlement_id} is no longer in state {expected}")]
    ConcurrentTransition {
        /// The settlement.
        settlement_id: String,
        /// The state we expected it to be in.
        expected: SettlementState,
    },
    /// A row that must exist does not.
    #[error("{kind} {id} not found")]
    NotFound {
        /// What was looked up.
        kind: &'static str,
        /// Its id.
        id: String,
    },
    /// A stored document could not be read back.
    #[error("stored {what} is invalid: {message}")]
    Corrupt {
        /// Which document.
        what: &'static str,
        /// Why.
        message: String,
    },
    /// Signing the registration attestation failed.
    #[error("signing for settlement {settlement_id} failed: {message}")]
    Signing {
        /// The settlement.
        settlement_id: String,
        /// Why.
        message: String,
    },
    /// A screening provider failed (not a screening verdict: an outage).
    #[error("screening provider {provider} failed: {message}")]
    Screening {
        /// The provider's name.
        provider: String,
        /// Why.
        message: String,
    },
    /// Building the decision evidence failed.
    #[error("evidence for settlement {settlement_id} failed: {message}")]
    Evidence {
        /// The settlement.
        settlement_id: String,
        /// Why.
        message: String,
    },
    /// JSON (de)serialisation failed.
    #[error("json error: {0}")]
    Json(#[from] serde_json::Error),
    /// The operating system's random source failed.
    #[error("random source failed: {0}")]
    Random(String),
    /// An I/O operation failed.
    #[error("i/o error on {path}: {source}")]
    Io {
        /// The file involved.
        path: String,
        /// The error.
        source: std::io::Error,
    },
}

/// The library's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
