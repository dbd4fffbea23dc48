//! `lockstep deployment check` against a fresh devnet (the configuration `lockstep devnet`
//! writes): every row holds; then the deployer, as the timelock's proposer and executor,
//! changes the wiring through the timelock (schedule, the chain clock warped past the delay,
//! execute) and the check fails on exactly the row that changed, with exit status 1.
#![allow(clippy::unwrap_used)]

use alloy::primitives::{Address, B256, Bytes, U256};
use alloy::sol_types::{SolCall, SolValue};
use eyre::{WrapErr, ensure};
use lockstep_e2e::Custody;
use lockstep_e2e::chain::Chain;
use lockstep_e2e::devnet::{ChainInfo, Devnet, target_dir};
use lockstep_e2e::process::deployment_check;
use std::path::Path;
use std::process::Output;
use std::time::Instant;

alloy::sol! {
    #[sol(rpc)]
    interface ITimelock {
        function getMinDelay() external view returns (uint256);
        function schedule(address target, uint256 value, bytes data, bytes32 predecessor, bytes32 salt, uint256 delay) external;
        function execute(address target, uint256 value, bytes payload, bytes32 predecessor, bytes32 salt) external payable;
    }
    interface IPeers {
        function setPeer(uint32 eid, bytes32 peer) external;
    }
    struct SetConfigParam {
        uint32 eid;
        uint32 configType;
        bytes config;
    }
    struct UlnConfig {
        uint64 confirmations;
        uint8 requiredDVNCount;
        uint8 optionalDVNCount;
        uint8 optionalDVNThreshold;
        address[] requiredDVNs;
        address[] optionalDVNs;
    }
    interface IEndpointConfig {
        function setConfig(address oapp, address lib, SetConfigParam[] params) external;
    }
}

/// `CONFIG_TYPE_ULN` of ReceiveUln302.
const CONFIG_TYPE_ULN: u32 = 2;

/// The failed rows of the check's table, as `(chain id, check)`.
fn failed_rows(out: &Output) -> Vec<(u64, String)> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.trim_end().ends_with("| FAIL"))
        .map(|l| {
            let cells: Vec<&str> = l.split(" | ").map(str::trim).collect();
            (cells[0].parse().unwrap(), cells[1].to_string())
        })
        .collect()
}

/// Runs the check, prints its table, returns the output.
fn check(config: &Path) -> eyre::Result<Output> {
    let started = Instant::now();
    let out = deployment_check(config)?;
    println!(
        "deployment check: exit {:?} in {} ms\n{}{}",
        out.status.code(),
        started.elapsed().as_millis(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(out)
}

/// Schedules `target.call(data)` on the chain's timelock, warps the chain's clock past the
/// delay and executes it.
async fn through_timelock(
    deployer: &Custody,
    chain: &Chain,
    info: &ChainInfo,
    target: Address,
    data: Bytes,
    salt: u8,
) -> eyre::Result<()> {
    let timelock = info.timelock.unwrap();
    let delay = ITimelock::new(timelock, &chain.provider)
        .getMinDelay()
        .call()
        .await?;
    let salt = B256::with_last_byte(salt);
    let schedule = ITimelock::scheduleCall {
        target,
        value: U256::ZERO,
        data: data.clone(),
        predecessor: B256::ZERO,
        salt,
        delay,
    };
    deployer
        .send(
            info.chain_id,
            timelock,
            schedule.abi_encode().into(),
            U256::ZERO,
        )
        .await
        .wrap_err("schedule")?;
    let (_, now) = chain.head().await?;
    chain.warp_to(now + delay.to::<u64>() + 1).await?;
    let execute = ITimelock::executeCall {
        target,
        value: U256::ZERO,
        payload: data,
        predecessor: B256::ZERO,
        salt,
    };
    deployer
        .send(
            info.chain_id,
            timelock,
            execute.abi_encode().into(),
            U256::ZERO,
        )
        .await
        .wrap_err("execute")?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_passes_on_the_devnet_and_fails_after_a_peer_or_the_dvn_count_changes()
-> eyre::Result<()> {
    let dir = target_dir()
        .join("e2e")
        .join(format!("deployment-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let devnet = Devnet::start(&dir.join("devnet")).await?;
    let info = devnet.info.clone();
    let (a, b) = (&info.chains[0], &info.chains[1]);
    let config = &info.config;

    let out = check(config)?;
    ensure!(
        out.status.code() == Some(0),
        "fresh devnet: expected exit 0"
    );
    let table = String::from_utf8_lossy(&out.stdout);
    // rpc, bytecode, owner, delegate, delay, then per remote: peer, send, receive, DVNs; own eid.
    ensure!(
        table
            .lines()
            .filter(|l| l.trim_end().ends_with("| ok"))
            .count()
            == 2 * 10,
        "expected 20 ok rows"
    );
    ensure!(table.contains("immutable bytes masked"), "bytecode row");

    let deployer = Custody::new(&info.accounts.deployer.private_key, &info.chains)?;
    let (chain_a, chain_b) = (Chain::connect(a)?, Chain::connect(b)?);

    // Chain A's escrow re-pointed to another peer for chain B's eid.
    let rogue = Address::repeat_byte(0x66).into_word();
    let set_peer = IPeers::setPeerCall {
        eid: b.eid,
        peer: rogue,
    };
    through_timelock(
        &deployer,
        &chain_a,
        a,
        a.escrow,
        set_peer.abi_encode().into(),
        1,
    )
    .await?;
    let out = check(config)?;
    ensure!(
        out.status.code() == Some(1),
        "re-pointed peer: expected exit 1"
    );
    ensure!(
        failed_rows(&out) == vec![(a.chain_id, format!("peer eid {}", b.eid))],
        "re-pointed peer: {:?}",
        failed_rows(&out)
    );
    ensure!(String::from_utf8_lossy(&out.stdout).contains(&rogue.to_string()));

    // Chain B's receive path from chain A down to one required DVN (the verifier alone).
    let one_dvn = UlnConfig {
        confirmations: 1,
        requiredDVNCount: 1,
        optionalDVNCount: 0,
        optionalDVNThreshold: 0,
        requiredDVNs: vec![info.accounts.verifier.address],
        optionalDVNs: vec![],
    };
    let set_config = IEndpointConfig::setConfigCall {
        oapp: b.escrow,
        lib: b.receive_lib,
        params: vec![SetConfigParam {
            eid: a.eid,
            configType: CONFIG_TYPE_ULN,
            config: one_dvn.abi_encode().into(),
        }],
    };
    through_timelock(
        &deployer,
        &chain_b,
        b,
        b.endpoint,
        set_config.abi_encode().into(),
        2,
    )
    .await?;
    let out = check(config)?;
    ensure!(out.status.code() == Some(1), "one DVN: expected exit 1");
    ensure!(
        failed_rows(&out)
            == vec![
                (a.chain_id, format!("peer eid {}", b.eid)),
                (b.chain_id, format!("receive DVNs eid {}", a.eid)),
            ],
        "one DVN: {:?}",
        failed_rows(&out)
    );

    drop(devnet);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
