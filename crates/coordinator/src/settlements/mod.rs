//! The settlement lifecycle, in one module:
//!
//! - [`context`]: [`Lifecycle`], what the automatic steps use;
//! - [`machine`]: `create`, the guarded `transition`, the event-record builder and the
//!   post-commit hook;
//! - [`screening`]: the compliance pipeline (screen, clear with terms and attestations,
//!   roll back, manual decisions) and the hand-over to the registrar;
//! - [`store`]: rows and queries;
//! - [`deposits`]: the deposit instructions a platform signs;
//! - [`owed`]: legs owed on chain (recorded through the ledger, listed by the API);
//! - [`ledger`]: the `lockstep_core::Ledger` implementation the chain side uses;
//! - [`queue`]: the worker's leased work claims;
//! - [`batch`]: the worker's batched rounds (screening and clearing, registrar hand-over);
//! - [`worker`]: the settlement worker that runs the rounds.

pub mod batch;
mod clearing;
pub mod context;
pub mod deposits;
pub mod ledger;
pub mod machine;
pub mod many;
pub mod owed;
pub mod queue;
mod reports;
pub mod screening;
pub mod store;
pub mod worker;

pub use context::Lifecycle;
pub use machine::{AfterCommit, verify_trail};
pub use screening::{DecisionRefused, ManualDecision};
pub use store::{EventView, PartyView, SettlementRow, SettlementView};
