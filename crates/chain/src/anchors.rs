//! Re-checks an evidence bundle's receipt anchors against the chains
//! (`lockstep evidence verify BUNDLE --rpc CHAIN_ID=URL ...`).
//!
//! For each anchor the receipt of `tx_hash` is fetched from the anchor's chain; the check
//! passes when the receipt is in block `block_number` with hash `block_hash`, that block is
//! still the chain's block at that height, and the receipt's log at `log_index` (block-wide
//! index) was emitted by `escrow`, is the event `event`, and carries `settlement_id` as its
//! first indexed topic. The first difference is reported as a [`Mismatch`] with the anchor
//! field's JSON path.

use crate::client::rpc;
use crate::error::{ChainError, Result};
use alloy::eips::BlockNumberOrTag;
use alloy::primitives::{Address, B256};
use alloy::providers::{Provider, ProviderBuilder};
use alloy::sol_types::SolEvent;
use async_trait::async_trait;
use lockstep_bindings::ISettlementEscrow;
use lockstep_core::{AnchorCheckFailed, BundleAnchors};
use lockstep_evidence::bundle::{AnchorChecker, AnchorRecord, Mismatch, verify_bundle};
use serde_json::Value;
use std::collections::BTreeMap;

/// The topic0 of an anchorable escrow event, by name.
pub fn event_topic(event: &str) -> Option<B256> {
    Some(match event {
        "LegReleased" => ISettlementEscrow::LegReleased::SIGNATURE_HASH,
        "LegRefunded" => ISettlementEscrow::LegRefunded::SIGNATURE_HASH,
        "LegOwed" => ISettlementEscrow::LegOwed::SIGNATURE_HASH,
        "SettlementExecuted" => ISettlementEscrow::SettlementExecuted::SIGNATURE_HASH,
        "SettlementRefunded" => ISettlementEscrow::SettlementRefunded::SIGNATURE_HASH,
        "LegDeposited" => ISettlementEscrow::LegDeposited::SIGNATURE_HASH,
        _ => return None,
    })
}

/// What the chain says about one anchored transaction.
#[derive(Debug, Clone)]
enum Observed {
    /// No receipt for the transaction.
    NoReceipt,
    /// The receipt and the chain's canonical block hash at its height.
    Receipt {
        block_number: u64,
        block_hash: B256,
        canonical_hash: Option<B256>,
        /// (log index in block, address, topics)
        logs: Vec<(u64, Address, Vec<B256>)>,
    },
}

/// Anchors fetched from the chains, ready to check offline against the bundle.
#[derive(Debug, Default)]
pub struct RpcAnchors {
    seen: BTreeMap<(u64, String), Observed>,
}

/// Reads the anchors of a bundle (`facts.legs[*].anchor`).
pub fn bundle_anchors(bundle: &Value) -> Result<Vec<(String, AnchorRecord)>> {
    let legs = bundle
        .pointer("/facts/legs")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    legs.iter()
        .enumerate()
        .map(|(i, l)| {
            let path = format!("$.facts.legs[{i}].anchor");
            let a = l.get("anchor").cloned().unwrap_or(Value::Null);
            Ok((path.clone(), AnchorRecord::from_json(&path, &a)?))
        })
        .collect()
}

impl RpcAnchors {
    /// Fetches every anchored receipt of `bundle` from `rpcs` (chain id → JSON-RPC URL).
    /// A chain with an anchor but no URL is an error.
    pub async fn fetch(bundle: &Value, rpcs: &BTreeMap<u64, String>) -> Result<RpcAnchors> {
        let mut out = RpcAnchors::default();
        for (path, a) in bundle_anchors(bundle)? {
            let key = (a.chain_id, a.tx_hash.clone());
            if out.seen.contains_key(&key) {
                continue;
            }
            let url = rpcs.get(&a.chain_id).ok_or_else(|| {
                ChainError::Config(format!(
                    "{path}: no --rpc given for chain {} ({} needs it)",
                    a.chain_id, a.tx_hash
                ))
            })?;
            let url: alloy::transports::http::reqwest::Url = url
                .parse()
                .map_err(|e| ChainError::Config(format!("rpc url {url}: {e}")))?;
            let p = ProviderBuilder::new().connect_http(url);
            let chain_id = p
                .get_chain_id()
                .await
                .map_err(|e| rpc(a.chain_id, "eth_chainId", e))?;
            if chain_id != a.chain_id {
                return Err(ChainError::Config(format!(
                    "--rpc for chain {} answers chain id {chain_id}",
                    a.chain_id
                )));
            }
            let tx: B256 = a
                .tx_hash
                .parse()
                .map_err(|e| ChainError::Config(format!("{path}.tx_hash: {e}")))?;
            let obs = match p
                .get_transaction_receipt(tx)
                .await
                .map_err(|e| rpc(a.chain_id, "eth_getTransactionReceipt", e))?
            {
                None => Observed::NoReceipt,
                Some(r) => {
                    let block_number = r.block_number.unwrap_or_default();
                    let canonical_hash = p
                        .get_block_by_number(BlockNumberOrTag::Number(block_number))
                        .await
                        .map_err(|e| rpc(a.chain_id, "eth_getBlockByNumber", e))?
                        .map(|b| b.header.hash);
                    Observed::Receipt {
                        block_number,
                        block_hash: r.block_hash.unwrap_or_default(),
                        canonical_hash,
                        logs: r
                            .inner
                            .logs()
                            .iter()
                            .map(|l| {
                                (
                                    l.log_index.unwrap_or(u64::MAX),
                                    l.address(),
                                    l.topics().to_vec(),
                                )
                            })
                            .collect(),
                    }
                }
            };
            out.seen.insert(key, obs);
        }
        Ok(out)
    }
}

fn mismatch(path: &str, field: &str, expected: impl ToString, found: impl ToString) -> Mismatch {
    Mismatch {
        path: format!("{path}.{field}"),
        expected: expected.to_string(),
        found: found.to_string(),
    }
}

impl AnchorChecker for RpcAnchors {
    fn check(&self, path: &str, a: &AnchorRecord) -> std::result::Result<(), Mismatch> {
        let Some(obs) = self.seen.get(&(a.chain_id, a.tx_hash.clone())) else {
            return Err(mismatch(path, "tx_hash", &a.tx_hash, "<not fetched>"));
        };
        let Observed::Receipt {
            block_number,
            block_hash,
            canonical_hash,
            logs,
        } = obs
        else {
            return Err(mismatch(
                path,
                "tx_hash",
                &a.tx_hash,
                "<no receipt on chain>",
            ));
        };
        if *block_number != a.block_number {
            return Err(mismatch(path, "block_number", a.block_number, block_number));
        }
        let bh = format!("{block_hash:#x}");
        if bh != a.block_hash {
            return Err(mismatch(path, "block_hash", &a.block_hash, bh));
        }
        if canonical_hash.as_ref() != Some(block_hash) {
            return Err(mismatch(
                path,
                "block_hash",
                &a.block_hash,
                canonical_hash.map_or("<no block>".into(), |h| format!("{h:#x} (canonical)")),
            ));
        }
        let Some((_, address, topics)) = logs.iter().find(|(i, _, _)| *i == a.log_index) else {
            return Err(mismatch(
                path,
                "log_index",
                a.log_index,
                "<no such log in the receipt>",
            ));
        };
        let addr = format!("{address:#x}");
        if addr != a.escrow {
            return Err(mismatch(path, "escrow", &a.escrow, addr));
        }
        let want = event_topic(&a.event);
        if want.is_none() || topics.first() != want.as_ref() {
            return Err(mismatch(
                path,
                "event",
                &a.event,
                topics
                    .first()
                    .map_or("<no topic>".into(), |t| format!("topic0 {t:#x}")),
            ));
        }
        let sid = topics.get(1).map(|t| format!("{t:#x}"));
        if sid.as_deref() != Some(a.settlement_id.as_str()) {
            return Err(mismatch(
                path,
                "settlement_id",
                &a.settlement_id,
                sid.unwrap_or_else(|| "<none>".into()),
            ));
        }
        Ok(())
    }

    fn describe(&self) -> &'static str {
        "every anchor re-checked against the chains (receipt, block hash, log, event, settlement id)"
    }
}
/// [`BundleAnchors`] over the coordinator's configured chains: the dashboard's "verify"
/// re-checks a bundle against the same RPC endpoints the chain side reads.
#[derive(Debug, Clone, Default)]
pub struct ConfiguredAnchors {
    rpcs: BTreeMap<u64, String>,
}

impl ConfiguredAnchors {
    /// Checks anchors of the chains in `rpcs` (chain id -> JSON-RPC URL); an anchor on
    /// another chain fails the check.
    pub fn new(rpcs: BTreeMap<u64, String>) -> ConfiguredAnchors {
        ConfiguredAnchors { rpcs }
    }
}

#[async_trait]
impl BundleAnchors for ConfiguredAnchors {
    async fn verify_on_chains(
        &self,
        bundle: &Value,
    ) -> std::result::Result<String, AnchorCheckFailed> {
        let anchors = RpcAnchors::fetch(bundle, &self.rpcs)
            .await
            .map_err(|e| AnchorCheckFailed(e.to_string()))?;
        verify_bundle(bundle, &anchors)
            .map(|summary| summary.to_string())
            .map_err(|e| AnchorCheckFailed(e.to_string()))
    }
}
