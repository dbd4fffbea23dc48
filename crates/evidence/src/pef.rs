//! Payment Evidence Frames and the audit chain of frames (`algovoi-pef-keystone`).

use crate::construct::{ObjWriter, closed_enum, nonempty, safe_uint};
use crate::fields::Fields;
use crate::keystone::{TrustOutcome, write_trust_query};
use crate::{Error, Preimage, Ref, Result};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// `canon_version` of PEF preimages (the URN form).
pub const PEF_CANON_VERSION: &str = "urn:x402:canonicalisation:jcs-rfc8785-v1";
/// `pef_version`.
pub const PEF_VERSION: &str = "1";

closed_enum!(
    /// What a frame claims.
    ClaimType, "claim_type" {
        /// Admission.
        PaymentAdmission => "payment_admission",
        /// Execution tier.
        PaymentExecution => "payment_execution",
        /// Settlement.
        PaymentSettlement => "payment_settlement",
        /// Cancellation.
        PaymentCancellation => "payment_cancellation",
        /// Refund.
        PaymentRefund => "payment_refund",
        /// Composite verdict.
        CompositeVerdict => "composite_verdict",
        /// Full keystone record.
        KeystoneTrace => "keystone_trace",
    }
);

/// A receipt carried by a frame: any JSON object, validated for canonicalisation.
#[derive(Debug, Clone, PartialEq)]
pub struct JsonReceipt(pub Value);

impl Preimage for JsonReceipt {
    fn validate(&self) -> Result<()> {
        if !self.0.is_object() {
            return Err(Error::WrongType {
                field: "receipt".into(),
                expected: "object",
                found: crate::fields::type_name(&self.0),
            });
        }
        crate::canonicalize(&self.0).map(|_| ())
    }
    fn write_canonical(&self, out: &mut Vec<u8>) {
        if let Ok(b) = crate::canonicalize(&self.0) {
            out.extend_from_slice(&b);
        }
    }
}

/// A Payment Evidence Frame around receipt `R`.
#[derive(Debug, Clone, PartialEq)]
pub struct Frame<R> {
    /// Claim type.
    pub claim_type: ClaimType,
    /// Receipt format (non-empty).
    pub receipt_format: String,
    /// The carried fact.
    pub receipt: R,
    /// Provider DID (non-empty).
    pub frame_provider_did: String,
    /// Epoch milliseconds.
    pub frame_timestamp_ms: u64,
}

/// The refs of a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FrameRefs {
    /// `ref(preimage)`.
    pub frame_id: Ref,
    /// `ref(receipt)`.
    pub receipt_hash: Ref,
}

/// A reusable buffer for computing frames without allocating.
#[derive(Debug, Default)]
pub struct Scratch {
    /// The frame preimage (the receipt is written inside it).
    pub b: Vec<u8>,
}

impl<R: Preimage> Frame<R> {
    fn validate_frame(&self) -> Result<()> {
        nonempty("frame_provider_did", &self.frame_provider_did)?;
        nonempty("receipt_format", &self.receipt_format)?;
        safe_uint("frame_timestamp_ms", self.frame_timestamp_ms)?;
        self.receipt.validate()
    }

    /// `receipt_hash` and `frame_id`, reusing `s`. The receipt is serialised once,
    /// straight into the preimage, and hashed in place.
    pub fn refs_with(&self, s: &mut Scratch) -> Result<FrameRefs> {
        self.validate_frame()?;
        let out = &mut s.b;
        out.clear();
        let mut o = ObjWriter::begin(out);
        o.str("canon_version", PEF_CANON_VERSION);
        o.str("claim_type", self.claim_type.as_str());
        o.str("frame_provider_did", &self.frame_provider_did);
        o.uint("frame_timestamp_ms", self.frame_timestamp_ms);
        o.str("pef_version", PEF_VERSION);
        let body = o.key("receipt");
        let start = body.len();
        self.receipt.write_canonical(body);
        let receipt_hash = Ref::from_digest(Sha256::digest(&body[start..]).into());
        o.str("receipt_format", &self.receipt_format);
        o.reference("receipt_hash", &receipt_hash);
        o.end();
        let frame_id = Ref::from_digest(Sha256::digest(out.as_slice()).into());
        Ok(FrameRefs {
            frame_id,
            receipt_hash,
        })
    }

    /// `receipt_hash` and `frame_id`.
    pub fn refs(&self) -> Result<FrameRefs> {
        self.refs_with(&mut Scratch::default())
    }

    /// `{frame_id, receipt_hash, preimage}` as `evidence_frame` returns it.
    pub fn to_output(&self) -> Result<Value> {
        let mut s = Scratch::default();
        let refs = self.refs_with(&mut s)?;
        let preimage: Value =
            serde_json::from_slice(&s.b).map_err(|e| Error::rule("preimage", e.to_string()))?;
        let mut m = serde_json::Map::new();
        m.insert("frame_id".into(), refs.frame_id.into());
        m.insert("receipt_hash".into(), refs.receipt_hash.into());
        m.insert("preimage".into(), preimage);
        Ok(Value::Object(m))
    }
}

impl Frame<JsonReceipt> {
    /// Reads the `evidence_frame` inputs
    /// `{claim_type, receipt_format, receipt, frame_provider_did, frame_timestamp_ms}`.
    pub fn from_json(path: &str, v: &Value) -> Result<Frame<JsonReceipt>> {
        let mut f = Fields::new(path, v)?;
        let fr = Frame {
            claim_type: ClaimType::parse_field(&f.path("claim_type"), &f.string("claim_type")?)?,
            receipt_format: f.string("receipt_format")?,
            receipt: JsonReceipt(f.object("receipt")?.clone()),
            frame_provider_did: f.string("frame_provider_did")?,
            frame_timestamp_ms: f.uint("frame_timestamp_ms")?,
        };
        f.finish()?;
        Ok(fr)
    }

    /// Reads a frame *preimage* (as carried in a bundle) back into a frame, checking
    /// the constant members; returns the frame and the carried `receipt_hash`.
    pub fn from_preimage(path: &str, v: &Value) -> Result<(Frame<JsonReceipt>, Ref)> {
        let mut f = Fields::new(path, v)?;
        let cv = f.string("canon_version")?;
        if cv != PEF_CANON_VERSION {
            return Err(Error::rule(
                f.path("canon_version"),
                format!("must be {PEF_CANON_VERSION:?}"),
            ));
        }
        let pv = f.string("pef_version")?;
        if pv != PEF_VERSION {
            return Err(Error::rule(f.path("pef_version"), "must be \"1\""));
        }
        let fr = Frame {
            claim_type: ClaimType::parse_field(&f.path("claim_type"), &f.string("claim_type")?)?,
            receipt_format: f.string("receipt_format")?,
            receipt: JsonReceipt(f.object("receipt")?.clone()),
            frame_provider_did: f.string("frame_provider_did")?,
            frame_timestamp_ms: f.uint("frame_timestamp_ms")?,
        };
        let rh = f.reference("receipt_hash")?;
        f.finish()?;
        Ok((fr, rh))
    }
}

/// One row of the audit chain of frames.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRow {
    /// `{content_hash: <frame_id, prefixed>, prev_hash: <bare>, row_number}`.
    pub row: AuditRowPreimage,
    /// `bare(row)`.
    pub row_hash: String,
}

/// The preimage of an audit row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRowPreimage {
    /// The frame id (prefixed).
    pub content_hash: Ref,
    /// The previous row's bare hash (64 zeros for row 1).
    pub prev_hash: String,
    /// 1-based.
    pub row_number: u64,
}

/// The audit chain of frames as `audit_chain_of_frames` returns it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditChain {
    /// The rows.
    pub rows: Vec<AuditRow>,
    /// `trust_query_ref(frame_ids, trust_outcome)`.
    pub cap: Ref,
    /// The verdict.
    pub trust_outcome: TrustOutcome,
}

/// The compact result of [`audit_chain_refs`]: row digests and the cap.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditChainRefs {
    /// Row hashes (as refs; the row hash is their bare form).
    pub row_hashes: Vec<Ref>,
    /// The cap.
    pub cap: Ref,
}

fn write_audit_row(out: &mut Vec<u8>, content_hash: &Ref, prev: &Ref, n: u64) {
    let mut o = ObjWriter::begin(out);
    o.reference("content_hash", content_hash);
    o.bare("prev_hash", prev);
    o.uint("row_number", n);
    o.end();
}

/// Row hashes and cap of the audit chain over `frame_ids`, reusing `buf`.
pub fn audit_chain_refs(
    frame_ids: &[Ref],
    trust_outcome: TrustOutcome,
    buf: &mut Vec<u8>,
) -> Result<AuditChainRefs> {
    let mut row_hashes = Vec::with_capacity(frame_ids.len());
    let cap = audit_chain_refs_into(frame_ids, trust_outcome, buf, &mut row_hashes)?;
    Ok(AuditChainRefs { row_hashes, cap })
}

/// Like [`audit_chain_refs`], appending the row hashes to `row_hashes` (cleared first)
/// and returning the cap, so a caller can reuse every allocation.
pub fn audit_chain_refs_into(
    frame_ids: &[Ref],
    trust_outcome: TrustOutcome,
    buf: &mut Vec<u8>,
    row_hashes: &mut Vec<Ref>,
) -> Result<Ref> {
    if frame_ids.is_empty() {
        return Err(Error::rule("frame_ids", "must be a non-empty list"));
    }
    row_hashes.clear();
    let mut prev = crate::lifecycle::GENESIS;
    for (i, fid) in frame_ids.iter().enumerate() {
        buf.clear();
        write_audit_row(buf, fid, &prev, i as u64 + 1);
        prev = Ref::from_digest(Sha256::digest(buf.as_slice()).into());
        row_hashes.push(prev);
    }
    buf.clear();
    write_trust_query(buf, frame_ids, trust_outcome);
    Ok(Ref::from_digest(Sha256::digest(buf.as_slice()).into()))
}

/// The audit chain over `frame_ids` (`audit_chain_of_frames`).
pub fn audit_chain_of_frames(frame_ids: &[Ref], trust_outcome: TrustOutcome) -> Result<AuditChain> {
    let refs = audit_chain_refs(frame_ids, trust_outcome, &mut Vec::with_capacity(256))?;
    let mut prev = crate::lifecycle::GENESIS_PREV_HASH.to_owned();
    let rows = frame_ids
        .iter()
        .zip(&refs.row_hashes)
        .enumerate()
        .map(|(i, (fid, h))| {
            let row = AuditRow {
                row: AuditRowPreimage {
                    content_hash: *fid,
                    prev_hash: prev.clone(),
                    row_number: i as u64 + 1,
                },
                row_hash: h.bare().to_owned(),
            };
            prev = h.bare().to_owned();
            row
        })
        .collect();
    Ok(AuditChain {
        rows,
        cap: refs.cap,
        trust_outcome,
    })
}
