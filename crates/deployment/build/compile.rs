//! Build-time half of the deployment check (included by `build.rs`): compiles a contract
//! from the profile's `src` with foundry-compilers, through the solc the profile names (the
//! `script/solc` shim over solc-js: nothing is downloaded), with the profile's settings.
//! Artifacts and the compiler cache stay in `$OUT_DIR` (never forge's `out/` and `cache/`).

use crate::settings::FoundryProfile;
use foundry_compilers::multi::{MultiCompiler, MultiCompilerSettings};
use foundry_compilers::solc::{Solc, SolcCompiler, SolcSettings};
use foundry_compilers::{Project, ProjectPathsConfig};
use std::path::Path;

/// A contract's runtime code as compiled, with its immutable references.
pub(crate) struct Compiled {
    /// Runtime bytecode (immutables zero).
    pub(crate) code: Vec<u8>,
    /// `(start, length)` of every immutable reference, sorted.
    pub(crate) immutables: Vec<(usize, usize)>,
    /// The compiler and the settings that decide the bytecode, for the check's table.
    pub(crate) compiler: String,
}

/// Compiles `file` (under the profile's `src`) and its imports; returns `contract`'s runtime.
pub(crate) fn compile_contract(
    root: &Path,
    out: &Path,
    profile: &FoundryProfile,
    file: &str,
    contract: &str,
) -> Result<Compiled, String> {
    let err = |what: &str, e: &dyn std::fmt::Display| format!("{what}: {e}");
    let solc = Solc::new(root.join(&profile.solc)).map_err(|e| err("solc", &e))?;
    let version = solc.version.to_string();
    let paths = ProjectPathsConfig::builder()
        .root(root)
        .sources(root.join(&profile.src))
        .libs(profile.libs.iter().map(|l| root.join(l)))
        .remappings(profile.parsed_remappings()?)
        .artifacts(out.join("solc-out"))
        .cache(out.join("solc-cache/solidity-files-cache.json"))
        .build_infos(out.join("solc-out/build-info"))
        .build()
        .map_err(|e| err("project paths", &e))?;
    let settings = MultiCompilerSettings {
        solc: SolcSettings {
            settings: profile.solc_settings()?,
            ..SolcSettings::default()
        },
        ..MultiCompilerSettings::default()
    };
    let compiler = MultiCompiler::new(Some(SolcCompiler::Specific(solc)), None)
        .map_err(|e| err("compiler", &e))?;
    let project = Project::builder()
        .paths(paths)
        .settings(settings)
        .offline()
        .single_solc_jobs()
        .build(compiler)
        .map_err(|e| err("project", &e))?;
    let output = project
        .compile_file(root.join(&profile.src).join(file))
        .map_err(|e| err("compiling", &e))?;
    if output.has_compiler_errors() {
        return Err(format!("solc reported errors:\n{output}"));
    }
    let missing = || format!("no linked runtime bytecode for {contract} in the compiler output");
    let deployed = output
        .find_first(contract)
        .and_then(|a| a.deployed_bytecode.as_ref())
        .ok_or_else(missing)?;
    let code = deployed
        .bytecode
        .as_ref()
        .and_then(|b| b.object.as_bytes())
        .ok_or_else(missing)?
        .to_vec();
    let mut immutables: Vec<(usize, usize)> = deployed
        .immutable_references
        .values()
        .flatten()
        .map(|o| (o.start as usize, o.length as usize))
        .collect();
    immutables.sort_unstable();
    Ok(Compiled {
        code,
        immutables,
        compiler: profile.describe(&version),
    })
}
