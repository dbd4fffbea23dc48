//! The settlement worker's rounds, each over a claimed batch (see [`super::queue`]), so
//! the pipeline costs a few transactions per batch rather than several per settlement:
//!
//! 1. one transaction claims up to [`BATCH`] settlements waiting for screening and moves
//!    the `INSTRUCTED` ones to `COMPLIANCE_CHECKING`; their instruction bodies (which
//!    never change) are then read through the read pool;
//! 2. screening, decision evidence, terms and the eligibility check run outside any
//!    transaction;
//! 3. one transaction stores every outcome, each in its own savepoint, so a settlement
//!    that fails (and is retried after [`queue::RETRY_AFTER`]) does not undo the others.
//!
//! The registrar round claims cleared settlements and hands them over one by one (a
//! network call each).

use super::context::Lifecycle;
use super::many;
use super::queue::{self, Queue};
use super::screening::{self, Clearance, Outcome};
use super::store::{self, SettlementRow};
use super::worker::with_causes;
use crate::{Error, Result};
use lockstep_core::SettlementState;
use sqlx::Acquire;

/// Settlements claimed per round: large enough that clearance keeps pace with matching,
/// small enough that the storing transaction holds SQLite's one writer only briefly.
pub const BATCH: i64 = 64;

/// Logs a failed step, unless it is expected (another actor moved the settlement, or
/// the registrar failure was already logged with its cause).
fn log_failure(id: &str, e: &Error) {
    if !matches!(
        e,
        Error::ConcurrentTransition { .. } | Error::Registration(_)
    ) {
        tracing::warn!(settlement_id = id, error = %with_causes(e), "settlement step failed; will retry");
    }
}

/// Runs the screening round; returns how many settlements it claimed.
pub async fn screening_round(lc: &Lifecycle) -> Result<usize> {
    let mut tx = lc.db.pool().begin().await?;
    let claimed = queue::claim(&mut tx, lc.db.backend(), Queue::Screening, BATCH).await?;
    if claimed.is_empty() {
        return Ok(0);
    }
    // Every new one moves to COMPLIANCE_CHECKING in a few statements for the batch.
    let new: Vec<&SettlementRow> = claimed
        .iter()
        .filter(|s| s.state == SettlementState::Instructed)
        .collect();
    let moved_ids = many::transition_all(
        &mut tx,
        &new,
        SettlementState::ComplianceChecking,
        "screening started",
    )
    .await?;
    let moved = moved_ids.len();
    let mut started = Vec::with_capacity(claimed.len());
    for s in claimed {
        if s.state != SettlementState::Instructed {
            started.push(s);
        } else if moved_ids.contains(&s.id) {
            started.push(SettlementRow {
                state: SettlementState::ComplianceChecking,
                ..s
            });
        } else {
            // Moved by someone else since the claim read it: nothing of it was written.
            let e = Error::ConcurrentTransition {
                settlement_id: s.id.clone(),
                expected: s.state,
            };
            log_failure(&s.id, &e);
        }
    }
    tx.commit().await?;
    // Instruction bodies never change once written, and these were committed before
    // their settlement could be claimed: they are read through the read pool, off the
    // writer.
    let mut bodies = store::bodies_of(&mut *lc.db.reads().acquire().await?, &started).await?;
    for _ in 0..moved {
        lc.hook.transitioned(SettlementState::ComplianceChecking);
    }
    let n = started.len();
    let mut decided = Vec::with_capacity(n);
    for s in started {
        let outcome = match bodies.remove(&s.id) {
            Some(b) => screening::screen_outcome(lc, &s, &b).await,
            None => Err(Error::NotFound {
                kind: "instruction",
                id: format!("{} or {}", s.seller_instruction_id, s.buyer_instruction_id),
            }),
        };
        decided.push((s, outcome));
    }
    store_outcomes(lc, decided).await?;
    Ok(n)
}

/// Stores every decided outcome in one transaction. When every outcome was computed, all
/// are written straight in (no savepoints: two round trips fewer per settlement); if one
/// fails to store, that transaction is rolled back and [`store_each`] stores them again,
/// one savepoint each.
async fn store_outcomes(
    lc: &Lifecycle,
    decided: Vec<(SettlementRow, Result<Outcome>)>,
) -> Result<()> {
    if decided.len() > 1 && decided.iter().all(|(_, o)| o.is_ok()) {
        match store_all(lc, &decided).await {
            Ok(()) => {
                for o in decided.iter().filter_map(|(_, o)| o.as_ref().ok()) {
                    screening::after_commit(lc, o);
                }
                return Ok(());
            }
            Err(e) => tracing::debug!(
                error = %with_causes(&e),
                "storing a screening batch at once failed; storing each in a savepoint"
            ),
        }
    }
    store_each(lc, decided).await
}

/// Writes every outcome (all computed) and releases the leases in one transaction, or
/// nothing: the clearances together ([`screening::store_clearances`]), the others one by
/// one.
async fn store_all(lc: &Lifecycle, decided: &[(SettlementRow, Result<Outcome>)]) -> Result<()> {
    // The clearances' columns are serialised before the writer is taken.
    let mut clearances = Vec::with_capacity(decided.len());
    let mut others = Vec::new();
    for (s, o) in decided {
        if let Ok(o) = o {
            match Clearance::of(s, o)? {
                Some(c) => clearances.push(c),
                None => others.push((s, o)),
            }
        }
    }
    let mut tx = lc.db.pool().begin().await?;
    for (s, o) in others {
        screening::write_outcome(&mut tx, lc, s, o).await?;
    }
    // The clearances, most of a batch, in a few statements for all.
    screening::store_clearances(&mut tx, lc, clearances).await?;
    let ids: Vec<&str> = decided.iter().map(|(s, _)| s.id.as_str()).collect();
    queue::release(&mut tx, &ids).await?;
    tx.commit().await?;
    Ok(())
}

/// Stores every decided outcome in one transaction, one savepoint each; a settlement
/// whose outcome failed (to compute or to store) is retried later.
async fn store_each(lc: &Lifecycle, decided: Vec<(SettlementRow, Result<Outcome>)>) -> Result<()> {
    let mut tx = lc.db.pool().begin().await?;
    let mut stored = Vec::with_capacity(decided.len());
    for (s, outcome) in decided {
        let result = match outcome {
            Ok(o) => {
                let mut sp = tx.begin().await?;
                match screening::write_outcome(&mut sp, lc, &s, &o).await {
                    Ok(()) => sp.commit().await.map_err(Error::from).map(|()| o),
                    Err(e) => {
                        sp.rollback().await?;
                        Err(e)
                    }
                }
            }
            Err(e) => Err(e),
        };
        match result {
            Ok(o) => stored.push((s.id, o)),
            Err(e) => {
                log_failure(&s.id, &e);
                queue::retry_later(&mut tx, &s.id).await?;
            }
        }
    }
    let ids: Vec<&str> = stored.iter().map(|(id, _)| id.as_str()).collect();
    queue::release(&mut tx, &ids).await?;
    tx.commit().await?;
    for (_, o) in &stored {
        screening::after_commit(lc, o);
    }
    Ok(())
}

/// Runs the registrar round (when a registrar is configured); returns how many
/// settlements it claimed.
pub async fn registrar_round(lc: &Lifecycle) -> Result<usize> {
    if lc.registrar.is_none() {
        return Ok(0);
    }
    let mut tx = lc.db.pool().begin().await?;
    let claimed = queue::claim(&mut tx, lc.db.backend(), Queue::Registrar, BATCH).await?;
    tx.commit().await?;
    for s in &claimed {
        if let Err(e) = screening::register(lc, s).await {
            log_failure(&s.id, &e);
            let mut conn = lc.db.pool().acquire().await?;
            queue::retry_later(&mut conn, &s.id).await?;
        }
    }
    Ok(claimed.len())
}
