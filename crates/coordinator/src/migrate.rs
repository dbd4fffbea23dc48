//! The coordinator's schema: `sqlx::migrate!("./migrations")` (versions 1–999; the chain
//! side numbers its own from 1001 and both share `_sqlx_migrations`, hence
//! `set_ignore_missing`), preceded by the bridge from the previous hand-written runner
//! and followed by the backfill of `settlements.onchain_id`.

use crate::Result;
use lockstep_core::{Backend, Db, onchain_settlement_id};
use sqlx::Row;
use sqlx::migrate::{Migrate, Migrator};

/// The embedded migrations of the coordinator's tables, tolerating the chain side's
/// versions in the shared `_sqlx_migrations`.
fn migrator() -> Migrator {
    let mut m = sqlx::migrate!("./migrations");
    m.set_ignore_missing(true);
    m
}

/// The versions the previous runner (`lockstep_schema_migrations`) could have applied; they
/// are the same files as today's 0001 and 0002 (0002 without the chain tables, which the
/// chain side now creates `IF NOT EXISTS`).
const LEGACY_VERSIONS: [i64; 2] = [1, 2];

/// Brings the coordinator's tables up to date: records what the previous runner applied,
/// applies pending migrations, and fills `onchain_id` of settlements made before it existed.
pub async fn migrate(db: &Db) -> Result<()> {
    let migrator = migrator();
    bridge_legacy_runner(db, &migrator).await?;
    migrator.run(db.pool()).await?;
    backfill_onchain_ids(db).await
}

/// Whether the previous runner's bookkeeping table exists.
async fn has_legacy_table(db: &Db) -> Result<bool> {
    let sql = match db.backend() {
        Backend::Sqlite => {
            "SELECT COUNT(*) AS n FROM sqlite_master WHERE type = 'table' AND name = 'lockstep_schema_migrations'"
        }
        Backend::Postgres => {
            "SELECT COUNT(*) AS n FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = 'lockstep_schema_migrations'"
        }
    };
    // A count, not the name: the Any driver cannot decode PostgreSQL's `name` type.
    let n: i64 = sqlx::query(sql).fetch_one(db.pool()).await?.try_get("n")?;
    Ok(n > 0)
}

/// A database made by the previous runner lists its versions in
/// `lockstep_schema_migrations` and has no `_sqlx_migrations`: records those versions as
/// applied, with the checksums of today's files, in one transaction, so sqlx does not run
/// them again. Does nothing on a new database or once recorded.
async fn bridge_legacy_runner(db: &Db, migrator: &Migrator) -> Result<()> {
    if !has_legacy_table(db).await? {
        return Ok(());
    }
    {
        let mut conn = db.pool().acquire().await?;
        conn.ensure_migrations_table().await?;
    }
    let mut tx = db.pool().begin().await?;
    let old: Vec<i64> = sqlx::query("SELECT version FROM lockstep_schema_migrations")
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(|r| r.try_get::<i64, _>("version"))
        .collect::<Result<_, _>>()?;
    for m in migrator
        .iter()
        .filter(|m| LEGACY_VERSIONS.contains(&m.version) && old.contains(&m.version))
    {
        let recorded = sqlx::query("SELECT version FROM _sqlx_migrations WHERE version = $1")
            .bind(m.version)
            .fetch_optional(&mut *tx)
            .await?;
        if recorded.is_some() {
            continue;
        }
        sqlx::query("INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) VALUES ($1, $2, TRUE, $3, 0)")
            .bind(m.version)
            .bind(m.description.to_string())
            .bind(m.checksum.to_vec())
            .execute(&mut *tx)
            .await?;
        tracing::info!(
            version = m.version,
            "recorded a migration of the previous runner"
        );
    }
    tx.commit().await?;
    Ok(())
}

/// Sets `onchain_id = keccak256(trade_reference)` where it is missing (rows made before
/// migration 3; new settlements get it at creation).
async fn backfill_onchain_ids(db: &Db) -> Result<()> {
    let rows = sqlx::query("SELECT id, trade_reference FROM settlements WHERE onchain_id IS NULL")
        .fetch_all(db.pool())
        .await?;
    for r in rows {
        let id: String = r.try_get("id")?;
        let reference: String = r.try_get("trade_reference")?;
        sqlx::query("UPDATE settlements SET onchain_id = $1 WHERE id = $2 AND onchain_id IS NULL")
            .bind(onchain_settlement_id(&reference).to_string())
            .bind(&id)
            .execute(db.pool())
            .await?;
    }
    Ok(())
}
