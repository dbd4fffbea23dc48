//! Load client for `script/load-instructions` and `bench/api/run`: drives N matched
//! instruction pairs against a running coordinator on loopback and prints one JSON line:
//! instructions and matched pairs per second, latency percentiles, and the settlement
//! pipeline's progress read from `/metrics` (settlements that reached
//! `COMPLIANCE_CLEARED` per second during the load, the backlog of matched but not yet
//! cleared settlements when the load stopped, and how long it took to drain).
//!
//! Usage: `load BASE_URL TOKEN_A TOKEN_B PAIRS CONCURRENCY MAX_SECONDS CHAIN_ID [RATE]`,
//! RATE being a target of matched pairs per second over all clients (0 or absent: as fast
//! as the clients go).
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

/// A counter of `/metrics` (summed over label sets matching `labels`).
async fn counter(client: &reqwest::Client, base: &str, name: &str, labels: &str) -> u64 {
    let Ok(r) = client.get(format!("{base}/metrics")).send().await else {
        return 0;
    };
    let text = r.text().await.unwrap_or_default();
    text.lines()
        .filter(|l| l.starts_with(name) && l.contains(labels))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

/// Settlements that reached `COMPLIANCE_CLEARED`.
async fn cleared(client: &reqwest::Client, base: &str) -> u64 {
    let to = "to=\"COMPLIANCE_CLEARED\"";
    counter(client, base, "lockstep_transitions_total", to).await
}

/// Pairs matched into settlements.
async fn matched(client: &reqwest::Client, base: &str) -> u64 {
    counter(client, base, "lockstep_matches_total", "").await
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
    if args.len() != 8 && args.len() != 9 {
        eprintln!(
            "usage: load BASE_URL TOKEN_A TOKEN_B PAIRS CONCURRENCY MAX_SECONDS CHAIN_ID [RATE]"
        );
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
    let rate: f64 = args.get(8).map_or(0.0, |r| r.parse().unwrap());
    let deadline = (chrono::Utc::now() + chrono::Duration::hours(6)).to_rfc3339();
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(conc * 2)
        .build()
        .unwrap();
    let next = Arc::new(AtomicUsize::new(0));
    let errors = Arc::new(AtomicUsize::new(0));
    let run = format!("{}", chrono::Utc::now().timestamp_millis());
    let (matched0, cleared0) = (matched(&client, &base).await, cleared(&client, &base).await);
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
                if rate > 0.0 {
                    let due = started + Duration::from_secs_f64(i as f64 / rate);
                    tokio::time::sleep_until(due.into()).await;
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
    let matched_n = matched(&client, &base).await - matched0;
    let cleared_n = cleared(&client, &base).await - cleared0;
    let backlog = matched_n.saturating_sub(cleared_n);
    let drain = Instant::now();
    while cleared(&client, &base).await - cleared0 < matched_n && drain.elapsed() < max {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let drained = cleared(&client, &base).await - cleared0 >= matched_n;
    all.sort();
    let n = all.len();
    let per_sec = |x: f64| ((x / elapsed) * 10.0).round() / 10.0;
    println!(
        "{}",
        json!({
            "instructions": n,
            "matched_pairs": matched_n,
            "errors": errors.load(Ordering::Relaxed),
            "concurrency": conc,
            "target_pairs_per_second": rate,
            "seconds": (elapsed * 1000.0).round() / 1000.0,
            "instructions_per_second": per_sec(n as f64),
            "matched_pairs_per_second": per_sec(matched_n as f64),
            "cleared_per_second": per_sec(cleared_n as f64),
            "backlog_at_end": backlog,
            "drain_seconds": drained.then(|| (drain.elapsed().as_secs_f64() * 100.0).round() / 100.0),
            "latency_ms": {"p50": pct(&all, 0.50), "p90": pct(&all, 0.90), "p99": pct(&all, 0.99), "max": pct(&all, 1.0)},
        })
    );
}
