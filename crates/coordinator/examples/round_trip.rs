//! Where the time of a write goes, for `bench/api/run`: the cost of one statement round
//! trip through the coordinator's own pool and settings (`lockstep_core::Db::connect`),
//! against the cost of the SQLite work itself. Prints one JSON line (microseconds):
//!
//! - `select1_held_us`: `SELECT 1` on a connection already taken from the pool;
//! - `select1_pool_us`: the same, taking the connection from the pool each time;
//! - `insert_in_tx_us`: one ~1 KB INSERT inside a transaction of ten (per INSERT);
//! - `insert_batched_us`: the same ten INSERTs and the transaction sent as one
//!   multi-statement string (per INSERT): roughly the SQLite work without the round trips.
//!
//! Usage: `round_trip DATABASE_URL`
#![allow(clippy::unwrap_used, clippy::expect_used)]

use lockstep_core::Db;
use serde_json::json;
use std::time::Instant;

const N: usize = 3_000;

fn per(t: Instant, n: usize) -> f64 {
    (t.elapsed().as_secs_f64() * 1e6 / n as f64 * 10.0).round() / 10.0
}

#[tokio::main]
async fn main() {
    let url = std::env::args()
        .nth(1)
        .expect("usage: round_trip DATABASE_URL");
    let db = Db::connect(&url).await.expect("database");
    sqlx::query("DROP TABLE IF EXISTS bench_round_trip")
        .execute(db.pool())
        .await
        .unwrap();
    sqlx::query("CREATE TABLE bench_round_trip (id TEXT PRIMARY KEY, body TEXT NOT NULL)")
        .execute(db.pool())
        .await
        .unwrap();
    let body = "x".repeat(1_000);
    let t = Instant::now();
    for _ in 0..N {
        sqlx::query("SELECT 1")
            .fetch_optional(db.pool())
            .await
            .unwrap();
    }
    let pool = per(t, N);
    let mut c = db.pool().acquire().await.unwrap();
    let t = Instant::now();
    for _ in 0..N {
        sqlx::query("SELECT 1")
            .fetch_optional(&mut *c)
            .await
            .unwrap();
    }
    let held = per(t, N);
    let t = Instant::now();
    for i in 0..N / 10 {
        sqlx::query("BEGIN").execute(&mut *c).await.unwrap();
        for j in 0..10 {
            sqlx::query("INSERT INTO bench_round_trip (id, body) VALUES ($1, $2)")
                .bind(format!("a{i}-{j}"))
                .bind(&body)
                .execute(&mut *c)
                .await
                .unwrap();
        }
        sqlx::query("COMMIT").execute(&mut *c).await.unwrap();
    }
    let in_tx = per(t, N);
    let t = Instant::now();
    for i in 0..N / 10 {
        let mut sql = String::from("BEGIN;");
        for j in 0..10 {
            sql.push_str(&format!(
                "INSERT INTO bench_round_trip (id, body) VALUES ('b{i}-{j}', '{body}');"
            ));
        }
        sql.push_str("COMMIT;");
        sqlx::raw_sql(&sql).execute(&mut *c).await.unwrap();
    }
    let batched = per(t, N);
    sqlx::query("DROP TABLE bench_round_trip")
        .execute(&mut *c)
        .await
        .unwrap();
    println!(
        "{}",
        json!({
            "select1_held_us": held,
            "select1_pool_us": pool,
            "insert_in_tx_us": in_tx,
            "insert_batched_us": batched,
        })
    );
}
