//! The composition root of Lockstep, as a library so that the `lockstep` binary, the
//! devnet and the end-to-end harness build the same configuration:
//!
//! - [`config`]: the one TOML file (`lockstep.example.toml`): the coordinator's settings at
//!   the top level and the chain side's `[[chains]]`, each half owned and validated by its
//!   crate;
//! - the binary (`src/main.rs` and its command modules) builds the stores, wires the
//!   coordinator and the chain side through the `lockstep-core` ports (the coordinator's
//!   `Ledger` to the chain side, the chain side's `SettlementRegistrar` to the coordinator)
//!   and runs `serve`, `devnet` and the evidence tools.

pub mod config;

pub use config::LockstepConfig;
