//! The `lockstep` binary, free ports and the devnet child process
//! (`lockstep devnet --no-coordinator`).

use alloy::primitives::Address;
use eyre::{WrapErr, bail, eyre};
use serde::Deserialize;
use std::collections::HashSet;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// The repository root (the directory with `foundry.toml`).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// Cargo's target directory (`CARGO_TARGET_DIR` or `<root>/target`).
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target"))
}

/// The `lockstep` binary: `LOCKSTEP_BIN`, else `target/debug/lockstep`, built with
/// `cargo build -p lockstep-cli` when missing.
pub fn lockstep_bin() -> eyre::Result<PathBuf> {
    static BIN: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(p) = std::env::var_os("LOCKSTEP_BIN") {
            return Ok(PathBuf::from(p));
        }
        let bin = target_dir().join("debug/lockstep");
        if !bin.is_file() {
            eprintln!(
                "e2e: {} is missing: running cargo build -p lockstep-cli",
                bin.display()
            );
            let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
                .args(["build", "-p", "lockstep-cli"])
                .current_dir(repo_root())
                .status()
                .map_err(|e| format!("running cargo build: {e}"))?;
            if !status.success() || !bin.is_file() {
                return Err(format!(
                    "cargo build -p lockstep-cli failed ({status}); build it first"
                ));
            }
        }
        Ok(bin)
    })
    .clone()
    .map_err(|e| eyre!(e))
}

/// A loopback TCP port that was free a moment ago and that this process has not handed out
/// before (parallel tests in one process never get the same port).
pub fn free_port() -> eyre::Result<u16> {
    static GIVEN: OnceLock<Mutex<HashSet<u16>>> = OnceLock::new();
    let given = GIVEN.get_or_init(|| Mutex::new(HashSet::new()));
    for _ in 0..100 {
        let l = std::net::TcpListener::bind("127.0.0.1:0")?;
        let port = l.local_addr()?.port();
        let mut g = given.lock().map_err(|_| eyre!("port registry poisoned"))?;
        if g.insert(port) {
            return Ok(port);
        }
    }
    bail!("no free port found")
}

/// What `lockstep devnet` writes to `devnet.json`.
#[derive(Debug, Clone, Deserialize)]
pub struct DevnetInfo {
    /// The devnet directory.
    pub dir: PathBuf,
    /// The coordinator configuration the devnet wrote (the harness writes its own).
    pub config: PathBuf,
    /// The verifier configuration the devnet wrote (the harness derives its own).
    pub verifier_config: PathBuf,
    /// Chain A, chain B (and chain C on a three-chain devnet).
    pub chains: Vec<ChainInfo>,
    /// Deployer, relayer and attester.
    pub accounts: Accounts,
    /// The seller's and the buyer's custody accounts.
    pub parties: Parties,
}

/// One chain of the devnet.
#[derive(Debug, Clone, Deserialize)]
pub struct ChainInfo {
    /// `A` or `B`.
    pub label: String,
    /// JSON-RPC URL.
    pub rpc_url: String,
    /// EVM chain id.
    pub chain_id: u64,
    /// LayerZero endpoint id.
    pub eid: u32,
    /// The `SettlementEscrow`.
    pub escrow: Address,
    /// LayerZero `EndpointV2`.
    pub endpoint: Address,
    /// `SendUln302`.
    pub send_lib: Address,
    /// `ReceiveUln302`.
    pub receive_lib: Address,
    /// The zero-fee worker (send-side DVN and executor).
    pub worker: Address,
    /// The coordinator's `RelayerDvn` contract: its receive-side DVN and executor.
    pub relayer_dvn: Address,
    /// Demo tokens.
    pub tokens: Tokens,
    /// Chain head before the first deployment transaction.
    pub deploy_block: u64,
    /// The `TimelockController` that owns the escrow (absent before escrow v2).
    #[serde(default)]
    pub timelock: Option<Address>,
    /// The escrow's `maxSettlementDuration`, seconds (absent before escrow v2).
    #[serde(default)]
    pub max_settlement_duration: Option<u64>,
    /// The independent verifier's DVN address (absent before two DVNs).
    #[serde(default)]
    pub verifier_dvn: Option<Address>,
}

/// The two demo tokens of a chain.
#[derive(Debug, Clone, Deserialize)]
pub struct Tokens {
    /// The asset token (18 decimals).
    #[serde(rename = "BOND")]
    pub bond: Address,
    /// The payment token (6 decimals).
    #[serde(rename = "CASH")]
    pub cash: Address,
    /// The demo permissioned token (freezable; absent before escrow v2).
    #[serde(rename = "SEC", default)]
    pub sec: Option<Address>,
}

/// An anvil development account.
#[derive(Debug, Clone, Deserialize)]
pub struct Account {
    /// Address.
    pub address: Address,
    /// Hex private key (public anvil key).
    pub private_key: String,
}

/// The devnet's operator accounts.
#[derive(Debug, Clone, Deserialize)]
pub struct Accounts {
    /// Deploys and owns the contracts.
    pub deployer: Account,
    /// The coordinator's relayer (receive-side DVN, registrations, refunds).
    pub relayer: Account,
    /// Signs the registration attestations.
    pub attester: Account,
    /// The independent verifier's DVN key.
    pub verifier: Account,
}

/// The parties' custody accounts.
#[derive(Debug, Clone, Deserialize)]
pub struct Parties {
    /// Delivers BOND on chain A.
    pub seller: Account,
    /// Pays CASH on chain B.
    pub buyer: Account,
    /// Pays CASH on chain C (a three-chain devnet only).
    #[serde(default)]
    pub fx_provider: Option<Account>,
}

/// A running devnet (`lockstep devnet --no-coordinator --no-verifier`): two anvils with
/// everything deployed (the harness runs the coordinator and the verifier itself). Dropping it closes the child's stdin, which stops the devnet and its anvils.
#[derive(Debug)]
pub struct Devnet {
    child: Child,
    stdin: Option<ChildStdin>,
    /// `devnet.json`.
    pub info: DevnetInfo,
    /// The devnet's output (deploy-local included).
    pub log: PathBuf,
}

impl Devnet {
    /// Starts a two-chain devnet in `dir` on free ports and waits until `devnet.json` exists.
    pub async fn start(dir: &Path) -> eyre::Result<Devnet> {
        Devnet::start_with(dir, 2).await
    }

    /// [`Devnet::start`] with `chains` chains (2 or 3: `lockstep devnet --chains 3`).
    pub async fn start_with(dir: &Path, chains: usize) -> eyre::Result<Devnet> {
        let bin = lockstep_bin()?;
        std::fs::create_dir_all(dir)?;
        let log = dir.join("devnet.log");
        let out = File::create(&log)?;
        let (pa, pb, pc) = (free_port()?, free_port()?, free_port()?);
        let mut child = Command::new(&bin)
            .arg("devnet")
            .arg("--dir")
            .arg(dir)
            .args(["--port-a", &pa.to_string(), "--port-b", &pb.to_string()])
            .args(["--chains", &chains.to_string(), "--port-c", &pc.to_string()])
            .args(["--no-coordinator", "--no-verifier", "--stop-on-stdin-eof"])
            .current_dir(repo_root())
            .stdin(Stdio::piped())
            .stdout(out.try_clone()?)
            .stderr(out)
            .spawn()
            .wrap_err_with(|| format!("starting {} devnet", bin.display()))?;
        let stdin = child.stdin.take();
        let mut devnet_child = Some(child);
        let info_path = dir.join("devnet.json");
        let started = Instant::now();
        // deploy-local runs under a machine-wide lock: parallel devnets queue there.
        let limit = Duration::from_secs(300);
        loop {
            let child = devnet_child
                .as_mut()
                .ok_or_else(|| eyre!("devnet child gone"))?;
            if let Some(status) = child.try_wait()? {
                bail!(
                    "lockstep devnet exited ({status}) before it was ready; its output:\n{}",
                    tail(&log, 40)
                );
            }
            if info_path.is_file() {
                break;
            }
            if started.elapsed() > limit {
                let _ = child.kill();
                bail!(
                    "lockstep devnet not ready after {} s; its output:\n{}",
                    limit.as_secs(),
                    tail(&log, 40)
                );
            }
            tokio::time::sleep(crate::POLL).await;
        }
        let info: DevnetInfo = serde_json::from_str(&std::fs::read_to_string(&info_path)?)
            .wrap_err("parsing devnet.json")?;
        if info.chains.len() != chains {
            bail!(
                "devnet.json lists {} chains, expected {chains}",
                info.chains.len()
            );
        }
        Ok(Devnet {
            child: devnet_child
                .take()
                .ok_or_else(|| eyre!("devnet child gone"))?,
            stdin,
            info,
            log,
        })
    }
}

impl Drop for Devnet {
    fn drop(&mut self) {
        // EOF on stdin: the devnet stops its anvils and exits.
        drop(self.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The last `lines` lines of a text file (empty when unreadable).
pub fn tail(path: &Path, lines: usize) -> String {
    let mut text = String::new();
    if let Ok(mut f) = File::open(path) {
        let _ = f.read_to_string(&mut text);
    }
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}
