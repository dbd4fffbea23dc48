//! Lockstep's chain side: registration, the confirmed-log indexer with reorg detection, the
//! reconciler that moves settlements from the escrows' logs, the LayerZero v2 relayer, the
//! timeout/resend keeper and receipt-anchored evidence.
//!
//! # The port
//! This crate depends on `lockstep-core`, never on the coordinator. It sees settlements
//! only through [`lockstep_core::Ledger`] (implemented by the coordinator): the reconciler
//! lists them (`live_settlements`), applies chain-driven edges (`apply_transition`, with the
//! logs that justify them as the cause) and stores the evidence bundle (`store_bundle`); the
//! keeper lists live ones and finds a deferred message's settlement (`find_by_onchain_id`).
//! The other way round, [`ChainSide`] implements [`lockstep_core::SettlementRegistrar`],
//! which the coordinator's settlement worker calls for cleared settlements.
//!
//! # Tables
//! The chain side owns `chain_cursors`, `chain_blocks`, `chain_logs` and `lz_packets`
//! (`migrations/1001_chain.sql`, applied by [`ChainStore::open`]; versions from 1001 so they
//! share `_sqlx_migrations` with the coordinator's without colliding). Every query on them
//! is in [`store`]; no query in this crate touches a coordinator table.
//!
//! # Modules
//! - [`config`]: [`ChainConfig`], the `[[chains]]` tables;
//! - [`client`]: [`ChainClient`] per chain and its [`TxSender`] (nonces, gas, fee bumps);
//!   [`Chains`], the connected set;
//! - [`store`]: [`ChainStore`], migrations and typed queries (cursors, blocks, logs, packets
//!   with their typed [`PacketStatus`]);
//! - [`indexer`]: per chain, confirmed logs from a persisted cursor, reorg walk-back;
//! - [`reconcile`]: state derivation from the logs ([`reconcile::Progress`]) and the
//!   evidence bundle ([`reconcile::bundle`]);
//! - [`lz`]: the packet codec (one header parser, shared with the indexer), the delivery
//!   steps and the relayer loop;
//! - [`keeper`]: timeouts (refunds) and resends of deferred messages;
//! - [`registrar`]: `register(terms, signature)` on every chain of an attestation;
//! - [`leader`]: which instance runs the chain side ([`leader::Leader`], the tasks' gate);
//! - [`metrics`]: [`ChainMetrics`] for `/metrics`;
//! - [`desk`]: the `lockstep_core::PacketDesk` port over the [`ChainStore`] (the operator's
//!   packet list, forced retry and stale packets);
//! - [`anchors`]: re-checks an evidence bundle's receipt anchors against the chains
//!   (`lockstep evidence verify --rpc`);
//! - [`side`]: [`ChainSide`], the composition of the above.
//!
//! Every loop (indexer per chain, reconciler, relayer, keeper, leader election) runs on
//! `lockstep_core::Periodic`; all but the election are gated by the leader.
//!
//! # Entry point (for the composition root)
//! ```ignore
//! let store = ChainStore::open(db.clone()).await?;          // migrates the chain tables
//! let side = ChainSide::connect(&config.chains, relayer_key, store, ledger).await?;
//! let registrar: Arc<dyn SettlementRegistrar> = side.clone();
//! let metrics: Arc<dyn MetricsSource> = side.metrics();
//! let tasks = side.spawn(shutdown_rx);                      // Vec<JoinHandle<()>>
//! ```
//! The protocol is described in docs/chain.md.

// `ChainError::Reverted` carries the decoded revert so callers can match on the escrow's
// typed errors; every call it is returned from is a network round trip, so its size is
// irrelevant.
#![allow(clippy::result_large_err)]

pub mod anchors;
pub mod client;
pub mod config;
pub mod desk;
pub mod eligibility;
pub mod error;
pub mod indexer;
pub mod keeper;
pub mod leader;
pub mod lz;
pub mod metrics;
pub mod reconcile;
pub mod registrar;
pub mod side;
pub mod store;
pub mod wake;

pub use anchors::RpcAnchors;
pub use client::{ChainClient, Chains, TxSender};
pub use config::ChainConfig;
pub use error::{ChainError, Result};
pub use metrics::{ChainMetrics, KeeperAction};
pub use side::ChainSide;
pub use store::{ChainStore, PacketStatus};
pub use wake::Wakes;
