//! Settlements: the guarded `transition`, the event trail, the compliance pipeline and
//! the queries behind the API.

use crate::compliance::{ScreeningProvider, ScreeningReport, ScreeningResult, Subject, screen_all};
use crate::evidence::{ComplianceVerdict, EvidenceParty};
use crate::instructions::{Direction, InstructionBody, LegType};
use crate::registrar::ClearedSettlement;
use crate::server::Coordinator;
use crate::state::SettlementState;
use crate::terms::{self, Attestation, Leg, Terms};
use crate::{Error, Result, now_ms, rfc3339};
use alloy::primitives::{Address, B256, U256};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use utoipa::ToSchema;

/// A settlement as stored.
#[derive(Debug, Clone)]
pub struct SettlementRow {
    /// Id (`stl_...`).
    pub id: String,
    /// Trade reference.
    pub trade_reference: String,
    /// Template slug (the settlement type).
    pub template_slug: String,
    /// Current state.
    pub state: SettlementState,
    /// Seller's instruction.
    pub seller_instruction_id: String,
    /// Buyer's instruction.
    pub buyer_instruction_id: String,
    /// Seller's platform.
    pub seller_platform_id: String,
    /// Buyer's platform.
    pub buyer_platform_id: String,
    /// Deadline, epoch ms.
    pub timeout_at: i64,
    /// Screening report and manual decision, JSON.
    pub compliance: Option<String>,
    /// `sha256:<hex>`.
    pub decision_ref: Option<String>,
    /// Decision evidence document, JSON.
    pub evidence: Option<String>,
    /// On-chain terms, JSON.
    pub terms: Option<String>,
    /// 0x-hex.
    pub terms_hash: Option<String>,
    /// Attestations, JSON.
    pub attestations: Option<String>,
    /// When the registrar was handed the settlement.
    pub registrar_notified_at: Option<i64>,
    /// Creation time.
    pub created_at: i64,
    /// Last change.
    pub updated_at: i64,
}

impl SettlementRow {
    fn from_row(r: &AnyRow) -> Result<SettlementRow> {
        let state: String = r.try_get("state")?;
        Ok(SettlementRow {
            id: r.try_get("id")?,
            trade_reference: r.try_get("trade_reference")?,
            template_slug: r.try_get("template_slug")?,
            state: SettlementState::parse(&state).ok_or(Error::Corrupt {
                what: "settlement state",
                message: state,
            })?,
            seller_instruction_id: r.try_get("seller_instruction_id")?,
            buyer_instruction_id: r.try_get("buyer_instruction_id")?,
            seller_platform_id: r.try_get("seller_platform_id")?,
            buyer_platform_id: r.try_get("buyer_platform_id")?,
            timeout_at: r.try_get("timeout_at")?,
            compliance: r.try_get("compliance")?,
            decision_ref: r.try_get("decision_ref")?,
            evidence: r.try_get("evidence")?,
            terms: r.try_get("terms")?,
            terms_hash: r.try_get("terms_hash")?,
            attestations: r.try_get("attestations")?,
            registrar_notified_at: r.try_get("registrar_notified_at")?,
            created_at: r.try_get("created_at")?,
            updated_at: r.try_get("updated_at")?,
        })
    }

    /// The platforms with a party in the settlement (deduplicated).
    pub fn platforms(&self) -> Vec<&str> {
        let mut v = vec![self.seller_platform_id.as_str()];
        if self.buyer_platform_id != self.seller_platform_id {
            v.push(self.buyer_platform_id.as_str());
        }
        v
    }
}

const COLUMNS: &str = "id, trade_reference, template_slug, state, seller_instruction_id, buyer_instruction_id, seller_platform_id, buyer_platform_id, timeout_at, compliance, decision_ref, evidence, terms, terms_hash, attestations, registrar_notified_at, created_at, updated_at";

/// Loads a settlement.
pub async fn load(conn: &mut AnyConnection, id: &str) -> Result<Option<SettlementRow>> {
    let r = sqlx::query(&format!("SELECT {COLUMNS} FROM settlements WHERE id = $1"))
        .bind(id)
        .fetch_optional(conn)
        .await?;
    r.as_ref().map(SettlementRow::from_row).transpose()
}

/// SHA-256 over the JCS form of a JSON value, `sha256:<hex>`.
fn content_hash(v: &Value) -> Result<String> {
    let bytes = lockstep_evidence::canonicalize(v).map_err(|e| Error::Corrupt {
        what: "event record",
        message: e.to_string(),
    })?;
    Ok(format!("sha256:{}", hex::encode(Sha256::digest(bytes))))
}

/// Appends an event to the settlement's trail, chained to the previous event's hash.
async fn append_event(
    conn: &mut AnyConnection,
    settlement_id: &str,
    from: Option<SettlementState>,
    to: SettlementState,
    cause: &str,
    at: i64,
) -> Result<()> {
    let last = sqlx::query("SELECT seq, hash FROM settlement_events WHERE settlement_id = $1 ORDER BY seq DESC LIMIT 1")
        .bind(settlement_id).fetch_optional(&mut *conn).await?;
    let (seq, prev_hash) = match last {
        Some(r) => (
            r.try_get::<i64, _>("seq")? + 1,
            Some(r.try_get::<String, _>("hash")?),
        ),
        None => (1, None),
    };
    let record = json!({
        "settlement_id": settlement_id,
        "seq": seq,
        "from_state": from.map(|s| s.as_str()),
        "to_state": to.as_str(),
        "cause": cause,
        "at": rfc3339(at),
        "prev_hash": prev_hash,
    });
    let hash = content_hash(&record)?;
    sqlx::query("INSERT INTO settlement_events (settlement_id, seq, from_state, to_state, cause, at, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
        .bind(settlement_id).bind(seq).bind(from.map(|s| s.as_str().to_string())).bind(to.as_str()).bind(cause).bind(at).bind(prev_hash).bind(hash)
        .execute(&mut *conn).await?;
    Ok(())
}

/// The webhook `data` of a settlement event.
fn event_data(
    s: &SettlementRow,
    state: SettlementState,
    previous: Option<SettlementState>,
    at: i64,
) -> Value {
    json!({
        "settlement_id": s.id,
        "state": state.as_str(),
        "previous_state": previous.map(|p| p.as_str()),
        "settlement_type": s.template_slug,
        "timestamp": rfc3339(at),
    })
}

/// Writes one outbox event per involved platform.
async fn notify_parties(
    conn: &mut AnyConnection,
    s: &SettlementRow,
    event: &str,
    data: &Value,
) -> Result<()> {
    for p in s.platforms() {
        crate::webhooks::enqueue(conn, p, event, data.clone(), None).await?;
    }
    Ok(())
}

/// Moves a settlement along one edge of the state machine table, inside the caller's
/// transaction: checks the edge, updates the row only if it is still in `s.state`,
/// appends the hashed event and writes the webhook outbox rows. Nothing else may write
/// `settlements.state`.
pub async fn transition(
    conn: &mut AnyConnection,
    s: &SettlementRow,
    to: SettlementState,
    cause: &str,
) -> Result<()> {
    if !s.state.can_transition_to(to) {
        return Err(Error::IllegalTransition {
            settlement_id: s.id.clone(),
            from: s.state,
            to,
        });
    }
    let now = now_ms();
    let r = sqlx::query(
        "UPDATE settlements SET state = $1, updated_at = $2 WHERE id = $3 AND state = $4",
    )
    .bind(to.as_str())
    .bind(now)
    .bind(&s.id)
    .bind(s.state.as_str())
    .execute(&mut *conn)
    .await?;
    if r.rows_affected() != 1 {
        return Err(Error::ConcurrentTransition {
            settlement_id: s.id.clone(),
            expected: s.state,
        });
    }
    append_event(conn, &s.id, Some(s.state), to, cause, now).await?;
    notify_parties(
        conn,
        s,
        &to.event_name(),
        &event_data(s, to, Some(s.state), now),
    )
    .await?;
    Ok(())
}

/// Creates a settlement in `INSTRUCTED` with its first event, inside the caller's
/// transaction.
pub(crate) async fn create(conn: &mut AnyConnection, s: &SettlementRow) -> Result<()> {
    sqlx::query("INSERT INTO settlements (id, trade_reference, template_slug, state, seller_instruction_id, buyer_instruction_id, seller_platform_id, buyer_platform_id, timeout_at, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10)")
        .bind(&s.id).bind(&s.trade_reference).bind(&s.template_slug).bind(SettlementState::Instructed.as_str())
        .bind(&s.seller_instruction_id).bind(&s.buyer_instruction_id).bind(&s.seller_platform_id).bind(&s.buyer_platform_id)
        .bind(s.timeout_at).bind(s.created_at)
        .execute(&mut *conn).await?;
    let cause = format!(
        "matched instructions {} and {}",
        s.seller_instruction_id, s.buyer_instruction_id
    );
    append_event(
        conn,
        &s.id,
        None,
        SettlementState::Instructed,
        &cause,
        s.created_at,
    )
    .await?;
    notify_parties(
        conn,
        s,
        &SettlementState::Instructed.event_name(),
        &event_data(s, SettlementState::Instructed, None, s.created_at),
    )
    .await?;
    Ok(())
}

/// Applies one transition in its own transaction: the entry point for the chain side
/// (indexer events move settlements from `COMPLIANCE_CLEARED` on).
pub async fn apply_transition(
    c: &Coordinator,
    id: &str,
    to: SettlementState,
    cause: &str,
) -> Result<()> {
    let mut tx = c.db.pool().begin().await?;
    let s = load(&mut tx, id).await?.ok_or(Error::NotFound {
        kind: "settlement",
        id: id.into(),
    })?;
    transition(&mut tx, &s, to, cause).await?;
    tx.commit().await?;
    c.metrics
        .inc("lockstep_transitions_total", format!("to=\"{to}\""));
    c.webhook_notify.notify_one();
    Ok(())
}

/// A party of a settlement.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PartyView {
    /// `seller` or `buyer`.
    pub role: String,
    /// The party's platform.
    pub platform_id: String,
    /// The platform's instruction.
    pub instruction_id: String,
}

/// A settlement as the API shows it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SettlementView {
    /// Id (`stl_...`).
    pub id: String,
    /// Trade reference shared by both instructions.
    pub trade_reference: String,
    /// The template slug.
    pub settlement_type: String,
    /// Current state.
    pub state: SettlementState,
    /// Both parties, both confirmed by their instructions.
    pub parties: Vec<PartyView>,
    /// Deadline.
    pub timeout_at: String,
    /// Screening report and any manual decision.
    #[schema(value_type = Option<Object>)]
    pub compliance: Option<Value>,
    /// Settlement-level decision ref (`sha256:<hex>`); its digest is the on-chain decisionRef.
    pub decision_ref: Option<String>,
    /// The on-chain Terms (docs/onchain-terms.md), once cleared.
    #[schema(value_type = Option<Object>)]
    pub terms: Option<Value>,
    /// `keccak256(abi.encode(terms))`.
    pub terms_hash: Option<String>,
    /// One EIP-712 registration attestation per chain.
    pub attestations: Vec<Attestation>,
    /// Every preimage and ref of the decision.
    #[schema(value_type = Option<Object>)]
    pub evidence: Option<Value>,
    /// Creation time.
    pub created_at: String,
    /// Last change.
    pub updated_at: String,
}

fn parse_json(what: &'static str, s: &Option<String>) -> Result<Option<Value>> {
    s.as_deref()
        .map(|t| {
            serde_json::from_str(t).map_err(|e| Error::Corrupt {
                what,
                message: e.to_string(),
            })
        })
        .transpose()
}

impl SettlementRow {
    /// The API view.
    pub fn view(&self) -> Result<SettlementView> {
        Ok(SettlementView {
            id: self.id.clone(),
            trade_reference: self.trade_reference.clone(),
            settlement_type: self.template_slug.clone(),
            state: self.state,
            parties: vec![
                PartyView {
                    role: "seller".into(),
                    platform_id: self.seller_platform_id.clone(),
                    instruction_id: self.seller_instruction_id.clone(),
                },
                PartyView {
                    role: "buyer".into(),
                    platform_id: self.buyer_platform_id.clone(),
                    instruction_id: self.buyer_instruction_id.clone(),
                },
            ],
            timeout_at: rfc3339(self.timeout_at),
            compliance: parse_json("compliance", &self.compliance)?,
            decision_ref: self.decision_ref.clone(),
            terms: parse_json("terms", &self.terms)?,
            terms_hash: self.terms_hash.clone(),
            attestations: match &self.attestations {
                Some(a) => serde_json::from_str(a).map_err(|e| Error::Corrupt {
                    what: "attestations",
                    message: e.to_string(),
                })?,
                None => Vec::new(),
            },
            evidence: parse_json("evidence", &self.evidence)?,
            created_at: rfc3339(self.created_at),
            updated_at: rfc3339(self.updated_at),
        })
    }
}

/// A settlement visible to `platform` (`None` = operator, sees all).
pub async fn get_visible(
    c: &Coordinator,
    id: &str,
    platform: Option<&str>,
) -> Result<Option<SettlementRow>> {
    let mut conn = c.db.pool().acquire().await?;
    let s = load(&mut conn, id).await?;
    Ok(
        s.filter(|s| {
            platform.is_none_or(|p| s.seller_platform_id == p || s.buyer_platform_id == p)
        }),
    )
}

/// Lists settlements visible to `platform`, optionally in one state, newest first.
pub async fn list(
    c: &Coordinator,
    platform: Option<&str>,
    state: Option<SettlementState>,
    limit: i64,
    offset: i64,
) -> Result<(Vec<SettlementRow>, i64)> {
    let mut cond = String::from("1 = 1");
    let mut binds: Vec<String> = Vec::new();
    if let Some(p) = platform {
        binds.push(p.into());
        cond.push_str(&format!(
            " AND (seller_platform_id = ${n} OR buyer_platform_id = ${n})",
            n = binds.len()
        ));
    }
    if let Some(s) = state {
        binds.push(s.as_str().into());
        cond.push_str(&format!(" AND state = ${}", binds.len()));
    }
    let count_sql = format!("SELECT COUNT(*) AS n FROM settlements WHERE {cond}");
    let mut q = sqlx::query(&count_sql);
    for b in &binds {
        q = q.bind(b.clone());
    }
    let total: i64 = q.fetch_one(c.db.pool()).await?.try_get("n")?;
    let sql = format!(
        "SELECT {COLUMNS} FROM settlements WHERE {cond} ORDER BY created_at DESC, id DESC LIMIT ${} OFFSET ${}",
        binds.len() + 1,
        binds.len() + 2
    );
    let mut q = sqlx::query(&sql);
    for b in &binds {
        q = q.bind(b.clone());
    }
    let rows = q.bind(limit).bind(offset).fetch_all(c.db.pool()).await?;
    Ok((
        rows.iter()
            .map(SettlementRow::from_row)
            .collect::<Result<_>>()?,
        total,
    ))
}

/// One entry of the transition trail.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct EventView {
    /// 1-based position in the trail.
    pub seq: i64,
    /// Previous state (null for the creation).
    pub from_state: Option<SettlementState>,
    /// New state.
    pub to_state: SettlementState,
    /// Why.
    pub cause: String,
    /// When.
    pub at: String,
    /// Hash of the previous event.
    pub prev_hash: Option<String>,
    /// `sha256:` over the JCS form of `{settlement_id, seq, from_state, to_state, cause, at, prev_hash}`.
    pub hash: String,
}

/// The settlement's trail.
pub async fn events(c: &Coordinator, id: &str) -> Result<Vec<EventView>> {
    let rows = sqlx::query("SELECT seq, from_state, to_state, cause, at, prev_hash, hash FROM settlement_events WHERE settlement_id = $1 ORDER BY seq")
        .bind(id).fetch_all(c.db.pool()).await?;
    rows.iter()
        .map(|r| {
            let from: Option<String> = r.try_get("from_state")?;
            let to: String = r.try_get("to_state")?;
            Ok(EventView {
                seq: r.try_get("seq")?,
                from_state: from.as_deref().and_then(SettlementState::parse),
                to_state: SettlementState::parse(&to).ok_or(Error::Corrupt {
                    what: "event state",
                    message: to,
                })?,
                cause: r.try_get("cause")?,
                at: rfc3339(r.try_get("at")?),
                prev_hash: r.try_get("prev_hash")?,
                hash: r.try_get("hash")?,
            })
        })
        .collect()
}

/// Recomputes every hash of a trail (what an auditor does).
pub fn verify_trail(settlement_id: &str, events: &[EventView]) -> bool {
    let mut prev: Option<String> = None;
    for e in events {
        let record = json!({
            "settlement_id": settlement_id, "seq": e.seq,
            "from_state": e.from_state.map(|s| s.as_str()), "to_state": e.to_state.as_str(),
            "cause": e.cause, "at": e.at, "prev_hash": e.prev_hash,
        });
        if e.prev_hash != prev || content_hash(&record).ok().as_deref() != Some(e.hash.as_str()) {
            return false;
        }
        prev = Some(e.hash.clone());
    }
    true
}

/// The compliance record stored with a settlement.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct ComplianceRecord {
    screening: ScreeningReport,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    manual_decision: Option<Value>,
}

async fn load_instruction_body(
    conn: &mut AnyConnection,
    id: &str,
) -> Result<(InstructionBody, i64)> {
    let r = sqlx::query("SELECT body, created_at FROM instructions WHERE id = $1")
        .bind(id)
        .fetch_optional(conn)
        .await?
        .ok_or(Error::NotFound {
            kind: "instruction",
            id: id.into(),
        })?;
    let body: String = r.try_get("body")?;
    Ok((
        serde_json::from_str(&body).map_err(|e| Error::Corrupt {
            what: "instruction body",
            message: e.to_string(),
        })?,
        r.try_get("created_at")?,
    ))
}

/// Runs the settlement's next automatic step, if any.
pub async fn process(c: &Coordinator, id: &str) -> Result<()> {
    let mut conn = c.db.pool().acquire().await?;
    let Some(s) = load(&mut conn, id).await? else {
        return Ok(());
    };
    drop(conn);
    match s.state {
        SettlementState::Instructed => {
            apply_transition(
                c,
                id,
                SettlementState::ComplianceChecking,
                "screening started",
            )
            .await?;
            Box::pin(process(c, id)).await
        }
        SettlementState::ComplianceChecking if s.compliance.is_none() => screen(c, &s).await,
        SettlementState::ComplianceCleared if s.registrar_notified_at.is_none() => {
            let Some(reg) = &c.registrar else {
                return Ok(());
            };
            let cleared = cleared_settlement(&s)?;
            reg.register(&cleared).await.map_err(|m| Error::Screening {
                provider: "registrar".into(),
                message: m,
            })?;
            sqlx::query("UPDATE settlements SET registrar_notified_at = $1 WHERE id = $2")
                .bind(now_ms())
                .bind(id)
                .execute(c.db.pool())
                .await?;
            Ok(())
        }
        _ => Ok(()),
    }
}

fn cleared_settlement(s: &SettlementRow) -> Result<ClearedSettlement> {
    let bad = |m: &str| Error::Corrupt {
        what: "cleared settlement",
        message: m.into(),
    };
    let tv: Value = serde_json::from_str(s.terms.as_deref().ok_or_else(|| bad("no terms"))?)?;
    Ok(ClearedSettlement {
        id: s.id.clone(),
        trade_reference: s.trade_reference.clone(),
        terms: terms::terms_from_json(&tv).ok_or_else(|| bad("terms unreadable"))?,
        terms_hash: s
            .terms_hash
            .as_deref()
            .and_then(|h| h.parse().ok())
            .ok_or_else(|| bad("terms hash"))?,
        attestations: serde_json::from_str(
            s.attestations
                .as_deref()
                .ok_or_else(|| bad("no attestations"))?,
        )?,
    })
}

async fn screen(c: &Coordinator, s: &SettlementRow) -> Result<()> {
    let mut conn = c.db.pool().acquire().await?;
    let (seller, _) = load_instruction_body(&mut conn, &s.seller_instruction_id).await?;
    let (buyer, _) = load_instruction_body(&mut conn, &s.buyer_instruction_id).await?;
    drop(conn);
    let template = c.template(&s.template_slug).ok_or(Error::NotFound {
        kind: "template",
        id: s.template_slug.clone(),
    })?;
    let providers: Vec<&dyn ScreeningProvider> = template
        .compliance_providers
        .iter()
        .filter_map(|name| {
            c.providers
                .iter()
                .find(|p| p.name() == name)
                .map(|p| p.as_ref())
        })
        .collect();
    let subjects: Vec<Subject> = [&seller, &buyer]
        .iter()
        .map(|b| Subject {
            role: b.role.as_str().into(),
            name: b.party.name.clone(),
            wallet_address: b.party.wallet_address.clone(),
            chain_id: b.party.chain_id,
            external_reference: b.party.external_reference.clone(),
        })
        .collect();
    let report = screen_all(&providers, &subjects).await?;
    tracing::info!(settlement_id = s.id, result = ?report.result, providers = ?report.providers, "screening finished");
    let record = ComplianceRecord {
        screening: report.clone(),
        manual_decision: None,
    };
    match report.result {
        ScreeningResult::Pass => clear(c, s, &record, "screening passed").await,
        ScreeningResult::Flagged => {
            let mut tx = c.db.pool().begin().await?;
            let r = sqlx::query("UPDATE settlements SET compliance = $1, updated_at = $2 WHERE id = $3 AND state = $4 AND compliance IS NULL")
                .bind(serde_json::to_string(&record)?).bind(now_ms()).bind(&s.id).bind(SettlementState::ComplianceChecking.as_str())
                .execute(&mut *tx).await?;
            if r.rows_affected() == 1 {
                let data = event_data(
                    s,
                    SettlementState::ComplianceChecking,
                    Some(SettlementState::ComplianceChecking),
                    now_ms(),
                );
                notify_parties(&mut tx, s, "settlement.compliance.flagged", &data).await?;
            }
            tx.commit().await?;
            c.webhook_notify.notify_one();
            Ok(())
        }
        ScreeningResult::Fail => roll_back(c, s, &record, "screening failed").await,
    }
}

async fn roll_back(
    c: &Coordinator,
    s: &SettlementRow,
    record: &ComplianceRecord,
    cause: &str,
) -> Result<()> {
    let now = now_ms();
    let mut tx = c.db.pool().begin().await?;
    sqlx::query("UPDATE settlements SET compliance = $1, updated_at = $2 WHERE id = $3")
        .bind(serde_json::to_string(record)?)
        .bind(now)
        .bind(&s.id)
        .execute(&mut *tx)
        .await?;
    transition(&mut tx, s, SettlementState::RolledBack, cause).await?;
    notify_parties(
        &mut tx,
        s,
        "settlement.compliance.failed",
        &event_data(s, SettlementState::RolledBack, Some(s.state), now),
    )
    .await?;
    tx.commit().await?;
    c.metrics.inc(
        "lockstep_transitions_total",
        format!("to=\"{}\"", SettlementState::RolledBack),
    );
    c.webhook_notify.notify_one();
    Ok(())
}

fn instrument(chain_id: u64, token: &str) -> String {
    format!("eip155:{chain_id}/erc20:{token}")
}

/// Builds the decision evidence, the on-chain terms and the attestations, then moves the
/// settlement to `COMPLIANCE_CLEARED` in one transaction.
async fn clear(
    c: &Coordinator,
    s: &SettlementRow,
    record: &ComplianceRecord,
    cause: &str,
) -> Result<()> {
    let mut conn = c.db.pool().acquire().await?;
    let (seller, seller_created) =
        load_instruction_body(&mut conn, &s.seller_instruction_id).await?;
    let (buyer, buyer_created) = load_instruction_body(&mut conn, &s.buyer_instruction_id).await?;
    drop(conn);
    let template = c.template(&s.template_slug).ok_or(Error::NotFound {
        kind: "template",
        id: s.template_slug.clone(),
    })?;
    let bad = |m: String| Error::Corrupt {
        what: "matched instructions",
        message: m,
    };

    // Evidence over the matched (off-chain) terms; its digest goes on-chain.
    let delivered = |b: &InstructionBody| {
        b.legs
            .iter()
            .find(|l| l.direction == Direction::Deliver)
            .cloned()
    };
    let party = |b: &InstructionBody, platform: &str, created: i64| -> Result<EvidenceParty> {
        let leg =
            delivered(b).ok_or_else(|| bad(format!("{} delivers nothing", b.role.as_str())))?;
        Ok(EvidenceParty {
            platform_id: platform.into(),
            external_reference: b.party.external_reference.clone(),
            role: b.role.as_str().into(),
            wallet: b.party.wallet_address.clone(),
            quantity: leg.quantity.clone(),
            instrument: instrument(leg.chain_id, &leg.instrument_id),
            created_at_ms: created,
            timeout_at_ms: s.timeout_at,
        })
    };
    let matched_terms = json!({
        "trade_reference": s.trade_reference,
        "settlement_type": s.template_slug,
        "timeout_at": rfc3339(s.timeout_at),
        "seller": {"party": seller.party, "legs": seller.legs},
        "buyer": {"party": buyer.party, "legs": buyer.legs},
    });
    let policy = json!({
        "template": template.slug,
        "compliance_providers": template.compliance_providers,
        "screening_providers_run": record.screening.providers,
    });
    let ev = crate::evidence::decision(
        &s.id,
        [
            &party(&seller, &s.seller_platform_id, seller_created)?,
            &party(&buyer, &s.buyer_platform_id, buyer_created)?,
        ],
        &matched_terms,
        &policy,
        ComplianceVerdict::Allow,
    )?;

    // On-chain terms: every delivering leg, seller's first, asset before payment.
    let mut legs = Vec::new();
    let mut secrets = Vec::new();
    for (b, counterparty) in [(&seller, &buyer), (&buyer, &seller)] {
        let mut mine: Vec<_> = b
            .legs
            .iter()
            .filter(|l| l.direction == Direction::Deliver)
            .collect();
        mine.sort_by_key(|l| l.leg_type != LegType::AssetDelivery);
        for l in mine {
            let chain = c
                .config
                .chain(l.chain_id)
                .ok_or_else(|| bad(format!("chain {} is no longer configured", l.chain_id)))?;
            let secret = B256::from(crate::random_bytes::<32>()?);
            legs.push(Leg {
                eid: chain.eid,
                token: l
                    .instrument_id
                    .parse::<Address>()
                    .map_err(|e| bad(e.to_string()))?,
                amount: U256::from_str_radix(&l.quantity, 10).map_err(|e| bad(e.to_string()))?,
                depositor: Address::ZERO,
                depositKey: terms::deposit_key(&secret),
                recipient: counterparty
                    .party
                    .wallet_address
                    .parse::<Address>()
                    .map_err(|e| bad(e.to_string()))?,
            });
            secrets.push(json!({"leg_index": legs.len() - 1, "role": b.role.as_str(), "secret": secret.to_string()}));
        }
    }
    // Hub rule: the chain of the first asset_delivery leg (the seller's asset leg).
    let hub_eid = legs
        .first()
        .map(|l| l.eid)
        .ok_or_else(|| bad("no legs".into()))?;
    let t = Terms {
        settlementId: terms::settlement_id(&s.trade_reference),
        hubEid: hub_eid,
        timeoutAt: u64::try_from(s.timeout_at / 1000).map_err(|e| bad(e.to_string()))?,
        decisionRef: B256::from(ev.decision_ref.digest()),
        legs,
    };
    let mut eids: Vec<u32> = t.legs.iter().map(|l| l.eid).collect();
    eids.dedup();
    eids.sort_unstable();
    eids.dedup();
    let chains: Vec<_> = eids
        .iter()
        .filter_map(|e| c.config.chains.iter().find(|ch| ch.eid == *e))
        .collect();
    let atts = terms::attest(&c.attester, &t, &chains, &s.id)?;
    let now = now_ms();
    let mut tx = c.db.pool().begin().await?;
    sqlx::query("UPDATE settlements SET compliance = $1, decision_ref = $2, evidence = $3, terms = $4, terms_hash = $5, attestations = $6, deposit_secrets = $7, updated_at = $8 WHERE id = $9")
        .bind(serde_json::to_string(record)?)
        .bind(ev.decision_ref.as_str())
        .bind(serde_json::to_string(&ev.document)?)
        .bind(serde_json::to_string(&terms::terms_json(&t))?)
        .bind(terms::terms_hash(&t).to_string())
        .bind(serde_json::to_string(&atts)?)
        .bind(serde_json::to_string(&secrets)?)
        .bind(now)
        .bind(&s.id)
        .execute(&mut *tx).await?;
    transition(&mut tx, s, SettlementState::ComplianceCleared, cause).await?;
    notify_parties(
        &mut tx,
        s,
        "settlement.compliance.cleared",
        &event_data(s, SettlementState::ComplianceCleared, Some(s.state), now),
    )
    .await?;
    tx.commit().await?;
    c.metrics.inc(
        "lockstep_transitions_total",
        format!("to=\"{}\"", SettlementState::ComplianceCleared),
    );
    c.webhook_notify.notify_one();
    c.settlement_notify.notify_one();
    Ok(())
}

/// A manual compliance decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ManualDecision {
    /// Clear the settlement.
    Approve,
    /// Roll it back.
    Reject,
}

/// Why a manual decision was refused.
#[derive(Debug)]
pub enum DecisionRefused {
    /// The settlement is not held for a manual decision.
    NotFlagged(SettlementState),
    /// An error.
    Failed(Error),
}

impl From<Error> for DecisionRefused {
    fn from(e: Error) -> Self {
        DecisionRefused::Failed(e)
    }
}

/// Applies an operator's decision to a flagged settlement.
pub async fn decide(
    c: &Coordinator,
    s: &SettlementRow,
    decision: ManualDecision,
    by: &str,
    reason: Option<&str>,
) -> std::result::Result<(), DecisionRefused> {
    let record: Option<ComplianceRecord> = s
        .compliance
        .as_deref()
        .and_then(|t| serde_json::from_str(t).ok());
    let Some(mut record) = record.filter(|r| {
        s.state == SettlementState::ComplianceChecking
            && r.screening.result == ScreeningResult::Flagged
            && r.manual_decision.is_none()
    }) else {
        return Err(DecisionRefused::NotFlagged(s.state));
    };
    record.manual_decision =
        Some(json!({"decision": decision, "by": by, "reason": reason, "at": rfc3339(now_ms())}));
    match decision {
        ManualDecision::Approve => {
            clear(c, s, &record, &format!("manual approval by {by}")).await?
        }
        ManualDecision::Reject => {
            roll_back(c, s, &record, &format!("manual rejection by {by}")).await?
        }
    }
    Ok(())
}

/// One leg a platform must fund, with ready-to-sign calldata.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DepositInstruction {
    /// Index of the leg in `terms.legs`.
    pub leg_index: usize,
    /// EVM chain id to send both transactions on.
    pub chain_id: u64,
    /// The escrow (target of `deposit`, spender of `approve`).
    pub escrow: String,
    /// The ERC-20 (target of `approve`).
    pub token: String,
    /// Exact amount, base units.
    pub amount: String,
    /// The deposit secret authorising this leg (keep it private until deposited).
    pub secret: String,
    /// `approve(escrow, amount)` calldata for `token`.
    pub approve_calldata: String,
    /// `deposit(terms, legIndex, secret)` calldata for `escrow`; send with the LayerZero fee
    /// from the escrow's `quoteDeposit` as value on spoke chains.
    pub deposit_calldata: String,
}

/// The legs `platform` must fund (its parties' delivering legs); empty before clearing.
pub async fn deposits(
    c: &Coordinator,
    s: &SettlementRow,
    platform: &str,
) -> Result<Vec<DepositInstruction>> {
    use alloy::sol_types::SolCall;
    let row = sqlx::query("SELECT deposit_secrets FROM settlements WHERE id = $1")
        .bind(&s.id)
        .fetch_one(c.db.pool())
        .await?;
    let secrets: Option<String> = row.try_get("deposit_secrets")?;
    let (Some(secrets), Some(tv)) = (secrets, parse_json("terms", &s.terms)?) else {
        return Ok(Vec::new());
    };
    let t = terms::terms_from_json(&tv).ok_or(Error::Corrupt {
        what: "terms",
        message: "unreadable".into(),
    })?;
    let secrets: Vec<Value> = serde_json::from_str(&secrets)?;
    let mut out = Vec::new();
    for e in secrets {
        let role = e["role"].as_str().unwrap_or_default();
        let mine = (role == "seller" && s.seller_platform_id == platform)
            || (role == "buyer" && s.buyer_platform_id == platform);
        let (Some(i), Some(secret)) = (
            e["leg_index"]
                .as_u64()
                .and_then(|i| usize::try_from(i).ok()),
            e["secret"].as_str().and_then(|x| x.parse::<B256>().ok()),
        ) else {
            return Err(Error::Corrupt {
                what: "deposit secrets",
                message: e.to_string(),
            });
        };
        let Some(leg) = t.legs.get(i).filter(|_| mine) else {
            continue;
        };
        let Some(chain) = c.config.chains.iter().find(|ch| ch.eid == leg.eid) else {
            continue;
        };
        let approve = terms::approveCall {
            spender: chain.escrow,
            amount: leg.amount,
        }
        .abi_encode();
        let deposit = terms::depositCall {
            terms: t.clone(),
            legIndex: U256::from(i),
            secret,
        }
        .abi_encode();
        out.push(DepositInstruction {
            leg_index: i,
            chain_id: chain.chain_id,
            escrow: chain.escrow.to_checksum(None),
            token: leg.token.to_checksum(None),
            amount: leg.amount.to_string(),
            secret: secret.to_string(),
            approve_calldata: format!("0x{}", hex::encode(approve)),
            deposit_calldata: format!("0x{}", hex::encode(deposit)),
        });
    }
    Ok(out)
}

/// The receipt-anchored evidence bundle, once the chain side built it.
pub async fn bundle(c: &Coordinator, id: &str) -> Result<Option<Value>> {
    let row = sqlx::query("SELECT bundle FROM settlements WHERE id = $1")
        .bind(id)
        .fetch_optional(c.db.pool())
        .await?;
    let Some(row) = row else { return Ok(None) };
    let text: Option<String> = row.try_get("bundle")?;
    text.map(|t| {
        serde_json::from_str(&t).map_err(|e| Error::Corrupt {
            what: "evidence bundle",
            message: e.to_string(),
        })
    })
    .transpose()
}

/// Per-state counts.
pub async fn counts(c: &Coordinator) -> Result<Vec<(SettlementState, i64)>> {
    let rows = sqlx::query("SELECT state, COUNT(*) AS n FROM settlements GROUP BY state")
        .fetch_all(c.db.pool())
        .await?;
    let mut out: Vec<(SettlementState, i64)> =
        SettlementState::ALL.iter().map(|s| (*s, 0)).collect();
    for r in rows {
        let st: String = r.try_get("state")?;
        if let Some(slot) = out.iter_mut().find(|(s, _)| s.as_str() == st) {
            slot.1 = r.try_get("n")?;
        }
    }
    Ok(out)
}

/// Non-terminal settlements past their deadline or idle longer than `stuck_after`.
pub async fn stuck(c: &Coordinator, limit: i64, offset: i64) -> Result<(Vec<SettlementRow>, i64)> {
    let now = now_ms();
    let idle =
        now - i64::try_from(c.config.stuck_after_secs.saturating_mul(1000)).unwrap_or(i64::MAX / 2);
    let terminal: Vec<String> = SettlementState::ALL
        .iter()
        .filter(|s| s.is_terminal())
        .map(|s| format!("'{}'", s.as_str()))
        .collect();
    let cond = format!(
        "state NOT IN ({}) AND (timeout_at <= $1 OR updated_at <= $2)",
        terminal.join(", ")
    );
    let total: i64 = sqlx::query(&format!(
        "SELECT COUNT(*) AS n FROM settlements WHERE {cond}"
    ))
    .bind(now)
    .bind(idle)
    .fetch_one(c.db.pool())
    .await?
    .try_get("n")?;
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM settlements WHERE {cond} ORDER BY updated_at LIMIT $3 OFFSET $4"
    ))
    .bind(now)
    .bind(idle)
    .bind(limit)
    .bind(offset)
    .fetch_all(c.db.pool())
    .await?;
    Ok((
        rows.iter()
            .map(SettlementRow::from_row)
            .collect::<Result<_>>()?,
        total,
    ))
}

/// The settlement worker: screens new settlements, hands cleared ones to the registrar.
/// Woken by matches; also polls, so work left by a crash is picked up after a restart.
pub(crate) async fn run_worker(c: Arc<Coordinator>, mut shutdown: watch::Receiver<bool>) {
    loop {
        if *shutdown.borrow() {
            break;
        }
        let registrar = if c.registrar.is_some() {
            " OR (state = 'COMPLIANCE_CLEARED' AND registrar_notified_at IS NULL)"
        } else {
            ""
        };
        let sql = format!(
            "SELECT id FROM settlements WHERE state = 'INSTRUCTED' OR (state = 'COMPLIANCE_CHECKING' AND compliance IS NULL){registrar} ORDER BY created_at LIMIT 64"
        );
        match sqlx::query(&sql).fetch_all(c.db.pool()).await {
            Ok(rows) => {
                for r in rows {
                    let Ok(id) = r.try_get::<String, _>("id") else {
                        continue;
                    };
                    match process(&c, &id).await {
                        Ok(()) | Err(Error::ConcurrentTransition { .. }) => {}
                        Err(e) => {
                            tracing::warn!(settlement_id = id, error = %e, "settlement step failed; will retry")
                        }
                    }
                    if *shutdown.borrow() {
                        break;
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "polling settlements failed"),
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(1_000)) => {}
            _ = c.settlement_notify.notified() => {}
            _ = shutdown.changed() => {}
        }
    }
    tracing::info!("settlement worker stopped");
}
