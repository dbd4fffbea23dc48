//! Content-addressed settlement evidence for Lockstep.
//!
//! `ref(obj) = "sha256:" + hex(SHA-256(JCS(obj)))`, byte-compatible with the public
//! algovoi Keystone corpus. See `docs/evidence.md`.

use sha2::{Digest, Sha256};

/// The lowercase hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

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
