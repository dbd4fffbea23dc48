//! Comparing a contract's on-chain runtime code with the compiled one.
//!
//! The constructor writes immutables into the runtime code, so the byte ranges of the
//! compiler's `immutableReferences` are masked (ignored) on both sides; every other byte
//! must be equal, the CBOR metadata tail included. With `bytecode_hash = "none"` (this
//! repository's `foundry.toml`) that tail holds only the solc version, so equal sources and
//! settings give equal tails; a difference confined to the tail is reported apart
//! ([`CodeMatch::MetadataDiffers`]) because it means another compiler or metadata setting,
//! not other code.

use alloy::primitives::Bytes;
use std::ops::Range;

/// A contract's runtime code as compiled, with where its immutables go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompiledRuntime {
    /// The contract's name.
    pub contract: String,
    /// The runtime (deployed) bytecode, immutables zero.
    pub code: Bytes,
    /// Byte ranges the constructor fills with immutable values (from the compiler output's
    /// `immutableReferences`), sorted.
    pub immutables: Vec<Range<usize>>,
    /// The compiler and the settings that decide the bytecode.
    pub compiler: String,
}

/// How on-chain runtime code compares with the compiled code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodeMatch {
    /// Equal outside the immutables.
    Equal {
        /// Code size in bytes.
        len: usize,
        /// Bytes masked as immutables.
        masked: usize,
    },
    /// No code at the address.
    NoCode,
    /// Different sizes.
    LengthDiffers {
        /// Compiled size.
        expected: usize,
        /// On-chain size.
        actual: usize,
    },
    /// Equal code, different CBOR metadata tail (another solc version or metadata setting).
    MetadataDiffers,
    /// The code differs outside the immutables and the metadata.
    CodeDiffers {
        /// First differing byte offset.
        offset: usize,
    },
}

impl CodeMatch {
    /// Whether the code is the compiled one.
    pub fn is_equal(&self) -> bool {
        matches!(self, CodeMatch::Equal { .. })
    }
}

impl std::fmt::Display for CodeMatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CodeMatch::Equal { len, masked } => {
                write!(f, "{len} bytes equal ({masked} immutable bytes masked)")
            }
            CodeMatch::NoCode => write!(f, "no code at the address"),
            CodeMatch::LengthDiffers { expected, actual } => {
                write!(f, "{actual} bytes, compiled {expected}")
            }
            CodeMatch::MetadataDiffers => write!(f, "code equal, CBOR metadata differs"),
            CodeMatch::CodeDiffers { offset } => write!(f, "differs at byte {offset}"),
        }
    }
}

/// Compares `onchain` with `compiled`, immutables masked.
pub fn compare(compiled: &CompiledRuntime, onchain: &[u8]) -> CodeMatch {
    let expected = compiled.code.as_ref();
    if onchain.is_empty() {
        return CodeMatch::NoCode;
    }
    if onchain.len() != expected.len() {
        return CodeMatch::LengthDiffers {
            expected: expected.len(),
            actual: onchain.len(),
        };
    }
    let masked = |i: usize| compiled.immutables.iter().any(|r| r.contains(&i));
    let first = (0..expected.len()).find(|&i| expected[i] != onchain[i] && !masked(i));
    match first {
        None => CodeMatch::Equal {
            len: expected.len(),
            masked: compiled.immutables.iter().map(|r| r.len()).sum(),
        },
        Some(offset) if offset >= expected.len() - metadata_len(expected) => {
            CodeMatch::MetadataDiffers
        }
        Some(offset) => CodeMatch::CodeDiffers { offset },
    }
}

/// Length of the CBOR metadata tail (its 2-byte big-endian length included), 0 when the
/// code has none (the length does not fit).
pub fn metadata_len(code: &[u8]) -> usize {
    let [.., hi, lo] = code else { return 0 };
    let len = usize::from(u16::from_be_bytes([*hi, *lo])) + 2;
    if len <= code.len() { len } else { 0 }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::path::Path;
    use std::sync::OnceLock;

    /// The escrow as foundry-compilers compiled it from this repository (the build script).
    fn escrow() -> &'static CompiledRuntime {
        static ESCROW: OnceLock<CompiledRuntime> = OnceLock::new();
        ESCROW.get_or_init(crate::compiled::escrow)
    }

    /// The compiled code with every immutable filled like a constructor would.
    fn deployed_like(c: &CompiledRuntime) -> Vec<u8> {
        let mut code = c.code.to_vec();
        for r in &c.immutables {
            for b in &mut code[r.clone()] {
                *b = 0xab;
            }
        }
        code
    }

    #[test]
    fn compiled_escrow_has_immutables_and_a_version_only_metadata_tail() {
        let c = escrow();
        assert!(
            c.code.len() > 10_000 && c.code.len() <= 24_576,
            "{}",
            c.code.len()
        );
        assert!(!c.immutables.is_empty());
        assert!(
            c.immutables
                .iter()
                .all(|r| r.len() == 32 && r.end <= c.code.len())
        );
        // bytecode_hash = "none": the tail is `{"solc": <3 bytes>}`, 0xa1 0x64 "solc" 0x43 ...
        let tail = metadata_len(&c.code);
        assert_eq!(tail, 10 + 2);
        assert_eq!(&c.code[c.code.len() - tail..][..6], b"\xa1\x64solc");
    }

    #[test]
    fn equal_outside_immutables_is_equal_and_masks_every_immutable_byte() {
        let c = escrow();
        let code = deployed_like(c);
        assert_eq!(
            compare(c, &code),
            CodeMatch::Equal {
                len: c.code.len(),
                masked: 32 * c.immutables.len()
            }
        );
    }

    #[test]
    fn a_byte_outside_the_immutables_differs_and_is_located() {
        let c = escrow();
        let mut code = deployed_like(c);
        let offset = (0..code.len())
            .find(|i| !c.immutables.iter().any(|r| r.contains(i)) && *i > 100)
            .unwrap();
        code[offset] ^= 0x01;
        assert_eq!(compare(c, &code), CodeMatch::CodeDiffers { offset });
    }

    #[test]
    fn metadata_length_and_missing_code_are_told_apart() {
        let c = escrow();
        let mut code = deployed_like(c);
        let last_version_byte = code.len() - 3;
        code[last_version_byte] ^= 0x01;
        assert_eq!(compare(c, &code), CodeMatch::MetadataDiffers);
        assert_eq!(
            compare(c, &code[..code.len() - 1]),
            CodeMatch::LengthDiffers {
                expected: c.code.len(),
                actual: c.code.len() - 1
            }
        );
        assert_eq!(compare(c, &[]), CodeMatch::NoCode);
    }

    #[test]
    fn forge_built_escrow_artifact_matches_the_foundry_compilers_build() {
        // forge (script/Deploy.s.sol's build) and foundry-compilers must produce the same
        // runtime code from the same settings, or the check would fail every deployment.
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let path = root.join("out/SettlementEscrow.sol/SettlementEscrow.json");
        let Ok(text) = std::fs::read_to_string(&path) else {
            panic!("{} missing: run forge build first", path.display());
        };
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        let hex = v["deployedBytecode"]["object"].as_str().unwrap();
        let forge: alloy::primitives::Bytes = hex.parse().unwrap();
        assert_eq!(forge, escrow().code);
    }
}
