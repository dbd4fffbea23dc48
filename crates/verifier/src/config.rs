//! The verifier's configuration file (TOML). The key is never part of it: it comes from
//! `LOCKSTEP_VERIFIER_KEY` or a key file.
//!
//! ```toml
//! listen = "127.0.0.1:9190"
//! poll_interval_ms = 500
//!
//! [[chains]]
//! chain_id = 31337
//! eid = 40101
//! escrow = "0x..."       # the escrow on this chain (sender of its packets, receiver of others')
//! endpoint = "0x..."     # EndpointV2: the only accepted emitter of PacketSent
//! receive_lib = "0x..."  # ReceiveUln302 this verifier calls verify on
//! rpc_urls = ["http://127.0.0.1:8545", "http://other-provider:8545"]
//! confirmations = 1      # attested only this deep, and passed to verify
//! start_block = 0
//! min_balance_wei = 100000000000000000  # optional: below it, a warning and
//!                                       # lockstep_verifier_balance_below_minimum = 1
//! ```

use alloy::primitives::Address;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Why the configuration cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("reading {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The TOML does not parse into [`VerifierConfig`].
    #[error("parsing {path}: {source}")]
    Parse {
        /// The file.
        path: String,
        /// The TOML error.
        source: toml::de::Error,
    },
    /// The TOML could not be written.
    #[error("writing the configuration: {0}")]
    Write(#[from] toml::ser::Error),
    /// A semantic problem (duplicate chain, no RPC...).
    #[error("{0}")]
    Invalid(String),
}

/// The whole configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerifierConfig {
    /// Listen address of `/healthz` and `/metrics`.
    pub listen: String,
    /// Pause between two scans of a chain (milliseconds).
    #[serde(default = "default_poll_interval_ms")]
    pub poll_interval_ms: u64,
    /// Timeout of every RPC call (milliseconds).
    #[serde(default = "default_rpc_timeout_ms")]
    pub rpc_timeout_ms: u64,
    /// The chains whose escrows' packets this verifier attests (each one a source and a
    /// destination).
    pub chains: Vec<VerifierChain>,
}

/// One chain: where its escrow and LayerZero contracts are and how to reach it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerifierChain {
    /// EVM chain id (every RPC must report it).
    pub chain_id: u64,
    /// LayerZero endpoint id.
    pub eid: u32,
    /// The escrow: the only accepted sender of this chain's packets and receiver of packets
    /// to it (the peer of every other chain's escrow).
    pub escrow: Address,
    /// EndpointV2: the only accepted emitter of `PacketSent`.
    pub endpoint: Address,
    /// ReceiveUln302 of the escrow's receive paths.
    pub receive_lib: Address,
    /// One or several RPC endpoints, ideally from different providers; all must agree.
    pub rpc_urls: Vec<String>,
    /// Blocks a `PacketSent` must be deep (the head counts as 1) before it is attested; also
    /// the confirmations passed to `verify`.
    #[serde(default = "default_confirmations")]
    pub confirmations: u64,
    /// First block scanned on start.
    #[serde(default)]
    pub start_block: u64,
    /// The verifier key's balance on this chain (wei) below which it warns and
    /// `lockstep_verifier_balance_below_minimum` is 1; `None`: no minimum.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_balance_wei: Option<u64>,
}

fn default_poll_interval_ms() -> u64 {
    500
}

fn default_rpc_timeout_ms() -> u64 {
    10_000
}

fn default_confirmations() -> u64 {
    1
}

impl VerifierConfig {
    /// Reads and checks a configuration file.
    pub fn load(path: &Path) -> Result<VerifierConfig, ConfigError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: shown.clone(),
            source,
        })?;
        let c: VerifierConfig = toml::from_str(&text).map_err(|source| ConfigError::Parse {
            path: shown,
            source,
        })?;
        c.validate()?;
        Ok(c)
    }

    /// The TOML text of this configuration.
    pub fn to_toml(&self) -> Result<String, ConfigError> {
        Ok(toml::to_string_pretty(self)?)
    }

    /// Distinct chain ids and eids, at least one RPC and one confirmation per chain.
    pub fn validate(&self) -> Result<(), ConfigError> {
        for (i, c) in self.chains.iter().enumerate() {
            if c.rpc_urls.is_empty() {
                return Err(ConfigError::Invalid(format!(
                    "chain {} has no rpc_urls",
                    c.chain_id
                )));
            }
            if c.confirmations == 0 {
                return Err(ConfigError::Invalid(format!(
                    "chain {}: confirmations must be at least 1",
                    c.chain_id
                )));
            }
            if self.chains[..i]
                .iter()
                .any(|o| o.chain_id == c.chain_id || o.eid == c.eid)
            {
                return Err(ConfigError::Invalid(format!(
                    "chain {} (eid {}) is configured twice",
                    c.chain_id, c.eid
                )));
            }
        }
        Ok(())
    }

    /// The chain with endpoint id `eid`.
    pub fn by_eid(&self, eid: u32) -> Option<&VerifierChain> {
        self.chains.iter().find(|c| c.eid == eid)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn chain(chain_id: u64, eid: u32) -> VerifierChain {
        VerifierChain {
            chain_id,
            eid,
            escrow: Address::repeat_byte(1),
            endpoint: Address::repeat_byte(2),
            receive_lib: Address::repeat_byte(3),
            rpc_urls: vec!["http://127.0.0.1:8545".into()],
            confirmations: 1,
            start_block: 0,
            min_balance_wei: Some(7),
        }
    }

    #[test]
    fn round_trips_and_refuses_duplicates() {
        let mut c = VerifierConfig {
            listen: "127.0.0.1:9190".into(),
            poll_interval_ms: 500,
            rpc_timeout_ms: 10_000,
            chains: vec![chain(1, 10), chain(2, 20)],
        };
        let back: VerifierConfig = toml::from_str(&c.to_toml().unwrap()).unwrap();
        assert_eq!(back, c);
        assert!(c.validate().is_ok());
        c.chains.push(chain(3, 20));
        assert_eq!(
            c.validate().unwrap_err().to_string(),
            "chain 3 (eid 20) is configured twice"
        );
        c.chains.pop();
        c.chains[1].rpc_urls.clear();
        assert_eq!(
            c.validate().unwrap_err().to_string(),
            "chain 2 has no rpc_urls"
        );
    }
}
