//! The number literals of a JSON text as written, in document order.
//!
//! serde_json hands its visitor an `f64` both for a literal with a fraction or exponent
//! (`1e20`) and for an integer literal too large for `u64`/`i64`
//! (`100000000000000000000`), so the value alone cannot tell the strict parser whether
//! the document wrote an integer. The parser scans the text once for its number tokens
//! and consumes one per number it is handed: both walk the document in the same order,
//! and serde_json stops at the first byte that is not valid JSON, before any number the
//! scan could misread.

use std::cell::Cell;
use std::ops::Range;

/// The number tokens of one JSON text and a cursor over them.
#[derive(Debug)]
pub(crate) struct NumberLiterals<'t> {
    text: &'t [u8],
    spans: Vec<Range<usize>>,
    next: Cell<usize>,
}

impl<'t> NumberLiterals<'t> {
    /// Scans `text` for number tokens outside strings (`-? int frac? exp?`).
    pub(crate) fn scan(text: &'t [u8]) -> NumberLiterals<'t> {
        let mut spans = Vec::new();
        let mut i = 0;
        while let Some(&c) = text.get(i) {
            match c {
                b'"' => i = string_end(text, i + 1),
                b'-' | b'0'..=b'9' => {
                    let end = number_end(text, i);
                    spans.push(i..end);
                    i = end;
                }
                _ => i += 1,
            }
        }
        NumberLiterals {
            text,
            spans,
            next: Cell::new(0),
        }
    }

    /// The next number literal as written (`None` once all are consumed).
    pub(crate) fn next(&self) -> Option<&'t str> {
        let i = self.next.get();
        let span = self.spans.get(i)?.clone();
        self.next.set(i + 1);
        std::str::from_utf8(&self.text[span]).ok()
    }
}

/// True for an integer literal: digits with an optional minus sign, no fraction and no
/// exponent (`-0` and `100000000000000000000` are; `1.0` and `1e2` are not).
pub(crate) fn is_integer(literal: &str) -> bool {
    let digits = literal.strip_prefix('-').unwrap_or(literal);
    !digits.is_empty() && digits.bytes().all(|c| c.is_ascii_digit())
}

/// The index just past the closing quote of the string whose body starts at `i`.
fn string_end(text: &[u8], mut i: usize) -> usize {
    while let Some(&c) = text.get(i) {
        match c {
            b'\\' => i += 2,
            b'"' => return i + 1,
            _ => i += 1,
        }
    }
    text.len()
}

/// The index just past the number token starting at `i` (JSON number grammar).
fn number_end(text: &[u8], mut i: usize) -> usize {
    let digits = |mut i: usize| {
        while text.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        i
    };
    if text.get(i) == Some(&b'-') {
        i += 1;
    }
    i = digits(i);
    if text.get(i) == Some(&b'.') {
        i = digits(i + 1);
    }
    if matches!(text.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(text.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        i = digits(i);
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_numbers_outside_strings_in_order() {
        let text = br#"{"a1":[1,-0,2.5e+3],"b":"x\"9","c":{"d":-12E-1},"e":1.5.5}"#;
        let lits = NumberLiterals::scan(text);
        let all: Vec<_> = std::iter::from_fn(|| lits.next()).collect();
        assert_eq!(all, ["1", "-0", "2.5e+3", "-12E-1", "1.5", "5"]);
    }

    #[test]
    fn integer_literals_have_no_fraction_or_exponent() {
        for lit in ["0", "-0", "9007199254740993", "-100000000000000000000"] {
            assert!(is_integer(lit), "{lit}");
        }
        for lit in ["1.0", "1e2", "-1E+2", "-", ""] {
            assert!(!is_integer(lit), "{lit}");
        }
    }
}
