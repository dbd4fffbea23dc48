//! The compliance pipeline: each settlement's automatic steps ([`process`]): screening
//! the parties, then clearing (decision evidence, on-chain terms, attestations), holding
//! for a manual decision or rolling back; and the hand-over of cleared settlements to the
//! chain side's registrar.

use super::clearing;
use super::context::Lifecycle;
use super::machine::{Also, apply_transition, event_data, notify_parties, transition};
use super::many::{self, Member};
use super::store::{self, SettlementRow, parse_json};
use crate::compliance::{ScreeningProvider, ScreeningReport, ScreeningResult, Subject, screen_all};
use crate::evidence::DecisionEvidence;
use crate::templates::Template;
use crate::terms::{self, BuiltTerms};
use crate::trade::InstructionBody;
use crate::{Error, Result, rfc3339};
use alloy::primitives::B256;
use lockstep_core::{ClearedSettlement, SettlementState, now_ms};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sqlx::AnyConnection;
use utoipa::ToSchema;

/// The compliance record stored with a settlement.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ComplianceRecord {
    screening: ScreeningReport,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    manual_decision: Option<Value>,
}

/// Runs the settlement's next automatic step, if any.
pub async fn process(lc: &Lifecycle, id: &str) -> Result<()> {
    let mut conn = lc.db.pool().acquire().await?;
    let Some(s) = store::load(&mut conn, id).await? else {
        return Ok(());
    };
    drop(conn);
    match s.state {
        SettlementState::Instructed => {
            apply_transition(
                &lc.db,
                &lc.hook,
                id,
                SettlementState::ComplianceChecking,
                "screening started",
            )
            .await?;
            Box::pin(process(lc, id)).await
        }
        SettlementState::ComplianceChecking if s.compliance.is_none() => screen(lc, &s).await,
        SettlementState::ComplianceCleared if s.registrar_notified_at.is_none() => {
            register(lc, &s).await
        }
        _ => Ok(()),
    }
}

/// Hands a cleared settlement to the registrar once. A failure is counted and logged as
/// a registration failure (with its cause) and returned; the worker retries.
pub(crate) async fn register(lc: &Lifecycle, s: &SettlementRow) -> Result<()> {
    let Some(reg) = &lc.registrar else {
        return Ok(());
    };
    let cleared = cleared_settlement(s)?;
    if let Err(e) = reg.register(&cleared).await {
        lc.hook
            .metrics()
            .inc("lockstep_registration_failures_total", String::new());
        tracing::warn!(settlement_id = s.id, error = %e, cause = %e.source, "registration on chain failed; will retry");
        return Err(e.into());
    }
    store::mark_registered(&lc.db, &s.id).await
}

/// The registrar's view of a cleared settlement, from the stored columns.
fn cleared_settlement(s: &SettlementRow) -> Result<ClearedSettlement> {
    let bad = |m: &str| Error::Corrupt {
        what: "cleared settlement",
        message: m.into(),
    };
    let tv: Value = parse_json("terms", s.terms.as_deref())?.ok_or_else(|| bad("no terms"))?;
    Ok(ClearedSettlement {
        id: s.id.clone(),
        trade_reference: s.trade_reference.clone(),
        terms: terms::terms_from_json(&tv).ok_or_else(|| bad("terms unreadable"))?,
        terms_hash: s
            .terms_hash
            .as_deref()
            .and_then(|h| h.parse().ok())
            .ok_or_else(|| bad("terms hash"))?,
        attestations: parse_json("attestations", s.attestations.as_deref())?
            .ok_or_else(|| bad("no attestations"))?,
    })
}

/// The template of a settlement.
fn template<'a>(lc: &'a Lifecycle, s: &SettlementRow) -> Result<&'a Template> {
    lc.templates.get(&s.template_slug).ok_or(Error::NotFound {
        kind: "template",
        id: s.template_slug.clone(),
    })
}

/// What screening or a manual decision concluded for a settlement, computed outside any
/// transaction (screening providers, the eligibility check and key generation may be
/// slow); [`write_outcome`] stores it.
pub(crate) enum Outcome {
    /// Clear: the decision evidence and the terms to attest.
    Clear {
        record: ComplianceRecord,
        evidence: Box<DecisionEvidence>,
        built: Box<BuiltTerms>,
        cause: String,
    },
    /// Flagged: hold for an operator.
    Hold(ComplianceRecord),
    /// Roll back, `cause` being the event's cause.
    RollBack {
        record: ComplianceRecord,
        cause: String,
    },
}

/// Screens a settlement now and stores the outcome in its own transaction.
async fn screen(lc: &Lifecycle, s: &SettlementRow) -> Result<()> {
    let bodies = store::both_bodies(&lc.db, s).await?;
    let outcome = screen_outcome(lc, s, &bodies).await?;
    commit_outcome(lc, s, outcome).await
}

/// Screens both parties with the template's configured providers and decides on the
/// worst finding: pass clears, flagged holds for a manual decision, fail rolls back.
/// `bodies` are the seller's and the buyer's instructions with their creation times.
pub(crate) async fn screen_outcome(
    lc: &Lifecycle,
    s: &SettlementRow,
    bodies: &[(InstructionBody, i64); 2],
) -> Result<Outcome> {
    let [(seller, _), (buyer, _)] = bodies;
    let more = store::more_bodies(&lc.db, s).await?;
    let template = template(lc, s)?;
    let providers: Vec<&dyn ScreeningProvider> = template
        .compliance_providers
        .iter()
        .filter_map(|name| {
            lc.providers
                .iter()
                .find(|p| p.name() == name)
                .map(|p| p.as_ref())
        })
        .collect();
    let subjects: Vec<Subject> = [seller, buyer]
        .into_iter()
        .chain(more.iter().map(|(_, b, _)| b))
        .map(|b| Subject {
            role: b.role.as_str().into(),
            name: b.party.name.clone(),
            wallet_address: b.party.wallet_address.clone(),
            chain_id: b.party.chain_id,
            external_reference: b.party.external_reference.clone(),
        })
        .collect();
    let report = screen_all(&providers, &subjects).await?;
    tracing::debug!(settlement_id = s.id, result = ?report.result, providers = ?report.providers, "screening finished");
    let record = ComplianceRecord {
        screening: report.clone(),
        manual_decision: None,
    };
    Ok(match report.result {
        ScreeningResult::Pass => {
            let parties = clearing::parties(s, bodies, &more);
            clear_outcome(lc, s, &parties, record, "screening passed").await?
        }
        ScreeningResult::Flagged => Outcome::Hold(record),
        ScreeningResult::Fail => Outcome::RollBack {
            record,
            cause: "screening failed".into(),
        },
    })
}

/// Stores an outcome inside the caller's transaction; the caller runs [`after_commit`]
/// once it commits.
pub(crate) async fn write_outcome(
    conn: &mut AnyConnection,
    lc: &Lifecycle,
    s: &SettlementRow,
    outcome: &Outcome,
) -> Result<()> {
    match outcome {
        Outcome::Clear { .. } => {
            let clearance = Clearance::of(s, outcome)?;
            store_clearances(conn, lc, clearance.into_iter().collect())
                .await
                .inspect_err(|e| {
                if matches!(e, Error::TermsConflict { .. }) {
                    tracing::error!(settlement_id = s.id, error = %e, "refused to attest a second term set; settlement not attested");
                }
            })
        }
        Outcome::Hold(record) => hold(conn, s, record).await,
        Outcome::RollBack { record, cause } => roll_back(conn, s, record, cause).await,
    }
}

/// The wake-ups and counters after a committed outcome.
pub(crate) fn after_commit(lc: &Lifecycle, outcome: &Outcome) {
    match outcome {
        Outcome::Clear { .. } => {
            lc.hook.transitioned(SettlementState::ComplianceCleared);
            lc.hook.wake_settlements();
        }
        Outcome::Hold(_) => lc.hook.queued_webhooks(),
        Outcome::RollBack { .. } => lc.hook.transitioned(SettlementState::RolledBack),
    }
}

/// Stores an outcome in its own transaction and runs the post-commit hook.
async fn commit_outcome(lc: &Lifecycle, s: &SettlementRow, outcome: Outcome) -> Result<()> {
    let mut tx = lc.db.pool().begin().await?;
    write_outcome(&mut tx, lc, s, &outcome).await?;
    tx.commit().await?;
    after_commit(lc, &outcome);
    Ok(())
}

/// Stores a flagged report and tells the parties; the settlement waits in
/// `COMPLIANCE_CHECKING` for an operator.
async fn hold(
    conn: &mut AnyConnection,
    s: &SettlementRow,
    record: &ComplianceRecord,
) -> Result<()> {
    let r = sqlx::query("UPDATE settlements SET compliance = $1, updated_at = $2 WHERE id = $3 AND state = $4 AND compliance IS NULL")
        .bind(serde_json::to_string(record)?).bind(now_ms()).bind(&s.id).bind(SettlementState::ComplianceChecking.as_str())
        .execute(&mut *conn).await?;
    if r.rows_affected() == 1 {
        let data = event_data(
            s,
            SettlementState::ComplianceChecking,
            Some(SettlementState::ComplianceChecking),
            now_ms(),
        );
        notify_parties(conn, s, "settlement.compliance.flagged", &data).await?;
    }
    Ok(())
}

/// Stores the record and moves the settlement to `ROLLED_BACK`; `cause` is the event's
/// cause and the `detail` of the `settlement.compliance.failed` webhook.
async fn roll_back(
    conn: &mut AnyConnection,
    s: &SettlementRow,
    record: &ComplianceRecord,
    cause: &str,
) -> Result<()> {
    let now = now_ms();
    sqlx::query("UPDATE settlements SET compliance = $1, updated_at = $2 WHERE id = $3")
        .bind(serde_json::to_string(record)?)
        .bind(now)
        .bind(&s.id)
        .execute(&mut *conn)
        .await?;
    transition(conn, s, SettlementState::RolledBack, cause).await?;
    let mut data = event_data(s, SettlementState::RolledBack, Some(s.state), now);
    data["detail"] = Value::from(cause);
    notify_parties(conn, s, "settlement.compliance.failed", &data).await
}

/// Builds the decision evidence and the on-chain terms of every party and runs the
/// eligibility check: a clearance, or a roll-back naming the refused transfers.
async fn clear_outcome(
    lc: &Lifecycle,
    s: &SettlementRow,
    parties: &[clearing::Party<'_>],
    record: ComplianceRecord,
    cause: &str,
) -> Result<Outcome> {
    let template = template(lc, s)?;
    let policy = json!({
        "template": template.slug,
        "compliance_providers": template.compliance_providers,
        "screening_providers_run": record.screening.providers,
    });
    let ev = clearing::decision_evidence(s, parties, &policy)?;
    let built = clearing::build_terms(
        s,
        B256::from(ev.decision_ref.digest()),
        parties,
        &lc.escrows,
    )?;
    Ok(match refusals(lc, s, &built).await? {
        Some(refused) => Outcome::RollBack {
            record,
            cause: refused,
        },
        None => Outcome::Clear {
            record,
            evidence: Box::new(ev),
            built: Box::new(built),
            cause: cause.into(),
        },
    })
}

/// Runs the transfer-eligibility check (security.md R6) over the built terms, if one is
/// configured: `Some(cause)` names every refused transfer (the settlement rolls back with
/// it); a check that cannot run is an error, so nothing is cleared or rolled back and the
/// worker retries.
async fn refusals(lc: &Lifecycle, s: &SettlementRow, built: &BuiltTerms) -> Result<Option<String>> {
    let Some(check) = &lc.eligibility else {
        return Ok(None);
    };
    let refusals = check.check(&built.terms).await.inspect_err(|e| {
        tracing::warn!(settlement_id = s.id, error = %e, "transfer eligibility check failed; will retry");
    })?;
    if refusals.is_empty() {
        return Ok(None);
    }
    let cause = refusals
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ");
    tracing::info!(
        settlement_id = s.id,
        cause,
        "a permissioned token refuses a leg's transfer; rolling back"
    );
    Ok(Some(format!("transfer eligibility refused: {cause}")))
}

/// A clearance about to be stored: the settlement, its terms and every column that
/// needs no signature, serialised before the storing transaction begins (only the
/// reservation and the signatures happen inside it).
pub(crate) struct Clearance<'a> {
    /// The settlement as read.
    s: &'a SettlementRow,
    /// Its built terms.
    built: &'a BuiltTerms,
    /// The transition's cause.
    cause: &'a str,
    /// The on-chain settlement id the terms are reserved under.
    onchain_id: String,
    /// [`terms::terms_hash`] of the terms.
    terms_hash: String,
    /// The compliance record, decision reference, evidence, terms and deposit secrets.
    compliance: String,
    decision_ref: String,
    evidence: String,
    terms: String,
    deposit_secrets: String,
}

impl<'a> Clearance<'a> {
    /// The clearance of a `Clear` outcome (`None` for the others).
    pub(crate) fn of(s: &'a SettlementRow, outcome: &'a Outcome) -> Result<Option<Clearance<'a>>> {
        let Outcome::Clear {
            record,
            evidence,
            built,
            cause,
        } = outcome
        else {
            return Ok(None);
        };
        Ok(Some(Clearance {
            s,
            built,
            cause,
            onchain_id: built.terms.settlementId.to_string(),
            terms_hash: terms::terms_hash(&built.terms).to_string(),
            compliance: serde_json::to_string(record)?,
            decision_ref: evidence.decision_ref.as_str().to_string(),
            evidence: serde_json::to_string(&evidence.document)?,
            terms: serde_json::to_string(&terms::terms_json(&built.terms))?,
            deposit_secrets: serde_json::to_string(&built.secrets)?,
        }))
    }
}

/// Records that the attester signs each `(settlement, onchain id, terms hash)` inside the
/// clearing transaction, with one upsert for all: refuses ([`Error::TermsConflict`], for
/// the first such settlement) when another hash was signed for an on-chain id before (by
/// this or any other instance). A concurrent insert of the same id waits for the other
/// transaction and is then compared with its row.
async fn reserve_attestations(
    conn: &mut sqlx::AnyConnection,
    reservations: &[Clearance<'_>],
) -> Result<()> {
    if reservations.is_empty() {
        return Ok(());
    }
    // Insert, or on a conflict leave the row as it is (a no-op update) and return it, so
    // the stored hash is what we compare either way.
    let sql = format!(
        "INSERT INTO attested_terms (onchain_id, terms_hash, settlement_id, attested_at) VALUES {} ON CONFLICT (onchain_id) DO UPDATE SET onchain_id = attested_terms.onchain_id RETURNING onchain_id, terms_hash",
        crate::sql::value_rows(reservations.len(), 4)
    );
    // Inside the clearing transaction, rolled back on any error.
    let sql = crate::sql::or_fail_on(conn, &sql);
    let now = now_ms();
    let mut q = sqlx::query(&sql);
    for c in reservations {
        q = q
            .bind(&c.onchain_id)
            .bind(&c.terms_hash)
            .bind(&c.s.id)
            .bind(now);
    }
    let mut attested = std::collections::HashMap::new();
    for row in q.fetch_all(&mut *conn).await? {
        let onchain_id: String = sqlx::Row::try_get(&row, "onchain_id")?;
        attested.insert(
            onchain_id,
            sqlx::Row::try_get::<String, _>(&row, "terms_hash")?,
        );
    }
    for c in reservations {
        match attested.get(&c.onchain_id) {
            Some(a) if *a == c.terms_hash => {}
            a => {
                return Err(Error::TermsConflict {
                    settlement_id: c.s.id.clone(),
                    onchain_id: c.onchain_id.clone(),
                    attested: a.cloned().unwrap_or_default(),
                    refused: c.terms_hash.clone(),
                });
            }
        }
    }
    Ok(())
}

/// Writes each clearance (record, evidence, terms, attestations, secrets) and the
/// transition to `COMPLIANCE_CLEARED` inside the caller's transaction, in a few
/// statements for all: the attestations are signed only once their term sets are
/// reserved for the on-chain ids. Fails (writing nothing the caller keeps) if any
/// settlement was moved by someone else meanwhile.
pub(crate) async fn store_clearances(
    conn: &mut AnyConnection,
    lc: &Lifecycle,
    clearances: Vec<Clearance<'_>>,
) -> Result<()> {
    reserve_attestations(conn, &clearances).await?;
    let now = now_ms();
    let mut members = Vec::with_capacity(clearances.len());
    for c in clearances {
        let chains = terms::chains_of(&c.built.terms, &lc.escrows);
        let atts = terms::attest(&lc.attester, &c.built.terms, &chains, &c.s.id)?;
        // The clearance columns, the state and both webhook events in the transition's
        // statements.
        let also = Also {
            columns: vec![
                ("compliance", c.compliance),
                ("decision_ref", c.decision_ref),
                ("evidence", c.evidence),
                ("terms", c.terms),
                ("terms_hash", c.terms_hash),
                ("attestations", serde_json::to_string(&atts)?),
                ("deposit_secrets", c.deposit_secrets),
            ],
            events: vec![(
                "settlement.compliance.cleared",
                event_data(
                    c.s,
                    SettlementState::ComplianceCleared,
                    Some(c.s.state),
                    now,
                ),
            )],
        };
        members.push(Member {
            s: c.s,
            cause: c.cause,
            also,
        });
    }
    let moved =
        many::transition_all_with(conn, &members, SettlementState::ComplianceCleared).await?;
    match members.iter().find(|m| !moved.contains(&m.s.id)) {
        Some(m) => Err(Error::ConcurrentTransition {
            settlement_id: m.s.id.clone(),
            expected: m.s.state,
        }),
        None => Ok(()),
    }
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
#[derive(Debug, thiserror::Error)]
pub enum DecisionRefused {
    /// The settlement is not held for a manual decision.
    #[error("settlement is {0} and not held for a manual decision")]
    NotFlagged(SettlementState),
    /// An error.
    #[error(transparent)]
    Failed(#[from] Error),
}

/// Applies an operator's decision to a flagged settlement.
pub async fn decide(
    lc: &Lifecycle,
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
    let outcome = match decision {
        ManualDecision::Approve => {
            let bodies = store::both_bodies(&lc.db, s).await?;
            let more = store::more_bodies(&lc.db, s).await?;
            let cause = format!("manual approval by {by}");
            let parties = clearing::parties(s, &bodies, &more);
            clear_outcome(lc, s, &parties, record, &cause).await?
        }
        ManualDecision::Reject => Outcome::RollBack {
            record,
            cause: format!("manual rejection by {by}"),
        },
    };
    commit_outcome(lc, s, outcome).await?;
    Ok(())
}
