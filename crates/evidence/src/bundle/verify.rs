//! Offline verification of a bundle: rebuild from its facts, compare in document order,
//! report the first difference; anchors are handed to an [`AnchorChecker`].

use super::{AnchorRecord, BUNDLE_VERSION, BundleFacts, build_bundle};
use crate::Error;
use crate::Ref;
use crate::dvp::settlement_decision;
use crate::fields::Fields;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::fmt;

/// The first thing in a bundle that does not match its recomputation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mismatch {
    /// JSON path of the value.
    pub path: String,
    /// What recomputation produced (compact JSON, or `<absent>`).
    pub expected: String,
    /// What the bundle holds (compact JSON, or `<absent>`).
    pub found: String,
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: expected {}, found {}",
            self.path, self.expected, self.found
        )
    }
}

/// Why a bundle did not verify.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum VerifyError {
    /// The bundle is malformed (its facts cannot be read or break a rule).
    #[error("invalid bundle: {0}")]
    Invalid(#[from] Error),
    /// A value does not match its recomputation (or an anchor checker objected).
    #[error("mismatch: {0}")]
    Mismatch(Mismatch),
}

/// Checks a leg's receipt anchor against its chain (online re-anchoring plugs in here:
/// re-fetch the receipt, check the event, block hash, settlement id).
pub trait AnchorChecker {
    /// Checks one anchor; `path` is the anchor's JSON path in the bundle.
    fn check(&self, path: &str, anchor: &AnchorRecord) -> std::result::Result<(), Mismatch>;
    /// A short description for the summary line.
    fn describe(&self) -> &'static str;
}

/// The offline checker: anchors are verified only as content (their refs), not
/// re-fetched.
#[derive(Debug, Clone, Copy, Default)]
pub struct OfflineOnly;

impl AnchorChecker for OfflineOnly {
    fn check(&self, _path: &str, _anchor: &AnchorRecord) -> std::result::Result<(), Mismatch> {
        Ok(())
    }
    fn describe(&self) -> &'static str {
        "anchors not re-fetched (offline)"
    }
}

/// What a verified bundle establishes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VerifySummary {
    /// The trade reference.
    pub trade_reference: String,
    /// The settlement decision_ref.
    pub decision_ref: Ref,
    /// Number of legs.
    pub legs: usize,
    /// Number of frames.
    pub frames: usize,
    /// The audit chain cap.
    pub cap: Ref,
    /// What the anchor checker did.
    pub anchors: &'static str,
}

impl fmt::Display for VerifySummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "ok: {BUNDLE_VERSION} trade {} decision_ref {} (decisionRef 0x{}), {} legs, {} frames, cap {}; {}",
            self.trade_reference,
            self.decision_ref,
            self.decision_ref.bare(),
            self.legs,
            self.frames,
            self.cap,
            self.anchors
        )
    }
}

fn compact(v: &Value) -> String {
    let s = v.to_string();
    if s.len() > 160 {
        format!(
            "{}…",
            &s[..s.char_indices().nth(157).map_or(s.len(), |(i, _)| i)]
        )
    } else {
        s
    }
}

/// Compares `found` with `expected`, returning the first difference in `expected`'s
/// document order.
pub fn first_difference(expected: &Value, found: &Value, path: &str) -> Option<Mismatch> {
    match (expected, found) {
        (Value::Object(e), Value::Object(f)) => e
            .iter()
            .find_map(|(k, ev)| child_difference(Some(ev), f.get(k), format!("{path}.{k}")))
            .or_else(|| {
                f.iter()
                    .find(|(k, _)| !e.contains_key(*k))
                    .and_then(|(k, fv)| child_difference(None, Some(fv), format!("{path}.{k}")))
            }),
        (Value::Array(e), Value::Array(f)) => (0..e.len().max(f.len()))
            .find_map(|i| child_difference(e.get(i), f.get(i), format!("{path}[{i}]"))),
        (e, f) if e == f => None,
        (e, f) => Some(Mismatch {
            path: path.to_owned(),
            expected: compact(e),
            found: compact(f),
        }),
    }
}

/// One member or element of a compared container: absent on either side is a mismatch
/// at `path`; present on both sides recurses.
fn child_difference(
    expected: Option<&Value>,
    found: Option<&Value>,
    path: String,
) -> Option<Mismatch> {
    match (expected, found) {
        (Some(e), Some(f)) => first_difference(e, f, &path),
        (e, f) => Some(Mismatch {
            path,
            expected: e.map_or_else(|| "<absent>".into(), compact),
            found: f.map_or_else(|| "<absent>".into(), compact),
        }),
    }
}

/// Verifies a (strictly parsed) bundle offline, then asks `checker` about each anchor.
pub fn verify_bundle(
    bundle: &Value,
    checker: &dyn AnchorChecker,
) -> std::result::Result<VerifySummary, VerifyError> {
    let mut f = Fields::new("$", bundle)?;
    let version = f.string("bundle_version")?;
    if version != BUNDLE_VERSION {
        return Err(VerifyError::Mismatch(Mismatch {
            path: "$.bundle_version".into(),
            expected: Value::from(BUNDLE_VERSION).to_string(),
            found: Value::from(version).to_string(),
        }));
    }
    let facts = BundleFacts::from_json("$.facts", f.req("facts")?)?;
    let rebuilt = build_bundle(&facts)?;
    if let Some(m) = first_difference(&rebuilt, bundle, "$") {
        return Err(VerifyError::Mismatch(m));
    }
    for (i, l) in facts.legs.iter().enumerate() {
        checker
            .check(&format!("$.facts.legs[{i}].anchor"), &l.anchor)
            .map_err(VerifyError::Mismatch)?;
    }
    let d = settlement_decision(&facts.decision)?;
    let cap = Ref::parse_field(
        "$.audit_chain.cap",
        rebuilt["audit_chain"]["cap"].as_str().unwrap_or_default(),
    )?;
    Ok(VerifySummary {
        trade_reference: facts.trade_reference,
        decision_ref: d.decision_ref,
        legs: facts.legs.len(),
        frames: rebuilt["frames"].as_array().map_or(0, Vec::len),
        cap,
        anchors: checker.describe(),
    })
}
