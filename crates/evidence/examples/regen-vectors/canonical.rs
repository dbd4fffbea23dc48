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
    f.reject_text("integral-float-beyond-2-pow-53", "[1e30]")?;
    f.reject_text("number-overflow", "[1e400]")?;
    f.reject_text("nan-literal", "[NaN]")?;
    f.reject_text("trailing-data", "{} {}")?;
    f.write()?;
    Ok(())
}
