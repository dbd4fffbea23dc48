//! The repo fields of an instruction (`maturity_at`, `repayment_amount`, `repo_rate`):
//! their field rules (422) and their matching rules (both sides state the same values).

use crate::instructions::FieldError;
use crate::instructions::MatchFailure;
use crate::instructions::validate::field_error;
use crate::templates::Template;
use crate::trade::InstructionRequest;
use crate::validate::parse_quantity;
use lockstep_core::now_ms;
use serde_json::json;

/// Longest `maturity_at` text.
const MAX_TIME_CHARS: usize = 64;
/// The latest maturity: 366 days from now.
pub const MAX_TERM_SECS: u64 = 366 * 24 * 3600;
/// Most integer digits of `repo_rate`.
const MAX_RATE_INT_DIGITS: usize = 6;
/// Most fraction digits of `repo_rate`.
const MAX_RATE_FRACTION_DIGITS: usize = 12;

/// `maturity_at` as epoch ms.
pub fn maturity_ms(s: &str) -> Option<i64> {
    if s.len() > MAX_TIME_CHARS {
        return None;
    }
    chrono::DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.timestamp_millis())
}

/// A repo rate in its normal form (no leading zeros in the integer part, no trailing
/// zeros in the fraction, no bare point), or `None` when it is not a decimal string of at
/// most 6 integer and 12 fraction digits.
pub fn normal_rate(s: &str) -> Option<String> {
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    let digits = |p: &str| p.bytes().all(|b| b.is_ascii_digit());
    let ok = !int.is_empty()
        && int.len() <= MAX_RATE_INT_DIGITS
        && frac.len() <= MAX_RATE_FRACTION_DIGITS
        && digits(int)
        && digits(frac)
        && !(s.contains('.') && frac.is_empty());
    if !ok {
        return None;
    }
    let int = int.trim_start_matches('0');
    let frac = frac.trim_end_matches('0');
    let int = if int.is_empty() { "0" } else { int };
    Some(match frac.is_empty() {
        true => int.to_string(),
        false => format!("{int}.{frac}"),
    })
}

/// The repo fields against the template: refused by a non-repo template, required by a
/// repo one, each well formed; maturity after `deadline_ms` (the instruction's
/// `timeout_at`, 0 when that was invalid) and at most [`MAX_TERM_SECS`] from now; the
/// template's close window at most `max_secs` (the escrows' settlement duration limit of
/// the legs' chains), or the close could never register.
pub(crate) fn check(
    template: &Template,
    req: &InstructionRequest,
    deadline_ms: i64,
    max_secs: u64,
    errs: &mut Vec<FieldError>,
) {
    let present = [
        ("maturity_at", req.maturity_at.is_some()),
        ("repayment_amount", req.repayment_amount.is_some()),
        ("repo_rate", req.repo_rate.is_some()),
    ];
    let Some(spec) = template.repo else {
        for (name, _) in present.iter().filter(|(_, p)| *p) {
            errs.push(field_error(
                &[json!(name)],
                format!(
                    "applies to repo templates only (template {} is not one)",
                    template.slug
                ),
            ));
        }
        return;
    };
    for (name, _) in present[..2].iter().filter(|(_, p)| !*p) {
        errs.push(field_error(
            &[json!(name)],
            format!("is required by template {}", template.slug),
        ));
    }
    if let Some(m) = &req.maturity_at {
        check_maturity(m, deadline_ms, spec.close_window_secs, max_secs, errs);
    }
    if let Some(r) = &req.repayment_amount
        && let Err(m) = parse_quantity(r)
    {
        errs.push(field_error(
            &[json!("repayment_amount")],
            m.replace("quantity", "repayment_amount"),
        ));
    }
    if req
        .repo_rate
        .as_deref()
        .is_some_and(|r| normal_rate(r).is_none())
    {
        errs.push(field_error(
            &[json!("repo_rate")],
            format!(
                "must be a decimal string (at most {MAX_RATE_INT_DIGITS} integer and {MAX_RATE_FRACTION_DIGITS} fraction digits, e.g. \"5.25\")"
            ),
        ));
    }
}

/// `maturity_at`: RFC 3339, after the deadline, within the longest term; the close window
/// within `max_secs`.
fn check_maturity(
    m: &str,
    deadline_ms: i64,
    window_secs: u64,
    max_secs: u64,
    errs: &mut Vec<FieldError>,
) {
    let loc = [json!("maturity_at")];
    let Some(at) = maturity_ms(m) else {
        errs.push(field_error(
            &loc,
            format!("must be an RFC 3339 time (at most {MAX_TIME_CHARS} characters)"),
        ));
        return;
    };
    if at <= deadline_ms.max(now_ms()) {
        errs.push(field_error(
            &loc,
            "must be after timeout_at (the opening settles first)",
        ));
        return;
    }
    let secs = |s: u64| i64::try_from(s.saturating_mul(1000)).unwrap_or(i64::MAX / 4);
    if at > now_ms().saturating_add(secs(MAX_TERM_SECS)) {
        errs.push(field_error(
            &loc,
            format!("must be at most {} days from now", MAX_TERM_SECS / 86_400),
        ));
    }
    if window_secs > max_secs {
        errs.push(field_error(
            &loc,
            format!(
                "no close is possible on these chains: the template's close window of {window_secs} s exceeds the escrows' settlement duration limit of {max_secs} s"
            ),
        ));
    }
}

/// Whether a close registered at `now_ms` with deadline `deadline_ms` is within the
/// smallest settlement duration limit among `limits` (seconds; none: no limit), as the
/// escrows check at registration.
pub fn registrable(deadline_ms: i64, now_ms: i64, limits: impl Iterator<Item = u64>) -> bool {
    limits.min().is_none_or(|m| {
        let m = i64::try_from(m.saturating_mul(1000)).unwrap_or(i64::MAX / 4);
        deadline_ms <= now_ms.saturating_add(m)
    })
}

/// The repo matching rules, after the leg rules: the same maturity (as an instant), the
/// same repayment amount, the same repo rate (as a number, or both absent). Messages name
/// the field, never the waiting instruction's value.
pub(crate) fn check_match(
    first: &InstructionRequest,
    second: &InstructionRequest,
) -> Result<(), MatchFailure> {
    let maturity = |b: &InstructionRequest| b.maturity_at.as_deref().and_then(maturity_ms);
    if maturity(first) != maturity(second) {
        return Err(MatchFailure::new(
            "maturity_mismatch",
            "maturity_at differs from the waiting instruction's",
        ));
    }
    let repayment = |b: &InstructionRequest| {
        b.repayment_amount
            .as_deref()
            .map(|r| parse_quantity(r).ok())
    };
    if repayment(first) != repayment(second) {
        return Err(MatchFailure::new(
            "repayment_mismatch",
            "repayment_amount differs from the waiting instruction's",
        ));
    }
    let rate = |b: &InstructionRequest| b.repo_rate.as_deref().map(normal_rate);
    if rate(first) != rate(second) {
        return Err(MatchFailure::new(
            "repo_rate_mismatch",
            "repo_rate differs from the waiting instruction's (or only one side states it)",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::normal_rate;

    #[test]
    fn rates_compare_as_numbers() {
        assert_eq!(normal_rate("5.250").as_deref(), Some("5.25"));
        assert_eq!(normal_rate("05.25").as_deref(), Some("5.25"));
        assert_eq!(normal_rate("0.0").as_deref(), Some("0"));
        assert_eq!(normal_rate("3").as_deref(), Some("3"));
        for bad in [
            "",
            "5.",
            ".5",
            "-1",
            "1e3",
            "1234567",
            "1.0000000000001",
            "5,25",
        ] {
            assert_eq!(normal_rate(bad), None, "{bad}");
        }
    }
}
