//! `lockstep devnet`: two local anvil chains with the real LayerZero v2 stack, the escrows
//! and the demo tokens deployed and wired (`script/deploy-local`), demo balances minted to
//! the two parties, a coordinator configuration for both chains, and (unless
//! `--no-coordinator`) the coordinator itself, until ctrl-c.
//!
//! Everything it starts is a child process and is stopped on the way out. The keys it uses
//! and writes to `devnet.json` are anvil's well-known development keys: public, never to be
//! used anywhere real.

use clap::Args;
use eyre::{WrapErr, bail, eyre};
use serde_json::{Value, json};
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{ExitCode, Stdio};
use std::time::{Duration, Instant};
use tokio::io::AsyncReadExt;
use tokio::process::{Child, Command};

/// Anvil's development accounts 0-4 (address, private key), in the roles the devnet gives them.
const DEPLOYER: (&str, &str) = (
    "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266",
    "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
);
const RELAYER: (&str, &str) = (
    "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
    "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
);
const ATTESTER: (&str, &str) = (
    "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC",
    "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
);
const SELLER: (&str, &str) = (
    "0x90F79bf6EB2c4f870365E785982E1f101E93b906",
    "0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6",
);
const BUYER: (&str, &str) = (
    "0x15d34AAf54267DB7D7c367839AAf71A00a2C6A65",
    "0x47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a",
);

/// Minted to the seller on chain A: 1,000,000 BOND (18 decimals).
const BOND_MINT: &str = "1000000000000000000000000";
/// Minted to the buyer on chain B: 1,000,000 CASH (6 decimals).
const CASH_MINT: &str = "1000000000000";

/// Arguments of `lockstep devnet`.
#[derive(Debug, Args)]
pub(crate) struct DevnetArgs {
    /// Directory for the configuration, `devnet.json`, logs and the SQLite database.
    #[arg(long, default_value = ".devnet")]
    dir: PathBuf,
    /// RPC port of chain A (the hub of the demo trade).
    #[arg(long, default_value_t = 8545)]
    port_a: u16,
    /// RPC port of chain B.
    #[arg(long, default_value_t = 8546)]
    port_b: u16,
    /// EVM chain id of chain A.
    #[arg(long, default_value_t = 31337)]
    chain_id_a: u64,
    /// EVM chain id of chain B.
    #[arg(long, default_value_t = 31338)]
    chain_id_b: u64,
    /// LayerZero endpoint id of chain A.
    #[arg(long, default_value_t = 40101)]
    eid_a: u32,
    /// LayerZero endpoint id of chain B.
    #[arg(long, default_value_t = 40102)]
    eid_b: u32,
    /// Listen address of the coordinator's HTTP API.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: String,
    /// Only chains, contracts and configuration: do not start the coordinator.
    #[arg(long)]
    no_coordinator: bool,
    /// Also stop when stdin reaches end of file (for test harnesses that spawn the devnet
    /// as a child: the devnet goes away with them).
    #[arg(long)]
    stop_on_stdin_eof: bool,
}

/// One chain of the devnet.
struct Chain {
    label: &'static str,
    port: u16,
    chain_id: u64,
    eid: u32,
}

impl Chain {
    fn rpc(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

/// Runs `lockstep devnet` until ctrl-c (or SIGTERM), then stops every child.
pub(crate) fn run(args: DevnetArgs) -> ExitCode {
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: starting the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let mut children = Children::default();
    let result = rt.block_on(devnet(args, &mut children));
    rt.block_on(children.stop_all());
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:?}");
            ExitCode::from(1)
        }
    }
}

fn progress(msg: impl AsRef<str>) {
    println!("devnet: {}", msg.as_ref());
    let _ = std::io::stdout().flush();
}

/// The child processes, stopped in reverse order of start.
#[derive(Default)]
struct Children(Vec<(String, Child)>);

impl Children {
    async fn stop_all(&mut self) {
        while let Some((name, mut child)) = self.0.pop() {
            if let Ok(Some(_)) = child.try_wait() {
                continue;
            }
            // SIGTERM first so the coordinator shuts down gracefully; SIGKILL after 10 s.
            if let Some(pid) = child.id() {
                let _ = Command::new("kill")
                    .args(["-TERM", &pid.to_string()])
                    .status()
                    .await;
            }
            if tokio::time::timeout(Duration::from_secs(10), child.wait())
                .await
                .is_err()
            {
                let _ = child.kill().await;
            }
            progress(format!("stopped {name}"));
        }
    }
}

async fn devnet(args: DevnetArgs, children: &mut Children) -> eyre::Result<()> {
    let started = Instant::now();
    let root = repo_root()?;
    let dir = absolute(&args.dir)?;
    std::fs::create_dir_all(dir.join("data"))
        .wrap_err_with(|| format!("creating {}", dir.display()))?;
    // A devnet.json from an earlier run would be mistaken for this one being ready.
    let _ = std::fs::remove_file(dir.join("devnet.json"));
    let anvil = find_tool(&root, "anvil")?;
    let cast = find_tool(&root, "cast")?;
    let chains = [
        Chain {
            label: "A",
            port: args.port_a,
            chain_id: args.chain_id_a,
            eid: args.eid_a,
        },
        Chain {
            label: "B",
            port: args.port_b,
            chain_id: args.chain_id_b,
            eid: args.eid_b,
        },
    ];
    if args.port_a == args.port_b || args.chain_id_a == args.chain_id_b || args.eid_a == args.eid_b
    {
        bail!("the two chains need distinct ports, chain ids and eids");
    }
    for c in &chains {
        std::net::TcpListener::bind(("127.0.0.1", c.port)).wrap_err_with(|| {
            format!(
                "port {} (chain {}) is in use: stop what runs there or pass --port-{}",
                c.port,
                c.label,
                c.label.to_lowercase()
            )
        })?;
    }

    for c in &chains {
        let log = File::create(dir.join(format!("anvil-{}.log", c.label.to_lowercase())))?;
        let child = Command::new(&anvil)
            .args(["--host", "127.0.0.1", "--port", &c.port.to_string()])
            .args(["--chain-id", &c.chain_id.to_string()])
            // Transactions are mined at once, and an empty block every half second gives
            // the indexer the confirmations it waits for (as a live chain would).
            .args(["--mixed-mining", "--block-time", "0.5"])
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .wrap_err_with(|| format!("starting {}", anvil.display()))?;
        children.0.push((format!("anvil {}", c.label), child));
    }
    for (i, c) in chains.iter().enumerate() {
        wait_for_rpc(&cast, &c.rpc(), &mut children.0[i].1).await?;
        progress(format!(
            "chain {}: anvil on {} (chain id {}, eid {})",
            c.label,
            c.rpc(),
            c.chain_id,
            c.eid
        ));
    }

    progress("deploying the LayerZero v2 stack, escrows and demo tokens (script/deploy-local)");
    let deployments = deploy(&root, &dir, &chains).await?;

    let token = |d: &Value, name: &str| -> eyre::Result<String> {
        d["tokens"][name]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| eyre!("deployment without tokens.{name}"))
    };
    let bond_a = token(&deployments[0], "BOND")?;
    let cash_b = token(&deployments[1], "CASH")?;
    mint(&cast, &chains[0].rpc(), &bond_a, SELLER.0, BOND_MINT).await?;
    progress(format!(
        "minted 1,000,000 BOND to the seller {} on chain A",
        SELLER.0
    ));
    mint(&cast, &chains[1].rpc(), &cash_b, BUYER.0, CASH_MINT).await?;
    progress(format!(
        "minted 1,000,000 CASH to the buyer {} on chain B",
        BUYER.0
    ));

    let config_path = dir.join("lockstep.toml");
    std::fs::write(
        &config_path,
        coordinator_config(&args.listen, &dir, &chains, &deployments)?,
    )
    .wrap_err_with(|| format!("writing {}", config_path.display()))?;
    progress(format!(
        "coordinator configuration: {}",
        config_path.display()
    ));

    let info = devnet_json(&args, &dir, &config_path, &chains, &deployments);
    let info_path = dir.join("devnet.json");
    let tmp = dir.join("devnet.json.tmp");
    std::fs::write(&tmp, serde_json::to_string_pretty(&info)?)?;

    if !args.no_coordinator {
        let exe = std::env::current_exe().wrap_err("locating the lockstep binary")?;
        let log_path = dir.join("coordinator.log");
        let log = File::create(&log_path)?;
        let child = Command::new(exe)
            .args(["serve", "--config"])
            .arg(&config_path)
            .env("LOCKSTEP_ATTESTER_KEY", ATTESTER.1)
            .env("LOCKSTEP_RELAYER_KEY", RELAYER.1)
            .env_remove("LOCKSTEP_CONFIG")
            .env_remove("LOCKSTEP_DATABASE_URL")
            .env_remove("LOCKSTEP_DATA_DIR")
            .env_remove("LOCKSTEP_LISTEN")
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .wrap_err("starting the coordinator")?;
        children.0.push(("coordinator".into(), child));
        wait_for_http(
            &args.listen,
            children.0.last_mut().map(|c| &mut c.1),
            &log_path,
        )
        .await?;
        progress(format!(
            "coordinator listening on http://{} (log: {})",
            args.listen,
            log_path.display()
        ));
    }
    std::fs::rename(&tmp, &info_path)?;
    progress(format!(
        "ready in {:.1} s: {}",
        started.elapsed().as_secs_f64(),
        info_path.display()
    ));
    progress(format!(
        "create platforms with: lockstep platform create --name NAME --config {}",
        config_path.display()
    ));
    progress("ctrl-c stops everything");
    wait_for_stop(args.stop_on_stdin_eof, children).await
}

/// The directory holding `foundry.toml`, searched upwards from the working directory and
/// then from the binary's location (`target/debug/lockstep`).
fn repo_root() -> eyre::Result<PathBuf> {
    let mut starts = vec![std::env::current_dir()?];
    if let Ok(exe) = std::env::current_exe() {
        starts.push(exe);
    }
    for start in starts {
        for dir in start.ancestors() {
            if dir.join("foundry.toml").is_file() && dir.join("script/deploy-local").is_file() {
                return Ok(dir.to_path_buf());
            }
        }
    }
    bail!(
        "cannot find the Lockstep repository (a directory with foundry.toml and script/deploy-local) above the working directory"
    )
}

fn absolute(p: &Path) -> eyre::Result<PathBuf> {
    Ok(if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir()?.join(p)
    })
}

/// A Foundry tool from PATH, else from the npm package under the repository.
fn find_tool(root: &Path, tool: &str) -> eyre::Result<PathBuf> {
    if let Some(path) = std::env::var_os("PATH") {
        for d in std::env::split_paths(&path) {
            let p = d.join(tool);
            if p.is_file() {
                return Ok(p);
            }
        }
    }
    let p = root.join(format!(
        "node_modules/@foundry-rs/{tool}-linux-amd64/bin/{tool}"
    ));
    if p.is_file() {
        return Ok(p);
    }
    bail!(
        "{tool} not found on PATH nor at {}: run `npm ci` in {} (or `source script/lib.sh; ensure_npm`)",
        p.display(),
        root.display()
    )
}

async fn wait_for_rpc(cast: &Path, rpc: &str, child: &mut Child) -> eyre::Result<()> {
    for _ in 0..100 {
        if let Some(status) = child.try_wait()? {
            bail!("anvil for {rpc} exited early ({status})");
        }
        let ok = Command::new(cast)
            .args(["chain-id", "--rpc-url", rpc])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .await
            .map(|s| s.success())
            .unwrap_or(false);
        if ok {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bail!("anvil at {rpc} did not answer within 10 s")
}

/// Runs `script/deploy-local` against the two chains and copies the deployment files to
/// `<dir>/deployments/`. deploy-local always writes `deployments/<chain_id>.json` in the
/// repository, so concurrent devnets (parallel tests) take a file lock around deploy + copy.
async fn deploy(root: &Path, dir: &Path, chains: &[Chain; 2]) -> eyre::Result<[Value; 2]> {
    let lock_path = std::env::temp_dir().join("lockstep-deploy-local.lock");
    let lock =
        File::create(&lock_path).wrap_err_with(|| format!("creating {}", lock_path.display()))?;
    let lock = tokio::task::spawn_blocking(move || lock.lock().map(|()| lock))
        .await?
        .wrap_err("locking the deployment lock")?;
    let out_dir = dir.join("deployments");
    std::fs::create_dir_all(&out_dir)?;
    let status = Command::new("bash")
        .arg(root.join("script/deploy-local"))
        .current_dir(root)
        .env("RPC_A", chains[0].rpc())
        .env("RPC_B", chains[1].rpc())
        .env("EID_A", chains[0].eid.to_string())
        .env("EID_B", chains[1].eid.to_string())
        .env("DEPLOYER_KEY", DEPLOYER.1)
        .env("RELAYER", RELAYER.0)
        .env("ATTESTER", ATTESTER.0)
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .status();
    // A stuck broadcast must not hang the devnet (and every test queued behind the lock).
    let status = tokio::time::timeout(Duration::from_secs(300), status)
        .await
        .map_err(|_| eyre!("script/deploy-local did not finish within 300 s"))?
        .wrap_err("running script/deploy-local")?;
    if !status.success() {
        bail!("script/deploy-local failed ({status})");
    }
    let mut out = Vec::new();
    for c in chains {
        let src = root.join(format!("deployments/{}.json", c.chain_id));
        let text =
            std::fs::read_to_string(&src).wrap_err_with(|| format!("reading {}", src.display()))?;
        std::fs::write(out_dir.join(format!("{}.json", c.chain_id)), &text)?;
        let v: Value =
            serde_json::from_str(&text).wrap_err_with(|| format!("parsing {}", src.display()))?;
        if v["eid"].as_u64() != Some(u64::from(c.eid)) {
            bail!("{} has eid {}, expected {}", src.display(), v["eid"], c.eid);
        }
        out.push(v);
    }
    drop(lock);
    let [a, b]: [Value; 2] = out
        .try_into()
        .map_err(|_| eyre!("expected two deployments"))?;
    for (c, d) in chains.iter().zip([&a, &b]) {
        progress(format!(
            "chain {}: escrow {}, endpoint {}, BOND {}, CASH {}",
            c.label, d["escrow"], d["endpoint"], d["tokens"]["BOND"], d["tokens"]["CASH"]
        ));
    }
    Ok([a, b])
}

async fn mint(cast: &Path, rpc: &str, token: &str, to: &str, amount: &str) -> eyre::Result<()> {
    let out = Command::new(cast)
        .args(["send", "--rpc-url", rpc, "--private-key", DEPLOYER.1, token])
        .args(["mint(address,uint256)", to, amount])
        .stdin(Stdio::null())
        .output()
        .await
        .wrap_err("running cast send")?;
    if !out.status.success() {
        bail!(
            "minting {amount} of {token} to {to} on {rpc} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

fn field<'a>(d: &'a Value, key: &str) -> eyre::Result<&'a Value> {
    match d.get(key) {
        Some(v) if !v.is_null() => Ok(v),
        _ => Err(eyre!("deployment file without {key}: {d}")),
    }
}

fn coordinator_config(
    listen: &str,
    dir: &Path,
    chains: &[Chain; 2],
    deployments: &[Value; 2],
) -> eyre::Result<String> {
    let data = dir.join("data");
    let mut s = String::new();
    s.push_str("# Written by `lockstep devnet`: the coordinator on two local anvil chains.\n");
    s.push_str("# Secrets come from LOCKSTEP_ATTESTER_KEY and LOCKSTEP_RELAYER_KEY.\n");
    s.push_str(&format!("listen = {}\n", toml_str(listen)));
    s.push_str(&format!(
        "database_url = {}\n",
        toml_str(&format!("sqlite://{}", data.join("lockstep.db").display()))
    ));
    s.push_str(&format!(
        "data_dir = {}\n",
        toml_str(&data.display().to_string())
    ));
    s.push_str("expiry_sweep_interval_ms = 1000\n");
    for (c, d) in chains.iter().zip(deployments) {
        s.push_str("\n[[chains]]\n");
        s.push_str(&format!("chain_id = {}\n", c.chain_id));
        s.push_str(&format!("eid = {}\n", c.eid));
        for key in ["escrow", "endpoint", "receive_lib"] {
            let v = field(d, key)?
                .as_str()
                .ok_or_else(|| eyre!("{key} is not a string"))?;
            s.push_str(&format!("{key} = {}\n", toml_str(v)));
        }
        s.push_str(&format!("rpc_url = {}\n", toml_str(&c.rpc())));
        s.push_str("confirmations = 1\n");
        s.push_str(&format!(
            "start_block = {}\n",
            field(d, "deploy_block")?
                .as_u64()
                .ok_or_else(|| eyre!("deploy_block is not a number"))?
        ));
        s.push_str("poll_interval_ms = 250\n");
    }
    s.push_str("\n[webhooks]\nretry_base_ms = 500\npoll_interval_ms = 100\n");
    Ok(s)
}

/// A TOML basic string.
fn toml_str(s: &str) -> String {
    Value::String(s.to_string()).to_string()
}

fn devnet_json(
    args: &DevnetArgs,
    dir: &Path,
    config: &Path,
    chains: &[Chain; 2],
    deployments: &[Value; 2],
) -> Value {
    let chain = |c: &Chain, d: &Value| {
        json!({
            "label": c.label,
            "rpc_url": c.rpc(),
            "chain_id": c.chain_id,
            "eid": c.eid,
            "escrow": d["escrow"],
            "endpoint": d["endpoint"],
            "send_lib": d["send_lib"],
            "receive_lib": d["receive_lib"],
            "worker": d["worker"],
            "tokens": d["tokens"],
            "deploy_block": d["deploy_block"],
        })
    };
    let account = |(address, key): (&str, &str)| json!({"address": address, "private_key": key});
    json!({
        "note": "anvil development keys: public, local use only",
        "dir": dir.display().to_string(),
        "config": config.display().to_string(),
        "coordinator_url": if args.no_coordinator { Value::Null } else { json!(format!("http://{}", args.listen)) },
        "chains": [chain(&chains[0], &deployments[0]), chain(&chains[1], &deployments[1])],
        "accounts": {
            "deployer": account(DEPLOYER),
            "relayer": account(RELAYER),
            "attester": account(ATTESTER),
        },
        "parties": {
            "seller": {
                "address": SELLER.0, "private_key": SELLER.1, "chain_id": chains[0].chain_id,
                "minted": {"token": "BOND", "amount": BOND_MINT},
            },
            "buyer": {
                "address": BUYER.0, "private_key": BUYER.1, "chain_id": chains[1].chain_id,
                "minted": {"token": "CASH", "amount": CASH_MINT},
            },
        },
    })
}

/// Waits until the coordinator answers `GET /healthz` (or exits, which is an error).
async fn wait_for_http(listen: &str, child: Option<&mut Child>, log: &Path) -> eyre::Result<()> {
    let Some(child) = child else {
        return Ok(());
    };
    for _ in 0..300 {
        if let Some(status) = child.try_wait()? {
            bail!(
                "the coordinator exited ({status}); its log {}:\n{}",
                log.display(),
                tail(log, 30)
            );
        }
        if healthz(listen).await {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bail!(
        "the coordinator did not answer on {listen} within 30 s; its log:\n{}",
        tail(log, 30)
    )
}

/// One `GET /healthz` over a plain TCP connection (no HTTP client in this crate).
async fn healthz(listen: &str) -> bool {
    use tokio::io::AsyncWriteExt;
    let Ok(Ok(mut s)) = tokio::time::timeout(
        Duration::from_secs(1),
        tokio::net::TcpStream::connect(listen),
    )
    .await
    else {
        return false;
    };
    let req = format!("GET /healthz HTTP/1.1\r\nhost: {listen}\r\nconnection: close\r\n\r\n");
    if s.write_all(req.as_bytes()).await.is_err() {
        return false;
    }
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(2), s.read_to_end(&mut buf)).await;
    buf.starts_with(b"HTTP/1.1 200")
}

fn tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// Blocks until ctrl-c, SIGTERM, stdin EOF (if asked) or a child exiting on its own.
async fn wait_for_stop(stdin_eof: bool, children: &mut Children) -> eyre::Result<()> {
    let stdin = async {
        if stdin_eof {
            let mut buf = [0u8; 256];
            let mut input = tokio::io::stdin();
            loop {
                match input.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {}
                }
            }
        } else {
            std::future::pending::<()>().await;
        }
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    let died = async {
        loop {
            for (name, child) in children.0.iter_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    return (name.clone(), status);
                }
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => { progress("ctrl-c: stopping"); Ok(()) }
        _ = term => { progress("SIGTERM: stopping"); Ok(()) }
        _ = stdin => { progress("stdin closed: stopping"); Ok(()) }
        (name, status) = died => Err(eyre!("{name} exited on its own ({status})")),
    }
}
