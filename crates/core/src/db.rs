//! The database handle every owning crate shares: one sqlx `Any` pool over SQLite
//! (embedded default) or PostgreSQL, selected by the URL. Each crate that owns tables
//! applies its own migrations to it (the coordinator its `migrations/`, the chain side its
//! own); queries are portable: `$n` placeholders (SQLite accepts them too), times as
//! BIGINT milliseconds, JSON as TEXT.

use crate::checkpoint::{self, Checkpointer};
use sqlx::AnyPool;
use sqlx::any::{AnyPoolOptions, install_default_drivers};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// Which server is behind the pool; a few statements differ (row claims, advisory locks).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// SQLite file (one writer: the pool has a single connection).
    Sqlite,
    /// PostgreSQL (several coordinators may share it).
    Postgres,
}

/// Why the database could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// The URL names no supported backend.
    #[error("unsupported database url {0:?}: use sqlite://PATH or postgres://...")]
    UnsupportedUrl(String),
    /// The SQLite file's directory could not be created.
    #[error("cannot create {path}")]
    Io {
        /// The directory.
        path: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// Connecting failed.
    #[error("cannot connect to the database")]
    Connect(#[source] sqlx::Error),
}

/// The database handle shared by the API, the workers and the chain side.
#[derive(Debug, Clone)]
pub struct Db {
    pool: AnyPool,
    reads: AnyPool,
    backend: Backend,
    /// The WAL checkpoints of a SQLite file; stops with the last clone.
    _checkpoints: Option<Arc<Checkpointer>>,
}

/// Read connections beside SQLite's single writer (WAL lets them read while it writes).
const SQLITE_READERS: u32 = 4;

/// The pragmas every SQLite connection gets. WAL + `synchronous = NORMAL`: a commit is
/// durable against a process crash (the WAL is written before the commit returns); only
/// a power loss or OS crash can lose the last commits before a checkpoint's fsync.
///
/// The autocheckpoint is a fallback at [`checkpoint::FALLBACK_PAGES`]: on a file, a task
/// of its own checkpoints off the commit path ([`checkpoint`]).
const SQLITE_PRAGMAS: [&str; 4] = [
    "PRAGMA journal_mode = WAL",
    "PRAGMA synchronous = NORMAL",
    "PRAGMA busy_timeout = 5000",
    "PRAGMA wal_autocheckpoint = 10000",
];

/// A pool of `max` connections to `url`, SQLite ones with [`SQLITE_PRAGMAS`] (and
/// `query_only` when `read_only`).
async fn open_pool(
    url: &str,
    backend: Backend,
    max: u32,
    read_only: bool,
) -> Result<AnyPool, DbError> {
    AnyPoolOptions::new()
        .max_connections(max)
        .acquire_timeout(Duration::from_secs(30))
        // A read connection to a SQLite file cannot go stale (there is no server or
        // network in between), so it is handed out without a `SELECT 1` round trip first;
        // sqlx still tests each connection when it comes back. Every API request reads
        // its token through this pool.
        .test_before_acquire(!(read_only && backend == Backend::Sqlite))
        .after_connect(move |conn, _meta| {
            Box::pin(async move {
                if backend == Backend::Sqlite {
                    for pragma in SQLITE_PRAGMAS {
                        sqlx::query(pragma).execute(&mut *conn).await?;
                    }
                    if read_only {
                        sqlx::query("PRAGMA query_only = ON")
                            .execute(&mut *conn)
                            .await?;
                    }
                }
                Ok(())
            })
        })
        .connect(url)
        .await
        .map_err(DbError::Connect)
}

impl Db {
    /// Connects to `url` (`sqlite://...` or `postgres://...`), creating a SQLite file and
    /// its directory when missing. Applies no migrations: each owning crate does that.
    pub async fn connect(url: &str) -> Result<Db, DbError> {
        install_default_drivers();
        let (backend, url) = normalise(url)?;
        // SQLite has one writer; a single connection avoids busy/snapshot errors when a
        // read transaction upgrades to a write.
        let max = match backend {
            Backend::Sqlite => 1,
            Backend::Postgres => 10,
        };
        let pool = open_pool(&url, backend, max, false).await?;
        // A separate read pool only where it is the same database and reads do not wait
        // for the writer: a SQLite file in WAL. In-memory SQLite and PostgreSQL read
        // through the main pool.
        let file = backend == Backend::Sqlite && !url.contains("memory");
        let reads = if file {
            open_pool(&url, backend, SQLITE_READERS, true).await?
        } else {
            pool.clone()
        };
        let checkpoints = if file {
            let own = open_pool(&url, backend, 1, false).await?;
            Some(Arc::new(checkpoint::spawn(own)))
        } else {
            None
        };
        Ok(Db {
            pool,
            reads,
            backend,
            _checkpoints: checkpoints,
        })
    }

    /// The pool.
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// The pool for standalone reads outside any transaction (token lookups): on a SQLite
    /// file, [`SQLITE_READERS`] `query_only` connections that read the last committed
    /// state without waiting for the single writer; otherwise [`Db::pool`]. Never use it
    /// for a read that a following write depends on.
    pub fn reads(&self) -> &AnyPool {
        &self.reads
    }

    /// The backend.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Whether the database answers.
    pub async fn ping(&self) -> bool {
        sqlx::query("SELECT 1").execute(&self.pool).await.is_ok()
    }
}

/// The backend of `url` and the URL sqlx should open (SQLite: `mode=rwc`, directory made).
fn normalise(url: &str) -> Result<(Backend, String), DbError> {
    if let Some(rest) = url.strip_prefix("sqlite:") {
        let path = rest.trim_start_matches("//");
        let file = path.split('?').next().unwrap_or(path);
        if let Some(parent) = Path::new(file)
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
        {
            std::fs::create_dir_all(parent).map_err(|source| DbError::Io {
                path: parent.display().to_string(),
                source,
            })?;
        }
        let url = if path.contains("mode=") {
            format!("sqlite://{path}")
        } else if path.contains('?') {
            format!("sqlite://{path}&mode=rwc")
        } else {
            format!("sqlite://{path}?mode=rwc")
        };
        Ok((Backend::Sqlite, url))
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok((Backend::Postgres, url.to_string()))
    } else {
        Err(DbError::UnsupportedUrl(url.to_string()))
    }
}

/// The default SQLite URL for a data directory.
pub fn sqlite_url_for(data_dir: &Path) -> String {
    format!("sqlite://{}", data_dir.join("lockstep.db").display())
}

/// A stored name that is not one of its enum's names (a corrupt row).
#[derive(Debug, thiserror::Error)]
#[error("unknown stored {what} {name:?}")]
pub struct UnknownName {
    /// Which enum.
    pub what: &'static str,
    /// The stored text.
    pub name: String,
}

/// Lets rows decode a state column with `#[sqlx(try_from = "String")]`.
impl TryFrom<String> for crate::state::SettlementState {
    type Error = UnknownName;
    fn try_from(name: String) -> Result<Self, UnknownName> {
        Self::parse(&name).ok_or(UnknownName {
            what: "settlement state",
            name,
        })
    }
}

/// Lets rows decode a status column with `#[sqlx(try_from = "String")]`.
impl TryFrom<String> for crate::instruction::InstructionStatus {
    type Error = UnknownName;
    fn try_from(name: String) -> Result<Self, UnknownName> {
        Self::parse(&name).ok_or(UnknownName {
            what: "instruction status",
            name,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// On a SQLite file the read pool is separate, read-only, and sees every commit of the
    /// write connection at once, also while the writer holds an open transaction.
    #[tokio::test]
    async fn sqlite_reads_see_commits_and_refuse_writes() {
        let dir = std::env::temp_dir().join(format!("lockstep-db-{}", std::process::id()));
        let db = Db::connect(&format!("sqlite://{}/t.db", dir.display()))
            .await
            .unwrap();
        sqlx::query("CREATE TABLE t (v BIGINT)")
            .execute(db.pool())
            .await
            .unwrap();
        sqlx::query("INSERT INTO t (v) VALUES (1)")
            .execute(db.pool())
            .await
            .unwrap();
        let mut tx = db.pool().begin().await.unwrap();
        sqlx::query("INSERT INTO t (v) VALUES (2)")
            .execute(&mut *tx)
            .await
            .unwrap();
        // The writer's connection is taken: the read pool answers anyway, with the last
        // committed state.
        let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM t")
            .fetch_one(db.reads())
            .await
            .unwrap();
        assert_eq!(n, 1);
        tx.commit().await.unwrap();
        let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM t")
            .fetch_one(db.reads())
            .await
            .unwrap();
        assert_eq!(n, 2);
        let write = sqlx::query("INSERT INTO t (v) VALUES (3)")
            .execute(db.reads())
            .await;
        assert!(write.is_err(), "the read pool accepted a write");
        // Reads are handed out without a ping; the writer keeps sqlx's default.
        assert!(!db.reads().options().get_test_before_acquire());
        assert!(db.pool().options().get_test_before_acquire());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// The writer's autocheckpoint is the fallback the checkpoint module names.
    #[test]
    fn the_autocheckpoint_is_the_fallback() {
        let pragma = format!("PRAGMA wal_autocheckpoint = {}", checkpoint::FALLBACK_PAGES);
        assert!(SQLITE_PRAGMAS.contains(&pragma.as_str()));
    }

    /// Commits far below the writer's autocheckpoint reach the database file anyway: the
    /// background task checkpoints them (without it they stay in the WAL).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_wal_is_checkpointed_off_the_commit_path() {
        let dir = std::env::temp_dir().join(format!("lockstep-ckpt-{}", std::process::id()));
        let file = dir.join("t.db");
        let db = Db::connect(&format!("sqlite://{}", file.display()))
            .await
            .unwrap();
        sqlx::query("CREATE TABLE t (v TEXT)")
            .execute(db.pool())
            .await
            .unwrap();
        // Wait for the task to have checkpointed the schema, then write ~400 pages.
        tokio::time::sleep(checkpoint::EVERY * 3).await;
        let before = std::fs::metadata(&file).unwrap().len();
        for _ in 0..400 {
            sqlx::query("INSERT INTO t (v) VALUES ($1)")
                .bind("x".repeat(4_000))
                .execute(db.pool())
                .await
                .unwrap();
        }
        let mut grown = 0;
        for _ in 0..50 {
            tokio::time::sleep(checkpoint::EVERY).await;
            grown = std::fs::metadata(&file).unwrap().len() - before;
            if grown >= 400 * 4_000 {
                break;
            }
        }
        assert!(
            grown >= 400 * 4_000,
            "database file grew by {grown} bytes only"
        );
        drop(db);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
