//! What the confirmed logs say about one settlement ([`Progress`]), and the next edge of
//! the state machine they justify. Pure: no I/O.

use crate::store::LogFact;
use lockstep_core::SettlementState as S;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// What the logs say about a settlement.
#[derive(Debug, Default)]
pub struct Progress {
    /// Chains of the terms.
    pub chains: BTreeSet<u64>,
    /// Chains with `SettlementRegistered` for these terms.
    pub registered: BTreeMap<u64, LogFact>,
    /// Deposited legs (`LegDeposited`).
    pub deposited: BTreeMap<usize, LogFact>,
    /// Chains with `SettlementExecuted`.
    pub executed: BTreeMap<u64, LogFact>,
    /// Chains with `SettlementRefunded`.
    pub refunded: BTreeMap<u64, LogFact>,
    /// Number of legs.
    pub legs: usize,
    /// Chains whose confirmed clock is past the terms' `timeoutAt` (filled in by
    /// [`Progress::with_expired`]; only looked at in COMPLIANCE_CLEARED).
    pub expired: BTreeSet<u64>,
}

impl Progress {
    /// Sorts `logs` (of the escrows of `chains`, for terms hashing to `terms_hash`) into
    /// progress facts.
    pub fn from_logs(
        chains: BTreeSet<u64>,
        legs: usize,
        terms_hash: &str,
        logs: &[LogFact],
    ) -> Progress {
        let mut p = Progress {
            chains,
            legs,
            ..Progress::default()
        };
        let same_terms =
            |l: &LogFact| l.fields.get("termsHash").and_then(Value::as_str) == Some(terms_hash);
        for l in logs {
            match l.event.as_str() {
                "SettlementRegistered" if same_terms(l) => {
                    p.registered.entry(l.chain_id).or_insert_with(|| l.clone());
                }
                "SettlementExecuted" if same_terms(l) => {
                    p.executed.entry(l.chain_id).or_insert_with(|| l.clone());
                }
                "SettlementRefunded" if same_terms(l) => {
                    p.refunded.entry(l.chain_id).or_insert_with(|| l.clone());
                }
                "LegDeposited" => {
                    if let Some(i) = l.leg_index().filter(|i| *i < legs) {
                        p.deposited.entry(i).or_insert_with(|| l.clone());
                    }
                }
                _ => {}
            }
        }
        p
    }

    /// Records the chains whose confirmed clock passed the deadline: a chain among them that
    /// has not registered the terms never can (`register` refuses expired terms).
    pub fn with_expired(mut self, expired: BTreeSet<u64>) -> Progress {
        self.expired = expired;
        self
    }

    /// Every chain either refunded, or never registered and now past the deadline: the
    /// settlement was unwound before it could be registered everywhere.
    fn unwound_before_registration(&self) -> bool {
        self.chains.iter().all(|c| {
            self.refunded.contains_key(c)
                || (!self.registered.contains_key(c) && self.expired.contains(c))
        })
    }

    fn all<T>(&self, m: &BTreeMap<u64, T>) -> bool {
        self.chains.iter().all(|c| m.contains_key(c))
    }

    fn list(m: &BTreeMap<u64, LogFact>) -> String {
        m.values()
            .map(LogFact::describe)
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The next edge from `state` the logs justify, with its cause.
    pub fn next(&self, state: S) -> Option<(S, String)> {
        let all_deposited = self.legs > 0 && self.deposited.len() == self.legs;
        match state {
            S::ComplianceCleared if self.all(&self.registered) => Some((
                S::AwaitingDeposits,
                format!("registered: {}", Self::list(&self.registered)),
            )),
            S::ComplianceCleared if self.unwound_before_registration() => Some((
                S::TimedOut,
                format!(
                    "deadline passed before registration on chain(s) {:?}; deposits returned: {}",
                    self.chains
                        .iter()
                        .filter(|c| !self.registered.contains_key(c))
                        .collect::<Vec<_>>(),
                    if self.refunded.is_empty() {
                        "none held".to_string()
                    } else {
                        Self::list(&self.refunded)
                    }
                ),
            )),
            S::AwaitingDeposits if all_deposited => Some((
                S::ExecutingSwap,
                format!(
                    "every leg deposited: {}",
                    self.deposited
                        .iter()
                        .map(|(i, l)| format!("leg {i} {}", l.describe()))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )),
            S::AwaitingDeposits if self.all(&self.refunded) => Some((
                S::TimedOut,
                format!(
                    "deadline passed, deposits returned: {}",
                    Self::list(&self.refunded)
                ),
            )),
            S::ExecutingSwap if self.all(&self.executed) => Some((
                S::Finalized,
                format!("swap executed: {}", Self::list(&self.executed)),
            )),
            S::ExecutingSwap if self.all(&self.refunded) => Some((
                S::RolledBack,
                format!(
                    "hub aborted, deposits returned: {}",
                    Self::list(&self.refunded)
                ),
            )),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    const TH: &str = "0x1111111111111111111111111111111111111111111111111111111111111111";

    fn log(chain_id: u64, block: u64, event: &str, fields: Value) -> LogFact {
        LogFact {
            chain_id,
            block_number: block,
            block_hash: format!("0x{block:064x}"),
            block_timestamp: 1_700_000_000 + block,
            tx_hash: format!("0x{:064x}", block * 1000 + chain_id),
            log_index: 0,
            address: "0x00000000000000000000000000000000000e5c01".into(),
            event: event.into(),
            fields,
        }
    }
    fn reg(chain: u64) -> LogFact {
        log(chain, 1, "SettlementRegistered", json!({"termsHash": TH}))
    }
    fn dep(chain: u64, leg: usize) -> LogFact {
        log(
            chain,
            2,
            "LegDeposited",
            json!({"legIndex": leg.to_string()}),
        )
    }
    fn fin(chain: u64, ev: &str) -> LogFact {
        log(chain, 3, ev, json!({"termsHash": TH}))
    }
    fn walk(logs: &[LogFact]) -> Vec<S> {
        walk_expired(logs, &[])
    }

    #[test]
    fn registration_on_one_chain_is_not_enough() {
        assert_eq!(walk(&[reg(1)]), vec![S::ComplianceCleared]);
        assert_eq!(
            walk(&[reg(1), reg(2)]),
            vec![S::ComplianceCleared, S::AwaitingDeposits]
        );
    }

    #[test]
    fn executed_everywhere_finalizes_through_executing() {
        let logs = [
            reg(1),
            reg(2),
            dep(1, 0),
            dep(2, 1),
            fin(1, "SettlementExecuted"),
        ];
        assert_eq!(
            walk(&logs),
            vec![S::ComplianceCleared, S::AwaitingDeposits, S::ExecutingSwap]
        );
        let mut all = logs.to_vec();
        all.push(fin(2, "SettlementExecuted"));
        assert_eq!(walk(&all).last(), Some(&S::Finalized));
    }

    #[test]
    fn refund_with_a_missing_deposit_times_out() {
        let logs = [
            reg(1),
            reg(2),
            dep(1, 0),
            fin(1, "SettlementRefunded"),
            fin(2, "SettlementRefunded"),
        ];
        assert_eq!(walk(&logs).last(), Some(&S::TimedOut));
        // Only the hub refunded so far: still waiting.
        assert_eq!(walk(&logs[..4]).last(), Some(&S::AwaitingDeposits));
    }

    #[test]
    fn abort_after_every_deposit_rolls_back() {
        let logs = [
            reg(1),
            reg(2),
            dep(1, 0),
            dep(2, 1),
            fin(1, "SettlementRefunded"),
            fin(2, "SettlementRefunded"),
        ];
        assert_eq!(
            walk(&logs),
            vec![
                S::ComplianceCleared,
                S::AwaitingDeposits,
                S::ExecutingSwap,
                S::RolledBack
            ]
        );
    }

    fn walk_expired(logs: &[LogFact], expired: &[u64]) -> Vec<S> {
        let p = Progress::from_logs([1u64, 2].into_iter().collect(), 2, TH, logs)
            .with_expired(expired.iter().copied().collect());
        let mut s = S::ComplianceCleared;
        let mut out = vec![s];
        while let Some((to, _)) = p.next(s) {
            assert!(s.can_transition_to(to), "{s} -> {to} is not an edge");
            s = to;
            out.push(s);
        }
        out
    }

    #[test]
    fn a_chain_expired_before_registration_times_out_once_the_rest_is_refunded() {
        let cc = vec![S::ComplianceCleared];
        let timed_out = vec![S::ComplianceCleared, S::TimedOut];
        // Hub 1 registered and refunded, spoke 2 never registered and past the deadline.
        assert_eq!(
            walk_expired(&[reg(1), fin(1, "SettlementRefunded")], &[2]),
            timed_out
        );
        // Chain 2's clock has not passed the deadline: it could still register.
        assert_eq!(
            walk_expired(&[reg(1), fin(1, "SettlementRefunded")], &[]),
            cc
        );
        // Chain 1 registered but not refunded yet: its deposits are still held.
        assert_eq!(walk_expired(&[reg(1)], &[1, 2]), cc);
        // A registered chain that expired is not enough: it must be refunded.
        assert_eq!(walk_expired(&[reg(1), reg(2)], &[1, 2]), {
            let mut v = cc.clone();
            v.push(S::AwaitingDeposits);
            v
        });
        // Nothing registered anywhere and every clock past the deadline.
        assert_eq!(walk_expired(&[], &[1, 2]), timed_out);
        // Registered everywhere: the usual path, whatever the clocks say.
        assert_eq!(
            walk_expired(
                &[
                    reg(1),
                    reg(2),
                    fin(1, "SettlementRefunded"),
                    fin(2, "SettlementRefunded")
                ],
                &[1, 2]
            ),
            vec![S::ComplianceCleared, S::AwaitingDeposits, S::TimedOut]
        );
    }

    #[test]
    fn events_for_other_terms_and_bad_legs_are_ignored() {
        let other = "0x2222222222222222222222222222222222222222222222222222222222222222";
        let logs = [
            log(1, 1, "SettlementRegistered", json!({"termsHash": other})),
            reg(2),
            dep(1, 7),
        ];
        let p = Progress::from_logs([1u64, 2].into_iter().collect(), 2, TH, &logs);
        assert_eq!(p.registered.len(), 1);
        assert!(p.deposited.is_empty());
    }
}
