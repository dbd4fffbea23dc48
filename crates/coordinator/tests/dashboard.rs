//! API tests of what the dashboard reads beyond the settlement API, on SQLite and
//! PostgreSQL: the settlement list's template and platform filters, a settlement's webhook
//! deliveries (each platform its own, the operator all), evidence verification on request,
//! and the dashboard page and assets with their security headers.
#![allow(clippy::unwrap_used, missing_docs, unreachable_pub)]

mod common;

use common::*;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

both_backends!(
    list_filters_by_template_and_platform,
    webhook_deliveries_of_a_settlement_are_each_platforms_own,
    evidence_verify_passes_a_real_bundle_and_names_the_first_difference,
    the_dashboard_is_served_with_a_strict_content_security_policy,
    verifier_health_is_read_from_each_configured_verifier,
    recorded_deposits_come_from_the_chain_sides_confirmed_logs,
);

fn ids(v: &Value) -> Vec<String> {
    let mut out: Vec<String> = v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_string())
        .collect();
    out.sort();
    out
}

async fn list_filters_by_template_and_platform(backend: Backend) {
    let Some(env) = Env::start(backend, |_, _| {}).await else {
        return;
    };
    let (a_id, a) = env.platform("Alpha").await;
    let (b_id, b) = env.platform("Beta").await;
    let (c_id, c) = env.platform("Gamma").await;
    let (ab, _) = matched_pair(&env, &a, &b, "ab", |_| {}).await;
    let (ac, _) = matched_pair(&env, &a, &c, "ac", |_| {}).await;
    let op = env.operator().await;
    let list = |t: String, q: String| {
        let env = &env;
        async move {
            let (s, v) = env.get(&t, &format!("/v1/settlements?{q}")).await;
            assert_eq!(s, StatusCode::OK, "{q}: {v}");
            v
        }
    };
    let mut both = vec![ab.clone(), ac.clone()];
    both.sort();
    assert_eq!(
        ids(&list(op.clone(), "template=dvp-standard".into()).await),
        both
    );
    let none = list(op.clone(), "template=cross-chain-dvp".into()).await;
    assert_eq!((ids(&none), none["total"].clone()), (vec![], json!(0)));
    assert_eq!(
        ids(&list(op.clone(), format!("platform_id={b_id}")).await),
        vec![ab.clone()]
    );
    assert_eq!(
        ids(&list(
            op.clone(),
            format!("platform_id={c_id}&template=dvp-standard")
        )
        .await),
        vec![ac.clone()]
    );
    // A platform finds only its own settlements, whatever it filters by.
    assert_eq!(
        ids(&list(a.clone(), format!("platform_id={a_id}")).await),
        both
    );
    assert_eq!(
        ids(&list(b.clone(), format!("platform_id={c_id}")).await),
        Vec::<String>::new()
    );
    assert_eq!(
        ids(&list(c.clone(), "template=dvp-standard".into()).await),
        vec![ac.clone()]
    );
    let (s, v) = env
        .get(&op, &format!("/v1/settlements?template={}", "x".repeat(65)))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    env.stop().await;
}

async fn webhook_deliveries_of_a_settlement_are_each_platforms_own(backend: Backend) {
    let Some(env) = Env::start(backend, |_, _| {}).await else {
        return;
    };
    let (a_id, a) = env.platform("Alpha").await;
    let (b_id, b) = env.platform("Beta").await;
    let (_, c) = env.platform("Gamma").await;
    for t in [&a, &b] {
        let (url, _) = receiver(0).await;
        let (s, v) = env
            .post(t, "/v1/webhook-endpoints", &json!({"url": url}))
            .await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
    }
    let (sid, _) = matched_pair(&env, &a, &b, "hooks", |_| {}).await;
    let op = env.operator().await;
    env.wait_state(&op, &sid, "COMPLIANCE_CLEARED").await;
    let path = format!("/v1/settlements/{sid}/webhook-deliveries");
    let delivered = |v: &Value| {
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| d["status"] == "delivered")
            .count()
    };
    // Four events per platform up to COMPLIANCE_CLEARED, each delivered once.
    let mut all = Value::Null;
    for _ in 0..100 {
        all = env.get(&op, &path).await.1;
        if delivered(&all) == 8 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(delivered(&all), 8, "{all}");
    for (token, me) in [(&a, &a_id), (&b, &b_id)] {
        let (s, v) = env.get(token, &path).await;
        assert_eq!(s, StatusCode::OK, "{v}");
        let items = v["items"].as_array().unwrap();
        assert_eq!(items.len(), 4, "{v}");
        for d in items {
            assert_eq!(d["platform_id"], me.as_str(), "{d}");
            assert_eq!(d["payload"]["data"]["settlement_id"], sid.as_str());
            assert_eq!(d["attempts"], 1);
            assert_eq!(d["attempt_log"].as_array().unwrap().len(), 1);
        }
        let events: Vec<&str> = items.iter().map(|d| d["event"].as_str().unwrap()).collect();
        assert!(
            events.contains(&"settlement.compliance.cleared"),
            "{events:?}"
        );
    }
    let (s, _) = env.get(&c, &path).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = env
        .get(&op, "/v1/settlements/stl_nope/webhook-deliveries")
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    env.stop().await;
}

async fn evidence_verify_passes_a_real_bundle_and_names_the_first_difference(backend: Backend) {
    let Some(env) = Env::start(backend, |_, _| {}).await else {
        return;
    };
    let (_, a) = env.platform("Alpha").await;
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../vectors/bundles");
    let bundle: Value =
        serde_json::from_str(&std::fs::read_to_string(root.join("settled.bundle.json")).unwrap())
            .unwrap();
    let (s, v) = env
        .post(&a, "/v1/evidence/verify", &json!({"bundle": bundle}))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["passed"], true, "{v}");
    assert_eq!(v["offline"]["passed"], true);
    assert!(
        v["offline"]["detail"].as_str().unwrap().starts_with("ok: "),
        "{v}"
    );
    // No chain side here: the chains are not checked, and the answer says so.
    assert!(v["chains"].is_null(), "{v}");
    let mut changed = bundle.clone();
    let amount = changed["facts"]["legs"][0]["amount"]
        .as_str()
        .unwrap()
        .to_string();
    changed["facts"]["legs"][0]["amount"] = json!(format!("{amount}1"));
    let (s, v) = env
        .post(&a, "/v1/evidence/verify", &json!({"bundle": changed}))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(
        (v["passed"].clone(), v["offline"]["passed"].clone()),
        (json!(false), json!(false))
    );
    assert!(
        v["offline"]["detail"]
            .as_str()
            .unwrap()
            .starts_with("mismatch: $."),
        "{v}"
    );
    for bad in [
        json!({"bundle": {"x": 1}}),
        json!({"bundle": bundle, "more": 1}),
        json!({}),
    ] {
        let (s, v) = env.post(&a, "/v1/evidence/verify", &bad).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {v}");
    }
    let (s, _) = env
        .req(
            Method::POST,
            None,
            "/v1/evidence/verify",
            Some(&json!({"bundle": bundle})),
        )
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    env.stop().await;
}

async fn the_dashboard_is_served_with_a_strict_content_security_policy(backend: Backend) {
    let Some(env) = Env::start(backend, |_, _| {}).await else {
        return;
    };
    let http = reqwest::Client::new();
    for (path, kind) in [
        ("/dashboard", "text/html"),
        ("/dashboard/app.js", "text/javascript"),
        ("/dashboard/app.css", "text/css"),
    ] {
        let r = http
            .get(format!("{}{path}", env.base))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{path}");
        let h = r.headers();
        assert!(
            h["content-type"].to_str().unwrap().starts_with(kind),
            "{path}"
        );
        let csp = h["content-security-policy"].to_str().unwrap();
        assert!(
            csp.contains("default-src 'none'") && csp.contains("script-src 'self'"),
            "{csp}"
        );
        assert_eq!(h["x-content-type-options"], "nosniff");
    }
    let page = http
        .get(format!("{}/dashboard", env.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("/dashboard/app.js") && !page.contains("<script>"),
        "no inline script"
    );
    env.stop().await;
}

/// A loopback `/healthz` answering `status` with `body`; its URL.
async fn healthz(status: u16, body: Value) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/healthz", listener.local_addr().unwrap());
    let app = axum::Router::new().route(
        "/healthz",
        axum::routing::get(move || async move {
            (
                axum::http::StatusCode::from_u16(status).unwrap(),
                axum::Json(body),
            )
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

async fn verifier_health_is_read_from_each_configured_verifier(backend: Backend) {
    let up = healthz(200, json!({"status": "ok", "chains": {"31337": "ok"}})).await;
    let refusing = healthz(
        503,
        json!({"status": "unhealthy", "chains": {"31338": "refusing"}}),
    )
    .await;
    let down = format!("http://127.0.0.1:{}/healthz", closed_port().await);
    let urls = vec![up.clone(), refusing.clone(), down.clone()];
    let Some(env) = Env::start(backend, move |c, _| c.verifier_health_urls = urls).await else {
        return;
    };
    let op = env.operator().await;
    let (s, v) = env.get(&op, "/v1/operator/verifiers").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let items = v["items"].as_array().unwrap();
    assert_eq!(items.len(), 3, "{v}");
    assert_eq!(
        (
            items[0]["url"].as_str().unwrap(),
            items[0]["healthy"].clone(),
            items[0]["status"].clone()
        ),
        (up.as_str(), json!(true), json!(200))
    );
    assert_eq!(items[0]["detail"]["chains"]["31337"], "ok");
    assert_eq!(
        (items[1]["healthy"].clone(), items[1]["status"].clone()),
        (json!(false), json!(503))
    );
    assert_eq!(items[1]["detail"]["chains"]["31338"], "refusing");
    assert_eq!(
        (items[2]["healthy"].clone(), items[2]["status"].clone()),
        (json!(false), Value::Null)
    );
    assert!(items[2]["detail"].is_string(), "{v}");
    let (_, platform) = env.platform("Alpha").await;
    let (s, _) = env.get(&platform, "/v1/operator/verifiers").await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    env.stop().await;
}

async fn recorded_deposits_come_from_the_chain_sides_confirmed_logs(backend: Backend) {
    use alloy::primitives::{Address, B256, keccak256};
    use lockstep_chain::store::{BlockRow, Cursor, IndexedRound, NewLog};
    let Some(mut env) = Env::start(backend, |_, _| {}).await else {
        return;
    };
    let store = env.with_chain_store().await;
    let (_, a) = env.platform("Alpha").await;
    let (_, b) = env.platform("Beta").await;
    let (sid, v) = matched_pair(&env, &a, &b, "deposits", |_| {}).await;
    let tr = v["trade_reference"].as_str().unwrap().to_string();
    let (s, before) = env.get(&a, &format!("/v1/settlements/{sid}")).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(before["deposits"], json!([]), "nothing recorded yet");
    let depositor = "0x90f79bf6eb2c4f870365e785982e1f101e93b906";
    let block = BlockRow {
        number: 7,
        hash: B256::repeat_byte(7),
        timestamp: 1_780_000_000,
    };
    let log = |key: B256, event: &str, index: u64| NewLog {
        block_number: 7,
        log_index: index,
        block_hash: block.hash,
        block_timestamp: block.timestamp,
        tx_hash: B256::repeat_byte(0xab),
        address: Address::repeat_byte(0xe5),
        event: event.into(),
        key,
        fields: json!({"legIndex": "0", "depositor": depositor, "token": "0x5fbdb2315678afecb367f032d93f642f64180aa3", "amount": "1000"}),
    };
    store
        .commit_round(&IndexedRound {
            chain_id: 31337,
            blocks: vec![block],
            logs: vec![
                log(keccak256(tr.as_bytes()), "LegDeposited", 0),
                // Another event of the settlement and another settlement's deposit: not shown.
                log(keccak256(tr.as_bytes()), "LegReleased", 1),
                log(keccak256(b"another trade"), "LegDeposited", 2),
            ],
            cursor: Cursor {
                block_number: 7,
                block_hash: block.hash,
            },
            prune_below: 0,
        })
        .await
        .unwrap();
    let want = json!([{
        "chain_id": 31337, "leg_index": 0,
        "depositor": "0x90F79bf6EB2c4f870365E785982E1f101E93b906",
        "token": "0x5FbDB2315678afecb367f032d93F642f64180aa3", "amount": "1000",
        "tx_hash": format!("{:#x}", B256::repeat_byte(0xab)), "block_number": 7,
        "block_timestamp": 1_780_000_000u64,
    }]);
    for t in [&a, &b] {
        let (s, v) = env.get(t, &format!("/v1/settlements/{sid}")).await;
        assert_eq!(s, StatusCode::OK, "{v}");
        assert_eq!(v["deposits"], want, "{v}");
    }
    // Lists stay light: no deposits there.
    let (_, l) = env.get(&a, "/v1/settlements").await;
    assert_eq!(l["items"][0]["deposits"], json!([]));
    env.stop().await;
}
