//! The verifier's loops: one task per source chain scans its `PacketSent` logs through all
//! of the chain's RPC endpoints, refuses (error log, metric, `/healthz` unhealthy) when they
//! disagree, checks each packet and attests it on the destination with
//! `ReceiveUln302.verify(header, payloadHash, confirmations)`.
//!
//! Restart-safe by construction: the scan cursor lives in memory and starts at the
//! configured `start_block` (recomputed from the chain on every start), and before every
//! `verify` the destination's state is read: a packet already delivered, committed or
//! verified by this key is skipped. A failed scan does not move the cursor; it is retried
//! after `poll_interval_ms`.

use crate::agree::{Disagreement, RpcView, SeenLog, agree, safe_end};
use crate::check::{Attestation, check_packet};
use crate::config::{VerifierChain, VerifierConfig};
use alloy::network::EthereumWallet;
use alloy::primitives::Address;
use alloy::providers::{DynProvider, Provider, ProviderBuilder};
use alloy::rpc::types::{BlockNumberOrTag, Filter};
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::SolEvent;
use lockstep_bindings::ILayerZeroEndpointV2::{self, PacketSent};
use lockstep_bindings::ILocalReceiveUln;
use lockstep_chain::lz::DeliveryState;
use std::collections::BTreeMap;
use std::future::IntoFuture;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Blocks scanned per `eth_getLogs` at most.
const MAX_RANGE: u64 = 2_000;

/// How often the key's balance is read on every chain.
pub const BALANCE_EVERY: Duration = Duration::from_secs(10);

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Why a scan or an attestation failed.
#[derive(Debug, thiserror::Error)]
pub enum VerifierError {
    /// An RPC call failed.
    #[error("chain {chain_id}: {what} via {url}: {source}")]
    Rpc {
        /// Chain id.
        chain_id: u64,
        /// The call.
        what: &'static str,
        /// The endpoint.
        url: String,
        /// The error.
        #[source]
        source: BoxError,
    },
    /// An RPC call did not answer in time.
    #[error("chain {chain_id}: {what} via {url}: no answer within {ms} ms")]
    Timeout {
        /// Chain id.
        chain_id: u64,
        /// The call.
        what: &'static str,
        /// The endpoint.
        url: String,
        /// The timeout.
        ms: u64,
    },
    /// The chain's RPC endpoints disagree: the verifier refuses to act on the chain.
    #[error("chain {chain_id}: RPC endpoints disagree, refusing to attest: {source}")]
    Disagree {
        /// Chain id.
        chain_id: u64,
        /// What differs.
        #[source]
        source: Box<Disagreement>,
    },
    /// A `verify` transaction reverted.
    #[error("chain {chain_id}: verify of nonce {nonce} reverted (tx {tx})")]
    Reverted {
        /// Destination chain id.
        chain_id: u64,
        /// The packet's nonce.
        nonce: u64,
        /// The transaction.
        tx: alloy::primitives::B256,
    },
    /// A configuration problem found at start.
    #[error("{0}")]
    Config(String),
}

/// One chain's state as `/healthz` shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum ChainHealth {
    /// Not scanned yet.
    Starting,
    /// The last scan succeeded; `cursor` is the next block to scan.
    Ok {
        /// Next block to scan.
        cursor: u64,
    },
    /// The RPC endpoints disagree: nothing is attested on this chain.
    Refusing {
        /// Why.
        reason: String,
    },
    /// The last scan failed (RPC down, destination unreachable...): retried.
    Failing {
        /// The error.
        error: String,
    },
}

/// Health and counters, shared with the HTTP side.
#[derive(Debug, Default)]
pub struct Health {
    chains: Mutex<BTreeMap<u64, ChainHealth>>,
    /// `verify` transactions sent.
    pub verified: AtomicU64,
    /// Packets found already verified by this key, committed or delivered.
    pub already_done: AtomicU64,
    /// Packets refused by [`check_packet`] (foreign senders excluded).
    pub rejected: AtomicU64,
    /// Scans refused because the RPC endpoints disagreed.
    pub disagreements: AtomicU64,
    /// Scans that failed otherwise.
    pub scan_errors: AtomicU64,
    /// The key's balance (wei) and the configured minimum, per chain.
    balances: Mutex<BTreeMap<u64, (u128, Option<u128>)>>,
}

impl Health {
    /// Records a chain's state.
    pub fn set(&self, chain_id: u64, h: ChainHealth) {
        if let Ok(mut m) = self.chains.lock() {
            m.insert(chain_id, h);
        }
    }

    /// Every chain's state.
    pub fn snapshot(&self) -> BTreeMap<u64, ChainHealth> {
        self.chains.lock().map(|m| m.clone()).unwrap_or_default()
    }

    /// Records the key's balance on a chain and the chain's `min_balance_wei`.
    pub fn set_balance(&self, chain_id: u64, wei: u128, min: Option<u128>) {
        if let Ok(mut m) = self.balances.lock() {
            m.insert(chain_id, (wei, min));
        }
    }

    /// The last balance read per chain, with its minimum.
    pub fn balances(&self) -> BTreeMap<u64, (u128, Option<u128>)> {
        self.balances.lock().map(|m| m.clone()).unwrap_or_default()
    }

    /// Healthy when every chain's last scan succeeded.
    pub fn healthy(&self) -> bool {
        let s = self.snapshot();
        !s.is_empty() && s.values().all(|h| matches!(h, ChainHealth::Ok { .. }))
    }
}

/// One RPC endpoint of a chain.
#[derive(Clone)]
struct Rpc {
    url: String,
    provider: DynProvider,
}

/// The verifier: configuration, key, connections, health.
pub struct Verifier {
    config: VerifierConfig,
    me: Address,
    readers: BTreeMap<u64, Vec<Rpc>>,
    writers: BTreeMap<u64, Rpc>,
    send_locks: BTreeMap<u64, tokio::sync::Mutex<()>>,
    health: Arc<Health>,
}

impl Verifier {
    /// Connects (lazily: no RPC call is made here) to every chain's endpoints with `signer`.
    pub fn new(
        config: VerifierConfig,
        signer: PrivateKeySigner,
    ) -> Result<Verifier, VerifierError> {
        let me = signer.address();
        let wallet = EthereumWallet::from(signer);
        let mut readers = BTreeMap::new();
        let mut writers = BTreeMap::new();
        let mut send_locks = BTreeMap::new();
        for c in &config.chains {
            let mut list = Vec::new();
            for url in &c.rpc_urls {
                let parsed = url.parse().map_err(|e| {
                    VerifierError::Config(format!("chain {}: rpc url {url}: {e}", c.chain_id))
                })?;
                let provider = ProviderBuilder::new().connect_http(parsed).erased();
                list.push(Rpc {
                    url: url.clone(),
                    provider,
                });
            }
            let first = list.first().ok_or_else(|| {
                VerifierError::Config(format!("chain {} has no rpc_urls", c.chain_id))
            })?;
            let parsed = first.url.parse().map_err(|e| {
                VerifierError::Config(format!("chain {}: rpc url: {e}", c.chain_id))
            })?;
            let provider = ProviderBuilder::new()
                .wallet(wallet.clone())
                .connect_http(parsed)
                .erased();
            // Receipts are looked for at the verifier's own cadence (alloy: 7 s remote).
            provider
                .client()
                .set_poll_interval(Duration::from_millis(config.poll_interval_ms.max(20)));
            writers.insert(
                c.chain_id,
                Rpc {
                    url: first.url.clone(),
                    provider,
                },
            );
            readers.insert(c.chain_id, list);
            send_locks.insert(c.chain_id, tokio::sync::Mutex::new(()));
        }
        Ok(Verifier {
            config,
            me,
            readers,
            writers,
            send_locks,
            health: Arc::new(Health::default()),
        })
    }

    /// The verifier's DVN address (its key's).
    pub fn address(&self) -> Address {
        self.me
    }

    /// The shared health and counters.
    pub fn health(&self) -> Arc<Health> {
        self.health.clone()
    }

    /// Runs one loop per source chain, and the balance reader, until the process ends.
    pub async fn run(self: Arc<Self>) {
        let mut tasks = tokio::task::JoinSet::new();
        for c in self.config.chains.clone() {
            let me = self.clone();
            tasks.spawn(async move { me.chain_loop(c).await });
        }
        let me = self.clone();
        tasks.spawn(async move {
            loop {
                me.read_balances().await;
                tokio::time::sleep(BALANCE_EVERY).await;
            }
        });
        while tasks.join_next().await.is_some() {}
    }

    /// Reads the key's balance on every chain once and publishes it against the chain's
    /// `min_balance_wei` (warning when below; a failed read keeps the last value). The key
    /// pays for every `verify` on a destination, so an empty balance stalls attestation to
    /// that chain until it is refilled.
    pub async fn read_balances(&self) {
        for c in &self.config.chains {
            let Some(w) = self.writers.get(&c.chain_id) else {
                continue;
            };
            let read = self
                .timed(
                    c.chain_id,
                    "eth_getBalance",
                    &w.url,
                    w.provider.get_balance(self.me),
                )
                .await;
            match read {
                Ok(wei) => {
                    let wei = u128::try_from(wei).unwrap_or(u128::MAX);
                    let min = c.min_balance_wei.map(u128::from);
                    if min.is_some_and(|m| wei < m) {
                        tracing::warn!(chain_id = c.chain_id, verifier = %self.me, balance_wei = wei, min_wei = ?min, "verifier balance below the configured minimum");
                    }
                    self.health.set_balance(c.chain_id, wei, min);
                }
                Err(e) => {
                    tracing::warn!(chain_id = c.chain_id, error = %e, "reading the verifier's balance failed")
                }
            }
        }
    }

    async fn chain_loop(&self, src: VerifierChain) {
        let mut cursor = src.start_block;
        self.health.set(src.chain_id, ChainHealth::Starting);
        let pause = Duration::from_millis(self.config.poll_interval_ms);
        loop {
            match self.scan(&src, cursor).await {
                Ok(next) => {
                    cursor = next;
                    self.health.set(src.chain_id, ChainHealth::Ok { cursor });
                }
                Err(e @ VerifierError::Disagree { .. }) => {
                    self.health.disagreements.fetch_add(1, Ordering::Relaxed);
                    tracing::error!(chain_id = src.chain_id, cursor, error = %e, "RPC endpoints disagree: refusing to attest this chain's packets");
                    self.health.set(
                        src.chain_id,
                        ChainHealth::Refusing {
                            reason: e.to_string(),
                        },
                    );
                }
                Err(e) => {
                    self.health.scan_errors.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(chain_id = src.chain_id, cursor, error = %e, "scan failed; retrying");
                    self.health.set(
                        src.chain_id,
                        ChainHealth::Failing {
                            error: e.to_string(),
                        },
                    );
                }
            }
            tokio::time::sleep(pause).await;
        }
    }

    /// Runs `fut` under the RPC timeout.
    async fn timed<T, E>(
        &self,
        chain_id: u64,
        what: &'static str,
        url: &str,
        fut: impl IntoFuture<Output = Result<T, E>>,
    ) -> Result<T, VerifierError>
    where
        E: std::error::Error + Send + Sync + 'static,
    {
        let ms = self.config.rpc_timeout_ms;
        match tokio::time::timeout(Duration::from_millis(ms), fut.into_future()).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(VerifierError::Rpc {
                chain_id,
                what,
                url: url.to_string(),
                source: Box::new(e),
            }),
            Err(_) => Err(VerifierError::Timeout {
                chain_id,
                what,
                url: url.to_string(),
                ms,
            }),
        }
    }

    /// One scan of `src` from `cursor`: returns the next cursor.
    async fn scan(&self, src: &VerifierChain, cursor: u64) -> Result<u64, VerifierError> {
        let rpcs = self
            .readers
            .get(&src.chain_id)
            .map(Vec::as_slice)
            .unwrap_or_default();
        let mut heads = Vec::with_capacity(rpcs.len());
        for r in rpcs {
            heads.push(
                self.timed(
                    src.chain_id,
                    "eth_blockNumber",
                    &r.url,
                    r.provider.get_block_number(),
                )
                .await?,
            );
        }
        let Some(end) = safe_end(&heads, src.confirmations) else {
            return Ok(cursor);
        };
        if end < cursor {
            return Ok(cursor);
        }
        let to = end.min(cursor.saturating_add(MAX_RANGE - 1));
        let mut views = Vec::with_capacity(rpcs.len());
        for r in rpcs {
            views.push(self.view(src, r, cursor, to).await?);
        }
        let logs =
            agree(src.chain_id, cursor, to, &views).map_err(|source| VerifierError::Disagree {
                chain_id: src.chain_id,
                source: Box::new(source),
            })?;
        for log in &logs {
            self.handle(src, log).await?;
        }
        Ok(to + 1)
    }

    /// What one endpoint reports for blocks `from..=to`.
    async fn view(
        &self,
        src: &VerifierChain,
        r: &Rpc,
        from: u64,
        to: u64,
    ) -> Result<RpcView, VerifierError> {
        let id = src.chain_id;
        let chain_id = self
            .timed(id, "eth_chainId", &r.url, r.provider.get_chain_id())
            .await?;
        if chain_id != id {
            // Do not ask another chain for logs: the disagreement says enough.
            return Ok(RpcView {
                url: r.url.clone(),
                chain_id,
                end_hash: Default::default(),
                logs: Vec::new(),
            });
        }
        let block = self
            .timed(
                id,
                "eth_getBlockByNumber",
                &r.url,
                r.provider.get_block_by_number(BlockNumberOrTag::Number(to)),
            )
            .await?;
        let end_hash = block.map(|b| b.header.hash).unwrap_or_default();
        let filter = Filter::new()
            .address(src.endpoint)
            .event_signature(PacketSent::SIGNATURE_HASH)
            .from_block(from)
            .to_block(to);
        let raw = self
            .timed(id, "eth_getLogs", &r.url, r.provider.get_logs(&filter))
            .await?;
        let mut logs: Vec<SeenLog> = raw
            .into_iter()
            .map(|l| SeenLog {
                block_number: l.block_number.unwrap_or_default(),
                block_hash: l.block_hash.unwrap_or_default(),
                tx_hash: l.transaction_hash.unwrap_or_default(),
                log_index: l.log_index.unwrap_or_default(),
                address: l.address(),
                topics: l.topics().to_vec(),
                data: l.data().data.clone(),
            })
            .collect();
        logs.sort_by_key(|l| (l.block_number, l.log_index));
        Ok(RpcView {
            url: r.url.clone(),
            chain_id,
            end_hash,
            logs,
        })
    }

    /// Checks one agreed log and attests it.
    async fn handle(&self, src: &VerifierChain, log: &SeenLog) -> Result<(), VerifierError> {
        match check_packet(&self.config, src, log) {
            Ok(a) => self.attest(src, &a).await,
            Err(r) if r.is_foreign() => {
                tracing::debug!(chain_id = src.chain_id, tx = %log.tx_hash, reason = %r, "not an escrow packet; skipped");
                Ok(())
            }
            Err(r) => {
                self.health.rejected.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(chain_id = src.chain_id, tx = %log.tx_hash, block = log.block_number, reason = %r, "packet refused; not attested");
                Ok(())
            }
        }
    }

    /// Where `a` stands on its destination, from this key's point of view.
    async fn state(
        &self,
        src: &VerifierChain,
        dst: &VerifierChain,
        w: &Rpc,
        a: &Attestation,
    ) -> Result<DeliveryState, VerifierError> {
        let id = dst.chain_id;
        let p = &a.packet;
        let endpoint = ILayerZeroEndpointV2::new(dst.endpoint, w.provider.clone());
        let receiver = p.receiver_address();
        let lazy = self
            .timed(
                id,
                "lazyInboundNonce",
                &w.url,
                endpoint
                    .lazyInboundNonce(receiver, p.src_eid, p.sender)
                    .call(),
            )
            .await?;
        let stored = self
            .timed(
                id,
                "inboundPayloadHash",
                &w.url,
                endpoint
                    .inboundPayloadHash(receiver, p.src_eid, p.sender, p.nonce)
                    .call(),
            )
            .await?;
        let uln = ILocalReceiveUln::new(dst.receive_lib, w.provider.clone());
        let mine = self
            .timed(
                id,
                "hashLookup",
                &w.url,
                uln.hashLookup(a.header_hash(), p.payload_hash(), self.me)
                    .call(),
            )
            .await?;
        let verified = mine.submitted && mine.confirmations >= src.confirmations;
        Ok(DeliveryState::decide(
            p.nonce,
            lazy,
            stored,
            p.payload_hash(),
            verified,
        ))
    }

    /// Calls `verify` on the destination unless the packet is already verified by this key,
    /// committed or delivered there.
    async fn attest(&self, src: &VerifierChain, a: &Attestation) -> Result<(), VerifierError> {
        let dst = self
            .config
            .chains
            .iter()
            .find(|c| c.chain_id == a.dst_chain_id)
            .ok_or_else(|| VerifierError::Config(format!("no chain {}", a.dst_chain_id)))?;
        let (Some(w), Some(lock)) = (
            self.writers.get(&dst.chain_id),
            self.send_locks.get(&dst.chain_id),
        ) else {
            return Err(VerifierError::Config(format!(
                "no connection to chain {}",
                dst.chain_id
            )));
        };
        let p = &a.packet;
        let _guard = lock.lock().await;
        let state = self.state(src, dst, w, a).await?;
        if state != DeliveryState::Pending {
            self.health.already_done.fetch_add(1, Ordering::Relaxed);
            tracing::debug!(path = %p.path(), nonce = p.nonce, ?state, "already attested or past it");
            return Ok(());
        }
        let uln = ILocalReceiveUln::new(dst.receive_lib, w.provider.clone());
        let call = uln.verify(a.header(), p.payload_hash(), src.confirmations);
        let pending = self
            .timed(dst.chain_id, "verify", &w.url, call.send())
            .await?;
        let receipt = self
            .timed(
                dst.chain_id,
                "verify receipt",
                &w.url,
                pending.get_receipt(),
            )
            .await?;
        if !receipt.status() {
            return Err(VerifierError::Reverted {
                chain_id: dst.chain_id,
                nonce: p.nonce,
                tx: receipt.transaction_hash,
            });
        }
        self.health.verified.fetch_add(1, Ordering::Relaxed);
        tracing::info!(
            path = %p.path(),
            nonce = p.nonce,
            guid = %p.guid,
            dst_chain_id = dst.chain_id,
            tx = %receipt.transaction_hash,
            gas_used = receipt.gas_used,
            "packet verified"
        );
        Ok(())
    }
}
