//! Build-time half of the deployment check (included by `build.rs`): the compiler settings
//! of `foundry.toml`'s `[profile.default]`, so the escrow is compiled exactly as `forge build`
//! (and so `script/Deploy.s.sol`) compiles it.

use foundry_compilers::artifacts::{
    BytecodeHash, EvmVersion, Optimizer, Settings, SettingsMetadata, remappings::Remapping,
};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// The keys of a foundry profile that decide the escrow's bytecode (other keys are ignored).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub(crate) struct FoundryProfile {
    /// Source directory, relative to the root.
    pub(crate) src: PathBuf,
    /// The `solc` binary (here the `script/solc` shim over solc-js), relative to the root.
    pub(crate) solc: PathBuf,
    /// Library directories (import search paths).
    #[serde(default)]
    pub(crate) libs: Vec<PathBuf>,
    /// Optimizer on or off (forge's default: on).
    #[serde(default = "default_true")]
    pub(crate) optimizer: bool,
    /// Optimizer runs (forge's default: 200).
    #[serde(default = "default_runs")]
    pub(crate) optimizer_runs: usize,
    /// Code generation through Yul IR.
    #[serde(default)]
    pub(crate) via_ir: bool,
    /// Target EVM version (forge's default here: the compiler's default).
    #[serde(default)]
    pub(crate) evm_version: Option<String>,
    /// `ipfs`, `bzzr1` or `none` (forge's default: `ipfs`).
    #[serde(default = "default_bytecode_hash")]
    pub(crate) bytecode_hash: String,
    /// Whether the CBOR metadata is appended (forge's default: yes).
    #[serde(default = "default_true")]
    pub(crate) cbor_metadata: bool,
    /// `prefix=target` remappings.
    #[serde(default)]
    pub(crate) remappings: Vec<String>,
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
    pub(crate) fn load(root: &Path) -> Result<FoundryProfile, String> {
        let path = root.join("foundry.toml");
        let text = std::fs::read_to_string(&path)
            .map_err(|e| format!("reading {}: {e}", path.display()))?;
        Self::parse(&text).map_err(|e| format!("[profile.default] of {}: {e}", path.display()))
    }

    /// Parses the `[profile.default]` of a `foundry.toml` text.
    pub(crate) fn parse(text: &str) -> Result<FoundryProfile, toml::de::Error> {
        Ok(toml::from_str::<FoundryToml>(text)?.profile.default)
    }

    /// The remappings, parsed.
    pub(crate) fn parsed_remappings(&self) -> Result<Vec<Remapping>, String> {
        self.remappings
            .iter()
            .map(|r| Remapping::from_str(r).map_err(|e| format!("remapping {r:?}: {e}")))
            .collect()
    }

    /// One line naming the compiler and every setting that decides the bytecode.
    pub(crate) fn describe(&self, solc_version: &str) -> String {
        format!(
            "solc {solc_version}, optimizer {} ({} runs), via_ir {}, evm {}, bytecode_hash {}, cbor_metadata {}",
            if self.optimizer { "on" } else { "off" },
            self.optimizer_runs,
            self.via_ir,
            self.evm_version.as_deref().unwrap_or("default"),
            self.bytecode_hash,
            self.cbor_metadata
        )
    }

    /// The solc Standard JSON settings these keys stand for (output selection left to the
    /// project, remappings added by it).
    pub(crate) fn solc_settings(&self) -> Result<Settings, String> {
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
                Some(EvmVersion::from_str(v).map_err(|e| format!("evm_version {v:?}: {e}"))?);
        }
        let hash = BytecodeHash::from_str(&self.bytecode_hash)
            .map_err(|e| format!("bytecode_hash {:?}: {e}", self.bytecode_hash))?;
        s.metadata = Some(SettingsMetadata::new(hash, self.cbor_metadata));
        Ok(s)
    }
}
