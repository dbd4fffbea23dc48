//! Parameter lists for statements whose row count varies (`IN (...)` lists and multi-row
//! INSERTs), numbered `$n` as both backends take them. Every multi-row write builds its
//! VALUES list here.

/// `$1, $2, ..., $n`: the parameters of an `IN (...)` list.
pub(crate) fn placeholders(n: usize) -> String {
    placeholders_after(0, n)
}

/// `$o+1, ..., $o+n`.
fn placeholders_after(o: usize, n: usize) -> String {
    (o + 1..=o + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The VALUES list of a multi-row INSERT: `rows` rows of `width` parameters each,
/// numbered from `$1` row by row (`($1, $2), ($3, $4)` for 2 rows of 2).
pub(crate) fn value_rows(rows: usize, width: usize) -> String {
    value_rows_after(0, rows, width, "")
}

/// Like [`value_rows`], numbered from `$first+1` (the parameters up to `$first` being
/// shared by every row), each row ending with `tail`: shared parameters or constants.
/// `value_rows_after(1, 2, 2, ", $1")` is `($2, $3, $1), ($4, $5, $1)`.
pub(crate) fn value_rows_after(first: usize, rows: usize, width: usize, tail: &str) -> String {
    (0..rows)
        .map(|i| format!("({}{tail})", placeholders_after(first + width * i, width)))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_are_numbered_row_by_row_after_the_shared_parameters() {
        assert_eq!(placeholders(3), "$1, $2, $3");
        assert_eq!(value_rows(2, 2), "($1, $2), ($3, $4)");
        assert_eq!(
            value_rows_after(1, 2, 2, ", $1"),
            "($2, $3, $1), ($4, $5, $1)"
        );
        assert_eq!(
            value_rows_after(2, 1, 4, ", $1, 0, $2"),
            "($3, $4, $5, $6, $1, 0, $2)"
        );
    }
}
