//! Wake-ups between the chain side's loops, so a confirmed log moves through indexer ->
//! reconciler / relayer ingest -> delivery at once instead of waiting for each loop's own
//! interval (each stage used to add up to a full `poll_interval_ms`).
//!
//! Every wake is a [`Notify`] with one listener, woken with `notify_one`: a wake-up that
//! arrives while its loop is busy is kept (one permit) and ends the loop's next wait at
//! once, so none is lost. The loops keep their intervals as well; a wake only shortens a
//! wait, so a missed or spurious one changes nothing but timing.

use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::Notify;

/// The wake-ups of one chain side (cheap to clone; clones share the signals).
#[derive(Debug, Clone, Default)]
pub struct Wakes {
    reconciler: Arc<Notify>,
    ingest: Arc<Notify>,
    deliveries: Arc<HashMap<u32, Arc<Notify>>>,
}

impl Wakes {
    /// The wake-ups for a chain side whose destinations are the endpoint ids `eids`.
    pub fn new(eids: impl IntoIterator<Item = u32>) -> Wakes {
        Wakes {
            reconciler: Arc::default(),
            ingest: Arc::default(),
            deliveries: Arc::new(eids.into_iter().map(|e| (e, Arc::default())).collect()),
        }
    }

    /// An indexer stored new logs: the reconciler and the relayer's ingest run now.
    pub fn logs_indexed(&self) {
        self.reconciler.notify_one();
        self.ingest.notify_one();
    }

    /// A packet bound for `dst_eid` was queued or became deliverable: that chain's
    /// delivery loop runs now (no-op for an unconfigured destination).
    pub fn packet_due(&self, dst_eid: u32) {
        if let Some(n) = self.deliveries.get(&dst_eid) {
            n.notify_one();
        }
    }

    /// What wakes the reconciler.
    pub fn reconciler(&self) -> Arc<Notify> {
        self.reconciler.clone()
    }

    /// What wakes the relayer's ingest loop.
    pub fn ingest(&self) -> Arc<Notify> {
        self.ingest.clone()
    }

    /// What wakes the delivery loop of destination `dst_eid` (a fresh, never-notified one
    /// for an eid this side was not built with).
    pub fn delivery(&self, dst_eid: u32) -> Arc<Notify> {
        self.deliveries.get(&dst_eid).cloned().unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    async fn woken(n: &Notify) -> bool {
        tokio::time::timeout(Duration::from_millis(200), n.notified())
            .await
            .is_ok()
    }

    #[tokio::test]
    async fn a_wake_sent_while_the_loop_is_busy_is_kept_for_its_next_wait() {
        let w = Wakes::new([40161, 40162]);
        let (rec, ing, a, b) = (
            w.reconciler(),
            w.ingest(),
            w.delivery(40161),
            w.delivery(40162),
        );
        assert!(!woken(&rec).await, "nothing was notified yet");
        w.logs_indexed();
        assert!(woken(&rec).await && woken(&ing).await);
        assert!(!woken(&rec).await, "one permit, consumed");
        w.packet_due(40162);
        w.packet_due(40999);
        assert!(woken(&b).await);
        assert!(!woken(&a).await, "only the destination's loop is woken");
    }
}
