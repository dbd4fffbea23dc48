//! Schema migrations: a database made by the previous hand-written runner (old 0001 +
//! old 0002 with the chain tables, bookkeeping in `lockstep_schema_migrations`) migrates
//! forward with `sqlx::migrate!`, keeps its data, and the chain side's port finds its
//! settlements. On SQLite and PostgreSQL.
#![allow(clippy::unwrap_used, missing_docs, unreachable_pub)]

mod common;

use alloy::primitives::{Address, B256, U256};
use common::*;
use lockstep_coordinator::terms::{Leg, Terms, terms_hash, terms_json};
use lockstep_core::{Db, SettlementState, onchain_settlement_id};
use sqlx::Row;

both_backends!(a_database_of_the_previous_runner_migrates_forward);

/// The schema a database of the old runner has: 0001 (frozen by its checksum, so the file
/// itself) followed by the old 0002 and the old bookkeeping table.
const LEGACY: &str = concat!(
    include_str!("../migrations/0001_init.sql"),
    "\n",
    include_str!("fixtures/legacy_after_0001.sql")
);

/// The previous runner's statement splitting: drop `--` lines, split on `;`.
fn statements(sql: &str) -> Vec<String> {
    sql.lines()
        .filter(|l| !l.trim_start().starts_with("--"))
        .collect::<Vec<_>>()
        .join("\n")
        .split(';')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

fn sample_terms(reference: &str) -> Terms {
    Terms {
        settlementId: onchain_settlement_id(reference),
        hubEid: 40161,
        timeoutAt: 1_900_000_000,
        decisionRef: B256::repeat_byte(0x11),
        legs: vec![Leg {
            eid: 40161,
            token: ASSET.parse().unwrap(),
            amount: U256::from(1000),
            depositor: SELLER_WALLET.parse().unwrap(),
            depositKey: Address::ZERO,
            recipient: BUYER_WALLET.parse().unwrap(),
        }],
    }
}

async fn versions(db: &Db) -> Vec<i64> {
    sqlx::query("SELECT version FROM _sqlx_migrations ORDER BY version")
        .fetch_all(db.pool())
        .await
        .unwrap()
        .iter()
        .map(|r| r.try_get::<i64, _>("version").unwrap())
        .collect()
}

async fn a_database_of_the_previous_runner_migrates_forward(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let Some(url) = database_url(backend, dir.path()).await else {
        return;
    };
    // The previous schema, as the old runner left it, with one cleared settlement.
    let db = Db::connect(&url).await.unwrap();
    for stmt in statements(LEGACY) {
        sqlx::query(&stmt).execute(db.pool()).await.unwrap();
    }
    let reference = "LS-LEGACY-1";
    let terms = sample_terms(reference);
    sqlx::query("INSERT INTO settlements (id, trade_reference, template_slug, state, seller_instruction_id, buyer_instruction_id, seller_platform_id, buyer_platform_id, timeout_at, terms, terms_hash, created_at, updated_at) VALUES ('stl_legacy', $1, 'dvp-standard', 'AWAITING_DEPOSITS', 'ins_s', 'ins_b', 'plt_a', 'plt_b', 1900000000000, $2, $3, 1, 1)")
        .bind(reference)
        .bind(serde_json::to_string(&terms_json(&terms)).unwrap())
        .bind(terms_hash(&terms).to_string())
        .execute(db.pool())
        .await
        .unwrap();
    // A webhook endpoint rotated under the old single-previous-secret columns.
    sqlx::query("INSERT INTO webhook_endpoints (id, platform_id, url, description, enabled, secret, previous_secret, previous_secret_expires_at, created_at, updated_at) VALUES ('whe_legacy', 'plt_a', 'https://hooks.example.com/', NULL, 1, 'whsec_new', 'whsec_old', 4102444800000, 1, 1)")
        .execute(db.pool())
        .await
        .unwrap();

    // The new code opens it: versions 1 and 2 recorded (not re-run), 3 to 6, 8 to 10 and 15 applied.
    lockstep_coordinator::migrate(&db).await.unwrap();
    assert_eq!(versions(&db).await, [1, 2, 3, 4, 5, 6, 8, 9, 10, 15]);
    let previous = sqlx::query(
        "SELECT endpoint_id, platform_id, secret, expires_at FROM webhook_previous_secrets",
    )
    .fetch_all(db.pool())
    .await
    .unwrap();
    assert_eq!(
        previous.len(),
        1,
        "the previous secret moved to its own table"
    );
    assert_eq!(
        previous[0].try_get::<String, _>("endpoint_id").unwrap(),
        "whe_legacy"
    );
    assert_eq!(
        previous[0].try_get::<String, _>("platform_id").unwrap(),
        "plt_a"
    );
    assert_eq!(
        previous[0].try_get::<String, _>("secret").unwrap(),
        "whsec_old"
    );
    assert_eq!(
        previous[0].try_get::<i64, _>("expires_at").unwrap(),
        4102444800000
    );
    let row = sqlx::query(
        "SELECT trade_reference, state, onchain_id FROM settlements WHERE id = 'stl_legacy'",
    )
    .fetch_one(db.pool())
    .await
    .unwrap();
    assert_eq!(
        row.try_get::<String, _>("trade_reference").unwrap(),
        reference
    );
    assert_eq!(
        row.try_get::<String, _>("state").unwrap(),
        "AWAITING_DEPOSITS"
    );
    assert_eq!(
        row.try_get::<String, _>("onchain_id").unwrap(),
        onchain_settlement_id(reference).to_string(),
        "backfilled"
    );

    // Idempotent, and tolerant of the chain side's versions in the shared table.
    sqlx::query("INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) VALUES (1001, 'chain', TRUE, $1, 0)")
        .bind(vec![0u8; 48])
        .execute(db.pool())
        .await
        .unwrap();
    lockstep_coordinator::migrate(&db).await.unwrap();
    assert_eq!(versions(&db).await, [1, 2, 3, 4, 5, 6, 8, 9, 10, 15, 1001]);
    // 0009 listed the old settlement's two parties.
    let parties: Vec<(i64, String, String)> = sqlx::query("SELECT position, role, platform_id FROM settlement_parties WHERE settlement_id = 'stl_legacy' ORDER BY position")
        .fetch_all(db.pool())
        .await
        .unwrap()
        .iter()
        .map(|r| (r.try_get("position").unwrap(), r.try_get("role").unwrap(), r.try_get("platform_id").unwrap()))
        .collect();
    assert_eq!(
        parties,
        [
            (0, "seller".into(), "plt_a".into()),
            (1, "buyer".into(), "plt_b".into())
        ]
    );

    // The chain side's port sees the old settlement.
    let app = lockstep_coordinator::Coordinator::new(
        base_config(url.clone()),
        db.clone(),
        escrows(),
        alloy::signers::local::PrivateKeySigner::random(),
    )
    .unwrap();
    let ledger = app.ledger();
    let found = ledger
        .find_by_onchain_id(onchain_settlement_id(reference))
        .await
        .unwrap()
        .expect("found by on-chain id");
    assert_eq!(found.id, "stl_legacy");
    assert_eq!(found.state, SettlementState::AwaitingDeposits);
    assert_eq!(found.terms, terms);
    assert_eq!(found.terms_hash, terms_hash(&terms));
    assert!(found.decision.is_none() && !found.has_bundle);
    assert!(
        ledger
            .find_by_onchain_id(onchain_settlement_id("LS-UNKNOWN"))
            .await
            .unwrap()
            .is_none()
    );
    let live = ledger.live_settlements().await.unwrap();
    assert_eq!(live.len(), 1);
    // The bundle column of the old 0002 is the one the port writes, once.
    let bundle = serde_json::json!({"bundle": 1});
    assert!(ledger.store_bundle("stl_legacy", &bundle).await.unwrap());
    assert!(!ledger.store_bundle("stl_legacy", &bundle).await.unwrap());
    assert!(
        ledger
            .settlement("stl_legacy")
            .await
            .unwrap()
            .unwrap()
            .has_bundle
    );
    db.pool().close().await;
}
