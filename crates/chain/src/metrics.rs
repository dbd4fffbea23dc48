//! The chain side's part of `/metrics` ([`ChainMetrics`], a `lockstep_core::MetricsSource`
//! the coordinator appends to its page): the indexed height per chain, the relayer's
//! packets by status, the open packets past the alert threshold (undelivered, blocked behind
//! an earlier nonce) and the keeper's actions. The workers update it as they go; rendering
//! never touches the database.

use crate::store::{PacketBacklog, PacketStatus};
use lockstep_core::MetricsSource;
use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::{Mutex, PoisonError};

/// What the keeper did on chain, one counter each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum KeeperAction {
    /// `refund(terms)` after the deadline.
    Refund,
    /// `resend(terms)` of a deferred message.
    Resend,
}

impl KeeperAction {
    /// The `action` label.
    pub fn as_str(self) -> &'static str {
        match self {
            KeeperAction::Refund => "refund",
            KeeperAction::Resend => "resend",
        }
    }
}

#[derive(Debug, Default)]
struct Values {
    heights: BTreeMap<u64, u64>,
    packets: BTreeMap<PacketStatus, u64>,
    backlog: PacketBacklog,
    balances: BTreeMap<u64, (u128, Option<u128>)>,
    actions: BTreeMap<KeeperAction, u64>,
}

/// The chain side's gauges and counters.
#[derive(Debug, Default)]
pub struct ChainMetrics {
    values: Mutex<Values>,
}

impl ChainMetrics {
    fn with<R>(&self, f: impl FnOnce(&mut Values) -> R) -> R {
        f(&mut self.values.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// The indexer of `chain_id` committed everything up to `block`.
    pub fn set_indexed_height(&self, chain_id: u64, block: u64) {
        self.with(|v| v.heights.insert(chain_id, block));
    }

    /// The packets per status, as last counted by the relayer.
    pub fn set_packet_counts(&self, counts: &[(PacketStatus, u64)]) {
        self.with(|v| v.packets = counts.iter().copied().collect());
    }

    /// The open packets older than the relayer's alert threshold, as last counted.
    pub fn set_packet_backlog(&self, backlog: PacketBacklog) {
        self.with(|v| v.backlog = backlog);
    }

    /// The relayer key's balance on `chain_id` and the configured minimum.
    pub fn set_relayer_balance(&self, chain_id: u64, wei: u128, min: Option<u128>) {
        self.with(|v| v.balances.insert(chain_id, (wei, min)));
    }

    /// The keeper sent one more `action` transaction.
    pub fn count_keeper_action(&self, action: KeeperAction) {
        self.with(|v| *v.actions.entry(action).or_default() += 1);
    }
}

impl MetricsSource for ChainMetrics {
    fn render(&self, out: &mut String) {
        self.with(|v| {
            let _ = writeln!(out, "# HELP lockstep_indexer_block_height Last block the indexer committed, per chain (confirmed: at most head - confirmations).");
            let _ = writeln!(out, "# TYPE lockstep_indexer_block_height gauge");
            for (chain, h) in &v.heights {
                let _ = writeln!(out, "lockstep_indexer_block_height{{chain_id=\"{chain}\"}} {h}");
            }
            let _ = writeln!(out, "# HELP lockstep_lz_packets LayerZero packets the relayer knows, by status.");
            let _ = writeln!(out, "# TYPE lockstep_lz_packets gauge");
            for (st, n) in &v.packets {
                let _ = writeln!(out, "lockstep_lz_packets{{status=\"{st}\"}} {n}");
            }
            let _ = writeln!(out, "# HELP lockstep_lz_packets_undelivered_stale Open packets queued longer than the relayer's alert threshold ago.");
            let _ = writeln!(out, "# TYPE lockstep_lz_packets_undelivered_stale gauge");
            let _ = writeln!(out, "lockstep_lz_packets_undelivered_stale {}", v.backlog.undelivered);
            let _ = writeln!(out, "# HELP lockstep_lz_packets_blocked_stale Open packets waiting for an earlier nonce of their path for longer than the alert threshold.");
            let _ = writeln!(out, "# TYPE lockstep_lz_packets_blocked_stale gauge");
            let _ = writeln!(out, "lockstep_lz_packets_blocked_stale {}", v.backlog.blocked);
            let _ = writeln!(out, "# HELP lockstep_relayer_balance_wei The relayer key's balance, per chain.");
            let _ = writeln!(out, "# TYPE lockstep_relayer_balance_wei gauge");
            for (chain, (wei, _)) in &v.balances {
                let _ = writeln!(out, "lockstep_relayer_balance_wei{{chain_id=\"{chain}\"}} {wei}");
            }
            let _ = writeln!(out, "# HELP lockstep_relayer_balance_below_minimum 1 when the relayer key's balance is below the chain's min_relayer_balance_wei.");
            let _ = writeln!(out, "# TYPE lockstep_relayer_balance_below_minimum gauge");
            for (chain, (wei, min)) in &v.balances {
                let low = u8::from(min.is_some_and(|m| *wei < m));
                let _ = writeln!(out, "lockstep_relayer_balance_below_minimum{{chain_id=\"{chain}\"}} {low}");
            }
            let _ = writeln!(out, "# HELP lockstep_keeper_actions_total Transactions the keeper sent, by action.");
            let _ = writeln!(out, "# TYPE lockstep_keeper_actions_total counter");
            for a in [KeeperAction::Refund, KeeperAction::Resend] {
                let n = v.actions.get(&a).copied().unwrap_or(0);
                let _ = writeln!(out, "lockstep_keeper_actions_total{{action=\"{}\"}} {n}", a.as_str());
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_every_family_with_help_and_type() {
        let m = ChainMetrics::default();
        m.set_indexed_height(31337, 42);
        m.set_packet_counts(&[(PacketStatus::Pending, 2), (PacketStatus::Delivered, 5)]);
        m.set_packet_backlog(PacketBacklog {
            undelivered: 3,
            blocked: 1,
        });
        m.set_relayer_balance(31337, 5, Some(10));
        m.set_relayer_balance(31338, 50, Some(10));
        m.count_keeper_action(KeeperAction::Refund);
        m.count_keeper_action(KeeperAction::Refund);
        let mut out = String::new();
        m.render(&mut out);
        for line in [
            "# TYPE lockstep_indexer_block_height gauge",
            "lockstep_indexer_block_height{chain_id=\"31337\"} 42",
            "# TYPE lockstep_lz_packets gauge",
            "lockstep_lz_packets{status=\"pending\"} 2",
            "lockstep_lz_packets{status=\"delivered\"} 5",
            "lockstep_lz_packets_undelivered_stale 3",
            "lockstep_lz_packets_blocked_stale 1",
            "lockstep_relayer_balance_wei{chain_id=\"31337\"} 5",
            "lockstep_relayer_balance_below_minimum{chain_id=\"31337\"} 1",
            "lockstep_relayer_balance_below_minimum{chain_id=\"31338\"} 0",
            "# TYPE lockstep_keeper_actions_total counter",
            "lockstep_keeper_actions_total{action=\"refund\"} 2",
            "lockstep_keeper_actions_total{action=\"resend\"} 0",
        ] {
            assert!(out.lines().any(|l| l == line), "missing {line:?} in\n{out}");
        }
        assert_eq!(out.matches("# HELP").count(), 7);
    }
}
