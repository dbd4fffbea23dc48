//! Which coordinator instance runs the chain side.
//!
//! On SQLite there is one instance by construction, and it always leads. On PostgreSQL,
//! several instances may share the database (docs/coordinator.md); they all serve the API
//! and the webhook and settlement workers, but only the holder of a session-level advisory
//! lock runs the indexers, the reconciler and the relayer, so the relayer key is used by
//! one process at a time (its nonces are never raced) and no work is duplicated. The lock
//! is held on a dedicated connection; when that connection dies the lock is released by
//! the server and another instance takes over within a second.

use lockstep_coordinator::db::Backend;
use lockstep_coordinator::server::Coordinator;
use sqlx::Row;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::sync::watch;

/// The advisory lock key of the chain side (`"lockstep" as an i64`).
pub const LOCK_KEY: i64 = 0x6c6f_636b_7374_6570;

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
                    "this instance now runs the chain side (indexers, reconciler, relayer)"
                );
            } else {
                tracing::warn!("this instance no longer runs the chain side");
            }
        }
    }
}

/// Keeps `leader` up to date until shutdown.
pub async fn run(leader: Arc<Leader>, c: Arc<Coordinator>, mut shutdown: watch::Receiver<bool>) {
    if c.db.backend() == Backend::Sqlite {
        leader.set(true);
        return;
    }
    let mut held: Option<sqlx::AnyConnection> = None;
    loop {
        if *shutdown.borrow() {
            break;
        }
        let alive = match held.as_mut() {
            Some(conn) => sqlx::query("SELECT 1").execute(&mut *conn).await.is_ok(),
            None => false,
        };
        if !alive {
            held = None;
            leader.set(false);
            match try_lock(&c).await {
                Ok(Some(conn)) => {
                    held = Some(conn);
                    leader.set(true);
                }
                Ok(None) => {}
                Err(e) => tracing::warn!(error = %e, "advisory lock attempt failed"),
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            _ = shutdown.wait_for(|v| *v) => break,
        }
    }
    leader.set(false);
    // Dropping the connection ends the session and releases the lock.
    drop(held);
}

async fn try_lock(c: &Coordinator) -> Result<Option<sqlx::AnyConnection>, sqlx::Error> {
    let mut conn = c.db.pool().acquire().await?.detach();
    let got: bool = sqlx::query("SELECT pg_try_advisory_lock($1) AS got")
        .bind(LOCK_KEY)
        .fetch_one(&mut conn)
        .await?
        .try_get("got")?;
    Ok(got.then_some(conn))
}

/// What a chain-side loop does this round.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Turn {
    /// This instance leads: do the round's work.
    Work,
    /// Another instance leads: one `pause` was slept; look again.
    Skip,
    /// Shutdown: leave the loop.
    Stop,
}

impl Leader {
    /// The gate at the top of every chain-side loop: stop on shutdown, work while leading,
    /// otherwise sleep one `pause` (cut short by shutdown).
    pub async fn turn(&self, pause: Duration, shutdown: &mut watch::Receiver<bool>) -> Turn {
        if *shutdown.borrow() {
            return Turn::Stop;
        }
        if self.is_leader() {
            return Turn::Work;
        }
        tokio::select! {
            _ = tokio::time::sleep(pause) => Turn::Skip,
            _ = shutdown.wait_for(|v| *v) => Turn::Stop,
        }
    }
}
