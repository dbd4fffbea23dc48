//! Where a repo stands ([`RepoStatus`], on the opening), and what happens when its close
//! ends: the opening's status follows and both platforms are told.

use crate::settlements::SettlementRow;
use crate::settlements::machine::notify_parties;
use crate::{Error, Result, rfc3339};
use lockstep_core::{SettlementState, now_ms};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::AnyConnection;
use utoipa::ToSchema;

/// The repo's status, kept on the opening (docs/coordinator.md "Repo"):
///
/// `open` --(close registered)--> `closing` --(close FINALIZED)--> `closed`
/// `closing` --(close TIMED_OUT or ROLLED_BACK)--> `close_failed`
///
/// `open` covers the opening's whole life and a finalised opening waiting for maturity;
/// an opening that does not finalise stays `open` with nothing to close.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RepoStatus {
    /// No close registered yet.
    Open,
    /// The close is registered and not final.
    Closing,
    /// The close is FINALIZED: the securities are back, the cash repaid.
    Closed,
    /// The close timed out or was rolled back: the repo did not unwind on chain.
    CloseFailed,
}

impl RepoStatus {
    /// Stored and wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            RepoStatus::Open => "open",
            RepoStatus::Closing => "closing",
            RepoStatus::Closed => "closed",
            RepoStatus::CloseFailed => "close_failed",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<RepoStatus> {
        [
            RepoStatus::Open,
            RepoStatus::Closing,
            RepoStatus::Closed,
            RepoStatus::CloseFailed,
        ]
        .into_iter()
        .find(|r| r.as_str() == s)
    }
}

/// The stored `repo_status` column (NULL for settlements that are not repo openings).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StoredRepoStatus(pub Option<RepoStatus>);

impl TryFrom<Option<String>> for StoredRepoStatus {
    type Error = Error;

    fn try_from(s: Option<String>) -> Result<StoredRepoStatus> {
        s.map(|t| {
            RepoStatus::parse(&t).ok_or(Error::Corrupt {
                what: "repo_status",
                message: format!("unknown repo status {t:?}"),
            })
        })
        .transpose()
        .map(StoredRepoStatus)
    }
}

/// The webhook telling both platforms of a repo that its close was registered.
pub const CLOSE_REGISTERED: &str = "settlement.repo.close_registered";
/// The webhook telling both platforms that the close FINALIZED.
pub const CLOSED: &str = "settlement.repo.closed";
/// The webhook telling both platforms that the close timed out or was rolled back.
pub const CLOSE_FAILED: &str = "settlement.repo.close_failed";

/// After a close (`s`, with a parent) moved to `to`, inside the same transaction: when
/// `to` is terminal, the opening's status becomes `closed` (FINALIZED) or `close_failed`
/// (TIMED_OUT, ROLLED_BACK) and both platforms get the matching webhook on the opening.
/// An opening not `closing` through `s` is logged and left alone (the close's transition
/// is not held up).
pub(crate) async fn close_moved(
    conn: &mut AnyConnection,
    s: &SettlementRow,
    to: SettlementState,
) -> Result<()> {
    let Some(parent) = &s.parent_settlement_id else {
        return Ok(());
    };
    let (status, event) = match to {
        SettlementState::Finalized => (RepoStatus::Closed, CLOSED),
        SettlementState::TimedOut | SettlementState::RolledBack => {
            (RepoStatus::CloseFailed, CLOSE_FAILED)
        }
        _ => return Ok(()),
    };
    let now = now_ms();
    let r = sqlx::query("UPDATE settlements SET repo_status = $1, updated_at = $2 WHERE id = $3 AND closing_settlement_id = $4 AND repo_status = $5")
        .bind(status.as_str()).bind(now).bind(parent).bind(&s.id).bind(RepoStatus::Closing.as_str())
        .execute(&mut *conn).await?;
    if r.rows_affected() != 1 {
        // Cannot happen (the close and the opening's claim are written in one
        // transaction); the close's own transition, driven by the chain, still goes on.
        tracing::error!(
            opening = parent,
            close = s.id,
            "repo opening is not closing through this close; its repo status is left as it is"
        );
        return Ok(());
    }
    tracing::info!(
        opening = parent,
        close = s.id,
        repo_status = status.as_str(),
        "repo close ended"
    );
    let data = json!({
        "settlement_id": parent,
        "closing_settlement_id": s.id,
        "repo_status": status,
        "closing_state": to.as_str(),
        "timestamp": rfc3339(now),
    });
    notify_parties(conn, s, event, &data).await
}
