//! Field validation: quantities (decimal strings of base units, uint256) and addresses.

use alloy::primitives::{Address, U256};

/// Parses a quantity: a non-empty decimal string of digits, no sign, no leading zero,
/// no fraction or exponent, greater than zero and at most `2^256 - 1`. Never a float.
pub fn parse_quantity(s: &str) -> Result<U256, String> {
    if s.is_empty() {
        return Err("quantity must not be empty".into());
    }
    if !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err("quantity must be a decimal string of base units (digits only)".into());
    }
    if s.len() > 1 && s.starts_with('0') {
        return Err("quantity must not have leading zeros".into());
    }
    let v = U256::from_str_radix(s, 10)
        .map_err(|_| "quantity exceeds the uint256 range".to_string())?;
    if v.is_zero() {
        return Err("quantity must be greater than zero".into());
    }
    Ok(v)
}

/// Parses an EVM address: `0x` + 40 hex digits; mixed case must carry a valid EIP-55
/// checksum; the zero address is refused.
pub fn parse_address(s: &str) -> Result<Address, String> {
    let Some(hex) = s.strip_prefix("0x") else {
        return Err("address must start with 0x".into());
    };
    if hex.len() != 40 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err("address must be 0x followed by 40 hex digits".into());
    }
    let has_lower = hex.bytes().any(|b| b.is_ascii_lowercase());
    let has_upper = hex.bytes().any(|b| b.is_ascii_uppercase());
    let addr = if has_lower && has_upper {
        Address::parse_checksummed(s, None)
            .map_err(|_| "address has an invalid EIP-55 checksum".to_string())?
    } else {
        s.parse::<Address>()
            .map_err(|e| format!("invalid address: {e}"))?
    };
    if addr.is_zero() {
        return Err("address must not be the zero address".into());
    }
    Ok(addr)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn quantities() {
        assert_eq!(parse_quantity("1").unwrap(), U256::from(1));
        assert_eq!(
            parse_quantity("1000000000000000000").unwrap(),
            U256::from(10u128.pow(18))
        );
        let max = U256::MAX.to_string();
        assert_eq!(parse_quantity(&max).unwrap(), U256::MAX);
        // 2^256 is one past the range.
        assert!(
            parse_quantity(
                "115792089237316195423570985008687907853269984665640564039457584007913129639936"
            )
            .is_err()
        );
        for bad in ["", "0", "01", "-1", "+1", "1.5", "1e18", " 1", "0x10", "١"] {
            assert!(parse_quantity(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn addresses() {
        let checksummed = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed";
        assert!(parse_address(checksummed).is_ok());
        assert!(parse_address(&checksummed.to_lowercase()).is_ok());
        assert!(parse_address("0x5AAEB6053F3E94C9B9A09F33669435E7EF1BEAED").is_ok());
        // One letter's case flipped: the checksum fails.
        assert!(parse_address("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD").is_err());
        for bad in [
            "",
            "5aaeb6053f3e94c9b9a09f33669435e7ef1beaed",
            "0x5aae",
            "0xzzaeb6053f3e94c9b9a09f33669435e7ef1beaed",
            "0x0000000000000000000000000000000000000000",
        ] {
            assert!(parse_address(bad).is_err(), "{bad:?} accepted");
        }
    }
}
