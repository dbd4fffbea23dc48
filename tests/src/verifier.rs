//! `lockstep verifier` as a child process (the second DVN of every receive path), with its
//! own key and its own configuration written from the devnet's (`verifier.toml`): a free
//! listen port and, for fault tests, other RPC endpoints.

use crate::devnet::{DevnetInfo, free_port, lockstep_bin, repo_root, tail};
use eyre::{WrapErr, bail};
use lockstep_verifier::VerifierConfig;
use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The verifier process.
#[derive(Debug)]
pub struct VerifierProc {
    bin: PathBuf,
    /// Its configuration file.
    pub config: PathBuf,
    /// Its log file (appended across restarts).
    pub log: PathBuf,
    /// `http://host:port` of `/healthz` and `/metrics`.
    pub url: String,
    key: String,
    child: Option<Child>,
}

impl VerifierProc {
    /// Writes `<dir>/verifier.toml` from the devnet's (its poll interval too), listening on a
    /// free port; `rpc_urls` replaces chain `i`'s endpoints where given.
    pub fn new(
        info: &DevnetInfo,
        dir: &Path,
        rpc_urls: &[Option<Vec<String>>],
    ) -> eyre::Result<VerifierProc> {
        let mut c = VerifierConfig::load(&info.verifier_config)?;
        c.listen = format!("127.0.0.1:{}", free_port()?);
        for (chain, urls) in c.chains.iter_mut().zip(rpc_urls) {
            if let Some(urls) = urls {
                chain.rpc_urls = urls.clone();
            }
        }
        let config = dir.join("verifier.toml");
        std::fs::write(&config, c.to_toml()?)
            .wrap_err_with(|| format!("writing {}", config.display()))?;
        Ok(VerifierProc {
            bin: lockstep_bin()?,
            config,
            log: dir.join("verifier.log"),
            url: format!("http://{}", c.listen),
            key: info.accounts.verifier.private_key.clone(),
            child: None,
        })
    }

    /// Starts it and waits until `/healthz` answers (200 or 503).
    pub async fn start(&mut self) -> eyre::Result<()> {
        if self.child.is_some() {
            bail!("verifier already running");
        }
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)?;
        let child = Command::new(&self.bin)
            .args(["verifier", "--config"])
            .arg(&self.config)
            .env("LOCKSTEP_VERIFIER_KEY", &self.key)
            .env(
                "RUST_LOG",
                std::env::var("LOCKSTEP_E2E_LOG").unwrap_or_else(|_| "info".into()),
            )
            .env_remove("LOCKSTEP_RELAYER_KEY")
            .current_dir(repo_root())
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .wrap_err("starting lockstep verifier")?;
        self.child = Some(child);
        let started = Instant::now();
        loop {
            if let Some(c) = self.child.as_mut()
                && let Some(status) = c.try_wait()?
            {
                self.child = None;
                bail!(
                    "lockstep verifier exited ({status}); log:\n{}",
                    tail(&self.log, 40)
                );
            }
            if self.healthz().await.is_ok() {
                return Ok(());
            }
            if started.elapsed() > Duration::from_secs(30) {
                bail!(
                    "lockstep verifier did not answer within 30 s; log:\n{}",
                    tail(&self.log, 40)
                );
            }
            tokio::time::sleep(crate::POLL).await;
        }
    }

    /// SIGKILL and wait.
    pub fn stop(&mut self) -> eyre::Result<()> {
        if let Some(mut c) = self.child.take() {
            c.kill()?;
            c.wait()?;
        }
        Ok(())
    }

    /// `GET /healthz`: (status code, body).
    pub async fn healthz(&self) -> eyre::Result<(u16, serde_json::Value)> {
        let r = reqwest::Client::new()
            .get(format!("{}/healthz", self.url))
            .timeout(Duration::from_secs(2))
            .send()
            .await?;
        let code = r.status().as_u16();
        Ok((code, r.json().await?))
    }

    /// `GET /metrics`.
    pub async fn metrics(&self) -> eyre::Result<String> {
        Ok(reqwest::Client::new()
            .get(format!("{}/metrics", self.url))
            .timeout(Duration::from_secs(2))
            .send()
            .await?
            .text()
            .await?)
    }

    /// The last `n` lines of its log.
    pub fn log_tail(&self, n: usize) -> String {
        tail(&self.log, n)
    }
}

impl Drop for VerifierProc {
    fn drop(&mut self) {
        let _ = self.stop();
    }
}
