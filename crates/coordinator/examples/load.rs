//! Load client for `script/load-instructions`: drives N matched instruction pairs against
//! a running coordinator on loopback and prints throughput and latency percentiles.
//!
//! Usage: `load BASE_URL TOKEN_A TOKEN_B PAIRS CONCURRENCY MAX_SECONDS CHAIN_ID`
#![allow(clippy::unwrap_used)]

use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

fn leg(t: &str, token: &str, q: &str, d: &str, chain: u64) -> Value {
    json!({"leg_type": t, "instrument_id": token, "quantity": q, "direction": d, "chain_id": chain})
}

fn instruction(key: &str, role: &str, tr: Option<&str>, chain: u64, deadline: &str) -> Value {
    let (asset_dir, pay_dir, wallet, name) = if role == "seller" {
        (
            "deliver",
            "receive",
            "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb",
            "Alpha Securities AG",
        )
    } else {
        (
            "receive",
            "deliver",
            "0x52908400098527886E0F7030069857D2E4169EE7",
            "Beta Capital LLC",
        )
    };
    json!({
        "idempotency_key": key, "template_slug": "dvp-standard", "role": role,
        "party": {"external_reference": key, "name": name, "wallet_address": wallet, "chain_id": chain},
        "legs": [
            leg("asset_delivery", "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", "1000", asset_dir, chain),
            leg("payment", "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359", "250000000", pay_dir, chain),
        ],
        "timeout_at": deadline, "trade_reference": tr,
    })
}

fn pct(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 8 {
        eprintln!("usage: load BASE_URL TOKEN_A TOKEN_B PAIRS CONCURRENCY MAX_SECONDS CHAIN_ID");
        std::process::exit(2);
    }
    let base = args[1].clone();
    assert!(
        base.starts_with("http://127.0.0.1:"),
        "the load client only targets 127.0.0.1"
    );
    let (ta, tb) = (args[2].clone(), args[3].clone());
    let pairs: usize = args[4].parse().unwrap();
    let conc: usize = args[5].parse().unwrap();
    let max = Duration::from_secs(args[6].parse().unwrap());
    let chain: u64 = args[7].parse().unwrap();
    let deadline = (chrono::Utc::now() + chrono::Duration::hours(6)).to_rfc3339();
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(conc * 2)
        .build()
        .unwrap();
    let next = Arc::new(AtomicUsize::new(0));
    let errors = Arc::new(AtomicUsize::new(0));
    let run = format!("{}", chrono::Utc::now().timestamp_millis());
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..conc {
        let (client, base, ta, tb, next, errors, run, deadline) = (
            client.clone(),
            base.clone(),
            ta.clone(),
            tb.clone(),
            next.clone(),
            errors.clone(),
            run.clone(),
            deadline.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= pairs || started.elapsed() > max {
                    break;
                }
                let t = Instant::now();
                let r = client
                    .post(format!("{base}/v1/instructions"))
                    .bearer_auth(&ta)
                    .json(&instruction(
                        &format!("{run}-s{i}"),
                        "seller",
                        None,
                        chain,
                        &deadline,
                    ))
                    .send()
                    .await;
                let first: Option<Value> = match r {
                    Ok(r) if r.status() == 201 => r.json().await.ok(),
                    _ => None,
                };
                lat.push(t.elapsed());
                let Some(first) = first else {
                    errors.fetch_add(1, Ordering::Relaxed);
                    continue;
                };
                let tr = first["trade_reference"].as_str().map(str::to_string);
                let t = Instant::now();
                let r = client
                    .post(format!("{base}/v1/instructions"))
                    .bearer_auth(&tb)
                    .json(&instruction(
                        &format!("{run}-b{i}"),
                        "buyer",
                        tr.as_deref(),
                        chain,
                        &deadline,
                    ))
                    .send()
                    .await;
                let ok = match r {
                    Ok(r) if r.status() == 201 => r
                        .json::<Value>()
                        .await
                        .map(|v| v["status"] == "matched")
                        .unwrap_or(false),
                    _ => false,
                };
                lat.push(t.elapsed());
                if !ok {
                    errors.fetch_add(1, Ordering::Relaxed);
                }
            }
            lat
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    let elapsed = started.elapsed().as_secs_f64();
    all.sort();
    let n = all.len();
    println!(
        "{}",
        json!({
            "instructions": n,
            "matched_pairs": n / 2,
            "errors": errors.load(Ordering::Relaxed),
            "concurrency": conc,
            "seconds": (elapsed * 1000.0).round() / 1000.0,
            "instructions_per_second": ((n as f64 / elapsed) * 10.0).round() / 10.0,
            "latency_ms": {"p50": pct(&all, 0.50), "p90": pct(&all, 0.90), "p99": pct(&all, 0.99), "max": pct(&all, 1.0)},
        })
    );
}
