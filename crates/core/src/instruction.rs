//! The lifecycle of one platform's instruction (one side of a trade).

use serde::{Deserialize, Serialize};
use std::fmt;
use utoipa::ToSchema;

/// Where an instruction stands. Stored and serialised in snake case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum InstructionStatus {
    /// Waiting for the counterparty's instruction under the same trade reference.
    PendingMatch,
    /// Matched into a settlement (terminal for the instruction).
    Matched,
    /// Its `expires_at` passed unmatched (terminal).
    Expired,
    /// Cancelled by its platform before matching (terminal).
    Cancelled,
    /// Closed by the coordinator: its trade reference was matched into a settlement by
    /// another instruction, so it can never match (terminal; the platform gets an
    /// `instruction.closed` webhook).
    Closed,
}

impl InstructionStatus {
    /// Every status.
    pub const ALL: [InstructionStatus; 5] = [
        InstructionStatus::PendingMatch,
        InstructionStatus::Matched,
        InstructionStatus::Expired,
        InstructionStatus::Cancelled,
        InstructionStatus::Closed,
    ];

    /// The stored name, e.g. `pending_match`.
    pub fn as_str(self) -> &'static str {
        match self {
            InstructionStatus::PendingMatch => "pending_match",
            InstructionStatus::Matched => "matched",
            InstructionStatus::Expired => "expired",
            InstructionStatus::Cancelled => "cancelled",
            InstructionStatus::Closed => "closed",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<InstructionStatus> {
        Self::ALL.into_iter().find(|st| st.as_str() == s)
    }
}

impl fmt::Display for InstructionStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_through_storage_and_json() {
        for s in InstructionStatus::ALL {
            assert_eq!(InstructionStatus::parse(s.as_str()), Some(s));
            let json = serde_json::to_string(&s).unwrap_or_default();
            assert_eq!(json, format!("\"{}\"", s.as_str()));
        }
        assert_eq!(InstructionStatus::parse("PENDING_MATCH"), None);
    }
}
