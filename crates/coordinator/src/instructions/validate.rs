//! Validation and normalisation of a submitted instruction: every field error at once
//! (422), addresses checksummed in the stored body.

use crate::templates::{Template, Templates};
use crate::terms::Escrows;
use crate::trade::{DepositAuthorization, InstructionBody, InstructionRequest};
use crate::validate::{parse_address, parse_quantity};
use lockstep_core::now_ms;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;

/// A field-level validation error (422).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct FieldError {
    /// Path of the field, e.g. `["body", "legs", 0, "quantity"]`: names and array indexes.
    #[schema(schema_with = loc_schema)]
    pub loc: Vec<Value>,
    /// What is wrong.
    pub msg: String,
    /// Error class.
    #[serde(rename = "type")]
    pub kind: String,
}

/// The schema of [`FieldError::loc`]: an array of field names (strings) and array indexes
/// (non-negative integers).
fn loc_schema() -> utoipa::openapi::schema::Array {
    use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, OneOfBuilder, Type};
    ArrayBuilder::new()
        .items(
            OneOfBuilder::new()
                .item(ObjectBuilder::new().schema_type(Type::String))
                .item(
                    ObjectBuilder::new()
                        .schema_type(Type::Integer)
                        .minimum(Some(0)),
                ),
        )
        .build()
}

/// A `value_error` at `body.<loc>`.
pub(crate) fn field_error(loc: &[Value], msg: impl Into<String>) -> FieldError {
    let mut full = vec![json!("body")];
    full.extend_from_slice(loc);
    FieldError {
        loc: full,
        msg: msg.into(),
        kind: "value_error".into(),
    }
}

/// Validates and normalises a request against the templates and the configured chains.
/// Returns the body and the deadline (epoch ms).
pub fn validate(
    templates: &Templates,
    escrows: &Escrows,
    req: &InstructionRequest,
) -> Result<(InstructionBody, i64), Vec<FieldError>> {
    let mut errs = Vec::new();
    let mut body = req.clone();
    if req.idempotency_key.trim().is_empty() || req.idempotency_key.len() > 200 {
        errs.push(field_error(
            &[json!("idempotency_key")],
            "must be 1 to 200 characters",
        ));
    }
    let template = templates.get(&req.template_slug);
    if template.is_none() {
        errs.push(field_error(
            &[json!("template_slug")],
            format!("unknown template {:?}", req.template_slug),
        ));
    }
    check_party(escrows, req, &mut body, &mut errs);
    check_legs(escrows, req, &mut body, &mut errs);
    if let Some(t) = template {
        check_template(t, req, &mut errs);
    }
    let deadline = check_deadline(req, &mut errs);
    if deadline > 0 {
        check_max_duration(escrows, req, deadline, &mut errs);
    }
    if let Some(tr) = &req.trade_reference
        && tr.trim().is_empty()
    {
        errs.push(field_error(
            &[json!("trade_reference")],
            "must be null or a trade reference",
        ));
    }
    if errs.is_empty() {
        Ok((body, deadline))
    } else {
        Err(errs)
    }
}

/// The party: reference, name, wallet (checksummed into `body`), chain.
fn check_party(
    escrows: &Escrows,
    req: &InstructionRequest,
    body: &mut InstructionBody,
    errs: &mut Vec<FieldError>,
) {
    if req.party.external_reference.trim().is_empty() {
        errs.push(field_error(
            &[json!("party"), json!("external_reference")],
            "must not be empty",
        ));
    }
    if req.party.name.trim().is_empty() {
        errs.push(field_error(
            &[json!("party"), json!("name")],
            "must not be empty",
        ));
    }
    match parse_address(&req.party.wallet_address) {
        Ok(a) => body.party.wallet_address = a.to_checksum(None),
        Err(m) => errs.push(field_error(&[json!("party"), json!("wallet_address")], m)),
    }
    if escrows.by_chain_id(req.party.chain_id).is_none() {
        errs.push(field_error(
            &[json!("party"), json!("chain_id")],
            format!("chain {} is not configured", req.party.chain_id),
        ));
    }
    if let Some(d) = &req.party.deposit_address {
        let loc = [json!("party"), json!("deposit_address")];
        if req.party.deposit_authorization == Some(DepositAuthorization::DepositKey) {
            errs.push(field_error(
                &loc,
                "deposit_address applies to deposit_authorization \"depositor\" only (with a deposit key, name the sender on GET /deposits)",
            ));
        }
        match parse_address(d) {
            Ok(a) => body.party.deposit_address = Some(a.to_checksum(None)),
            Err(m) => errs.push(field_error(&loc, m)),
        }
    }
}

/// Each leg: instrument (checksummed into `body`, not twice), quantity, chain.
fn check_legs(
    escrows: &Escrows,
    req: &InstructionRequest,
    body: &mut InstructionBody,
    errs: &mut Vec<FieldError>,
) {
    for (i, leg) in req.legs.iter().enumerate() {
        match parse_address(&leg.instrument_id) {
            Ok(a) => body.legs[i].instrument_id = a.to_checksum(None),
            Err(m) => errs.push(field_error(
                &[json!("legs"), json!(i), json!("instrument_id")],
                m,
            )),
        }
        if let Err(m) = parse_quantity(&leg.quantity) {
            errs.push(field_error(
                &[json!("legs"), json!(i), json!("quantity")],
                m,
            ));
        }
        if escrows.by_chain_id(leg.chain_id).is_none() {
            errs.push(field_error(
                &[json!("legs"), json!(i), json!("chain_id")],
                format!("chain {} is not configured", leg.chain_id),
            ));
        }
        if req.legs[..i]
            .iter()
            .any(|o| o.instrument_id.eq_ignore_ascii_case(&leg.instrument_id))
        {
            errs.push(field_error(
                &[json!("legs"), json!(i), json!("instrument_id")],
                "instrument appears twice",
            ));
        }
    }
}

/// The template's rules: one leg per leg type, a role it has, one chain if it says so.
fn check_template(t: &Template, req: &InstructionRequest, errs: &mut Vec<FieldError>) {
    let mut want: Vec<&str> = t.required_leg_types.iter().map(String::as_str).collect();
    let mut have: Vec<&str> = req.legs.iter().map(|l| l.leg_type.as_str()).collect();
    want.sort_unstable();
    have.sort_unstable();
    if want != have {
        errs.push(field_error(
            &[json!("legs")],
            format!(
                "template {} needs exactly one leg of each type {:?}",
                t.slug, t.required_leg_types
            ),
        ));
    }
    if !t.required_roles.iter().any(|r| r == req.role.as_str()) {
        errs.push(field_error(
            &[json!("role")],
            format!("template {} has no role {}", t.slug, req.role.as_str()),
        ));
    }
    if t.single_chain {
        for (i, leg) in req.legs.iter().enumerate() {
            if leg.chain_id != req.party.chain_id {
                errs.push(field_error(&[json!("legs"), json!(i), json!("chain_id")], format!("template {} settles on one chain: every leg must be on the party's chain {}", t.slug, req.party.chain_id)));
            }
        }
    }
}

/// The deadline against the escrows' `maxSettlementDuration` (R4): registration refuses a
/// `timeoutAt` later than now plus the smallest limit of the chains the legs use.
fn check_max_duration(
    escrows: &Escrows,
    req: &InstructionRequest,
    deadline_ms: i64,
    errs: &mut Vec<FieldError>,
) {
    let limit = req
        .legs
        .iter()
        .filter_map(|l| escrows.by_chain_id(l.chain_id))
        .filter_map(|c| c.max_settlement_duration_secs.map(|m| (m, c.chain_id)))
        .min();
    let Some((max_secs, chain_id)) = limit else {
        return;
    };
    let latest =
        now_ms().saturating_add(i64::try_from(max_secs.saturating_mul(1000)).unwrap_or(i64::MAX));
    if deadline_ms > latest {
        errs.push(field_error(
            &[json!("timeout_at")],
            format!("must be at most {max_secs} s from now: the escrow on chain {chain_id} refuses a settlement that lasts longer (maxSettlementDuration {max_secs} s)"),
        ));
    }
}

/// The settlement deadline: RFC 3339, in the future. 0 after an error.
fn check_deadline(req: &InstructionRequest, errs: &mut Vec<FieldError>) -> i64 {
    match chrono::DateTime::parse_from_rfc3339(&req.timeout_at) {
        Ok(t) if t.timestamp_millis() > now_ms() => t.timestamp_millis(),
        Ok(_) => {
            errs.push(field_error(&[json!("timeout_at")], "must be in the future"));
            0
        }
        Err(e) => {
            errs.push(field_error(
                &[json!("timeout_at")],
                format!("must be an RFC 3339 time: {e}"),
            ));
            0
        }
    }
}
