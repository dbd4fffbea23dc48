//! The settlement worker: screens new settlements and hands cleared ones to the
//! registrar. Woken by matches and clearances; also polls, so work left by a crash is
//! picked up after a restart.

use super::batch;
use super::context::Lifecycle;
use crate::Result;
use lockstep_core::{Next, Periodic};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

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

/// Runs one screening round and one registrar round (see [`super::batch`]); runs again at
/// once while a round found a full batch.
async fn step(lc: &Lifecycle, stop: &watch::Receiver<bool>) -> Result<Next> {
    let screened = batch::screening_round(lc).await?;
    if *stop.borrow() {
        return Ok(Next::Idle);
    }
    let registered = batch::registrar_round(lc).await?;
    let full = |n: usize| i64::try_from(n).is_ok_and(|n| n >= batch::BATCH);
    Ok(if full(screened) || full(registered) {
        Next::Again
    } else {
        Next::Idle
    })
}
