//! End-to-end harness for Lockstep: real anvil chains, the real LayerZero v2 stack and
//! escrows (deployed by `lockstep devnet --no-coordinator`, i.e. `script/deploy-local`),
//! the real `lockstep serve` daemon as a child process, driven over HTTP.
//!
//! - [`devnet`]: the `lockstep` binary, free ports, the devnet child process and its
//!   `devnet.json`.
//! - [`process`]: the coordinator process (start, SIGKILL, SIGTERM, restart, log tail) and
//!   the CLI calls (`platform create`, `evidence verify`).
//! - [`verifier`]: the independent verifier process (`lockstep verifier`, second DVN).
//! - [`webhooks`]: an in-process receiver that verifies Standard Webhooks signatures and
//!   records every delivery.
//! - [`chain`]: chain reads, time travel, snapshots and reorgs, and each party's custody
//!   (approve and deposit with the calldata from `/deposits`, verbatim).
//! - [`api`]: the HTTP API client and the instruction builder.
//! - [`proxy`]: a loopback TCP proxy in front of a chain's RPC that a test cuts, hangs and
//!   restores, or makes lie ([`lying`]: no logs, other block hashes).
//! - [`forge`]: forged LayerZero packets verified by one DVN key alone (R5 tests).
//! - [`fx`]: the three-party, three-chain FX trade (`dvp-fx`).
//! - [`report`]: what the demos print (amounts, deployment check, evidence refs, gas).
//! - [`steps`]: steps and checks the tests share (to AWAITING_DEPOSITS, balances, typed
//!   escrow reverts).
//! - [`world`]: everything above wired together for one test: two (or three) platforms,
//!   their webhook endpoints, the parties; [`evidence`] adds its evidence steps.
//!
//! Tests and the demo use `eyre` like binaries do: this crate is test support, not a library
//! anyone links.

pub mod api;
pub mod chain;
pub mod devnet;
pub mod evidence;
pub mod forge;
pub mod fx;
pub mod lying;
pub mod process;
pub mod proxy;
pub mod report;
pub mod steps;
pub mod verifier;
pub mod webhooks;
pub mod world;

pub use api::{Api, DepositInstruction, RepoTerms, Trade};
pub use chain::{Chain, Custody, EscrowState};
pub use devnet::{Devnet, DevnetInfo};
pub use process::Coordinator;
pub use verifier::VerifierProc;
pub use webhooks::{Delivery, WebhookReceiver};
pub use world::{Platform, Submitted, World, WorldOptions};

use std::time::Duration;

/// How often every wait polls.
pub const POLL: Duration = Duration::from_millis(200);
/// How long a wait for a settlement step gives up after.
pub const STEP_TIMEOUT: Duration = Duration::from_secs(90);
