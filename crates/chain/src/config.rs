//! The `[[chains]]` tables of the configuration: where each chain's escrow, LayerZero
//! endpoint and receive library are, how to reach the chain and how far behind its head the
//! indexer trusts a log. The serde shape is the TOML's (byte-compatible with the files
//! written before the chain side owned this type).

use alloy::primitives::Address;
use lockstep_core::{Backoff, EscrowChain};
use serde::{Deserialize, Serialize};
use std::time::Duration;

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
    /// The coordinator's `RelayerDvn` contract on this chain (operator: the relayer key): the
    /// DVN address this chain's receive paths require, through which the relayer verifies,
    /// commits and calls `lzReceive` in one transaction once the other DVNs verified. `None`:
    /// the relayer key itself is the DVN, and verify, commit and `lzReceive` are three
    /// transactions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relayer_dvn: Option<Address>,
    /// The relayer's retry delay after the first failed delivery pass of a packet bound for
    /// this chain, milliseconds (doubling per failure up to `relay_retry_cap_ms`, jittered);
    /// `None`: 1000 ([`crate::lz::RELAY_BACKOFF`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relay_retry_base_ms: Option<u64>,
    /// The cap of that retry delay, milliseconds; `None`: 60000. Once an outage of this
    /// chain is over, its packets are delivered at most this much later.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relay_retry_cap_ms: Option<u64>,
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
            relayer_dvn: None,
            relay_retry_base_ms: None,
            relay_retry_cap_ms: None,
            send_lib: None,
            timelock: None,
            verifier_dvn: None,
        }
    }

    /// The relayer's retry policy for packets delivered to this chain:
    /// [`crate::lz::RELAY_BACKOFF`] with `relay_retry_base_ms` / `relay_retry_cap_ms` where
    /// set (jittered either way).
    pub fn relay_backoff(&self) -> Backoff {
        let d = crate::lz::RELAY_BACKOFF;
        let base = self
            .relay_retry_base_ms
            .map_or(d.base, Duration::from_millis);
        let cap = self.relay_retry_cap_ms.map_or(d.max, Duration::from_millis);
        Backoff::new(base, cap.max(base)).with_jitter()
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

    #[test]
    fn the_relay_backoff_defaults_to_1s_doubling_to_60s_and_can_be_set() {
        let mut c = ChainConfig::new(1, 2, Address::ZERO);
        let b = c.relay_backoff();
        assert_eq!(
            (b.base, b.max, b.jitter),
            (Duration::from_secs(1), Duration::from_secs(60), true)
        );
        let text = "chain_id = 1\neid = 2\nescrow = \"0x00000000000000000000000000000000000e5c01\"\nrelay_retry_base_ms = 50\nrelay_retry_cap_ms = 200\n";
        c = toml::from_str(text).unwrap();
        let b = c.relay_backoff();
        assert_eq!(
            (b.base, b.max, b.jitter),
            (Duration::from_millis(50), Duration::from_millis(200), true)
        );
        for n in 1..=10 {
            let d = b.delay(n);
            assert!(d <= Duration::from_millis(200), "after {n}: {d:?}");
        }
        let back: ChainConfig = toml::from_str(&toml::to_string(&c).unwrap()).unwrap();
        assert_eq!(back, c);
        // A cap below the base is raised to the base.
        c.relay_retry_cap_ms = Some(10);
        assert_eq!(c.relay_backoff().max, Duration::from_millis(50));
    }
}
