//! PostgreSQL only (run under script/with-postgres; skipped loudly otherwise):
//!
//! - on a fresh, never-analysed database the generic plan (`plan_cache_mode =
//!   force_generic_plan`, what a connection's prepared statement switches to) of each hot
//!   statement is an index scan on the index made for it, whatever the (missing)
//!   statistics say;
//! - the settlement worker's claims of two coordinators never overlap.
#![allow(clippy::unwrap_used, missing_docs, unreachable_pub)]

mod common;

use common::{Backend, database_url};
use lockstep_coordinator::instructions::store::IDEMPOTENCY_LOOKUP;
use lockstep_coordinator::settlements::machine::GUARDED_TRANSITION;
use lockstep_coordinator::settlements::many::update_all_sql;
use lockstep_coordinator::settlements::queue::Queue;
use sqlx::{AnyConnection, Connection, Row};

/// The generic plan of `sql` (with `types` as its parameter types), one line per node.
async fn generic_plan(conn: &mut AnyConnection, name: &str, sql: &str, types: &[&str]) -> String {
    sqlx::raw_sql(&format!("PREPARE {name} ({}) AS {sql}", types.join(", ")))
        .execute(&mut *conn)
        .await
        .unwrap();
    let args: Vec<String> = types
        .iter()
        .map(|t| match *t {
            "bigint" => "1".to_string(),
            _ => "'x'".to_string(),
        })
        .collect();
    let rows = sqlx::raw_sql(&format!("EXPLAIN EXECUTE {name} ({})", args.join(", ")))
        .fetch_all(&mut *conn)
        .await
        .unwrap();
    rows.iter()
        .map(|r| r.try_get::<String, _>(0).unwrap())
        .collect::<Vec<_>>()
        .join("\n")
}

/// The first node of a plan that reads a table or an index (`Seq Scan on ...`, `Index
/// Scan using <index> on <table>`, ...).
fn first_scan(plan: &str) -> &str {
    const READS: [&str; 4] = ["Seq Scan", "Index Scan", "Index Only Scan", "Bitmap"];
    plan.lines()
        .map(str::trim_start)
        .map(|l| l.trim_start_matches("->  "))
        .find(|l| READS.iter().any(|r| l.starts_with(r)))
        .unwrap_or_else(|| panic!("no scan in plan:\n{plan}"))
}

/// The plan node that reads `table`.
fn scan_of<'p>(plan: &'p str, table: &str) -> &'p str {
    const READS: [&str; 4] = ["Seq Scan", "Index Scan", "Index Only Scan", "Bitmap"];
    plan.lines()
        .map(str::trim_start)
        .map(|l| l.trim_start_matches("->  "))
        .find(|l| {
            READS.iter().any(|r| l.starts_with(r))
                && l.split("  (")
                    .next()
                    .is_some_and(|head| head.ends_with(&format!(" on {table}")))
        })
        .unwrap_or_else(|| panic!("no scan of {table} in plan:\n{plan}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generic_plans_use_the_right_indexes_on_a_fresh_database() {
    let dir = tempfile::tempdir().unwrap();
    let Some(url) = database_url(Backend::Postgres, dir.path()).await else {
        return;
    };
    let db = lockstep_core::Db::connect(&url).await.unwrap();
    lockstep_coordinator::migrate(&db).await.unwrap();
    let mut conn = AnyConnection::connect(&url).await.unwrap();
    sqlx::raw_sql("SET plan_cache_mode = force_generic_plan")
        .execute(&mut conn)
        .await
        .unwrap();

    let plan = generic_plan(&mut conn, "idem", IDEMPOTENCY_LOOKUP, &["text", "text"]).await;
    assert!(
        first_scan(&plan).starts_with("Index Scan using instructions_idempotency on instructions"),
        "{plan}"
    );
    assert!(
        plan.contains("Index Cond: ((platform_id = $1) AND (idempotency_key = $2))"),
        "{plan}"
    );

    let types = ["text", "bigint", "text", "text"];
    let plan = generic_plan(&mut conn, "guarded", GUARDED_TRANSITION, &types).await;
    assert!(
        scan_of(&plan, "settlements")
            .starts_with("Index Scan using settlements_pkey on settlements"),
        "{plan}"
    );
    assert!(plan.contains("Index Cond: (id = $3)"), "{plan}");
    // The trail head it returns is read backwards through the events' primary key.
    assert!(
        scan_of(&plan, "settlement_events").contains("Scan Backward using settlement_events_pkey"),
        "{plan}"
    );

    // The batch transition with per-row columns (the screening round's clearances) finds
    // its rows by primary key too.
    let sql = update_all_sql(2, &["compliance", "terms"]);
    let types = [
        "text", "bigint", "text", "text", "text", "text", "text", "text", "text",
    ];
    let plan = generic_plan(&mut conn, "batch", &sql, &types).await;
    assert!(!plan.contains("Seq Scan"), "{plan}");
    assert!(
        plan.contains("Index Cond: (id = ANY (ARRAY[$4, $5]))")
            && (plan.contains("Bitmap Index Scan on settlements_pkey")
                || plan.contains("Index Scan using settlements_pkey on settlements")),
        "{plan}"
    );
    assert!(
        scan_of(&plan, "settlement_events").contains("Scan Backward using settlement_events_pkey"),
        "{plan}"
    );

    for (name, queue, index) in [
        ("screening", Queue::Screening, "settlements_screening_queue"),
        ("registrar", Queue::Registrar, "settlements_registrar_queue"),
    ] {
        let sql = queue.claim_sql(lockstep_core::Backend::Postgres);
        let plan = generic_plan(&mut conn, name, &sql, &["bigint", "bigint", "bigint"]).await;
        assert!(
            first_scan(&plan).starts_with(&format!("Index Scan using {index} on settlements")),
            "{plan}"
        );
        assert!(plan.contains("LockRows"), "{plan}");
    }
}

/// Inserts `n` settlements waiting for screening, created at 1..=n ms.
async fn waiting_settlements(db: &lockstep_core::Db, n: usize) {
    for i in 1..=n {
        sqlx::query("INSERT INTO settlements (id, trade_reference, template_slug, state, seller_instruction_id, buyer_instruction_id, seller_platform_id, buyer_platform_id, timeout_at, created_at, updated_at) VALUES ($1, $2, 'dvp-standard', 'INSTRUCTED', 'ins_s', 'ins_b', 'plt_a', 'plt_b', 4000000000000, $3, $3)")
            .bind(format!("stl_{i:03}"))
            .bind(format!("LS-{i:03}"))
            .bind(i64::try_from(i).unwrap())
            .execute(db.pool())
            .await
            .unwrap();
    }
}

/// Two coordinators claiming at the same time get disjoint batches (the second skips the
/// rows the first has locked), and leased rows are not claimed again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_claims_are_disjoint_and_leased() {
    use lockstep_coordinator::settlements::queue::claim;
    let dir = tempfile::tempdir().unwrap();
    let Some(url) = database_url(Backend::Postgres, dir.path()).await else {
        return;
    };
    let db = lockstep_core::Db::connect(&url).await.unwrap();
    lockstep_coordinator::migrate(&db).await.unwrap();
    waiting_settlements(&db, 25).await;
    let pg = lockstep_core::Backend::Postgres;
    let mut first = db.pool().begin().await.unwrap();
    let mut second = db.pool().begin().await.unwrap();
    let a = claim(&mut first, pg, Queue::Screening, 10).await.unwrap();
    // The first transaction still holds its rows' locks.
    let b = claim(&mut second, pg, Queue::Screening, 10).await.unwrap();
    first.commit().await.unwrap();
    second.commit().await.unwrap();
    let ids = |v: &[lockstep_coordinator::settlements::SettlementRow]| -> Vec<String> {
        v.iter().map(|s| s.id.clone()).collect()
    };
    let expected = |r: std::ops::RangeInclusive<usize>| -> Vec<String> {
        r.map(|i| format!("stl_{i:03}")).collect()
    };
    assert_eq!(ids(&a), expected(1..=10));
    assert_eq!(ids(&b), expected(11..=20));
    // Leased: a later claim gets only the rest.
    let mut conn = db.pool().acquire().await.unwrap();
    let c = claim(&mut conn, pg, Queue::Screening, 10).await.unwrap();
    assert_eq!(ids(&c), expected(21..=25));
    assert!(
        claim(&mut conn, pg, Queue::Screening, 10)
            .await
            .unwrap()
            .is_empty()
    );
}
