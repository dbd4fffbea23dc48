//! Which instance runs the chain side.
//!
//! On SQLite there is one instance by construction, and it always leads. On PostgreSQL,
//! several instances may share the database (docs/coordinator.md); they all serve the API
//! and the webhook and settlement workers, but only the holder of a session-level advisory
//! lock runs the indexers, the reconciler, the relayer and the keeper, so the relayer key is
//! used by one process at a time (its nonces are never raced) and no work is duplicated.
//! The lock is held on a dedicated connection; when that connection dies the lock is
//! released by the server and another instance takes over within a second.
//!
//! [`Leader`] is the `lockstep_core::Gate` of every chain-side task.

use lockstep_core::{Backend, Backoff, Db, Gate, Next, Periodic};
use sqlx::Row;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::sync::{Mutex, watch};

/// The advisory lock key of the chain side (`"lockstep" as an i64`).
pub const LOCK_KEY: i64 = 0x6c6f_636b_7374_6570;

/// How often the lock holder checks its connection and the others try to take the lock.
const ELECTION_EVERY: Duration = Duration::from_secs(1);

/// Whether this instance currently runs the chain side.
#[derive(Debug, Default)]
pub struct Leader {
    flag: AtomicBool,
}

impl Leader {
    /// `true` while this instance holds the chain side.
    pub fn is_leader(&self) -> bool {
        self.flag.load(Ordering::Acquire)
    }

    fn set(&self, v: bool) {
        if self.flag.swap(v, Ordering::AcqRel) != v {
            if v {
                tracing::info!(
                    "this instance now runs the chain side (indexers, reconciler, relayer, keeper)"
                );
            } else {
                tracing::warn!("this instance no longer runs the chain side");
            }
        }
    }
}

impl Gate for Leader {
    fn is_open(&self) -> bool {
        self.is_leader()
    }
}

type Held = Arc<Mutex<Option<sqlx::AnyConnection>>>;

/// Keeps `leader` up to date until shutdown (on SQLite: leads at once and returns).
pub async fn run(leader: Arc<Leader>, db: Db, shutdown: watch::Receiver<bool>) {
    if db.backend() == Backend::Sqlite {
        leader.set(true);
        return;
    }
    let held: Held = Arc::default();
    let (l, h) = (leader.clone(), held.clone());
    Periodic::new("leader-election", ELECTION_EVERY)
        .backoff(Backoff::new(ELECTION_EVERY, ELECTION_EVERY))
        .run(shutdown, move || {
            let (l, h, db) = (l.clone(), h.clone(), db.clone());
            async move {
                elect(&l, &db, &h).await;
                Ok::<_, std::convert::Infallible>(Next::Idle)
            }
        })
        .await;
    leader.set(false);
    // Dropping the connection ends the session and releases the lock.
    drop(held.lock().await.take());
}

/// One election round: keep the lock while its connection answers, otherwise try to take it.
async fn elect(leader: &Leader, db: &Db, held: &Held) {
    let mut held = held.lock().await;
    let alive = match held.as_mut() {
        Some(conn) => sqlx::query("SELECT 1").execute(&mut *conn).await.is_ok(),
        None => false,
    };
    if alive {
        return;
    }
    *held = None;
    leader.set(false);
    match try_lock(db).await {
        Ok(Some(conn)) => {
            *held = Some(conn);
            leader.set(true);
        }
        Ok(None) => {}
        Err(e) => tracing::warn!(error = %e, "advisory lock attempt failed"),
    }
}

async fn try_lock(db: &Db) -> Result<Option<sqlx::AnyConnection>, sqlx::Error> {
    let mut conn = db.pool().acquire().await?.detach();
    let got: bool = sqlx::query("SELECT pg_try_advisory_lock($1) AS got")
        .bind(LOCK_KEY)
        .fetch_one(&mut conn)
        .await?
        .try_get("got")?;
    Ok(got.then_some(conn))
}
