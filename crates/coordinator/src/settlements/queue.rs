//! The settlement worker's work claims: a batch of settlements with a next step is
//! leased (`settlements.worker_lease_until`) by one worker at a time, so coordinators
//! sharing a PostgreSQL database never run the same step twice (`FOR UPDATE SKIP LOCKED`
//! lets each take rows the others have not locked). The queries read the partial
//! indexes of migration 0008, whose predicates they repeat word for word.

use super::store::{COLUMNS, SettlementRow};
use crate::Result;
use crate::sql::placeholders;
use lockstep_core::{Backend, Db, now_ms};
use sqlx::AnyConnection;
use std::time::Duration;

/// How long a claim holds a settlement: a worker that dies mid-step leaves its batch to
/// the others (or to its restart) after this long.
pub const LEASE: Duration = Duration::from_secs(30);

/// How long a settlement whose step failed waits before it is claimed again.
pub const RETRY_AFTER: Duration = Duration::from_secs(1);

/// Which queue a claim reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Queue {
    /// `INSTRUCTED`, or `COMPLIANCE_CHECKING` without a screening report.
    Screening,
    /// `COMPLIANCE_CLEARED`, not yet handed to the registrar.
    Registrar,
    /// A `FINALIZED` repo opening whose close is not registered yet (migration 0010).
    RepoClose,
}

impl Queue {
    /// The predicate of the queue's partial index (migration 0008), verbatim.
    pub fn predicate(self) -> &'static str {
        match self {
            Queue::Screening => {
                "state IN ('INSTRUCTED', 'COMPLIANCE_CHECKING') AND compliance IS NULL"
            }
            Queue::Registrar => "state = 'COMPLIANCE_CLEARED' AND registrar_notified_at IS NULL",
            Queue::RepoClose => "state = 'FINALIZED' AND repo_status = 'open'",
        }
    }
}

impl Queue {
    /// The claim (`$1` lease end, `$2` now, `$3` batch size): leases the oldest unleased
    /// settlements of the queue and returns them; on PostgreSQL it skips rows another
    /// coordinator has locked.
    pub fn claim_sql(self, backend: Backend) -> String {
        let lock = match backend {
            Backend::Postgres => " FOR UPDATE SKIP LOCKED",
            Backend::Sqlite => "",
        };
        format!(
            "UPDATE settlements SET worker_lease_until = $1 WHERE id IN (SELECT id FROM settlements WHERE {} AND worker_lease_until <= $2 ORDER BY created_at LIMIT $3{lock}) RETURNING {COLUMNS}",
            self.predicate()
        )
    }
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX / 4)
}

/// Leases up to `n` unleased settlements of `queue`, oldest first, for [`LEASE`], inside
/// the caller's transaction (rolled back on any error: on SQLite the claim runs
/// [`crate::sql::or_fail`]), and returns them.
pub async fn claim(
    conn: &mut AnyConnection,
    backend: Backend,
    queue: Queue,
    n: i64,
) -> Result<Vec<SettlementRow>> {
    let now = now_ms();
    let sql = queue.claim_sql(backend);
    let sql = crate::sql::or_fail_on(conn, &sql);
    let mut rows: Vec<SettlementRow> = sqlx::query_as(&sql)
        .bind(now + millis(LEASE))
        .bind(now)
        .bind(n)
        .fetch_all(conn)
        .await?;
    // RETURNING follows no ORDER BY: restore the queue order.
    rows.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
    Ok(rows)
}

/// Whether `queue` has an unleased settlement, read through the read pool (which does
/// not queue behind SQLite's one writer): the claim's own predicate. A round that polls a
/// mostly empty queue (the repo closes) takes the writer only when this says so; readers
/// see every committed change, and the worker's wake-up follows the commit.
pub async fn any_waiting(db: &Db, queue: Queue) -> Result<bool> {
    let sql = format!(
        "SELECT id FROM settlements WHERE {} AND worker_lease_until <= $1 LIMIT 1",
        queue.predicate()
    );
    Ok(sqlx::query(&sql)
        .bind(now_ms())
        .fetch_optional(db.reads())
        .await?
        .is_some())
}

/// Ends the leases of settlements whose step is done, so their next step (the registrar
/// hand-over after a clearance) can be claimed at once.
pub async fn release(conn: &mut AnyConnection, ids: &[&str]) -> Result<()> {
    if ids.is_empty() {
        return Ok(());
    }
    let sql = format!(
        "UPDATE settlements SET worker_lease_until = 0 WHERE id IN ({})",
        placeholders(ids.len())
    );
    let mut q = sqlx::query(&sql);
    for id in ids {
        q = q.bind(*id);
    }
    q.execute(conn).await?;
    Ok(())
}

/// Leases a settlement whose step failed until [`RETRY_AFTER`] from now, so it is retried
/// after a pause rather than at once.
pub async fn retry_later(conn: &mut AnyConnection, id: &str) -> Result<()> {
    sqlx::query("UPDATE settlements SET worker_lease_until = $1 WHERE id = $2")
        .bind(now_ms() + millis(RETRY_AFTER))
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use lockstep_core::SettlementState as S;

    /// The literals of the partial indexes are the states' stored names.
    #[test]
    fn predicates_name_the_states() {
        assert_eq!(
            Queue::Screening.predicate(),
            format!(
                "state IN ('{}', '{}') AND compliance IS NULL",
                S::Instructed.as_str(),
                S::ComplianceChecking.as_str()
            )
        );
        assert_eq!(
            Queue::Registrar.predicate(),
            format!(
                "state = '{}' AND registrar_notified_at IS NULL",
                S::ComplianceCleared.as_str()
            )
        );
        let migration = include_str!("../../migrations/0008_worker_queue.sql");
        for q in [Queue::Screening, Queue::Registrar] {
            assert!(
                migration.contains(&format!("WHERE {};", q.predicate())),
                "{q:?}"
            );
        }
        assert_eq!(
            Queue::RepoClose.predicate(),
            format!(
                "state = '{}' AND repo_status = '{}'",
                S::Finalized.as_str(),
                crate::repo::RepoStatus::Open.as_str()
            )
        );
        let repo = include_str!("../../migrations/0010_repo.sql");
        assert!(repo.contains(&format!("WHERE {};", Queue::RepoClose.predicate())));
    }
}
