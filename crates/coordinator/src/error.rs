//! The library's error type.

use lockstep_core::{DbError, EligibilityError, LedgerError, RegistrationError, SettlementState};

/// Errors of the coordinator library. HTTP handlers map them to status codes in
/// [`crate::api`]; everything unexpected becomes a 500 with a logged cause.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A database operation failed.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// The database could not be opened.
    #[error("cannot open the database: {0}")]
    Open(#[from] DbError),
    /// Applying the coordinator's schema migrations failed.
    #[error("schema migration failed: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
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
    /// A multi-party match lost a race: a side it was completing was cancelled or
    /// expired meanwhile (nothing was stored; the submission may be retried).
    #[error(
        "trade reference {trade_reference}: an instruction waiting under it changed while this one completed the trade; nothing was stored, retry"
    )]
    ConcurrentMatch {
        /// The trade reference.
        trade_reference: String,
    },
    /// A task the request depends on has stopped (the coordinator is shutting down).
    #[error("the {0} has stopped")]
    Stopped(&'static str),
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
    #[error("signing for settlement {settlement_id} failed: {source}")]
    Signing {
        /// The settlement.
        settlement_id: String,
        /// The signer's error.
        #[source]
        source: alloy::signers::Error,
    },
    /// The attester already signed another term set for this on-chain settlement id
    /// (security.md R3): it never signs a second one.
    #[error(
        "settlement {settlement_id}: the attester already signed terms {attested} for on-chain id {onchain_id}; refusing to sign terms {refused}"
    )]
    TermsConflict {
        /// The settlement.
        settlement_id: String,
        /// Its on-chain id.
        onchain_id: String,
        /// The terms hash signed before.
        attested: String,
        /// The terms hash refused now.
        refused: String,
    },
    /// A screening provider failed (not a screening verdict: an outage).
    #[error("screening provider {provider} failed: {message}")]
    Screening {
        /// The provider's name.
        provider: String,
        /// Why.
        message: String,
    },
    /// The transfer-eligibility check (R6) could not run (retried by the worker).
    #[error(transparent)]
    Eligibility(#[from] EligibilityError),
    /// The chain side could not register a cleared settlement (retried by the worker).
    #[error(transparent)]
    Registration(#[from] RegistrationError),
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
    Random(#[source] getrandom::Error),
    /// An I/O operation failed.
    #[error("i/o error on {path}: {source}")]
    Io {
        /// The file involved.
        path: String,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// A task's thread (or its runtime) could not be started.
    #[error("cannot start the {task} thread: {source}")]
    Thread {
        /// The task.
        task: &'static str,
        /// The error.
        #[source]
        source: std::io::Error,
    },
}

/// The library's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl From<Error> for LedgerError {
    fn from(e: Error) -> LedgerError {
        match e {
            Error::ConcurrentTransition {
                settlement_id,
                expected,
            } => LedgerError::Concurrent {
                settlement_id,
                expected,
            },
            Error::IllegalTransition {
                settlement_id,
                from,
                to,
            } => LedgerError::IllegalTransition {
                settlement_id,
                from,
                to,
            },
            Error::NotFound { id, .. } => LedgerError::NotFound(id),
            e => LedgerError::Storage(Box::new(e)),
        }
    }
}
