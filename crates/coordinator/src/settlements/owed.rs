//! Owed legs (escrow v2, security.md R1): a leg whose transfer failed on chain is owed by
//! the escrow to its beneficiary, who claims it. The chain side records each one once
//! through the `Ledger` port ([`record`]); every platform of the settlement gets a
//! `settlement.leg_owed` webhook in the same transaction; the API lists them ([`list`]).

use super::machine::{AfterCommit, notify_parties};
use super::store;
use crate::{Error, Result, rfc3339};
use lockstep_core::{Db, OwedLeg, now_ms};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

/// A leg owed on chain, as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct OwedView {
    /// Index of the leg in the terms.
    pub leg_index: i64,
    /// EVM chain id of the escrow that owes it.
    pub chain_id: i64,
    /// That escrow.
    pub escrow: String,
    /// Who may claim it (`claim(token, to)` from this address): the recipient when the
    /// release failed, the depositor when the refund failed.
    pub beneficiary: String,
    /// The ERC-20.
    pub token: String,
    /// Amount, base units (decimal string).
    pub amount: String,
    /// `true`: a refund to the depositor failed; `false`: a release to the recipient.
    pub refund: bool,
    /// The transaction that recorded it.
    pub tx_hash: String,
    /// When the coordinator recorded it (RFC 3339).
    pub recorded_at: String,
}

/// Records `o` once for settlement `id` and, in the same transaction, queues the
/// `settlement.leg_owed` webhook to every platform of the settlement; runs the post-commit
/// wake-up. `false` (and nothing queued) when it was recorded before.
pub async fn record(db: &Db, hook: &AfterCommit, id: &str, o: &OwedLeg) -> Result<bool> {
    let mut tx = db.pool().begin().await?;
    let s = store::load(&mut tx, id).await?.ok_or(Error::NotFound {
        kind: "settlement",
        id: id.into(),
    })?;
    let chain_id = i64::try_from(o.chain_id).map_err(|e| corrupt(e.to_string()))?;
    let leg_index = i64::try_from(o.leg_index).map_err(|e| corrupt(e.to_string()))?;
    let r = sqlx::query("INSERT INTO owed_legs (settlement_id, chain_id, leg_index, escrow, beneficiary, token, amount, refund, tx_hash, recorded_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT DO NOTHING")
        .bind(id).bind(chain_id).bind(leg_index)
        .bind(o.escrow.to_checksum(None)).bind(o.beneficiary.to_checksum(None)).bind(o.token.to_checksum(None))
        .bind(o.amount.to_string()).bind(i64::from(o.refund)).bind(o.tx_hash.to_string()).bind(now_ms())
        .execute(&mut *tx).await?;
    if r.rows_affected() == 0 {
        return Ok(false);
    }
    let data = json!({
        "settlement_id": s.id,
        "leg_index": o.leg_index,
        "chain_id": o.chain_id,
        "escrow": o.escrow.to_checksum(None),
        "beneficiary": o.beneficiary.to_checksum(None),
        "token": o.token.to_checksum(None),
        "amount": o.amount.to_string(),
        "refund": o.refund,
        "tx_hash": o.tx_hash.to_string(),
    });
    notify_parties(&mut tx, &s, "settlement.leg_owed", &data).await?;
    tx.commit().await?;
    tracing::warn!(settlement_id = id, chain_id = o.chain_id, leg_index = o.leg_index, beneficiary = %o.beneficiary, refund = o.refund, "leg owed on chain");
    hook.queued_webhooks();
    Ok(true)
}

fn corrupt(message: String) -> Error {
    Error::Corrupt {
        what: "owed leg",
        message,
    }
}

/// The legs owed on chain for settlement `id`, by chain and leg.
pub async fn list(db: &Db, id: &str) -> Result<Vec<OwedView>> {
    let rows = sqlx::query_as::<_, (i64, i64, String, String, String, String, i64, String, i64)>(
        "SELECT chain_id, leg_index, escrow, beneficiary, token, amount, refund, tx_hash, recorded_at FROM owed_legs WHERE settlement_id = $1 ORDER BY chain_id, leg_index",
    )
    .bind(id)
    .fetch_all(db.pool())
    .await?;
    Ok(rows
        .into_iter()
        .map(
            |(chain_id, leg_index, escrow, beneficiary, token, amount, refund, tx_hash, at)| {
                OwedView {
                    leg_index,
                    chain_id,
                    escrow,
                    beneficiary,
                    token,
                    amount,
                    refund: refund != 0,
                    tx_hash,
                    recorded_at: rfc3339(at),
                }
            },
        )
        .collect())
}
