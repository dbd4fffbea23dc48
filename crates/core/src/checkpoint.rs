//! WAL checkpoints of a SQLite file off the commit path.
//!
//! By default SQLite checkpoints inside the commit that takes the WAL past
//! `wal_autocheckpoint` pages (1,000): that commit copies the WAL back into the database
//! file while holding the one writer, and every request queued behind it waits (the mean
//! commit of an intake group took twice its median in `bench/api`). Here a task of its own,
//! on a connection of its own, runs a `PASSIVE` checkpoint every [`EVERY`]: it copies what
//! it can without blocking the writer or the readers, and the WAL restarts from its
//! beginning at the next write after a complete one. The writer keeps an autocheckpoint
//! at [`FALLBACK_PAGES`] as a bound on the WAL's size should this task fall behind.

use sqlx::AnyPool;
use std::time::Duration;
use tokio::task::JoinHandle;

/// How often the task checkpoints.
pub const EVERY: Duration = Duration::from_millis(200);

/// The connections' `wal_autocheckpoint` (pages of 4 KiB, about 40 MB): reached only when
/// the task falls behind.
pub const FALLBACK_PAGES: u32 = 10_000;

/// The running task; dropping it (with the last [`crate::db::Db`] clone) stops it.
#[derive(Debug)]
pub(crate) struct Checkpointer {
    task: JoinHandle<()>,
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Starts checkpointing through `pool` (a connection to the same file that is not
/// `query_only`) every [`EVERY`].
pub(crate) fn spawn(pool: AnyPool) -> Checkpointer {
    let task = tokio::spawn(async move {
        let mut tick = tokio::time::interval(EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
                .fetch_optional(&pool)
                .await
            {
                tracing::warn!(error = %e, "WAL checkpoint failed; the writer's autocheckpoint still bounds the WAL");
            }
        }
    });
    Checkpointer { task }
}
