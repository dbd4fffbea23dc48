//! Tokenised repo (docs/coordinator.md "Repo"): an opening settlement whose close is
//! fixed when it is created and registered by the coordinator after maturity.
//!
//! - [`fields`]: the instruction's repo fields and their matching rules;
//! - [`closing`]: the closing terms fixed at opening, and the close's instructions;
//! - [`status`]: the repo's status on the opening and what a close's end does to it;
//! - [`close`]: registering the close, exactly once (the worker after maturity, or an
//!   operator early);
//! - [`view`]: the opening's `repo` member in the API.

pub mod close;
pub mod closing;
pub mod fields;
pub mod status;
pub mod view;

pub use closing::{ClosingSide, ClosingTerms, FixedClose};
pub use status::{RepoStatus, StoredRepoStatus};
pub use view::RepoView;
