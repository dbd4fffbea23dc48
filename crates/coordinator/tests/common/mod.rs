//! Test harness: a real coordinator on 127.0.0.1:0 over SQLite or PostgreSQL, driven
//! through real HTTP with reqwest.
#![allow(dead_code, clippy::unwrap_used, unreachable_pub, missing_docs)]

use alloy::primitives::Address;
use alloy::signers::Signature;
use alloy::signers::local::PrivateKeySigner;
use lockstep_coordinator::config::Config;
use lockstep_coordinator::server::{Coordinator, Extras, Server};
use lockstep_coordinator::terms::{
    Registration, registration_signing_hash, terms_from_json, terms_hash,
};
use lockstep_core::{EscrowChain, SettlementRegistrar};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::Executor;
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub const CHAIN_A: u64 = 31337;
pub const CHAIN_B: u64 = 31338;
pub const ESCROW_A: &str = "0x00000000000000000000000000000000000E5C01";
pub const ESCROW_B: &str = "0x00000000000000000000000000000000000E5C02";
pub const ASSET: &str = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed";
pub const USDC: &str = "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359";
pub const OTHER_TOKEN: &str = "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB";
pub const SELLER_WALLET: &str = "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb";
pub const BUYER_WALLET: &str = "0x52908400098527886E0F7030069857D2E4169EE7";
pub const ZERO_ADDRESS: &str = "0x0000000000000000000000000000000000000000";
pub const SANCTIONED_WALLET: &str = "0x8617E340B3D01FA5F11F306F4090FD50E238070D";

/// A fresh database URL for the backend, or `None` (PostgreSQL not available).
pub async fn database_url(backend: Backend, dir: &std::path::Path) -> Option<String> {
    match backend {
        Backend::Sqlite => Some(format!("sqlite://{}", dir.join("lockstep.db").display())),
        Backend::Postgres => {
            let Ok(admin) = std::env::var("LOCKSTEP_TEST_POSTGRES_URL") else {
                eprintln!(
                    "\n!!!!! SKIPPING PostgreSQL test: LOCKSTEP_TEST_POSTGRES_URL is not set (run under script/with-postgres) !!!!!\n"
                );
                return None;
            };
            sqlx::any::install_default_drivers();
            let pool = sqlx::AnyPool::connect(&admin)
                .await
                .expect("LOCKSTEP_TEST_POSTGRES_URL is set but the server does not answer");
            let name = format!(
                "lockstep_test_{}",
                ulid::Ulid::new().to_string().to_lowercase()
            );
            pool.execute(format!("CREATE DATABASE {name}").as_str())
                .await
                .unwrap();
            pool.close().await;
            let base = admin.rsplit_once('/').map(|(b, _)| b.to_string()).unwrap();
            Some(format!("{base}/{name}"))
        }
    }
}

pub struct Env {
    pub registrar: Option<std::sync::Arc<dyn SettlementRegistrar>>,
    pub eligibility: Option<std::sync::Arc<dyn lockstep_core::TransferEligibility>>,
    /// Resolves webhook target names (default: the system resolver).
    pub webhook_lookup: Option<Arc<dyn lockstep_coordinator::webhooks::Lookup>>,
    /// The relayer's packets (`/v1/operator/packets`, the stuck report).
    pub packets: Option<Arc<dyn lockstep_core::PacketDesk>>,
    pub deposit_log: Option<Arc<dyn lockstep_core::DepositLog>>,
    /// Serve the chain side's store as the packet desk (reopened at every boot).
    pub chain_store: bool,
    pub dir: tempfile::TempDir,
    pub config: Config,
    pub escrows: Vec<EscrowChain>,
    pub attester: PrivateKeySigner,
    pub server: Option<Server>,
    pub base: String,
    pub http: reqwest::Client,
}

/// The two test chains' escrow deployments.
pub fn escrows() -> Vec<EscrowChain> {
    vec![
        EscrowChain {
            chain_id: CHAIN_A,
            eid: 40161,
            escrow: ESCROW_A.parse().unwrap(),
            max_settlement_duration_secs: None,
        },
        EscrowChain {
            chain_id: CHAIN_B,
            eid: 40162,
            escrow: ESCROW_B.parse().unwrap(),
            max_settlement_duration_secs: None,
        },
    ]
}

pub fn base_config(db_url: String) -> Config {
    let mut c = Config {
        listen: "127.0.0.1:0".into(),
        database_url: Some(db_url),
        ..Config::default()
    };
    // Fast retries (200 ms doubling, ten attempts) and loopback receivers allowed.
    c.webhooks.retry_schedule_ms = (0..9).map(|n| 200 << n).collect();
    c.webhooks.allow_private_targets = vec!["127.0.0.1/32".parse().unwrap()];
    c.webhooks.poll_interval_ms = 50;
    c.expiry_sweep_interval_ms = 200;
    c
}

impl Env {
    /// Starts a coordinator; `tweak` edits the configuration first. `None` when the
    /// backend is not available (PostgreSQL without the env var).
    pub async fn start(
        backend: Backend,
        tweak: impl FnOnce(&mut Config, &std::path::Path),
    ) -> Option<Env> {
        let dir = tempfile::tempdir().unwrap();
        let url = database_url(backend, dir.path()).await?;
        let mut config = base_config(url);
        tweak(&mut config, dir.path());
        let attester = PrivateKeySigner::random();
        let mut env = Env {
            registrar: None,
            eligibility: None,
            webhook_lookup: None,
            packets: None,
            deposit_log: None,
            chain_store: false,
            dir,
            config,
            escrows: escrows(),
            attester,
            server: None,
            base: String::new(),
            http: reqwest::Client::new(),
        };
        env.boot().await;
        Some(env)
    }

    /// Restarts with a registrar plugged in.
    pub async fn with_registrar(&mut self, r: std::sync::Arc<dyn SettlementRegistrar>) {
        self.registrar = Some(r);
        self.restart().await;
    }

    /// Restarts with the chain side's store (migrated on the coordinator's database at
    /// every boot) as the packet desk; returns that store.
    pub async fn with_chain_store(&mut self) -> lockstep_chain::ChainStore {
        self.chain_store = true;
        self.restart().await;
        lockstep_chain::ChainStore::open(self.db().clone())
            .await
            .unwrap()
    }

    async fn boot(&mut self) {
        let c = Coordinator::open(
            self.config.clone(),
            self.escrows.clone(),
            self.attester.clone(),
        )
        .await
        .unwrap();
        if self.chain_store {
            let store = lockstep_chain::ChainStore::open(c.db().clone())
                .await
                .unwrap();
            self.packets = Some(Arc::new(store.clone()));
            self.deposit_log = Some(Arc::new(store));
        }
        let s = c
            .start(Extras {
                registrar: self.registrar.clone(),
                eligibility: self.eligibility.clone(),
                webhook_lookup: self.webhook_lookup.clone(),
                packets: self.packets.clone(),
                bundle_anchors: None,
                deposit_log: self.deposit_log.clone(),
                ..Extras::default()
            })
            .await
            .unwrap();
        self.base = format!("http://{}", s.addr());
        self.server = Some(s);
    }

    /// Graceful shutdown and a fresh start on the same database.
    pub async fn restart(&mut self) {
        if let Some(s) = self.server.take() {
            s.shutdown().await;
        }
        self.boot().await;
    }

    pub async fn stop(mut self) {
        if let Some(s) = self.server.take() {
            s.shutdown().await;
        }
    }

    pub fn db(&self) -> &lockstep_core::Db {
        self.server.as_ref().unwrap().db()
    }

    /// The `Ledger` port the chain side would be given.
    pub fn ledger(&self) -> std::sync::Arc<dyn lockstep_core::Ledger> {
        self.server.as_ref().unwrap().ledger().clone()
    }

    /// A platform and its all-scopes token.
    pub async fn platform(&self, name: &str) -> (String, String) {
        let p = lockstep_coordinator::admin::create_platform(self.db(), name)
            .await
            .unwrap();
        (p.platform_id, p.token)
    }

    pub async fn operator(&self) -> String {
        lockstep_coordinator::admin::issue_token(
            self.db(),
            None,
            &[lockstep_coordinator::auth::Scope::Operator],
        )
        .await
        .unwrap()
        .token
    }

    pub async fn req(
        &self,
        method: reqwest::Method,
        token: Option<&str>,
        path: &str,
        body: Option<&Value>,
    ) -> (StatusCode, Value) {
        let mut r = self.http.request(method, format!("{}{}", self.base, path));
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        if let Some(b) = body {
            r = r.json(b);
        }
        let resp = r.send().await.unwrap();
        let status = resp.status();
        let text = resp.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    pub async fn get(&self, token: &str, path: &str) -> (StatusCode, Value) {
        self.req(reqwest::Method::GET, Some(token), path, None)
            .await
    }

    pub async fn post(&self, token: &str, path: &str, body: &Value) -> (StatusCode, Value) {
        self.req(reqwest::Method::POST, Some(token), path, Some(body))
            .await
    }

    /// Posts `n` seller first sides (keys `s-{tag}-{i}`, no trade reference) and returns
    /// the trade reference each was given.
    pub async fn first_sides(&self, token: &str, tag: &str, n: usize) -> Vec<String> {
        let mut refs = Vec::with_capacity(n);
        for i in 0..n {
            let (s, first) = self
                .post(
                    token,
                    "/v1/instructions",
                    &seller(&format!("s-{tag}-{i}"), None),
                )
                .await;
            assert_eq!(s, StatusCode::CREATED, "{first}");
            refs.push(first["trade_reference"].as_str().unwrap().to_string());
        }
        refs
    }

    /// Posts `instructions` concurrently; on SQLite while the writer is held for 300 ms,
    /// so they all queue for the intake and are taken as one group (one transaction, one
    /// commit). Answers in the order given.
    pub async fn post_as_one_group(
        &self,
        backend: Backend,
        token: &str,
        instructions: &[Value],
    ) -> Vec<(StatusCode, Value)> {
        let writer = match backend {
            Backend::Sqlite => Some(self.db().pool().acquire().await.unwrap()),
            Backend::Postgres => None,
        };
        let submitted = futures_join_all(
            instructions
                .iter()
                .map(|r| self.post(token, "/v1/instructions", r)),
        );
        let release = async {
            tokio::time::sleep(std::time::Duration::from_millis(300)).await;
            drop(writer);
        };
        tokio::join!(submitted, release).0
    }

    /// Polls a settlement until it is in `state` (10 s at most).
    pub async fn wait_state(&self, token: &str, id: &str, state: &str) -> Value {
        let mut last = Value::Null;
        for _ in 0..200 {
            let (s, v) = self.get(token, &format!("/v1/settlements/{id}")).await;
            assert_eq!(s, StatusCode::OK, "{v}");
            if v["state"] == state {
                return v;
            }
            last = v;
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("settlement {id} never reached {state}: {last:#}");
    }
}

pub fn timeout_at() -> String {
    (chrono::Utc::now() + chrono::Duration::hours(2)).to_rfc3339()
}

/// A seller instruction on one chain: delivers `qty` ASSET, receives `price` USDC.
pub fn seller(key: &str, trade_reference: Option<&str>) -> Value {
    instruction(key, trade_reference, "seller")
}

/// The matching buyer instruction.
pub fn buyer(key: &str, trade_reference: Option<&str>) -> Value {
    instruction(key, trade_reference, "buyer")
}

/// One side of the standard single-chain trade: the seller delivers ASSET and receives
/// USDC, the buyer the reverse.
fn instruction(key: &str, trade_reference: Option<&str>, role: &str) -> Value {
    let (name, wallet, asset_dir, cash_dir) = if role == "seller" {
        ("Alpha Securities AG", SELLER_WALLET, "deliver", "receive")
    } else {
        ("Beta Capital LLC", BUYER_WALLET, "receive", "deliver")
    };
    json!({
        "idempotency_key": key,
        "template_slug": "dvp-standard",
        "role": role,
        "party": {"external_reference": format!("order-{key}"), "name": name, "wallet_address": wallet, "chain_id": CHAIN_A},
        "legs": [
            {"leg_type": "asset_delivery", "instrument_id": ASSET, "quantity": "1000", "direction": asset_dir, "chain_id": CHAIN_A},
            {"leg_type": "payment", "instrument_id": USDC, "quantity": "250000000", "direction": cash_dir, "chain_id": CHAIN_A}
        ],
        "timeout_at": timeout_at(),
        "trade_reference": trade_reference,
    })
}

/// Submits a seller first side (A) and a matching buyer (B); returns the settlement id.
pub async fn matched_pair(
    env: &Env,
    a: &str,
    b: &str,
    tag: &str,
    tweak_buyer: impl FnOnce(&mut Value),
) -> (String, Value) {
    let (s, first) = env
        .post(a, "/v1/instructions", &seller(&format!("s-{tag}"), None))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{first}");
    let tr = first["trade_reference"].as_str().unwrap().to_string();
    let mut second = buyer(&format!("b-{tag}"), Some(&tr));
    tweak_buyer(&mut second);
    let (s, v) = env.post(b, "/v1/instructions", &second).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    (
        v["settlement_id"].as_str().unwrap_or_default().to_string(),
        v,
    )
}

/// One test body, two backends.
#[macro_export]
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $name() { super::$name($crate::common::Backend::Sqlite).await } )*
        }
        mod postgres {
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $name() { super::$name($crate::common::Backend::Postgres).await } )*
        }
    };
}

/// Checks every attestation recovers to the attester over the documented EIP-712 digest.
pub fn check_attestations(env: &Env, v: &Value) -> usize {
    let terms = terms_from_json(&v["terms"]).expect("terms present");
    let th = terms_hash(&terms);
    assert_eq!(v["terms_hash"].as_str().unwrap(), th.to_string());
    let decision_ref = v["decision_ref"].as_str().unwrap();
    assert_eq!(
        format!("sha256:{}", hex::encode(terms.decisionRef)),
        decision_ref
    );
    let reg = Registration {
        settlementId: terms.settlementId,
        termsHash: th,
        decisionRef: terms.decisionRef,
    };
    let atts = v["attestations"].as_array().unwrap();
    for a in atts {
        let escrow: Address = a["escrow"].as_str().unwrap().parse().unwrap();
        let hash = registration_signing_hash(a["chain_id"].as_u64().unwrap(), escrow, &reg);
        let sig: Signature = a["signature"].as_str().unwrap().parse().unwrap();
        assert_eq!(
            sig.recover_address_from_prehash(&hash).unwrap(),
            env.attester.address()
        );
    }
    atts.len()
}

pub type Received = Arc<Mutex<Vec<(reqwest::header::HeaderMap, String)>>>;

/// A webhook receiver on loopback that answers 500 to the first `fail_first` requests.
pub async fn receiver(fail_first: usize) -> (String, Received) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    receiver_on(listener, fail_first).await
}

/// [`receiver`] on a given listener; the URL is `http://<its address>/hook`.
pub async fn receiver_on(
    listener: tokio::net::TcpListener,
    fail_first: usize,
) -> (String, Received) {
    let got: Received = Arc::new(Mutex::new(Vec::new()));
    let g = got.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: axum::http::HeaderMap, body: String| {
            let g = g.clone();
            async move {
                let mut v = g.lock().unwrap();
                let mut h = reqwest::header::HeaderMap::new();
                for (k, val) in headers.iter() {
                    h.insert(
                        reqwest::header::HeaderName::from_bytes(k.as_str().as_bytes()).unwrap(),
                        reqwest::header::HeaderValue::from_bytes(val.as_bytes()).unwrap(),
                    );
                }
                v.push((h, body));
                if v.len() <= fail_first {
                    axum::http::StatusCode::INTERNAL_SERVER_ERROR
                } else {
                    axum::http::StatusCode::NO_CONTENT
                }
            }
        }),
    );
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, got)
}

/// A loopback port nothing listens on (bound, then released).
pub async fn closed_port() -> u16 {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    l.local_addr().unwrap().port()
}

pub fn events_of(got: &Received) -> Vec<String> {
    got.lock()
        .unwrap()
        .iter()
        .map(|(_, b)| {
            serde_json::from_str::<Value>(b).unwrap()["event"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect()
}

pub async fn wait_for<F: Fn() -> bool>(f: F, what: &str) {
    for _ in 0..200 {
        if f() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}");
}

/// Runs futures concurrently on the current task (no extra dependency).
pub async fn futures_join_all<F: std::future::Future>(
    fs: impl Iterator<Item = F>,
) -> Vec<F::Output> {
    let mut set = Vec::new();
    for f in fs {
        set.push(Box::pin(f));
    }
    let mut out: Vec<Option<F::Output>> = (0..set.len()).map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (i, f) in set.iter_mut().enumerate() {
            if out[i].is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => out[i] = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    out.into_iter().map(|o| o.unwrap()).collect()
}
