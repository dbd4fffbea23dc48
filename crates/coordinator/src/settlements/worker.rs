//! The settlement worker: screens new settlements and hands cleared ones to the
//! registrar. Woken by matches and clearances; also polls, so work left by a crash is
//! picked up after a restart.

use super::context::Lifecycle;
use super::screening::process;
use super::store;
use crate::{Error, Result};
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

/// Runs the next step of every settlement that has one; a failed settlement is logged and
/// retried on a later round.
async fn step(lc: &Lifecycle, stop: &watch::Receiver<bool>) -> Result<Next> {
    for id in store::pending_work(&lc.db, lc.registrar.is_some()).await? {
        match process(lc, &id).await {
            // A registration failure was already counted and logged with its cause.
            Ok(()) | Err(Error::ConcurrentTransition { .. } | Error::Registration(_)) => {}
            Err(e) => {
                tracing::warn!(settlement_id = id, error = %with_causes(&e), "settlement step failed; will retry")
            }
        }
        if *stop.borrow() {
            break;
        }
    }
    Ok(Next::Idle)
}
