//! Identifiers and times: the prefixed sortable ids the coordinator issues, the on-chain
//! settlement id derived from the trade reference, and the millisecond clock every stored
//! time uses.

use alloy::primitives::{B256, keccak256};

/// Milliseconds since the unix epoch, the unit of every stored time.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// A new sortable identifier with a type prefix, e.g. `ins_01J...` (a ULID after the
/// prefix, so ids sort by creation time).
pub fn new_id(prefix: &str) -> String {
    format!("{prefix}_{}", ulid::Ulid::new())
}

/// The on-chain `settlementId = keccak256(utf8(trade_reference))` (docs/onchain-terms.md).
pub fn onchain_settlement_id(trade_reference: &str) -> B256 {
    keccak256(trade_reference.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_carry_their_prefix_and_sort_by_time() {
        let a = new_id("stl");
        std::thread::sleep(std::time::Duration::from_millis(2));
        let b = new_id("stl");
        assert!(a.starts_with("stl_") && a.len() == 4 + 26, "{a}");
        assert!(a < b);
    }

    #[test]
    fn onchain_id_is_keccak_of_the_reference() {
        assert_eq!(
            onchain_settlement_id(""),
            "0xc5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"
                .parse::<B256>()
                .unwrap_or_default()
        );
    }
}
