//! RFC 8785 (JCS) canonical JSON, a strict parser for untrusted input, and the small
//! writer primitives the typed constructors use to emit canonical bytes directly.

use crate::literals::{self, NumberLiterals};
use crate::{Error, Result};
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};
use std::fmt;

/// The largest integer magnitude allowed: 2^53 − 1 (I-JSON / ECMAScript safe integers).
pub const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

/// The RFC 8785 canonical bytes of `value` (UTF-8, no trailing newline).
///
/// Validates first: integers beyond ±(2^53−1) are errors, never output. Numbers held
/// as `f64` (from literals with a fraction or exponent) are IEEE doubles and are written
/// as ECMAScript's `Number::toString` writes them (`1e21` → `1e+21`, `1e16` →
/// `10000000000000000`, `-0.0` → `0`).
pub fn canonicalize(value: &Value) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(256);
    write_value(&mut out, value, &mut String::from("$"))?;
    Ok(out)
}

/// `ref(value) = "sha256:" + hex(SHA-256(canonicalize(value)))`.
pub fn ref_of(value: &Value) -> Result<crate::Ref> {
    Ok(crate::hash::ref_of_bytes(&canonicalize(value)?))
}

fn write_value(out: &mut Vec<u8>, v: &Value, path: &mut String) -> Result<()> {
    match v {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(n) => write_number(out, n, path)?,
        Value::String(s) => write_str(out, s),
        Value::Array(a) => {
            out.push(b'[');
            for (i, item) in a.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                let len = path.len();
                path.push_str(&format!("[{i}]"));
                write_value(out, item, path)?;
                path.truncate(len);
            }
            out.push(b']');
        }
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort_by(|a, b| cmp_utf16(a, b));
            out.push(b'{');
            for (i, k) in keys.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_str(out, k);
                out.push(b':');
                let len = path.len();
                path.push('.');
                path.push_str(k);
                if let Some(item) = m.get(k.as_str()) {
                    write_value(out, item, path)?;
                }
                path.truncate(len);
            }
            out.push(b'}');
        }
    }
    Ok(())
}

/// Orders two strings by their UTF-16 code units, as RFC 8785 §3.2.3 requires.
pub fn cmp_utf16(a: &str, b: &str) -> std::cmp::Ordering {
    if a.is_ascii() && b.is_ascii() {
        return a.as_bytes().cmp(b.as_bytes());
    }
    a.encode_utf16().cmp(b.encode_utf16())
}

fn write_number(out: &mut Vec<u8>, n: &Number, path: &str) -> Result<()> {
    if let Some(u) = n.as_u64() {
        if u > MAX_SAFE_INTEGER {
            return Err(Error::IntegerOutOfRange {
                field: path.to_owned(),
                value: u.to_string(),
            });
        }
        write_u64(out, u);
    } else if let Some(i) = n.as_i64() {
        if i.unsigned_abs() > MAX_SAFE_INTEGER {
            return Err(Error::IntegerOutOfRange {
                field: path.to_owned(),
                value: i.to_string(),
            });
        }
        write_i64(out, i);
    } else if let Some(f) = n.as_f64().filter(|f| f.is_finite()) {
        write_f64(out, f);
    } else {
        return Err(Error::UnrepresentableNumber {
            field: path.to_owned(),
            value: n.to_string(),
        });
    }
    Ok(())
}

/// Appends a finite double as ECMAScript's `Number::toString` (RFC 8785 §3.2.2.3):
/// shortest round-trip digits, integral values below 10^21 without exponent or fraction
/// (`1e16` → `10000000000000000`), exponents as `e+21` / `e-7`, and `-0` as `0`.
#[inline]
pub fn write_f64(out: &mut Vec<u8>, f: f64) {
    if f == 0.0 {
        out.push(b'0');
    } else {
        let mut buf = ryu_js::Buffer::new();
        out.extend_from_slice(buf.format_finite(f).as_bytes());
    }
}

/// Appends `s` as an RFC 8785 JSON string: only `"`, `\\`, the short escapes and
/// lowercase `\u00xx` for other control characters are escaped; everything else
/// (non-ASCII, U+2028/2029, `/`) is written literally.
#[inline]
pub fn write_str(out: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    // Fast path: nothing to escape (the common case) is one scan and one copy.
    if !bytes.iter().any(|&c| c < 0x20 || c == b'"' || c == b'\\') {
        out.reserve(bytes.len() + 2);
        out.push(b'"');
        out.extend_from_slice(bytes);
        out.push(b'"');
        return;
    }
    out.push(b'"');
    let mut start = 0;
    for (i, &c) in bytes.iter().enumerate() {
        let esc: &[u8] = match c {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            0..=0x1f => {
                out.extend_from_slice(&bytes[start..i]);
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.extend_from_slice(b"\\u00");
                out.push(HEX[(c >> 4) as usize]);
                out.push(HEX[(c & 0xf) as usize]);
                start = i + 1;
                continue;
            }
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        out.extend_from_slice(esc);
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

/// Appends a non-negative integer in ECMAScript decimal form.
#[inline]
pub fn write_u64(out: &mut Vec<u8>, mut v: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    out.extend_from_slice(&buf[i..]);
}

/// Appends a signed integer in ECMAScript decimal form.
#[inline]
pub fn write_i64(out: &mut Vec<u8>, v: i64) {
    if v < 0 {
        out.push(b'-');
    }
    write_u64(out, v.unsigned_abs());
}

/// Parses untrusted JSON strictly: duplicate member names (at any depth), lone
/// surrogates, integer literals beyond ±(2^53−1), numbers that overflow a double and
/// trailing data are errors.
///
/// The kind of a number literal decides its type, as in the reference Python stack
/// (`json.loads` + `rfc8785`): an integer literal (no fraction, no exponent) is an
/// integer and must be within ±(2^53−1) (`-0` is the integer 0); a literal with a
/// fraction or exponent is an IEEE double, rounded to nearest (`1e21`,
/// `9007199254740993.0` → 2^53, `1e-400` → 0), and refused only when it overflows
/// (`1e400`).
pub fn parse_strict(input: &[u8]) -> Result<Value> {
    let literals = NumberLiterals::scan(input);
    let mut de = serde_json::Deserializer::from_slice(input);
    let v = StrictSeed {
        path: "$".into(),
        literals: &literals,
    }
    .deserialize(&mut de)
    .map_err(|e| map_json_err(&e))?;
    de.end().map_err(|e| map_json_err(&e))?;
    Ok(v)
}

/// Parses strict JSON from a string.
pub fn parse_strict_str(input: &str) -> Result<Value> {
    parse_strict(input.as_bytes())
}

// Our structured errors travel through serde_json's custom-error string; they are
// tagged so they can be turned back into the structured variant.
const TAG: &str = "\u{1}lockstep:";

fn map_json_err(e: &serde_json::Error) -> Error {
    let msg = e.to_string();
    if let Some(rest) = msg.strip_prefix(TAG) {
        let rest = rest.split(" at line ").next().unwrap_or(rest);
        let mut parts = rest.splitn(3, '\u{1}');
        let kind = parts.next().unwrap_or_default();
        let a = parts.next().unwrap_or_default().to_owned();
        let b = parts.next().unwrap_or_default().to_owned();
        return match kind {
            "dup" => Error::DuplicateKey { path: a, key: b },
            "int" => Error::IntegerOutOfRange { field: a, value: b },
            _ => Error::UnrepresentableNumber { field: a, value: b },
        };
    }
    let mut message = msg
        .split(" at line ")
        .next()
        .unwrap_or(msg.as_str())
        .to_owned();
    if message.contains("surrogate") || message.contains("end of hex escape") {
        message = format!("lone or malformed UTF-16 surrogate escape ({message})");
    }
    Error::Json {
        line: e.line(),
        column: e.column(),
        message,
    }
}

fn tagged<E: de::Error>(kind: &str, a: &str, b: &str) -> E {
    E::custom(format!("{TAG}{kind}\u{1}{a}\u{1}{b}"))
}

struct StrictSeed<'l> {
    path: String,
    literals: &'l NumberLiterals<'l>,
}

impl<'de> DeserializeSeed<'de> for StrictSeed<'_> {
    type Value = Value;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> std::result::Result<Value, D::Error> {
        d.deserialize_any(StrictVisitor {
            path: self.path,
            literals: self.literals,
        })
    }
}

struct StrictVisitor<'l> {
    path: String,
    literals: &'l NumberLiterals<'l>,
}

impl StrictVisitor<'_> {
    fn seed(&self, path: String) -> StrictSeed<'_> {
        StrictSeed {
            path,
            literals: self.literals,
        }
    }
}

impl<'de> Visitor<'de> for StrictVisitor<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> std::result::Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> std::result::Result<Value, E> {
        self.literals.next();
        if v.unsigned_abs() > MAX_SAFE_INTEGER {
            return Err(tagged("int", &self.path, &v.to_string()));
        }
        Ok(Value::Number(v.into()))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> std::result::Result<Value, E> {
        self.literals.next();
        if v > MAX_SAFE_INTEGER {
            return Err(tagged("int", &self.path, &v.to_string()));
        }
        Ok(Value::Number(v.into()))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> std::result::Result<Value, E> {
        let Some(literal) = self.literals.next() else {
            return Err(tagged("num", &self.path, &format!("{v}")));
        };
        if literals::is_integer(literal) {
            // An integer literal serde_json could not hold as u64/i64: `-0`, or one
            // beyond ±2^63 (so far beyond the safe range).
            if v == 0.0 {
                return Ok(Value::from(0u64));
            }
            return Err(tagged("int", &self.path, literal));
        }
        // The literal itself, parsed with correct rounding whatever serde_json's
        // `float_roundtrip` feature (off in builds without serde_jcs) makes of it.
        literal
            .parse::<f64>()
            .ok()
            .and_then(Number::from_f64)
            .map(Value::Number)
            .ok_or_else(|| tagged("num", &self.path, literal))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> std::result::Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> std::result::Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E: de::Error>(self) -> std::result::Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<Value, A::Error> {
        let mut out = Vec::new();
        loop {
            let seed = self.seed(format!("{}[{}]", self.path, out.len()));
            match seq.next_element_seed(seed)? {
                Some(v) => out.push(v),
                None => break,
            }
        }
        Ok(Value::Array(out))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if out.contains_key(&key) {
                return Err(tagged("dup", &self.path, &key));
            }
            let seed = self.seed(format!("{}.{}", self.path, key));
            let v = map.next_value_seed(seed)?;
            out.insert(key, v);
        }
        Ok(Value::Object(out))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn canon(s: &str) -> String {
        String::from_utf8(canonicalize(&parse_strict_str(s).unwrap()).unwrap()).unwrap()
    }

    #[test]
    fn sorts_keys_by_utf16_code_units() {
        // U+1F600 (surrogates D83D DE00) sorts before U+FB01 in UTF-16 but after in UTF-8.
        assert_eq!(
            canon(r#"{"\ufb01":1,"\ud83d\ude00":2,"a":3}"#),
            "{\"a\":3,\"\u{1f600}\":2,\"\u{fb01}\":1}"
        );
    }

    #[test]
    fn escapes_only_what_rfc8785_escapes() {
        assert_eq!(
            canon(r#"["\u2028/\u00e9\u001f\b\f\n\r\t\"\\"]"#),
            "[\"\u{2028}/\u{e9}\\u001f\\b\\f\\n\\r\\t\\\"\\\\\"]"
        );
    }

    #[test]
    fn numbers_follow_ecmascript() {
        assert_eq!(
            canon("[1.0,-0.0,1e2,0.5,9007199254740991]"),
            "[1,0,100,0.5,9007199254740991]"
        );
    }

    #[test]
    fn strict_parser_rejects_what_it_must() {
        assert!(matches!(
            parse_strict_str(r#"{"a":{"b":1,"b":2}}"#),
            Err(Error::DuplicateKey { ref path, ref key }) if path == "$.a" && key == "b"
        ));
        assert!(matches!(
            parse_strict_str("[9007199254740992]"),
            Err(Error::IntegerOutOfRange { ref field, .. }) if field == "$[0]"
        ));
        assert!(matches!(
            parse_strict_str("-9007199254740992"),
            Err(Error::IntegerOutOfRange { .. })
        ));
        assert!(matches!(parse_strict_str("1e400"), Err(Error::Json { .. })));
        assert!(matches!(
            parse_strict_str("[100000000000000000000]"),
            Err(Error::IntegerOutOfRange { ref field, ref value })
                if field == "$[0]" && value == "100000000000000000000"
        ));
        assert!(matches!(
            parse_strict_str(r#"{"a":-12345678901234567890}"#),
            Err(Error::IntegerOutOfRange { ref field, ref value })
                if field == "$.a" && value == "-12345678901234567890"
        ));
        assert!(matches!(
            parse_strict_str(r#""\ud800""#),
            Err(Error::Json { .. })
        ));
        assert!(matches!(
            parse_strict_str(r#""\udc00x""#),
            Err(Error::Json { .. })
        ));
        assert!(matches!(parse_strict_str("NaN"), Err(Error::Json { .. })));
        assert!(matches!(parse_strict_str("{} x"), Err(Error::Json { .. })));
    }

    #[test]
    fn fraction_and_exponent_literals_are_doubles_as_ecmascript_prints_them() {
        // Outputs as the npm `canonicalize` package and the Python `rfc8785` package
        // produce them for the same text.
        assert_eq!(
            canon("[1e16,1e21,1e20,1.7976931348623157e308,5e-324,1E30,1.5e16]"),
            "[10000000000000000,1e+21,100000000000000000000,1.7976931348623157e+308,5e-324,1e+30,15000000000000000]"
        );
        assert_eq!(
            canon("[1152921504606846976.0,9007199254740993.0,1e-400,-1.5e300,1e-7,1e-6]"),
            "[1152921504606847000,9007199254740992,0,-1.5e+300,1e-7,0.000001]"
        );
        // The integer literal -0 is the integer 0; -0.0 is the double -0, written 0.
        assert_eq!(parse_strict_str("-0").unwrap(), serde_json::json!(0));
        assert!(parse_strict_str("-0.0").unwrap().is_f64());
        assert_eq!(canon("[-0,-0.0]"), "[0,0]");
    }

    #[test]
    fn doubles_built_in_code_are_canonicalised_not_refused() {
        let v = serde_json::json!([1e16, 1e21, 2.5, -0.0]);
        assert_eq!(
            canonicalize(&v).unwrap(),
            b"[10000000000000000,1e+21,2.5,0]"
        );
    }

    #[test]
    fn canonicalize_rejects_unsafe_integers_built_in_code() {
        let v = serde_json::json!({"n": 9007199254740992u64});
        assert!(matches!(
            canonicalize(&v),
            Err(Error::IntegerOutOfRange { .. })
        ));
    }
}
