//! [`ChainSide`]: every configured chain connected, the chain store, the ledger port and
//! the leader gate, composed; it starts the chain-side tasks and registers cleared
//! settlements (it implements `lockstep_core::SettlementRegistrar`).

use crate::client::{ChainClient, Chains};
use crate::config::ChainConfig;
use crate::error::{ChainError, Result};
use crate::keeper::Keeper;
use crate::leader::{self, Leader};
use crate::lz::Relayer;
use crate::metrics::ChainMetrics;
use crate::reconcile::Reconciler;
use crate::store::ChainStore;
use crate::wake::Wakes;
use crate::{indexer, registrar};
use alloy::primitives::Address;
use alloy::signers::local::PrivateKeySigner;
use async_trait::async_trait;
use lockstep_core::{
    ClearedSettlement, ClockError, Gate, Ledger, RegistrationError, SettlementRegistrar,
};
use std::sync::Arc;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// The chain side of one process: connected chains, store, ledger, leader gate, metrics.
pub struct ChainSide {
    chains: Chains,
    configs: Arc<[ChainConfig]>,
    store: ChainStore,
    ledger: Arc<dyn Ledger>,
    leader: Arc<Leader>,
    metrics: Arc<ChainMetrics>,
}

impl std::fmt::Debug for ChainSide {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChainSide")
            .field("chains", &self.chains)
            .field("leader", &self.leader)
            .finish_non_exhaustive()
    }
}

impl ChainSide {
    /// Connects every chain of `chains` with `signer`, the relayer key (receive-side DVN,
    /// executor, registrar and keeper). Every chain needs `rpc_url`, `endpoint` and
    /// `receive_lib`; at least one chain is required. `store` is the opened [`ChainStore`];
    /// `ledger` is the coordinator's side of the port.
    ///
    /// Each chain's id is checked now if the chain answers: another chain id is an error. A
    /// chain that does not answer is logged at warning level and left to be checked when it
    /// comes back (its indexer and sender check it first), so the process starts and serves
    /// with a chain down.
    pub async fn connect(
        chains: &[ChainConfig],
        signer: PrivateKeySigner,
        store: ChainStore,
        ledger: Arc<dyn Ledger>,
    ) -> Result<Arc<ChainSide>> {
        let mut clients = Vec::new();
        for c in chains {
            if c.endpoint.is_none() || c.receive_lib.is_none() {
                return Err(ChainError::Config(format!(
                    "chain {} needs endpoint and receive_lib for the chain side",
                    c.chain_id
                )));
            }
            let client = ChainClient::new(c.clone(), signer.clone())?;
            match client.check.ensure().await {
                Ok(()) => {}
                Err(ChainError::Rpc { source, .. }) => {
                    tracing::warn!(chain_id = c.chain_id, error = %source, "chain unreachable at start; picked up when it answers");
                }
                Err(e) => return Err(e),
            }
            clients.push(Arc::new(client));
        }
        if clients.is_empty() {
            return Err(ChainError::Config("no [[chains]] configured".into()));
        }
        Ok(Arc::new(ChainSide {
            chains: Chains::new(clients),
            configs: chains.into(),
            store,
            ledger,
            leader: Arc::default(),
            metrics: Arc::default(),
        }))
    }

    /// Every connected chain, in configuration order.
    pub fn chains(&self) -> &[Arc<ChainClient>] {
        self.chains.all()
    }

    /// The chain with this LayerZero endpoint id.
    pub fn chain_by_eid(&self, eid: u32) -> Option<&Arc<ChainClient>> {
        self.chains.by_eid(eid)
    }

    /// The chain with this EVM chain id.
    pub fn chain(&self, chain_id: u64) -> Option<&Arc<ChainClient>> {
        self.chains.by_id(chain_id)
    }

    /// The relayer key's address (the sender of every chain-side transaction).
    pub fn relayer_address(&self) -> Address {
        self.chains
            .all()
            .first()
            .map_or(Address::ZERO, |c| c.sender.from())
    }

    /// Whether this instance runs the chain side now (see [`crate::leader`]).
    pub fn leader(&self) -> Arc<Leader> {
        self.leader.clone()
    }

    /// The chain side's metrics, for the coordinator's `/metrics` page.
    pub fn metrics(&self) -> Arc<ChainMetrics> {
        self.metrics.clone()
    }

    /// The chain store.
    pub fn store(&self) -> &ChainStore {
        &self.store
    }

    /// Registers `s` on every chain of its attestations that has not registered it yet.
    pub async fn register_everywhere(&self, s: &ClearedSettlement) -> Result<()> {
        registrar::register_everywhere(&self.chains, s).await
    }

    /// Starts the leader election, the indexers (one per chain), the reconciler, the
    /// relayer (one delivery loop per destination chain) and the keepers (one per chain);
    /// all but the election only work while this instance leads.
    /// Every task ends when `shutdown` turns true.
    pub fn spawn(self: &Arc<Self>, shutdown: watch::Receiver<bool>) -> Vec<JoinHandle<()>> {
        let gate: Arc<dyn Gate> = self.leader.clone();
        let wakes = Wakes::new(self.chains.all().iter().map(|c| c.config.eid));
        let mut tasks = vec![tokio::spawn(leader::run(
            self.leader.clone(),
            self.store.db().clone(),
            shutdown.clone(),
        ))];
        for chain in self.chains.all() {
            tasks.push(tokio::spawn(indexer::run(
                chain.clone(),
                self.store.clone(),
                self.metrics.clone(),
                wakes.clone(),
                gate.clone(),
                shutdown.clone(),
            )));
        }
        let reconciler = Reconciler {
            chains: self.configs.clone(),
            store: self.store.clone(),
            ledger: self.ledger.clone(),
        };
        tasks.push(tokio::spawn(reconciler.run(
            gate.clone(),
            wakes.reconciler(),
            shutdown.clone(),
        )));
        let relayer = Relayer {
            chains: self.chains.clone(),
            store: self.store.clone(),
            metrics: self.metrics.clone(),
        };
        tasks.push(tokio::spawn(relayer.run(
            gate.clone(),
            wakes,
            shutdown.clone(),
        )));
        let keeper = Keeper::new(
            self.chains.clone(),
            self.store.clone(),
            self.ledger.clone(),
            self.metrics.clone(),
        );
        for chain in self.chains.all() {
            let one = keeper.for_chain(chain.config.eid);
            tasks.push(tokio::spawn(one.run(gate.clone(), shutdown.clone())));
        }
        tasks
    }
}

#[async_trait]
impl SettlementRegistrar for ChainSide {
    async fn register(&self, settlement: &ClearedSettlement) -> Result<(), RegistrationError> {
        self.register_everywhere(settlement)
            .await
            .map_err(|e| RegistrationError {
                settlement_id: settlement.id.clone(),
                source: Box::new(e),
            })
    }

    async fn chain_time(&self, chain_id: u64) -> Result<Option<u64>, ClockError> {
        let Some(chain) = self.chain(chain_id) else {
            return Ok(None);
        };
        chain
            .latest_timestamp()
            .await
            .map(Some)
            .map_err(|e| ClockError {
                chain_id,
                source: Box::new(e),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lockstep_core::MetricsSource;

    /// The composition root hands these out as trait objects.
    #[allow(dead_code)]
    fn coerces_to_the_ports(
        side: Arc<ChainSide>,
    ) -> (Arc<dyn SettlementRegistrar>, Arc<dyn MetricsSource>) {
        let metrics: Arc<dyn MetricsSource> = side.metrics();
        (side, metrics)
    }

    #[tokio::test]
    async fn connect_refuses_chains_without_endpoint_or_receive_lib_and_an_empty_list() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let db = lockstep_core::Db::connect(&lockstep_core::db::sqlite_url_for(dir.path()))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let store = ChainStore::open(db).await.unwrap_or_else(|e| panic!("{e}"));
        let ledger: Arc<dyn Ledger> = Arc::new(NoLedger);
        // anvil's second dev key
        let signer: PrivateKeySigner =
            "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"
                .parse()
                .unwrap_or_else(|e| panic!("{e}"));
        let bare = ChainConfig::new(1, 40101, Address::repeat_byte(1));
        let e = ChainSide::connect(&[bare], signer.clone(), store.clone(), ledger.clone()).await;
        assert!(matches!(e, Err(ChainError::Config(m)) if m.contains("endpoint and receive_lib")));
        let e = ChainSide::connect(&[], signer, store, ledger).await;
        assert!(matches!(e, Err(ChainError::Config(m)) if m.contains("no [[chains]]")));
    }

    /// A chain whose RPC refuses connections and one whose RPC accepts and never answers:
    /// the chain side still starts (without waiting on either beyond its `rpc_timeout_ms`),
    /// and a call to the hung one fails after that timeout instead of hanging.
    #[tokio::test]
    #[allow(clippy::unwrap_used)]
    async fn connect_starts_with_chains_down_and_every_call_times_out() {
        use std::time::{Duration, Instant};
        let dir = tempfile::tempdir().unwrap();
        let db = lockstep_core::Db::connect(&lockstep_core::db::sqlite_url_for(dir.path()))
            .await
            .unwrap();
        let store = ChainStore::open(db).await.unwrap();
        let refused = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let refused_at = refused.local_addr().unwrap();
        drop(refused);
        let hung = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let hung_at = hung.local_addr().unwrap();
        tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((socket, _)) = hung.accept().await {
                held.push(socket);
            }
        });
        let chain = |id: u64, eid: u32, at: std::net::SocketAddr| {
            let mut c = ChainConfig::new(id, eid, Address::repeat_byte(1));
            c.rpc_url = Some(format!("http://{at}"));
            c.endpoint = Some(Address::repeat_byte(2));
            c.receive_lib = Some(Address::repeat_byte(3));
            c.rpc_timeout_ms = 300;
            c
        };
        let signer = PrivateKeySigner::random();
        let started = Instant::now();
        let side = ChainSide::connect(
            &[chain(1, 40101, refused_at), chain(2, 40102, hung_at)],
            signer,
            store,
            Arc::new(NoLedger),
        )
        .await
        .unwrap();
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{:?}",
            started.elapsed()
        );
        assert_eq!(side.chains().len(), 2);
        assert!(side.chains().iter().all(|c| !c.check.is_done()));
        let t = Instant::now();
        let e = side.chain(2).unwrap().latest_timestamp().await;
        assert!(matches!(e, Err(ChainError::Rpc { .. })), "{e:?}");
        let took = t.elapsed();
        assert!(
            Duration::from_millis(300) <= took && took < Duration::from_secs(2),
            "{took:?}"
        );
        // Nothing is sent to a chain whose id was never checked.
        let e = side
            .chain(1)
            .unwrap()
            .sender
            .send(Default::default(), "test")
            .await;
        assert!(
            matches!(e, Err(ChainError::Rpc { ref what, .. }) if what == "eth_chainId"),
            "{e:?}"
        );
    }

    struct NoLedger;

    #[async_trait]
    impl Ledger for NoLedger {
        async fn live_settlements(
            &self,
        ) -> Result<Vec<lockstep_core::ChainSettlement>, lockstep_core::LedgerError> {
            Ok(Vec::new())
        }
        async fn settlement(
            &self,
            _: &str,
        ) -> Result<Option<lockstep_core::ChainSettlement>, lockstep_core::LedgerError> {
            Ok(None)
        }
        async fn find_by_onchain_id(
            &self,
            _: alloy::primitives::B256,
        ) -> Result<Option<lockstep_core::ChainSettlement>, lockstep_core::LedgerError> {
            Ok(None)
        }
        async fn apply_transition(
            &self,
            _: &str,
            _: lockstep_core::SettlementState,
            _: &str,
        ) -> Result<(), lockstep_core::LedgerError> {
            Ok(())
        }
        async fn store_bundle(
            &self,
            _: &str,
            _: &serde_json::Value,
        ) -> Result<bool, lockstep_core::LedgerError> {
            Ok(false)
        }
        async fn record_owed(
            &self,
            _: &str,
            _: &lockstep_core::OwedLeg,
        ) -> Result<bool, lockstep_core::LedgerError> {
            Ok(false)
        }
    }
}
