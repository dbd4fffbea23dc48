//! Instructions (one side of a trade each) and matching: [`validate`] the request,
//! [`matching`] rules, [`submit`] (validate → replay-or-reserve → match → persist) and
//! the [`store`] of instruction rows (lists, lazy expiry, cancel).

pub mod matching;
pub mod store;
pub mod submit;
pub mod validate;

pub use crate::trade::{
    Direction, InstructionBody, InstructionRequest, LegInput, LegType, Party, Role,
};
pub use matching::{MatchFailure, check_match};
pub use store::{Cancelled, InstructionView, MatchView, cancel, expire, get, list};
pub use submit::{Submitted, submit};
pub use validate::{FieldError, validate};

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
}
