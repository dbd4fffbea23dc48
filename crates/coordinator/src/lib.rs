//! The Lockstep coordinator: matches settlement instructions from platforms, screens the
//! parties, drives the settlement state machine and delivers signed webhooks. It
//! implements the [`lockstep_core::Ledger`] port the chain side moves settlements
//! through, and calls the [`lockstep_core::SettlementRegistrar`] port the chain side
//! implements; it never depends on the chain crate.
//!
//! # Composition (what `crates/cli` does)
//! ```text
//! let db = lockstep_core::Db::connect(&config.database_url()).await?;
//! lockstep_coordinator::migrate(&db).await?;          // the coordinator's tables
//! let app = Coordinator::new(config, db.clone(), escrows, attester)?;
//! let ledger = app.ledger();                          // Arc<dyn Ledger>, before start
//! // ... build the chain side from `db` and `ledger`; it hands back its registrar, its
//! // transfer-eligibility check, its MetricsSource, its PacketDesk and a function spawning
//! // its tasks ...
//! let extras = Extras { registrar: Some(registrar), eligibility: Some(check), metrics_sources: vec![chain_metrics], packets: Some(desk), ..Extras::default() };
//! let server = app.start_with(extras, |shutdown| chain.spawn(shutdown)).await?;
//! // (`app.start(Extras::default())` without a chain side)
//! server.shutdown().await;                            // awaits every task, closes the pool
//! ```
//! [`Coordinator::open`] connects, migrates and composes in one call (the API tests).
//!
//! # Layout
//! - [`server`]: composition and start only (router, workers, graceful shutdown);
//!   nothing imports it.
//! - [`settlements`]: the settlement lifecycle in one place.
//!   [`settlements::machine`] holds `create`, the guarded `transition` (table in
//!   `lockstep_core::state`), the one event-record builder of the hash-chained trail and
//!   the one post-commit hook ([`settlements::machine::AfterCommit`]: transition metric,
//!   webhook and worker wake-ups); [`settlements::screening`] the compliance pipeline
//!   (screen, clear, roll back, manual decision, registrar hand-over);
//!   [`settlements::store`] the rows (`sqlx::FromRow`) and queries;
//!   [`settlements::deposits`] the deposit calldata;
//!   [`settlements::ledger`] the `Ledger` implementation ([`CoordinatorLedger`]);
//!   [`settlements::worker`] the settlement worker; [`settlements::Lifecycle`] is
//!   the context these steps take.
//! - [`instructions`]: validation, matching rules and `submit` (validate →
//!   replay-or-reserve → match → persist); [`trade`] the wire types of one side of a
//!   trade that both instructions and settlements read.
//! - [`terms`]: the on-chain terms (a pure construction), their JSON form and the
//!   EIP-712 attestation; [`evidence`] the compliance decision evidence.
//! - [`webhooks`]: endpoints, the transactional outbox, the delivery worker (typed
//!   [`webhooks::DeliveryStatus`]), the target rules (SSRF), the retry schedule and
//!   redeliver/recover.
//! - [`api`]: the HTTP handlers by concern and the OpenAPI document; `/metrics` appends
//!   the registered `MetricsSource`s.
//! - [`repo`]: tokenised repo: the repo fields and rules, the closing terms fixed at
//!   opening, the close registered once after maturity (worker round) or by an operator,
//!   the repo status on the opening.
//! - [`compliance`]: screening providers; [`auth`], [`admin`]: tokens and platforms;
//!   [`templates`], [`validate`], [`metrics`], [`config`], [`mod@migrate`]; `sql`: the
//!   numbered parameter lists every multi-row statement builds, and statements sent
//!   together (one request on SQLite; a leaf, private).
//!
//! # Tables
//! The coordinator owns `platforms`, `api_tokens`, `instructions`, `settlements` (with
//! its `bundle` column, written by the chain side only through the `Ledger` port),
//! `settlement_events`, `webhook_endpoints`, `webhook_events`, `webhook_deliveries`,
//! `webhook_attempts`, `webhook_previous_secrets` (migration 6: every replaced secret
//! still inside its overlap window), `attested_terms` (migration 4: the one term set the attester signed
//! per on-chain settlement id, written in the clearing transaction, so it never signs a
//! second one, across restarts and instances) and `owed_legs` (migration 5: legs an escrow
//! owes on chain, written by the chain side only through `Ledger::record_owed`), created
//! by `migrations/` (versions 1–999) through [`migrate()`],
//! which first records the versions a database of the previous hand-written runner
//! (`lockstep_schema_migrations`) had applied. The chain side's tables (`chain_logs`,
//! `chain_blocks`, `chain_cursors`, `lz_packets`) live in its own migrations (from 1001);
//! both share `_sqlx_migrations`. The chain side finds a settlement by its on-chain id
//! through the indexed `settlements.onchain_id` column (migration 3, backfilled).
//!
//! Every worker (settlement worker, webhook worker, expiry sweeper) runs on
//! `lockstep_core::Periodic`; webhook retries follow `webhooks::schedule`.

pub mod admin;
pub mod api;
pub mod auth;
pub mod compliance;
pub mod config;
pub mod error;
pub mod evidence;
pub mod instructions;
pub mod metrics;
pub mod migrate;
pub mod multileg;
pub mod repo;
mod serve;
pub mod server;
pub mod settlements;
mod sql;
pub mod templates;
pub mod terms;
pub mod trade;
pub mod validate;
pub mod webhooks;

pub use error::{Error, Result};
pub use migrate::migrate;
pub use server::{Coordinator, Extras, Server, load_attester};
pub use settlements::ledger::CoordinatorLedger;

/// RFC 3339 rendering of a stored millisecond time.
pub(crate) fn rfc3339(ms: i64) -> String {
    chrono::DateTime::<chrono::Utc>::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_default()
}

/// Fills a buffer from the operating system's random source.
pub(crate) fn random_bytes<const N: usize>() -> Result<[u8; N]> {
    let mut buf = [0u8; N];
    getrandom::fill(&mut buf).map_err(Error::Random)?;
    Ok(buf)
}
