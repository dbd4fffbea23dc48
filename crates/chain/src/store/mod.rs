//! The chain store: the tables the chain side owns (`chain_cursors`, `chain_blocks`,
//! `chain_logs`, `lz_packets`), created by this crate's own migrations
//! (`crates/chain/migrations`, versions from 1001 so they never collide with the
//! coordinator's in the shared `_sqlx_migrations` table), and the typed queries over them.
//! Nothing here reads or writes a coordinator table: settlements are reached through the
//! `Ledger` port only.
//!
//! - [`logs`]: cursors, block hashes and decoded logs (written by the indexer, read by the
//!   reconciler, the relayer's ingestion and the resend keeper);
//! - [`packets`]: the relayer's `lz_packets` rows and their typed [`PacketStatus`];
//! - [`packet_views`]: the operator's packet list, forced retry, stale packets and the backlog
//!   metrics.

pub mod logs;
pub mod packet_views;
pub mod packets;

pub use logs::{BlockRow, Cursor, DeferredMessage, IndexedRound, LogFact, NewLog, PacketSentLog};
pub use packet_views::{PacketBacklog, StoredPacket};
pub use packets::{DuePacket, NewPacket, PacketStatus};

use crate::error::{ChainError, Result};
use lockstep_core::Db;

/// The chain side's tables, migrated.
#[derive(Debug, Clone)]
pub struct ChainStore {
    db: Db,
}

impl ChainStore {
    /// Applies the chain side's migrations to `db` (idempotent; other crates' migrations in
    /// the same database are left alone) and returns the store.
    pub async fn open(db: Db) -> Result<ChainStore> {
        let mut migrator = sqlx::migrate!("./migrations");
        migrator.set_ignore_missing(true);
        migrator.run(db.pool()).await?;
        Ok(ChainStore { db })
    }

    /// The database handle (the leader election uses its pool and backend).
    pub fn db(&self) -> &Db {
        &self.db
    }

    fn pool(&self) -> &sqlx::AnyPool {
        self.db.pool()
    }
}

/// A number as the BIGINT column stores it.
pub(crate) fn to_i64(what: &'static str, v: u64) -> Result<i64> {
    i64::try_from(v).map_err(|_| ChainError::corrupt(what, v))
}

/// A BIGINT column read back as the unsigned number it was written from.
pub(crate) fn to_u64(what: &'static str, v: i64) -> Result<u64> {
    u64::try_from(v).map_err(|_| ChainError::corrupt(what, v))
}

/// A stored lowercase-hex 32-byte value.
pub(crate) fn parse_b256(what: &'static str, s: &str) -> Result<alloy::primitives::B256> {
    s.parse().map_err(|_| ChainError::corrupt(what, s))
}

#[cfg(test)]
mod tests;
