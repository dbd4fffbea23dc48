//! The compiler settings of `foundry.toml`'s `[profile.default]`: the deployment check
//! compiles the escrow exactly as `forge build` (and so `script/Deploy.s.sol`) does.

use crate::error::CompileError;
use foundry_compilers::artifacts::{
    BytecodeHash, EvmVersion, Optimizer, Settings, SettingsMetadata, remappings::Remapping,
};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// The keys of a foundry profile that decide the escrow's bytecode (other keys are ignored).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct FoundryProfile {
    /// Source directory, relative to the root.
    pub src: PathBuf,
    /// The `solc` binary (here the `script/solc` shim over solc-js), relative to the root.
    pub solc: PathBuf,
    /// Library directories (import search paths).
    #[serde(default)]
    pub libs: Vec<PathBuf>,
    /// Optimizer on or off (forge's default: on).
    #[serde(default = "default_true")]
    pub optimizer: bool,
    /// Optimizer runs (forge's default: 200).
    #[serde(default = "default_runs")]
    pub optimizer_runs: usize,
    /// Code generation through Yul IR.
    #[serde(default)]
    pub via_ir: bool,
    /// Target EVM version (forge's default here: the compiler's default).
    #[serde(default)]
    pub evm_version: Option<String>,
    /// `ipfs`, `bzzr1` or `none` (forge's default: `ipfs`).
    #[serde(default = "default_bytecode_hash")]
    pub bytecode_hash: String,
    /// Whether the CBOR metadata is appended (forge's default: yes).
    #[serde(default = "default_true")]
    pub cbor_metadata: bool,
    /// `prefix=target` remappings.
    #[serde(default)]
    pub remappings: Vec<String>,
}

fn default_true() -> bool {
    true
}

fn default_runs() -> usize {
    200
}

fn default_bytecode_hash() -> String {
    "ipfs".to_string()
}

#[derive(Deserialize)]
struct FoundryToml {
    profile: Profiles,
}

#[derive(Deserialize)]
struct Profiles {
    default: FoundryProfile,
}

impl FoundryProfile {
    /// Reads `[profile.default]` of `<root>/foundry.toml`.
    pub fn load(root: &Path) -> Result<FoundryProfile, CompileError> {
        let path = root.join("foundry.toml");
        let text = std::fs::read_to_string(&path).map_err(|source| CompileError::Read {
            path: path.clone(),
            source,
        })?;
        Self::parse(&text).map_err(|source| CompileError::FoundryToml { path, source })
    }

    /// Parses the `[profile.default]` of a `foundry.toml` text.
    pub fn parse(text: &str) -> Result<FoundryProfile, toml::de::Error> {
        Ok(toml::from_str::<FoundryToml>(text)?.profile.default)
    }

    /// The remappings, parsed.
    pub fn parsed_remappings(&self) -> Result<Vec<Remapping>, CompileError> {
        self.remappings
            .iter()
            .map(|r| {
                Remapping::from_str(r).map_err(|e| CompileError::Setting {
                    key: "remappings",
                    value: r.clone(),
                    reason: e.to_string(),
                })
            })
            .collect()
    }

    /// The solc Standard JSON settings these keys stand for (output selection left to the
    /// project, remappings added by it).
    pub fn solc_settings(&self) -> Result<Settings, CompileError> {
        let mut s = Settings {
            optimizer: Optimizer {
                enabled: Some(self.optimizer),
                runs: Some(self.optimizer_runs),
                details: None,
            },
            via_ir: self.via_ir.then_some(true),
            ..Settings::default()
        };
        if let Some(v) = &self.evm_version {
            s.evm_version =
                Some(
                    EvmVersion::from_str(v).map_err(|reason| CompileError::Setting {
                        key: "evm_version",
                        value: v.clone(),
                        reason,
                    })?,
                );
        }
        let hash = BytecodeHash::from_str(&self.bytecode_hash).map_err(|reason| {
            CompileError::Setting {
                key: "bytecode_hash",
                value: self.bytecode_hash.clone(),
                reason,
            }
        })?;
        s.metadata = Some(SettingsMetadata::new(hash, self.cbor_metadata));
        Ok(s)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_repository_profile_is_read_with_its_bytecode_settings() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let p = FoundryProfile::load(&root).unwrap();
        assert_eq!(p.src, PathBuf::from("contracts/src"));
        assert_eq!(p.solc, PathBuf::from("script/solc"));
        assert_eq!(
            (p.optimizer, p.optimizer_runs, p.via_ir),
            (true, 500, false)
        );
        assert_eq!(p.evm_version.as_deref(), Some("cancun"));
        assert_eq!((p.bytecode_hash.as_str(), p.cbor_metadata), ("none", true));
        let s = p.solc_settings().unwrap();
        assert_eq!(s.evm_version, Some(EvmVersion::Cancun));
        assert_eq!(s.optimizer.runs, Some(500));
        let meta = s.metadata.unwrap();
        assert_eq!(meta.bytecode_hash, Some(BytecodeHash::None));
        assert!(
            p.parsed_remappings()
                .unwrap()
                .iter()
                .any(|r| r.name == "@openzeppelin/contracts/")
        );
    }

    #[test]
    fn forge_defaults_apply_to_missing_keys_and_bad_values_are_refused() {
        let p = FoundryProfile::parse(
            "[profile.default]\nsrc = \"src\"\nsolc = \"solc\"\nbytecode_hash = \"nope\"\n",
        )
        .unwrap();
        assert_eq!(
            (p.optimizer, p.optimizer_runs, p.cbor_metadata),
            (true, 200, true)
        );
        let err = p.solc_settings().unwrap_err();
        assert!(
            matches!(
                err,
                CompileError::Setting {
                    key: "bytecode_hash",
                    ..
                }
            ),
            "{err}"
        );
    }
}
