//! API tests of the webhook target rules (SSRF) through real HTTP, on SQLite and
//! PostgreSQL: every spelling of a refused target is refused at create and PATCH without
//! a connection, a name resolving to a refused address is refused at delivery (a fixed
//! hosts table, never the real network), the allow-list lets loopback through, and the
//! delivery log reads the same whatever the target did. All traffic stays on loopback.
#![allow(clippy::unwrap_used, missing_docs, unreachable_pub)]

mod common;

use common::*;
use lockstep_coordinator::webhooks::{StaticHosts, UNDELIVERABLE};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

both_backends!(
    every_spelling_of_a_refused_target_is_refused_at_create_and_patch,
    a_name_resolving_to_a_refused_address_is_refused_at_delivery,
    no_answer_reads_the_same_whatever_the_target_did,
);

/// An HTTP listener on `addr` that counts requests and answers 204.
async fn counting_listener(addr: &str) -> (u16, Arc<AtomicUsize>) {
    let hits = Arc::new(AtomicUsize::new(0));
    let h = hits.clone();
    let app = axum::Router::new().fallback(move || {
        let h = h.clone();
        async move {
            h.fetch_add(1, Ordering::SeqCst);
            StatusCode::NO_CONTENT
        }
    });
    let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (port, hits)
}

/// Every spelling of a loopback, private, metadata or otherwise refused target the URL
/// parser accepts, the loopback ones on `port`.
fn refused_urls(port: u16) -> Vec<String> {
    let loopback = [
        "127.0.0.1",
        "127.0.0.1.",
        "2130706433",
        "0x7f000001",
        "0x7f.1",
        "0177.0.0.1",
        "0177.1",
        "127.1",
        "127.0.1",
        "%31%32%37.0.0.1",
        "[::1]",
        "[0:0:0:0:0:0:0:1]",
        "[::ffff:127.0.0.1]",
        "[::ffff:7f00:1]",
        "[::127.0.0.1]",
        "[64:ff9b::7f00:1]",
        "[2002:7f00:1::]",
        "0.0.0.0",
        "0",
        "[::]",
        "localhost",
        "LocalHost.",
        "api.localhost",
        "127.0.0.2",
    ];
    let mut urls: Vec<String> = loopback
        .iter()
        .map(|h| format!("http://{h}:{port}/hook"))
        .collect();
    urls.extend(
        [
            "http://169.254.169.254/latest/meta-data/",
            "http://2852039166/",
            "http://[::ffff:169.254.169.254]/",
            "http://[fd00:ec2::254]/",
            "http://metadata.google.internal/computeMetadata/v1/",
            "http://metadata.google.internal./",
            "http://metadata/",
            "http://10.0.0.1/",
            "http://10.1/",
            "http://172.16.0.1/",
            "http://192.168.1.1/",
            "http://100.64.0.1/",
            "http://169.254.1.1/",
            "http://[fe80::1]/",
            "http://[fc00::1]/",
            "http://224.0.0.1/",
            "http://[ff02::1]/",
            "http://255.255.255.255/",
            "http://240.0.0.1/",
            "http://192.0.2.1/",
            "http://[2001:db8::1]/",
            "https://user:pass@hooks.example.com/",
            "https://user@hooks.example.com/",
            "ftp://hooks.example.com/",
            "file:///etc/passwd",
            "gopher://hooks.example.com/",
        ]
        .map(String::from),
    );
    urls
}

async fn every_spelling_of_a_refused_target_is_refused_at_create_and_patch(backend: Backend) {
    // No allow-list: loopback is refused too.
    let Some(env) = Env::start(backend, |c, _| c.webhooks.allow_private_targets.clear()).await
    else {
        return;
    };
    let (_, a) = env.platform("Alpha").await;
    let (port, hits) = counting_listener("127.0.0.1:0").await;
    // Saving a public URL connects nowhere either.
    let (s, ep) = env
        .post(
            &a,
            "/v1/webhook-endpoints",
            &json!({"url": "https://hooks.example.com/x"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{ep}");
    let ep_id = ep["id"].as_str().unwrap();
    for url in refused_urls(port) {
        let (s, v) = env
            .post(&a, "/v1/webhook-endpoints", &json!({"url": url}))
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "create {url}: {v}");
        assert_eq!(v["errors"][0]["loc"], json!(["body", "url"]), "{url}: {v}");
        let (s, v) = env
            .req(
                Method::PATCH,
                Some(&a),
                &format!("/v1/webhook-endpoints/{ep_id}"),
                Some(&json!({"url": url})),
            )
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "patch {url}: {v}");
        assert_eq!(v["errors"][0]["loc"], json!(["body", "url"]), "{url}: {v}");
    }
    let (s, v) = env
        .post(
            &a,
            "/v1/webhook-endpoints",
            &json!({"url": "http://0x7f.1/"}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        v["errors"][0]["msg"],
        "host 127.0.0.1 is a loopback address"
    );
    let (_, l) = env.get(&a, "/v1/webhook-endpoints").await;
    assert_eq!(l["total"], 1, "{l}");
    assert_eq!(l["items"][0]["url"], "https://hooks.example.com/x");
    assert_eq!(
        hits.load(Ordering::SeqCst),
        0,
        "a refused target was contacted"
    );
    env.stop().await;
}

/// Polls the endpoint until its only delivery has an attempt; returns that attempt.
async fn first_attempt(env: &Env, token: &str, ep: &str) -> Value {
    for _ in 0..200 {
        let (_, d) = env
            .get(token, &format!("/v1/webhook-endpoints/{ep}/deliveries"))
            .await;
        if d["items"][0]["attempts"].as_i64() >= Some(1) {
            let mut item = d["items"][0].clone();
            let a = item["attempt_log"][0].clone();
            item["attempt_log"] = Value::Null;
            return json!({"delivery": item, "attempt": a});
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("no attempt at {ep}");
}

async fn a_name_resolving_to_a_refused_address_is_refused_at_delivery(backend: Backend) {
    // The allow-list admits 127.0.0.1 only; every other address below is still loopback,
    // so even a wrongly admitted attempt would stay on this machine.
    let hosts: Vec<(&str, Vec<&str>)> = vec![
        ("good.test", vec!["127.0.0.1"]),
        ("second.test", vec!["127.0.0.2"]),
        ("mixed.test", vec!["127.0.0.1", "127.0.0.2"]),
        ("zero.test", vec!["0.0.0.0"]),
        ("mapped.test", vec!["::ffff:127.0.0.2"]),
    ];
    let table = hosts
        .iter()
        .map(|(n, ips)| {
            let ips: Vec<IpAddr> = ips.iter().map(|i| i.parse().unwrap()).collect();
            (n.to_string(), ips)
        })
        .collect();
    let Some(mut env) = Env::start(backend, |_, _| {}).await else {
        return;
    };
    env.webhook_lookup = Some(Arc::new(StaticHosts(table)));
    env.restart().await;
    let (_, a) = env.platform("Alpha").await;
    let (port, hits) = counting_listener("0.0.0.0:0").await;
    let mut eps = Vec::new();
    for (name, _) in &hosts {
        let (s, ep) = env
            .post(
                &a,
                "/v1/webhook-endpoints",
                &json!({"url": format!("http://{name}:{port}/hook")}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{name}: {ep}");
        let id = ep["id"].as_str().unwrap().to_string();
        env.post(&a, &format!("/v1/webhook-endpoints/{id}/test"), &json!({}))
            .await;
        eps.push(id);
    }
    // The allow-listed literal is accepted when saved, too.
    let (s, _) = env
        .post(
            &a,
            "/v1/webhook-endpoints",
            &json!({"url": format!("http://127.0.0.1:{port}/x")}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let good = first_attempt(&env, &a, &eps[0]).await;
    assert_eq!(good["attempt"]["status_code"], 204, "{good}");
    for (ep, (name, _)) in eps.iter().zip(&hosts).skip(1) {
        let bad = first_attempt(&env, &a, ep).await;
        assert_eq!(bad["attempt"]["error"], UNDELIVERABLE, "{name}: {bad}");
        assert_eq!(bad["delivery"]["status"], "pending", "{name}: {bad}");
    }
    assert_eq!(
        hits.load(Ordering::SeqCst),
        1,
        "only good.test was contacted"
    );
    env.stop().await;
}

async fn no_answer_reads_the_same_whatever_the_target_did(backend: Backend) {
    let timeout_ms = 400;
    let Some(env) = Env::start(backend, |c, _| c.webhooks.request_timeout_ms = timeout_ms).await
    else {
        return;
    };
    let (_, a) = env.platform("Alpha").await;
    // Closed port; a listener that accepts and resets; one that accepts and never answers.
    let closed = closed_port().await;
    let reset = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let reset_port = reset.local_addr().unwrap().port();
    tokio::spawn(async move {
        loop {
            let (s, _) = reset.accept().await.unwrap();
            s.set_zero_linger().unwrap();
            drop(s);
        }
    });
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let silent_port = silent.local_addr().unwrap().port();
    tokio::spawn(async move {
        let mut held = Vec::new();
        loop {
            held.push(silent.accept().await.unwrap().0);
        }
    });
    let mut seen = Vec::new();
    for port in [closed, reset_port, silent_port] {
        let (_, ep) = env
            .post(
                &a,
                "/v1/webhook-endpoints",
                &json!({"url": format!("http://127.0.0.1:{port}/hook")}),
            )
            .await;
        let id = ep["id"].as_str().unwrap().to_string();
        env.post(&a, &format!("/v1/webhook-endpoints/{id}/test"), &json!({}))
            .await;
        seen.push(first_attempt(&env, &a, &id).await);
    }
    for got in &seen {
        let at =
            chrono::DateTime::parse_from_rfc3339(got["attempt"]["at"].as_str().unwrap()).unwrap();
        let next = chrono::DateTime::parse_from_rfc3339(
            got["delivery"]["next_attempt_at"].as_str().unwrap(),
        )
        .unwrap();
        assert!(
            (next - at).num_milliseconds() >= i64::try_from(timeout_ms).unwrap(),
            "a retry sooner than one timeout tells how the attempt failed: {got}"
        );
        let mut shown = got.clone();
        shown["attempt"]["at"] = Value::Null;
        for k in ["id", "event_id", "payload", "created_at", "next_attempt_at"] {
            shown["delivery"][k] = Value::Null;
        }
        assert_eq!(
            shown,
            json!({
                "delivery": {"id": null, "event_id": null, "event": "test.ping", "status": "pending", "attempts": 1, "next_attempt_at": null, "attempt_log": null, "payload": null, "created_at": null},
                "attempt": {"attempt": 1, "at": null, "status_code": null, "error": UNDELIVERABLE, "duration_ms": null},
            })
        );
    }
    env.stop().await;
}
