//! The context instruction intake runs with.

use crate::settlements::AfterCommit;
use crate::templates::Templates;
use crate::terms::Escrows;
use lockstep_core::Db;
use std::sync::Arc;

/// What instruction intake uses: storage, the post-commit hook (a match creates a
/// settlement), the templates and chains a request is validated against, and the
/// time-to-live of an unmatched instruction.
#[derive(Debug, Clone)]
pub struct Intake {
    /// Storage.
    pub db: Db,
    /// Metric and wake-ups after a match commits.
    pub hook: AfterCommit,
    /// Settlement templates.
    pub templates: Arc<Templates>,
    /// The escrow per chain (which chains are configured).
    pub escrows: Arc<Escrows>,
    /// Time-to-live of an unmatched instruction, seconds.
    pub ttl_secs: u64,
    /// On SQLite, the group-commit task submissions are queued to
    /// ([`super::group`]); `None`: each submission runs in a transaction of its own.
    pub group: Option<super::GroupCommit>,
}
