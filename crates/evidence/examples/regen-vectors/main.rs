//! Regenerates the project's own vector files (`vectors/lockstep/*.json`,
//! `vectors/bundles/*`) from the inputs listed here. Published goldens
//! (`vectors/published/`) are never written: they are only checked.
//!
//! `cargo run -p lockstep-evidence --example regen-vectors`

#![allow(missing_docs)]

mod bundles;
mod canonical;
mod file;
mod inputs;
mod keystone_vectors;
mod lifecycle_vectors;

use eyre::Result;
use std::path::{Path, PathBuf};

/// The repository's `vectors/` directory.
pub(crate) fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../vectors")
}

fn main() -> Result<()> {
    std::fs::create_dir_all(root().join("lockstep"))?;
    canonical::write()?;
    keystone_vectors::write_all()?;
    lifecycle_vectors::write_all()?;
    bundles::write_all()?;
    println!("regenerated vectors/lockstep/*.json and vectors/bundles/*");
    Ok(())
}
