//! The Lockstep coordinator: matches settlement instructions from platforms, screens the
//! parties, drives the settlement state machine and delivers signed webhooks.
//!
//! The crate is a library so that the `lockstep` binary, the API tests and the load
//! script all run the same code: [`server::Server::start`] builds the router, the
//! settlement worker and the webhook worker from a [`config::Config`].
//!
//! The chain side plugs in through [`registrar::SettlementRegistrar`]: it is called for
//! every settlement that reaches `COMPLIANCE_CLEARED`.

pub mod admin;
pub mod api;
pub mod auth;
pub mod compliance;
pub mod config;
pub mod db;
pub mod error;
pub mod evidence;
pub mod instructions;
pub mod metrics;
pub mod registrar;
pub mod server;
pub mod settlements;
pub mod state;
pub mod templates;
pub mod terms;
pub mod validate;
pub mod webhooks;

pub use error::{Error, Result};

/// Milliseconds since the unix epoch, the unit of every stored time.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// A new sortable identifier with a type prefix, e.g. `ins_01J...`.
pub(crate) fn new_id(prefix: &str) -> String {
    format!("{prefix}_{}", ulid::Ulid::new())
}

/// RFC 3339 rendering of a stored millisecond time.
pub(crate) fn rfc3339(ms: i64) -> String {
    chrono::DateTime::<chrono::Utc>::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_default()
}

/// Fills a buffer from the operating system's random source.
pub(crate) fn random_bytes<const N: usize>() -> Result<[u8; N]> {
    let mut buf = [0u8; N];
    getrandom::fill(&mut buf).map_err(|e| Error::Random(e.to_string()))?;
    Ok(buf)
}
