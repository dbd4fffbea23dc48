//! Configuration: one TOML file (see `lockstep.example.toml`), overridden by environment
//! variables and flags in the binary (flags > env > file > defaults). Secrets are never
//! read from this file: the attester key comes from `LOCKSTEP_ATTESTER_KEY` or a key file.

use crate::{Error, Result};
use alloy::primitives::Address;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The whole configuration.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Listen address of the HTTP API.
    pub listen: String,
    /// Database URL; default: a SQLite file `lockstep.db` under `data_dir`.
    pub database_url: Option<String>,
    /// Data directory (SQLite file).
    pub data_dir: PathBuf,
    /// Time-to-live of an unmatched instruction, seconds.
    pub instruction_ttl_secs: u64,
    /// How often the expiry sweeper runs, milliseconds.
    pub expiry_sweep_interval_ms: u64,
    /// A settlement idle this long in a non-terminal state is reported as stuck, seconds.
    pub stuck_after_secs: u64,
    /// Log as JSON lines.
    pub log_json: bool,
    /// Requests per second allowed per token (token bucket; 0 disables the limit).
    pub rate_limit_per_second: f64,
    /// Burst size of the per-token bucket.
    pub rate_limit_burst: f64,
    /// The chains settlements may use.
    pub chains: Vec<ChainConfig>,
    /// Screening providers.
    pub compliance: ComplianceConfig,
    /// Webhook delivery.
    pub webhooks: WebhookConfig,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: "127.0.0.1:8080".into(),
            database_url: None,
            data_dir: PathBuf::from(".lockstep"),
            instruction_ttl_secs: 24 * 3600,
            expiry_sweep_interval_ms: 5_000,
            stuck_after_secs: 3_600,
            log_json: false,
            rate_limit_per_second: 1_000.0,
            rate_limit_burst: 2_000.0,
            chains: Vec::new(),
            compliance: ComplianceConfig::default(),
            webhooks: WebhookConfig::default(),
        }
    }
}

/// One chain: EVM chain id, LayerZero endpoint id and the escrow deployed there.
#[derive(Debug, Clone, Serialize, Deserialize)]
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
        }
    }
}

fn default_poll_interval_ms() -> u64 {
    500
}

fn default_confirmations() -> u64 {
    1
}

/// Screening providers; each one runs only when configured here and listed by the template.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ComplianceConfig {
    /// A local sanctions list (`.json` or `.csv`), see [`crate::compliance::SanctionsList`].
    pub sanctions_list: Option<PathBuf>,
    /// URL of an external screening service, see [`crate::compliance::HttpScreening`].
    pub http_url: Option<String>,
    /// Timeout of one call to the external service, milliseconds (default 10 000).
    pub http_timeout_ms: Option<u64>,
}

/// Webhook delivery tuning.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebhookConfig {
    /// First retry delay, milliseconds; doubles per attempt (with jitter), capped at one hour.
    pub retry_base_ms: u64,
    /// Attempts before a delivery is marked failed.
    pub max_attempts: u32,
    /// Timeout of one delivery request, milliseconds.
    pub request_timeout_ms: u64,
    /// How often the worker polls for due deliveries, milliseconds.
    pub poll_interval_ms: u64,
    /// How long the previous secret keeps signing after a rotation, seconds.
    pub secret_overlap_secs: u64,
}

impl Default for WebhookConfig {
    fn default() -> Self {
        WebhookConfig {
            retry_base_ms: 1_000,
            max_attempts: 10,
            request_timeout_ms: 10_000,
            poll_interval_ms: 500,
            secret_overlap_secs: 24 * 3600,
        }
    }
}

impl Config {
    /// Reads a TOML file.
    pub fn from_file(path: &Path) -> Result<Config> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
            path: path.display().to_string(),
            source,
        })?;
        toml::from_str(&text).map_err(|e| Error::Config(format!("{}: {e}", path.display())))
    }

    /// The database URL in force.
    pub fn database_url(&self) -> String {
        self.database_url
            .clone()
            .unwrap_or_else(|| crate::db::sqlite_url_for(&self.data_dir))
    }

    /// The chain with this EVM chain id.
    pub fn chain(&self, chain_id: u64) -> Option<&ChainConfig> {
        self.chains.iter().find(|c| c.chain_id == chain_id)
    }

    /// Checks invariants the types cannot express.
    pub fn validate(&self) -> Result<()> {
        for (i, c) in self.chains.iter().enumerate() {
            if self.chains[..i]
                .iter()
                .any(|o| o.chain_id == c.chain_id || o.eid == c.eid)
            {
                return Err(Error::Config(format!(
                    "chain {} (eid {}) is configured twice",
                    c.chain_id, c.eid
                )));
            }
        }
        if self.webhooks.max_attempts == 0 {
            return Err(Error::Config(
                "webhooks.max_attempts must be at least 1".into(),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    #[test]
    fn the_example_configuration_parses() {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../lockstep.example.toml");
        let c = super::Config::from_file(&path).unwrap();
        c.validate().unwrap();
        assert_eq!(c.listen, "127.0.0.1:8080");
        assert_eq!(c.chains.len(), 2);
        assert_eq!(c.chain(31338).unwrap().eid, 40162);
        assert!(
            toml::from_str::<super::Config>("secret_key = \"0x01\"").is_err(),
            "unknown keys are refused"
        );
    }
}
