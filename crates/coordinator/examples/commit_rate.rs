//! Raw commit rate for `bench/api/run`: how many single-row write transactions per second
//! the database takes through the coordinator's own pool and settings
//! (`lockstep_core::Db::connect`: on SQLite one connection, WAL, `synchronous = NORMAL`,
//! `busy_timeout`; on PostgreSQL ten connections). Each transaction inserts one row shaped
//! like an instruction (a ULID key, a unique pair, a ~1 KB JSON body, times) into a table
//! of its own, which it drops at the end. Prints one JSON line.
//!
//! Usage: `commit_rate DATABASE_URL CONCURRENCY SECONDS`
#![allow(clippy::unwrap_used, clippy::expect_used)]

/// The daemon's allocator (crates/cli/src/main.rs), so the two sides of the ratio differ
/// only in what they do (measured: no effect on this loop's rate).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use lockstep_core::Db;
use serde_json::json;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const DDL: &str = "CREATE TABLE bench_commits (id TEXT PRIMARY KEY, platform_id TEXT NOT NULL, key TEXT NOT NULL, body TEXT NOT NULL, created_at BIGINT NOT NULL, UNIQUE (platform_id, key))";

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 4 {
        eprintln!("usage: commit_rate DATABASE_URL CONCURRENCY SECONDS");
        std::process::exit(2);
    }
    let db = Db::connect(&args[1]).await.expect("database");
    let conc: usize = args[2].parse().expect("concurrency");
    let run_for = Duration::from_secs_f64(args[3].parse().expect("seconds"));
    sqlx::query("DROP TABLE IF EXISTS bench_commits")
        .execute(db.pool())
        .await
        .unwrap();
    sqlx::query(DDL).execute(db.pool()).await.unwrap();
    let body = "x".repeat(1_000);
    let done = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..conc {
        let (db, done, body) = (db.clone(), done.clone(), body.clone());
        tasks.push(tokio::spawn(async move {
            let mut i = 0usize;
            while started.elapsed() < run_for {
                let mut tx = db.pool().begin().await.unwrap();
                sqlx::query("INSERT INTO bench_commits (id, platform_id, key, body, created_at) VALUES ($1, $2, $3, $4, $5)")
                    .bind(ulid::Ulid::new().to_string())
                    .bind(format!("plt_{c}"))
                    .bind(format!("k{i}"))
                    .bind(&body)
                    .bind(lockstep_core::now_ms())
                    .execute(&mut *tx)
                    .await
                    .unwrap();
                tx.commit().await.unwrap();
                done.fetch_add(1, Ordering::Relaxed);
                i += 1;
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let secs = started.elapsed().as_secs_f64();
    let n = done.load(Ordering::Relaxed);
    sqlx::query("DROP TABLE bench_commits")
        .execute(db.pool())
        .await
        .unwrap();
    println!(
        "{}",
        json!({
            "commits": n,
            "concurrency": conc,
            "seconds": (secs * 1000.0).round() / 1000.0,
            "commits_per_second": ((n as f64 / secs) * 10.0).round() / 10.0,
        })
    );
}
