//! The coordinator daemon as a child process, and the `lockstep` CLI calls the tests make.

use crate::devnet::{DevnetInfo, lockstep_bin, repo_root, tail};
use eyre::{WrapErr, bail};
use lockstep_chain::ChainConfig;
use lockstep_cli::LockstepConfig;
use serde_json::Value;
use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Tunables of the coordinator configuration the harness writes.
#[derive(Debug, Clone)]
pub struct CoordinatorSettings {
    /// `confirmations` of every chain.
    pub confirmations: u64,
    /// `poll_interval_ms` of every chain.
    pub chain_poll_ms: u64,
    /// Database URL; default: SQLite under the data directory.
    pub database_url: Option<String>,
    /// `rpc_url` per chain id instead of the devnet's (a test's proxy).
    pub rpc_urls: std::collections::BTreeMap<u64, String>,
    /// `rpc_timeout_ms` of every chain (`None`: the default).
    pub rpc_timeout_ms: Option<u64>,
    /// `(relay_retry_base_ms, relay_retry_cap_ms)` of every chain (`None`: 1 s / 60 s).
    pub relay_retry_ms: Option<(u64, u64)>,
    /// `min_relayer_balance_wei` of every chain.
    pub min_relayer_balance_wei: Option<u64>,
}

impl Default for CoordinatorSettings {
    fn default() -> Self {
        CoordinatorSettings {
            confirmations: 1,
            chain_poll_ms: 100,
            database_url: None,
            rpc_urls: Default::default(),
            rpc_timeout_ms: None,
            relay_retry_ms: None,
            min_relayer_balance_wei: None,
        }
    }
}

/// Writes a coordinator configuration for the devnet's chains (with three, the three-party
/// `dvp-fx` template enabled) (through
/// [`LockstepConfig`], the binary's own configuration type, so it always parses back).
pub fn write_config(
    info: &DevnetInfo,
    path: &Path,
    listen: &str,
    data_dir: &Path,
    s: &CoordinatorSettings,
) -> eyre::Result<()> {
    let mut c = LockstepConfig::default();
    c.coordinator.listen = listen.to_string();
    c.coordinator.database_url = Some(match &s.database_url {
        Some(u) => u.clone(),
        None => format!("sqlite://{}", data_dir.join("lockstep.db").display()),
    });
    c.coordinator.data_dir = data_dir.to_path_buf();
    c.coordinator.expiry_sweep_interval_ms = 500;
    // Twenty attempts, 200 ms doubling up to an hour; receivers on loopback.
    c.coordinator.webhooks.retry_schedule_ms =
        (0..19).map(|n| (200u64 << n).min(3_600_000)).collect();
    c.coordinator.webhooks.poll_interval_ms = 50;
    c.coordinator.webhooks.allow_private_targets = vec!["127.0.0.1/32".parse()?];
    if info.chains.len() > 2 {
        c.coordinator.enable_templates = vec!["dvp-fx".into()];
    }
    for ch in &info.chains {
        let mut cc = ChainConfig::new(ch.chain_id, ch.eid, ch.escrow);
        cc.endpoint = Some(ch.endpoint);
        cc.receive_lib = Some(ch.receive_lib);
        cc.relayer_dvn = Some(ch.relayer_dvn);
        cc.send_lib = Some(ch.send_lib);
        cc.timelock = ch.timelock;
        cc.verifier_dvn = ch.verifier_dvn;
        cc.rpc_url = Some(s.rpc_urls.get(&ch.chain_id).unwrap_or(&ch.rpc_url).clone());
        if let Some(ms) = s.rpc_timeout_ms {
            cc.rpc_timeout_ms = ms;
        }
        if let Some((base, cap)) = s.relay_retry_ms {
            cc.relay_retry_base_ms = Some(base);
            cc.relay_retry_cap_ms = Some(cap);
        }
        cc.min_relayer_balance_wei = s.min_relayer_balance_wei;
        cc.confirmations = s.confirmations;
        cc.start_block = ch.deploy_block;
        cc.poll_interval_ms = s.chain_poll_ms;
        cc.max_settlement_duration_secs = ch.max_settlement_duration;
        c.chains.push(cc);
    }
    std::fs::create_dir_all(data_dir)?;
    std::fs::write(path, c.to_toml()?).wrap_err_with(|| format!("writing {}", path.display()))
}

/// `lockstep serve` as a child process; stdout and stderr are appended to one log file
/// across restarts.
#[derive(Debug)]
pub struct Coordinator {
    bin: PathBuf,
    /// The configuration file.
    pub config: PathBuf,
    /// The log file.
    pub log: PathBuf,
    /// `http://host:port`.
    pub url: String,
    attester_key: String,
    relayer_key: String,
    child: Option<Child>,
    /// How many times it was started.
    pub starts: u32,
}

impl Coordinator {
    /// A coordinator (not started) for the configuration at `config`, listening on `listen`.
    pub fn new(
        config: PathBuf,
        log: PathBuf,
        listen: &str,
        attester_key: &str,
        relayer_key: &str,
    ) -> eyre::Result<Coordinator> {
        Ok(Coordinator {
            bin: lockstep_bin()?,
            config,
            log,
            url: format!("http://{listen}"),
            attester_key: attester_key.to_string(),
            relayer_key: relayer_key.to_string(),
            child: None,
            starts: 0,
        })
    }

    /// Starts the daemon and waits until `/healthz` answers 200.
    pub async fn start(&mut self) -> eyre::Result<()> {
        if self.child.is_some() {
            bail!("coordinator already running");
        }
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)?;
        self.starts += 1;
        let child = Command::new(&self.bin)
            .args(["serve", "--config"])
            .arg(&self.config)
            .env("LOCKSTEP_ATTESTER_KEY", &self.attester_key)
            .env("LOCKSTEP_RELAYER_KEY", &self.relayer_key)
            .env(
                "RUST_LOG",
                std::env::var("LOCKSTEP_E2E_LOG").unwrap_or_else(|_| "info".into()),
            )
            .env_remove("LOCKSTEP_CONFIG")
            .env_remove("LOCKSTEP_DATABASE_URL")
            .env_remove("LOCKSTEP_DATA_DIR")
            .env_remove("LOCKSTEP_LISTEN")
            .current_dir(repo_root())
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .wrap_err("starting lockstep serve")?;
        self.child = Some(child);
        let http = reqwest::Client::new();
        let started = Instant::now();
        loop {
            if let Some(c) = self.child.as_mut()
                && let Some(status) = c.try_wait()?
            {
                self.child = None;
                bail!(
                    "lockstep serve exited ({status}); log tail:\n{}",
                    self.log_tail(40)
                );
            }
            if let Ok(r) = http
                .get(format!("{}/healthz", self.url))
                .timeout(Duration::from_secs(2))
                .send()
                .await
                && r.status().is_success()
            {
                return Ok(());
            }
            if started.elapsed() > Duration::from_secs(60) {
                bail!(
                    "lockstep serve did not answer /healthz within 60 s; log tail:\n{}",
                    self.log_tail(40)
                );
            }
            tokio::time::sleep(crate::POLL).await;
        }
    }

    /// SIGKILL: no graceful shutdown at all.
    pub fn kill(&mut self) -> eyre::Result<()> {
        if let Some(mut c) = self.child.take() {
            c.kill()?;
            c.wait()?;
        }
        Ok(())
    }

    /// SIGTERM and wait (SIGKILL after 20 s).
    pub async fn stop(&mut self) -> eyre::Result<()> {
        let Some(mut c) = self.child.take() else {
            return Ok(());
        };
        Command::new("kill")
            .args(["-TERM", &c.id().to_string()])
            .status()?;
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if c.try_wait()?.is_some() {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        c.kill()?;
        c.wait()?;
        bail!("lockstep serve ignored SIGTERM for 20 s")
    }

    /// Whether the process is running.
    pub fn is_running(&mut self) -> bool {
        match self.child.as_mut() {
            Some(c) => matches!(c.try_wait(), Ok(None)),
            None => false,
        }
    }

    /// `GET /metrics` (Prometheus text).
    pub async fn metrics(&self) -> eyre::Result<String> {
        Ok(reqwest::Client::new()
            .get(format!("{}/metrics", self.url))
            .timeout(Duration::from_secs(5))
            .send()
            .await?
            .error_for_status()?
            .text()
            .await?)
    }

    /// The largest value of the numeric field `field` over the log lines containing
    /// `message` (e.g. the relayer's `attempts` of "packet delivery attempt failed").
    pub fn max_logged(&self, message: &str, field: &str) -> eyre::Result<Option<u64>> {
        let text = std::fs::read_to_string(&self.log)?;
        let key = format!("{field}=");
        Ok(text
            .lines()
            .map(strip_ansi)
            .filter(|l| l.contains(message))
            .filter_map(|l| {
                let at = l.find(&key)? + key.len();
                let digits: String = l[at..].chars().take_while(char::is_ascii_digit).collect();
                digits.parse().ok()
            })
            .max())
    }

    /// The last `n` lines of the log.
    pub fn log_tail(&self, n: usize) -> String {
        tail(&self.log, n)
    }

    /// `lockstep platform create --name NAME`: `(platform_id, token)`.
    pub fn create_platform(&self, name: &str) -> eyre::Result<(String, String)> {
        let out = self.cli(&["platform", "create", "--name", name])?;
        let v: Value = serde_json::from_slice(&out.stdout).wrap_err_with(|| {
            format!(
                "platform create printed {}",
                String::from_utf8_lossy(&out.stdout)
            )
        })?;
        match (v["platform_id"].as_str(), v["token"].as_str()) {
            (Some(id), Some(token)) => Ok((id.to_string(), token.to_string())),
            _ => bail!("platform create printed {v}"),
        }
    }

    /// A `lockstep` CLI call against this coordinator's configuration; fails unless exit 0.
    pub fn cli(&self, args: &[&str]) -> eyre::Result<Output> {
        let out = Command::new(&self.bin)
            .args(args)
            .arg("--config")
            .arg(&self.config)
            .env_remove("LOCKSTEP_DATABASE_URL")
            .env_remove("LOCKSTEP_DATA_DIR")
            .output()
            .wrap_err_with(|| format!("running lockstep {}", args.join(" ")))?;
        if !out.status.success() {
            bail!(
                "lockstep {} failed ({}): {}",
                args.join(" "),
                out.status,
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(out)
    }
}

impl Drop for Coordinator {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// `line` without ANSI colour sequences (`ESC [ ... m`).
fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// `lockstep evidence verify BUNDLE --rpc CHAIN=URL ...`: the process output (any exit code).
pub fn evidence_verify(bundle: &Path, rpcs: &[(u64, String)]) -> eyre::Result<Output> {
    let mut cmd = Command::new(lockstep_bin()?);
    cmd.args(["evidence", "verify"]).arg(bundle);
    for (chain, url) in rpcs {
        cmd.arg("--rpc").arg(format!("{chain}={url}"));
    }
    cmd.output().wrap_err("running lockstep evidence verify")
}

/// `lockstep deployment check --config CONFIG`: the process output (any exit code; 0 when
/// every row holds, 1 on a deviation).
pub fn deployment_check(config: &Path) -> eyre::Result<Output> {
    Command::new(lockstep_bin()?)
        .args(["deployment", "check", "--config"])
        .arg(config)
        .env_remove("LOCKSTEP_CONFIG")
        .output()
        .wrap_err("running lockstep deployment check")
}

/// `lockstep claim --rpc URL --escrow E --token T --to TO` with the beneficiary's key in
/// `LOCKSTEP_CLAIM_KEY` (never on the command line).
pub fn lockstep_claim(
    rpc: &str,
    escrow: alloy::primitives::Address,
    token: alloy::primitives::Address,
    to: alloy::primitives::Address,
    key: &str,
) -> eyre::Result<Output> {
    Command::new(lockstep_bin()?)
        .args(["claim", "--rpc", rpc])
        .arg("--escrow")
        .arg(format!("{escrow:#x}"))
        .arg("--token")
        .arg(format!("{token:#x}"))
        .arg("--to")
        .arg(format!("{to:#x}"))
        .env("LOCKSTEP_CLAIM_KEY", key)
        .output()
        .wrap_err("running lockstep claim")
}

/// A new, empty PostgreSQL database on the server `script/with-postgres` started
/// (`LOCKSTEP_TEST_POSTGRES_URL`), created with `psql`; `None` when no server is given.
pub fn fresh_postgres_database(name: &str) -> eyre::Result<Option<String>> {
    let Ok(admin) = std::env::var("LOCKSTEP_TEST_POSTGRES_URL") else {
        return Ok(None);
    };
    let db = format!(
        "lockstep_e2e_{}_{}",
        name.to_ascii_lowercase(),
        std::process::id()
    );
    let out = Command::new("psql")
        .arg(&admin)
        .args(["-v", "ON_ERROR_STOP=1", "-q", "-c"])
        .arg(format!("CREATE DATABASE {db}"))
        .output()
        .wrap_err("running psql (PostgreSQL client) to create the test database")?;
    if !out.status.success() {
        bail!(
            "psql CREATE DATABASE {db} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let base = admin
        .rsplit_once('/')
        .map(|(b, _)| b.to_string())
        .ok_or_else(|| eyre::eyre!("LOCKSTEP_TEST_POSTGRES_URL has no database part: {admin}"))?;
    Ok(Some(format!("{base}/{db}")))
}
