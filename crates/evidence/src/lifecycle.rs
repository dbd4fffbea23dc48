//! Lifecycle compositions over the execution tier: settlement receipt, retention row,
//! execution binding, refund and cancellation.

use crate::construct::{ObjWriter, closed_enum, inherent_reference, nonempty, safe_uint};
use crate::fields::{Fields, as_string};
use crate::jcs::write_str;
use crate::keystone::CANON_VERSION;
use crate::{Error, Preimage, Ref, Result};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The bare hex of the first row's `prev_hash`.
pub const GENESIS_PREV_HASH: &str =
    "0000000000000000000000000000000000000000000000000000000000000000";

closed_enum!(
    /// The categorical outcome of a settlement attestation.
    SettlementResult, "settlement_result" {
        /// Final.
        Settled => "SETTLED",
        /// Included, not yet final.
        PendingFinality => "PENDING_FINALITY",
        /// Reverted or unwound.
        Reversed => "REVERSED",
    }
);

/// `settlement_amount`: money as a decimal string in minor units.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SettlementAmount {
    /// Decimal digits in the asset's minor unit.
    pub amount_minor: String,
    /// The asset.
    pub asset_id: String,
}

/// A settlement receipt (settlement attestation).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SettlementReceipt {
    /// Must be `jcs-rfc8785-v1`.
    pub canon_version: String,
    /// Ordered jurisdiction codes (each non-empty).
    pub jurisdiction_flags: Vec<String>,
    /// The execution_ref that was settled.
    pub settled_payment_ref: Ref,
    /// The amount.
    pub settlement_amount: SettlementAmount,
    /// Chain identifier (`eip155:<chain id>`).
    pub settlement_chain: String,
    /// The attesting party.
    pub settlement_provider_did: String,
    /// The result.
    pub settlement_result: SettlementResult,
    /// Epoch milliseconds.
    pub settlement_timestamp_ms: u64,
    /// Optional positive round; omitted when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settlement_round: Option<u64>,
}

impl Preimage for SettlementReceipt {
    fn validate(&self) -> Result<()> {
        if self.canon_version != CANON_VERSION {
            return Err(Error::rule(
                "canon_version",
                format!("must be {CANON_VERSION:?}"),
            ));
        }
        for (i, j) in self.jurisdiction_flags.iter().enumerate() {
            nonempty(&format!("jurisdiction_flags[{i}]"), j)?;
        }
        let a = &self.settlement_amount.amount_minor;
        if a.is_empty() || !a.bytes().all(|c| c.is_ascii_digit()) {
            return Err(Error::rule(
                "settlement_amount.amount_minor",
                "must be a non-empty string of decimal digits",
            ));
        }
        nonempty(
            "settlement_amount.asset_id",
            &self.settlement_amount.asset_id,
        )?;
        nonempty("settlement_chain", &self.settlement_chain)?;
        nonempty("settlement_provider_did", &self.settlement_provider_did)?;
        safe_uint("settlement_timestamp_ms", self.settlement_timestamp_ms)?;
        if let Some(r) = self.settlement_round {
            if r == 0 {
                return Err(Error::rule(
                    "settlement_round",
                    "must be a positive integer",
                ));
            }
            safe_uint("settlement_round", r)?;
        }
        Ok(())
    }
    fn write_canonical(&self, out: &mut Vec<u8>) {
        let mut o = ObjWriter::begin(out);
        o.str("canon_version", &self.canon_version);
        let a = o.key("jurisdiction_flags");
        a.push(b'[');
        for (i, j) in self.jurisdiction_flags.iter().enumerate() {
            if i > 0 {
                a.push(b',');
            }
            write_str(a, j);
        }
        a.push(b']');
        o.reference("settled_payment_ref", &self.settled_payment_ref);
        let amt = o.key("settlement_amount");
        let mut inner = ObjWriter::begin(amt);
        inner.str("amount_minor", &self.settlement_amount.amount_minor);
        inner.str("asset_id", &self.settlement_amount.asset_id);
        inner.end();
        o.str("settlement_chain", &self.settlement_chain);
        o.str("settlement_provider_did", &self.settlement_provider_did);
        o.str("settlement_result", self.settlement_result.as_str());
        if let Some(r) = self.settlement_round {
            o.uint("settlement_round", r);
        }
        o.uint("settlement_timestamp_ms", self.settlement_timestamp_ms);
        o.end();
    }
}

impl SettlementReceipt {
    /// Reads a settlement receipt from strict JSON (exact keys).
    pub fn from_json(path: &str, v: &Value) -> Result<SettlementReceipt> {
        let mut f = Fields::new(path, v)?;
        let jp = f.path("jurisdiction_flags");
        let flags = f
            .array("jurisdiction_flags")?
            .iter()
            .enumerate()
            .map(|(i, v)| as_string(&format!("{jp}[{i}]"), v))
            .collect::<Result<Vec<_>>>()?;
        let ap = f.path("settlement_amount");
        let amount = f.object("settlement_amount")?;
        let mut af = Fields::new(&ap, amount)?;
        let settlement_amount = SettlementAmount {
            amount_minor: af.string("amount_minor")?,
            asset_id: af.string("asset_id")?,
        };
        af.finish()?;
        let rp = f.path("settlement_round");
        let r = SettlementReceipt {
            canon_version: f.string("canon_version")?,
            jurisdiction_flags: flags,
            settled_payment_ref: f.reference("settled_payment_ref")?,
            settlement_amount,
            settlement_chain: f.string("settlement_chain")?,
            settlement_provider_did: f.string("settlement_provider_did")?,
            settlement_result: SettlementResult::parse_field(
                &f.path("settlement_result"),
                &f.string("settlement_result")?,
            )?,
            settlement_timestamp_ms: f.uint("settlement_timestamp_ms")?,
            settlement_round: match f.opt("settlement_round") {
                Some(v) => Some(crate::fields::as_uint(&rp, v)?),
                None => None,
            },
        };
        f.finish()?;
        Ok(r)
    }

    /// `content_hash = bare(receipt)` as a ref (`settlement_ref`).
    pub fn settlement_ref(&self) -> Result<Ref> {
        self.reference()
    }
}

/// A row of a retention chain: `{content_hash (bare), prev_hash (bare), row_number}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetentionRow {
    /// The recorded content (written bare).
    pub content_hash: Ref,
    /// The previous row's hash (written bare; all zeros for row 1).
    pub prev_hash: Ref,
    /// 1-based row number.
    pub row_number: u64,
}

/// The all-zero digest used as `prev_hash` of the first row.
pub const GENESIS: Ref = Ref::from_digest([0u8; 32]);

/// The all-zero digest used as `prev_hash` of the first row.
pub fn genesis() -> Ref {
    GENESIS
}

impl Preimage for RetentionRow {
    fn validate(&self) -> Result<()> {
        if self.row_number == 0 {
            return Err(Error::rule("row_number", "must be an integer >= 1"));
        }
        safe_uint("row_number", self.row_number)?;
        if self.row_number == 1 && self.prev_hash != genesis() {
            return Err(Error::rule(
                "prev_hash",
                "row 1 must have the genesis prev_hash (64 zeros)",
            ));
        }
        Ok(())
    }
    fn write_canonical(&self, out: &mut Vec<u8>) {
        let mut o = ObjWriter::begin(out);
        o.bare("content_hash", &self.content_hash);
        o.bare("prev_hash", &self.prev_hash);
        o.uint("row_number", self.row_number);
        o.end();
    }
}

impl RetentionRow {
    /// Reads a retention row from strict JSON.
    pub fn from_json(path: &str, v: &Value) -> Result<RetentionRow> {
        let mut f = Fields::new(path, v)?;
        let cp = f.path("content_hash");
        let pp = f.path("prev_hash");
        let r = RetentionRow {
            content_hash: Ref::from_bare(&cp, &f.string("content_hash")?)?,
            prev_hash: Ref::from_bare(&pp, &f.string("prev_hash")?)?,
            row_number: f.uint("row_number")?,
        };
        f.finish()?;
        r.validate()?;
        Ok(r)
    }
}

impl Serialize for RetentionRow {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        self.to_value().serialize(s)
    }
}

/// `binding_ref = ref({execution_ref, settlement_ref, retention_chain_ref})`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecutionBinding {
    /// The execution that was settled.
    pub execution_ref: Ref,
    /// The settlement receipt.
    pub settlement_ref: Ref,
    /// The retention row recording it.
    pub retention_chain_ref: Ref,
}

impl Preimage for ExecutionBinding {
    fn validate(&self) -> Result<()> {
        Ok(())
    }
    fn write_canonical(&self, out: &mut Vec<u8>) {
        let mut o = ObjWriter::begin(out);
        o.reference("execution_ref", &self.execution_ref);
        o.reference("retention_chain_ref", &self.retention_chain_ref);
        o.reference("settlement_ref", &self.settlement_ref);
        o.end();
    }
}

impl ExecutionBinding {
    /// Reads an execution binding from strict JSON.
    pub fn from_json(path: &str, v: &Value) -> Result<ExecutionBinding> {
        let mut f = Fields::new(path, v)?;
        let b = ExecutionBinding {
            execution_ref: f.reference("execution_ref")?,
            settlement_ref: f.reference("settlement_ref")?,
            retention_chain_ref: f.reference("retention_chain_ref")?,
        };
        f.finish()?;
        Ok(b)
    }
}

/// Everything the settlement binding composition produces.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SettlementBinding {
    /// `bare(receipt)`.
    pub content_hash: String,
    /// `"sha256:" + content_hash`.
    pub settlement_ref: Ref,
    /// The retention row.
    pub retention_row: RetentionRow,
    /// `ref(retention_row)`.
    pub retention_chain_ref: Ref,
    /// `ref({execution_ref, settlement_ref, retention_chain_ref})`.
    pub binding_ref: Ref,
}

/// Binds a settlement receipt to an execution: content hash, retention row
/// (`prev_hash` bare, genesis for row 1), and the execution binding.
pub fn settlement_binding(
    execution_ref: Ref,
    receipt: &SettlementReceipt,
    prev_hash: Ref,
    row_number: u64,
) -> Result<SettlementBinding> {
    if receipt.settled_payment_ref != execution_ref {
        return Err(Error::rule(
            "receipt.settled_payment_ref",
            format!("must equal execution_ref {execution_ref}"),
        ));
    }
    let settlement_ref = receipt.reference()?;
    let retention_row = RetentionRow {
        content_hash: settlement_ref,
        prev_hash,
        row_number,
    };
    let retention_chain_ref = retention_row.reference()?;
    let binding_ref = ExecutionBinding {
        execution_ref,
        settlement_ref,
        retention_chain_ref,
    }
    .reference()?;
    Ok(SettlementBinding {
        content_hash: settlement_ref.bare().to_owned(),
        settlement_ref,
        retention_row,
        retention_chain_ref,
        binding_ref,
    })
}

closed_enum!(
    /// The categorical result of a refund.
    RefundResult, "refund_result" {
        /// Refunded in full.
        Full => "FULL",
        /// Partly refunded.
        Partial => "PARTIAL",
        /// Refund refused.
        Rejected => "REJECTED",
    }
);

/// `refund_ref = ref({refund_amount, refund_result, subject_ref})`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refund {
    /// Amount, a non-empty string.
    pub refund_amount: String,
    /// Result.
    pub refund_result: RefundResult,
    /// What is refunded (the execution_ref).
    pub subject_ref: Ref,
}

impl Preimage for Refund {
    fn validate(&self) -> Result<()> {
        nonempty("refund_amount", &self.refund_amount)
    }
    fn write_canonical(&self, out: &mut Vec<u8>) {
        let mut o = ObjWriter::begin(out);
        o.str("refund_amount", &self.refund_amount);
        o.str("refund_result", self.refund_result.as_str());
        o.reference("subject_ref", &self.subject_ref);
        o.end();
    }
}

impl Refund {
    /// Reads a refund from strict JSON.
    pub fn from_json(path: &str, v: &Value) -> Result<Refund> {
        let mut f = Fields::new(path, v)?;
        let r = Refund {
            refund_amount: f.string("refund_amount")?,
            refund_result: RefundResult::parse_field(
                &f.path("refund_result"),
                &f.string("refund_result")?,
            )?,
            subject_ref: f.reference("subject_ref")?,
        };
        f.finish()?;
        Ok(r)
    }
}

closed_enum!(
    /// Why a mandate was cancelled.
    CancellationReason, "cancellation_reason" {
        /// By the user.
        UserRequested => "USER_REQUESTED",
        /// By the merchant.
        MerchantRequested => "MERCHANT_REQUESTED",
        /// By compliance.
        ComplianceTerminated => "COMPLIANCE_TERMINATED",
        /// Timed out.
        Expired => "EXPIRED",
    }
);

/// `cancellation_ref = ref({cancellation_reason, mandate_ref})`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cancellation {
    /// Reason.
    pub cancellation_reason: CancellationReason,
    /// The cancelled mandate.
    pub mandate_ref: Ref,
}

impl Preimage for Cancellation {
    fn validate(&self) -> Result<()> {
        Ok(())
    }
    fn write_canonical(&self, out: &mut Vec<u8>) {
        let mut o = ObjWriter::begin(out);
        o.str("cancellation_reason", self.cancellation_reason.as_str());
        o.reference("mandate_ref", &self.mandate_ref);
        o.end();
    }
}

impl Cancellation {
    /// Reads a cancellation from strict JSON.
    pub fn from_json(path: &str, v: &Value) -> Result<Cancellation> {
        let mut f = Fields::new(path, v)?;
        let c = Cancellation {
            cancellation_reason: CancellationReason::parse_field(
                &f.path("cancellation_reason"),
                &f.string("cancellation_reason")?,
            )?,
            mandate_ref: f.reference("mandate_ref")?,
        };
        f.finish()?;
        Ok(c)
    }
}

inherent_reference!(
    SettlementReceipt,
    RetentionRow,
    ExecutionBinding,
    Refund,
    Cancellation
);
