//! The check's typed results: one [`Row`] per fact checked, the [`Report`] of all chains,
//! its table and its exit status.

use std::fmt;

/// What a row checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Check {
    /// The configuration has what the check needs.
    Configuration,
    /// The chain answers with the configured chain id.
    Rpc,
    /// The escrow's runtime code is the compiled one (immutables masked).
    Bytecode,
    /// `escrow.owner()` is the timelock.
    Owner,
    /// `EndpointV2.delegates(escrow)` is the timelock.
    Delegate,
    /// The timelock's `getMinDelay()` exceeds the escrow's `maxSettlementDuration`.
    TimelockDelay,
    /// `peers(eid)` of a remote eid is that chain's escrow.
    Peer(u32),
    /// `peers(eid)` of the escrow's own eid is unset.
    NoSelfPeer(u32),
    /// The send library towards `eid` is set explicitly and is the configured SendUln302.
    SendLibrary(u32),
    /// The receive library from `eid` is set explicitly and is the configured ReceiveUln302.
    ReceiveLibrary(u32),
    /// The effective ULN config of the receive path from `eid` requires at least two DVNs,
    /// the verifier among them.
    ReceiveDvns(u32),
}

impl fmt::Display for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Check::Configuration => write!(f, "configuration"),
            Check::Rpc => write!(f, "rpc"),
            Check::Bytecode => write!(f, "bytecode"),
            Check::Owner => write!(f, "owner"),
            Check::Delegate => write!(f, "lz delegate"),
            Check::TimelockDelay => write!(f, "timelock delay"),
            Check::Peer(eid) => write!(f, "peer eid {eid}"),
            Check::NoSelfPeer(eid) => write!(f, "no peer eid {eid} (own)"),
            Check::SendLibrary(eid) => write!(f, "send library eid {eid}"),
            Check::ReceiveLibrary(eid) => write!(f, "receive library eid {eid}"),
            Check::ReceiveDvns(eid) => write!(f, "receive DVNs eid {eid}"),
        }
    }
}

/// Whether a row holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// As expected.
    Ok,
    /// A deviation (or the fact could not be read).
    Fail,
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Outcome::Ok => "ok",
            Outcome::Fail => "FAIL",
        })
    }
}

/// One checked fact of one chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// The chain id.
    pub chain_id: u64,
    /// What was checked.
    pub check: Check,
    /// What the configuration and the repository say.
    pub expected: String,
    /// What the chain says (or why it could not be read).
    pub actual: String,
    /// Whether they agree.
    pub outcome: Outcome,
}

impl Row {
    /// A row that holds when `ok`.
    pub fn new(
        chain_id: u64,
        check: Check,
        expected: impl Into<String>,
        actual: impl Into<String>,
        ok: bool,
    ) -> Row {
        Row {
            chain_id,
            check,
            expected: expected.into(),
            actual: actual.into(),
            outcome: if ok { Outcome::Ok } else { Outcome::Fail },
        }
    }

    /// A failed row whose fact could not be read (`error` says why).
    pub fn unreadable(
        chain_id: u64,
        check: Check,
        expected: impl Into<String>,
        error: impl fmt::Display,
    ) -> Row {
        Row::new(chain_id, check, expected, format!("error: {error}"), false)
    }
}

/// Every row of every chain, in the order checked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// The rows.
    pub rows: Vec<Row>,
}

impl Report {
    /// Whether every row holds (and there is at least one).
    pub fn passed(&self) -> bool {
        !self.rows.is_empty() && self.rows.iter().all(|r| r.outcome == Outcome::Ok)
    }

    /// The failed rows.
    pub fn failures(&self) -> impl Iterator<Item = &Row> {
        self.rows.iter().filter(|r| r.outcome == Outcome::Fail)
    }

    /// The process exit status: 0 when every row holds, 1 otherwise.
    pub fn exit_code(&self) -> u8 {
        u8::from(!self.passed())
    }

    /// The table: `chain | check | expected | actual | ok/FAIL`, columns padded.
    pub fn table(&self) -> String {
        let header = ["chain", "check", "expected", "actual", "result"].map(String::from);
        let lines: Vec<[String; 5]> = std::iter::once(header)
            .chain(self.rows.iter().map(|r| {
                [
                    r.chain_id.to_string(),
                    r.check.to_string(),
                    r.expected.clone(),
                    r.actual.clone(),
                    r.outcome.to_string(),
                ]
            }))
            .collect();
        let mut width = [0usize; 5];
        for l in &lines {
            for (w, cell) in width.iter_mut().zip(l) {
                *w = (*w).max(cell.chars().count());
            }
        }
        let mut out = String::new();
        for (i, l) in lines.iter().enumerate() {
            let cells: Vec<String> = l
                .iter()
                .zip(width)
                .map(|(c, w)| format!("{c:<w$}"))
                .collect();
            out.push_str(cells.join(" | ").trim_end());
            out.push('\n');
            if i == 0 {
                let rule: Vec<String> = width.iter().map(|w| "-".repeat(*w)).collect();
                out.push_str(&rule.join("-|-"));
                out.push('\n');
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_failed_row_fails_the_report_and_the_table_shows_it() {
        let mut r = Report {
            rows: vec![
                Row::new(31337, Check::Owner, "0xaa", "0xaa", true),
                Row::new(31337, Check::Peer(40102), "0xbb", "0xbb", true),
            ],
        };
        assert!(r.passed());
        assert_eq!(r.exit_code(), 0);
        r.rows.push(Row::unreadable(
            31338,
            Check::Rpc,
            "chain id 31338",
            "connection refused",
        ));
        assert!(!r.passed());
        assert_eq!(r.exit_code(), 1);
        assert_eq!(
            r.failures()
                .map(|f| (f.chain_id, f.check))
                .collect::<Vec<_>>(),
            vec![(31338, Check::Rpc)]
        );
        let table = r.table();
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.len(), 5, "{table}");
        assert_eq!(
            lines[0],
            "chain | check          | expected       | actual                    | result"
        );
        assert_eq!(
            lines[2],
            "31337 | owner          | 0xaa           | 0xaa                      | ok"
        );
        assert_eq!(
            lines[4],
            "31338 | rpc            | chain id 31338 | error: connection refused | FAIL"
        );
    }

    #[test]
    fn an_empty_report_does_not_pass() {
        assert!(!Report::default().passed());
        assert_eq!(Report::default().exit_code(), 1);
    }
}
