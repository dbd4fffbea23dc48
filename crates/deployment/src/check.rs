//! The on-chain half of the check: for every configured chain, read the escrow's code,
//! owner, LayerZero delegate, timelock delay, peers, libraries and receive ULN configs and
//! turn each into a [`Row`]. A chain that cannot be reached is a failed `rpc` row, never an
//! error; chains are checked concurrently.

use crate::bytecode::{self, CompiledRuntime};
use crate::compiled;
use crate::report::{Check, Report, Row};
use crate::target::Target;
use alloy::primitives::{Address, B256};
use alloy::providers::{DynProvider, Provider, ProviderBuilder};
use lockstep_bindings::{ILocalEndpoint, IReceiveUlnQuorum};
use lockstep_chain::ChainConfig;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

alloy::sol! {
    /// The escrow's ownership, peer and duration views (`Ownable`, `OAppCore`, escrow).
    #[sol(rpc)]
    interface IEscrowWiring {
        function owner() external view returns (address);
        function peers(uint32 eid) external view returns (bytes32);
        function maxSettlementDuration() external view returns (uint256);
    }

    /// OpenZeppelin `TimelockController`'s minimum delay.
    #[sol(rpc)]
    interface ITimelockDelay {
        function getMinDelay() external view returns (uint256);
    }
}

/// Runs the whole check: every chain of `chains` (reached at `rpcs[chain_id]` when given,
/// else at its `rpc_url`) against the configuration and the compiled escrow.
pub async fn run_check(chains: &[ChainConfig], rpcs: &BTreeMap<u64, String>) -> Report {
    let started = Instant::now();
    let compiled = Arc::new(compiled::escrow());
    let targets: Vec<_> = chains
        .iter()
        .map(|c| Target::from_config(c, rpcs.get(&c.chain_id).map(String::as_str)))
        .collect();
    let all: Arc<Vec<Target>> = Arc::new(targets.iter().filter_map(|t| t.clone().ok()).collect());
    let mut tasks = tokio::task::JoinSet::new();
    for (i, (chain, target)) in chains.iter().zip(targets).enumerate() {
        let (compiled, all, chain_id) = (compiled.clone(), all.clone(), chain.chain_id);
        tasks.spawn(async move {
            let rows = match target {
                Ok(t) => check_chain(&t, &all, &compiled).await,
                Err(e) => vec![Row::unreadable(
                    chain_id,
                    Check::Configuration,
                    "every address set",
                    e,
                )],
            };
            (i, rows)
        });
    }
    let mut per_chain: Vec<(usize, Vec<Row>)> = tasks.join_all().await;
    per_chain.sort_by_key(|(i, _)| *i);
    let report = Report {
        rows: per_chain.into_iter().flat_map(|(_, rows)| rows).collect(),
    };
    tracing::info!(
        chains = chains.len(),
        failures = report.failures().count(),
        elapsed_ms = started.elapsed().as_millis() as u64,
        "deployment check done"
    );
    report
}

/// Every row of one chain; `all` holds every configured chain (this one included).
pub async fn check_chain(t: &Target, all: &[Target], compiled: &CompiledRuntime) -> Vec<Row> {
    let provider = match provider(t) {
        Ok(p) => p,
        Err(e) => return vec![Row::unreadable(t.chain_id, Check::Rpc, &t.rpc_url, e)],
    };
    let expected = format!("chain id {}", t.chain_id);
    match provider.get_chain_id().await {
        Ok(id) if id == t.chain_id => {}
        Ok(id) => {
            return vec![Row::new(
                t.chain_id,
                Check::Rpc,
                expected,
                format!("chain id {id}"),
                false,
            )];
        }
        Err(e) => {
            return vec![Row::unreadable(
                t.chain_id,
                Check::Rpc,
                expected,
                format!("{} unreachable: {e}", t.rpc_url),
            )];
        }
    }
    let mut rows = vec![Row::new(
        t.chain_id,
        Check::Rpc,
        expected.clone(),
        expected,
        true,
    )];
    rows.push(check_bytecode(&provider, t, compiled).await);
    rows.extend(check_governance(&provider, t).await);
    let escrow = IEscrowWiring::new(t.escrow, &provider);
    for remote in all.iter().filter(|r| r.chain_id != t.chain_id) {
        let want = remote.escrow.into_word();
        rows.push(match escrow.peers(remote.eid).call().await {
            Ok(peer) => Row::new(
                t.chain_id,
                Check::Peer(remote.eid),
                hex(want),
                hex(peer),
                peer == want,
            ),
            Err(e) => Row::unreadable(t.chain_id, Check::Peer(remote.eid), hex(want), e),
        });
        rows.extend(check_libraries(&provider, t, remote.eid).await);
        rows.push(check_receive_dvns(&provider, t, remote.eid).await);
    }
    rows.push(match escrow.peers(t.eid).call().await {
        Ok(peer) => Row::new(
            t.chain_id,
            Check::NoSelfPeer(t.eid),
            hex(B256::ZERO),
            hex(peer),
            peer.is_zero(),
        ),
        Err(e) => Row::unreadable(t.chain_id, Check::NoSelfPeer(t.eid), hex(B256::ZERO), e),
    });
    rows
}

fn provider(t: &Target) -> Result<DynProvider, String> {
    let url = t
        .rpc_url
        .parse()
        .map_err(|e| format!("rpc url {}: {e}", t.rpc_url))?;
    let http = alloy::transports::http::reqwest::Client::builder()
        .timeout(t.rpc_timeout)
        .build()
        .map_err(|e| format!("building the HTTP client: {e}"))?;
    Ok(ProviderBuilder::new().connect_reqwest(http, url).erased())
}

async fn check_bytecode(p: &DynProvider, t: &Target, compiled: &CompiledRuntime) -> Row {
    let expected = format!(
        "{} from contracts/src ({} bytes; {})",
        compiled.contract,
        compiled.code.len(),
        compiled.compiler
    );
    match p.get_code_at(t.escrow).await {
        Ok(code) => {
            let m = bytecode::compare(compiled, &code);
            Row::new(
                t.chain_id,
                Check::Bytecode,
                expected,
                m.to_string(),
                m.is_equal(),
            )
        }
        Err(e) => Row::unreadable(t.chain_id, Check::Bytecode, expected, e),
    }
}

/// Owner, delegate and timelock delay.
async fn check_governance(p: &DynProvider, t: &Target) -> Vec<Row> {
    let escrow = IEscrowWiring::new(t.escrow, p);
    let endpoint = ILocalEndpoint::new(t.endpoint, p);
    let want = t.timelock.to_string();
    let owner = match escrow.owner().call().await {
        Ok(o) => Row::new(
            t.chain_id,
            Check::Owner,
            &want,
            o.to_string(),
            o == t.timelock,
        ),
        Err(e) => Row::unreadable(t.chain_id, Check::Owner, &want, e),
    };
    let delegate = match endpoint.delegates(t.escrow).call().await {
        Ok(d) => Row::new(
            t.chain_id,
            Check::Delegate,
            &want,
            d.to_string(),
            d == t.timelock,
        ),
        Err(e) => Row::unreadable(t.chain_id, Check::Delegate, &want, e),
    };
    let duration = escrow.maxSettlementDuration().call().await;
    let delay = ITimelockDelay::new(t.timelock, p)
        .getMinDelay()
        .call()
        .await;
    let delay = match (duration, delay) {
        (Ok(max), Ok(d)) => Row::new(
            t.chain_id,
            Check::TimelockDelay,
            format!("> maxSettlementDuration {max} s"),
            format!("{d} s"),
            d > max,
        ),
        (Err(e), _) | (_, Err(e)) => Row::unreadable(
            t.chain_id,
            Check::TimelockDelay,
            "> maxSettlementDuration",
            e,
        ),
    };
    vec![owner, delegate, delay]
}

/// The send and receive library of the path to/from `eid`: explicit and the configured ones.
async fn check_libraries(p: &DynProvider, t: &Target, eid: u32) -> Vec<Row> {
    let endpoint = ILocalEndpoint::new(t.endpoint, p);
    let want = format!("{} (explicit)", t.send_lib);
    let default = endpoint.isDefaultSendLibrary(t.escrow, eid).call().await;
    let lib = endpoint.getSendLibrary(t.escrow, eid).call().await;
    let send = match (default, lib) {
        (Ok(default), Ok(lib)) => Row::new(
            t.chain_id,
            Check::SendLibrary(eid),
            want,
            library(lib, default),
            !default && lib == t.send_lib,
        ),
        (Err(e), _) | (_, Err(e)) => Row::unreadable(t.chain_id, Check::SendLibrary(eid), want, e),
    };
    let want = format!("{} (explicit)", t.receive_lib);
    let receive = match endpoint.getReceiveLibrary(t.escrow, eid).call().await {
        Ok(r) => Row::new(
            t.chain_id,
            Check::ReceiveLibrary(eid),
            want,
            library(r.lib, r.isDefault),
            !r.isDefault && r.lib == t.receive_lib,
        ),
        Err(e) => Row::unreadable(t.chain_id, Check::ReceiveLibrary(eid), want, e),
    };
    vec![send, receive]
}

fn library(lib: Address, default: bool) -> String {
    format!(
        "{lib} ({})",
        if default {
            "endpoint default"
        } else {
            "explicit"
        }
    )
}

/// The effective ULN config of the receive path from `eid` on the configured ReceiveUln302.
async fn check_receive_dvns(p: &DynProvider, t: &Target, eid: u32) -> Row {
    let want = match t.relayer_dvn {
        Some(r) => format!(
            ">= 2 required incl. verifier {} and relayer {r}",
            t.verifier_dvn
        ),
        None => format!(">= 2 required incl. verifier {}", t.verifier_dvn),
    };
    let uln = IReceiveUlnQuorum::new(t.receive_lib, p);
    match uln.getUlnConfig(t.escrow, eid).call().await {
        Ok(c) => {
            let dvns: Vec<String> = c.requiredDVNs.iter().map(Address::to_string).collect();
            let actual = format!(
                "{} required [{}], optional {}/{}, confirmations {}",
                c.requiredDVNCount,
                dvns.join(", "),
                c.optionalDVNThreshold,
                c.optionalDVNCount,
                c.confirmations
            );
            let ok = c.requiredDVNCount >= 2
                && usize::from(c.requiredDVNCount) == c.requiredDVNs.len()
                && c.requiredDVNs.contains(&t.verifier_dvn)
                && t.relayer_dvn.is_none_or(|r| c.requiredDVNs.contains(&r));
            Row::new(t.chain_id, Check::ReceiveDvns(eid), want, actual, ok)
        }
        Err(e) => Row::unreadable(t.chain_id, Check::ReceiveDvns(eid), want, e),
    }
}

fn hex(word: B256) -> String {
    word.to_string()
}
