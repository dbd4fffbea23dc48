//! API tests of webhook delivery and restarts through real HTTP against a started
//! coordinator, on SQLite and PostgreSQL: signatures, retries, secret rotation, nothing
//! lost across restarts, graceful shutdown.
#![allow(clippy::unwrap_used, missing_docs, unreachable_pub)]

mod common;

use common::*;
use lockstep_coordinator::settlements::{EventView, verify_trail};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};

/// The webhook events of a settlement from its match to its clearance.
const CLEARED_EVENTS: [&str; 4] = [
    "settlement.state.instructed",
    "settlement.state.compliance_checking",
    "settlement.state.compliance_cleared",
    "settlement.compliance.cleared",
];

both_backends!(
    webhooks_signed_retried_and_rotated,
    restart_loses_nothing,
    shutdown_finishes_the_webhook_attempt_in_flight,
    every_endpoint_of_every_party_gets_each_event,
);

async fn webhooks_signed_retried_and_rotated(backend: Backend) {
    let Some(env) = Env::start(backend, |_, _| {}).await else {
        return;
    };
    let (_, a) = env.platform("Alpha").await;
    let (_, b) = env.platform("Beta").await;
    let (url_a, got_a) = receiver(1).await;
    let (url_b, got_b) = receiver(0).await;
    let (s, ep_a) = env
        .post(
            &a,
            "/v1/webhook-endpoints",
            &json!({"url": url_a, "description": "alpha"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{ep_a}");
    let secret_a = ep_a["secret"].as_str().unwrap().to_string();
    assert!(secret_a.starts_with("whsec_"));
    let (_, ep_b) = env
        .post(&b, "/v1/webhook-endpoints", &json!({"url": url_b}))
        .await;
    let secret_b = ep_b["secret"].as_str().unwrap().to_string();
    let (s, _) = env
        .post(&a, "/v1/webhook-endpoints", &json!({"url": "ftp://x"}))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    // Listing never shows secrets; other platforms get 404.
    let (_, l) = env.get(&a, "/v1/webhook-endpoints").await;
    assert_eq!(l["total"], 1);
    assert!(!l.to_string().contains("whsec_"));
    let (s, _) = env
        .get(
            &b,
            &format!("/v1/webhook-endpoints/{}", ep_a["id"].as_str().unwrap()),
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    let (sid, _) = matched_pair(&env, &a, &b, "w1", |_| {}).await;
    env.wait_state(&a, &sid, "COMPLIANCE_CLEARED").await;
    let want = CLEARED_EVENTS;
    wait_for(
        || {
            want.iter()
                .all(|w| events_of(&got_b).contains(&w.to_string()))
        },
        "webhooks at B",
    )
    .await;
    wait_for(
        || {
            want.iter()
                .all(|w| events_of(&got_a).contains(&w.to_string()))
        },
        "webhooks at A (after a 500)",
    )
    .await;

    // Every request at B verifies with B's secret and has the documented payload.
    for (h, body) in got_b.lock().unwrap().iter() {
        let id = h["webhook-id"].to_str().unwrap();
        let ts: i64 = h["webhook-timestamp"].to_str().unwrap().parse().unwrap();
        let sig = h["webhook-signature"].to_str().unwrap();
        assert!(lockstep_coordinator::webhooks::verify(
            &secret_b,
            id,
            ts,
            body.as_bytes(),
            sig
        ));
        assert!(!lockstep_coordinator::webhooks::verify(
            &secret_a,
            id,
            ts,
            body.as_bytes(),
            sig
        ));
        let v: Value = serde_json::from_str(body).unwrap();
        assert_eq!(v["id"], id);
        assert_eq!(v["data"]["settlement_id"], sid.as_str());
        assert_eq!(v["data"]["settlement_type"], "dvp-standard");
        assert!(v["data"]["timestamp"].is_string());
        assert!(v["data"].get("previous_state").is_some());
    }
    // A's first request failed with 500 and was retried with the same webhook-id.
    let first_id = got_a.lock().unwrap()[0].0["webhook-id"]
        .to_str()
        .unwrap()
        .to_string();
    let same_id = || {
        got_a
            .lock()
            .unwrap()
            .iter()
            .filter(|(h, _)| h["webhook-id"].to_str().unwrap() == first_id)
            .count()
    };
    wait_for(|| same_id() >= 2, "the retry after a 500").await;
    let (_, d) = env
        .get(
            &a,
            &format!(
                "/v1/webhook-endpoints/{}/deliveries?limit=100",
                ep_a["id"].as_str().unwrap()
            ),
        )
        .await;
    let retried: Vec<&Value> = d["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["event_id"] == first_id.as_str())
        .collect();
    assert_eq!(retried.len(), 1, "{d}");
    assert_eq!(retried[0]["status"], "delivered");
    assert_eq!(retried[0]["attempts"], 2);
    assert_eq!(retried[0]["attempt_log"][0]["status_code"], 500);
    assert_eq!(retried[0]["attempt_log"][1]["status_code"], 204);

    // Rotation: during the overlap both secrets sign; test ping delivered.
    let ep_id = ep_b["id"].as_str().unwrap();
    let (s, rot) = env
        .post(
            &b,
            &format!("/v1/webhook-endpoints/{ep_id}/rotate-secret"),
            &json!({}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{rot}");
    let new_secret = rot["secret"].as_str().unwrap().to_string();
    assert_ne!(new_secret, secret_b);
    assert!(rot["previous_secret_expires_at"].is_string());
    let before = got_b.lock().unwrap().len();
    let (s, _) = env
        .post(
            &b,
            &format!("/v1/webhook-endpoints/{ep_id}/test"),
            &json!({}),
        )
        .await;
    assert_eq!(s, StatusCode::ACCEPTED);
    wait_for(|| got_b.lock().unwrap().len() > before, "test ping").await;
    let (h, body) = got_b.lock().unwrap()[before].clone();
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["event"],
        "test.ping"
    );
    let sig = h["webhook-signature"].to_str().unwrap();
    assert_eq!(sig.split(' ').count(), 2);
    let (id, ts) = (
        h["webhook-id"].to_str().unwrap(),
        h["webhook-timestamp"].to_str().unwrap().parse().unwrap(),
    );
    assert!(lockstep_coordinator::webhooks::verify(
        &new_secret,
        id,
        ts,
        body.as_bytes(),
        sig
    ));
    assert!(lockstep_coordinator::webhooks::verify(
        &secret_b,
        id,
        ts,
        body.as_bytes(),
        sig
    ));

    // Disable, then delete.
    let (s, v) = env
        .req(
            Method::PATCH,
            Some(&b),
            &format!("/v1/webhook-endpoints/{ep_id}"),
            Some(&json!({"enabled": false})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["enabled"], false);
    let (s, _) = env
        .req(
            Method::DELETE,
            Some(&b),
            &format!("/v1/webhook-endpoints/{ep_id}"),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _) = env
        .req(
            Method::DELETE,
            Some(&b),
            &format!("/v1/webhook-endpoints/{ep_id}"),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    env.stop().await;
}

async fn restart_loses_nothing(backend: Backend) {
    let Some(mut env) = Env::start(backend, |_, _| {}).await else {
        return;
    };
    let (_, a) = env.platform("Alpha").await;
    let (_, b) = env.platform("Beta").await;
    let (url, got) = receiver(0).await;
    env.post(&b, "/v1/webhook-endpoints", &json!({"url": url}))
        .await;
    let body = seller("r1", None);
    let (_, first) = env.post(&a, "/v1/instructions", &body).await;
    env.restart().await;
    // Tokens, instructions, idempotency records and endpoints survive.
    let (s, replay) = env.post(&a, "/v1/instructions", &body).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(replay["id"], first["id"]);
    let (s, v) = env
        .post(
            &b,
            "/v1/instructions",
            &buyer("r1", first["trade_reference"].as_str()),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let sid = v["settlement_id"].as_str().unwrap().to_string();
    let before = env.wait_state(&a, &sid, "COMPLIANCE_CLEARED").await;
    env.restart().await;
    let after = env.wait_state(&b, &sid, "COMPLIANCE_CLEARED").await;
    assert_eq!(before, after);
    let (_, ev) = env.get(&a, &format!("/v1/settlements/{sid}/events")).await;
    let events: Vec<EventView> = serde_json::from_value(ev["items"].clone()).unwrap();
    assert_eq!(events.len(), 3);
    assert!(verify_trail(&sid, &events));
    wait_for(
        || events_of(&got).contains(&"settlement.compliance.cleared".to_string()),
        "webhooks after restart",
    )
    .await;
    env.stop().await;
}

async fn shutdown_finishes_the_webhook_attempt_in_flight(backend: Backend) {
    let Some(mut env) = Env::start(backend, |_, _| {}).await else {
        return;
    };
    let (_, a) = env.platform("Alpha").await;
    // A slow receiver: answers 204 after 1.5 s.
    let hits = Arc::new(Mutex::new(0usize));
    let h = hits.clone();
    let app = axum::Router::new().route(
        "/slow",
        axum::routing::post(move || {
            let h = h.clone();
            async move {
                *h.lock().unwrap() += 1;
                tokio::time::sleep(std::time::Duration::from_millis(1_500)).await;
                axum::http::StatusCode::NO_CONTENT
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/slow", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let (_, ep) = env
        .post(&a, "/v1/webhook-endpoints", &json!({"url": url}))
        .await;
    let ep_id = ep["id"].as_str().unwrap().to_string();
    env.post(
        &a,
        &format!("/v1/webhook-endpoints/{ep_id}/test"),
        &json!({}),
    )
    .await;
    wait_for(|| *hits.lock().unwrap() == 1, "the slow attempt to start").await;
    let t = std::time::Instant::now();
    env.restart().await;
    assert!(
        t.elapsed() >= std::time::Duration::from_millis(800),
        "shutdown did not wait for the attempt"
    );
    let (_, d) = env
        .get(&a, &format!("/v1/webhook-endpoints/{ep_id}/deliveries"))
        .await;
    assert_eq!(d["items"][0]["status"], "delivered", "{d}");
    assert_eq!(d["items"][0]["attempts"], 1);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(
        *hits.lock().unwrap(),
        1,
        "the finished attempt was sent again after the restart"
    );
    env.stop().await;
}

/// The outbox writes a delivery per event and enabled endpoint (one multi-row INSERT for
/// a batch of events): with two endpoints on one platform and one on the other, each
/// endpoint receives every event of the settlement exactly once.
async fn every_endpoint_of_every_party_gets_each_event(backend: Backend) {
    let Some(env) = Env::start(backend, |_, _| {}).await else {
        return;
    };
    let (_, a) = env.platform("Alpha").await;
    let (_, b) = env.platform("Beta").await;
    let mut received = Vec::new();
    for token in [&a, &a, &b] {
        let (url, got) = receiver(0).await;
        let (s, ep) = env
            .post(token, "/v1/webhook-endpoints", &json!({"url": url}))
            .await;
        assert_eq!(s, StatusCode::CREATED, "{ep}");
        received.push(got);
    }
    let (sid, _) = matched_pair(&env, &a, &b, "fan", |_| {}).await;
    env.wait_state(&a, &sid, "COMPLIANCE_CLEARED").await;
    let want = CLEARED_EVENTS;
    let events_of = |got: &Received| -> Vec<(String, String)> {
        got.lock()
            .unwrap()
            .iter()
            .map(|(_, body)| serde_json::from_str::<Value>(body).unwrap())
            .filter(|v| v["data"]["settlement_id"] == sid.as_str())
            .map(|v| {
                (
                    v["event"].as_str().unwrap().to_string(),
                    v["id"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    };
    for _ in 0..100 {
        if received.iter().all(|g| events_of(g).len() >= want.len()) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let mut ids_a = Vec::new();
    for (i, got) in received.iter().enumerate() {
        let events = events_of(got);
        let mut names: Vec<&str> = events.iter().map(|(e, _)| e.as_str()).collect();
        names.sort_unstable();
        let mut expected = want.to_vec();
        expected.sort_unstable();
        assert_eq!(names, expected, "endpoint {i}");
        let mut ids: Vec<String> = events.into_iter().map(|(_, id)| id).collect();
        ids.sort();
        if i < 2 {
            ids_a.push(ids);
        } else {
            // The other platform's events are its own.
            assert!(ids.iter().all(|id| !ids_a[0].contains(id)), "{ids:?}");
        }
    }
    // Alpha's two endpoints receive the same events (one event, two deliveries).
    assert_eq!(ids_a[0], ids_a[1]);
    env.stop().await;
}
