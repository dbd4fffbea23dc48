//! `lockstep verifier`: an independent DVN for Lockstep's LayerZero v2 paths (rule R5 of
//! the security design: every receive path requires the coordinator's DVN *and* this one).
//!
//! It runs as its own process with its own key and its own RPC endpoints per chain and
//! shares nothing with the coordinator but the contracts' addresses:
//!
//! - [`config`]: the TOML configuration (chains, escrows, endpoints, RPC URLs);
//! - [`agree`]: the agreement rule over a chain's RPC endpoints (same chain id, same block
//!   hash at the scanned range's end, same `PacketSent` logs in the same blocks);
//! - [`check`]: the checks of one packet (emitted by the configured endpoint, sent by the
//!   configured escrow, addressed to the configured destination escrow, GUID and payload
//!   hash consistent);
//! - [`service`]: the per-chain loops that scan, check and call `ReceiveUln302.verify`,
//!   reading the destination's state first (idempotent, restart-safe);
//! - [`http`]: `/healthz` and `/metrics`.

pub mod agree;
pub mod check;
pub mod config;
pub mod http;
pub mod service;

pub use config::{VerifierChain, VerifierConfig};
pub use service::{Health, Verifier, VerifierError};
