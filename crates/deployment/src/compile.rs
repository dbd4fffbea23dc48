//! Compiling the escrow from `contracts/src` with foundry-compilers, with the settings of
//! `foundry.toml` ([`FoundryProfile`]) and the solc it names (the `script/solc` shim over
//! solc-js: nothing is downloaded).
//!
//! The compiler's artifacts and cache go to `out-deployment-check/` and
//! `cache-deployment-check/` under the root (not forge's `out/` and `cache/`, whose cache
//! this must never rewrite); an unchanged tree is not compiled again. A file lock
//! serialises concurrent checks on one tree.

use crate::error::CompileError;
use crate::settings::FoundryProfile;
use alloy::primitives::Bytes;
use foundry_compilers::artifacts::Offsets;
use foundry_compilers::multi::{MultiCompiler, MultiCompilerSettings};
use foundry_compilers::solc::{Solc, SolcCompiler, SolcSettings};
use foundry_compilers::{Project, ProjectPathsConfig};
use std::collections::BTreeMap;
use std::fs::File;
use std::ops::Range;
use std::path::Path;
use std::time::Instant;

/// The escrow's source file under the profile's `src`.
pub const ESCROW_FILE: &str = "SettlementEscrow.sol";
/// The escrow's contract name.
pub const ESCROW_CONTRACT: &str = "SettlementEscrow";

/// A contract's runtime code as compiled, with where its immutables go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompiledRuntime {
    /// The contract's name.
    pub contract: String,
    /// The runtime (deployed) bytecode, immutables zero.
    pub code: Bytes,
    /// Byte ranges the constructor fills with immutable values (from the output's
    /// `immutableReferences`), sorted.
    pub immutables: Vec<Range<usize>>,
}

impl CompiledRuntime {
    /// Builds from a compiler output's runtime object and its `immutableReferences`.
    pub fn new(
        contract: &str,
        code: Bytes,
        references: &BTreeMap<String, Vec<Offsets>>,
    ) -> CompiledRuntime {
        let mut immutables: Vec<Range<usize>> = references
            .values()
            .flatten()
            .map(|o| o.start as usize..(o.start as usize + o.length as usize))
            .collect();
        immutables.sort_by_key(|r| (r.start, r.end));
        CompiledRuntime {
            contract: contract.to_string(),
            code,
            immutables,
        }
    }
}

/// Compiles the escrow under `root` (the directory with `foundry.toml`) and returns its
/// runtime code.
pub fn compile_escrow(root: &Path) -> Result<CompiledRuntime, CompileError> {
    let profile = FoundryProfile::load(root)?;
    compile_contract(root, &profile, ESCROW_FILE, ESCROW_CONTRACT)
}

/// Compiles `file` (under the profile's `src`) and its imports, returns `contract`'s runtime.
pub fn compile_contract(
    root: &Path,
    profile: &FoundryProfile,
    file: &str,
    contract: &str,
) -> Result<CompiledRuntime, CompileError> {
    let started = Instant::now();
    let _lock = CacheLock::take(root)?;
    let solc = Solc::new(root.join(&profile.solc))?;
    let paths = ProjectPathsConfig::builder()
        .root(root)
        .sources(root.join(&profile.src))
        .libs(profile.libs.iter().map(|l| root.join(l)))
        .remappings(profile.parsed_remappings()?)
        .artifacts(root.join("out-deployment-check"))
        .cache(root.join("cache-deployment-check/solidity-files-cache.json"))
        .build_infos(root.join("out-deployment-check/build-info"))
        .build()
        .map_err(foundry_compilers::error::SolcError::from)?;
    let settings = MultiCompilerSettings {
        solc: SolcSettings {
            settings: profile.solc_settings()?,
            ..SolcSettings::default()
        },
        ..MultiCompilerSettings::default()
    };
    let compiler = MultiCompiler::new(Some(SolcCompiler::Specific(solc)), None)?;
    let project = Project::builder()
        .paths(paths)
        .settings(settings)
        .offline()
        .single_solc_jobs()
        .build(compiler)?;
    let output = project.compile_file(root.join(&profile.src).join(file))?;
    if output.has_compiler_errors() {
        return Err(CompileError::Diagnostics(output.to_string()));
    }
    let artifact = output
        .find_first(contract)
        .ok_or_else(|| CompileError::MissingContract(contract.to_string()))?;
    let deployed = artifact
        .deployed_bytecode
        .as_ref()
        .ok_or_else(|| CompileError::MissingContract(contract.to_string()))?;
    let code = deployed
        .bytecode
        .as_ref()
        .and_then(|b| b.object.as_bytes())
        .ok_or_else(|| CompileError::MissingContract(contract.to_string()))?
        .clone();
    tracing::info!(
        contract,
        bytes = code.len(),
        immutables = deployed.immutable_references.len(),
        elapsed_ms = started.elapsed().as_millis() as u64,
        "compiled with foundry-compilers"
    );
    Ok(CompiledRuntime::new(
        contract,
        code,
        &deployed.immutable_references,
    ))
}

/// An exclusive lock on `<root>/cache-deployment-check.lock`, released on drop.
struct CacheLock(File);

impl CacheLock {
    fn take(root: &Path) -> Result<CacheLock, CompileError> {
        let path = root.join("cache-deployment-check.lock");
        let lock = |source| CompileError::Lock {
            path: path.clone(),
            source,
        };
        let file = File::create(&path).map_err(lock)?;
        file.lock().map_err(lock)?;
        Ok(CacheLock(file))
    }
}

impl Drop for CacheLock {
    fn drop(&mut self) {
        // Closing the file releases the lock as well; an unlock error leaves nothing behind.
        let _ = self.0.unlock();
    }
}
