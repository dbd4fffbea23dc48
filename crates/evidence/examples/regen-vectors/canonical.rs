//! `vectors/lockstep/canonical.json`: the canonicaliser and the strict parser.

use crate::file::File;
use eyre::Result;

/// RFC 8785 canonicalisation edge cases and strict-parser rejections.
pub(crate) fn write() -> Result<()> {
    let mut f = File::new("canonical");
    f.ok_text(
        "utf16-key-order",
        r#"{"\ufb01":1,"\ud83d\ude00":2,"a":3,"":0}"#,
    )?;
    f.ok_text(
        "literal-escapes",
        r#"["\u2028\u2029/\u00e9\u001f\u007f\b\f\n\r\t\"\\"]"#,
    )?;
    f.ok_text("rfc8785-sample-without-1e30", r#"{"numbers":[333333333.33333329,4.50,2e-3,0.000000000000000000000000001],"string":"\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/","literals":[null,true,false]}"#)?;
    f.ok_text(
        "integers-and-zero",
        "[0,-0,-0.0,1.0,100,9007199254740991,-9007199254740991]",
    )?;
    f.ok_text(
        "nested-order-kept-in-arrays",
        r#"{"b":[3,1,2],"a":{"z":{},"y":[]}}"#,
    )?;
    f.reject_text("duplicate-key-nested", r#"{"a":{"b":1,"b":2}}"#)?;
    f.reject_text("duplicate-key-top", r#"{"a":1,"a":1}"#)?;
    f.reject_text("lone-high-surrogate", r#"["\ud800"]"#)?;
    f.reject_text("lone-low-surrogate", r#"{"k":"\udc00"}"#)?;
    f.reject_text("integer-2-pow-53", "[9007199254740992]")?;
    f.reject_text("integer-minus-2-pow-53", "[-9007199254740992]")?;
    f.reject_text("number-overflow", "[1e400]")?;
    f.reject_text("nan-literal", "[NaN]")?;
    f.reject_text("trailing-data", "{} {}")?;
    numbers(&mut f)?;
    f.write()?;
    Ok(())
}

/// Number literals (docs/evidence.md, "Number literals"). Each accepted text's canonical
/// form is stated here as the npm `canonicalize` package (5.1.0, on `JSON.parse`) and
/// the Python `rfc8785` package (0.1.4, on `json.loads`) both print it; the generator
/// refuses to write a vector that differs. Refused: integer literals beyond ±(2^53−1)
/// (as Python does; Node rounds them) and literals that overflow a double (both).
fn numbers(f: &mut File) -> Result<()> {
    for (id, text, canonical) in ACCEPTED_NUMBERS {
        f.ok_text_expecting(id, text, canonical)?;
    }
    f.reject_text("integer-literal-beyond-2-pow-64", "[18446744073709551616]")?;
    f.reject_text("integer-literal-1e20", "[100000000000000000000]")?;
    f.reject_text(
        "negative-integer-literal-beyond-2-pow-63",
        "[-12345678901234567890]",
    )?;
    f.reject_text("negative-number-overflow", "[-1E400]")?;
    f.reject_text(
        "number-overflow-above-max-double",
        "[1.7976931348623159e308]",
    )?;
    Ok(())
}

/// (id, JSON text, canonical form printed by both reference packages).
#[rustfmt::skip]
const ACCEPTED_NUMBERS: &[(&str, &str, &str)] = &[
    ("rfc8785-sample",
     r#"{"numbers":[333333333.33333329,1E30,4.50,2e-3,0.000000000000000000000000001],"string":"\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/","literals":[null,true,false]}"#,
     "{\"literals\":[null,true,false],\"numbers\":[333333333.3333333,1e+30,4.5,0.002,1e-27],\"string\":\"\u{20ac}$\\u000f\\nA'B\\\"\\\\\\\\\\\"/\"}"),
    ("exponent-literals-with-large-integer-values",
     "[1e16,1e20,1e21,1E30,1.5e16,9223372036854775808e0]",
     "[10000000000000000,100000000000000000000,1e+21,1e+30,15000000000000000,9223372036854776000]"),
    ("double-extremes",
     "[1.7976931348623157e308,1.7976931348623158e308,5e-324,2.2250738585072014e-308,1e-400,-1.5e300]",
     "[1.7976931348623157e+308,1.7976931348623157e+308,5e-324,2.2250738585072014e-308,0,-1.5e+300]"),
    ("fraction-literals-beyond-2-pow-53",
     "[9007199254740992.0,9007199254740993.0,1152921504606846976.0,999999999999999999999.0,123456789012345678901234567890.0]",
     "[9007199254740992,9007199254740992,1152921504606847000,1e+21,1.2345678901234568e+29]"),
    ("small-exponents-and-minus-zero",
     "[1e-6,1e-7,123e-20,0.30000000000000004,1E-2,1.0e-0,-0.0]",
     "[0.000001,1e-7,1.23e-18,0.30000000000000004,0.01,1,0]"),
];
