//! Deploying the LayerZero stack, escrows and demo tokens (`script/deploy-local`) and
//! minting the demo balances.

use super::{ATTESTER, Chain, DEPLOYER, RELAYER, VERIFIER, progress};
use eyre::{WrapErr, bail, eyre};
use serde_json::Value;
use std::fs::File;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;
use tokio::process::Command;

/// Runs `script/deploy-local` against the chains (two or three) and copies the deployment files to
/// `<dir>/deployments/`. deploy-local always writes `deployments/<chain_id>.json` in the
/// repository, so concurrent devnets (parallel tests) take a file lock around deploy + copy.
pub(super) async fn deploy(root: &Path, dir: &Path, chains: &[Chain]) -> eyre::Result<Vec<Value>> {
    let lock_path = std::env::temp_dir().join("lockstep-deploy-local.lock");
    let lock =
        File::create(&lock_path).wrap_err_with(|| format!("creating {}", lock_path.display()))?;
    let lock = tokio::task::spawn_blocking(move || lock.lock().map(|()| lock))
        .await?
        .wrap_err("locking the deployment lock")?;
    let out_dir = dir.join("deployments");
    std::fs::create_dir_all(&out_dir)?;
    let mut cmd = Command::new("bash");
    cmd.arg(root.join("script/deploy-local")).current_dir(root);
    for c in chains {
        cmd.env(format!("RPC_{}", c.label), c.rpc())
            .env(format!("EID_{}", c.label), c.eid.to_string());
    }
    if chains.len() == 2 {
        cmd.env_remove("RPC_C");
    }
    let status = cmd
        .env("DEPLOYER_KEY", DEPLOYER.1)
        .env("RELAYER", RELAYER.0)
        .env("VERIFIER", VERIFIER.0)
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
    for (c, d) in chains.iter().zip(&out) {
        progress(format!(
            "chain {}: escrow {}, endpoint {}, BOND {}, CASH {}",
            c.label, d["escrow"], d["endpoint"], d["tokens"]["BOND"], d["tokens"]["CASH"]
        ));
    }
    Ok(out)
}

pub(super) async fn mint(
    cast: &Path,
    rpc: &str,
    token: &str,
    to: &str,
    amount: &str,
) -> eyre::Result<()> {
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

pub(super) fn field<'a>(d: &'a Value, key: &str) -> eyre::Result<&'a Value> {
    match d.get(key) {
        Some(v) if !v.is_null() => Ok(v),
        _ => Err(eyre!("deployment file without {key}: {d}")),
    }
}
