//! The escrow's per-chain settlement states (`ISettlementEscrow.State`, the `state` field
//! of `settlementOf(id)`), as the `uint8` values the bindings return.

/// Not registered on this escrow.
pub const NONE: u8 = 0;
/// Registered; deposits may arrive.
pub const OPEN: u8 = 1;
/// Every local leg deposited and locked (a spoke waits for the hub's decision).
pub const LOCKED: u8 = 2;
/// Executed: the legs were released to their recipients.
pub const EXECUTED: u8 = 3;
/// Refunded: the deposits went back to their depositors.
pub const REFUNDED: u8 = 4;

/// The Solidity name of an escrow state (`"?"` for a value the escrow does not define).
pub fn name(state: u8) -> &'static str {
    match state {
        NONE => "NONE",
        OPEN => "OPEN",
        LOCKED => "LOCKED",
        EXECUTED => "EXECUTED",
        REFUNDED => "REFUNDED",
        _ => "?",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_every_state() {
        let names: Vec<_> = [NONE, OPEN, LOCKED, EXECUTED, REFUNDED, 5]
            .into_iter()
            .map(name)
            .collect();
        assert_eq!(
            names,
            ["NONE", "OPEN", "LOCKED", "EXECUTED", "REFUNDED", "?"]
        );
    }
}
