//! Validation and normalisation of a submitted instruction: every field error at once
//! (422), addresses checksummed in the stored body.

use crate::templates::{LegSpec, Template, Templates};
use crate::terms::Escrows;
use crate::trade::{DepositAuthorization, InstructionBody, InstructionRequest};
use crate::validate::{check_json_integer, check_text, parse_address, parse_quantity};
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

/// Longest idempotency key, characters.
pub const MAX_KEY_CHARS: usize = 200;
/// Longest party name, characters.
pub const MAX_NAME_CHARS: usize = 200;
/// Longest external reference, characters.
pub const MAX_REFERENCE_CHARS: usize = 128;
/// Longest template slug or platform id, characters.
const MAX_ID_CHARS: usize = 64;
/// Longest `timeout_at` text (RFC 3339 with nanoseconds and an offset is 35).
const MAX_TIME_CHARS: usize = 64;
/// Most legs an instruction may list (templates need two); more are refused before
/// any per-leg check runs.
pub const MAX_LEGS: usize = 8;
/// The latest `timeout_at` when no escrow of the legs' chains states its
/// `maxSettlementDuration`: 30 days from now.
pub const MAX_TIMEOUT_SECS_WITHOUT_ESCROW_LIMIT: u64 = 30 * 24 * 3600;

/// Validates and normalises a request against the templates and the configured chains.
/// Returns the body and the deadline (epoch ms).
pub fn validate(
    templates: &Templates,
    escrows: &Escrows,
    req: &InstructionRequest,
) -> Result<(InstructionBody, i64), Vec<FieldError>> {
    let mut errs = Vec::new();
    let mut body = req.clone();
    text(
        &mut errs,
        &[json!("idempotency_key")],
        &req.idempotency_key,
        MAX_KEY_CHARS,
    );
    let template = check_template_slug(templates, req, &mut errs);
    check_party(escrows, req, &mut body, &mut errs);
    if req.legs.len() > MAX_LEGS {
        errs.push(field_error(
            &[json!("legs")],
            format!("must list at most {MAX_LEGS} legs"),
        ));
    } else {
        let multi = template.is_some_and(Template::is_multi_party);
        check_legs(escrows, req, multi, &mut body, &mut errs);
        if let Some(t) = template {
            check_template(t, req, &mut errs);
        }
    }
    let deadline = check_deadline(req, &mut errs);
    if deadline > 0 && req.legs.len() <= MAX_LEGS {
        check_max_duration(escrows, req, deadline, &mut errs);
    }
    if let Some(t) = template
        && req.legs.len() <= MAX_LEGS
    {
        let max_secs =
            duration_limit(escrows, req).map_or(MAX_TIMEOUT_SECS_WITHOUT_ESCROW_LIMIT, |(m, _)| m);
        crate::repo::fields::check(t, req, deadline, max_secs, &mut errs);
    }
    check_references(req, &mut errs);
    check_platform_ids(template, req, &mut errs);
    if errs.is_empty() {
        Ok((body, deadline))
    } else {
        Err(errs)
    }
}

/// Pushes the text rules' error for `value` at `loc`, if any.
fn text(errs: &mut Vec<FieldError>, loc: &[Value], value: &str, max_chars: usize) {
    if let Err(m) = check_text(value, max_chars) {
        errs.push(field_error(loc, m));
    }
}

/// Whether `s` is an identifier: 1 to 64 ASCII letters, digits, `-` and `_`.
fn is_identifier(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= MAX_ID_CHARS
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The template, if the slug names one (the slug is echoed only when it is an identifier).
fn check_template_slug<'t>(
    templates: &'t Templates,
    req: &InstructionRequest,
    errs: &mut Vec<FieldError>,
) -> Option<&'t Template> {
    let loc = [json!("template_slug")];
    if !is_identifier(&req.template_slug) {
        errs.push(field_error(
            &loc,
            format!(
                "must be a template slug (at most {MAX_ID_CHARS} ASCII letters, digits, '-' or '_')"
            ),
        ));
        return None;
    }
    let t = templates.get(&req.template_slug);
    if t.is_none() {
        errs.push(field_error(
            &loc,
            format!("unknown template {:?}", req.template_slug),
        ));
    }
    t
}

/// Whether `s` is a trade reference as the coordinator issues them: `LS-` and a ULID in
/// its canonical (upper-case Crockford base32) form.
pub fn is_trade_reference(s: &str) -> bool {
    s.strip_prefix("LS-")
        .and_then(|u| {
            ulid::Ulid::from_string(u)
                .ok()
                .map(|id| id.to_string() == u)
        })
        .unwrap_or(false)
}

/// `trade_reference` (null or one the coordinator issued) and `counterparty_platform_id`
/// (an identifier; naming one's own platform only where the template allows it is
/// checked at submission, which knows the platform).
fn check_references(req: &InstructionRequest, errs: &mut Vec<FieldError>) {
    if let Some(tr) = &req.trade_reference
        && !is_trade_reference(tr)
    {
        errs.push(field_error(
            &[json!("trade_reference")],
            "must be null or a trade reference the coordinator issued (LS- and 26 characters)",
        ));
    }
    if let Some(p) = &req.counterparty_platform_id
        && !is_identifier(p)
    {
        errs.push(field_error(
            &[json!("counterparty_platform_id")],
            format!(
                "must be a platform id (at most {MAX_ID_CHARS} ASCII letters, digits, '-' or '_')"
            ),
        ));
    }
}

/// The party: reference, name, wallet (checksummed into `body`), chain.
fn check_party(
    escrows: &Escrows,
    req: &InstructionRequest,
    body: &mut InstructionBody,
    errs: &mut Vec<FieldError>,
) {
    text(
        errs,
        &[json!("party"), json!("external_reference")],
        &req.party.external_reference,
        MAX_REFERENCE_CHARS,
    );
    text(
        errs,
        &[json!("party"), json!("name")],
        &req.party.name,
        MAX_NAME_CHARS,
    );
    match parse_address(&req.party.wallet_address) {
        Ok(a) => body.party.wallet_address = a.to_checksum(None),
        Err(m) => errs.push(field_error(&[json!("party"), json!("wallet_address")], m)),
    }
    check_chain(
        escrows,
        &[json!("party"), json!("chain_id")],
        req.party.chain_id,
        errs,
    );
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

/// A chain id: a JSON-safe integer of a configured chain.
fn check_chain(escrows: &Escrows, loc: &[Value], chain_id: u64, errs: &mut Vec<FieldError>) {
    if let Err(m) = check_json_integer(chain_id) {
        errs.push(field_error(loc, m));
    } else if escrows.by_chain_id(chain_id).is_none() {
        errs.push(field_error(
            loc,
            format!("chain {chain_id} is not configured"),
        ));
    }
}

/// Each leg: instrument (checksummed into `body`, not twice), quantity, chain. In a
/// multi-party template an instrument is a token on a chain: one token address may appear
/// once per chain.
fn check_legs(
    escrows: &Escrows,
    req: &InstructionRequest,
    multi: bool,
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
        check_chain(
            escrows,
            &[json!("legs"), json!(i), json!("chain_id")],
            leg.chain_id,
            errs,
        );
        if req.legs[..i].iter().any(|o| {
            o.instrument_id.eq_ignore_ascii_case(&leg.instrument_id)
                && (!multi || o.chain_id == leg.chain_id)
        }) {
            errs.push(field_error(
                &[json!("legs"), json!(i), json!("instrument_id")],
                "instrument appears twice",
            ));
        }
    }
}

/// The template's rules: one leg per leg type (a multi-role template: the role's legs), a
/// role it has, one chain if it says so.
fn check_template(t: &Template, req: &InstructionRequest, errs: &mut Vec<FieldError>) {
    if t.is_multi_party() {
        check_role_legs(t, req, errs);
    } else {
        check_leg_types(t, req, errs);
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

/// A multi-role template: the legs are exactly the role's (leg type, direction) pairs.
fn check_role_legs(t: &Template, req: &InstructionRequest, errs: &mut Vec<FieldError>) {
    let Some(want) = t.legs_of(req.role) else {
        return; // the role error says it
    };
    let mut want = want.to_vec();
    let mut have: Vec<LegSpec> = req
        .legs
        .iter()
        .map(|l| LegSpec {
            leg_type: l.leg_type,
            direction: l.direction,
        })
        .collect();
    want.sort_unstable();
    have.sort_unstable();
    if want != have {
        let names: Vec<String> = want
            .iter()
            .map(|l| format!("{} {}", l.direction.as_str(), l.leg_type.as_str()))
            .collect();
        errs.push(field_error(
            &[json!("legs")],
            format!(
                "template {} needs exactly these legs for role {}: {}",
                t.slug,
                req.role.as_str(),
                names.join(", ")
            ),
        ));
    }
}

/// A two-role template: one leg of each leg type.
fn check_leg_types(t: &Template, req: &InstructionRequest, errs: &mut Vec<FieldError>) {
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
}

/// `counterparty_platform_ids`: multi-role templates only, not beside
/// `counterparty_platform_id`, platform ids, no more than the other roles, none twice.
fn check_platform_ids(
    template: Option<&Template>,
    req: &InstructionRequest,
    errs: &mut Vec<FieldError>,
) {
    let Some(ids) = &req.counterparty_platform_ids else {
        return;
    };
    let loc = [json!("counterparty_platform_ids")];
    if template.is_some_and(|t| !t.is_multi_party()) {
        errs.push(field_error(
            &loc,
            "applies to templates with more than two roles (name one platform in counterparty_platform_id)",
        ));
        return;
    }
    if req.counterparty_platform_id.is_some() {
        errs.push(field_error(
            &loc,
            "give counterparty_platform_id or counterparty_platform_ids, not both",
        ));
    }
    let most = template.map_or(MAX_LEGS, |t| t.required_roles.len() - 1);
    if ids.is_empty() || ids.len() > most {
        errs.push(field_error(
            &loc,
            format!("must list 1 to {most} platforms (one per other role at most)"),
        ));
        return;
    }
    for (i, p) in ids.iter().enumerate() {
        if !is_identifier(p) {
            errs.push(field_error(&[json!("counterparty_platform_ids"), json!(i)], format!("must be a platform id (at most {MAX_ID_CHARS} ASCII letters, digits, '-' or '_')")));
        } else if ids[..i].contains(p) {
            errs.push(field_error(
                &[json!("counterparty_platform_ids"), json!(i)],
                "platform appears twice",
            ));
        }
    }
}

/// The smallest `maxSettlementDuration` of the escrows on the legs' chains, with its
/// chain id; `None` when none states one.
fn duration_limit(escrows: &Escrows, req: &InstructionRequest) -> Option<(u64, u64)> {
    req.legs
        .iter()
        .filter_map(|l| escrows.by_chain_id(l.chain_id))
        .filter_map(|c| c.max_settlement_duration_secs.map(|m| (m, c.chain_id)))
        .min()
}

/// The deadline against the escrows' `maxSettlementDuration` (R4): registration refuses a
/// `timeoutAt` later than now plus the smallest limit of the chains the legs use. Where
/// no such escrow states its limit, [`MAX_TIMEOUT_SECS_WITHOUT_ESCROW_LIMIT`] applies (no
/// deadline in the year 9999).
fn check_max_duration(
    escrows: &Escrows,
    req: &InstructionRequest,
    deadline_ms: i64,
    errs: &mut Vec<FieldError>,
) {
    let limit = duration_limit(escrows, req);
    let max_secs = limit.map_or(MAX_TIMEOUT_SECS_WITHOUT_ESCROW_LIMIT, |(m, _)| m);
    let latest =
        now_ms().saturating_add(i64::try_from(max_secs.saturating_mul(1000)).unwrap_or(i64::MAX));
    if deadline_ms <= latest {
        return;
    }
    let msg = match limit {
        Some((_, chain_id)) => format!(
            "must be at most {max_secs} s from now: the escrow on chain {chain_id} refuses a settlement that lasts longer (maxSettlementDuration {max_secs} s)"
        ),
        None => format!(
            "must be at most {} days from now (the coordinator's limit where no escrow of the legs' chains states its maxSettlementDuration)",
            max_secs / 86_400
        ),
    };
    errs.push(field_error(&[json!("timeout_at")], msg));
}

/// The settlement deadline: RFC 3339, in the future. 0 after an error.
fn check_deadline(req: &InstructionRequest, errs: &mut Vec<FieldError>) -> i64 {
    if req.timeout_at.len() > MAX_TIME_CHARS {
        errs.push(field_error(
            &[json!("timeout_at")],
            format!("must be an RFC 3339 time (at most {MAX_TIME_CHARS} characters)"),
        ));
        return 0;
    }
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
