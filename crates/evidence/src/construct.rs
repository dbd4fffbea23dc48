//! The machinery shared by every typed constructor: validate, write canonical bytes
//! directly (no `serde_json::Value` round trip), hash.

use crate::jcs::{write_str, write_u64};
use crate::{Ref, Result};
use sha2::{Digest, Sha256};

/// A typed preimage of one of the content-addressed references.
///
/// `write_canonical` emits the RFC 8785 bytes directly; it is only called after
/// `validate` succeeded, so it cannot fail.
pub trait Preimage {
    /// Checks every rule of the construction (the error names the field and the rule).
    fn validate(&self) -> Result<()>;
    /// Appends the canonical (RFC 8785) bytes of the preimage to `out`.
    fn write_canonical(&self, out: &mut Vec<u8>);

    /// The canonical bytes, after validation.
    fn canonical(&self) -> Result<Vec<u8>> {
        self.validate()?;
        let mut out = Vec::with_capacity(256);
        self.write_canonical(&mut out);
        Ok(out)
    }

    /// `"sha256:" + hex(SHA-256(canonical bytes))`, after validation.
    fn reference(&self) -> Result<Ref> {
        let mut buf = Vec::with_capacity(512);
        self.reference_with(&mut buf)
    }

    /// Like [`Preimage::reference`], reusing `buf` as scratch space (it is cleared).
    fn reference_with(&self, buf: &mut Vec<u8>) -> Result<Ref> {
        self.validate()?;
        buf.clear();
        self.write_canonical(buf);
        Ok(Ref::from_digest(Sha256::digest(buf.as_slice()).into()))
    }

    /// The preimage as a JSON value (for bundles and CLI output).
    fn to_value(&self) -> serde_json::Value {
        let mut buf = Vec::with_capacity(512);
        self.write_canonical(&mut buf);
        // Canonical bytes are always valid JSON.
        serde_json::from_slice(&buf).unwrap_or(serde_json::Value::Null)
    }
}

/// Writes a JSON object whose keys the caller supplies already in RFC 8785 order.
pub(crate) struct ObjWriter<'a> {
    out: &'a mut Vec<u8>,
    first: bool,
}

impl<'a> ObjWriter<'a> {
    #[inline]
    pub(crate) fn begin(out: &'a mut Vec<u8>) -> ObjWriter<'a> {
        out.push(b'{');
        ObjWriter { out, first: true }
    }

    /// Starts member `key` and returns the buffer for its value.
    #[inline]
    pub(crate) fn key(&mut self, key: &str) -> &mut Vec<u8> {
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
        // Keys are the constructions' own ASCII member names: nothing to escape.
        debug_assert!(key.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_'));
        self.out.push(b'"');
        self.out.extend_from_slice(key.as_bytes());
        self.out.extend_from_slice(b"\":");
        self.out
    }

    #[inline]
    pub(crate) fn str(&mut self, key: &str, v: &str) {
        let o = self.key(key);
        write_str(o, v);
    }

    #[inline]
    pub(crate) fn reference(&mut self, key: &str, v: &Ref) {
        let o = self.key(key);
        o.push(b'"');
        o.extend_from_slice(v.as_bytes());
        o.push(b'"');
    }

    /// Writes a reference in its bare (64 hex) form.
    #[inline]
    pub(crate) fn bare(&mut self, key: &str, v: &Ref) {
        let o = self.key(key);
        o.push(b'"');
        o.extend_from_slice(&v.as_bytes()[7..]);
        o.push(b'"');
    }

    #[inline]
    pub(crate) fn uint(&mut self, key: &str, v: u64) {
        let o = self.key(key);
        write_u64(o, v);
    }

    #[inline]
    pub(crate) fn end(self) {
        self.out.push(b'}');
    }
}

/// Declares a closed enumeration serialised as its upper-case wire name.
macro_rules! closed_enum {
    ($(#[$m:meta])* $name:ident, $field:literal { $($(#[$vm:meta])* $var:ident => $wire:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vm])* $var),+
        }

        impl $name {
            /// Every wire value, in the order the specification lists them.
            pub const ALL: &'static [&'static str] = &[$($wire),+];

            /// The wire value.
            pub fn as_str(&self) -> &'static str {
                match self { $($name::$var => $wire),+ }
            }

            /// Parses a wire value, naming `field` in the error.
            pub fn parse_field(field: &str, s: &str) -> $crate::Result<$name> {
                match s {
                    $($wire => Ok($name::$var),)+
                    other => Err($crate::Error::NotInEnum {
                        field: field.to_owned(),
                        value: other.to_owned(),
                        allowed: Self::ALL.join(", "),
                    }),
                }
            }
        }

        impl std::str::FromStr for $name {
            type Err = $crate::Error;
            fn from_str(s: &str) -> $crate::Result<$name> {
                $name::parse_field($field, s)
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<$name, D::Error> {
                let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                $name::parse_field($field, &s).map_err(serde::de::Error::custom)
            }
        }
    };
}
pub(crate) use closed_enum;

/// Gives a `Preimage` type inherent `reference`/`canonical` methods, so callers need
/// not import the trait.
macro_rules! inherent_reference {
    ($($t:ty),+) => {$(
        impl $t {
            /// The content reference of this preimage (validated first).
            pub fn reference(&self) -> $crate::Result<$crate::Ref> {
                <$t as $crate::Preimage>::reference(self)
            }
            /// The canonical bytes of this preimage (validated first).
            pub fn canonical(&self) -> $crate::Result<Vec<u8>> {
                <$t as $crate::Preimage>::canonical(self)
            }
        }
    )+};
}
pub(crate) use inherent_reference;

pub(crate) fn nonempty(field: &str, s: &str) -> Result<()> {
    if s.is_empty() {
        return Err(crate::Error::Empty {
            field: field.to_owned(),
        });
    }
    Ok(())
}

pub(crate) fn safe_uint(field: &str, v: u64) -> Result<()> {
    if v > crate::jcs::MAX_SAFE_INTEGER {
        return Err(crate::Error::IntegerOutOfRange {
            field: field.to_owned(),
            value: v.to_string(),
        });
    }
    Ok(())
}
