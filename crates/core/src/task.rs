//! The one periodic-task helper every worker loop runs on (settlement worker, webhook
//! worker, expiry sweeper, indexers, reconciler, relayer, keepers), in the spirit of
//! reth's task manager: a named loop that stops on the shutdown signal, waits for its
//! interval or a wake-up, skips its turn while it does not hold the leader gate, backs off
//! after failures and logs each failure with its task name.

use crate::backoff::Backoff;
use std::fmt::Display;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Notify, oneshot, watch};
use tokio::task::JoinHandle;

/// What a step tells the loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// More work is waiting: run the next step at once.
    Again,
    /// Caught up: wait for the interval or a wake-up.
    Idle,
}

/// Whether this process should do a task's work now (for example: whether it holds the
/// chain side's leader lock). Tasks with a gate skip their turn while it is closed.
pub trait Gate: Send + Sync {
    /// `true` while this process may work.
    fn is_open(&self) -> bool;
}

/// A named periodic task. Build it, then [`Periodic::run`] it with a step function.
#[derive(Clone)]
pub struct Periodic {
    name: &'static str,
    interval: Duration,
    notify: Option<Arc<Notify>>,
    gate: Option<Arc<dyn Gate>>,
    backoff: Backoff,
    settle: Duration,
}

impl std::fmt::Debug for Periodic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Periodic")
            .field("name", &self.name)
            .field("interval", &self.interval)
            .field("gated", &self.gate.is_some())
            .finish_non_exhaustive()
    }
}

impl Periodic {
    /// A task that runs its step every `interval`; after `n` consecutive failures it waits
    /// `interval * 2^n` instead, at most 32 intervals (change with [`Periodic::backoff`]).
    pub fn new(name: &'static str, interval: Duration) -> Periodic {
        Periodic {
            name,
            interval,
            notify: None,
            gate: None,
            backoff: Backoff::new(interval.saturating_mul(2), interval.saturating_mul(32)),
            settle: Duration::ZERO,
        }
    }

    /// Also wakes the task whenever `notify` is notified.
    pub fn notify(mut self, notify: Arc<Notify>) -> Periodic {
        self.notify = Some(notify);
        self
    }

    /// Runs the step only while `gate` is open.
    pub fn gate(mut self, gate: Arc<dyn Gate>) -> Periodic {
        self.gate = Some(gate);
        self
    }

    /// After a wake-up, waits `settle` longer before the step, so the wake-ups of a burst
    /// (one per commit under load) cost one step rather than one each. Steps after
    /// [`Next::Again`] and after the interval run without it.
    pub fn settle(mut self, settle: Duration) -> Periodic {
        self.settle = settle;
        self
    }

    /// The wait after consecutive failures.
    pub fn backoff(mut self, backoff: Backoff) -> Periodic {
        self.backoff = backoff;
        self
    }

    /// The task's name (its `task` log field).
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// Runs `step` until `shutdown` turns true. A step in progress is never cut short: the
    /// signal is seen between steps and during waits.
    pub async fn run<F, Fut, E>(self, mut shutdown: watch::Receiver<bool>, mut step: F)
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<Next, E>>,
        E: Display,
    {
        let mut failures = 0u32;
        tracing::debug!(task = self.name, "task started");
        loop {
            if *shutdown.borrow() {
                break;
            }
            if self.gate.as_ref().is_some_and(|g| !g.is_open()) {
                if self.wait(self.interval, &mut shutdown).await {
                    break;
                }
                continue;
            }
            let pause = match step().await {
                Ok(Next::Again) => {
                    failures = 0;
                    continue;
                }
                Ok(Next::Idle) => {
                    failures = 0;
                    self.interval
                }
                Err(e) => {
                    failures = failures.saturating_add(1);
                    let retry_in = self.backoff.delay(failures);
                    tracing::warn!(task = self.name, error = %e, failures, retry_in_ms = retry_in.as_millis() as u64, "task step failed");
                    retry_in
                }
            };
            if self.wait(pause, &mut shutdown).await {
                break;
            }
        }
        tracing::info!(task = self.name, "task stopped");
    }

    /// Sleeps `pause`, cut short by a wake-up; returns `true` on shutdown.
    async fn wait(&self, pause: Duration, shutdown: &mut watch::Receiver<bool>) -> bool {
        let woken = async {
            match &self.notify {
                Some(n) => n.notified().await,
                None => std::future::pending().await,
            }
        };
        let woken = tokio::select! {
            _ = tokio::time::sleep(pause) => false,
            _ = woken => true,
            _ = shutdown.wait_for(|v| *v) => return true,
        };
        let (Some(notify), true) = (&self.notify, woken && !self.settle.is_zero()) else {
            return false;
        };
        // Wake-ups during the settle time are taken here, so none is left to start
        // another step at once.
        let until = tokio::time::Instant::now() + self.settle;
        loop {
            tokio::select! {
                _ = tokio::time::sleep_until(until) => return false,
                _ = notify.notified() => {}
                _ = shutdown.wait_for(|v| *v) => return true,
            }
        }
    }
}

/// Runs `task` on a thread of its own (named `name`) with a single-threaded runtime, and
/// returns a handle on the caller's runtime that finishes when `task` does.
///
/// For the loops that hold SQLite's one write connection (instruction intake's group
/// commit and the settlement worker): each statement is a round trip to sqlx's connection
/// thread, and a task that shares the runtime's workers with the HTTP handlers waits
/// behind them after every round trip, with the writer held. On a thread of its own it
/// is woken by the operating system at once (bench/api/README.md, "A thread of its own
/// for the writer's loops").
///
/// Fails only when the runtime or the thread cannot be created. A panic in `task` ends
/// the thread; the handle then finishes too, after logging it.
pub fn spawn_on_own_thread<F>(name: &'static str, task: F) -> std::io::Result<JoinHandle<()>>
where
    F: Future<Output = ()> + Send + 'static,
{
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let (done, finished) = oneshot::channel::<()>();
    std::thread::Builder::new()
        .name(name.into())
        .spawn(move || {
            runtime.block_on(task);
            let _ = done.send(());
        })?;
    Ok(tokio::spawn(async move {
        if finished.await.is_err() {
            tracing::error!(
                task = name,
                "the task's thread stopped before the task finished (a panic)"
            );
        }
    }))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

    struct Flag(AtomicBool);
    impl Gate for Flag {
        fn is_open(&self) -> bool {
            self.0.load(Ordering::SeqCst)
        }
    }

    #[tokio::test(start_paused = true)]
    async fn runs_again_at_once_idles_for_the_interval_and_stops_on_shutdown() {
        let (tx, rx) = watch::channel(false);
        let calls = Arc::new(AtomicU32::new(0));
        let c = calls.clone();
        let task = tokio::spawn(
            Periodic::new("t", Duration::from_secs(10)).run(rx, move || {
                let c = c.clone();
                async move {
                    let n = c.fetch_add(1, Ordering::SeqCst);
                    Ok::<_, String>(if n < 2 { Next::Again } else { Next::Idle })
                }
            }),
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert_eq!(
            calls.load(Ordering::SeqCst),
            3,
            "two Again steps, then one Idle"
        );
        tokio::time::sleep(Duration::from_secs(10)).await;
        assert_eq!(
            calls.load(Ordering::SeqCst),
            4,
            "one more after the interval"
        );
        tx.send(true).unwrap();
        task.await.unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn a_wake_up_cuts_the_wait_short_and_a_closed_gate_skips() {
        let (_tx, rx) = watch::channel(false);
        let notify = Arc::new(Notify::new());
        let gate = Arc::new(Flag(AtomicBool::new(false)));
        let calls = Arc::new(AtomicU32::new(0));
        let c = calls.clone();
        let _task = tokio::spawn(
            Periodic::new("t", Duration::from_secs(60))
                .notify(notify.clone())
                .gate(gate.clone())
                .run(rx, move || {
                    let c = c.clone();
                    async move {
                        c.fetch_add(1, Ordering::SeqCst);
                        Ok::<_, String>(Next::Idle)
                    }
                }),
        );
        tokio::time::sleep(Duration::from_secs(61)).await;
        assert_eq!(calls.load(Ordering::SeqCst), 0, "gate closed: no step");
        gate.0.store(true, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_secs(60)).await;
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        notify.notify_one();
        tokio::time::sleep(Duration::from_millis(1)).await;
        assert_eq!(calls.load(Ordering::SeqCst), 2, "woken before the interval");
    }

    #[tokio::test(start_paused = true)]
    async fn wake_ups_within_the_settle_time_cost_one_step() {
        let (_tx, rx) = watch::channel(false);
        let notify = Arc::new(Notify::new());
        let calls = Arc::new(AtomicU32::new(0));
        let c = calls.clone();
        let _task = tokio::spawn(
            Periodic::new("t", Duration::from_secs(60))
                .notify(notify.clone())
                .settle(Duration::from_millis(10))
                .run(rx, move || {
                    let c = c.clone();
                    async move {
                        c.fetch_add(1, Ordering::SeqCst);
                        Ok::<_, String>(Next::Idle)
                    }
                }),
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
        assert_eq!(
            calls.load(Ordering::SeqCst),
            1,
            "the first step runs at once"
        );
        for _ in 0..5 {
            notify.notify_one();
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1, "still settling");
        tokio::time::sleep(Duration::from_millis(10)).await;
        assert_eq!(calls.load(Ordering::SeqCst), 2, "one step for the burst");
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert_eq!(calls.load(Ordering::SeqCst), 2, "no wake-up was left over");
    }

    #[tokio::test(start_paused = true)]
    async fn failures_back_off_exponentially() {
        let (_tx, rx) = watch::channel(false);
        let calls = Arc::new(AtomicU32::new(0));
        let c = calls.clone();
        let _task = tokio::spawn(Periodic::new("t", Duration::from_secs(1)).run(rx, move || {
            let c = c.clone();
            async move {
                c.fetch_add(1, Ordering::SeqCst);
                Err::<Next, _>("down")
            }
        }));
        // Steps at t = 0, 2, 6, 14 (waits of 2, 4, 8 s).
        tokio::time::sleep(Duration::from_millis(13_900)).await;
        assert_eq!(calls.load(Ordering::SeqCst), 3);
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(calls.load(Ordering::SeqCst), 4);
    }
}

#[cfg(test)]
mod own_thread_tests {
    #![allow(clippy::unwrap_used)]
    use super::spawn_on_own_thread;
    use tokio::sync::oneshot;

    #[tokio::test]
    async fn the_task_runs_on_its_named_thread_and_the_handle_waits_for_it() {
        let (tx, rx) = oneshot::channel();
        let (go, wait) = oneshot::channel::<()>();
        let handle = spawn_on_own_thread("lockstep-test-own", async move {
            wait.await.unwrap();
            // Timers work on the thread's runtime.
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            tx.send(std::thread::current().name().map(String::from))
                .unwrap();
        })
        .unwrap();
        assert!(!handle.is_finished(), "finished before its task ran");
        go.send(()).unwrap();
        handle.await.unwrap();
        assert_eq!(rx.await.unwrap().as_deref(), Some("lockstep-test-own"));
        assert_ne!(
            std::thread::current().name(),
            Some("lockstep-test-own"),
            "ran on the caller's thread"
        );
    }

    #[tokio::test]
    async fn a_panicking_task_still_finishes_its_handle() {
        let handle = spawn_on_own_thread("lockstep-test-panic", async {
            panic!("boom");
        })
        .unwrap();
        tokio::time::timeout(std::time::Duration::from_secs(10), handle)
            .await
            .expect("the handle never finished")
            .unwrap();
    }
}
