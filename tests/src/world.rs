//! One test's world: a fresh devnet, the coordinator, two platforms with their webhook
//! endpoints, the two parties' custody.

use crate::api::{Api, DepositInstruction, Trade};
use crate::chain::{Chain, Custody};
use crate::devnet::{Devnet, free_port};
use crate::process::{Coordinator, CoordinatorSettings, evidence_verify, write_config};
use crate::proxy::{ProxyMode, RpcProxy};
use crate::verifier::VerifierProc;
use crate::webhooks::{Delivery, Printer, WebhookReceiver};
use crate::{POLL, STEP_TIMEOUT};
use alloy::primitives::{Address, B256, U256, keccak256};
use eyre::{WrapErr, bail, eyre};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::process::Output;
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
        let devnet = Devnet::start(&dir.join("devnet")).await?;
        let info = devnet.info.clone();
        let chain_a = Chain::connect(&info.chains[0])?;
        let chain_b = Chain::connect(&info.chains[1])?;
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
        for (key, name) in [
            ("seller", &opts.platform_names.0),
            ("buyer", &opts.platform_names.1),
        ] {
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
        let buyer_platform = platforms.pop().ok_or_else(|| eyre!("no buyer platform"))?;
        let seller_platform = platforms.pop().ok_or_else(|| eyre!("no seller platform"))?;
        let seller = Custody::new(&info.parties.seller.private_key, &info.chains)?;
        let buyer = Custody::new(&info.parties.buyer.private_key, &info.chains)?;
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

    /// The chain with this chain id.
    pub fn chain(&self, chain_id: u64) -> eyre::Result<&Chain> {
        [&self.chain_a, &self.chain_b]
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

    /// Waits for the `settlement.state.<state>` webhook of one settlement at one platform.
    pub async fn wait_webhook(
        &self,
        platform: &Platform,
        id: &str,
        state: &str,
    ) -> eyre::Result<Delivery> {
        let event = format!("settlement.state.{}", state.to_ascii_lowercase());
        let started = Instant::now();
        loop {
            if let Some(d) = self
                .hooks
                .events(&platform.key, id)
                .into_iter()
                .find(|d| d.event == event)
            {
                return Ok(d);
            }
            if started.elapsed() > STEP_TIMEOUT {
                bail!(
                    "no {event} webhook at {} after {} s\n{}",
                    platform.name,
                    STEP_TIMEOUT.as_secs(),
                    self.context(Some(id)).await
                );
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// The `settlement.state.*` events one platform received for a settlement, one per
    /// webhook-id, e.g. `["compliance_checking", ..., "finalized"]`, in state-machine order:
    /// deliveries run concurrently and may arrive out of order (two transitions from one
    /// block are milliseconds apart), so they are chained by `data.previous_state` →
    /// `data.state`, as a receiver would. Deliveries that do not fit the chain (a duplicate,
    /// a gap) are appended in arrival order, so a comparison still shows them.
    pub fn webhook_states(&self, platform: &Platform, id: &str) -> Vec<String> {
        let mut left: Vec<(Option<String>, String, String)> = self
            .hooks
            .events(&platform.key, id)
            .into_iter()
            .filter_map(|d| {
                let name = d.event.strip_prefix("settlement.state.")?.to_string();
                let data = &d.body["data"];
                let prev = data["previous_state"].as_str().map(str::to_string);
                let state = data["state"].as_str().unwrap_or_default().to_string();
                Some((prev, state, name))
            })
            .collect();
        let mut out = Vec::new();
        let mut cur: Option<String> = None;
        while let Some(i) = left.iter().position(|(p, _, _)| *p == cur) {
            let (_, state, name) = left.remove(i);
            out.push(name);
            cur = Some(state);
        }
        out.extend(left.into_iter().map(|(_, _, name)| name));
        out
    }

    /// Checks the webhooks of both platforms for one settlement: no refused request, each
    /// event delivered under exactly one webhook-id, and the state events equal to the
    /// settlement's transitions (lowercase) in order.
    pub async fn check_webhooks(&self, id: &str) -> eyre::Result<()> {
        let rejected = self.hooks.rejected();
        if !rejected.is_empty() {
            bail!("webhook requests refused: {rejected:?}");
        }
        let transitions: Vec<String> = self
            .transitions(id)
            .await?
            .iter()
            .map(|s| s.to_ascii_lowercase())
            .collect();
        for p in [&self.seller_platform, &self.buyer_platform] {
            let events = self.hooks.events(&p.key, id);
            let mut names: Vec<&str> = events.iter().map(|d| d.event.as_str()).collect();
            names.sort_unstable();
            let before = names.len();
            names.dedup();
            if names.len() != before {
                bail!(
                    "{}: one event under several webhook-ids (delivered twice as different events): {:?}",
                    p.name,
                    events
                        .iter()
                        .map(|d| (&d.event, &d.webhook_id))
                        .collect::<Vec<_>>()
                );
            }
            let states = self.webhook_states(p, id);
            if states != transitions {
                bail!(
                    "{}: state webhooks {states:?} differ from the transitions {transitions:?}",
                    p.name
                );
            }
        }
        Ok(())
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

    /// The evidence bundle of a settlement (`/evidence`, the bundle member when wrapped).
    pub async fn evidence_bundle(&self, id: &str) -> eyre::Result<Value> {
        let v = self
            .api
            .get_ok(
                &self.seller_platform.token,
                &format!("/v1/settlements/{id}/evidence"),
            )
            .await?;
        if v.get("bundle_version").is_some() {
            return Ok(v);
        }
        match v.get("bundle") {
            Some(b) if b.get("bundle_version").is_some() => Ok(b.clone()),
            _ => bail!("no evidence bundle in /evidence: {v}"),
        }
    }

    /// Writes `bundle` to the working directory and runs `lockstep evidence verify` against
    /// both chains.
    pub fn verify_evidence(&self, bundle: &Value, file: &str) -> eyre::Result<Output> {
        let path = self.dir.join(file);
        std::fs::write(&path, serde_json::to_vec_pretty(bundle)?)?;
        let rpcs: Vec<(u64, String)> = [&self.chain_a, &self.chain_b]
            .iter()
            .map(|c| (c.info.chain_id, c.info.rpc_url.clone()))
            .collect();
        evidence_verify(&path, &rpcs)
    }

    /// `lockstep evidence bundle FACTS`: a bundle rebuilt (consistently) from `facts`.
    pub fn rebuild_bundle(&self, facts: &Value, file: &str) -> eyre::Result<Value> {
        let path = self.dir.join(file);
        std::fs::write(&path, serde_json::to_vec_pretty(facts)?)?;
        let out = std::process::Command::new(crate::devnet::lockstep_bin()?)
            .args(["evidence", "bundle"])
            .arg(&path)
            .output()?;
        if !out.status.success() {
            bail!(
                "lockstep evidence bundle failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(serde_json::from_slice(&out.stdout)?)
    }

    /// `lockstep evidence verify BUNDLE` without `--rpc` (content only).
    pub fn verify_evidence_offline(&self, bundle: &Value, file: &str) -> eyre::Result<Output> {
        let path = self.dir.join(file);
        std::fs::write(&path, serde_json::to_vec_pretty(bundle)?)?;
        evidence_verify(&path, &[])
    }

    /// Moves both chains' clocks to `timestamp` (one block each).
    pub async fn warp_to(&self, timestamp: u64) -> eyre::Result<()> {
        self.chain_a.warp_to(timestamp).await?;
        self.chain_b.warp_to(timestamp).await
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
