//! The configuration file: one TOML document whose top-level keys are the coordinator's
//! [`Config`] and whose `[[chains]]` tables are the chain side's [`ChainConfig`]s.
//!
//! Each half is parsed by its own type, so unknown keys are refused in both: the file is
//! read as a table, `chains` is taken out for the chain side and the rest must be exactly a
//! coordinator `Config`. Writing goes the same way (`toml::to_string` of each half), so a
//! generated file (devnet, e2e harness) always parses back.

use eyre::{WrapErr, bail};
use lockstep_chain::ChainConfig;
use lockstep_coordinator::config::Config;
use lockstep_core::EscrowChain;
use std::path::Path;

/// The whole configuration file.
#[derive(Debug, Clone, Default)]
pub struct LockstepConfig {
    /// The coordinator's settings (top-level keys and its sections).
    pub coordinator: Config,
    /// The chains settlements may use, with what the chain side needs to reach them.
    pub chains: Vec<ChainConfig>,
}

impl LockstepConfig {
    /// Reads and validates a TOML file.
    pub fn from_file(path: &Path) -> eyre::Result<LockstepConfig> {
        let text = std::fs::read_to_string(path)
            .wrap_err_with(|| format!("reading {}", path.display()))?;
        Self::parse(&text).wrap_err_with(|| format!("in {}", path.display()))
    }

    /// Parses and validates TOML text.
    pub fn parse(text: &str) -> eyre::Result<LockstepConfig> {
        let mut table: toml::Table = toml::from_str(text)?;
        let chains = match table.remove("chains") {
            Some(v) => v.try_into::<Vec<ChainConfig>>().wrap_err("[[chains]]")?,
            None => Vec::new(),
        };
        let coordinator: Config = toml::Value::Table(table).try_into()?;
        let c = LockstepConfig {
            coordinator,
            chains,
        };
        c.validate()?;
        Ok(c)
    }

    /// The TOML text of this configuration (parses back to an equal configuration).
    pub fn to_toml(&self) -> eyre::Result<String> {
        let mut out =
            toml::to_string(&self.coordinator).wrap_err("serialising the coordinator settings")?;
        #[derive(serde::Serialize)]
        struct Chains<'a> {
            chains: &'a [ChainConfig],
        }
        if !self.chains.is_empty() {
            out.push('\n');
            out.push_str(
                &toml::to_string(&Chains {
                    chains: &self.chains,
                })
                .wrap_err("serialising [[chains]]")?,
            );
        }
        Ok(out)
    }

    /// Checks what neither half can check alone: every chain id and eid configured once.
    pub fn validate(&self) -> eyre::Result<()> {
        for (i, c) in self.chains.iter().enumerate() {
            if self.chains[..i]
                .iter()
                .any(|o| o.chain_id == c.chain_id || o.eid == c.eid)
            {
                bail!("chain {} (eid {}) is configured twice", c.chain_id, c.eid);
            }
        }
        Ok(())
    }

    /// The escrow deployments the coordinator signs attestations and deposit instructions
    /// for.
    pub fn escrows(&self) -> Vec<EscrowChain> {
        self.chains.iter().map(ChainConfig::escrow_chain).collect()
    }

    /// Whether any chain is reachable (has an `rpc_url`), i.e. the chain side runs.
    pub fn chain_side_enabled(&self) -> bool {
        self.chains.iter().any(|c| c.rpc_url.is_some())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn example() -> LockstepConfig {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../lockstep.example.toml");
        LockstepConfig::from_file(&path).unwrap()
    }

    #[test]
    fn the_example_configuration_parses() {
        let c = example();
        assert_eq!(c.coordinator.listen, "127.0.0.1:8080");
        assert_eq!(c.chains.len(), 2);
        assert_eq!(
            c.chains.iter().find(|ch| ch.chain_id == 31338).unwrap().eid,
            40162
        );
        assert_eq!(c.escrows().len(), 2);
    }

    #[test]
    fn unknown_keys_are_refused_at_the_top_level_and_in_chains() {
        assert!(
            LockstepConfig::parse("secret_key = \"0x01\"").is_err(),
            "unknown keys are refused"
        );
        let chain = "[[chains]]\nchain_id = 1\neid = 2\nescrow = \"0x0000000000000000000000000000000000000001\"\n";
        assert!(LockstepConfig::parse(chain).is_ok());
        assert!(LockstepConfig::parse(&format!("{chain}rpc = \"x\"\n")).is_err());
    }

    #[test]
    fn a_chain_configured_twice_is_refused() {
        let chain = "[[chains]]\nchain_id = 1\neid = 2\nescrow = \"0x0000000000000000000000000000000000000001\"\n";
        let err = LockstepConfig::parse(&format!("{chain}{chain}")).unwrap_err();
        assert!(format!("{err:#}").contains("configured twice"), "{err:#}");
    }

    #[test]
    fn written_configuration_parses_back() {
        let c = example();
        let text = c.to_toml().unwrap();
        let back = LockstepConfig::parse(&text).unwrap();
        assert_eq!(back.to_toml().unwrap(), text);
        assert_eq!(back.chains.len(), 2);
        assert_eq!(back.coordinator.listen, c.coordinator.listen);
    }
}
