//! What the devnet writes: the coordinator configuration (`lockstep.toml`, through
//! [`LockstepConfig`] so it always parses back) and `devnet.json` for scripts and tests.

use super::deploy::field;
use super::{
    ATTESTER, BOND_MINT, BUYER, CASH_MINT, Chain, DEPLOYER, DevnetArgs, FX_PROVIDER, RELAYER,
    SELLER, VERIFIER,
};
use eyre::eyre;
use lockstep_chain::ChainConfig;
use lockstep_cli::LockstepConfig;
use lockstep_verifier::{VerifierChain, VerifierConfig};
use serde_json::{Value, json};
use std::path::Path;

/// The coordinator's configuration for the devnet's chains: SQLite under `<dir>/data`, one
/// confirmation, fast polling.
pub(super) fn coordinator_config(
    listen: &str,
    verifier_listen: &str,
    dir: &Path,
    chains: &[Chain],
    deployments: &[Value],
) -> eyre::Result<String> {
    let data = dir.join("data");
    let mut c = LockstepConfig::default();
    c.coordinator.listen = listen.to_string();
    c.coordinator.database_url = Some(format!("sqlite://{}", data.join("lockstep.db").display()));
    c.coordinator.data_dir = data;
    c.coordinator.expiry_sweep_interval_ms = 1000;
    // Fast retries (500 ms doubling, ten attempts); the devnet's receivers are on loopback.
    c.coordinator.webhooks.retry_schedule_ms = (0..9).map(|n| 500 << n).collect();
    c.coordinator.webhooks.allow_private_targets =
        vec!["127.0.0.1/32".parse()?, "::1/128".parse()?];
    c.coordinator.webhooks.poll_interval_ms = 100;
    // The devnet's own verifier (`lockstep verifier`), for the operator dashboard.
    c.coordinator.verifier_health_urls = vec![format!("http://{verifier_listen}/healthz")];
    if chains.len() > 2 {
        // The three-party demo's template (docs/coordinator.md, "Multi-party matching").
        c.coordinator.enable_templates = vec!["dvp-fx".into()];
    }
    for (chain, d) in chains.iter().zip(deployments) {
        let address = |key: &str| -> eyre::Result<alloy::primitives::Address> {
            field(d, key)?
                .as_str()
                .ok_or_else(|| eyre!("{key} is not a string"))?
                .parse()
                .map_err(|e| eyre!("{key} is not an address: {e}"))
        };
        let mut cc = ChainConfig::new(chain.chain_id, chain.eid, address("escrow")?);
        cc.endpoint = Some(address("endpoint")?);
        cc.receive_lib = Some(address("receive_lib")?);
        cc.relayer_dvn = Some(address("relayer_dvn")?);
        // What `lockstep deployment check` compares against (docs/chain.md).
        cc.send_lib = Some(address("send_lib")?);
        cc.timelock = Some(address("timelock")?);
        cc.verifier_dvn = Some(address("verifier")?);
        cc.rpc_url = Some(chain.rpc());
        cc.confirmations = 1;
        cc.start_block = field(d, "deploy_block")?
            .as_u64()
            .ok_or_else(|| eyre!("deploy_block is not a number"))?;
        // A fifth of the devnet's 0.5 s block time (docs/chain.md, latency).
        cc.poll_interval_ms = 100;
        cc.max_settlement_duration_secs = max_settlement_duration(d);
        c.chains.push(cc);
    }
    Ok(format!(
        "# Written by `lockstep devnet`: the coordinator on the local anvil chains.\n# Secrets come from LOCKSTEP_ATTESTER_KEY and LOCKSTEP_RELAYER_KEY.\n{}",
        c.to_toml()?
    ))
}

/// A deployment's address field.
fn address_of(d: &Value, key: &str) -> eyre::Result<alloy::primitives::Address> {
    field(d, key)?
        .as_str()
        .ok_or_else(|| eyre!("{key} is not a string"))?
        .parse()
        .map_err(|e| eyre!("{key} is not an address: {e}"))
}

/// The verifier's configuration: every chain, one RPC each (anvil), one confirmation.
pub(super) fn verifier_config(
    listen: &str,
    chains: &[Chain],
    deployments: &[Value],
) -> eyre::Result<String> {
    let mut list = Vec::new();
    for (chain, d) in chains.iter().zip(deployments) {
        list.push(VerifierChain {
            chain_id: chain.chain_id,
            eid: chain.eid,
            escrow: address_of(d, "escrow")?,
            endpoint: address_of(d, "endpoint")?,
            receive_lib: address_of(d, "receive_lib")?,
            rpc_urls: vec![chain.rpc()],
            confirmations: 1,
            start_block: field(d, "deploy_block")?
                .as_u64()
                .ok_or_else(|| eyre!("deploy_block is not a number"))?,
            min_balance_wei: None,
        });
    }
    let c = VerifierConfig {
        listen: listen.to_string(),
        poll_interval_ms: 100,
        rpc_timeout_ms: 10_000,
        chains: list,
    };
    c.validate()?;
    Ok(format!(
        "# Written by `lockstep devnet`: the independent verifier (second DVN) on the local anvil chains.\n# Its key comes from LOCKSTEP_VERIFIER_KEY (never from this file).\n{}",
        c.to_toml()?
    ))
}

/// The deployment's `max_settlement_duration` (seconds; a JSON number or decimal string),
/// `None` for a deployment written before escrow v2.
pub(super) fn max_settlement_duration(d: &Value) -> Option<u64> {
    let v = d.get("max_settlement_duration")?;
    v.as_u64().or_else(|| v.as_str()?.parse().ok())
}

/// `devnet.json`: the chains, contracts, development keys and parties.
pub(super) fn devnet_json(
    args: &DevnetArgs,
    dir: &Path,
    config: &Path,
    verifier_config: &Path,
    chains: &[Chain],
    deployments: &[Value],
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
            "max_settlement_duration": d["max_settlement_duration"],
            "timelock": d["timelock"],
            "verifier_dvn": d["verifier"],
            "relayer_dvn": d["relayer_dvn"],
        })
    };
    let account = |(address, key): (&str, &str)| json!({"address": address, "private_key": key});
    json!({
        "note": "anvil development keys: public, local use only",
        "dir": dir.display().to_string(),
        "config": config.display().to_string(),
        "verifier_config": verifier_config.display().to_string(),
        "verifier_url": if args.no_verifier { Value::Null } else { json!(format!("http://{}", args.verifier_listen)) },
        "coordinator_url": if args.no_coordinator { Value::Null } else { json!(format!("http://{}", args.listen)) },
        "chains": chains.iter().zip(deployments).map(|(c, d)| chain(c, d)).collect::<Vec<_>>(),
        "accounts": {
            "deployer": account(DEPLOYER),
            "relayer": account(RELAYER),
            "attester": account(ATTESTER),
            "verifier": account(VERIFIER),
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
            "fx_provider": chains.get(2).map(|c| json!({
                "address": FX_PROVIDER.0, "private_key": FX_PROVIDER.1, "chain_id": c.chain_id,
                "minted": {"token": "CASH", "amount": CASH_MINT},
            })),
        },
    })
}
