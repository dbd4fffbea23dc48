//! `lockstep deployment check`: proves that a deployment is the one the configuration and
//! the repository describe, chain by chain (docs/chain.md, "Deployment check").
//!
//! - [`compiled`]: the escrow compiled from `contracts/src` by foundry-compilers with
//!   `foundry.toml`'s settings, at build time (`build.rs`; foundry-compilers is a
//!   build-dependency so its serde_json features never reach the binaries);
//! - [`bytecode`]: the on-chain runtime code against it, immutables masked;
//! - [`check`]: the on-chain reads (owner, delegate, timelock delay, peers, libraries, ULN
//!   receive configs) turned into [`Row`]s;
//! - [`report`]: the typed rows, the one table and the exit status;
//! - [`target`]: what one `[[chains]]` table says the chain must hold.

pub mod bytecode;
pub mod check;
pub mod compiled;
pub mod report;
pub mod target;

pub use bytecode::{CodeMatch, CompiledRuntime};
pub use check::run_check;
pub use report::{Check, Outcome, Report, Row};
pub use target::{Target, TargetError};
