//! One test's world: a fresh devnet, the coordinator, two platforms with their webhook
//! endpoints, the two parties' custody.

use crate::api::{Api, DepositInstruction, Trade};
use crate::chain::{Chain, Custody};
use crate::devnet::{Devnet, free_port};
use crate::process::{Coordinator, CoordinatorSettings, write_config};
use crate::proxy::{ProxyMode, RpcProxy};
use crate::verifier::VerifierProc;
use crate::webhooks::{Printer, WebhookReceiver};
use crate::{POLL, STEP_TIMEOUT};
use alloy::primitives::{Address, B256, U256, keccak256};
use eyre::{WrapErr, bail, eyre};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// How to set the world up.
#[derive(Clone)]
pub struct WorldOptions {
    /// Names the working directory under `target/e2e/`.
    pub name: String,
    /// Coordinator tunables (confirmations...).
    pub settings: CoordinatorSettings,
    /// Names of the seller's and the buyer's platforms.
    pub platform_names: (String, String),
    /// Called for every accepted webhook delivery (the demo prints them).
    pub on_webhook: Option<Printer>,
    /// Puts a [`RpcProxy`] in this mode between the coordinator and chain B's RPC.
    pub proxy_b: Option<ProxyMode>,
    /// Replaces the verifier's RPC endpoints of chain A / chain B (fault tests).
    pub verifier_rpcs: [Option<Vec<String>>; 2],
    /// Gives the verifier a second RPC endpoint for chain B: a [`RpcProxy`] in this mode
    /// (after chain B's own URL, unless `verifier_rpcs` says otherwise).
    pub verifier_proxy_b: Option<ProxyMode>,
    /// How many chains (2, or 3 for a three-party world: chain C, the FX provider's
    /// platform and custody).
    pub chains: usize,
}

impl WorldOptions {
    /// Defaults for a test named `name`.
    pub fn new(name: &str) -> WorldOptions {
        WorldOptions {
            name: name.to_string(),
            settings: CoordinatorSettings::default(),
            platform_names: ("Bond issuer platform".into(), "Fund platform".into()),
            on_webhook: None,
            proxy_b: None,
            verifier_rpcs: [None, None],
            verifier_proxy_b: None,
            chains: 2,
        }
    }
}

/// A platform: its name, id, token and the key of its webhook URL.
#[derive(Debug, Clone)]
pub struct Platform {
    /// Display name.
    pub name: String,
    /// `plt_...`.
    pub id: String,
    /// Bearer token (all platform scopes).
    pub token: String,
    /// `seller` or `buyer`: the receiver path and [`Delivery::platform`].
    pub key: String,
}

/// A matched settlement.
#[derive(Debug, Clone)]
pub struct Submitted {
    /// The coordinator's settlement id.
    pub settlement_id: String,
    /// The trade reference both instructions carry.
    pub trade_reference: String,
    /// `keccak256(trade_reference)`: the on-chain settlement id.
    pub onchain_id: B256,
    /// When the second instruction was answered.
    pub matched_at: Instant,
}

/// Everything one test needs. Dropping it stops the coordinator and the devnet; the
/// working directory is kept when the test failed (panicking), removed otherwise.
pub struct World {
    /// Working directory (`target/e2e/<name>-<pid>-<n>`).
    pub dir: PathBuf,
    /// The devnet.
    pub devnet: Devnet,
    /// The daemon.
    pub coordinator: Coordinator,
    /// The independent verifier (second DVN), its own process and key.
    pub verifier: VerifierProc,
    /// HTTP client.
    pub api: Api,
    /// Webhook receiver.
    pub hooks: WebhookReceiver,
    /// The seller's platform (key `seller`).
    pub seller_platform: Platform,
    /// The buyer's platform (key `buyer`).
    pub buyer_platform: Platform,
    /// Chain A (hub of the default cross-chain trade).
    pub chain_a: Chain,
    /// Chain B.
    pub chain_b: Chain,
    /// Chain C (a three-chain world only).
    pub chain_c: Option<Chain>,
    /// The FX provider's platform, key `fx_provider` (a three-chain world only).
    pub fx_platform: Option<Platform>,
    /// The FX provider's custody, anvil account 6 (a three-chain world only).
    pub fx: Option<Custody>,
    /// The seller's custody (anvil account 3).
    pub seller: Custody,
    /// The buyer's custody (anvil account 4).
    pub buyer: Custody,
    /// Head of each chain right after the devnet was ready (before any settlement traffic).
    pub start_blocks: (u64, u64),
    /// The proxy in front of chain B's RPC, when the options asked for one.
    pub proxy_b: Option<RpcProxy>,
    /// The verifier's second endpoint for chain B, when the options asked for one.
    pub verifier_proxy_b: Option<RpcProxy>,
    passed: bool,
}

impl World {
    /// A fresh devnet, the coordinator, two platforms with webhook endpoints.
    pub async fn start(opts: WorldOptions) -> eyre::Result<World> {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let dir = crate::devnet::target_dir().join("e2e").join(format!(
            "{}-{}-{n}",
            opts.name,
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)?;
        let devnet = Devnet::start_with(&dir.join("devnet"), opts.chains).await?;
        let info = devnet.info.clone();
        let chain_a = Chain::connect(&info.chains[0])?;
        let chain_b = Chain::connect(&info.chains[1])?;
        let chain_c = info.chains.get(2).map(Chain::connect).transpose()?;
        let start_blocks = (chain_a.head().await?.0, chain_b.head().await?.0);
        let mut verifier_rpcs = opts.verifier_rpcs.clone();
        let verifier_proxy_b = match opts.verifier_proxy_b {
            Some(mode) => {
                let p = RpcProxy::start(&info.chains[1].rpc_url, mode).await?;
                verifier_rpcs[1]
                    .get_or_insert_with(|| vec![info.chains[1].rpc_url.clone()])
                    .push(p.url());
                Some(p)
            }
            None => None,
        };
        let mut verifier = VerifierProc::new(&info, &dir, &verifier_rpcs)?;
        verifier.start().await?;

        let listen = format!("127.0.0.1:{}", free_port()?);
        let config = dir.join("lockstep.toml");
        let mut settings = opts.settings.clone();
        let proxy_b = match opts.proxy_b {
            Some(mode) => Some(RpcProxy::start(&info.chains[1].rpc_url, mode).await?),
            None => None,
        };
        if let Some(p) = &proxy_b {
            settings.rpc_urls.insert(info.chains[1].chain_id, p.url());
        }
        write_config(&info, &config, &listen, &dir.join("data"), &settings)?;
        let mut coordinator = Coordinator::new(
            config,
            dir.join("coordinator.log"),
            &listen,
            &info.accounts.attester.private_key,
            &info.accounts.relayer.private_key,
        )?;
        coordinator.start().await?;
        let api = Api::new(&coordinator.url)?;
        let hooks = WebhookReceiver::start(opts.on_webhook.clone()).await?;

        let mut platforms = Vec::new();
        let fx_name = "FX desk".to_string();
        let mut names = vec![
            ("seller", &opts.platform_names.0),
            ("buyer", &opts.platform_names.1),
        ];
        if chain_c.is_some() {
            names.push(("fx_provider", &fx_name));
        }
        for (key, name) in names {
            let (id, token) = coordinator.create_platform(name)?;
            let ep = api
                .post_ok(
                    &token,
                    "/v1/webhook-endpoints",
                    &json!({"url": hooks.url_for(key), "description": format!("{name} (e2e receiver)")}),
                )
                .await?;
            let secret = ep["secret"]
                .as_str()
                .ok_or_else(|| eyre!("webhook endpoint without secret: {ep}"))?;
            hooks.set_secret(key, secret);
            platforms.push(Platform {
                name: name.clone(),
                id,
                token,
                key: key.to_string(),
            });
        }
        let fx_platform = (platforms.len() > 2).then(|| platforms.pop()).flatten();
        let buyer_platform = platforms.pop().ok_or_else(|| eyre!("no buyer platform"))?;
        let seller_platform = platforms.pop().ok_or_else(|| eyre!("no seller platform"))?;
        let seller = Custody::new(&info.parties.seller.private_key, &info.chains)?;
        let buyer = Custody::new(&info.parties.buyer.private_key, &info.chains)?;
        let fx = match &info.parties.fx_provider {
            Some(p) if chain_c.is_some() => Some(Custody::new(&p.private_key, &info.chains)?),
            _ => None,
        };
        Ok(World {
            dir,
            devnet,
            coordinator,
            verifier,
            api,
            hooks,
            seller_platform,
            buyer_platform,
            chain_a,
            chain_b,
            chain_c,
            fx_platform,
            fx,
            seller,
            buyer,
            start_blocks,
            proxy_b,
            verifier_proxy_b,
            passed: false,
        })
    }

    /// Marks the test as passed: the working directory is removed on drop (it is kept,
    /// with the coordinator's log, when a test ends without calling this).
    pub fn done(mut self) {
        self.passed = true;
    }

    /// Every chain: A, B (and C).
    pub fn chains(&self) -> Vec<&Chain> {
        [&self.chain_a, &self.chain_b]
            .into_iter()
            .chain(self.chain_c.as_ref())
            .collect()
    }

    /// Every platform: the seller's, the buyer's (and the FX provider's).
    pub fn platforms(&self) -> Vec<&Platform> {
        [&self.seller_platform, &self.buyer_platform]
            .into_iter()
            .chain(self.fx_platform.as_ref())
            .collect()
    }

    /// The chain with this chain id.
    pub fn chain(&self, chain_id: u64) -> eyre::Result<&Chain> {
        self.chains()
            .into_iter()
            .find(|c| c.info.chain_id == chain_id)
            .ok_or_else(|| eyre!("no chain {chain_id}"))
    }

    /// 100 BOND on chain A against 2,500 CASH on chain B, deadline in one hour.
    pub fn cross_chain_trade(&self, tag: &str) -> Trade {
        let (a, b) = (&self.chain_a.info, &self.chain_b.info);
        Trade {
            template: "cross-chain-dvp",
            tag: tag.to_string(),
            asset: a.tokens.bond,
            asset_chain: a.chain_id,
            quantity: U256::from(100u64) * U256::from(10u64).pow(U256::from(18u64)),
            cash: b.tokens.cash,
            cash_chain: b.chain_id,
            price: U256::from(2_500_000_000u64),
            seller: self.seller.address,
            seller_chain: a.chain_id,
            buyer: self.buyer.address,
            buyer_chain: b.chain_id,
            timeout_at: chrono::Utc::now() + chrono::Duration::hours(1),
            repo: None,
        }
    }

    /// The same trade with both legs on chain A (`dvp-standard`); mints the buyer's CASH
    /// on chain A first.
    pub async fn single_chain_trade(&self, tag: &str) -> eyre::Result<Trade> {
        let a = &self.chain_a.info;
        let mut t = self.cross_chain_trade(tag);
        t.template = "dvp-standard";
        t.cash = a.tokens.cash;
        t.cash_chain = a.chain_id;
        t.buyer_chain = a.chain_id;
        if self.chain_a.balance(t.cash, self.buyer.address).await? < t.price {
            self.buyer
                .mint(a.chain_id, t.cash, t.price * U256::from(10u64))
                .await?;
        }
        Ok(t)
    }

    /// Submits the seller's then the buyer's instruction; both must be accepted and matched.
    pub async fn submit(&self, trade: &Trade) -> eyre::Result<Submitted> {
        let first = self
            .api
            .post_ok(
                &self.seller_platform.token,
                "/v1/instructions",
                &trade.seller_instruction(),
            )
            .await?;
        let tr = first["trade_reference"]
            .as_str()
            .ok_or_else(|| eyre!("first side without trade_reference: {first}"))?
            .to_string();
        let second = self
            .api
            .post_ok(
                &self.buyer_platform.token,
                "/v1/instructions",
                &trade.buyer_instruction(&tr),
            )
            .await?;
        let matched_at = Instant::now();
        let id = second["settlement_id"]
            .as_str()
            .ok_or_else(|| eyre!("second side not matched: {second}"))?
            .to_string();
        Ok(Submitted {
            settlement_id: id,
            onchain_id: keccak256(tr.as_bytes()),
            trade_reference: tr,
            matched_at,
        })
    }

    /// `GET /v1/settlements/{id}` as the seller's platform.
    pub async fn settlement(&self, id: &str) -> eyre::Result<Value> {
        self.api
            .get_ok(
                &self.seller_platform.token,
                &format!("/v1/settlements/{id}"),
            )
            .await
    }

    /// The settlement's state.
    pub async fn state(&self, id: &str) -> eyre::Result<String> {
        let v = self.settlement(id).await?;
        v["state"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| eyre!("settlement without state: {v}"))
    }

    /// The settlement's state transitions (`to_state` of `/events`, in order).
    pub async fn transitions(&self, id: &str) -> eyre::Result<Vec<String>> {
        let v = self
            .api
            .get_ok(
                &self.seller_platform.token,
                &format!("/v1/settlements/{id}/events"),
            )
            .await?;
        Ok(v["items"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|e| e["to_state"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default())
    }

    /// Context for a failure: state, transitions, webhooks and the coordinator's log tail.
    pub async fn context(&self, id: Option<&str>) -> String {
        let mut s = String::new();
        if let Some(id) = id {
            s.push_str(&format!(
                "settlement {id}: {:?}\ntransitions: {:?}\n",
                self.state(id).await.ok(),
                self.transitions(id).await.ok()
            ));
        }
        let hooks: Vec<String> = self
            .hooks
            .deliveries()
            .iter()
            .map(|d| format!("{}:{}", d.platform, d.event))
            .collect();
        s.push_str(&format!("webhooks: {hooks:?}\n"));
        s.push_str(&format!("rejected webhooks: {:?}\n", self.hooks.rejected()));
        s.push_str(&format!(
            "coordinator log {} (tail):\n{}",
            self.coordinator.log.display(),
            self.coordinator.log_tail(60)
        ));
        s
    }

    /// Polls until the settlement is in `state`; fails at once if it lands in another
    /// terminal state, and after [`STEP_TIMEOUT`] with the context.
    pub async fn wait_state(&self, id: &str, state: &str) -> eyre::Result<Value> {
        self.wait_state_for(id, state, STEP_TIMEOUT).await
    }

    /// [`World::wait_state`] with an explicit timeout.
    pub async fn wait_state_for(
        &self,
        id: &str,
        state: &str,
        timeout: Duration,
    ) -> eyre::Result<Value> {
        let started = Instant::now();
        let terminal = ["FINALIZED", "ROLLED_BACK", "TIMED_OUT"];
        loop {
            let v = self.settlement(id).await?;
            let now = v["state"].as_str().unwrap_or_default();
            if now == state {
                return Ok(v);
            }
            if terminal.contains(&now) {
                bail!(
                    "settlement reached {now} while waiting for {state}\n{}",
                    self.context(Some(id)).await
                );
            }
            if started.elapsed() > timeout {
                bail!(
                    "settlement still {now} after {} s waiting for {state}\n{}",
                    timeout.as_secs(),
                    self.context(Some(id)).await
                );
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// The legs `platform` must fund, once the settlement is awaiting deposits.
    pub async fn deposits(
        &self,
        platform: &Platform,
        id: &str,
    ) -> eyre::Result<Vec<DepositInstruction>> {
        let v = self
            .api
            .get_ok(&platform.token, &format!("/v1/settlements/{id}/deposits"))
            .await?;
        serde_json::from_value(v["items"].clone()).wrap_err_with(|| format!("deposits: {v}"))
    }

    /// The one leg `platform` must fund.
    pub async fn deposit_of(
        &self,
        platform: &Platform,
        id: &str,
    ) -> eyre::Result<DepositInstruction> {
        let mut d = self.deposits(platform, id).await?;
        if d.len() != 1 {
            bail!("{} must fund {} legs, expected 1", platform.name, d.len());
        }
        d.pop().ok_or_else(|| eyre!("no deposit"))
    }

    /// Moves every chain's clock to `timestamp` (one block each).
    pub async fn warp_to(&self, timestamp: u64) -> eyre::Result<()> {
        for c in self.chains() {
            c.warp_to(timestamp).await?;
        }
        Ok(())
    }

    /// The settlement's on-chain `timeoutAt` (unix seconds), from its terms.
    pub async fn timeout_at(&self, id: &str) -> eyre::Result<u64> {
        let v = self.settlement(id).await?;
        let t = &v["terms"];
        for key in ["timeoutAt", "timeout_at"] {
            if let Some(n) = t[key].as_u64() {
                return Ok(n);
            }
            if let Some(n) = t[key].as_str().and_then(|s| s.parse().ok()) {
                return Ok(n);
            }
        }
        if let Some(s) = v["timeout_at"].as_str() {
            let ts = chrono::DateTime::parse_from_rfc3339(s)?;
            return u64::try_from(ts.timestamp()).map_err(|e| eyre!(e));
        }
        bail!("no timeout in the settlement: {v}")
    }

    /// Address labels for reports.
    pub fn label(&self, a: Address) -> String {
        let info = &self.devnet.info;
        if a == info.accounts.relayer.address {
            "relayer (DVN 1 + executor)".into()
        } else if a == info.accounts.verifier.address {
            "verifier (DVN 2)".into()
        } else if a == info.accounts.deployer.address {
            "deployer".into()
        } else if a == self.seller.address {
            "seller".into()
        } else if a == self.buyer.address {
            "buyer".into()
        } else if self.fx.as_ref().is_some_and(|f| f.address == a) {
            "FX provider".into()
        } else {
            a.to_string()
        }
    }
}

impl Drop for World {
    fn drop(&mut self) {
        let _ = self.coordinator.kill();
        if !self.passed {
            eprintln!(
                "e2e: kept {} for inspection (coordinator.log, devnet/devnet.log)",
                self.dir.display()
            );
        } else if std::env::var_os("LOCKSTEP_E2E_KEEP").is_none() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}
