//! The coordinator's part of the configuration: the top-level keys of the TOML file (see
//! `lockstep.example.toml`) except `[[chains]]`, which belong to the chain side. The
//! `lockstep` binary flattens this struct into its file type beside the chains and
//! overrides it from environment variables and flags (flags > env > file > defaults).
//! Secrets are never read from this file: the attester key comes from
//! `LOCKSTEP_ATTESTER_KEY` or a key file.
//!
//! `deny_unknown_fields` has no effect on a flattened struct, so a composing type checks
//! its top-level keys with [`Config::refuse_unknown_keys`].

use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

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
    /// Screening providers.
    pub compliance: ComplianceConfig,
    /// Webhook delivery.
    pub webhooks: WebhookConfig,
    /// HTTP server limits (timeouts, connections, body size, unauthenticated rate limit).
    pub http: HttpConfig,
    /// Optional templates to load beside the built-in ones, by slug (today `dvp-fx`, the
    /// three-party template; docs/coordinator.md "Multi-party matching").
    pub enable_templates: Vec<String>,
    /// The `/healthz` URLs of the independent verifiers (DVNs) this operator runs, which
    /// `GET /v1/operator/verifiers` and the dashboard report on (operator configuration:
    /// fetched as given, never from user input).
    pub verifier_health_urls: Vec<String>,
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
            compliance: ComplianceConfig::default(),
            webhooks: WebhookConfig::default(),
            http: HttpConfig::default(),
            enable_templates: Vec::new(),
            verifier_health_urls: Vec::new(),
        }
    }
}

/// HTTP server limits (docs/coordinator.md, "Server limits").
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpConfig {
    /// A connection that has not sent a request's complete headers within this time is
    /// closed (also the idle limit between keep-alive requests), milliseconds.
    pub header_read_timeout_ms: u64,
    /// A request whose body has not fully arrived within this time after its headers gets
    /// 408 and its connection is closed, milliseconds.
    pub body_read_timeout_ms: u64,
    /// A request the server has not answered within this time after reading its body gets
    /// 503, milliseconds.
    pub request_timeout_ms: u64,
    /// Open connections served at once; further connections wait in the listen backlog.
    pub max_connections: usize,
    /// Largest accepted request body, bytes; larger bodies get 413.
    pub max_body_bytes: usize,
    /// Requests per second allowed per client address (IPv4 address or IPv6 /64) for
    /// requests without a valid token (token bucket; 0 disables the limit).
    pub unauthenticated_per_second: f64,
    /// Burst size of the per-address bucket.
    pub unauthenticated_burst: f64,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            header_read_timeout_ms: 5_000,
            body_read_timeout_ms: 10_000,
            request_timeout_ms: 30_000,
            max_connections: 1_024,
            max_body_bytes: 1024 * 1024,
            unauthenticated_per_second: 5.0,
            unauthenticated_burst: 20.0,
        }
    }
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

/// Webhook delivery tuning and target rules (see `webhooks::schedule` and
/// `webhooks::target`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebhookConfig {
    /// Delays before retries 1, 2, …, milliseconds (each stretched by up to
    /// `retry_jitter`); a delivery gets one attempt more than there are entries, then it
    /// is `failed`. Default: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h (about 27.6 h).
    pub retry_schedule_ms: Vec<u64>,
    /// Each retry delay is stretched by a random fraction up to this (0–1).
    pub retry_jitter: f64,
    /// Timeout of one delivery request, milliseconds. A retry after an attempt that got
    /// no HTTP answer never comes sooner than this after that attempt started.
    pub request_timeout_ms: u64,
    /// How often the worker polls for due deliveries, milliseconds.
    pub poll_interval_ms: u64,
    /// How long a replaced secret keeps signing after a rotation, seconds.
    pub secret_overlap_secs: u64,
    /// CIDRs of otherwise refused (private, loopback, …) targets that are allowed, e.g.
    /// `["127.0.0.1/32", "::1/128"]` for a devnet. Cloud metadata addresses stay refused.
    pub allow_private_targets: Vec<ipnet::IpNet>,
}

impl Default for WebhookConfig {
    fn default() -> Self {
        WebhookConfig {
            retry_schedule_ms: crate::webhooks::schedule::DEFAULT_SCHEDULE_MS.to_vec(),
            retry_jitter: crate::webhooks::schedule::DEFAULT_JITTER,
            request_timeout_ms: 10_000,
            poll_interval_ms: 500,
            secret_overlap_secs: 24 * 3600,
            allow_private_targets: Vec::new(),
        }
    }
}

impl Config {
    /// The top-level keys this struct reads (every field name).
    pub const KEYS: &'static [&'static str] = &[
        "listen",
        "database_url",
        "data_dir",
        "instruction_ttl_secs",
        "expiry_sweep_interval_ms",
        "stuck_after_secs",
        "log_json",
        "rate_limit_per_second",
        "rate_limit_burst",
        "compliance",
        "webhooks",
        "http",
        "enable_templates",
        "verifier_health_urls",
    ];

    /// Refuses a top-level key of `table` that is neither one of [`Config::KEYS`] nor in
    /// `also` (the composing type's own keys, e.g. `chains`). Nested tables need no check:
    /// their structs refuse unknown keys themselves.
    pub fn refuse_unknown_keys(table: &toml::Table, also: &[&str]) -> Result<()> {
        match table
            .keys()
            .find(|k| !Self::KEYS.contains(&k.as_str()) && !also.contains(&k.as_str()))
        {
            Some(k) => Err(Error::Config(format!("unknown configuration key {k:?}"))),
            None => Ok(()),
        }
    }

    /// The database URL in force.
    pub fn database_url(&self) -> String {
        self.database_url
            .clone()
            .unwrap_or_else(|| lockstep_core::db::sqlite_url_for(&self.data_dir))
    }

    /// Checks invariants the types cannot express.
    pub fn validate(&self) -> Result<()> {
        if !(0.0..=1.0).contains(&self.webhooks.retry_jitter) {
            return Err(Error::Config(
                "webhooks.retry_jitter must be between 0 and 1".into(),
            ));
        }
        if self.webhooks.request_timeout_ms == 0 {
            return Err(Error::Config(
                "webhooks.request_timeout_ms must be at least 1".into(),
            ));
        }
        let h = &self.http;
        if h.header_read_timeout_ms == 0
            || h.body_read_timeout_ms == 0
            || h.request_timeout_ms == 0
            || h.max_connections == 0
            || h.max_body_bytes == 0
        {
            return Err(Error::Config(
                "http timeouts, max_connections and max_body_bytes must be positive".into(),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::Config;
    use serde::Deserialize;

    /// What the `lockstep` binary composes: this struct flattened beside the chains.
    #[derive(Deserialize)]
    struct Composed {
        #[serde(flatten)]
        coordinator: Config,
        #[serde(default)]
        chains: Vec<toml::Table>,
    }

    #[test]
    fn the_example_configuration_parses() {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../lockstep.example.toml");
        let text = std::fs::read_to_string(path).unwrap();
        let c: Composed = toml::from_str(&text).unwrap();
        c.coordinator.validate().unwrap();
        assert_eq!(c.coordinator.listen, "127.0.0.1:8080");
        assert_eq!(c.chains.len(), 2);
        let chain = c
            .chains
            .iter()
            .find(|ch| ch["chain_id"].as_integer() == Some(31338))
            .unwrap();
        assert_eq!(chain["eid"].as_integer(), Some(40162));
        Config::refuse_unknown_keys(&toml::from_str(&text).unwrap(), &["chains"]).unwrap();
        assert!(
            toml::from_str::<super::Config>("secret_key = \"0x01\"").is_err(),
            "unknown keys are refused"
        );
        let with_secret: toml::Table = toml::from_str("secret_key = \"0x01\"").unwrap();
        assert!(
            Config::refuse_unknown_keys(&with_secret, &["chains"]).is_err(),
            "unknown keys are refused when flattened too"
        );
        assert!(
            toml::from_str::<super::WebhookConfig>("retry_base = 1").is_err(),
            "nested tables refuse unknown keys"
        );
    }

    #[test]
    fn webhook_allow_list_takes_cidrs_and_the_schedule_defaults_to_a_day() {
        let w: super::WebhookConfig =
            toml::from_str(r#"allow_private_targets = ["127.0.0.1/32", "::1/128"]"#).unwrap();
        assert_eq!(
            w.allow_private_targets,
            vec![
                "127.0.0.1/32".parse::<ipnet::IpNet>().unwrap(),
                "::1/128".parse().unwrap()
            ]
        );
        assert!(
            toml::from_str::<super::WebhookConfig>(r#"allow_private_targets = ["127.0.0.1"]"#)
                .is_err(),
            "a bare address is not a CIDR"
        );
        let span = crate::webhooks::schedule::span(&w.retry_schedule_ms);
        assert!(
            span >= std::time::Duration::from_secs(24 * 3600),
            "{span:?}"
        );
        let bad = Config {
            webhooks: super::WebhookConfig {
                retry_jitter: 1.5,
                ..super::WebhookConfig::default()
            },
            ..Config::default()
        };
        assert!(bad.validate().is_err());
    }

    #[test]
    fn keys_list_every_field_and_round_trip() {
        let c = Config {
            database_url: Some("sqlite://x.db".into()),
            ..Config::default()
        };
        let text = toml::to_string(&c).unwrap();
        let table: toml::Table = toml::from_str(&text).unwrap();
        let mut keys: Vec<&str> = table.keys().map(String::as_str).collect();
        let mut want = Config::KEYS.to_vec();
        keys.sort_unstable();
        want.sort_unstable();
        // `compliance` has only optional fields and serialises as an empty table.
        assert_eq!(keys, want);
        let back: Config = toml::from_str(&text).unwrap();
        assert_eq!(back.listen, c.listen);
        assert_eq!(back.database_url, c.database_url);
    }
}
