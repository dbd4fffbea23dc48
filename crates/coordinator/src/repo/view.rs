//! A repo opening's part of the settlement view (`repo` in `GET /v1/settlements/{id}`).

use super::{ClosingTerms, RepoStatus};
use crate::settlements::SettlementRow;
use crate::settlements::store::parse_json;
use crate::{Result, rfc3339};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A repo opening as the API shows it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RepoView {
    /// `open`, `closing`, `closed` or `close_failed` (docs/coordinator.md "Repo").
    pub status: RepoStatus,
    /// When the close is due (RFC 3339).
    pub maturity_at: String,
    /// The close as fixed at opening.
    pub closing_terms: ClosingTerms,
    /// `sha256:<hex>` over the JCS form of `closing_terms`, bound into the opening's
    /// decision evidence (`terms.repo.closing_terms_ref`).
    pub closing_terms_ref: String,
}

/// The repo part of `s`'s view: status, maturity and the fixed closing terms of a repo
/// opening; `None` for any other settlement (a close included).
pub fn of(s: &SettlementRow) -> Result<Option<RepoView>> {
    let (Some(status), Some(maturity), Some(reference)) = (
        s.repo_status.0,
        s.repo_maturity_at,
        s.closing_terms_ref.clone(),
    ) else {
        return Ok(None);
    };
    let Some(closing_terms) = parse_json("closing_terms", s.closing_terms.as_deref())? else {
        return Ok(None);
    };
    Ok(Some(RepoView {
        status,
        maturity_at: rfc3339(maturity),
        closing_terms,
        closing_terms_ref: reference,
    }))
}
