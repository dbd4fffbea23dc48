//! SHA-256 helpers.

use crate::Ref;
use sha2::{Digest, Sha256};

/// The lowercase hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// `"sha256:" + hex(SHA-256(bytes))` as a [`Ref`].
#[inline]
pub fn ref_of_bytes(bytes: &[u8]) -> Ref {
    Ref::from_digest(Sha256::digest(bytes).into())
}
