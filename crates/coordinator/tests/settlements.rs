//! API tests of the settlement lifecycle through real HTTP against a started coordinator,
//! on SQLite and PostgreSQL: matching into settlements, terms and attestations, screening
//! and manual decisions, the registrar seam and chain-driven states, operations.
#![allow(clippy::unwrap_used, missing_docs, unreachable_pub)]

mod common;

use alloy::primitives::{Address, U256};
use alloy::sol_types::SolCall;
use common::*;
use lockstep_coordinator::settlements::{EventView, verify_trail};
use lockstep_coordinator::terms::{approveCall, depositCall, terms_from_json};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};

both_backends!(
    full_two_platform_flow,
    cross_chain_terms_have_one_attestation_per_chain,
    flagged_then_manual_approve_or_reject,
    http_screening_provider,
    operations_endpoints,
    registrar_seam_and_chain_driven_states,
    a_cleared_batch_ends_its_leases,
);

/// A screening round that clears several settlements at once ends each one's work lease
/// in the transaction that stores them, so the registrar round can claim them at once
/// instead of after the lease (30 s).
async fn a_cleared_batch_ends_its_leases(backend: Backend) {
    let Some(env) = Env::start(backend, |_, _| {}).await else {
        return;
    };
    let (_, a) = env.platform("Alpha").await;
    let (_, b) = env.platform("Beta").await;
    let seconds: Vec<Value> = (env.first_sides(&a, "lease", 4).await.iter().enumerate())
        .map(|(i, tr)| buyer(&format!("b-lease-{i}"), Some(tr)))
        .collect();
    // On SQLite the four match in one commit, and the worker's next round claims and
    // clears them together.
    for (s, v) in &env.post_as_one_group(backend, &b, &seconds).await {
        assert_eq!(*s, StatusCode::CREATED, "{v}");
        let sid = v["settlement_id"].as_str().unwrap();
        env.wait_state(&a, sid, "COMPLIANCE_CLEARED").await;
    }
    let leased: Vec<(String, i64)> = sqlx::query_as(
        "SELECT id, worker_lease_until FROM settlements WHERE worker_lease_until <> 0",
    )
    .fetch_all(env.db().pool())
    .await
    .unwrap();
    assert!(leased.is_empty(), "cleared but still leased: {leased:?}");
    env.stop().await;
}

async fn full_two_platform_flow(backend: Backend) {
    let Some(env) = Env::start(backend, |c, dir| {
        let list = dir.join("sanctions.json");
        std::fs::write(&list, r#"[{"name": "Evil Corp", "addresses": ["0x8617E340B3D01FA5F11F306F4090FD50E238070D"]}]"#).unwrap();
        c.compliance.sanctions_list = Some(list);
    })
    .await
    else {
        return;
    };
    let (pa, a) = env.platform("Alpha").await;
    let (pb, b) = env.platform("Beta").await;
    let (_, c) = env.platform("Gamma").await;

    let (s, first) = env.post(&a, "/v1/instructions", &seller("k1", None)).await;
    assert_eq!(s, StatusCode::CREATED, "{first}");
    assert_eq!(first["status"], "pending_match");
    assert!(first["match"].is_null());
    let tr = first["trade_reference"].as_str().unwrap().to_string();
    assert!(tr.starts_with("LS-"));

    let (s, second) = env
        .post(&b, "/v1/instructions", &buyer("k1", Some(&tr)))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{second}");
    assert_eq!(second["status"], "matched");
    assert_eq!(second["match"]["matched"], true);
    let sid = second["settlement_id"].as_str().unwrap().to_string();

    // The first side is matched too.
    let (_, f) = env
        .get(
            &a,
            &format!("/v1/instructions/{}", first["id"].as_str().unwrap()),
        )
        .await;
    assert_eq!(f["status"], "matched");
    assert_eq!(f["settlement_id"], sid.as_str());

    // Visible to both parties, cleared, with terms and attestations.
    let v = env.wait_state(&a, &sid, "COMPLIANCE_CLEARED").await;
    let vb = env.wait_state(&b, &sid, "COMPLIANCE_CLEARED").await;
    assert_eq!(v["id"], vb["id"]);
    assert_eq!(v["parties"][0]["platform_id"], pa.as_str());
    assert_eq!(v["parties"][1]["platform_id"], pb.as_str());
    assert_eq!(v["compliance"]["screening"]["result"], "pass");
    assert_eq!(
        v["compliance"]["screening"]["providers"],
        json!(["sanctions-list"])
    );
    assert_eq!(check_attestations(&env, &v), 1);
    let legs = v["terms"]["legs"].as_array().unwrap();
    assert_eq!(legs.len(), 2);
    // Seller's asset leg first, to the buyer; buyer's payment leg to the seller; secrets hidden.
    assert_eq!(legs[0]["token"], ASSET);
    assert_eq!(legs[0]["recipient"], BUYER_WALLET);
    assert_eq!(legs[0]["amount"], "1000");
    assert_eq!(legs[1]["token"], USDC);
    assert_eq!(legs[1]["recipient"], SELLER_WALLET);
    assert_eq!(v["terms"]["hub_eid"], 40161);
    // Escrow v2 default: each leg's fixed depositor is its party's wallet, no deposit key.
    assert_eq!(legs[0]["depositor"], SELLER_WALLET);
    assert_eq!(legs[1]["depositor"], BUYER_WALLET);
    assert_eq!(legs[0]["deposit_key"], ZERO_ADDRESS);
    assert_eq!(legs[1]["deposit_key"], ZERO_ADDRESS);
    assert!(!v.to_string().contains("secret"));
    assert_eq!(v["evidence"]["decision_ref"], v["decision_ref"]);

    // Each platform gets the legs it funds, with calldata that decodes to the same terms.
    for (token, idx) in [(&a, 0usize), (&b, 1usize)] {
        let (s, d) = env
            .get(token, &format!("/v1/settlements/{sid}/deposits"))
            .await;
        assert_eq!(s, StatusCode::OK, "{d}");
        assert_eq!(d["total"], 1, "{d}");
        let item = &d["items"][0];
        assert_eq!(item["leg_index"], idx);
        assert_eq!(item["escrow"], ESCROW_A);
        let call = hex::decode(
            item["deposit_calldata"]
                .as_str()
                .unwrap()
                .trim_start_matches("0x"),
        )
        .unwrap();
        let decoded = <depositCall as SolCall>::abi_decode(&call).unwrap();
        assert_eq!(decoded.terms, terms_from_json(&v["terms"]).unwrap());
        assert_eq!(decoded.legIndex, U256::from(idx));
        // Depositor legs: sent by the fixed depositor with an empty signature.
        assert!(decoded.signature.is_empty());
        assert_eq!(item["authorization"], "depositor");
        assert_eq!(item["sender"], legs[idx]["depositor"]);
        assert!(item["deposit_key"].is_null() && item["deposit_key_private_key"].is_null());
        assert!(item["signature"].is_null());
        let approve = hex::decode(
            item["approve_calldata"]
                .as_str()
                .unwrap()
                .trim_start_matches("0x"),
        )
        .unwrap();
        let approve = <approveCall as SolCall>::abi_decode(&approve).unwrap();
        assert_eq!(approve.spender, ESCROW_A.parse::<Address>().unwrap());
        assert_eq!(
            approve.amount.to_string(),
            legs[idx]["amount"].as_str().unwrap()
        );
    }
    let (s, _) = env
        .get(&c, &format!("/v1/settlements/{sid}/deposits"))
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, e) = env
        .get(&b, &format!("/v1/settlements/{sid}/evidence"))
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(e["decision_ref"], v["decision_ref"]);
    assert_eq!(e["decision"]["verdict"], "ALLOW");

    // Event trail: three hash-chained events.
    let (s, ev) = env.get(&b, &format!("/v1/settlements/{sid}/events")).await;
    assert_eq!(s, StatusCode::OK);
    let events: Vec<EventView> = serde_json::from_value(ev["items"].clone()).unwrap();
    let states: Vec<_> = events.iter().map(|e| e.to_state.as_str()).collect();
    assert_eq!(
        states,
        ["INSTRUCTED", "COMPLIANCE_CHECKING", "COMPLIANCE_CLEARED"]
    );
    assert!(verify_trail(&sid, &events));
    let mut tampered = events.clone();
    tampered[1].cause.push('!');
    assert!(!verify_trail(&sid, &tampered));

    // A third platform sees nothing; lists are paginated and filtered.
    let (s, _) = env.get(&c, &format!("/v1/settlements/{sid}")).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (_, l) = env.get(&c, "/v1/settlements").await;
    assert_eq!(l["total"], 0);
    let (_, l) = env
        .get(&a, "/v1/settlements?state=COMPLIANCE_CLEARED&limit=1")
        .await;
    assert_eq!(l["total"], 1);
    assert_eq!(l["limit"], 1);
    assert_eq!(l["items"][0]["id"], sid.as_str());
    let (_, l) = env.get(&a, "/v1/settlements?state=FINALIZED").await;
    assert_eq!(l["total"], 0);
    let (_, l) = env.get(&a, "/v1/instructions").await;
    assert_eq!(l["total"], 1);
    assert_eq!(l["offset"], 0);
    env.stop().await;
}

async fn cross_chain_terms_have_one_attestation_per_chain(backend: Backend) {
    let Some(env) = Env::start(backend, |_, _| {}).await else {
        return;
    };
    let (_, a) = env.platform("Alpha").await;
    let (_, b) = env.platform("Beta").await;
    let cross = |mut v: Value| {
        v["template_slug"] = json!("cross-chain-dvp");
        v["legs"][1]["chain_id"] = json!(CHAIN_B);
        v
    };
    let (s, first) = env
        .post(&a, "/v1/instructions", &cross(seller("x1", None)))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{first}");
    let tr = first["trade_reference"].as_str().unwrap();
    let (s, second) = env
        .post(&b, "/v1/instructions", &cross(buyer("x1", Some(tr))))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{second}");
    assert_eq!(second["status"], "matched", "{second}");
    let v = env
        .wait_state(
            &a,
            second["settlement_id"].as_str().unwrap(),
            "COMPLIANCE_CLEARED",
        )
        .await;
    assert_eq!(check_attestations(&env, &v), 2);
    assert_eq!(v["attestations"][0]["chain_id"], CHAIN_A);
    assert_eq!(v["attestations"][1]["chain_id"], CHAIN_B);
    assert_eq!(v["terms"]["legs"][0]["eid"], 40161);
    assert_eq!(v["terms"]["legs"][1]["eid"], 40162);
    // A one-chain template refuses legs on two chains.
    let mut bad = cross(seller("x2", None));
    bad["template_slug"] = json!("dvp-standard");
    let (s, e) = env.post(&a, "/v1/instructions", &bad).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        e["detail"].as_str().unwrap().contains("legs.1.chain_id"),
        "{e}"
    );
    env.stop().await;
}

async fn flagged_then_manual_approve_or_reject(backend: Backend) {
    let Some(env) = Env::start(backend, |c, dir| {
        c.stuck_after_secs = 0;
        let list = dir.join("sanctions.csv");
        std::fs::write(
            &list,
            format!("name,address\nEvil Corp,{SANCTIONED_WALLET}\n"),
        )
        .unwrap();
        c.compliance.sanctions_list = Some(list);
    })
    .await
    else {
        return;
    };
    let (_, a) = env.platform("Alpha").await;
    let (_, b) = env.platform("Beta").await;
    let op = env.operator().await;
    let flagged = |v: &mut Value| v["party"]["name"] = json!("EVIL CORP Trading Ltd");

    // Flagged, then approved by the operator.
    let (sid, _) = matched_pair(&env, &a, &b, "f1", flagged).await;
    let mut v = Value::Null;
    for _ in 0..100 {
        v = env.get(&a, &format!("/v1/settlements/{sid}")).await.1;
        if !v["compliance"].is_null() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(v["state"], "COMPLIANCE_CHECKING");
    assert_eq!(v["compliance"]["screening"]["result"], "flagged");
    assert!(v["terms"].is_null());
    // Waiting for a human: reported as stuck (stuck_after_secs = 0 here).
    let (_, st) = env.get(&op, "/v1/operator/stuck-settlements").await;
    assert!(
        st["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["id"] == sid.as_str()),
        "{st}"
    );
    let (s, _) = env
        .post(
            &a,
            &format!("/v1/settlements/{sid}/compliance-decision"),
            &json!({"decision": "approve"}),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "party platforms may not decide");
    let (s, _) = env
        .post(
            &op,
            &format!("/v1/settlements/{sid}/compliance-decision"),
            &json!({"decision": "maybe"}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let (s, v) = env
        .post(
            &op,
            &format!("/v1/settlements/{sid}/compliance-decision"),
            &json!({"decision": "approve", "reason": "false positive"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["state"], "COMPLIANCE_CLEARED");
    assert_eq!(v["compliance"]["manual_decision"]["decision"], "approve");
    check_attestations(&env, &v);
    let (s, _) = env
        .post(
            &op,
            &format!("/v1/settlements/{sid}/compliance-decision"),
            &json!({"decision": "reject"}),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT);

    // Flagged, then rejected.
    let (sid2, _) = matched_pair(&env, &a, &b, "f2", flagged).await;
    for _ in 0..100 {
        if !env.get(&a, &format!("/v1/settlements/{sid2}")).await.1["compliance"].is_null() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let (s, v) = env
        .post(
            &op,
            &format!("/v1/settlements/{sid2}/compliance-decision"),
            &json!({"decision": "reject"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["state"], "ROLLED_BACK");
    assert!(v["terms"].is_null());

    // A listed wallet fails outright.
    let (sid3, _) = matched_pair(&env, &a, &b, "f3", |v| {
        v["party"]["wallet_address"] = json!(SANCTIONED_WALLET)
    })
    .await;
    let v = env.wait_state(&b, &sid3, "ROLLED_BACK").await;
    assert_eq!(v["compliance"]["screening"]["result"], "fail");
    let (_, ev) = env.get(&b, &format!("/v1/settlements/{sid3}/events")).await;
    assert_eq!(ev["items"][2]["cause"], "screening failed");
    env.stop().await;
}

async fn http_screening_provider(backend: Backend) {
    // A real external screening service on loopback: fails one wallet, passes the rest.
    let calls = Arc::new(Mutex::new(0usize));
    let counter = calls.clone();
    let app = axum::Router::new().route(
        "/screen",
        axum::routing::post(move |axum::Json(v): axum::Json<Value>| {
            let counter = counter.clone();
            async move {
                *counter.lock().unwrap() += 1;
                let bad = v["wallet_address"]
                    .as_str()
                    .unwrap_or_default()
                    .eq_ignore_ascii_case(SANCTIONED_WALLET);
                axum::Json(
                    json!({"result": if bad { "fail" } else { "pass" }, "reason": "checked"}),
                )
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/screen", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let Some(env) = Env::start(backend, |c, _| c.compliance.http_url = Some(url)).await else {
        return;
    };
    let (_, a) = env.platform("Alpha").await;
    let (_, b) = env.platform("Beta").await;
    let (sid, _) = matched_pair(&env, &a, &b, "h1", |_| {}).await;
    let v = env.wait_state(&a, &sid, "COMPLIANCE_CLEARED").await;
    assert_eq!(v["compliance"]["screening"]["providers"], json!(["http"]));
    assert_eq!(*calls.lock().unwrap(), 2);
    let (sid, _) = matched_pair(&env, &a, &b, "h2", |v| {
        v["party"]["wallet_address"] = json!(SANCTIONED_WALLET)
    })
    .await;
    env.wait_state(&a, &sid, "ROLLED_BACK").await;
    env.stop().await;
}

async fn operations_endpoints(backend: Backend) {
    let Some(env) = Env::start(backend, |_, _| {}).await else {
        return;
    };
    let (_, a) = env.platform("Alpha").await;
    let (_, b) = env.platform("Beta").await;
    let op = env.operator().await;
    let (s, h) = env.req(Method::GET, None, "/healthz", None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(h["status"], "ok");
    let (sid, _) = matched_pair(&env, &a, &b, "o1", |_| {}).await;
    env.wait_state(&a, &sid, "COMPLIANCE_CLEARED").await;
    let (s, c) = env.get(&op, "/v1/operator/settlement-counts").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(c["counts"]["COMPLIANCE_CLEARED"], 1);
    assert_eq!(c["counts"]["FINALIZED"], 0);
    let (s, st) = env.get(&op, "/v1/operator/stuck-settlements").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(st["total"], 0);
    // Operators see every settlement.
    let (s, _) = env.get(&op, &format!("/v1/settlements/{sid}")).await;
    assert_eq!(s, StatusCode::OK);
    let (s, t) = env.get(&a, "/v1/settlement-templates").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(t["total"], 4);
    assert_eq!(t["items"][3]["repo"]["close_window_secs"], 3_600);
    let (s, t) = env
        .get(&a, "/v1/settlement-templates/cross-chain-dvp")
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(t["single_chain"], false);
    let (s, _) = env.get(&a, "/v1/settlement-templates/nope").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, doc) = env.req(Method::GET, None, "/openapi.json", None).await;
    assert_eq!(s, StatusCode::OK);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    for p in [
        "/v1/instructions",
        "/v1/instructions/{id}/cancel",
        "/v1/settlements/{id}/events",
        "/v1/settlements/{id}/compliance-decision",
        "/v1/webhook-endpoints/{id}/rotate-secret",
        "/v1/settlement-templates/{slug}",
    ] {
        assert!(
            doc["paths"].get(p).is_some(),
            "{p} missing from the OpenAPI document"
        );
    }
    let m = env
        .http
        .get(format!("{}/metrics", env.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(m.contains("lockstep_matches_total 1"), "{m}");
    assert!(
        m.contains("lockstep_transitions_total{to=\"COMPLIANCE_CLEARED\"} 1"),
        "{m}"
    );
    assert!(
        m.contains("lockstep_http_requests_total{method=\"POST\",status=\"201\"}"),
        "{m}"
    );
    env.stop().await;
}

/// Records what the coordinator hands over; stands in for the chain side's registrar.
struct RecordingRegistrar(Mutex<Vec<lockstep_core::ClearedSettlement>>);

#[async_trait::async_trait]
impl lockstep_core::SettlementRegistrar for RecordingRegistrar {
    async fn register(
        &self,
        s: &lockstep_core::ClearedSettlement,
    ) -> Result<(), lockstep_core::RegistrationError> {
        self.0.lock().unwrap().push(s.clone());
        Ok(())
    }
}

async fn registrar_seam_and_chain_driven_states(backend: Backend) {
    use lockstep_core::SettlementState as S;
    let Some(mut env) = Env::start(backend, |_, _| {}).await else {
        return;
    };
    let rec = Arc::new(RecordingRegistrar(Mutex::new(Vec::new())));
    env.with_registrar(rec.clone()).await;
    let (_, a) = env.platform("Alpha").await;
    let (_, b) = env.platform("Beta").await;
    let (url, got) = receiver(0).await;
    env.post(&a, "/v1/webhook-endpoints", &json!({"url": url}))
        .await;
    let (sid, _) = matched_pair(&env, &a, &b, "reg", |_| {}).await;
    let v = env.wait_state(&a, &sid, "COMPLIANCE_CLEARED").await;
    wait_for(
        || rec.0.lock().unwrap().len() == 1,
        "the registrar hand-over",
    )
    .await;
    {
        let handed = rec.0.lock().unwrap()[0].clone();
        assert_eq!(handed.id, sid);
        assert_eq!(handed.terms, terms_from_json(&v["terms"]).unwrap());
        assert_eq!(
            handed.terms_hash.to_string(),
            v["terms_hash"].as_str().unwrap()
        );
        assert_eq!(handed.attestations.len(), 1);
    }
    // The chain side drives the rest through the one guarded transition function.
    let ledger = env.ledger();
    let err = ledger
        .apply_transition(&sid, S::Finalized, "skipping ahead")
        .await
        .unwrap_err();
    assert!(
        matches!(err, lockstep_core::LedgerError::IllegalTransition { .. }),
        "{err}"
    );
    for (to, cause) in [
        (S::AwaitingDeposits, "registered on 40161"),
        (S::ExecutingSwap, "all legs locked"),
        (S::Finalized, "executed"),
    ] {
        ledger.apply_transition(&sid, to, cause).await.unwrap();
    }
    let v = env.wait_state(&b, &sid, "FINALIZED").await;
    assert_eq!(v["state"], "FINALIZED");
    let (_, ev) = env.get(&a, &format!("/v1/settlements/{sid}/events")).await;
    let events: Vec<EventView> = serde_json::from_value(ev["items"].clone()).unwrap();
    assert_eq!(events.len(), 6);
    assert!(verify_trail(&sid, &events));
    let err = ledger
        .apply_transition(&sid, S::RolledBack, "too late")
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        lockstep_core::LedgerError::IllegalTransition { .. }
    ));
    wait_for(
        || events_of(&got).contains(&"settlement.state.finalized".to_string()),
        "the finalized webhook",
    )
    .await;
    // Handed over exactly once, also across a restart.
    env.restart().await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(rec.0.lock().unwrap().len(), 1);
    env.stop().await;
}
