//! Instructions (one side of a trade each) and matching: [`mod@validate`] the request,
//! [`matching`] rules, [`pairing`] with the first side of a trade reference (counterparty
//! binding, the settled-reference rule, closing leftovers), [`mod@submit`] (validate → replay-or-reserve → match → persist) and
//! the [`store`] of instruction rows (lists, lazy expiry, cancel); [`multiparty`] matching
//! for templates with more than two roles.

pub mod group;
pub mod intake;
pub mod matching;
pub mod multiparty;
pub mod pairing;
pub mod store;
pub mod submit;
pub mod validate;

pub use crate::trade::{
    Direction, InstructionBody, InstructionRequest, LegInput, LegType, Party, Role,
};
pub use group::GroupCommit;
pub use intake::Intake;
pub use matching::{MatchFailure, check_match};
pub use pairing::AlreadySettled;
pub use store::{Cancelled, InstructionView, MatchView, cancel, expire, get, list};
pub use submit::{Submitted, submit};
pub use validate::{FieldError, validate};
