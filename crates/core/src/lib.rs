//! `lockstep-core`: the small domain every Lockstep crate shares, and the ports through
//! which the coordinator and the chain side talk without depending on each other.
//!
//! - [`state`] — `SettlementState` and its one transition table;
//! - [`instruction`] — `InstructionStatus`;
//! - [`ids`] — prefixed ids, the on-chain settlement id, the millisecond clock;
//! - [`ledger`] — the `Ledger` port (implemented by the coordinator, used by the chain side);
//! - [`registrar`] — the `SettlementRegistrar` port (implemented by the chain side, called by
//!   the coordinator) and the `Attestation` it carries;
//! - [`eligibility`] — the `TransferEligibility` port (R6: permissioned tokens checked
//!   before clearing; implemented by the chain side);
//! - [`packets`] — the `PacketDesk` port (the relayer's packets for operators; implemented by
//!   the chain side) and the typed `PacketStatus`;
//! - [`chains`] — the escrow deployment per chain the coordinator signs for;
//! - [`metrics`] — the `MetricsSource` trait through which the chain side adds to `/metrics`;
//! - [`db`] — the shared database handle (each owning crate migrates its own tables);
//! - [`task`] — the periodic-task helper every worker loop runs on, and the thread of its
//!   own the writer's loops run on;
//! - [`backoff`] — the one retry policy type.
//!
//! Data flows one way: instruction → settlement → chain → evidence. `crates/cli` wires the
//! coordinator and the chain side through these ports (docs/architecture.md).

pub mod anchors;
pub mod backoff;
pub mod chains;
pub mod checkpoint;
pub mod db;
pub mod deposits;
pub mod eligibility;
pub mod ids;
pub mod instruction;
pub mod ledger;
pub mod metrics;
pub mod packets;
pub mod registrar;
pub mod state;
pub mod task;

pub use anchors::{AnchorCheckFailed, BundleAnchors};
pub use backoff::Backoff;
pub use chains::EscrowChain;
pub use db::{Backend, Db, DbError};
pub use deposits::{DepositLog, DepositLogError, ObservedDeposit};
pub use eligibility::{EligibilityError, Refusal, TransferEligibility};
pub use ids::{new_id, now_ms, onchain_settlement_id};
pub use instruction::InstructionStatus;
pub use ledger::{ChainSettlement, DecisionRecord, Ledger, LedgerError, OwedLeg};
pub use metrics::MetricsSource;
pub use packets::{
    MessageKind, PacketDesk, PacketDeskError, PacketFilter, PacketRecord, PacketStatus,
    RetryOutcome,
};
pub use registrar::{
    Attestation, ClearedSettlement, ClockError, RegistrationError, SettlementRegistrar,
};
pub use state::{SettlementState, TRANSITIONS};
pub use task::{Gate, Next, Periodic, spawn_on_own_thread};
