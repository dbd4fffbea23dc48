//! The operator's reports over the settlements: counts by state, the stuck list, and the
//! settlement ids of on-chain ids (the packet desk's stuck packets).

use super::store::{COLUMNS, SettlementRow, fill_parties};
use crate::Result;
use lockstep_core::{Db, SettlementState, now_ms};
use sqlx::Row;
use std::collections::HashMap;

/// Per-state counts.
pub async fn counts(db: &Db) -> Result<Vec<(SettlementState, i64)>> {
    let rows = sqlx::query("SELECT state, COUNT(*) AS n FROM settlements GROUP BY state")
        .fetch_all(db.pool())
        .await?;
    let mut out: Vec<(SettlementState, i64)> =
        SettlementState::ALL.iter().map(|s| (*s, 0)).collect();
    for r in rows {
        let st: String = r.try_get("state")?;
        if let Some(slot) = out.iter_mut().find(|(s, _)| s.as_str() == st) {
            slot.1 = r.try_get("n")?;
        }
    }
    Ok(out)
}

/// Settlements needing an operator, oldest change first: non-terminal ones past their
/// deadline or idle for `stuck_after_secs`, and (in any state) those whose on-chain id is
/// in `with_stale_packets` (the settlements of packets undelivered or blocked past the
/// threshold).
pub async fn stuck(
    db: &Db,
    stuck_after_secs: u64,
    with_stale_packets: &[String],
    limit: i64,
    offset: i64,
) -> Result<(Vec<SettlementRow>, i64)> {
    let now = now_ms();
    let idle = now - i64::try_from(stuck_after_secs.saturating_mul(1000)).unwrap_or(i64::MAX / 2);
    let terminal: Vec<String> = SettlementState::ALL
        .iter()
        .filter(|s| s.is_terminal())
        .map(|s| format!("'{}'", s.as_str()))
        .collect();
    // The on-chain ids are bound as $3.. after `now` and `idle`; limit and offset follow.
    let n = with_stale_packets.len();
    let packets = if n == 0 {
        String::new()
    } else {
        let list: Vec<String> = (3..3 + n).map(|i| format!("${i}")).collect();
        format!(" OR onchain_id IN ({})", list.join(", "))
    };
    let cond = format!(
        "(state NOT IN ({}) AND (timeout_at <= $1 OR updated_at <= $2)){packets}",
        terminal.join(", ")
    );
    let count_sql = format!("SELECT COUNT(*) AS n FROM settlements WHERE {cond}");
    let mut count = sqlx::query(&count_sql).bind(now).bind(idle);
    for id in with_stale_packets {
        count = count.bind(id);
    }
    let total: i64 = count.fetch_one(db.pool()).await?.try_get("n")?;
    let sql = format!(
        "SELECT {COLUMNS} FROM settlements WHERE {cond} ORDER BY updated_at, id LIMIT ${} OFFSET ${}",
        3 + n,
        4 + n
    );
    let mut conn = db.pool().acquire().await?;
    let mut rows = sqlx::query_as(&sql).bind(now).bind(idle);
    for id in with_stale_packets {
        rows = rows.bind(id);
    }
    let mut rows: Vec<SettlementRow> = rows.bind(limit).bind(offset).fetch_all(&mut *conn).await?;
    fill_parties(&mut conn, &mut rows).await?;
    Ok((rows, total))
}

/// The coordinator's settlement id of each on-chain id in `onchain_ids` that one has.
pub async fn ids_by_onchain(db: &Db, onchain_ids: &[String]) -> Result<HashMap<String, String>> {
    if onchain_ids.is_empty() {
        return Ok(HashMap::new());
    }
    let list: Vec<String> = (1..=onchain_ids.len()).map(|i| format!("${i}")).collect();
    let sql = format!(
        "SELECT onchain_id, id FROM settlements WHERE onchain_id IN ({})",
        list.join(", ")
    );
    let mut q = sqlx::query_as::<_, (String, String)>(&sql);
    for id in onchain_ids {
        q = q.bind(id);
    }
    Ok(q.fetch_all(db.pool()).await?.into_iter().collect())
}
