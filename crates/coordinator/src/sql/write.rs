//! A SQLite write transaction whose ends travel with its statements
//! ([`ScriptedWrite`]): `BEGIN IMMEDIATE` goes to the connection thread in one request with
//! the transaction's first reads, and `COMMIT` in one request with its last writes
//! (docs/coordinator.md, "Several statements per hand-off").

use super::{Done, Statement, is_sqlite, run_all};
use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyConnection};

/// A write transaction on a pooled SQLite connection, begun by the first request
/// ([`ScriptedWrite::begin`]) and ended by the last ([`ScriptedWrite::commit`]) or by
/// [`ScriptedWrite::rollback`]: two hand-offs to sqlx's connection thread for its ends
/// instead of four.
///
/// sqlx does not know of this transaction (its own nesting depth stays 0), so nothing
/// run inside it may begin a sqlx transaction. A `ScriptedWrite` dropped before it
/// ended (its future cancelled) marks the connection to be closed when the pool
/// connection drops, rather than returned to the pool: closing a SQLite connection
/// rolls its open transaction back.
pub(crate) struct ScriptedWrite<'c> {
    conn: &'c mut PoolConnection<Any>,
    open: bool,
}

impl<'c> ScriptedWrite<'c> {
    /// Begins a write transaction (`BEGIN IMMEDIATE`, which waits for SQLite's write lock
    /// up to `busy_timeout`) and runs `statements` in it, in the same request. Returns the
    /// transaction and what each statement returned. On failure nothing stays open.
    pub(crate) async fn begin(
        conn: &'c mut PoolConnection<Any>,
        statements: Vec<Statement<'_>>,
    ) -> sqlx::Result<(ScriptedWrite<'c>, Vec<Done>)> {
        if !is_sqlite(conn) {
            return Err(sqlx::Error::Configuration(
                "a scripted write transaction is SQLite's (BEGIN IMMEDIATE)".into(),
            ));
        }
        let mut script = Vec::with_capacity(statements.len() + 1);
        script.push(Statement::new("BEGIN IMMEDIATE"));
        script.extend(statements);
        let mut tx = ScriptedWrite { conn, open: true };
        match run_all(tx.conn(), script).await {
            Ok(mut done) => {
                done.remove(0);
                Ok((tx, done))
            }
            Err(e) => {
                tx.end_after_failure().await;
                Err(e)
            }
        }
    }

    /// The connection, for statements run inside the transaction.
    pub(crate) fn conn(&mut self) -> &mut AnyConnection {
        self.conn
    }

    /// Runs `statements` and commits, in one request; returns what each statement
    /// returned. If one fails (or the commit does), the transaction is rolled back and
    /// the error returned.
    pub(crate) async fn commit(
        mut self,
        statements: Vec<Statement<'_>>,
    ) -> sqlx::Result<Vec<Done>> {
        let mut script = statements;
        script.push(Statement::new("COMMIT"));
        match run_all(self.conn(), script).await {
            Ok(mut done) => {
                self.open = false;
                done.pop();
                Ok(done)
            }
            Err(e) => {
                self.end_after_failure().await;
                Err(e)
            }
        }
    }

    /// Rolls the transaction back.
    pub(crate) async fn rollback(mut self) -> sqlx::Result<()> {
        let result = sqlx::query("ROLLBACK").execute(self.conn()).await;
        if result.is_ok() {
            self.open = false;
        }
        result.map(|_| ())
    }

    /// After a failed request: rolls back whatever of the transaction is open. The
    /// request may have failed before its `BEGIN` took effect (the write lock not had
    /// within `busy_timeout`) or after a `COMMIT` that failed and left it open; SQLite
    /// refuses a `ROLLBACK` with no transaction, which is then the expected answer. If
    /// the rollback fails otherwise, the connection is closed instead of reused.
    async fn end_after_failure(&mut self) {
        match sqlx::query("ROLLBACK").execute(self.conn()).await {
            Ok(_) => self.open = false,
            Err(sqlx::Error::Database(e)) if e.message().contains("no transaction is active") => {
                self.open = false;
            }
            Err(e) => {
                tracing::error!(error = %e, "rolling back a failed write transaction failed; closing its connection");
            }
        }
    }
}

impl Drop for ScriptedWrite<'_> {
    fn drop(&mut self) {
        if self.open {
            // Cancelled or unresolved: SQLite rolls the transaction back when the
            // connection closes.
            self.conn.close_on_drop();
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use lockstep_core::Db;
    use sqlx::Row;

    /// A SQLite file with the table `t (k PRIMARY KEY)`.
    async fn table() -> (tempfile::TempDir, Db) {
        crate::sql::tests::sqlite_with("CREATE TABLE t (k TEXT PRIMARY KEY)").await
    }

    fn insert(k: &'static str) -> Statement<'static> {
        Statement::new("INSERT INTO t (k) VALUES ($1)").bind(k)
    }

    fn count(k: &'static str) -> Statement<'static> {
        Statement::new("SELECT COUNT(*) AS n FROM t WHERE k = $1").bind(k)
    }

    async fn keys(db: &Db) -> Vec<String> {
        sqlx::query("SELECT k FROM t ORDER BY k")
            .fetch_all(db.reads())
            .await
            .unwrap()
            .iter()
            .map(|r| r.get("k"))
            .collect()
    }

    /// The first request's reads answer inside the transaction, writes in between are
    /// seen by the last request, and the commit makes everything visible to readers.
    #[tokio::test]
    async fn begins_with_the_first_statements_and_commits_with_the_last() {
        let (_dir, db) = table().await;
        let mut conn = db.pool().acquire().await.unwrap();
        let (mut tx, done) = ScriptedWrite::begin(&mut conn, vec![count("a")])
            .await
            .unwrap();
        assert_eq!(done.len(), 1);
        assert_eq!(done[0].rows[0].get::<i64, _>("n"), 0);
        insert("a").execute(tx.conn()).await.unwrap();
        assert!(keys(&db).await.is_empty(), "visible before the commit");
        let done = tx.commit(vec![insert("b"), count("a")]).await.unwrap();
        assert_eq!(done.len(), 2);
        assert_eq!(done[1].rows[0].get::<i64, _>("n"), 1);
        assert_eq!(keys(&db).await, ["a", "b"]);
        // sqlx's own transactions work on the connection afterwards.
        let mut sqlx_tx = sqlx::Acquire::begin(&mut *conn).await.unwrap();
        insert("c").execute(&mut sqlx_tx).await.unwrap();
        sqlx_tx.commit().await.unwrap();
        assert_eq!(keys(&db).await, ["a", "b", "c"]);
    }

    /// A statement failing in the last request rolls back everything of the transaction
    /// (the commit after it never runs), and the connection is usable again.
    #[tokio::test]
    async fn a_failing_last_request_rolls_everything_back() {
        let (_dir, db) = table().await;
        let mut conn = db.pool().acquire().await.unwrap();
        let (mut tx, _) = ScriptedWrite::begin(&mut conn, vec![]).await.unwrap();
        insert("a").execute(tx.conn()).await.unwrap();
        crate::sql::tests::assert_unique_violation(
            tx.commit(vec![insert("b"), insert("a"), insert("c")]).await,
        );
        assert!(keys(&db).await.is_empty());
        let (tx, _) = ScriptedWrite::begin(&mut conn, vec![]).await.unwrap();
        tx.commit(vec![insert("d")]).await.unwrap();
        assert_eq!(keys(&db).await, ["d"]);
    }

    /// A first request that fails after its `BEGIN` leaves no transaction open, nor does
    /// an explicit rollback.
    #[tokio::test]
    async fn a_failing_first_request_or_a_rollback_leaves_nothing_open() {
        let (_dir, db) = table().await;
        let mut conn = db.pool().acquire().await.unwrap();
        let bad = Statement::new("SELECT nope FROM t");
        assert!(ScriptedWrite::begin(&mut conn, vec![bad]).await.is_err());
        let (mut tx, _) = ScriptedWrite::begin(&mut conn, vec![insert("a")])
            .await
            .unwrap();
        insert("b").execute(tx.conn()).await.unwrap();
        tx.rollback().await.unwrap();
        assert!(keys(&db).await.is_empty());
        let (tx, _) = ScriptedWrite::begin(&mut conn, vec![insert("c")])
            .await
            .unwrap();
        tx.commit(vec![]).await.unwrap();
        assert_eq!(keys(&db).await, ["c"]);
    }

    /// A transaction dropped open closes its connection, so the pool never hands out a
    /// connection inside someone's transaction; its writes are gone.
    #[tokio::test]
    async fn a_dropped_transaction_closes_its_connection() {
        let (_dir, db) = table().await;
        {
            let mut conn = db.pool().acquire().await.unwrap();
            let (mut tx, _) = ScriptedWrite::begin(&mut conn, vec![insert("a")])
                .await
                .unwrap();
            insert("b").execute(tx.conn()).await.unwrap();
        }
        let mut conn = db.pool().acquire().await.unwrap();
        let (tx, _) = ScriptedWrite::begin(&mut conn, vec![insert("c")])
            .await
            .unwrap();
        tx.commit(vec![]).await.unwrap();
        assert_eq!(keys(&db).await, ["c"]);
    }
}
