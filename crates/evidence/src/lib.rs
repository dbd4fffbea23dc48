//! Content-addressed settlement evidence for Lockstep.
//!
//! `ref(obj) = "sha256:" + hex(SHA-256(JCS(obj)))` (RFC 8785), byte-compatible with the
//! public algovoi Keystone corpus. Every typed constructor validates before hashing and
//! writes canonical bytes directly. See `docs/evidence.md`.

pub mod bench;
pub mod bundle;
mod construct;
pub mod dvp;
mod error;
mod fields;
mod hash;
pub mod jcs;
pub mod keystone;
pub mod lifecycle;
mod literals;
pub mod pef;
mod reference;
pub mod vectors;

pub use construct::Preimage;
pub use error::{Error, Result};
pub use hash::{ref_of_bytes, sha256_hex};
pub use jcs::{canonicalize, parse_strict, ref_of};
pub use reference::{Ref, is_bare_hex};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_of_empty_input() {
        assert_eq!(
            sha256_hex(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
