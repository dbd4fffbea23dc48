//! The coordinator's implementation of the [`Ledger`] port: how the chain side reads
//! settlements with on-chain terms, moves them along the state machine and stores their
//! evidence bundle, without seeing the coordinator's tables.

use super::machine::{AfterCommit, apply_transition};
use crate::terms::terms_from_json;
use alloy::primitives::B256;
use async_trait::async_trait;
use lockstep_core::{
    ChainSettlement, Db, DecisionRecord, Ledger, LedgerError, OwedLeg, SettlementState,
    onchain_settlement_id,
};
use lockstep_evidence::dvp::DvpDecisionInput;
use serde_json::Value;

/// The ledger over the coordinator's `settlements` table; transitions go through the
/// guarded [`super::machine::transition`] and its post-commit hook.
#[derive(Debug, Clone)]
pub struct CoordinatorLedger {
    db: Db,
    hook: AfterCommit,
}

impl CoordinatorLedger {
    /// A ledger over `db` whose transitions run `hook` after committing.
    pub fn new(db: Db, hook: AfterCommit) -> CoordinatorLedger {
        CoordinatorLedger { db, hook }
    }
}

/// What the port reads of a settlement.
#[derive(Debug, sqlx::FromRow)]
struct ChainRow {
    id: String,
    trade_reference: String,
    #[sqlx(try_from = "String")]
    state: SettlementState,
    terms: String,
    terms_hash: Option<String>,
    evidence: Option<String>,
    has_bundle: i64,
}

/// The columns of [`ChainRow`].
const CHAIN_COLUMNS: &str = "id, trade_reference, state, terms, terms_hash, evidence, CAST(CASE WHEN bundle IS NULL THEN 0 ELSE 1 END AS BIGINT) AS has_bundle";

fn storage(e: sqlx::Error) -> LedgerError {
    LedgerError::Storage(Box::new(e))
}

impl ChainRow {
    fn corrupt(&self, what: &'static str, message: impl ToString) -> LedgerError {
        LedgerError::Corrupt {
            settlement_id: self.id.clone(),
            what,
            message: message.to_string(),
        }
    }

    /// The decision inputs kept in the evidence document (`input`, `decided_at_ms`).
    fn decision(&self) -> Result<Option<DecisionRecord>, LedgerError> {
        let Some(text) = &self.evidence else {
            return Ok(None);
        };
        let doc: Value =
            serde_json::from_str(text).map_err(|e| self.corrupt("decision evidence", e))?;
        let input: DvpDecisionInput = serde_json::from_value(
            doc.get("input")
                .cloned()
                .ok_or_else(|| self.corrupt("decision evidence", "no input"))?,
        )
        .map_err(|e| self.corrupt("decision evidence", e))?;
        let decided_at_ms = doc
            .get("decided_at_ms")
            .and_then(Value::as_u64)
            .ok_or_else(|| self.corrupt("decision evidence", "no decided_at_ms"))?;
        Ok(Some(DecisionRecord {
            input,
            decided_at_ms,
        }))
    }

    fn into_settlement(self) -> Result<ChainSettlement, LedgerError> {
        let tv: Value = serde_json::from_str(&self.terms).map_err(|e| self.corrupt("terms", e))?;
        let terms = terms_from_json(&tv).ok_or_else(|| self.corrupt("terms", "unreadable"))?;
        let terms_hash: B256 = self
            .terms_hash
            .as_deref()
            .and_then(|h| h.parse().ok())
            .ok_or_else(|| self.corrupt("terms hash", "missing or unreadable"))?;
        let decision = self.decision()?;
        Ok(ChainSettlement {
            onchain_id: onchain_settlement_id(&self.trade_reference),
            id: self.id,
            trade_reference: self.trade_reference,
            state: self.state,
            terms,
            terms_hash,
            decision,
            has_bundle: self.has_bundle != 0,
        })
    }
}

impl CoordinatorLedger {
    async fn one(&self, cond: &str, key: &str) -> Result<Option<ChainSettlement>, LedgerError> {
        let row: Option<ChainRow> = sqlx::query_as(&format!(
            "SELECT {CHAIN_COLUMNS} FROM settlements WHERE {cond} AND terms IS NOT NULL"
        ))
        .bind(key)
        .fetch_optional(self.db.pool())
        .await
        .map_err(storage)?;
        row.map(ChainRow::into_settlement).transpose()
    }
}

#[async_trait]
impl Ledger for CoordinatorLedger {
    async fn live_settlements(&self) -> Result<Vec<ChainSettlement>, LedgerError> {
        let terminal = |s: SettlementState| format!("'{}'", s.as_str());
        let sql = format!(
            "SELECT {CHAIN_COLUMNS} FROM settlements WHERE terms IS NOT NULL AND (state IN ({}, {}, {}) OR (state IN ({}, {}, {}) AND bundle IS NULL)) ORDER BY created_at",
            terminal(SettlementState::ComplianceCleared),
            terminal(SettlementState::AwaitingDeposits),
            terminal(SettlementState::ExecutingSwap),
            terminal(SettlementState::Finalized),
            terminal(SettlementState::RolledBack),
            terminal(SettlementState::TimedOut),
        );
        let rows: Vec<ChainRow> = sqlx::query_as(&sql)
            .fetch_all(self.db.pool())
            .await
            .map_err(storage)?;
        rows.into_iter().map(ChainRow::into_settlement).collect()
    }

    async fn settlement(&self, id: &str) -> Result<Option<ChainSettlement>, LedgerError> {
        self.one("id = $1", id).await
    }

    async fn find_by_onchain_id(
        &self,
        onchain_id: B256,
    ) -> Result<Option<ChainSettlement>, LedgerError> {
        self.one("onchain_id = $1", &onchain_id.to_string()).await
    }

    async fn apply_transition(
        &self,
        id: &str,
        to: SettlementState,
        cause: &str,
    ) -> Result<(), LedgerError> {
        Ok(apply_transition(&self.db, &self.hook, id, to, cause).await?)
    }

    async fn record_owed(&self, id: &str, owed: &OwedLeg) -> Result<bool, LedgerError> {
        Ok(super::owed::record(&self.db, &self.hook, id, owed).await?)
    }

    async fn store_bundle(
        &self,
        id: &str,
        bundle: &serde_json::Value,
    ) -> Result<bool, LedgerError> {
        let text = serde_json::to_string(bundle).map_err(|e| LedgerError::Storage(Box::new(e)))?;
        let r = sqlx::query("UPDATE settlements SET bundle = $1 WHERE id = $2 AND bundle IS NULL")
            .bind(text)
            .bind(id)
            .execute(self.db.pool())
            .await
            .map_err(storage)?;
        Ok(r.rows_affected() == 1)
    }
}
