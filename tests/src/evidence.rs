//! The evidence steps of a [`World`]: fetching a settlement's bundle and running
//! `lockstep evidence verify` (against every chain, or offline) and `lockstep evidence bundle`.

use crate::process::evidence_verify;
use crate::world::World;
use eyre::bail;
use serde_json::Value;
use std::process::Output;

impl World {
    /// The evidence bundle of a settlement (`/evidence`, the bundle member when wrapped).
    pub async fn evidence_bundle(&self, id: &str) -> eyre::Result<Value> {
        let v = self
            .api
            .get_ok(
                &self.seller_platform.token,
                &format!("/v1/settlements/{id}/evidence"),
            )
            .await?;
        if v.get("bundle_version").is_some() {
            return Ok(v);
        }
        match v.get("bundle") {
            Some(b) if b.get("bundle_version").is_some() => Ok(b.clone()),
            _ => bail!("no evidence bundle in /evidence: {v}"),
        }
    }

    /// Writes `bundle` to the working directory and runs `lockstep evidence verify` against
    /// every chain.
    pub fn verify_evidence(&self, bundle: &Value, file: &str) -> eyre::Result<Output> {
        let path = self.dir.join(file);
        std::fs::write(&path, serde_json::to_vec_pretty(bundle)?)?;
        let rpcs: Vec<(u64, String)> = self
            .chains()
            .iter()
            .map(|c| (c.info.chain_id, c.info.rpc_url.clone()))
            .collect();
        evidence_verify(&path, &rpcs)
    }

    /// `lockstep evidence bundle FACTS`: a bundle rebuilt (consistently) from `facts`.
    pub fn rebuild_bundle(&self, facts: &Value, file: &str) -> eyre::Result<Value> {
        let path = self.dir.join(file);
        std::fs::write(&path, serde_json::to_vec_pretty(facts)?)?;
        let out = std::process::Command::new(crate::devnet::lockstep_bin()?)
            .args(["evidence", "bundle"])
            .arg(&path)
            .output()?;
        if !out.status.success() {
            bail!(
                "lockstep evidence bundle failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(serde_json::from_slice(&out.stdout)?)
    }

    /// `lockstep evidence verify BUNDLE` without `--rpc` (content only).
    pub fn verify_evidence_offline(&self, bundle: &Value, file: &str) -> eyre::Result<Output> {
        let path = self.dir.join(file);
        std::fs::write(&path, serde_json::to_vec_pretty(bundle)?)?;
        evidence_verify(&path, &[])
    }
}
