//! Field validation: quantities (decimal strings of base units, uint256), addresses,
//! JSON-safe integers and the character rules of free-text fields.

use alloy::primitives::{Address, U256};
use icu_normalizer::ComposingNormalizerBorrowed;
use icu_properties::CodePointMapData;
use icu_properties::props::{GeneralCategory, Script};

/// The largest integer a JSON number carries exactly everywhere (2^53 - 1): integer
/// fields (chain ids) above it are refused, as the canonical JSON of a request (its
/// idempotency hash, the evidence) cannot represent them.
pub const MAX_JSON_INTEGER: u64 = (1 << 53) - 1;

/// The most digits a uint256 has (2^256 - 1 has 78).
const MAX_QUANTITY_DIGITS: usize = 78;

/// Refuses integers a JSON number cannot carry exactly (above 2^53 - 1).
pub fn check_json_integer(v: u64) -> Result<(), String> {
    if v > MAX_JSON_INTEGER {
        return Err(format!(
            "must be an integer from 0 to 2^53 - 1 ({MAX_JSON_INTEGER})"
        ));
    }
    Ok(())
}

/// Checks a free-text field (names, references, keys): 1 to `max_chars` characters, not
/// blank, in Unicode NFC, without control, format (zero-width, bidi override, BOM),
/// line/paragraph separator, private-use or unassigned characters, and without a word
/// that mixes Latin, Greek and Cyrillic letters (homoglyphs such as a Cyrillic "а" in a
/// Latin name). The message names the offending character by code point, never echoes
/// the value.
pub fn check_text(s: &str, max_chars: usize) -> Result<(), String> {
    let len = s.chars().count();
    if len > max_chars {
        return Err(format!(
            "must be at most {max_chars} characters (got {len})"
        ));
    }
    if s.trim().is_empty() {
        return Err("must not be empty or blank".into());
    }
    let categories = CodePointMapData::<GeneralCategory>::new();
    for (i, c) in s.chars().enumerate() {
        let what = match categories.get(c) {
            GeneralCategory::Control => "a control character",
            GeneralCategory::Format => "an invisible format character (zero-width, bidi control)",
            GeneralCategory::LineSeparator | GeneralCategory::ParagraphSeparator => {
                "a line or paragraph separator"
            }
            GeneralCategory::PrivateUse => "a private-use character",
            GeneralCategory::Unassigned | GeneralCategory::Surrogate => "an unassigned code point",
            _ => continue,
        };
        return Err(format!(
            "must not contain {what}: U+{:04X} at character {i}",
            u32::from(c)
        ));
    }
    if !ComposingNormalizerBorrowed::new_nfc().is_normalized(s) {
        return Err("must be in Unicode normalization form C (NFC)".into());
    }
    mixed_script_word(s)
}

/// Refuses a word (a run of letters, marks and digits) whose letters come from more
/// than one of Latin, Greek and Cyrillic.
fn mixed_script_word(s: &str) -> Result<(), String> {
    let categories = CodePointMapData::<GeneralCategory>::new();
    let scripts = CodePointMapData::<Script>::new();
    let confusable = [Script::Latin, Script::Greek, Script::Cyrillic];
    let mut seen: Vec<Script> = Vec::new();
    for c in s.chars() {
        let in_word = matches!(
            categories.get(c),
            GeneralCategory::UppercaseLetter
                | GeneralCategory::LowercaseLetter
                | GeneralCategory::TitlecaseLetter
                | GeneralCategory::ModifierLetter
                | GeneralCategory::OtherLetter
                | GeneralCategory::NonspacingMark
                | GeneralCategory::SpacingMark
                | GeneralCategory::EnclosingMark
                | GeneralCategory::DecimalNumber
        );
        if !in_word {
            seen.clear();
            continue;
        }
        let script = scripts.get(c);
        if confusable.contains(&script) && !seen.contains(&script) {
            seen.push(script);
            if seen.len() > 1 {
                return Err(format!(
                    "must not mix Latin, Greek and Cyrillic letters in one word (U+{:04X})",
                    u32::from(c)
                ));
            }
        }
    }
    Ok(())
}

/// Parses a quantity: a non-empty decimal string of digits, no sign, no leading zero,
/// no fraction or exponent, greater than zero and at most `2^256 - 1`. Never a float.
pub fn parse_quantity(s: &str) -> Result<U256, String> {
    if s.is_empty() {
        return Err("quantity must not be empty".into());
    }
    if s.len() > MAX_QUANTITY_DIGITS {
        return Err(format!(
            "quantity must be at most {MAX_QUANTITY_DIGITS} digits (uint256)"
        ));
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
    fn text_rules() {
        for ok in [
            "Alpha Securities AG",
            "Müller & Söhne GmbH",
            "Αλφα Alpha",
            "Иванов Ivanov",
            "株式会社 Alpha",
            "order-2024/07#1",
        ] {
            assert_eq!(check_text(ok, 200), Ok(()), "{ok:?}");
        }
        let bad = [
            ("", "empty"),
            ("   ", "blank"),
            ("Alpha\0AG", "control"),
            ("Alpha\u{7}", "control"),
            ("Al\u{200B}pha", "format"),
            ("Alpha\u{202E}GA", "format"),
            ("\u{FEFF}Alpha", "format"),
            ("Alpha\u{2028}AG", "separator"),
            ("Alpha\u{E000}", "private-use"),
            ("Alpha\u{378}", "unassigned"),
            ("Mu\u{308}ller", "NFC"),
            ("\u{410}lpha", "mix Latin"),
            ("Alph\u{3B1}", "mix Latin"),
            ("Alpha B\u{435}ta", "mix Latin"),
        ];
        for (s, why) in bad {
            let e = check_text(s, 200).unwrap_err();
            assert!(e.contains(why), "{s:?}: {e}");
        }
        assert!(
            check_text(&"a".repeat(201), 200)
                .unwrap_err()
                .contains("at most 200")
        );
        assert_eq!(check_text(&"ä".repeat(200), 200), Ok(()));
    }

    #[test]
    fn json_integers() {
        assert_eq!(check_json_integer(MAX_JSON_INTEGER), Ok(()));
        assert!(check_json_integer(MAX_JSON_INTEGER + 1).is_err());
        assert!(check_json_integer(u64::MAX).is_err());
        assert!(
            parse_quantity(&"9".repeat(79))
                .unwrap_err()
                .contains("78 digits")
        );
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
