//! API tests of webhook ownership and recovery through real HTTP, on SQLite and
//! PostgreSQL: another platform's DELETE changes nothing, a receiver that was down gets
//! its deliveries after a redeliver and a recover (which only the owner may ask for),
//! and every replaced secret keeps signing through further rotations.
#![allow(clippy::unwrap_used, missing_docs, unreachable_pub)]

mod common;

use common::*;
use lockstep_coordinator::webhooks::{UNDELIVERABLE, verify};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

both_backends!(
    a_foreign_delete_leaves_the_owners_pending_deliveries,
    a_receiver_down_then_up_gets_its_deliveries_after_redeliver_and_recover,
    every_replaced_secret_signs_through_further_rotations,
);

/// The endpoint's deliveries (newest first).
async fn deliveries(env: &Env, token: &str, ep: &str) -> Vec<Value> {
    let (s, d) = env
        .get(
            token,
            &format!("/v1/webhook-endpoints/{ep}/deliveries?limit=100"),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{d}");
    d["items"].as_array().unwrap().clone()
}

/// Polls until `pred` holds for the endpoint's deliveries (10 s at most).
async fn wait_deliveries(
    env: &Env,
    token: &str,
    ep: &str,
    what: &str,
    pred: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    for _ in 0..200 {
        let d = deliveries(env, token, ep).await;
        if pred(&d) {
            return d;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!(
        "timed out waiting for {what}: {:#?}",
        deliveries(env, token, ep).await
    );
}

/// Creates an endpoint; returns its id and secret.
async fn endpoint(env: &Env, token: &str, url: &str) -> (String, String) {
    let (s, ep) = env
        .post(token, "/v1/webhook-endpoints", &json!({"url": url}))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{ep}");
    (
        ep["id"].as_str().unwrap().to_string(),
        ep["secret"].as_str().unwrap().to_string(),
    )
}

async fn ping(env: &Env, token: &str, ep: &str) -> String {
    let (s, v) = env
        .post(
            token,
            &format!("/v1/webhook-endpoints/{ep}/test"),
            &json!({}),
        )
        .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{v}");
    v["event_id"].as_str().unwrap().to_string()
}

async fn a_foreign_delete_leaves_the_owners_pending_deliveries(backend: Backend) {
    let Some(env) = Env::start(backend, |c, _| c.webhooks.request_timeout_ms = 500).await else {
        return;
    };
    let (_, a) = env.platform("Alpha").await;
    let (_, b) = env.platform("Beta").await;
    // A's receiver is down: the ping fails and stays pending.
    let port = closed_port().await;
    let (ep, _) = endpoint(&env, &a, &format!("http://127.0.0.1:{port}/hook")).await;
    let event = ping(&env, &a, &ep).await;
    wait_deliveries(&env, &a, &ep, "a failed first attempt", |d| {
        d.len() == 1 && d[0]["attempts"].as_i64() >= Some(1)
    })
    .await;
    let (s, v) = env
        .req(
            Method::DELETE,
            Some(&b),
            &format!("/v1/webhook-endpoints/{ep}"),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{v}");
    let d = deliveries(&env, &a, &ep).await;
    assert_eq!(d[0]["status"], "pending", "{d:?}");
    let (s, _) = env.get(&a, &format!("/v1/webhook-endpoints/{ep}")).await;
    assert_eq!(s, StatusCode::OK);
    // The receiver comes up on the same port and gets the ping on a scheduled retry.
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .unwrap();
    let (_, got) = receiver_on(listener, 0).await;
    wait_deliveries(&env, &a, &ep, "the retry after the foreign delete", |d| {
        d[0]["status"] == "delivered"
    })
    .await;
    let ids: Vec<String> = got
        .lock()
        .unwrap()
        .iter()
        .map(|(h, _)| h["webhook-id"].to_str().unwrap().to_string())
        .collect();
    assert_eq!(ids, vec![event]);
    env.stop().await;
}

async fn a_receiver_down_then_up_gets_its_deliveries_after_redeliver_and_recover(backend: Backend) {
    // One attempt per round: a delivery fails at its first failed attempt.
    let Some(env) = Env::start(backend, |c, _| c.webhooks.retry_schedule_ms = vec![]).await else {
        return;
    };
    let (_, a) = env.platform("Alpha").await;
    let (_, b) = env.platform("Beta").await;
    // Both operations are in the OpenAPI document with every status they answer.
    let (_, doc) = env.req(Method::GET, None, "/openapi.json", None).await;
    for (path, want) in [
        (
            "/v1/webhook-deliveries/{id}/redeliver",
            &["202", "401", "403", "404", "409", "429"][..],
        ),
        (
            "/v1/webhook-endpoints/{id}/recover",
            &["202", "400", "401", "403", "404", "409", "422", "429"][..],
        ),
    ] {
        let responses = doc["paths"][path]["post"]["responses"].as_object().unwrap();
        let got: Vec<&str> = responses.keys().map(String::as_str).collect();
        // Each status the operation answers itself is listed; anything else is one of the
        // shared answers every operation carries (api/openapi.rs).
        let shared = [
            "400", "401", "403", "404", "408", "413", "415", "422", "429", "503",
        ];
        for w in want {
            assert!(got.contains(w), "{path} lacks {w}: {got:?}");
        }
        for g in &got {
            assert!(want.contains(g) || shared.contains(g), "{path}: {g}");
        }
    }
    let since = chrono::Utc::now().to_rfc3339();
    let port = closed_port().await;
    let (ep, _) = endpoint(&env, &a, &format!("http://127.0.0.1:{port}/hook")).await;
    let first = ping(&env, &a, &ep).await;
    let second = ping(&env, &a, &ep).await;
    let d = wait_deliveries(&env, &a, &ep, "both pings failed", |d| {
        d.len() == 2 && d.iter().all(|x| x["status"] == "failed")
    })
    .await;
    for x in &d {
        assert_eq!(x["attempt_log"][0]["error"], UNDELIVERABLE);
        assert_eq!(x["attempt_log"][0]["duration_ms"], Value::Null);
        assert_eq!(x["attempt_log"][0]["status_code"], Value::Null);
    }
    let id_of = |event: &str| {
        d.iter().find(|x| x["event_id"] == event).unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let (dlv1, dlv2) = (id_of(&first), id_of(&second));

    // Another platform can neither redeliver nor recover; nothing changes.
    let redeliver = |token: String, id: String| {
        let env = &env;
        async move {
            env.post(
                &token,
                &format!("/v1/webhook-deliveries/{id}/redeliver"),
                &json!({}),
            )
            .await
        }
    };
    let recover = |token: String, body: Value| {
        let (env, ep) = (&env, ep.clone());
        async move {
            env.post(
                &token,
                &format!("/v1/webhook-endpoints/{ep}/recover"),
                &body,
            )
            .await
        }
    };
    assert_eq!(
        redeliver(b.clone(), dlv1.clone()).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        recover(b.clone(), json!({"since": since})).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        redeliver(a.clone(), "dlv_nope".into()).await.0,
        StatusCode::NOT_FOUND
    );
    let (s, v) = recover(a.clone(), json!({"since": "yesterday"})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["errors"][0]["loc"], json!(["body", "since"]));
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(
        deliveries(&env, &a, &ep)
            .await
            .iter()
            .all(|x| x["status"] == "failed")
    );

    // The receiver is back: redeliver the first (twice: idempotent), recover the rest.
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .unwrap();
    let (_, got) = receiver_on(listener, 0).await;
    let (s, v) = redeliver(a.clone(), dlv1.clone()).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{v}");
    assert_eq!(v["id"], dlv1.as_str());
    let (s, _) = redeliver(a.clone(), dlv1.clone()).await;
    assert!(
        s == StatusCode::ACCEPTED || s == StatusCode::CONFLICT,
        "{s}"
    );
    wait_for(|| got.lock().unwrap().len() == 1, "the redelivered ping").await;
    wait_deliveries(&env, &a, &ep, "the first delivered", |d| {
        d.iter()
            .any(|x| x["id"] == dlv1.as_str() && x["status"] == "delivered")
    })
    .await;
    let (s, v) = redeliver(a.clone(), dlv1.clone()).await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    let (s, v) = recover(a.clone(), json!({"since": since})).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{v}");
    assert_eq!(v["recovered"], 1);
    let (s, v) = recover(a.clone(), json!({"since": since})).await;
    assert_eq!(
        (s, v["recovered"].clone()),
        (StatusCode::ACCEPTED, json!(0))
    );
    let d = wait_deliveries(&env, &a, &ep, "the second delivered", |d| {
        d.iter().all(|x| x["status"] == "delivered")
    })
    .await;
    let second_log = &d.iter().find(|x| x["id"] == dlv2.as_str()).unwrap()["attempt_log"];
    assert_eq!(second_log.as_array().unwrap().len(), 2, "{second_log}");
    assert_eq!(second_log[1]["status_code"], 204);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let ids: Vec<String> = got
        .lock()
        .unwrap()
        .iter()
        .map(|(h, _)| h["webhook-id"].to_str().unwrap().to_string())
        .collect();
    assert_eq!(
        ids,
        vec![first, second],
        "each delivery arrived exactly once"
    );
    env.stop().await;
}

async fn every_replaced_secret_signs_through_further_rotations(backend: Backend) {
    let Some(env) = Env::start(backend, |_, _| {}).await else {
        return;
    };
    let (_, a) = env.platform("Alpha").await;
    let (_, b) = env.platform("Beta").await;
    let (url, got) = receiver(0).await;
    let (ep, s0) = endpoint(&env, &a, &url).await;
    let rotate = |token: String| {
        let (env, ep) = (&env, ep.clone());
        async move {
            env.post(
                &token,
                &format!("/v1/webhook-endpoints/{ep}/rotate-secret"),
                &json!({}),
            )
            .await
        }
    };
    assert_eq!(rotate(b.clone()).await.0, StatusCode::NOT_FOUND);
    let (s, r1) = rotate(a.clone()).await;
    assert_eq!(s, StatusCode::OK, "{r1}");
    let (s, r2) = rotate(a.clone()).await;
    assert_eq!(s, StatusCode::OK, "{r2}");
    let s1 = r1["secret"].as_str().unwrap().to_string();
    let s2 = r2["secret"].as_str().unwrap().to_string();
    assert!(r2["previous_secret_expires_at"].is_string());
    ping(&env, &a, &ep).await;
    wait_for(|| got.lock().unwrap().len() == 1, "the ping").await;
    let (h, body) = got.lock().unwrap()[0].clone();
    let id = h["webhook-id"].to_str().unwrap();
    let ts: i64 = h["webhook-timestamp"].to_str().unwrap().parse().unwrap();
    let header = h["webhook-signature"].to_str().unwrap();
    let sigs: Vec<&str> = header.split(' ').collect();
    assert_eq!(sigs.len(), 3, "{header}");
    // Each signature verifies with exactly one of the three secrets: current first.
    for (sig, secret) in sigs.iter().zip([&s2, &s1, &s0]) {
        assert!(sig.starts_with("v1,"));
        assert!(verify(secret, id, ts, body.as_bytes(), sig), "{secret}");
        for other in [&s0, &s1, &s2].into_iter().filter(|o| *o != secret) {
            assert!(!verify(other, id, ts, body.as_bytes(), sig));
        }
    }
    // Ten replaced secrets at most sign at once; the next rotation is refused.
    for _ in 2..10 {
        assert_eq!(rotate(a.clone()).await.0, StatusCode::OK);
    }
    let (s, v) = rotate(a.clone()).await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    env.stop().await;
}
