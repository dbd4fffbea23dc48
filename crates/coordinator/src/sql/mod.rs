//! Parameter lists for statements whose row count varies (`IN (...)` lists and multi-row
//! INSERTs), numbered `$n` as both backends take them. Every multi-row write builds its
//! VALUES list here.
//!
//! And [`Statement`]s run as one request ([`run_all`]): on SQLite, whose every request is
//! a hand-off to sqlx's connection thread and back, several statements of a transaction
//! go as one multi-statement query (docs/coordinator.md, "Several statements per
//! hand-off"); on PostgreSQL they run one by one. A SQLite write transaction can also
//! carry its `BEGIN` and `COMMIT` in its first and last requests ([`ScriptedWrite`]).

mod write;

pub(crate) use write::ScriptedWrite;

use futures_util::TryStreamExt;
use sqlx::any::{AnyArguments, AnyRow};
use sqlx::error::BoxDynError;
use sqlx::{Any, AnyConnection, Arguments, Database, Either, Encode, Executor, Sqlite, Type};
use std::borrow::Cow;

/// Adds one bound value to a statement's arguments when it runs.
type Binder<'q> = Box<dyn FnOnce(&mut AnyArguments<'q>) -> Result<(), BoxDynError> + Send + 'q>;

/// One statement and its values, to run alone or with others ([`run_all`]). Its
/// parameters are numbered from `$1` and its text holds no `$` other than in them (no
/// string literals with one): [`run_all`] renumbers them when it joins statements.
pub(crate) struct Statement<'q> {
    sql: Cow<'q, str>,
    binders: Vec<Binder<'q>>,
}

impl<'q> Statement<'q> {
    /// A statement with no values bound yet: its text built for it, or a fixed one
    /// borrowed (not copied).
    pub(crate) fn new(sql: impl Into<Cow<'q, str>>) -> Self {
        Statement {
            sql: sql.into(),
            binders: Vec::new(),
        }
    }

    /// Binds the next parameter, as [`sqlx::query::Query::bind`] does.
    pub(crate) fn bind<T>(mut self, value: T) -> Self
    where
        T: 'q + Send + Encode<'q, Any> + Type<Any>,
    {
        self.binders.push(Box::new(move |args| args.add(value)));
        self
    }

    /// Runs the statement alone on `conn` and returns what it returned.
    pub(crate) async fn execute(self, conn: &mut AnyConnection) -> sqlx::Result<Done> {
        let mut args = AnyArguments::default();
        let sql = self.bind_into(&mut args)?;
        let mut answered = fetch_done(conn, sqlx::query_with(&sql, args)).await?;
        Ok(answered.pop().unwrap_or_default())
    }

    /// Appends the statement's values to `args` and returns its text.
    fn bind_into(self, args: &mut AnyArguments<'q>) -> sqlx::Result<Cow<'q, str>> {
        for bind in self.binders {
            bind(args).map_err(sqlx::Error::Encode)?;
        }
        Ok(self.sql)
    }
}

/// What one statement of a [`run_all`] returned.
#[derive(Default)]
pub(crate) struct Done {
    /// Its rows (`RETURNING` or `SELECT`), in the order the database gave them.
    pub(crate) rows: Vec<AnyRow>,
    /// The rows it inserted, updated or deleted.
    pub(crate) rows_affected: u64,
}

/// Runs `statements` in order on `conn` (inside the caller's transaction) and returns
/// what each returned, in order. On SQLite they go as one multi-statement query, one
/// hand-off to the connection thread for all, their parameters renumbered into one list
/// (sqlx binds `$n` in every statement of a query from the same list); on PostgreSQL,
/// which prepares one statement at a time, one by one. The first failing statement fails
/// the call and the ones after it do not run.
///
/// On SQLite every write runs [`or_fail`]: a failing statement leaves its own earlier
/// rows in place, so the caller must roll back its transaction (or savepoint) on any
/// error, as every caller does.
pub(crate) async fn run_all(
    conn: &mut AnyConnection,
    mut statements: Vec<Statement<'_>>,
) -> sqlx::Result<Vec<Done>> {
    if !is_sqlite(conn) {
        return run_each(conn, statements).await;
    }
    for st in &mut statements {
        if let Cow::Owned(text) = or_fail(&st.sql) {
            st.sql = Cow::Owned(text);
        }
    }
    if statements.len() < 2 {
        return run_each(conn, statements).await;
    }
    let n = statements.len();
    let (sql, args) = joined(statements)?;
    let done = fetch_done(conn, sqlx::query_with(&sql, args)).await?;
    if done.len() != n {
        return Err(sqlx::Error::Protocol(format!(
            "{n} statements sent as one query, {} answered",
            done.len()
        )));
    }
    Ok(done)
}

/// Runs `statements` one by one on `conn`.
async fn run_each(
    conn: &mut AnyConnection,
    statements: Vec<Statement<'_>>,
) -> sqlx::Result<Vec<Done>> {
    let mut done = Vec::with_capacity(statements.len());
    for st in statements {
        done.push(st.execute(conn).await?);
    }
    Ok(done)
}

/// The statements as one query text (`;`-separated, parameters renumbered after the ones
/// before) and one argument list.
fn joined<'q>(statements: Vec<Statement<'q>>) -> sqlx::Result<(String, AnyArguments<'q>)> {
    let mut sql = String::new();
    let mut args = AnyArguments::default();
    for st in statements {
        if !sql.is_empty() {
            sql.push_str(";\n");
        }
        let offset = args.len();
        sql.push_str(&shift_parameters(&st.bind_into(&mut args)?, offset));
    }
    Ok((sql, args))
}

/// Runs `query` and splits what comes back at each statement's end.
async fn fetch_done<'q>(
    conn: &mut AnyConnection,
    query: sqlx::query::Query<'q, Any, AnyArguments<'q>>,
) -> sqlx::Result<Vec<Done>> {
    let mut done = Vec::new();
    let mut rows = Vec::new();
    let mut stream = conn.fetch_many(query);
    while let Some(item) = stream.try_next().await? {
        match item {
            Either::Left(result) => done.push(Done {
                rows: std::mem::take(&mut rows),
                rows_affected: result.rows_affected(),
            }),
            Either::Right(row) => rows.push(row),
        }
    }
    Ok(done)
}

/// Whether `conn` is a SQLite connection.
pub(crate) fn is_sqlite(conn: &AnyConnection) -> bool {
    conn.backend_name() == <Sqlite as Database>::NAME
}

/// A SQLite write's text as `INSERT OR FAIL` / `UPDATE OR FAIL` (anything else as it is),
/// for writes inside a transaction that is rolled back on any error.
///
/// Under SQLite's default conflict resolution (`ABORT`) a failing statement undoes its
/// own earlier rows, so inside a transaction SQLite keeps a statement journal for every
/// write that touches more than one row (a multi-row VALUES list, an UPDATE of several
/// rows, a row and its index entries by REPLACE): a copy of each page the statement
/// changes that the transaction had before it. Under `FAIL` the statement stops at the
/// failing row and keeps what it wrote before, which needs no journal; a caller that
/// rolls back the whole transaction (or savepoint) on any error sees no difference. The
/// error is the same (a unique violation stays one) and the transaction stays open for
/// that rollback. Measured at 8 clients: statement journals took about 4 % of the
/// server's CPU (bench/api/README.md, "Statement journals").
pub(crate) fn or_fail(sql: &str) -> Cow<'_, str> {
    if let Some(rest) = sql.strip_prefix("INSERT INTO ") {
        return Cow::Owned(format!("INSERT OR FAIL INTO {rest}"));
    }
    if let Some(rest) = sql.strip_prefix("UPDATE ") {
        return Cow::Owned(format!("UPDATE OR FAIL {rest}"));
    }
    Cow::Borrowed(sql)
}

/// [`or_fail`] on a SQLite connection, `sql` as it is on PostgreSQL (which has no
/// statement journals and no such clause).
pub(crate) fn or_fail_on<'a>(conn: &AnyConnection, sql: &'a str) -> Cow<'a, str> {
    if is_sqlite(conn) {
        or_fail(sql)
    } else {
        Cow::Borrowed(sql)
    }
}

/// `sql` with every parameter `$n` renumbered `$n+offset`.
fn shift_parameters(sql: &str, offset: usize) -> String {
    if offset == 0 {
        return sql.to_string();
    }
    let mut out = String::with_capacity(sql.len() + 16);
    let mut rest = sql;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        let digits = after.bytes().take_while(u8::is_ascii_digit).count();
        out.push('$');
        match after[..digits].parse::<usize>() {
            Ok(n) => out.push_str(&(n + offset).to_string()),
            Err(_) => out.push_str(&after[..digits]),
        }
        rest = &after[digits..];
    }
    out.push_str(rest);
    out
}

/// `$1, $2, ..., $n`: the parameters of an `IN (...)` list.
pub(crate) fn placeholders(n: usize) -> String {
    placeholders_after(0, n)
}

/// `$o+1, ..., $o+n`.
fn placeholders_after(o: usize, n: usize) -> String {
    (o + 1..=o + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The VALUES list of a multi-row INSERT: `rows` rows of `width` parameters each,
/// numbered from `$1` row by row (`($1, $2), ($3, $4)` for 2 rows of 2).
pub(crate) fn value_rows(rows: usize, width: usize) -> String {
    value_rows_after(0, rows, width, "")
}

/// Like [`value_rows`], numbered from `$first+1` (the parameters up to `$first` being
/// shared by every row), each row ending with `tail`: shared parameters or constants.
/// `value_rows_after(1, 2, 2, ", $1")` is `($2, $3, $1), ($4, $5, $1)`.
pub(crate) fn value_rows_after(first: usize, rows: usize, width: usize, tail: &str) -> String {
    (0..rows)
        .map(|i| format!("({}{tail})", placeholders_after(first + width * i, width)))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
pub(crate) mod tests {
    use super::*;
    use lockstep_core::Db;
    use sqlx::{Connection, Row};

    #[test]
    fn joined_statements_number_their_parameters_after_the_ones_before() {
        assert_eq!(
            shift_parameters("UPDATE t SET v = $1 WHERE k IN ($2, $12)", 3),
            "UPDATE t SET v = $4 WHERE k IN ($5, $15)"
        );
        assert_eq!(
            shift_parameters("SELECT $ || $x, $2", 1),
            "SELECT $ || $x, $3"
        );
        assert_eq!(shift_parameters("SELECT $1", 0), "SELECT $1");
    }

    /// The script the two tests below run: rows inserted, an update returning its row, an
    /// update that finds nothing, a read of everything.
    fn script() -> Vec<Statement<'static>> {
        vec![
            Statement::new(format!("INSERT INTO t (k, v) VALUES {}", value_rows(2, 2)))
                .bind("a")
                .bind(1_i64)
                .bind("b")
                .bind(2_i64),
            Statement::new("UPDATE t SET v = v + $1 WHERE k = $2 RETURNING k, v")
                .bind(10_i64)
                .bind("b"),
            Statement::new("UPDATE t SET v = $1 WHERE k = $2")
                .bind(5_i64)
                .bind("none"),
            Statement::new("SELECT k, v FROM t WHERE v >= $1 ORDER BY k").bind(1_i64),
        ]
    }

    /// A SQLite file (with the service's settings) holding one table, made by `create`.
    pub(super) async fn sqlite_with(create: &str) -> (tempfile::TempDir, Db) {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::connect(&format!("sqlite://{}/t.db", dir.path().display()))
            .await
            .unwrap();
        sqlx::query(create).execute(db.pool()).await.unwrap();
        (dir, db)
    }

    /// Fails unless `result` is a unique violation, as the database reported it.
    pub(super) fn assert_unique_violation<T>(result: sqlx::Result<T>) {
        match result {
            Err(sqlx::Error::Database(e)) => assert!(e.is_unique_violation(), "{e}"),
            Err(e) => panic!("not a database error: {e}"),
            Ok(_) => panic!("no error"),
        }
    }

    /// A SQLite file with the table `t (k, v)` the scripts write.
    async fn table() -> (tempfile::TempDir, Db) {
        sqlite_with("CREATE TABLE t (k TEXT PRIMARY KEY, v BIGINT NOT NULL)").await
    }

    /// The keys in `t`, in order.
    async fn keys(conn: &mut AnyConnection) -> Vec<String> {
        sqlx::query("SELECT k FROM t ORDER BY k")
            .fetch_all(conn)
            .await
            .unwrap()
            .iter()
            .map(|r| r.get("k"))
            .collect()
    }

    fn pairs(rows: &[AnyRow]) -> Vec<(String, i64)> {
        rows.iter()
            .map(|r| (r.get::<String, _>("k"), r.get::<i64, _>("v")))
            .collect()
    }

    /// Sent as one query on SQLite or one by one, a script binds each statement's own
    /// values and answers for each statement, in order.
    #[tokio::test]
    async fn statements_sent_as_one_answer_as_they_do_one_by_one() {
        let (_dir, db) = table().await;
        let mut conn = db.pool().acquire().await.unwrap();
        for together in [true, false] {
            sqlx::query("DELETE FROM t")
                .execute(&mut *conn)
                .await
                .unwrap();
            let done = if together {
                run_all(&mut conn, script()).await
            } else {
                run_each(&mut conn, script()).await
            }
            .unwrap();
            assert_eq!(done.len(), 4, "together: {together}");
            assert_eq!(done[0].rows_affected, 2);
            assert!(done[0].rows.is_empty());
            assert_eq!(done[1].rows_affected, 1);
            assert_eq!(pairs(&done[1].rows), [("b".to_string(), 12)]);
            assert_eq!(done[2].rows_affected, 0);
            assert!(done[2].rows.is_empty());
            assert_eq!(
                pairs(&done[3].rows),
                [("a".to_string(), 1), ("b".to_string(), 12)]
            );
        }
    }

    /// A failing statement fails the whole request with its own error (a unique violation
    /// stays one), and the statements after it do not run.
    #[tokio::test]
    async fn a_failing_statement_stops_the_ones_after_it() {
        let (_dir, db) = table().await;
        let mut conn = db.pool().acquire().await.unwrap();
        let insert = |k: &'static str| {
            Statement::new("INSERT INTO t (k, v) VALUES ($1, $2)")
                .bind(k)
                .bind(1_i64)
        };
        assert_unique_violation(
            run_all(&mut conn, vec![insert("a"), insert("a"), insert("c")]).await,
        );
        assert_eq!(keys(&mut conn).await, ["a"]);
    }

    #[test]
    fn writes_run_or_fail_and_nothing_else_changes() {
        assert_eq!(
            or_fail("INSERT INTO t (k, v) VALUES ($1, $2)"),
            "INSERT OR FAIL INTO t (k, v) VALUES ($1, $2)"
        );
        assert_eq!(
            or_fail("UPDATE t SET v = $1 WHERE k IN ($2, $3)"),
            "UPDATE OR FAIL t SET v = $1 WHERE k IN ($2, $3)"
        );
        for kept in [
            "SELECT k FROM t WHERE k = 'UPDATE '",
            "DELETE FROM t",
            "BEGIN IMMEDIATE",
            "WITH r(k) AS (VALUES ($1)) SELECT k FROM r",
        ] {
            assert!(
                matches!(or_fail(kept), Cow::Borrowed(s) if s == kept),
                "{kept}"
            );
        }
    }

    /// Inside a transaction, a multi-row write that fails part way (run OR FAIL, so it
    /// keeps the rows before the failing one) still fails with its own error and leaves the
    /// transaction open, and the rollback takes every row of it away.
    #[tokio::test]
    async fn a_failing_multi_row_write_is_undone_by_the_rollback() {
        let (_dir, db) = table().await;
        let mut conn = db.pool().acquire().await.unwrap();
        sqlx::query("INSERT INTO t (k, v) VALUES ('b', 0)")
            .execute(&mut *conn)
            .await
            .unwrap();
        let mut tx = conn.begin().await.unwrap();
        let ok = Statement::new("UPDATE t SET v = $1 WHERE k = $2")
            .bind(1_i64)
            .bind("b");
        let rows = Statement::new("INSERT INTO t (k, v) VALUES ($1, $2), ($3, $4), ($5, $6)")
            .bind("a")
            .bind(1_i64)
            .bind("b")
            .bind(2_i64)
            .bind("c")
            .bind(3_i64);
        assert_unique_violation(run_all(&mut tx, vec![ok, rows]).await);
        // Under FAIL the row before the failing one is still there, until the rollback.
        assert_eq!(keys(&mut tx).await, ["a", "b"]);
        tx.rollback().await.unwrap();
        let after: Vec<(String, i64)> = pairs(
            &sqlx::query("SELECT k, v FROM t ORDER BY k")
                .fetch_all(&mut *conn)
                .await
                .unwrap(),
        );
        assert_eq!(after, [("b".to_string(), 0)]);
    }

    #[test]
    fn lists_are_numbered_row_by_row_after_the_shared_parameters() {
        assert_eq!(placeholders(3), "$1, $2, $3");
        assert_eq!(value_rows(2, 2), "($1, $2), ($3, $4)");
        assert_eq!(
            value_rows_after(1, 2, 2, ", $1"),
            "($2, $3, $1), ($4, $5, $1)"
        );
        assert_eq!(
            value_rows_after(2, 1, 4, ", $1, 0, $2"),
            "($3, $4, $5, $6, $1, 0, $2)"
        );
    }
}
