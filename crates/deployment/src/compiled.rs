//! The escrow as compiled from `contracts/src` by foundry-compilers when this crate was built
//! (`build.rs`, rerun whenever `contracts/src` or `foundry.toml` change), with
//! `foundry.toml`'s `[profile.default]` settings: the code every deployed escrow must equal.

use crate::bytecode::CompiledRuntime;

include!(concat!(env!("OUT_DIR"), "/escrow_compiled.rs"));

/// `SettlementEscrow`'s runtime code, immutable ranges and compiler description.
pub fn escrow() -> CompiledRuntime {
    CompiledRuntime {
        contract: "SettlementEscrow".to_string(),
        code: ESCROW_RUNTIME.to_vec().into(),
        immutables: ESCROW_IMMUTABLES.iter().map(|&(s, l)| s..s + l).collect(),
        compiler: ESCROW_COMPILER.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_compiler_is_the_foundry_profile_one() {
        let c = escrow();
        assert!(
            c.compiler.starts_with("solc 0.8.30+commit.73712a01")
                && c.compiler.ends_with(
                    "optimizer on (500 runs), via_ir false, evm cancun, bytecode_hash none, cbor_metadata true"
                ),
            "{}",
            c.compiler
        );
    }
}
