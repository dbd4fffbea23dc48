//! Compiles `SettlementEscrow` from `contracts/src` with foundry-compilers and `foundry.toml`'s
//! settings, and embeds its runtime code, immutable ranges and compiler description in the
//! crate (`$OUT_DIR/escrow_compiled.rs`), for `lockstep deployment check`.
//!
//! foundry-compilers is a build-dependency on purpose: it turns on serde_json's
//! `arbitrary_precision`, which would change number handling (JCS canonicalisation, the strict
//! evidence parser) in every crate linked with it; build-dependencies do not share features
//! with the binary's dependencies.

#[path = "build/compile.rs"]
mod compile;
#[path = "build/settings.rs"]
mod settings;

use std::fmt::Write;
use std::path::PathBuf;

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR"));
    let root = manifest
        .ancestors()
        .find(|p| p.join("foundry.toml").is_file())
        .expect("foundry.toml above crates/deployment")
        .to_path_buf();
    for watched in [
        "contracts/src",
        "foundry.toml",
        "package-lock.json",
        "script/solc",
    ] {
        println!("cargo:rerun-if-changed={}", root.join(watched).display());
    }
    let profile = settings::FoundryProfile::load(&root).unwrap_or_else(|e| panic!("{e}"));
    let c = compile::compile_contract(
        &root,
        &out,
        &profile,
        "SettlementEscrow.sol",
        "SettlementEscrow",
    )
    .unwrap_or_else(|e| panic!("compiling the escrow with foundry-compilers: {e}"));
    std::fs::write(out.join("escrow_runtime.bin"), &c.code).expect("writing escrow_runtime.bin");
    let mut src = String::new();
    let ranges: Vec<String> = c
        .immutables
        .iter()
        .map(|(s, l)| format!("({s}, {l})"))
        .collect();
    writeln!(src, "/// The escrow's runtime code as compiled.").ok();
    writeln!(src, "const ESCROW_RUNTIME: &[u8] = include_bytes!(concat!(env!(\"OUT_DIR\"), \"/escrow_runtime.bin\"));").ok();
    writeln!(
        src,
        "/// `(start, length)` of every immutable reference in it."
    )
    .ok();
    writeln!(
        src,
        "const ESCROW_IMMUTABLES: &[(usize, usize)] = &[{}];",
        ranges.join(", ")
    )
    .ok();
    writeln!(src, "/// The compiler and settings that produced it.").ok();
    writeln!(src, "const ESCROW_COMPILER: &str = {:?};", c.compiler).ok();
    std::fs::write(out.join("escrow_compiled.rs"), src).expect("writing escrow_compiled.rs");
}
