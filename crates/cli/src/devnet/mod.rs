//! `lockstep devnet`: two (or, with `--chains 3`, three) local anvil chains with the real
//! LayerZero v2 stack, the escrows and the demo tokens deployed and wired among every pair
//! (`script/deploy-local`), demo balances minted to the parties (a third chain adds the FX
//! provider of the three-party demo), a coordinator configuration for every chain, and (unless
//! `--no-coordinator`) the coordinator itself, and (unless `--no-verifier`) the independent
//! verifier (`lockstep verifier`, its own process and key: the second required DVN of every
//! receive path), until ctrl-c.
//!
//! Everything it starts is a child process and is stopped on the way out. The keys it uses
//! and writes to `devnet.json` are anvil's well-known development keys: public, never to be
//! used anywhere real.

mod deploy;
mod files;
mod procs;

use clap::Args;
use eyre::{WrapErr, bail, eyre};
use procs::Children;
use serde_json::Value;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{ExitCode, Stdio};
use std::time::Instant;
use tokio::process::Command;

/// Anvil's development accounts 0-4 (address, private key), in the roles the devnet gives them.
pub(super) const DEPLOYER: (&str, &str) = (
    "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266",
    "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
);
pub(super) const RELAYER: (&str, &str) = (
    "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
    "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
);
pub(super) const ATTESTER: (&str, &str) = (
    "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC",
    "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
);
/// Anvil account 5: the independent verifier's DVN key (not the relayer's).
pub(super) const VERIFIER: (&str, &str) = (
    "0x9965507D1a55bcC2695C58ba16FB37d819B0A4dc",
    "0x8b3a350cf5c34c9194ca85829a2df0ec3153be0318b5e2d3348e872092edffba",
);
pub(super) const SELLER: (&str, &str) = (
    "0x90F79bf6EB2c4f870365E785982E1f101E93b906",
    "0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6",
);
pub(super) const BUYER: (&str, &str) = (
    "0x15d34AAf54267DB7D7c367839AAf71A00a2C6A65",
    "0x47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a",
);
/// Anvil account 6: the FX provider of the three-party demo (its CASH is on chain C).
pub(super) const FX_PROVIDER: (&str, &str) = (
    "0x976EA74026E726554dB657fA54763abd0C3a0aa9",
    "0x92db14e403b83dfe3df233f83dfa3a0d7096f21ca9b0d6d6b8d88b2b4ec1564e",
);

/// Minted to the seller on chain A: 1,000,000 BOND (18 decimals).
pub(super) const BOND_MINT: &str = "1000000000000000000000000";
/// Minted to the buyer on chain B: 1,000,000 CASH (6 decimals).
pub(super) const CASH_MINT: &str = "1000000000000";

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
    /// How many chains: 2 (A and B) or 3 (A, B and C, for multi-party trades).
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u8).range(2..=3))]
    chains: u8,
    /// RPC port of chain C (with `--chains 3`).
    #[arg(long, default_value_t = 8547)]
    port_c: u16,
    /// EVM chain id of chain C (with `--chains 3`).
    #[arg(long, default_value_t = 31339)]
    chain_id_c: u64,
    /// LayerZero endpoint id of chain C (with `--chains 3`).
    #[arg(long, default_value_t = 40103)]
    eid_c: u32,
    /// Listen address of the coordinator's HTTP API.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: String,
    /// Only chains, contracts and configuration: do not start the coordinator.
    #[arg(long)]
    no_coordinator: bool,
    /// Listen address of the verifier's `/healthz` and `/metrics`.
    #[arg(long, default_value = "127.0.0.1:9190")]
    verifier_listen: String,
    /// Do not start the verifier (its configuration is still written): whoever runs the
    /// devnet starts `lockstep verifier` itself. Until it runs, nothing is delivered.
    #[arg(long)]
    no_verifier: bool,
    /// Also stop when stdin reaches end of file (for test harnesses that spawn the devnet
    /// as a child: the devnet goes away with them).
    #[arg(long)]
    stop_on_stdin_eof: bool,
}

/// One chain of the devnet.
pub(super) struct Chain {
    label: &'static str,
    port: u16,
    chain_id: u64,
    eid: u32,
}

impl Chain {
    pub(super) fn rpc(&self) -> String {
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

async fn devnet(args: DevnetArgs, children: &mut Children) -> eyre::Result<()> {
    let started = Instant::now();
    let root = procs::repo_root()?;
    let dir = procs::absolute(&args.dir)?;
    std::fs::create_dir_all(dir.join("data"))
        .wrap_err_with(|| format!("creating {}", dir.display()))?;
    // A devnet.json from an earlier run would be mistaken for this one being ready.
    let _ = std::fs::remove_file(dir.join("devnet.json"));
    let cast = procs::find_tool(&root, "cast")?;
    let chains = chains_of(&args)?;
    start_chains(&root, &dir, &chains, &cast, children).await?;

    progress("deploying the LayerZero v2 stack, escrows and demo tokens (script/deploy-local)");
    let deployments = deploy::deploy(&root, &dir, &chains).await?;
    mint_demo_balances(&cast, &chains, &deployments).await?;

    let config_path = dir.join("lockstep.toml");
    std::fs::write(
        &config_path,
        files::coordinator_config(
            &args.listen,
            &args.verifier_listen,
            &dir,
            &chains,
            &deployments,
        )?,
    )
    .wrap_err_with(|| format!("writing {}", config_path.display()))?;
    progress(format!(
        "coordinator configuration: {}",
        config_path.display()
    ));

    let verifier_path = dir.join("verifier.toml");
    std::fs::write(
        &verifier_path,
        files::verifier_config(&args.verifier_listen, &chains, &deployments)?,
    )
    .wrap_err_with(|| format!("writing {}", verifier_path.display()))?;
    progress(format!(
        "verifier configuration: {}",
        verifier_path.display()
    ));
    if !args.no_verifier {
        start_verifier(&args.verifier_listen, &dir, &verifier_path, children).await?;
    }

    let info = files::devnet_json(
        &args,
        &dir,
        &config_path,
        &verifier_path,
        &chains,
        &deployments,
    );
    let info_path = dir.join("devnet.json");
    let tmp = dir.join("devnet.json.tmp");
    std::fs::write(&tmp, serde_json::to_string_pretty(&info)?)?;

    if !args.no_coordinator {
        start_coordinator(&args.listen, &dir, &config_path, children).await?;
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
    procs::wait_for_stop(args.stop_on_stdin_eof, children).await
}

/// The chains the arguments describe (A, B and with `--chains 3` C), checked distinct and
/// with free ports.
fn chains_of(args: &DevnetArgs) -> eyre::Result<Vec<Chain>> {
    let mut chains = vec![
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
    if args.chains == 3 {
        chains.push(Chain {
            label: "C",
            port: args.port_c,
            chain_id: args.chain_id_c,
            eid: args.eid_c,
        });
    }
    for (i, a) in chains.iter().enumerate() {
        if chains[..i]
            .iter()
            .any(|b| a.port == b.port || a.chain_id == b.chain_id || a.eid == b.eid)
        {
            bail!("the chains need distinct ports, chain ids and eids");
        }
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
    Ok(chains)
}

/// Starts one anvil per chain and waits until each answers.
async fn start_chains(
    root: &Path,
    dir: &Path,
    chains: &[Chain],
    cast: &Path,
    children: &mut Children,
) -> eyre::Result<()> {
    let anvil = procs::find_tool(root, "anvil")?;
    for c in chains {
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
        procs::wait_for_rpc(cast, &c.rpc(), &mut children.0[i].1).await?;
        progress(format!(
            "chain {}: anvil on {} (chain id {}, eid {})",
            c.label,
            c.rpc(),
            c.chain_id,
            c.eid
        ));
    }
    Ok(())
}

/// Mints the seller's BOND on chain A, the buyer's CASH on chain B and, on a third chain,
/// the FX provider's CASH on chain C.
async fn mint_demo_balances(
    cast: &Path,
    chains: &[Chain],
    deployments: &[Value],
) -> eyre::Result<()> {
    let mints = [
        ("BOND", "seller", SELLER.0, BOND_MINT),
        ("CASH", "buyer", BUYER.0, CASH_MINT),
        ("CASH", "FX provider", FX_PROVIDER.0, CASH_MINT),
    ];
    for ((c, d), (name, who, to, amount)) in chains.iter().zip(deployments).zip(mints) {
        let token = d["tokens"][name]
            .as_str()
            .ok_or_else(|| eyre!("deployment without tokens.{name}"))?;
        deploy::mint(cast, &c.rpc(), token, to, amount).await?;
        progress(format!(
            "minted 1,000,000 {name} to the {who} {to} on chain {}",
            c.label
        ));
    }
    Ok(())
}

/// Starts `lockstep verifier` with its own key and waits until it listens.
async fn start_verifier(
    listen: &str,
    dir: &Path,
    config_path: &Path,
    children: &mut Children,
) -> eyre::Result<()> {
    let exe = std::env::current_exe().wrap_err("locating the lockstep binary")?;
    let log_path = dir.join("verifier.log");
    let log = File::create(&log_path)?;
    let child = Command::new(exe)
        .args(["verifier", "--config"])
        .arg(config_path)
        .env("LOCKSTEP_VERIFIER_KEY", VERIFIER.1)
        .env_remove("LOCKSTEP_RELAYER_KEY")
        .env_remove("LOCKSTEP_ATTESTER_KEY")
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .kill_on_drop(true)
        .spawn()
        .wrap_err("starting the verifier")?;
    children.0.push(("verifier".into(), child));
    procs::wait_for_listen(listen, children.0.last_mut().map(|c| &mut c.1), &log_path).await?;
    progress(format!(
        "verifier (DVN {}) listening on http://{listen} (log: {})",
        VERIFIER.0,
        log_path.display()
    ));
    Ok(())
}

/// Starts `lockstep serve` on the written configuration and waits for `/healthz`.
async fn start_coordinator(
    listen: &str,
    dir: &Path,
    config_path: &PathBuf,
    children: &mut Children,
) -> eyre::Result<()> {
    let exe = std::env::current_exe().wrap_err("locating the lockstep binary")?;
    let log_path = dir.join("coordinator.log");
    let log = File::create(&log_path)?;
    let child = Command::new(exe)
        .args(["serve", "--config"])
        .arg(config_path)
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
    procs::wait_for_http(listen, children.0.last_mut().map(|c| &mut c.1), &log_path).await?;
    progress(format!(
        "coordinator listening on http://{listen} (log: {})",
        log_path.display()
    ));
    Ok(())
}
