//! API tests through real HTTP against a started coordinator, on SQLite and PostgreSQL.
#![allow(clippy::unwrap_used, missing_docs, unreachable_pub)]

mod common;

use alloy::primitives::{Address, U256};
use alloy::signers::Signature;
use alloy::sol_types::SolCall;
use common::*;
use lockstep_coordinator::settlements::{EventView, verify_trail};
use lockstep_coordinator::terms::{
    Registration, approveCall, deposit_key, depositCall, registration_signing_hash,
    terms_from_json, terms_hash,
};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};

both_backends!(
    full_two_platform_flow,
    cross_chain_terms_have_one_attestation_per_chain,
    every_matching_rule_fails_on_its_own,
    idempotent_replay_and_conflict,
    cancel_and_expiry,
    isolation_and_auth,
    bad_json_and_bad_fields,
    flagged_then_manual_approve_or_reject,
    http_screening_provider,
    webhooks_signed_retried_and_rotated,
    restart_loses_nothing,
    operations_endpoints,
    shutdown_finishes_the_webhook_attempt_in_flight,
    rate_limit_answers_429_with_retry_after,
    registrar_seam_and_chain_driven_states,
);

/// Checks every attestation recovers to the attester over the documented EIP-712 digest.
fn check_attestations(env: &Env, v: &Value) -> usize {
    let terms = terms_from_json(&v["terms"]).expect("terms present");
    let th = terms_hash(&terms);
    assert_eq!(v["terms_hash"].as_str().unwrap(), th.to_string());
    let decision_ref = v["decision_ref"].as_str().unwrap();
    assert_eq!(
        format!("sha256:{}", hex::encode(terms.decisionRef)),
        decision_ref
    );
    let reg = Registration {
        settlementId: terms.settlementId,
        termsHash: th,
        decisionRef: terms.decisionRef,
    };
    let atts = v["attestations"].as_array().unwrap();
    for a in atts {
        let escrow: Address = a["escrow"].as_str().unwrap().parse().unwrap();
        let hash = registration_signing_hash(a["chain_id"].as_u64().unwrap(), escrow, &reg);
        let sig: Signature = a["signature"].as_str().unwrap().parse().unwrap();
        assert_eq!(
            sig.recover_address_from_prehash(&hash).unwrap(),
            env.attester.address()
        );
    }
    atts.len()
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
    assert_ne!(legs[0]["deposit_key"], legs[1]["deposit_key"]);
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
        assert_eq!(
            deposit_key(&decoded.secret).to_string(),
            legs[idx]["deposit_key"].as_str().unwrap()
        );
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

async fn every_matching_rule_fails_on_its_own(backend: Backend) {
    let Some(env) = Env::start(backend, |_, _| {}).await else {
        return;
    };
    let (_, a) = env.platform("Alpha").await;
    let (_, b) = env.platform("Beta").await;
    type Tweak = fn(&mut Value, &mut Value);
    let cases: Vec<(&str, Tweak)> = vec![
        ("template_mismatch", |_, s| {
            s["template_slug"] = json!("cross-chain-dvp")
        }),
        ("same_role", |_, s| {
            s["role"] = json!("seller");
        }),
        ("instrument_mismatch", |_, s| {
            s["legs"][1]["instrument_id"] = json!(OTHER_TOKEN)
        }),
        ("leg_type_mismatch", |_, s| {
            s["legs"][0]["leg_type"] = json!("payment");
            s["legs"][1]["leg_type"] = json!("asset_delivery");
        }),
        ("quantity_mismatch", |_, s| {
            s["legs"][1]["quantity"] = json!("250000001")
        }),
        ("direction_mismatch", |_, s| {
            s["legs"][0]["direction"] = json!("deliver")
        }),
        ("chain_mismatch", |f, s| {
            for v in [&mut *f, &mut *s] {
                v["template_slug"] = json!("cross-chain-dvp");
            }
            f["legs"][1]["chain_id"] = json!(CHAIN_B);
        }),
    ];
    for (i, (rule, tweak)) in cases.into_iter().enumerate() {
        let mut first = seller(&format!("r{i}"), None);
        let mut second = buyer(&format!("r{i}"), None);
        tweak(&mut first, &mut second);
        let (s, f) = env.post(&a, "/v1/instructions", &first).await;
        assert_eq!(s, StatusCode::CREATED, "{rule}: {f}");
        second["trade_reference"] = f["trade_reference"].clone();
        let (s, v) = env.post(&b, "/v1/instructions", &second).await;
        assert_eq!(s, StatusCode::CREATED, "{rule}: {v}");
        assert_eq!(v["status"], "pending_match", "{rule}: {v}");
        assert_eq!(v["match"]["matched"], false);
        assert_eq!(v["match"]["rule"], rule, "{v}");
        assert!(!v["match"]["message"].as_str().unwrap().is_empty());
        assert!(v["settlement_id"].is_null());
        // The first side is still pending and a correct second side still matches it.
        let mut good = buyer(&format!("g{i}"), f["trade_reference"].as_str());
        if rule == "chain_mismatch" || rule == "template_mismatch" {
            good["template_slug"] = first["template_slug"].clone();
            good["legs"][1]["chain_id"] = first["legs"][1]["chain_id"].clone();
        }
        if rule == "same_role" {
            continue;
        }
        let (s, v) = env.post(&b, "/v1/instructions", &good).await;
        assert_eq!(s, StatusCode::CREATED, "{rule}: {v}");
        assert_eq!(v["status"], "matched", "{rule}: {v}");
    }
    // Unknown trade reference: 422 naming the field.
    let (s, v) = env
        .post(&b, "/v1/instructions", &buyer("nope", Some("LS-NOPE")))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(v["detail"].as_str().unwrap().contains("trade_reference"));
    env.stop().await;
}

async fn idempotent_replay_and_conflict(backend: Backend) {
    let Some(env) = Env::start(backend, |_, _| {}).await else {
        return;
    };
    let (_, a) = env.platform("Alpha").await;
    let (_, b) = env.platform("Beta").await;
    let body = seller("same", None);
    let (s1, v1) = env.post(&a, "/v1/instructions", &body).await;
    assert_eq!(s1, StatusCode::CREATED);
    let (s2, v2) = env.post(&a, "/v1/instructions", &body).await;
    assert_eq!(s2, StatusCode::OK);
    assert_eq!(v1, v2);
    let mut other = body.clone();
    other["legs"][0]["quantity"] = json!("999");
    let (s3, v3) = env.post(&a, "/v1/instructions", &other).await;
    assert_eq!(s3, StatusCode::CONFLICT, "{v3}");
    assert!(v3["detail"].as_str().unwrap().contains("idempotency_key"));
    // Keys are per platform.
    let (s4, _) = env.post(&b, "/v1/instructions", &body).await;
    assert_eq!(s4, StatusCode::CREATED);
    let (_, l) = env.get(&a, "/v1/instructions").await;
    assert_eq!(l["total"], 1);
    // Concurrent submissions with one key: exactly one 201, the others replay it.
    let racing = seller("race", None);
    let answers = futures_join_all((0..8).map(|_| env.post(&a, "/v1/instructions", &racing))).await;
    let created = answers
        .iter()
        .filter(|(s, _)| *s == StatusCode::CREATED)
        .count();
    assert_eq!(created, 1, "{answers:?}");
    assert!(
        answers
            .iter()
            .all(|(s, v)| (*s == StatusCode::CREATED || *s == StatusCode::OK)
                && v["id"] == answers[0].1["id"]),
        "{answers:?}"
    );
    env.stop().await;
}

async fn cancel_and_expiry(backend: Backend) {
    let Some(env) = Env::start(backend, |c, _| c.instruction_ttl_secs = 1).await else {
        return;
    };
    let (_, a) = env.platform("Alpha").await;
    let (_, b) = env.platform("Beta").await;
    let (_, f) = env.post(&a, "/v1/instructions", &seller("c1", None)).await;
    let id = f["id"].as_str().unwrap();
    let (s, v) = env
        .post(&a, &format!("/v1/instructions/{id}/cancel"), &json!({}))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["status"], "cancelled");
    let (s, _) = env
        .post(&a, &format!("/v1/instructions/{id}/cancel"), &json!({}))
        .await;
    assert_eq!(s, StatusCode::CONFLICT);
    let (s, v) = env
        .post(
            &b,
            "/v1/instructions",
            &buyer("c1", f["trade_reference"].as_str()),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    assert_eq!(v["match"]["rule"], "no_pending_counterpart");

    // Expiry after the 1 s TTL: lazily on read, and by the sweeper.
    let (_, e1) = env.post(&a, "/v1/instructions", &seller("e1", None)).await;
    let (_, e2) = env.post(&a, "/v1/instructions", &seller("e2", None)).await;
    tokio::time::sleep(std::time::Duration::from_millis(1_500)).await;
    let (_, v) = env
        .get(
            &a,
            &format!("/v1/instructions/{}", e1["id"].as_str().unwrap()),
        )
        .await;
    assert_eq!(v["status"], "expired");
    let (_, l) = env.get(&a, "/v1/instructions?status=expired").await;
    assert_eq!(l["total"], 2, "{l}");
    let (s, v) = env
        .post(
            &b,
            "/v1/instructions",
            &buyer("e2", e2["trade_reference"].as_str()),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    assert_eq!(v["match"]["rule"], "no_pending_counterpart");
    let (s, _) = env
        .post(
            &a,
            &format!("/v1/instructions/{}/cancel", e2["id"].as_str().unwrap()),
            &json!({}),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT);
    env.stop().await;
}

async fn isolation_and_auth(backend: Backend) {
    let Some(env) = Env::start(backend, |_, _| {}).await else {
        return;
    };
    let (pa, a) = env.platform("Alpha").await;
    let (_, b) = env.platform("Beta").await;
    let (_, f) = env.post(&a, "/v1/instructions", &seller("i1", None)).await;
    let id = f["id"].as_str().unwrap();
    let (s_other, v_other) = env.get(&b, &format!("/v1/instructions/{id}")).await;
    let (s_missing, v_missing) = env.get(&b, "/v1/instructions/ins_doesnotexist").await;
    assert_eq!(s_other, StatusCode::NOT_FOUND);
    assert_eq!((s_other, v_other), (s_missing, v_missing));
    let (s, _) = env
        .post(&b, &format!("/v1/instructions/{id}/cancel"), &json!({}))
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (_, l) = env.get(&b, "/v1/instructions").await;
    assert_eq!(l["total"], 0);

    // 401 without or with a bad token; 403 without the scope; 401 once revoked.
    let (s, v) = env.req(Method::GET, None, "/v1/instructions", None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "{v}");
    let (s, _) = env.get("lst_forged", "/v1/instructions").await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let ro = lockstep_coordinator::admin::issue_token(
        env.db(),
        Some(&pa),
        &[lockstep_coordinator::auth::Scope::SettlementsRead],
    )
    .await
    .unwrap();
    let (s, _) = env
        .post(&ro.token, "/v1/instructions", &seller("i2", None))
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = env.get(&ro.token, "/v1/settlements").await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        lockstep_coordinator::admin::revoke_token(env.db(), &ro.token_id)
            .await
            .unwrap()
    );
    let (s, _) = env.get(&ro.token, "/v1/settlements").await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    // Platform tokens cannot use operator endpoints.
    let (s, _) = env.get(&a, "/v1/operator/settlement-counts").await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    env.stop().await;
}

async fn bad_json_and_bad_fields(backend: Backend) {
    let Some(env) = Env::start(backend, |_, _| {}).await else {
        return;
    };
    let (_, a) = env.platform("Alpha").await;
    let raw = |body: &'static str| {
        env.http
            .post(format!("{}/v1/instructions", env.base))
            .bearer_auth(&a)
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    let r = raw("{not json").await.unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let v: Value = r.json().await.unwrap();
    assert!(v["detail"].is_string());

    let mut missing = seller("m", None);
    missing.as_object_mut().unwrap().remove("role");
    let (s, v) = env.post(&a, "/v1/instructions", &missing).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(v["detail"].as_str().unwrap().contains("role"), "{v}");

    type Case = (&'static str, Box<dyn Fn(&mut Value)>, &'static str);
    let cases: Vec<Case> = vec![
        (
            "float quantity",
            Box::new(|v| v["legs"][0]["quantity"] = json!("1.5")),
            "legs.0.quantity",
        ),
        (
            "numeric quantity",
            Box::new(|v| v["legs"][0]["quantity"] = json!(15)),
            "legs[0].quantity",
        ),
        (
            "quantity over uint256",
            Box::new(|v| {
                v["legs"][1]["quantity"] = json!(
                    "115792089237316195423570985008687907853269984665640564039457584007913129639936"
                )
            }),
            "legs.1.quantity",
        ),
        (
            "bad checksum",
            Box::new(|v| {
                v["party"]["wallet_address"] = json!("0xd1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb")
            }),
            "party.wallet_address",
        ),
        (
            "bad token",
            Box::new(|v| v["legs"][1]["instrument_id"] = json!("0x1234")),
            "legs.1.instrument_id",
        ),
        (
            "unknown chain",
            Box::new(|v| v["party"]["chain_id"] = json!(1)),
            "party.chain_id",
        ),
        (
            "unknown template",
            Box::new(|v| v["template_slug"] = json!("nope")),
            "template_slug",
        ),
        (
            "bad role",
            Box::new(|v| v["role"] = json!("broker")),
            "role",
        ),
        (
            "bad timeout",
            Box::new(|v| v["timeout_at"] = json!("tomorrow")),
            "timeout_at",
        ),
        (
            "past timeout",
            Box::new(|v| v["timeout_at"] = json!("2020-01-01T00:00:00Z")),
            "timeout_at",
        ),
        (
            "missing leg",
            Box::new(|v| {
                v["legs"].as_array_mut().unwrap().pop();
            }),
            "legs",
        ),
        (
            "unknown field",
            Box::new(|v| v["extra"] = json!(1)),
            "extra",
        ),
    ];
    for (name, tweak, field) in cases {
        let mut body = seller(&format!("bad-{name}"), None);
        tweak(&mut body);
        let (s, v) = env.post(&a, "/v1/instructions", &body).await;
        assert!(
            s == StatusCode::UNPROCESSABLE_ENTITY || s == StatusCode::BAD_REQUEST,
            "{name}: {s} {v}"
        );
        assert!(v["detail"].as_str().unwrap().contains(field), "{name}: {v}");
    }
    let (s, _) = env.get(&a, "/v1/instructions?limit=abc").await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, _) = env.get(&a, "/v1/instructions?limit=0").await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let (s, _) = env.get(&a, "/v1/settlements?state=NOPE").await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let (_, l) = env.get(&a, "/v1/instructions").await;
    assert_eq!(l["total"], 0);
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

type Received = Arc<Mutex<Vec<(reqwest::header::HeaderMap, String)>>>;

/// A webhook receiver on loopback that answers 500 to the first `fail_first` requests.
async fn receiver(fail_first: usize) -> (String, Received) {
    let got: Received = Arc::new(Mutex::new(Vec::new()));
    let g = got.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: axum::http::HeaderMap, body: String| {
            let g = g.clone();
            async move {
                let mut v = g.lock().unwrap();
                let mut h = reqwest::header::HeaderMap::new();
                for (k, val) in headers.iter() {
                    h.insert(
                        reqwest::header::HeaderName::from_bytes(k.as_str().as_bytes()).unwrap(),
                        reqwest::header::HeaderValue::from_bytes(val.as_bytes()).unwrap(),
                    );
                }
                v.push((h, body));
                if v.len() <= fail_first {
                    axum::http::StatusCode::INTERNAL_SERVER_ERROR
                } else {
                    axum::http::StatusCode::NO_CONTENT
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, got)
}

fn events_of(got: &Received) -> Vec<String> {
    got.lock()
        .unwrap()
        .iter()
        .map(|(_, b)| {
            serde_json::from_str::<Value>(b).unwrap()["event"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect()
}

async fn wait_for<F: Fn() -> bool>(f: F, what: &str) {
    for _ in 0..200 {
        if f() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}");
}

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
    let want = [
        "settlement.state.instructed",
        "settlement.state.compliance_checking",
        "settlement.state.compliance_cleared",
        "settlement.compliance.cleared",
    ];
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
    assert_eq!(t["total"], 2);
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

/// Runs futures concurrently on the current task (no extra dependency).
async fn futures_join_all<F: std::future::Future>(fs: impl Iterator<Item = F>) -> Vec<F::Output> {
    let mut set = Vec::new();
    for f in fs {
        set.push(Box::pin(f));
    }
    let mut out: Vec<Option<F::Output>> = (0..set.len()).map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (i, f) in set.iter_mut().enumerate() {
            if out[i].is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => out[i] = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    out.into_iter().map(|o| o.unwrap()).collect()
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

async fn rate_limit_answers_429_with_retry_after(backend: Backend) {
    let Some(env) = Env::start(backend, |c, _| {
        c.rate_limit_per_second = 1.0;
        c.rate_limit_burst = 3.0;
    })
    .await
    else {
        return;
    };
    let (_, a) = env.platform("Alpha").await;
    let (_, b) = env.platform("Beta").await;
    for _ in 0..3 {
        assert_eq!(env.get(&a, "/v1/instructions").await.0, StatusCode::OK);
    }
    let r = env
        .http
        .get(format!("{}/v1/instructions", env.base))
        .bearer_auth(&a)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(r.headers()["retry-after"], "1");
    // Buckets are per token.
    assert_eq!(env.get(&b, "/v1/instructions").await.0, StatusCode::OK);
    tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
    assert_eq!(env.get(&a, "/v1/instructions").await.0, StatusCode::OK);
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
