//! Instructions (one side of a trade each) and matching.

use crate::server::Coordinator;
use crate::settlements::{self, SettlementRow};
use crate::state::SettlementState;
use crate::validate::{parse_address, parse_quantity};
use crate::{Error, Result, new_id, now_ms, rfc3339};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};
use utoipa::ToSchema;

/// A party's role in the trade.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Delivers the asset, receives the payment.
    Seller,
    /// Delivers the payment, receives the asset.
    Buyer,
}

impl Role {
    /// Wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Seller => "seller",
            Role::Buyer => "buyer",
        }
    }
}

/// What a leg moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LegType {
    /// The asset token.
    AssetDelivery,
    /// The payment token.
    Payment,
}

impl LegType {
    fn as_str(self) -> &'static str {
        match self {
            LegType::AssetDelivery => "asset_delivery",
            LegType::Payment => "payment",
        }
    }
}

/// The leg's direction from the submitting party's point of view.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// The party deposits it.
    Deliver,
    /// The party receives it.
    Receive,
}

/// The submitting party.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Party {
    /// The platform's own reference for the party or order.
    pub external_reference: String,
    /// Legal name (screened).
    pub name: String,
    /// The party's wallet (EIP-55 checksum required when mixed-case; receives the counter-leg).
    pub wallet_address: String,
    /// The wallet's chain (a configured chain).
    pub chain_id: u64,
}

/// One leg as a party sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LegInput {
    /// `asset_delivery` or `payment`.
    pub leg_type: LegType,
    /// The ERC-20 token address.
    pub instrument_id: String,
    /// Decimal string of base units (uint256), e.g. `"1000000"`.
    pub quantity: String,
    /// `deliver` or `receive`.
    pub direction: Direction,
    /// The chain the token lives on (a configured chain).
    pub chain_id: u64,
}

/// `POST /v1/instructions`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InstructionRequest {
    /// Unique per platform; the same key and body replays the first answer.
    pub idempotency_key: String,
    /// `dvp-standard` or `cross-chain-dvp`.
    pub template_slug: String,
    /// `seller` or `buyer`.
    pub role: Role,
    /// Who.
    pub party: Party,
    /// One leg per leg type of the template.
    pub legs: Vec<LegInput>,
    /// RFC 3339 deadline of the settlement.
    pub timeout_at: String,
    /// Null for the first side; the first side's trade reference for the second.
    #[serde(default)]
    pub trade_reference: Option<String>,
}

/// The stored, normalised form of an instruction (addresses checksummed).
pub type InstructionBody = InstructionRequest;

/// A field-level validation error (422).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct FieldError {
    /// Path of the field, e.g. `["body", "legs", 0, "quantity"]`.
    #[schema(value_type = Vec<Object>)]
    pub loc: Vec<Value>,
    /// What is wrong.
    pub msg: String,
    /// Error class.
    #[serde(rename = "type")]
    pub kind: String,
}

fn field_error(loc: &[Value], msg: impl Into<String>) -> FieldError {
    let mut full = vec![json!("body")];
    full.extend_from_slice(loc);
    FieldError {
        loc: full,
        msg: msg.into(),
        kind: "value_error".into(),
    }
}

/// Validates and normalises a request. Returns the body and the deadline (epoch ms).
pub fn validate(
    c: &Coordinator,
    req: &InstructionRequest,
) -> std::result::Result<(InstructionBody, i64), Vec<FieldError>> {
    let mut errs = Vec::new();
    let mut body = req.clone();
    if req.idempotency_key.trim().is_empty() || req.idempotency_key.len() > 200 {
        errs.push(field_error(
            &[json!("idempotency_key")],
            "must be 1 to 200 characters",
        ));
    }
    let template = c.template(&req.template_slug);
    if template.is_none() {
        errs.push(field_error(
            &[json!("template_slug")],
            format!("unknown template {:?}", req.template_slug),
        ));
    }
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
    if c.config.chain(req.party.chain_id).is_none() {
        errs.push(field_error(
            &[json!("party"), json!("chain_id")],
            format!("chain {} is not configured", req.party.chain_id),
        ));
    }
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
        if c.config.chain(leg.chain_id).is_none() {
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
    if let Some(t) = template {
        let types: Vec<&str> = req.legs.iter().map(|l| l.leg_type.as_str()).collect();
        let mut want: Vec<&str> = t.required_leg_types.iter().map(String::as_str).collect();
        let mut have = types.clone();
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
    let deadline = match chrono::DateTime::parse_from_rfc3339(&req.timeout_at) {
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
    };
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

/// Why two instructions do not match: a machine-readable rule code and a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct MatchFailure {
    /// `template_mismatch`, `same_role`, `instrument_mismatch`, `leg_type_mismatch`,
    /// `quantity_mismatch`, `direction_mismatch`, `chain_mismatch` or `no_pending_counterpart`.
    pub rule: String,
    /// Human explanation.
    pub message: String,
}

fn fail(rule: &str, message: String) -> std::result::Result<(), MatchFailure> {
    Err(MatchFailure {
        rule: rule.into(),
        message,
    })
}

/// The matching rules, checked in order (coordinator.md).
pub fn check_match(
    first: &InstructionBody,
    second: &InstructionBody,
) -> std::result::Result<(), MatchFailure> {
    if first.template_slug != second.template_slug {
        return fail(
            "template_mismatch",
            format!(
                "counterparty uses template {}, this instruction {}",
                first.template_slug, second.template_slug
            ),
        );
    }
    if first.role == second.role {
        return fail(
            "same_role",
            format!("both instructions have role {}", first.role.as_str()),
        );
    }
    let find = |b: &InstructionBody, token: &str| {
        b.legs
            .iter()
            .find(|l| l.instrument_id.eq_ignore_ascii_case(token))
            .cloned()
    };
    let mut a: Vec<String> = first
        .legs
        .iter()
        .map(|l| l.instrument_id.to_lowercase())
        .collect();
    let mut b: Vec<String> = second
        .legs
        .iter()
        .map(|l| l.instrument_id.to_lowercase())
        .collect();
    a.sort();
    b.sort();
    if a != b {
        return fail(
            "instrument_mismatch",
            format!("instruments differ: counterparty {a:?}, this instruction {b:?}"),
        );
    }
    for l in &first.legs {
        let Some(o) = find(second, &l.instrument_id) else {
            return fail(
                "instrument_mismatch",
                format!("instrument {} missing", l.instrument_id),
            );
        };
        if l.leg_type != o.leg_type {
            return fail(
                "leg_type_mismatch",
                format!(
                    "instrument {} is {} for the counterparty, {} here",
                    l.instrument_id,
                    l.leg_type.as_str(),
                    o.leg_type.as_str()
                ),
            );
        }
    }
    for l in &first.legs {
        let Some(o) = find(second, &l.instrument_id) else {
            continue;
        };
        if parse_quantity(&l.quantity).ok() != parse_quantity(&o.quantity).ok() {
            return fail(
                "quantity_mismatch",
                format!(
                    "instrument {}: counterparty quantity {}, this instruction {}",
                    l.instrument_id, l.quantity, o.quantity
                ),
            );
        }
    }
    for l in &first.legs {
        let Some(o) = find(second, &l.instrument_id) else {
            continue;
        };
        if l.direction == o.direction {
            return fail(
                "direction_mismatch",
                format!(
                    "instrument {}: both sides {:?}",
                    l.instrument_id, l.direction
                ),
            );
        }
    }
    for l in &first.legs {
        let Some(o) = find(second, &l.instrument_id) else {
            continue;
        };
        if l.chain_id != o.chain_id {
            return fail(
                "chain_mismatch",
                format!(
                    "instrument {}: counterparty on chain {}, this instruction on chain {}",
                    l.instrument_id, l.chain_id, o.chain_id
                ),
            );
        }
    }
    Ok(())
}

/// The match outcome shown with an instruction.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct MatchView {
    /// Whether the instruction is matched.
    pub matched: bool,
    /// The settlement, when matched.
    pub settlement_id: Option<String>,
    /// The failed rule, when not matched.
    pub rule: Option<String>,
    /// Why not.
    pub message: Option<String>,
}

/// An instruction as the API shows it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct InstructionView {
    /// Id (`ins_...`).
    pub id: String,
    /// `pending_match`, `matched`, `expired` or `cancelled`.
    pub status: String,
    /// Shared by both sides of the trade.
    pub trade_reference: String,
    /// Template.
    pub template_slug: String,
    /// Role.
    pub role: Role,
    /// Party (wallet checksummed).
    pub party: Party,
    /// Legs (addresses checksummed).
    pub legs: Vec<LegInput>,
    /// Deadline of the settlement.
    pub timeout_at: String,
    /// When a pending instruction expires.
    pub expires_at: String,
    /// The settlement, once matched.
    pub settlement_id: Option<String>,
    /// Match outcome (null for a first side still waiting).
    #[serde(rename = "match")]
    pub match_result: Option<MatchView>,
    /// Creation time.
    pub created_at: String,
    /// Last change.
    pub updated_at: String,
}

const COLS: &str = "id, platform_id, status, trade_reference, template_slug, body, settlement_id, match_failure, timeout_at, expires_at, created_at, updated_at";

fn view_from_row(r: &AnyRow) -> Result<InstructionView> {
    let body: String = r.try_get("body")?;
    let body: InstructionBody = serde_json::from_str(&body).map_err(|e| Error::Corrupt {
        what: "instruction body",
        message: e.to_string(),
    })?;
    let status: String = r.try_get("status")?;
    let settlement_id: Option<String> = r.try_get("settlement_id")?;
    let failure: Option<String> = r.try_get("match_failure")?;
    let failure: Option<MatchFailure> = failure.and_then(|f| serde_json::from_str(&f).ok());
    let match_result = if let Some(sid) = &settlement_id {
        Some(MatchView {
            matched: true,
            settlement_id: Some(sid.clone()),
            rule: None,
            message: None,
        })
    } else {
        failure.map(|f| MatchView {
            matched: false,
            settlement_id: None,
            rule: Some(f.rule),
            message: Some(f.message),
        })
    };
    Ok(InstructionView {
        id: r.try_get("id")?,
        status,
        trade_reference: r.try_get("trade_reference")?,
        template_slug: r.try_get("template_slug")?,
        role: body.role,
        party: body.party,
        legs: body.legs,
        timeout_at: rfc3339(r.try_get("timeout_at")?),
        expires_at: rfc3339(r.try_get("expires_at")?),
        settlement_id,
        match_result,
        created_at: rfc3339(r.try_get("created_at")?),
        updated_at: rfc3339(r.try_get("updated_at")?),
    })
}

/// The answer to a submission.
#[derive(Debug)]
pub enum Submitted {
    /// First submission (201).
    Created(Value),
    /// Same key, same body (200, the first answer).
    Replayed(Value),
    /// Same key, another body (409).
    KeyReused,
    /// Field errors (422).
    Invalid(Vec<FieldError>),
}

fn request_hash(req: &InstructionRequest) -> Result<String> {
    let v = serde_json::to_value(req)?;
    let bytes = lockstep_evidence::canonicalize(&v).map_err(|e| Error::Corrupt {
        what: "request",
        message: e.to_string(),
    })?;
    Ok(hex::encode(Sha256::digest(bytes)))
}

async fn by_key(
    conn: &mut AnyConnection,
    platform: &str,
    key: &str,
) -> Result<Option<(String, String)>> {
    let r = sqlx::query("SELECT request_hash, response_body FROM instructions WHERE platform_id = $1 AND idempotency_key = $2")
        .bind(platform).bind(key).fetch_optional(conn).await?;
    r.map(|r| Ok((r.try_get("request_hash")?, r.try_get("response_body")?)))
        .transpose()
}

async fn view_by_id(conn: &mut AnyConnection, id: &str) -> Result<InstructionView> {
    let r = sqlx::query(&format!("SELECT {COLS} FROM instructions WHERE id = $1"))
        .bind(id)
        .fetch_one(conn)
        .await?;
    view_from_row(&r)
}

/// Submits an instruction: validates, handles idempotency, assigns a trade reference to
/// a first side, matches a second side.
pub async fn submit(c: &Coordinator, platform: &str, req: InstructionRequest) -> Result<Submitted> {
    let hash = request_hash(&req)?;
    {
        let mut conn = c.db.pool().acquire().await?;
        if let Some((h, resp)) = by_key(&mut conn, platform, &req.idempotency_key).await? {
            return Ok(if h == hash {
                Submitted::Replayed(serde_json::from_str(&resp)?)
            } else {
                Submitted::KeyReused
            });
        }
    }
    let (body, deadline) = match validate(c, &req) {
        Ok(v) => v,
        Err(errs) => return Ok(Submitted::Invalid(errs)),
    };
    let now = now_ms();
    let ttl =
        i64::try_from(c.config.instruction_ttl_secs.saturating_mul(1000)).unwrap_or(i64::MAX / 2);
    let expires_at = (now + ttl).min(deadline);
    let id = new_id("ins");
    let mut tx = c.db.pool().begin().await?;
    // Re-check inside the transaction (a concurrent submission with the same key).
    if let Some((h, resp)) = by_key(&mut tx, platform, &req.idempotency_key).await? {
        return Ok(if h == hash {
            Submitted::Replayed(serde_json::from_str(&resp)?)
        } else {
            Submitted::KeyReused
        });
    }
    let mut matched_with: Option<(String, String, InstructionBody)> = None;
    let mut failure: Option<MatchFailure> = None;
    let trade_reference = match &body.trade_reference {
        None => format!("LS-{}", ulid::Ulid::new()),
        Some(tr) => {
            sqlx::query("UPDATE instructions SET status = 'expired', updated_at = $1 WHERE trade_reference = $2 AND status = 'pending_match' AND expires_at <= $1")
                .bind(now).bind(tr).execute(&mut *tx).await?;
            let rows = sqlx::query("SELECT id, platform_id, status, body FROM instructions WHERE trade_reference = $1 ORDER BY created_at, id")
                .bind(tr).fetch_all(&mut *tx).await?;
            if rows.is_empty() {
                return Ok(Submitted::Invalid(vec![field_error(
                    &[json!("trade_reference")],
                    format!("unknown trade reference {tr:?}"),
                )]));
            }
            for r in &rows {
                let status: String = r.try_get("status")?;
                if status != "pending_match" {
                    continue;
                }
                let other: String = r.try_get("body")?;
                let other: InstructionBody = serde_json::from_str(&other)?;
                match check_match(&other, &body) {
                    Ok(()) => {
                        matched_with = Some((r.try_get("id")?, r.try_get("platform_id")?, other));
                        break;
                    }
                    Err(f) => {
                        if failure.is_none() {
                            failure = Some(f);
                        }
                    }
                }
            }
            if matched_with.is_none() && failure.is_none() {
                failure = Some(MatchFailure {
                    rule: "no_pending_counterpart".into(),
                    message: format!(
                        "no instruction of trade {tr} is waiting for a match (matched, cancelled or expired)"
                    ),
                });
            }
            tr.clone()
        }
    };
    let settlement_id = matched_with.as_ref().map(|_| new_id("stl"));
    let status = if matched_with.is_some() {
        "matched"
    } else {
        "pending_match"
    };
    let inserted = sqlx::query("INSERT INTO instructions (id, platform_id, idempotency_key, request_hash, response_body, template_slug, role, trade_reference, status, body, settlement_id, match_failure, timeout_at, expires_at, created_at, updated_at) VALUES ($1, $2, $3, $4, '', $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $14)")
        .bind(&id).bind(platform).bind(&req.idempotency_key).bind(&hash).bind(&body.template_slug).bind(body.role.as_str())
        .bind(&trade_reference).bind(status).bind(serde_json::to_string(&body)?).bind(settlement_id.clone())
        .bind(failure.as_ref().map(serde_json::to_string).transpose()?).bind(deadline).bind(expires_at).bind(now)
        .execute(&mut *tx).await;
    if let Err(sqlx::Error::Database(e)) = &inserted
        && e.is_unique_violation()
    {
        // A concurrent request with the same key won the race: answer as a replay would.
        drop(tx);
        let mut conn = c.db.pool().acquire().await?;
        return Ok(
            match by_key(&mut conn, platform, &req.idempotency_key).await? {
                Some((h, resp)) if h == hash => Submitted::Replayed(serde_json::from_str(&resp)?),
                _ => Submitted::KeyReused,
            },
        );
    }
    inserted?;
    if let (Some((other_id, other_platform, other)), Some(sid)) = (&matched_with, &settlement_id) {
        let r = sqlx::query("UPDATE instructions SET status = 'matched', settlement_id = $1, updated_at = $2 WHERE id = $3 AND status = 'pending_match'")
            .bind(sid).bind(now).bind(other_id).execute(&mut *tx).await?;
        if r.rows_affected() != 1 {
            return Err(Error::ConcurrentTransition {
                settlement_id: sid.clone(),
                expected: SettlementState::Instructed,
            });
        }
        let other_deadline = chrono::DateTime::parse_from_rfc3339(&other.timeout_at)
            .map(|t| t.timestamp_millis())
            .unwrap_or(deadline);
        let (seller, buyer) = if body.role == Role::Seller {
            (
                (id.clone(), platform.to_string()),
                (other_id.clone(), other_platform.clone()),
            )
        } else {
            (
                (other_id.clone(), other_platform.clone()),
                (id.clone(), platform.to_string()),
            )
        };
        let row = SettlementRow {
            id: sid.clone(),
            trade_reference: trade_reference.clone(),
            template_slug: body.template_slug.clone(),
            state: SettlementState::Instructed,
            seller_instruction_id: seller.0,
            buyer_instruction_id: buyer.0,
            seller_platform_id: seller.1,
            buyer_platform_id: buyer.1,
            timeout_at: deadline.min(other_deadline),
            compliance: None,
            decision_ref: None,
            evidence: None,
            terms: None,
            terms_hash: None,
            attestations: None,
            registrar_notified_at: None,
            created_at: now,
            updated_at: now,
        };
        settlements::create(&mut tx, &row).await?;
    }
    let view = serde_json::to_value(view_by_id(&mut tx, &id).await?)?;
    sqlx::query("UPDATE instructions SET response_body = $1 WHERE id = $2")
        .bind(serde_json::to_string(&view)?)
        .bind(&id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    c.metrics.inc("lockstep_instructions_total", String::new());
    if matched_with.is_some() {
        c.metrics.inc("lockstep_matches_total", String::new());
        c.metrics.inc(
            "lockstep_transitions_total",
            format!("to=\"{}\"", SettlementState::Instructed),
        );
        c.settlement_notify.notify_one();
        c.webhook_notify.notify_one();
    }
    Ok(Submitted::Created(view))
}

/// Marks pending instructions past their expiry as expired (all platforms, or one).
pub async fn expire(c: &Coordinator, platform: Option<&str>) -> Result<u64> {
    let r = match platform {
        Some(p) => sqlx::query("UPDATE instructions SET status = 'expired', updated_at = $1 WHERE status = 'pending_match' AND expires_at <= $1 AND platform_id = $2").bind(now_ms()).bind(p).execute(c.db.pool()).await?,
        None => sqlx::query("UPDATE instructions SET status = 'expired', updated_at = $1 WHERE status = 'pending_match' AND expires_at <= $1").bind(now_ms()).execute(c.db.pool()).await?,
    };
    Ok(r.rows_affected())
}

/// One of the platform's instructions (lazily expired).
pub async fn get(c: &Coordinator, platform: &str, id: &str) -> Result<Option<InstructionView>> {
    expire(c, Some(platform)).await?;
    let r = sqlx::query(&format!(
        "SELECT {COLS} FROM instructions WHERE id = $1 AND platform_id = $2"
    ))
    .bind(id)
    .bind(platform)
    .fetch_optional(c.db.pool())
    .await?;
    r.as_ref().map(view_from_row).transpose()
}

/// The platform's instructions, newest first, optionally with one status.
pub async fn list(
    c: &Coordinator,
    platform: &str,
    status: Option<&str>,
    limit: i64,
    offset: i64,
) -> Result<(Vec<InstructionView>, i64)> {
    expire(c, Some(platform)).await?;
    let cond = if status.is_some() {
        "platform_id = $1 AND status = $2"
    } else {
        "platform_id = $1 AND $2 = $2"
    };
    let st = status.unwrap_or("").to_string();
    let total: i64 = sqlx::query(&format!(
        "SELECT COUNT(*) AS n FROM instructions WHERE {cond}"
    ))
    .bind(platform)
    .bind(&st)
    .fetch_one(c.db.pool())
    .await?
    .try_get("n")?;
    let rows = sqlx::query(&format!("SELECT {COLS} FROM instructions WHERE {cond} ORDER BY created_at DESC, id DESC LIMIT $3 OFFSET $4"))
        .bind(platform).bind(&st).bind(limit).bind(offset).fetch_all(c.db.pool()).await?;
    Ok((
        rows.iter().map(view_from_row).collect::<Result<_>>()?,
        total,
    ))
}

/// The outcome of a cancel request.
#[derive(Debug)]
pub enum Cancelled {
    /// Cancelled; the new view.
    Done(Box<InstructionView>),
    /// Not the platform's, or missing.
    NotFound,
    /// Not `pending_match`; its current status.
    WrongStatus(String),
}

/// Cancels a pending instruction.
pub async fn cancel(c: &Coordinator, platform: &str, id: &str) -> Result<Cancelled> {
    let Some(v) = get(c, platform, id).await? else {
        return Ok(Cancelled::NotFound);
    };
    let r = sqlx::query("UPDATE instructions SET status = 'cancelled', updated_at = $1 WHERE id = $2 AND platform_id = $3 AND status = 'pending_match'")
        .bind(now_ms()).bind(id).bind(platform).execute(c.db.pool()).await?;
    if r.rows_affected() != 1 {
        return Ok(Cancelled::WrongStatus(v.status));
    }
    Ok(match get(c, platform, id).await? {
        Some(v) => Cancelled::Done(Box::new(v)),
        None => Cancelled::NotFound,
    })
}
