//! The `[[chains]]` tables of the configuration: where each chain's escrow, LayerZero
//! endpoint and receive library are, how to reach the chain and how far behind its head the
//! indexer trusts a log. The serde shape is the TOML's (byte-compatible with the files
//! written before the chain side owned this type).

use alloy::primitives::Address;
use lockstep_core::EscrowChain;
use serde::{Deserialize, Serialize};

/// One chain: EVM chain id, LayerZero endpoint id and the escrow deployed there, plus what
/// the chain side needs to index and relay on it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChainConfig {
    /// EVM chain id.
    pub chain_id: u64,
    /// LayerZero v2 endpoint id.
    pub eid: u32,
    /// The `SettlementEscrow` address on this chain.
    pub escrow: Address,
    /// JSON-RPC URL (used by the chain side).
    #[serde(default)]
    pub rpc_url: Option<String>,
    /// Confirmations to wait before trusting a log (used by the chain side).
    #[serde(default = "default_confirmations")]
    pub confirmations: u64,
    /// The LayerZero `EndpointV2` on this chain (the relayer reads `PacketSent` from it and
    /// calls `lzReceive` on it).
    #[serde(default)]
    pub endpoint: Option<Address>,
    /// The `ReceiveUln302` on this chain (the relayer, as the receive-side DVN, calls
    /// `verify` and `commitVerification` on it).
    #[serde(default)]
    pub receive_lib: Option<Address>,
    /// First block the indexer reads (the escrow's deployment block).
    #[serde(default)]
    pub start_block: u64,
    /// How often the indexer polls the chain head, milliseconds.
    #[serde(default = "default_poll_interval_ms")]
    pub poll_interval_ms: u64,
    /// Every JSON-RPC request to this chain fails after this many milliseconds (a hung RPC
    /// delays only this chain's work, by at most this much per call).
    #[serde(default = "default_rpc_timeout_ms")]
    pub rpc_timeout_ms: u64,
    /// The relayer key's balance on this chain (wei) below which
    /// `lockstep_relayer_balance_below_minimum` is 1 and the keeper warns; `None`: no minimum.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_relayer_balance_wei: Option<u64>,
    /// The escrow's immutable `maxSettlementDuration` (seconds, from the deployment);
    /// `None` when unknown (the coordinator then does no up-front check).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_settlement_duration_secs: Option<u64>,
    /// Whether the coordinator's relayer key attests (`ReceiveUln302.verify`) packets
    /// delivered to this chain, as one of its receive paths' required DVNs. `false` leaves
    /// verification to third-party DVNs: the relayer then only executes (commits and calls
    /// `lzReceive` once the path's DVN quorum is verifiable).
    #[serde(default = "default_dvn")]
    pub dvn: bool,
    /// The escrow's `SendUln302` (only `lockstep deployment check` reads it: the escrow's
    /// send library must be set explicitly to it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub send_lib: Option<Address>,
    /// The `TimelockController` that must own the escrow and be its LayerZero delegate
    /// (only `lockstep deployment check` reads it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timelock: Option<Address>,
    /// The independent verifier's DVN address (`lockstep verifier`'s key), which every
    /// receive path of this chain's escrow must require (only `lockstep deployment check`
    /// reads it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verifier_dvn: Option<Address>,
}

impl ChainConfig {
    /// A chain with only the fields the API side needs (chain id, eid, escrow); the chain
    /// side's fields take their defaults.
    pub fn new(chain_id: u64, eid: u32, escrow: Address) -> ChainConfig {
        ChainConfig {
            chain_id,
            eid,
            escrow,
            rpc_url: None,
            confirmations: default_confirmations(),
            endpoint: None,
            receive_lib: None,
            start_block: 0,
            poll_interval_ms: default_poll_interval_ms(),
            rpc_timeout_ms: default_rpc_timeout_ms(),
            min_relayer_balance_wei: None,
            max_settlement_duration_secs: None,
            dvn: default_dvn(),
            send_lib: None,
            timelock: None,
            verifier_dvn: None,
        }
    }

    /// The part the coordinator signs attestations for (chain id, eid, escrow).
    pub fn escrow_chain(&self) -> EscrowChain {
        EscrowChain {
            chain_id: self.chain_id,
            eid: self.eid,
            escrow: self.escrow,
            max_settlement_duration_secs: self.max_settlement_duration_secs,
        }
    }
}

fn default_poll_interval_ms() -> u64 {
    500
}

fn default_rpc_timeout_ms() -> u64 {
    10_000
}

fn default_dvn() -> bool {
    true
}

fn default_confirmations() -> u64 {
    1
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use alloy::primitives::address;

    #[test]
    fn a_minimal_table_takes_the_defaults_and_round_trips() {
        let escrow = address!("0x00000000000000000000000000000000000e5c01");
        let c: ChainConfig =
            toml::from_str("chain_id = 31337\neid = 40101\nescrow = \"0x00000000000000000000000000000000000e5c01\"\n")
                .unwrap();
        assert_eq!(c, ChainConfig::new(31337, 40101, escrow));
        assert_eq!(
            (
                c.confirmations,
                c.poll_interval_ms,
                c.start_block,
                c.rpc_timeout_ms
            ),
            (1, 500, 0, 10_000)
        );
        let back: ChainConfig = toml::from_str(&toml::to_string(&c).unwrap()).unwrap();
        assert_eq!(back, c);
        assert_eq!(
            c.escrow_chain(),
            EscrowChain {
                chain_id: 31337,
                eid: 40101,
                escrow,
                max_settlement_duration_secs: None,
            }
        );
        assert!(toml::from_str::<ChainConfig>("chain_id = 1\neid = 2\nescrow = \"0x00000000000000000000000000000000000e5c01\"\nbogus = 1\n").is_err());
    }
}
