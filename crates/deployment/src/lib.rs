//! `lockstep deployment check`: proves that a deployment is the one the configuration and
//! the repository describe, chain by chain (docs/chain.md, "Deployment check").
//!
//! - [`compile`]: the escrow compiled from `contracts/src` by foundry-compilers with
//!   `foundry.toml`'s settings ([`settings`]);
//! - [`bytecode`]: the on-chain runtime code against it, immutables masked;
//! - [`check`]: the on-chain reads (owner, delegate, timelock delay, peers, libraries, ULN
//!   receive configs) turned into [`Row`]s;
//! - [`report`]: the typed rows, the one table and the exit status.

pub mod bytecode;
pub mod check;
pub mod compile;
pub mod error;
pub mod report;
pub mod settings;
pub mod target;

pub use check::run_check;
pub use compile::{CompiledRuntime, compile_escrow};
pub use error::CompileError;
pub use report::{Outcome, Report, Row};
pub use target::{Target, TargetError};
