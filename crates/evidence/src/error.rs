//! The one error type of the crate: every variant names the field (or JSON path) and
//! the rule it broke, so a caller can report it without re-parsing a message.

/// Errors raised while parsing, validating, canonicalising or hashing evidence.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The input is not well-formed JSON (includes lone surrogates and trailing data).
    #[error("invalid JSON at line {line} column {column}: {message}")]
    Json {
        /// 1-based line of the error.
        line: usize,
        /// 1-based column of the error.
        column: usize,
        /// What the parser reported.
        message: String,
    },
    /// An object holds the same member name twice.
    #[error("{path}: duplicate member name {key:?}")]
    DuplicateKey {
        /// JSON path of the object.
        path: String,
        /// The repeated member name.
        key: String,
    },
    /// An integer outside the interoperable range ±(2^53−1).
    #[error("{field}: integer {value} is outside ±(2^53-1)")]
    IntegerOutOfRange {
        /// Field or JSON path.
        field: String,
        /// The number as written.
        value: String,
    },
    /// A number that is not a finite IEEE 754 double (only reachable through a
    /// `serde_json::Value` built in code; the strict parser refuses an overflowing
    /// literal with a JSON error).
    #[error("{field}: number {value} is not a finite IEEE 754 double")]
    UnrepresentableNumber {
        /// Field or JSON path.
        field: String,
        /// The number as written or parsed.
        value: String,
    },
    /// A required member is absent.
    #[error("{field}: required member is missing")]
    Missing {
        /// Field or JSON path.
        field: String,
    },
    /// A member that the construction does not define.
    #[error("{field}: unexpected member")]
    Unexpected {
        /// Field or JSON path.
        field: String,
    },
    /// A member has the wrong JSON type.
    #[error("{field}: expected {expected}, found {found}")]
    WrongType {
        /// Field or JSON path.
        field: String,
        /// Expected JSON type.
        expected: &'static str,
        /// Found JSON type.
        found: &'static str,
    },
    /// A string that must be non-empty is empty.
    #[error("{field}: must be a non-empty string")]
    Empty {
        /// Field or JSON path.
        field: String,
    },
    /// A value that must be a `sha256:<64 lowercase hex>` reference is not.
    #[error("{field}: {value:?} is not a sha256:<64 lowercase hex> reference")]
    BadRef {
        /// Field or JSON path.
        field: String,
        /// The offending value.
        value: String,
    },
    /// A value that must be 64 lowercase hex digits (a bare digest) is not.
    #[error("{field}: {value:?} is not 64 lowercase hex digits")]
    BadBare {
        /// Field or JSON path.
        field: String,
        /// The offending value.
        value: String,
    },
    /// A value outside a closed enumeration.
    #[error("{field}: {value:?} is not one of {allowed}")]
    NotInEnum {
        /// Field or JSON path.
        field: String,
        /// The offending value.
        value: String,
        /// The allowed values, comma separated.
        allowed: String,
    },
    /// Any other rule of a construction (named in `rule`).
    #[error("{field}: {rule}")]
    Rule {
        /// Field or JSON path.
        field: String,
        /// The rule that was broken.
        rule: String,
    },
}

/// Result alias of the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn rule(field: impl Into<String>, rule: impl Into<String>) -> Self {
        Error::Rule {
            field: field.into(),
            rule: rule.into(),
        }
    }
}
