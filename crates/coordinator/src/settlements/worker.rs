//! The settlement worker: screens new settlements and hands cleared ones to the
//! registrar. Woken by matches and clearances; also polls, so work left by a crash is
//! picked up after a restart.

use super::batch;
use super::context::Lifecycle;
use crate::Result;
use lockstep_core::{Backend, Db, Next, Periodic};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinSet;

/// An error and its causes, `outer: inner: ...`, for one log line.
pub(crate) fn with_causes(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let text = c.to_string();
        if !s.contains(&text) {
            s.push_str(": ");
            s.push_str(&text);
        }
        cur = c.source();
    }
    s
}

/// Runs the worker until `shutdown` turns true (the step in progress finishes).
pub async fn run(lc: Arc<Lifecycle>, shutdown: watch::Receiver<bool>) {
    let every = Duration::from_millis(1_000);
    let stop = shutdown.clone();
    Periodic::new("settlement-worker", every)
        .notify(lc.hook.settlement_wake())
        .backoff(lockstep_core::Backoff::new(every, every))
        .run(shutdown, || {
            let lc = lc.clone();
            let stop = stop.clone();
            async move { step(&lc, &stop).await }
        })
        .await;
}

/// How long a step waits on SQLite before it claims, so one round takes what several
/// intake commits matched: a round costs about the same few statements on the one writer
/// whatever its size (up to [`batch::BATCH`]), so under load fewer, larger rounds leave
/// the writer to intake for longer (bench/api/README.md). Clearance is later by as much.
pub const GATHER: Duration = Duration::from_millis(10);

/// Screening rounds run side by side: one on SQLite (one connection, one writer), four on
/// PostgreSQL (their claims are disjoint; one round at a time cannot keep up with the
/// API's concurrent requests there). `bench/api/report.py` (`ROUNDS`) bounds the backlog
/// it accepts as "keeping pace" by these counts.
fn parallel_rounds(db: &Db) -> usize {
    match db.backend() {
        Backend::Sqlite => 1,
        Backend::Postgres => 4,
    }
}

/// Runs the screening rounds and one registrar round (see [`super::batch`]); runs again at
/// once while a round found a full batch.
async fn step(lc: &Arc<Lifecycle>, stop: &watch::Receiver<bool>) -> Result<Next> {
    let full = |n: usize| i64::try_from(n).is_ok_and(|n| n >= batch::BATCH);
    if lc.db.backend() == Backend::Sqlite {
        tokio::time::sleep(GATHER).await;
    }
    let mut rounds = JoinSet::new();
    for _ in 0..parallel_rounds(&lc.db) {
        let lc = lc.clone();
        rounds.spawn(async move { batch::screening_round(&lc).await });
    }
    let mut again = false;
    let mut failed = None;
    while let Some(done) = rounds.join_next().await {
        match done {
            Ok(Ok(n)) => again |= full(n),
            Ok(Err(e)) => failed = Some(e),
            Err(e) => tracing::error!(error = %e, "a screening round panicked"),
        }
    }
    if let Some(e) = failed {
        return Err(e);
    }
    if *stop.borrow() {
        return Ok(Next::Idle);
    }
    again |= full(batch::registrar_round(lc).await?);
    again |= full(crate::repo::close::due_round(lc).await?);
    if again {
        // Between full batches, let the API's queued requests take the connection
        // first (the pool hands it out in arrival order): intake is never starved.
        tokio::task::yield_now().await;
        return Ok(Next::Again);
    }
    Ok(Next::Idle)
}
