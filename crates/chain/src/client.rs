//! One configured chain: a read provider, and the transaction sender of the coordinator's
//! signer on that chain.
//!
//! Every transaction the coordinator sends on a chain goes through that chain's
//! [`TxSender`], which holds the signer's nonce: sends are serialised, the nonce is the
//! node's pending count read under the lock (so a failed send never leaves a gap), the gas
//! limit comes from `eth_estimateGas` (a revert there is decoded into the escrow's typed
//! errors and nothing is sent), and a transaction not mined within `mine_timeout` is
//! replaced at the same nonce with fees raised by 25 % (up to three times).

use crate::config::ChainConfig;
use crate::error::{ChainError, Result};
use alloy::network::{EthereumWallet, TransactionBuilder};
use alloy::primitives::{Address, B256};
use alloy::providers::{DynProvider, Provider, ProviderBuilder};
use alloy::rpc::types::{TransactionReceipt, TransactionRequest};
use alloy::signers::local::PrivateKeySigner;
use alloy::transports::http::reqwest;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Mutex, OnceCell};

/// A chain the coordinator reads and writes.
#[derive(Debug)]
pub struct ChainClient {
    /// The chain's configuration.
    pub config: ChainConfig,
    /// Provider with the signer's wallet (reads go through it too).
    pub provider: DynProvider,
    /// The sender of the coordinator's transactions on this chain.
    pub sender: TxSender,
    /// Whether the RPC answered this chain's id (readers that trust what the chain says
    /// call [`ChainIdCheck::ensure`] first; the sender always does).
    pub check: Arc<ChainIdCheck>,
    /// The receive library's ULN configs read lately (delivery passes reuse them).
    pub uln_configs: crate::lz::uln::UlnConfigs,
}

/// The chain id check of one chain, made once, the first time the chain answers.
#[derive(Debug)]
pub struct ChainIdCheck {
    chain_id: u64,
    provider: DynProvider,
    done: OnceCell<()>,
}

impl ChainIdCheck {
    /// Checks, unless an earlier call did, that the RPC answers the configured chain id.
    /// An unreachable chain is an [`ChainError::Rpc`] (try again later); another chain id a
    /// [`ChainError::Config`].
    pub async fn ensure(&self) -> Result<()> {
        self.done
            .get_or_try_init(|| async {
                let id = self
                    .provider
                    .get_chain_id()
                    .await
                    .map_err(|e| rpc(self.chain_id, "eth_chainId", e))?;
                if id != self.chain_id {
                    return Err(ChainError::Config(format!(
                        "rpc_url of chain {} answers chain id {id}",
                        self.chain_id
                    )));
                }
                tracing::info!(chain_id = id, "chain reachable; chain id checked");
                Ok(())
            })
            .await
            .map(|_| ())
    }

    /// Whether the check passed.
    pub fn is_done(&self) -> bool {
        self.done.initialized()
    }
}

impl ChainClient {
    /// The client of `config.rpc_url` with `signer`, without touching the network: every
    /// request times out after `config.rpc_timeout_ms`, and the chain id is checked when the
    /// chain first answers ([`ChainIdCheck`]), so a chain that is down at start-up is picked
    /// up when it comes back.
    pub fn new(config: ChainConfig, signer: PrivateKeySigner) -> Result<ChainClient> {
        let url = config.rpc_url.clone().ok_or_else(|| {
            ChainError::Config(format!("chain {} has no rpc_url", config.chain_id))
        })?;
        let url: reqwest::Url = url.parse().map_err(|e| {
            ChainError::Config(format!("chain {}: rpc_url {url}: {e}", config.chain_id))
        })?;
        let http = reqwest::Client::builder()
            .timeout(Duration::from_millis(config.rpc_timeout_ms.max(1)))
            .build()
            .map_err(|e| ChainError::rpc(config.chain_id, "building the HTTP client", e))?;
        let from = signer.address();
        let provider = ProviderBuilder::new()
            .wallet(EthereumWallet::from(signer))
            .connect_reqwest(http, url)
            .erased();
        // How often a sent transaction's receipt is looked for (alloy's default is 7 s for a
        // remote RPC, 250 ms on loopback): the chain's own polling cadence.
        provider
            .client()
            .set_poll_interval(Duration::from_millis(config.poll_interval_ms.max(20)));
        let check = Arc::new(ChainIdCheck {
            chain_id: config.chain_id,
            provider: provider.clone(),
            done: OnceCell::new(),
        });
        Ok(ChainClient {
            sender: TxSender {
                chain_id: config.chain_id,
                from,
                provider: provider.clone(),
                lock: Mutex::new(()),
                mine_timeout: Duration::from_secs(30),
                check: check.clone(),
            },
            check,
            provider,
            config,
            uln_configs: Default::default(),
        })
    }

    /// [`ChainClient::new`], then the chain id check (fails while the chain is unreachable).
    pub async fn connect(config: ChainConfig, signer: PrivateKeySigner) -> Result<ChainClient> {
        let client = ChainClient::new(config, signer)?;
        client.check.ensure().await?;
        Ok(client)
    }

    /// The chain id.
    pub fn chain_id(&self) -> u64 {
        self.config.chain_id
    }

    /// The escrow address.
    pub fn escrow(&self) -> Address {
        self.config.escrow
    }

    /// The endpoint address (required by the relayer and the indexer).
    pub fn endpoint(&self) -> Result<Address> {
        self.config.endpoint.ok_or_else(|| {
            ChainError::Config(format!("chain {} has no endpoint", self.config.chain_id))
        })
    }

    /// The receive library address (required by the relayer).
    pub fn receive_lib(&self) -> Result<Address> {
        self.config.receive_lib.ok_or_else(|| {
            ChainError::Config(format!("chain {} has no receive_lib", self.config.chain_id))
        })
    }

    /// The address that verifies as the coordinator's DVN on this chain: the `RelayerDvn`
    /// contract when configured, else the relayer key.
    pub fn dvn_address(&self) -> Address {
        self.config
            .relayer_dvn
            .unwrap_or_else(|| self.sender.from())
    }

    /// The latest block's timestamp (the chain's clock, which decides timeouts).
    pub async fn latest_timestamp(&self) -> Result<u64> {
        let b = self
            .provider
            .get_block_by_number(alloy::eips::BlockNumberOrTag::Latest)
            .await
            .map_err(|e| rpc(self.chain_id(), "eth_getBlockByNumber(latest)", e))?
            .ok_or_else(|| ChainError::unexpected(self.chain_id(), "no latest block"))?;
        Ok(b.header.timestamp)
    }
}

/// Wraps a transport or contract-call error, keeping it as the source.
pub(crate) fn rpc(
    chain_id: u64,
    what: &str,
    e: impl std::error::Error + Send + Sync + 'static,
) -> ChainError {
    ChainError::rpc(chain_id, what, e)
}

/// Every configured chain, connected, in configuration order.
#[derive(Debug, Clone, Default)]
pub struct Chains {
    list: Vec<Arc<ChainClient>>,
}

impl Chains {
    /// The chains, in configuration order.
    pub fn new(list: Vec<Arc<ChainClient>>) -> Chains {
        Chains { list }
    }

    /// Every chain, in configuration order.
    pub fn all(&self) -> &[Arc<ChainClient>] {
        &self.list
    }

    /// The chain with this LayerZero endpoint id.
    pub fn by_eid(&self, eid: u32) -> Option<&Arc<ChainClient>> {
        self.list.iter().find(|c| c.config.eid == eid)
    }

    /// The chain with this EVM chain id.
    pub fn by_id(&self, chain_id: u64) -> Option<&Arc<ChainClient>> {
        self.list.iter().find(|c| c.config.chain_id == chain_id)
    }

    /// The smallest `poll_interval_ms` of the chains (`default` without chains).
    pub fn min_poll_interval_ms(&self, default: u64) -> u64 {
        self.list
            .iter()
            .map(|c| c.config.poll_interval_ms)
            .min()
            .unwrap_or(default)
    }
}

/// Sends the coordinator's transactions on one chain: one nonce sequence per signer.
#[derive(Debug)]
pub struct TxSender {
    chain_id: u64,
    from: Address,
    provider: DynProvider,
    lock: Mutex<()>,
    mine_timeout: Duration,
    check: Arc<ChainIdCheck>,
}

impl TxSender {
    /// The signer's address.
    pub fn from(&self) -> Address {
        self.from
    }

    /// Estimates, signs, sends `tx` (to and input set by the caller) and waits for its
    /// receipt. `what` names the call in errors and logs. A revert at estimation is returned
    /// as [`ChainError::Reverted`] with the decoded error; a mined failure as
    /// [`ChainError::Failed`].
    pub async fn send(&self, tx: TransactionRequest, what: &str) -> Result<TransactionReceipt> {
        self.check.ensure().await?;
        let _guard = self.lock.lock().await;
        let tx = tx.with_from(self.from).with_chain_id(self.chain_id);
        let gas = match self.provider.estimate_gas(tx.clone()).await {
            Ok(g) => g,
            Err(e) => {
                if let Some(revert) = lockstep_bindings::decode_revert(&e) {
                    return Err(ChainError::Reverted {
                        chain_id: self.chain_id,
                        what: what.into(),
                        revert,
                    });
                }
                return Err(rpc(self.chain_id, &format!("estimateGas {what}"), e));
            }
        };
        let nonce = self
            .provider
            .get_transaction_count(self.from)
            .pending()
            .await
            .map_err(|e| rpc(self.chain_id, "eth_getTransactionCount", e))?;
        let fees = self
            .provider
            .estimate_eip1559_fees()
            .await
            .map_err(|e| rpc(self.chain_id, "fee estimation", e))?;
        let (mut max_fee, mut tip) = (fees.max_fee_per_gas, fees.max_priority_fee_per_gas);
        let gas_limit = gas.saturating_mul(12) / 10 + 10_000;
        for attempt in 0..4u32 {
            let req = tx
                .clone()
                .with_nonce(nonce)
                .with_gas_limit(gas_limit)
                .with_max_fee_per_gas(max_fee)
                .with_max_priority_fee_per_gas(tip);
            // A replacement that lost the race to the original (already mined) fails
            // here too; the next pass reads the state the original left.
            let pending = self
                .provider
                .send_transaction(req)
                .await
                .map_err(|e| rpc(self.chain_id, &format!("send {what}"), e))?;
            let hash: B256 = *pending.tx_hash();
            tracing::debug!(chain_id = self.chain_id, %hash, nonce, attempt, what, "transaction sent");
            match pending
                .with_timeout(Some(self.mine_timeout))
                .get_receipt()
                .await
            {
                Ok(r) => {
                    if !r.status() {
                        return Err(ChainError::Failed {
                            chain_id: self.chain_id,
                            what: what.into(),
                            tx_hash: hash.to_string(),
                        });
                    }
                    tracing::info!(chain_id = self.chain_id, tx = %hash, gas_used = r.gas_used, what, "transaction mined");
                    return Ok(r);
                }
                Err(e) => {
                    tracing::warn!(chain_id = self.chain_id, %hash, attempt, error = %e, what, "not mined in time; replacing with higher fees");
                    max_fee = max_fee.saturating_mul(5) / 4 + 1;
                    tip = tip.saturating_mul(5) / 4 + 1;
                }
            }
        }
        Err(ChainError::rpc(
            self.chain_id,
            what,
            "not mined after 4 attempts with rising fees",
        ))
    }
}
