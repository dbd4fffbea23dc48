//! API tests of instruction intake through real HTTP against a started coordinator, on
//! SQLite and PostgreSQL: matching rules, idempotency, cancel and expiry, isolation and
//! authentication, request validation, rate limits.
#![allow(clippy::unwrap_used, missing_docs, unreachable_pub)]

mod common;

use common::*;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

both_backends!(
    every_matching_rule_fails_on_its_own,
    idempotent_replay_and_conflict,
    cancel_and_expiry,
    isolation_and_auth,
    bad_json_and_bad_fields,
    rate_limit_answers_429_with_retry_after,
    concurrent_mixed_submissions_each_get_their_own_answer,
    second_sides_together_after_expiry_find_their_first_sides_expired,
);

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

/// Submissions that arrive together share one transaction on SQLite (group commit,
/// `instructions::group`): each still gets its own answer, an invalid or conflicting one
/// changes nothing for the others, and every stored answer is what reading the
/// instruction back gives.
async fn concurrent_mixed_submissions_each_get_their_own_answer(backend: Backend) {
    let Some(env) = Env::start(backend, |_, _| {}).await else {
        return;
    };
    let (_, a) = env.platform("Alpha").await;
    let (_, b) = env.platform("Beta").await;
    let (s, used) = env
        .post(&a, "/v1/instructions", &seller("used", None))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{used}");
    let mut reused = seller("used", None);
    reused["legs"][0]["quantity"] = json!("7");
    let mut invalid = seller("bad", None);
    invalid["timeout_at"] = json!("2001-01-01T00:00:00Z");
    let mut firsts: Vec<Value> = (0..6)
        .map(|i| seller(&format!("first-{i}"), None))
        .collect();
    firsts.push(reused);
    firsts.push(invalid);
    let answers =
        futures_join_all(firsts.iter().map(|r| env.post(&a, "/v1/instructions", r))).await;
    let codes: Vec<StatusCode> = answers.iter().map(|(s, _)| *s).collect();
    assert_eq!(&codes[..6], &[StatusCode::CREATED; 6], "{answers:?}");
    assert_eq!(codes[6], StatusCode::CONFLICT, "{answers:?}");
    assert_eq!(codes[7], StatusCode::UNPROCESSABLE_ENTITY, "{answers:?}");
    // The six second sides, together, with a late one for the first reference.
    let refs: Vec<String> = answers[..6]
        .iter()
        .map(|(_, v)| v["trade_reference"].as_str().unwrap().to_string())
        .collect();
    let seconds: Vec<Value> = refs
        .iter()
        .enumerate()
        .map(|(i, r)| buyer(&format!("second-{i}"), Some(r)))
        .collect();
    let matched =
        futures_join_all(seconds.iter().map(|r| env.post(&b, "/v1/instructions", r))).await;
    for (i, (s, v)) in matched.iter().enumerate() {
        assert_eq!(*s, StatusCode::CREATED, "{v}");
        assert_eq!(v["status"], "matched", "{v}");
        assert_eq!(v["trade_reference"], refs[i].as_str(), "{v}");
        let sid = v["settlement_id"].as_str().unwrap();
        let (s, back) = env
            .get(
                &b,
                &format!("/v1/instructions/{}", v["id"].as_str().unwrap()),
            )
            .await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(&back, v, "the stored answer is the row read back");
        let (s, stl) = env.get(&a, &format!("/v1/settlements/{sid}")).await;
        assert_eq!(s, StatusCode::OK, "{stl}");
    }
    // Two second sides for one reference arriving together (one group on SQLite): one
    // matches; the other, from a party of the settlement just made, gets the 409, as it
    // would one request later.
    let (s, first) = env
        .post(&a, "/v1/instructions", &seller("first-dup", None))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{first}");
    let tr = first["trade_reference"].as_str().unwrap();
    let twins = [buyer("twin-1", Some(tr)), buyer("twin-2", Some(tr))];
    let both = futures_join_all(twins.iter().map(|r| env.post(&b, "/v1/instructions", r))).await;
    let mut codes: Vec<StatusCode> = both.iter().map(|(s, _)| *s).collect();
    codes.sort();
    assert_eq!(
        codes,
        [StatusCode::CREATED, StatusCode::CONFLICT],
        "{both:?}"
    );
    let (_, won) = both
        .iter()
        .find(|(s, _)| *s == StatusCode::CREATED)
        .unwrap();
    assert_eq!(won["status"], "matched", "{won}");
    // A mismatching and a matching second side together (one group on SQLite, where the
    // match's leftover count comes from the group's own reads): the mismatch either waits
    // and is closed by the match, or comes after it and gets the 409. Never left pending.
    for round in 0..4 {
        let (s, first) = env
            .post(
                &a,
                "/v1/instructions",
                &seller(&format!("first-left-{round}"), None),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{first}");
        let tr = first["trade_reference"].as_str().unwrap();
        let mut wrong = buyer(&format!("left-wrong-{round}"), Some(tr));
        wrong["legs"][0]["quantity"] = json!("999");
        let pair = [wrong, buyer(&format!("left-right-{round}"), Some(tr))];
        let both = futures_join_all(pair.iter().map(|r| env.post(&b, "/v1/instructions", r))).await;
        let (s, right) = &both[1];
        assert_eq!(*s, StatusCode::CREATED, "{right}");
        assert_eq!(right["status"], "matched", "{right}");
        match &both[0] {
            (StatusCode::CONFLICT, _) => {}
            (StatusCode::CREATED, w) => {
                assert_eq!(w["status"], "pending_match", "{w}");
                let id = w["id"].as_str().unwrap();
                let (_, now) = env.get(&b, &format!("/v1/instructions/{id}")).await;
                assert_eq!(now["status"], "closed", "{now}");
            }
            other => panic!("{other:?}"),
        }
    }
    // Replays of the group's members answer as the first time.
    for (r, (_, first)) in firsts[..6].iter().zip(&answers) {
        let (s, again) = env.post(&a, "/v1/instructions", r).await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(&again, first);
    }
    env.stop().await;
}

/// A submission that outlives the request timeout gets a 503, and is not lost: the group
/// task commits it once the writer is free, and a retry with the same key replays it.
/// (SQLite: another process holds the database's write lock for a while.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timed_out_submission_answers_503_and_commits_later() {
    use sqlx::Connection;
    let env = Env::start(Backend::Sqlite, |c, _| c.http.request_timeout_ms = 400)
        .await
        .unwrap();
    let (_, a) = env.platform("Alpha").await;
    let url = env.config.database_url.clone().unwrap();
    let mut other = sqlx::AnyConnection::connect(&url).await.unwrap();
    sqlx::raw_sql("BEGIN IMMEDIATE")
        .execute(&mut other)
        .await
        .unwrap();
    let req = seller("slow", None);
    let (s, v) = env.post(&a, "/v1/instructions", &req).await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE, "{v}");
    assert!(
        v["detail"].as_str().unwrap_or("").contains("too long"),
        "{v}"
    );
    sqlx::raw_sql("ROLLBACK").execute(&mut other).await.unwrap();
    let mut answer = (StatusCode::SERVICE_UNAVAILABLE, Value::Null);
    for _ in 0..50 {
        answer = env.post(&a, "/v1/instructions", &req).await;
        if answer.0 != StatusCode::SERVICE_UNAVAILABLE {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(
        answer.0,
        StatusCode::OK,
        "the retry replays: {:?}",
        answer.1
    );
    let (_, list) = env.get(&a, "/v1/instructions").await;
    assert_eq!(list["total"], 1, "{list}");
    env.stop().await;
}

/// Second sides arriving together after their first sides' time to live: each expires
/// its first side by its own clock and is not matched, while a first side still live is
/// matched. On SQLite the test holds the writer while they queue, so most of them run in
/// one group, whose transaction reads every named reference with its `BEGIN` (before the
/// submissions' own clocks are read).
async fn second_sides_together_after_expiry_find_their_first_sides_expired(backend: Backend) {
    // The sweeper stays out of it: the second sides themselves find the first sides
    // expired.
    let Some(env) = Env::start(backend, |c, _| {
        c.instruction_ttl_secs = 1;
        c.expiry_sweep_interval_ms = 3_600_000;
    })
    .await
    else {
        return;
    };
    let (_, a) = env.platform("Alpha").await;
    let (_, b) = env.platform("Beta").await;
    let mut firsts = Vec::new();
    for i in 0..4 {
        let (s, f) = env
            .post(&a, "/v1/instructions", &seller(&format!("old-{i}"), None))
            .await;
        assert_eq!(s, StatusCode::CREATED, "{f}");
        firsts.push(f);
    }
    tokio::time::sleep(std::time::Duration::from_millis(1_300)).await;
    let (s, live) = env
        .post(&a, "/v1/instructions", &seller("live", None))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{live}");
    firsts.push(live);
    let seconds: Vec<Value> = firsts
        .iter()
        .enumerate()
        .map(|(i, f)| buyer(&format!("late-{i}"), f["trade_reference"].as_str()))
        .collect();
    let answers = env.post_as_one_group(backend, &b, &seconds).await;
    for (i, ((s, v), f)) in answers.iter().zip(&firsts).enumerate() {
        assert_eq!(*s, StatusCode::CREATED, "{v}");
        let (_, first) = env
            .get(
                &a,
                &format!("/v1/instructions/{}", f["id"].as_str().unwrap()),
            )
            .await;
        if i < 4 {
            assert_eq!(v["status"], "pending_match", "{v}");
            assert_eq!(v["match"]["rule"], "no_pending_counterpart", "{v}");
            assert_eq!(first["status"], "expired", "{first}");
        } else {
            assert_eq!(v["status"], "matched", "{v}");
            assert_eq!(first["status"], "matched", "{first}");
        }
    }
    env.stop().await;
}
