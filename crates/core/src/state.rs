//! The settlement state machine: the one table of allowed edges, shared by the coordinator
//! (which guards every write with it) and the chain side (which derives the next edge from
//! the escrows' logs).

use serde::{Deserialize, Serialize};
use std::fmt;
use utoipa::ToSchema;

/// A settlement's state (coordinator.md).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SettlementState {
    /// Both sides matched; nothing screened yet.
    Instructed,
    /// Screening runs, or a flagged party waits for a manual decision.
    ComplianceChecking,
    /// Screening passed; terms and attestations are ready for registration.
    ComplianceCleared,
    /// Registered on every chain; waiting for the deposits.
    AwaitingDeposits,
    /// All deposits locked; the hub is executing.
    ExecutingSwap,
    /// Executed on every chain (terminal).
    Finalized,
    /// Rejected by compliance, or aborted by the hub with deposits returned (terminal).
    RolledBack,
    /// The deadline passed before execution; deposits returned (terminal). Reached from
    /// AWAITING_DEPOSITS, or from COMPLIANCE_CLEARED when some chain's clock passed the
    /// deadline before the settlement could be registered there.
    TimedOut,
}

use SettlementState::*;

/// Every allowed edge. The coordinator's guarded transition refuses any other.
pub const TRANSITIONS: &[(SettlementState, SettlementState)] = &[
    (Instructed, ComplianceChecking),
    (ComplianceChecking, ComplianceCleared),
    (ComplianceChecking, RolledBack),
    (ComplianceCleared, AwaitingDeposits),
    (ComplianceCleared, TimedOut),
    (AwaitingDeposits, ExecutingSwap),
    (AwaitingDeposits, TimedOut),
    (ExecutingSwap, Finalized),
    (ExecutingSwap, RolledBack),
];

impl SettlementState {
    /// Every state, in lifecycle order.
    pub const ALL: [SettlementState; 8] = [
        Instructed,
        ComplianceChecking,
        ComplianceCleared,
        AwaitingDeposits,
        ExecutingSwap,
        Finalized,
        RolledBack,
        TimedOut,
    ];

    /// Whether the edge `self -> to` is in [`TRANSITIONS`].
    pub fn can_transition_to(self, to: SettlementState) -> bool {
        TRANSITIONS.contains(&(self, to))
    }

    /// Terminal states have no outgoing edge.
    pub fn is_terminal(self) -> bool {
        !TRANSITIONS.iter().any(|(from, _)| *from == self)
    }

    /// The stored and serialised name, e.g. `COMPLIANCE_CHECKING`.
    pub fn as_str(self) -> &'static str {
        match self {
            Instructed => "INSTRUCTED",
            ComplianceChecking => "COMPLIANCE_CHECKING",
            ComplianceCleared => "COMPLIANCE_CLEARED",
            AwaitingDeposits => "AWAITING_DEPOSITS",
            ExecutingSwap => "EXECUTING_SWAP",
            Finalized => "FINALIZED",
            RolledBack => "ROLLED_BACK",
            TimedOut => "TIMED_OUT",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<SettlementState> {
        Self::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// The webhook event name for entering this state, e.g. `settlement.state.compliance_cleared`.
    pub fn event_name(self) -> String {
        format!("settlement.state.{}", self.as_str().to_ascii_lowercase())
    }
}

impl fmt::Display for SettlementState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_listed_edge_is_allowed_and_every_other_refused() {
        let allowed = [
            ("INSTRUCTED", "COMPLIANCE_CHECKING"),
            ("COMPLIANCE_CHECKING", "COMPLIANCE_CLEARED"),
            ("COMPLIANCE_CHECKING", "ROLLED_BACK"),
            ("COMPLIANCE_CLEARED", "AWAITING_DEPOSITS"),
            ("COMPLIANCE_CLEARED", "TIMED_OUT"),
            ("AWAITING_DEPOSITS", "EXECUTING_SWAP"),
            ("AWAITING_DEPOSITS", "TIMED_OUT"),
            ("EXECUTING_SWAP", "FINALIZED"),
            ("EXECUTING_SWAP", "ROLLED_BACK"),
        ];
        let mut count = 0;
        for from in SettlementState::ALL {
            for to in SettlementState::ALL {
                let expected = allowed.contains(&(from.as_str(), to.as_str()));
                assert_eq!(from.can_transition_to(to), expected, "{from} -> {to}");
                count += usize::from(expected);
            }
        }
        assert_eq!(count, allowed.len());
    }

    #[test]
    fn terminal_states() {
        let terminal: Vec<_> = SettlementState::ALL
            .into_iter()
            .filter(|s| s.is_terminal())
            .collect();
        assert_eq!(terminal, vec![Finalized, RolledBack, TimedOut]);
    }

    #[test]
    fn names_round_trip() {
        for s in SettlementState::ALL {
            assert_eq!(SettlementState::parse(s.as_str()), Some(s));
            let json = serde_json::to_string(&s).unwrap_or_default();
            assert_eq!(json, format!("\"{}\"", s.as_str()));
        }
        assert_eq!(SettlementState::parse("instructed"), None);
        assert_eq!(
            ComplianceCleared.event_name(),
            "settlement.state.compliance_cleared"
        );
    }
}
