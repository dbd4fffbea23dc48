//! The settlement rows (`sqlx::FromRow`) and the queries behind the API, the worker and
//! the ledger. Writes of `settlements.state` happen only in [`super::machine`].

use crate::repo::{RepoView, StoredRepoStatus};
use crate::terms::Attestation;
use crate::trade::InstructionBody;
use crate::{Error, Result, rfc3339};
use lockstep_core::{Db, SettlementState, now_ms};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::{AnyConnection, Row};
use std::collections::HashMap;
use utoipa::ToSchema;

// The operator's reports read settlements too; they live in their own file.
pub use super::reports::{counts, ids_by_onchain, stuck};

/// A settlement as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SettlementRow {
    /// Id (`stl_...`).
    pub id: String,
    /// Trade reference.
    pub trade_reference: String,
    /// Template slug (the settlement type).
    pub template_slug: String,
    /// Current state.
    #[sqlx(try_from = "String")]
    pub state: SettlementState,
    /// Seller's instruction.
    pub seller_instruction_id: String,
    /// Buyer's instruction.
    pub buyer_instruction_id: String,
    /// Seller's platform.
    pub seller_platform_id: String,
    /// Buyer's platform.
    pub buyer_platform_id: String,
    /// Deadline, epoch ms.
    pub timeout_at: i64,
    /// Screening report and manual decision, JSON.
    pub compliance: Option<String>,
    /// `sha256:<hex>`.
    pub decision_ref: Option<String>,
    /// Decision evidence document, JSON.
    pub evidence: Option<String>,
    /// On-chain terms, JSON.
    pub terms: Option<String>,
    /// 0x-hex.
    pub terms_hash: Option<String>,
    /// Attestations, JSON.
    pub attestations: Option<String>,
    /// When the registrar was handed the settlement.
    pub registrar_notified_at: Option<i64>,
    /// Creation time.
    pub created_at: i64,
    /// Last change.
    pub updated_at: i64,
    /// How many parties (2, or more for a multi-party template).
    pub party_count: i64,
    /// A repo close: its opening.
    pub parent_settlement_id: Option<String>,
    /// A repo opening: its close, once registered.
    pub closing_settlement_id: Option<String>,
    /// A repo opening: where the repo stands.
    #[sqlx(try_from = "Option<String>")]
    pub repo_status: StoredRepoStatus,
    /// A repo opening: `maturity_at`, epoch ms.
    pub repo_maturity_at: Option<i64>,
    /// A repo opening: the closing terms fixed at opening, JSON.
    pub closing_terms: Option<String>,
    /// A repo opening: `sha256:<hex>` of the closing terms' JCS form.
    pub closing_terms_ref: Option<String>,
    /// The parties beyond the first two (`settlement_parties` positions 2 and up), filled
    /// by [`load`] and [`list`]; empty for a two-party settlement.
    #[sqlx(skip)]
    pub more_parties: Vec<PartyView>,
}

/// The columns of [`SettlementRow`].
pub(crate) const COLUMNS: &str = "id, trade_reference, template_slug, state, seller_instruction_id, buyer_instruction_id, seller_platform_id, buyer_platform_id, timeout_at, compliance, decision_ref, evidence, terms, terms_hash, attestations, registrar_notified_at, created_at, updated_at, party_count, parent_settlement_id, closing_settlement_id, repo_status, repo_maturity_at, closing_terms, closing_terms_ref";

impl SettlementRow {
    /// The platforms with a party in the settlement (deduplicated), as far as the row
    /// knows them: see [`platforms_of`] for a row read without its further parties.
    pub fn platforms(&self) -> Vec<&str> {
        let mut v = vec![self.seller_platform_id.as_str()];
        let more = self.more_parties.iter().map(|p| p.platform_id.as_str());
        for p in std::iter::once(self.buyer_platform_id.as_str()).chain(more) {
            if !v.contains(&p) {
                v.push(p);
            }
        }
        v
    }

    /// Whether `platform` has a party in the settlement (as far as the row knows).
    pub fn has_party(&self, platform: &str) -> bool {
        self.platforms().contains(&platform)
    }

    /// The API view.
    pub fn view(&self) -> Result<SettlementView> {
        Ok(SettlementView {
            id: self.id.clone(),
            trade_reference: self.trade_reference.clone(),
            settlement_type: self.template_slug.clone(),
            state: self.state,
            parties: vec![
                PartyView {
                    role: "seller".into(),
                    platform_id: self.seller_platform_id.clone(),
                    instruction_id: self.seller_instruction_id.clone(),
                },
                PartyView {
                    role: "buyer".into(),
                    platform_id: self.buyer_platform_id.clone(),
                    instruction_id: self.buyer_instruction_id.clone(),
                },
            ]
            .into_iter()
            .chain(self.more_parties.iter().cloned())
            .collect(),
            timeout_at: rfc3339(self.timeout_at),
            compliance: parse_json("compliance", self.compliance.as_deref())?,
            decision_ref: self.decision_ref.clone(),
            terms: parse_json("terms", self.terms.as_deref())?,
            terms_hash: self.terms_hash.clone(),
            attestations: parse_json("attestations", self.attestations.as_deref())?
                .unwrap_or_default(),
            evidence: parse_json("evidence", self.evidence.as_deref())?,
            owed: Vec::new(),
            deposits: Vec::new(),
            parent_settlement_id: self.parent_settlement_id.clone(),
            closing_settlement_id: self.closing_settlement_id.clone(),
            repo: crate::repo::view::of(self)?,
            created_at: rfc3339(self.created_at),
            updated_at: rfc3339(self.updated_at),
        })
    }
}

/// A party of a settlement.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, sqlx::FromRow)]
pub struct PartyView {
    /// `seller`, `buyer` or another role of a multi-party template (`fx_provider`).
    pub role: String,
    /// The party's platform.
    pub platform_id: String,
    /// The platform's instruction.
    pub instruction_id: String,
}

/// A settlement as the API shows it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SettlementView {
    /// Id (`stl_...`).
    pub id: String,
    /// Trade reference shared by both instructions.
    pub trade_reference: String,
    /// The template slug.
    pub settlement_type: String,
    /// Current state.
    pub state: SettlementState,
    /// Every party, each confirmed by its instruction, in the template's role order.
    pub parties: Vec<PartyView>,
    /// Deadline.
    pub timeout_at: String,
    /// Screening report and any manual decision.
    #[schema(value_type = Option<Object>)]
    pub compliance: Option<Value>,
    /// Settlement-level decision ref (`sha256:<hex>`); its digest is the on-chain decisionRef.
    pub decision_ref: Option<String>,
    /// The on-chain Terms (docs/onchain-terms.md), once cleared.
    #[schema(value_type = Option<Object>)]
    pub terms: Option<Value>,
    /// `keccak256(abi.encode(terms))`.
    pub terms_hash: Option<String>,
    /// One EIP-712 registration attestation per chain.
    pub attestations: Vec<Attestation>,
    /// Every preimage and ref of the decision.
    #[schema(value_type = Option<Object>)]
    pub evidence: Option<Value>,
    /// Legs the escrows could not pay and owe to their beneficiary, who claims them with
    /// `claim(token, to)` (escrow v2 `LegOwed`), by chain and leg. Filled by
    /// `GET /v1/settlements/{id}`; empty in lists.
    #[serde(default)]
    pub owed: Vec<super::owed::OwedView>,
    /// The deposits the escrows recorded (confirmed `LegDeposited` logs: who, which leg,
    /// chain, transaction, block time). Filled by `GET /v1/settlements/{id}` when the chain
    /// side's store is wired; empty in lists.
    #[serde(default)]
    pub deposits: Vec<lockstep_core::ObservedDeposit>,
    /// A repo close: the opening it closes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_settlement_id: Option<String>,
    /// A repo opening: its close, once registered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closing_settlement_id: Option<String>,
    /// A repo opening: status, maturity and the closing terms fixed at opening.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repo: Option<RepoView>,
    /// Creation time.
    pub created_at: String,
    /// Last change.
    pub updated_at: String,
}

/// Parses a stored JSON column into `T`, naming the column when it is corrupt.
pub(crate) fn parse_json<T: serde::de::DeserializeOwned>(
    what: &'static str,
    s: Option<&str>,
) -> Result<Option<T>> {
    s.map(|t| {
        serde_json::from_str(t).map_err(|e| Error::Corrupt {
            what,
            message: e.to_string(),
        })
    })
    .transpose()
}

/// Loads a settlement with all its parties.
pub async fn load(conn: &mut AnyConnection, id: &str) -> Result<Option<SettlementRow>> {
    let s: Option<SettlementRow> =
        sqlx::query_as(&format!("SELECT {COLUMNS} FROM settlements WHERE id = $1"))
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?;
    let Some(mut s) = s else { return Ok(None) };
    fill_parties(conn, std::slice::from_mut(&mut s)).await?;
    Ok(Some(s))
}

/// The parties beyond the first two of a multi-party settlement, by position.
async fn more_parties(conn: &mut AnyConnection, id: &str) -> Result<Vec<PartyView>> {
    Ok(sqlx::query_as("SELECT role, platform_id, instruction_id FROM settlement_parties WHERE settlement_id = $1 AND position >= 2 ORDER BY position")
        .bind(id).fetch_all(conn).await?)
}

/// Fills `more_parties` of the multi-party settlements among `rows` (one query each; a
/// two-party settlement costs nothing).
pub(crate) async fn fill_parties(
    conn: &mut AnyConnection,
    rows: &mut [SettlementRow],
) -> Result<()> {
    for s in rows
        .iter_mut()
        .filter(|s| s.party_count > 2 && s.more_parties.is_empty())
    {
        s.more_parties = more_parties(conn, &s.id).await?;
    }
    Ok(())
}

/// Every platform with a party in `s`, reading the further parties of a multi-party
/// settlement when the row came without them (a work-queue claim).
pub(crate) async fn platforms_of(
    conn: &mut AnyConnection,
    s: &SettlementRow,
) -> Result<Vec<String>> {
    let mut v: Vec<String> = s.platforms().into_iter().map(String::from).collect();
    if s.party_count > 2 && s.more_parties.is_empty() {
        for p in more_parties(conn, &s.id).await? {
            if !v.contains(&p.platform_id) {
                v.push(p.platform_id);
            }
        }
    }
    Ok(v)
}

/// A settlement visible to `platform` (`None` = operator, sees all): every party's
/// platform reads it.
pub async fn get_visible(
    db: &Db,
    id: &str,
    platform: Option<&str>,
) -> Result<Option<SettlementRow>> {
    let mut conn = db.pool().acquire().await?;
    let s = load(&mut conn, id).await?;
    Ok(s.filter(|s| platform.is_none_or(|p| s.has_party(p))))
}

/// Which settlements [`list`] returns.
#[derive(Debug, Clone, Copy, Default)]
pub struct ListFilter<'a> {
    /// Only those with a party on this platform (`None`: all).
    pub party: Option<&'a str>,
    /// Only those in this state.
    pub state: Option<SettlementState>,
    /// Only those of this template.
    pub template: Option<&'a str>,
}

/// The settlements `filter` selects, newest first, and how many it selects in all.
pub async fn list(
    db: &Db,
    filter: &ListFilter<'_>,
    limit: i64,
    offset: i64,
) -> Result<(Vec<SettlementRow>, i64)> {
    let mut cond = String::from("1 = 1");
    let mut binds: Vec<String> = Vec::new();
    if let Some(p) = filter.party {
        binds.push(p.into());
        cond.push_str(&format!(
            " AND (seller_platform_id = ${n} OR buyer_platform_id = ${n} OR (party_count > 2 AND id IN (SELECT settlement_id FROM settlement_parties WHERE platform_id = ${n})))",
            n = binds.len()
        ));
    }
    if let Some(s) = filter.state {
        binds.push(s.as_str().into());
        cond.push_str(&format!(" AND state = ${}", binds.len()));
    }
    if let Some(t) = filter.template {
        binds.push(t.into());
        cond.push_str(&format!(" AND template_slug = ${}", binds.len()));
    }
    let count_sql = format!("SELECT COUNT(*) AS n FROM settlements WHERE {cond}");
    let mut q = sqlx::query(&count_sql);
    for b in &binds {
        q = q.bind(b.clone());
    }
    let total: i64 = q.fetch_one(db.pool()).await?.try_get("n")?;
    let sql = format!(
        "SELECT {COLUMNS} FROM settlements WHERE {cond} ORDER BY created_at DESC, id DESC LIMIT ${} OFFSET ${}",
        binds.len() + 1,
        binds.len() + 2
    );
    let mut q = sqlx::query_as(&sql);
    for b in &binds {
        q = q.bind(b.clone());
    }
    let mut conn = db.pool().acquire().await?;
    let mut rows: Vec<SettlementRow> = q.bind(limit).bind(offset).fetch_all(&mut *conn).await?;
    fill_parties(&mut conn, &mut rows).await?;
    Ok((rows, total))
}

/// One entry of the transition trail.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct EventView {
    /// 1-based position in the trail.
    pub seq: i64,
    /// Previous state (null for the creation).
    pub from_state: Option<SettlementState>,
    /// New state.
    pub to_state: SettlementState,
    /// Why.
    pub cause: String,
    /// When.
    pub at: String,
    /// Hash of the previous event.
    pub prev_hash: Option<String>,
    /// `sha256:` over the JCS form of `{settlement_id, seq, from_state, to_state, cause, at, prev_hash}`.
    pub hash: String,
}

/// A `settlement_events` row.
#[derive(Debug, sqlx::FromRow)]
struct EventRow {
    seq: i64,
    from_state: Option<String>,
    #[sqlx(try_from = "String")]
    to_state: SettlementState,
    cause: String,
    at: i64,
    prev_hash: Option<String>,
    hash: String,
}

/// The settlement's trail.
pub async fn events(db: &Db, id: &str) -> Result<Vec<EventView>> {
    let rows: Vec<EventRow> = sqlx::query_as("SELECT seq, from_state, to_state, cause, at, prev_hash, hash FROM settlement_events WHERE settlement_id = $1 ORDER BY seq")
        .bind(id).fetch_all(db.pool()).await?;
    Ok(rows
        .into_iter()
        .map(|r| EventView {
            seq: r.seq,
            from_state: r.from_state.as_deref().and_then(SettlementState::parse),
            to_state: r.to_state,
            cause: r.cause,
            at: rfc3339(r.at),
            prev_hash: r.prev_hash,
            hash: r.hash,
        })
        .collect())
}

/// The receipt-anchored evidence bundle, once the chain side built it.
pub async fn bundle(db: &Db, id: &str) -> Result<Option<Value>> {
    let row = sqlx::query("SELECT bundle FROM settlements WHERE id = $1")
        .bind(id)
        .fetch_optional(db.pool())
        .await?;
    let Some(row) = row else { return Ok(None) };
    let text: Option<String> = row.try_get("bundle")?;
    parse_json("evidence bundle", text.as_deref())
}

/// The stored deposit authorisations (`[{leg_index, role, authorization, deposit_key?, private_key?}]`,
/// column `deposit_secrets`), once cleared.
pub async fn deposit_secrets(db: &Db, id: &str) -> Result<Option<Vec<Value>>> {
    let row = sqlx::query("SELECT deposit_secrets FROM settlements WHERE id = $1")
        .bind(id)
        .fetch_one(db.pool())
        .await?;
    let text: Option<String> = row.try_get("deposit_secrets")?;
    Ok(text.map(|t| serde_json::from_str(&t)).transpose()?)
}

/// An instruction's stored body and creation time.
#[derive(Debug, sqlx::FromRow)]
struct BodyRow {
    id: String,
    body: String,
    created_at: i64,
}

impl BodyRow {
    fn decode(self) -> Result<(InstructionBody, i64)> {
        let body = serde_json::from_str(&self.body).map_err(|e| Error::Corrupt {
            what: "instruction body",
            message: e.to_string(),
        })?;
        Ok((body, self.created_at))
    }
}

/// The normalised body of an instruction and when it was created.
pub async fn instruction_body(
    conn: &mut AnyConnection,
    id: &str,
) -> Result<(InstructionBody, i64)> {
    let r: BodyRow = sqlx::query_as("SELECT id, body, created_at FROM instructions WHERE id = $1")
        .bind(id)
        .fetch_optional(conn)
        .await?
        .ok_or(Error::NotFound {
            kind: "instruction",
            id: id.into(),
        })?;
    r.decode()
}

/// Both instruction bodies (seller, buyer) of each settlement, by settlement id, read in
/// one query; a settlement whose instructions are missing is left out.
pub async fn bodies_of(
    conn: &mut AnyConnection,
    settlements: &[SettlementRow],
) -> Result<HashMap<String, [(InstructionBody, i64); 2]>> {
    if settlements.is_empty() {
        return Ok(HashMap::new());
    }
    let ids: Vec<&str> = settlements
        .iter()
        .flat_map(|s| {
            [
                s.seller_instruction_id.as_str(),
                s.buyer_instruction_id.as_str(),
            ]
        })
        .collect();
    let sql = format!(
        "SELECT id, body, created_at FROM instructions WHERE id IN ({})",
        crate::sql::placeholders(ids.len())
    );
    let mut q = sqlx::query_as::<_, BodyRow>(&sql);
    for id in &ids {
        q = q.bind(*id);
    }
    let mut found: HashMap<String, (InstructionBody, i64)> = HashMap::new();
    for r in q.fetch_all(conn).await? {
        let id = r.id.clone();
        found.insert(id, r.decode()?);
    }
    Ok(settlements
        .iter()
        .filter_map(|s| {
            let seller = found.get(&s.seller_instruction_id)?.clone();
            let buyer = found.get(&s.buyer_instruction_id)?.clone();
            Some((s.id.clone(), [seller, buyer]))
        })
        .collect())
}

/// Both instruction bodies of a settlement (seller, buyer) with their creation times.
pub async fn both_bodies(db: &Db, s: &SettlementRow) -> Result<[(InstructionBody, i64); 2]> {
    let mut conn = db.pool().acquire().await?;
    let seller = instruction_body(&mut conn, &s.seller_instruction_id).await?;
    let buyer = instruction_body(&mut conn, &s.buyer_instruction_id).await?;
    Ok([seller, buyer])
}

/// The parties beyond the first two (none for a two-party settlement), in position
/// order: platform, instruction body and its creation time.
pub async fn more_bodies(
    db: &Db,
    s: &SettlementRow,
) -> Result<Vec<(String, InstructionBody, i64)>> {
    if s.party_count <= 2 {
        return Ok(Vec::new());
    }
    let mut conn = db.pool().acquire().await?;
    let mut out = Vec::new();
    for p in more_parties(&mut conn, &s.id).await? {
        let (body, created) = instruction_body(&mut conn, &p.instruction_id).await?;
        out.push((p.platform_id, body, created));
    }
    Ok(out)
}

/// Records that the registrar took the settlement (it is not handed over again).
pub async fn mark_registered(db: &Db, id: &str) -> Result<()> {
    // The registrar step is done: its lease ends, so a later queue (a repo opening's
    // close, once it is FINALIZED) can claim the settlement at once.
    sqlx::query(
        "UPDATE settlements SET registrar_notified_at = $1, worker_lease_until = 0 WHERE id = $2",
    )
    .bind(now_ms())
    .bind(id)
    .execute(db.pool())
    .await?;
    Ok(())
}
