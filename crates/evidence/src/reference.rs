//! `Ref`: a validated `"sha256:<64 lowercase hex>"` reference.

use crate::{Error, Result};
use std::fmt;
use std::str::FromStr;

const PREFIX: &[u8; 7] = b"sha256:";
const LEN: usize = 71;
const HEX: &[u8; 16] = b"0123456789abcdef";

/// A content reference `"sha256:" + lowercase hex SHA-256`, validated on construction.
///
/// Stored inline (no allocation) so building chains of references stays cheap.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Ref([u8; LEN]);

impl Ref {
    /// The reference whose digest is `digest`.
    pub const fn from_digest(digest: [u8; 32]) -> Ref {
        let mut b = [0u8; LEN];
        let mut i = 0;
        while i < 7 {
            b[i] = PREFIX[i];
            i += 1;
        }
        let mut i = 0;
        while i < 32 {
            b[7 + 2 * i] = HEX[(digest[i] >> 4) as usize];
            b[8 + 2 * i] = HEX[(digest[i] & 0x0f) as usize];
            i += 1;
        }
        Ref(b)
    }

    /// Parses a prefixed reference, naming `field` in the error.
    pub fn parse_field(field: &str, s: &str) -> Result<Ref> {
        let bytes = s.as_bytes();
        if bytes.len() != LEN || &bytes[..7] != PREFIX || !is_lower_hex(&bytes[7..]) {
            return Err(Error::BadRef {
                field: field.to_owned(),
                value: s.to_owned(),
            });
        }
        let mut b = [0u8; LEN];
        b.copy_from_slice(bytes);
        Ok(Ref(b))
    }

    /// Parses a bare 64-hex digest into a reference, naming `field` in the error.
    pub fn from_bare(field: &str, s: &str) -> Result<Ref> {
        let bytes = s.as_bytes();
        if bytes.len() != 64 || !is_lower_hex(bytes) {
            return Err(Error::BadBare {
                field: field.to_owned(),
                value: s.to_owned(),
            });
        }
        let mut b = [0u8; LEN];
        b[..7].copy_from_slice(PREFIX);
        b[7..].copy_from_slice(bytes);
        Ok(Ref(b))
    }

    /// The reference as text, `sha256:<hex>`.
    pub fn as_str(&self) -> &str {
        // Only ASCII bytes are ever stored, so this cannot fail.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }

    /// The reference as ASCII bytes (`sha256:<hex>`).
    #[inline]
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The 64 hex digits without the `sha256:` prefix.
    pub fn bare(&self) -> &str {
        &self.as_str()[7..]
    }

    /// The raw 32-byte digest (what goes on-chain as a `bytes32`).
    pub fn digest(&self) -> [u8; 32] {
        let mut out = [0u8; 32];
        for (i, o) in out.iter_mut().enumerate() {
            *o = (nibble(self.0[7 + 2 * i]) << 4) | nibble(self.0[8 + 2 * i]);
        }
        out
    }
}

fn nibble(c: u8) -> u8 {
    match c {
        b'0'..=b'9' => c - b'0',
        _ => c - b'a' + 10,
    }
}

fn is_lower_hex(b: &[u8]) -> bool {
    b.iter().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f'))
}

/// Whether `s` is 64 lowercase hex digits.
pub fn is_bare_hex(s: &str) -> bool {
    s.len() == 64 && is_lower_hex(s.as_bytes())
}

impl FromStr for Ref {
    type Err = Error;
    fn from_str(s: &str) -> Result<Ref> {
        Ref::parse_field("ref", s)
    }
}

impl fmt::Display for Ref {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Ref {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Ref({})", self.as_str())
    }
}

impl AsRef<str> for Ref {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl serde::Serialize for Ref {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for Ref {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Ref, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Ref::from_str(&s).map_err(serde::de::Error::custom)
    }
}

impl From<Ref> for serde_json::Value {
    fn from(r: Ref) -> serde_json::Value {
        serde_json::Value::String(r.as_str().to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_malformed() {
        let s = "sha256:b3594e33998af01bd1ad208172c5c1ac586daa8c75781379f034d97e50b1a9be";
        let r: Ref = s.parse().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(r.as_str(), s);
        assert_eq!(Ref::from_digest(r.digest()), r);
        assert_eq!(r.bare(), &s[7..]);
        for bad in [
            "not-a-sha256-ref",
            "",
            "sha256:B3594e33998af01bd1ad208172c5c1ac586daa8c75781379f034d97e50b1a9be",
            "sha256:b3594e33998af01bd1ad208172c5c1ac586daa8c75781379f034d97e50b1a9b",
            "SHA256:b3594e33998af01bd1ad208172c5c1ac586daa8c75781379f034d97e50b1a9be",
        ] {
            assert!(bad.parse::<Ref>().is_err(), "{bad}");
        }
    }
}
