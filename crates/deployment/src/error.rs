//! Errors of the deployment check's set-up: reading the foundry profile and compiling the
//! escrow. What the check finds on chain is never an error: it is a failed row of the
//! [`crate::Report`].

use std::path::PathBuf;

/// Compiling the escrow from `contracts/src` failed, so no bytecode can be compared.
#[derive(Debug, thiserror::Error)]
pub enum CompileError {
    /// A file could not be read.
    #[error("reading {path}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// `foundry.toml` has no readable `[profile.default]`.
    #[error("parsing [profile.default] of {path}")]
    FoundryToml {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: toml::de::Error,
    },
    /// A profile value foundry-compilers does not accept.
    #[error("foundry.toml {key} = {value:?}: {reason}")]
    Setting {
        /// The key.
        key: &'static str,
        /// Its value.
        value: String,
        /// Why it was refused.
        reason: String,
    },
    /// foundry-compilers could not set up or run the compilation.
    #[error("compiling contracts/src with foundry-compilers")]
    Compiler(#[from] foundry_compilers::error::SolcError),
    /// solc reported errors.
    #[error("solc reported errors:\n{0}")]
    Diagnostics(String),
    /// The compiled output has no deployable runtime code for the contract.
    #[error("no linked runtime bytecode for {0} in the compiler output")]
    MissingContract(String),
    /// The cache lock could not be taken.
    #[error("locking the compile cache {path}")]
    Lock {
        /// The lock file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}
