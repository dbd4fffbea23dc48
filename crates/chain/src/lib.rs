//! Lockstep's chain side, plugged into the coordinator:
//!
//! - [`registrar`]: registers cleared settlements on every chain they touch;
//! - [`indexer`]: per chain, reads escrow and endpoint logs from a persisted cursor up to
//!   `head - confirmations`, detects reorgs from stored block hashes, and stores each log
//!   once (`chain_logs`);
//! - [`reconcile`]: derives each settlement's state from the stored logs and moves the
//!   coordinator's state machine (and so the webhooks), building the receipt-anchored
//!   evidence bundle once the settlement is final;
//! - [`relayer`]: delivers LayerZero v2 packets as the receive-side DVN and executor, and
//!   calls the permissionless refund/resend steps;
//! - [`anchors`]: re-checks an evidence bundle's receipt anchors against the chains.
//!
//! The protocol and the storage are described in docs/chain.md.

// `ChainError::Reverted` carries the decoded revert so callers can match on the escrow's
// typed errors; every call it is returned from is a network round trip, so its size is
// irrelevant.
#![allow(clippy::result_large_err)]

pub mod anchors;
pub mod client;
pub mod error;
pub mod indexer;
pub mod leader;
pub mod reconcile;
pub mod registrar;
pub mod relayer;

pub use client::{ChainClient, TxSender};
pub use error::{ChainError, Result};

use alloy::signers::local::PrivateKeySigner;
use lockstep_bindings::ISettlementEscrow;
use lockstep_coordinator::config::Config;
use lockstep_coordinator::server::Coordinator;
use lockstep_coordinator::settlements::SettlementRow;
use std::sync::Arc;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Every configured chain, connected.
#[derive(Debug)]
pub struct ChainSide {
    /// One client per configured chain, in configuration order.
    pub chains: Vec<Arc<ChainClient>>,
    /// Whether this instance runs the chain side (always on SQLite; the advisory-lock
    /// holder on PostgreSQL, see [`leader`]).
    pub leader: Arc<leader::Leader>,
}

impl ChainSide {
    /// Connects every configured chain with the coordinator's transaction signer (the
    /// relayer key: receive-side DVN, executor, registrar and keeper).
    pub async fn connect(config: &Config, signer: PrivateKeySigner) -> Result<Arc<ChainSide>> {
        let mut chains = Vec::new();
        for c in &config.chains {
            if c.endpoint.is_none() || c.receive_lib.is_none() {
                return Err(ChainError::Config(format!(
                    "chain {} needs endpoint and receive_lib for the chain side",
                    c.chain_id
                )));
            }
            chains.push(Arc::new(
                ChainClient::connect(c.clone(), signer.clone()).await?,
            ));
        }
        if chains.is_empty() {
            return Err(ChainError::Config("no [[chains]] configured".into()));
        }
        Ok(Arc::new(ChainSide {
            chains,
            leader: Arc::default(),
        }))
    }

    /// The chain with this LayerZero endpoint id.
    pub fn chain_by_eid(&self, eid: u32) -> Option<&Arc<ChainClient>> {
        self.chains.iter().find(|c| c.config.eid == eid)
    }

    /// The chain with this EVM chain id.
    pub fn chain(&self, chain_id: u64) -> Option<&Arc<ChainClient>> {
        self.chains.iter().find(|c| c.config.chain_id == chain_id)
    }

    /// Starts the leader election, the indexers (one per chain), the reconciler and the
    /// relayer; the last three only work while this instance leads.
    pub fn spawn(
        self: &Arc<Self>,
        c: Arc<Coordinator>,
        shutdown: watch::Receiver<bool>,
    ) -> Vec<JoinHandle<()>> {
        let mut tasks = vec![tokio::spawn(leader::run(
            self.leader.clone(),
            c.clone(),
            shutdown.clone(),
        ))];
        for chain in &self.chains {
            tasks.push(tokio::spawn(indexer::run(
                chain.clone(),
                self.leader.clone(),
                c.clone(),
                shutdown.clone(),
            )));
        }
        tasks.push(tokio::spawn(reconcile::run(
            self.clone(),
            c.clone(),
            shutdown.clone(),
        )));
        tasks.push(tokio::spawn(relayer::run(self.clone(), c, shutdown)));
        tasks
    }
}

/// The escrow's `Terms` of a settlement, read from the coordinator's stored terms.
pub fn escrow_terms(row: &SettlementRow) -> Result<ISettlementEscrow::Terms> {
    let bad = |m: &str| {
        ChainError::Coordinator(lockstep_coordinator::Error::Corrupt {
            what: "settlement terms",
            message: format!("{}: {m}", row.id),
        })
    };
    let json = row.terms.as_deref().ok_or_else(|| bad("no terms yet"))?;
    let v: serde_json::Value = serde_json::from_str(json)?;
    lockstep_coordinator::terms::terms_from_json(&v).ok_or_else(|| bad("unreadable terms"))
}
