//! Tokenised repo through the API (docs/coordinator.md "Repo"), on SQLite and PostgreSQL:
//! the repo fields' input and matching rules, the closing terms fixed at opening and bound
//! into the opening's evidence, the close registered automatically once maturity has
//! passed (the coordinator's clock without a chain; the hub chain's clock with one), the
//! operator's early close (404, 409, idempotent, once under concurrency), the links both
//! ways, the repo status and the webhooks of both platforms.
#![allow(clippy::unwrap_used, missing_docs, unreachable_pub)]

mod common;

use common::*;
use lockstep_core::SettlementState as S;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::Duration;

both_backends!(
    repo_fields_are_checked_and_must_match,
    closing_terms_are_fixed_at_opening_and_bound_into_its_evidence,
    operator_close_is_idempotent_and_links_both_ways,
    a_close_that_times_out_fails_the_repo_and_tells_both_platforms,
    the_close_is_registered_after_maturity_by_the_coordinator_clock,
    the_hub_chain_clock_decides_maturity,
    the_escrows_duration_limit_bounds_the_close,
    two_coordinators_on_one_database_register_one_close,
);

const REPAYMENT: &str = "250100000";

/// Edits an instruction body.
type Tweak = fn(&mut Value);

fn rfc(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// One side of a cross-chain repo: the seller delivers 1000 ASSET on chain A and receives
/// 250 USDC on chain B; maturity in a day unless `maturity` says otherwise.
fn repo_side(key: &str, tr: Option<&str>, role: &str) -> Value {
    let mut v = if role == "seller" {
        seller(key, tr)
    } else {
        buyer(key, tr)
    };
    v["template_slug"] = json!("repo");
    v["legs"][1]["chain_id"] = json!(CHAIN_B);
    v["maturity_at"] = json!(rfc(chrono::Utc::now() + chrono::Duration::days(1)));
    v["repayment_amount"] = json!(REPAYMENT);
    v["repo_rate"] = json!("5.25");
    v
}

/// Whether the 422 answer has a field error at `body.<field>`.
fn has_loc(v: &Value, field: &str) -> bool {
    v["errors"]
        .as_array()
        .is_some_and(|e| e.iter().any(|e| e["loc"] == json!(["body", field])))
}

/// A matched repo (the seller on platform `a`, the buyer on `b`); `tweak` edits both sides.
async fn open_repo(env: &Env, a: &str, b: &str, tag: &str, tweak: impl Fn(&mut Value)) -> String {
    let mut first = repo_side(&format!("s-{tag}"), None, "seller");
    tweak(&mut first);
    let (s, f) = env.post(a, "/v1/instructions", &first).await;
    assert_eq!(s, StatusCode::CREATED, "{f}");
    let mut second = repo_side(&format!("b-{tag}"), f["trade_reference"].as_str(), "buyer");
    tweak(&mut second);
    second["maturity_at"] = first["maturity_at"].clone();
    let (s, v) = env.post(b, "/v1/instructions", &second).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(v["status"], "matched", "{v}");
    v["settlement_id"].as_str().unwrap().to_string()
}

/// Drives a cleared settlement to FINALIZED through the chain side's ledger port.
async fn finalize(env: &Env, token: &str, sid: &str) {
    env.wait_state(token, sid, "COMPLIANCE_CLEARED").await;
    let ledger = env.ledger();
    for to in [S::AwaitingDeposits, S::ExecutingSwap, S::Finalized] {
        ledger.apply_transition(sid, to, "test").await.unwrap();
    }
}

async fn repo_fields_are_checked_and_must_match(backend: Backend) {
    let Some(env) = Env::start(backend, |_, _| {}).await else {
        return;
    };
    let (_, a) = env.platform("Alpha").await;
    let (_, b) = env.platform("Beta").await;
    // A repo needs both fields; other templates refuse all three.
    let mut v = repo_side("f1", None, "seller");
    v.as_object_mut().unwrap().remove("maturity_at");
    v.as_object_mut().unwrap().remove("repayment_amount");
    let (s, e) = env.post(&a, "/v1/instructions", &v).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    assert!(
        has_loc(&e, "maturity_at") && has_loc(&e, "repayment_amount"),
        "{e}"
    );
    let mut v = seller("f2", None);
    v["maturity_at"] = json!(rfc(chrono::Utc::now() + chrono::Duration::days(1)));
    v["repayment_amount"] = json!("1");
    v["repo_rate"] = json!("1");
    let (s, e) = env.post(&a, "/v1/instructions", &v).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    for f in ["maturity_at", "repayment_amount", "repo_rate"] {
        assert!(has_loc(&e, f), "{f}: {e}");
    }
    // Each field's own rules.
    let bad: [(&str, Value); 7] = [
        ("maturity_at", json!("tomorrow")),
        (
            "maturity_at",
            json!(rfc(chrono::Utc::now() + chrono::Duration::minutes(30))),
        ),
        (
            "maturity_at",
            json!(rfc(chrono::Utc::now() + chrono::Duration::days(367))),
        ),
        ("repayment_amount", json!("0")),
        ("repayment_amount", json!("1".repeat(79))),
        ("repayment_amount", json!("12.5")),
        ("repo_rate", json!("5.")),
    ];
    for (i, (field, value)) in bad.into_iter().enumerate() {
        let mut v = repo_side(&format!("bad{i}"), None, "seller");
        v[field] = value.clone();
        let (s, e) = env.post(&a, "/v1/instructions", &v).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{field} {value}: {e}");
        assert!(has_loc(&e, field), "{field} {value}: {e}");
    }
    // The second side must state the same values; the message never shows the first's.
    let cases: [(&str, Tweak); 4] = [
        ("maturity_mismatch", |v| {
            v["maturity_at"] = json!(rfc(chrono::Utc::now() + chrono::Duration::days(2)))
        }),
        ("repayment_mismatch", |v| {
            v["repayment_amount"] = json!("250100001")
        }),
        ("repo_rate_mismatch", |v| v["repo_rate"] = json!("5.26")),
        ("repo_rate_mismatch", |v| {
            v.as_object_mut().unwrap().remove("repo_rate");
        }),
    ];
    for (i, (rule, tweak)) in cases.into_iter().enumerate() {
        let first = repo_side(&format!("m{i}"), None, "seller");
        let (s, f) = env.post(&a, "/v1/instructions", &first).await;
        assert_eq!(s, StatusCode::CREATED, "{f}");
        let tr = f["trade_reference"].as_str().unwrap();
        let mut second = repo_side(&format!("m{i}"), Some(tr), "buyer");
        second["maturity_at"] = first["maturity_at"].clone();
        tweak(&mut second);
        let (s, v) = env.post(&b, "/v1/instructions", &second).await;
        assert_eq!(s, StatusCode::CREATED, "{rule}: {v}");
        assert_eq!(v["match"]["rule"], rule, "{v}");
        let msg = v["match"]["message"].as_str().unwrap();
        for secret in [first["maturity_at"].as_str().unwrap(), REPAYMENT, "5.25"] {
            assert!(!msg.contains(secret), "{rule} reveals {secret}: {msg}");
        }
        // The same values (a rate written differently is the same number) match.
        let mut good = repo_side(&format!("g{i}"), Some(tr), "buyer");
        good["maturity_at"] = first["maturity_at"].clone();
        good["repo_rate"] = json!("05.250");
        let (s, v) = env.post(&b, "/v1/instructions", &good).await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        assert_eq!(v["status"], "matched", "{rule}: {v}");
    }
    env.stop().await;
}

async fn closing_terms_are_fixed_at_opening_and_bound_into_its_evidence(backend: Backend) {
    let Some(env) = Env::start(backend, |_, _| {}).await else {
        return;
    };
    let (_, a) = env.platform("Alpha").await;
    let (_, b) = env.platform("Beta").await;
    let sid = open_repo(&env, &a, &b, "fix", |_| {}).await;
    let v = env.wait_state(&b, &sid, "COMPLIANCE_CLEARED").await;
    let repo = &v["repo"];
    assert_eq!(repo["status"], "open", "{v}");
    assert!(v.get("closing_settlement_id").is_none() && v.get("parent_settlement_id").is_none());
    let ct = &repo["closing_terms"];
    let tr = v["trade_reference"].as_str().unwrap();
    assert_eq!(ct["version"], "lockstep-repo-close/v1");
    assert_eq!(ct["parent_settlement_id"], sid);
    assert_eq!(ct["trade_reference"], format!("{tr}-CLOSE"));
    assert_eq!(ct["repayment_amount"], REPAYMENT);
    assert_eq!(ct["repo_rate"], "5.25");
    assert_eq!(ct["maturity_at"], repo["maturity_at"]);
    let at = |k: &str| chrono::DateTime::parse_from_rfc3339(ct[k].as_str().unwrap()).unwrap();
    assert_eq!((at("timeout_at") - at("maturity_at")).num_seconds(), 3_600);
    // Legs reversed; the cash leg is the repayment.
    let legs = |side: &str| ct[side]["legs"].as_array().unwrap().clone();
    for (side, asset_dir, cash_dir) in [
        ("seller", "receive", "deliver"),
        ("buyer", "deliver", "receive"),
    ] {
        let l = legs(side);
        assert_eq!(
            (l[0]["leg_type"].as_str(), l[0]["direction"].as_str()),
            (Some("asset_delivery"), Some(asset_dir))
        );
        assert_eq!(l[0]["quantity"], "1000");
        assert_eq!(
            (l[1]["direction"].as_str(), l[1]["quantity"].as_str()),
            (Some(cash_dir), Some(REPAYMENT))
        );
        assert_eq!(l[1]["chain_id"], CHAIN_B);
    }
    assert_eq!(ct["seller"]["party"]["wallet_address"], SELLER_WALLET);
    // The ref is sha256 over the JCS form, and the opening's decision binds it.
    let want = lockstep_evidence::ref_of(ct).unwrap();
    assert_eq!(repo["closing_terms_ref"], want.as_str());
    let bound = &v["evidence"]["input"]["terms"]["repo"];
    assert_eq!(
        bound["closing_terms_ref"],
        want.as_str(),
        "{:#}",
        v["evidence"]
    );
    assert_eq!(bound["repayment_amount"], REPAYMENT);
    assert_eq!(bound["closing_trade_reference"], format!("{tr}-CLOSE"));
    // The OpenAPI document states the fields, their constraints and the operator close.
    let (s, doc) = env.get(&a, "/openapi.json").await;
    assert_eq!(s, StatusCode::OK);
    let req = &doc["components"]["schemas"]["InstructionRequest"]["properties"];
    assert_eq!(req["maturity_at"]["format"], "date-time", "{req}");
    assert_eq!(req["repayment_amount"]["pattern"], "^[0-9]{1,78}$");
    assert!(req["repo_rate"]["pattern"].is_string());
    let view = &doc["components"]["schemas"]["SettlementView"]["properties"];
    for f in ["parent_settlement_id", "closing_settlement_id", "repo"] {
        assert!(view.get(f).is_some(), "{f}: {view}");
    }
    let statuses = &doc["components"]["schemas"]["RepoStatus"]["enum"];
    assert_eq!(
        *statuses,
        json!(["open", "closing", "closed", "close_failed"])
    );
    let close = &doc["paths"]["/v1/operator/settlements/{id}/close"]["post"]["responses"];
    for code in ["200", "404", "409"] {
        assert!(close.get(code).is_some(), "{code}: {close}");
    }
    // Another settlement's evidence has no repo member.
    let (other, _) = matched_pair(&env, &a, &b, "plain", |_| {}).await;
    let o = env.wait_state(&a, &other, "COMPLIANCE_CLEARED").await;
    assert!(o["evidence"]["input"]["terms"].get("repo").is_none());
    assert!(o.get("repo").is_none());
    env.stop().await;
}

async fn operator_close_is_idempotent_and_links_both_ways(backend: Backend) {
    let Some(env) = Env::start(backend, |_, _| {}).await else {
        return;
    };
    let (_, a) = env.platform("Alpha").await;
    let (_, b) = env.platform("Beta").await;
    let op = env.operator().await;
    let (url, got) = receiver(0).await;
    for t in [&a, &b] {
        let (s, _) = env
            .post(t, "/v1/webhook-endpoints", &json!({"url": url}))
            .await;
        assert_eq!(s, StatusCode::CREATED);
    }
    let close = |id: &str| format!("/v1/operator/settlements/{id}/close");
    let (s, _) = env.post(&op, &close("stl_nope"), &json!({})).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (plain, _) = matched_pair(&env, &a, &b, "plain", |_| {}).await;
    let (s, e) = env.post(&op, &close(&plain), &json!({})).await;
    assert_eq!(s, StatusCode::CONFLICT, "{e}");
    let sid = open_repo(&env, &a, &b, "op", |_| {}).await;
    env.wait_state(&a, &sid, "COMPLIANCE_CLEARED").await;
    let (s, e) = env.post(&op, &close(&sid), &json!({})).await;
    assert_eq!(s, StatusCode::CONFLICT, "not FINALIZED yet: {e}");
    let (s, _) = env.post(&a, &close(&sid), &json!({})).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "platforms cannot close");
    finalize(&env, &a, &sid).await;
    // Concurrent triggers register one close; every answer names it.
    let (path, empty) = (close(&sid), json!({}));
    let answers = futures_join_all((0..4).map(|_| env.post(&op, &path, &empty))).await;
    let ids: Vec<&Value> = answers
        .iter()
        .map(|(s, v)| {
            assert_eq!(*s, StatusCode::OK, "{v}");
            &v["closing_settlement_id"]
        })
        .collect();
    let cid = ids[0].as_str().unwrap().to_string();
    assert!(ids.iter().all(|i| *i == ids[0]), "{ids:?}");
    assert_eq!(answers[0].1["repo"]["status"], "closing");
    let (_, list) = env.get(&op, "/v1/settlements").await;
    assert_eq!(list["total"], 3, "one close only: {list}");
    // The close names its opening, carries the fixed terms, and both platforms see it.
    let c = env.wait_state(&b, &cid, "COMPLIANCE_CLEARED").await;
    assert_eq!(c["parent_settlement_id"], sid);
    assert_eq!(c["settlement_type"], "repo");
    let opening = env.get(&a, &format!("/v1/settlements/{sid}")).await.1;
    assert_eq!(opening["closing_settlement_id"], cid);
    assert_eq!(
        c["trade_reference"],
        opening["repo"]["closing_terms"]["trade_reference"]
    );
    let terms = &c["terms"];
    assert_eq!(
        terms["legs"][0]["amount"], REPAYMENT,
        "the seller repays first: {terms}"
    );
    assert_eq!(terms["legs"][0]["recipient"], BUYER_WALLET);
    assert_eq!(terms["legs"][1]["amount"], "1000");
    assert_eq!(terms["legs"][1]["recipient"], SELLER_WALLET);
    let deadline = chrono::DateTime::parse_from_rfc3339(
        opening["repo"]["closing_terms"]["timeout_at"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(terms["timeout_at"].as_i64().unwrap(), deadline.timestamp());
    let rc = &c["evidence"]["input"]["terms"]["repo_close"];
    assert_eq!(rc["parent_settlement_id"], sid);
    assert_eq!(
        rc["closing_terms_ref"],
        opening["repo"]["closing_terms_ref"]
    );
    assert_eq!(rc["closing_terms"], opening["repo"]["closing_terms"]);
    // Each platform lists its own side of the close as a matched instruction.
    for (t, role) in [(&a, "seller"), (&b, "buyer")] {
        let (_, l) = env.get(t, "/v1/instructions?status=matched").await;
        let mine: Vec<&Value> = l["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|i| i["settlement_id"] == cid)
            .collect();
        assert_eq!(mine.len(), 1, "{l}");
        assert_eq!(mine[0]["role"], role);
    }
    // Both platforms are told, on the opening, once.
    wait_for(
        || {
            events_of(&got)
                .iter()
                .filter(|e| *e == "settlement.repo.close_registered")
                .count()
                == 2
        },
        "close_registered at both platforms",
    )
    .await;
    // The close finalises: the repo is closed and both platforms hear it.
    finalize(&env, &a, &cid).await;
    let o = env.get(&b, &format!("/v1/settlements/{sid}")).await.1;
    assert_eq!(o["repo"]["status"], "closed", "{o}");
    wait_for(
        || {
            events_of(&got)
                .iter()
                .filter(|e| *e == "settlement.repo.closed")
                .count()
                == 2
        },
        "closed at both platforms",
    )
    .await;
    let again = env.post(&op, &close(&sid), &json!({})).await;
    assert_eq!(
        (again.0, again.1["closing_settlement_id"].as_str()),
        (StatusCode::OK, Some(cid.as_str()))
    );
    let (s, _) = env.post(&op, &close(&cid), &json!({})).await;
    assert_eq!(s, StatusCode::CONFLICT, "a close is not an opening");
    env.stop().await;
}

async fn a_close_that_times_out_fails_the_repo_and_tells_both_platforms(backend: Backend) {
    let Some(env) = Env::start(backend, |_, _| {}).await else {
        return;
    };
    let (_, a) = env.platform("Alpha").await;
    let (_, b) = env.platform("Beta").await;
    let op = env.operator().await;
    let (url, got) = receiver(0).await;
    for t in [&a, &b] {
        env.post(t, "/v1/webhook-endpoints", &json!({"url": url}))
            .await;
    }
    let sid = open_repo(&env, &a, &b, "to", |_| {}).await;
    finalize(&env, &a, &sid).await;
    let (s, v) = env
        .post(
            &op,
            &format!("/v1/operator/settlements/{sid}/close"),
            &json!({}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let cid = v["closing_settlement_id"].as_str().unwrap().to_string();
    env.wait_state(&a, &cid, "COMPLIANCE_CLEARED").await;
    env.ledger()
        .apply_transition(&cid, S::AwaitingDeposits, "registered")
        .await
        .unwrap();
    env.ledger()
        .apply_transition(&cid, S::TimedOut, "deadline passed")
        .await
        .unwrap();
    let o = env.get(&a, &format!("/v1/settlements/{sid}")).await.1;
    assert_eq!(o["repo"]["status"], "close_failed", "{o}");
    assert_eq!(o["state"], "FINALIZED", "the opening itself stays final");
    wait_for(
        || {
            events_of(&got)
                .iter()
                .filter(|e| *e == "settlement.repo.close_failed")
                .count()
                == 2
        },
        "close_failed at both platforms",
    )
    .await;
    let bodies: Vec<Value> = got
        .lock()
        .unwrap()
        .iter()
        .map(|(_, b)| serde_json::from_str(b).unwrap())
        .collect();
    let failed = bodies
        .iter()
        .find(|b| b["event"] == "settlement.repo.close_failed")
        .unwrap();
    assert_eq!(failed["data"]["settlement_id"], sid);
    assert_eq!(failed["data"]["closing_settlement_id"], cid);
    assert_eq!(failed["data"]["closing_state"], "TIMED_OUT");
    // The close's own lifecycle events name the opening.
    let timed_out = bodies
        .iter()
        .find(|b| b["event"] == "settlement.state.timed_out")
        .unwrap();
    assert_eq!(timed_out["data"]["parent_settlement_id"], sid);
    env.stop().await;
}

async fn the_close_is_registered_after_maturity_by_the_coordinator_clock(backend: Backend) {
    let Some(env) = Env::start(backend, |_, _| {}).await else {
        return;
    };
    let (_, a) = env.platform("Alpha").await;
    let (_, b) = env.platform("Beta").await;
    let start = chrono::Utc::now();
    let timeout = start + chrono::Duration::seconds(3);
    let maturity = start + chrono::Duration::seconds(5);
    let sid = open_repo(&env, &a, &b, "auto", |v| {
        v["timeout_at"] = json!(timeout.to_rfc3339());
        v["maturity_at"] = json!(maturity.to_rfc3339());
    })
    .await;
    finalize(&env, &a, &sid).await;
    // Finalised but not mature: no close yet (the worker has looked at least once).
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    let v = env.get(&a, &format!("/v1/settlements/{sid}")).await.1;
    if chrono::Utc::now() < maturity - chrono::Duration::milliseconds(200) {
        assert_eq!(v["repo"]["status"], "open", "{v}");
        assert!(v.get("closing_settlement_id").is_none(), "{v}");
    }
    let mut cid = None;
    for _ in 0..200 {
        let v = env.get(&a, &format!("/v1/settlements/{sid}")).await.1;
        if let Some(c) = v["closing_settlement_id"].as_str() {
            assert!(chrono::Utc::now() >= maturity, "closed before maturity");
            cid = Some(c.to_string());
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let cid = cid.expect("the close was registered after maturity");
    let c = env.wait_state(&b, &cid, "COMPLIANCE_CLEARED").await;
    assert_eq!(c["parent_settlement_id"], sid);
    // A restart registers nothing twice.
    let mut env = env;
    env.restart().await;
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let op = env.operator().await;
    let (_, list) = env.get(&op, "/v1/settlements").await;
    assert_eq!(list["total"], 2, "{list}");
    env.stop().await;
}

/// A registrar that records nothing and keeps a settable clock for every chain.
struct Clock(Mutex<u64>);

#[async_trait::async_trait]
impl lockstep_core::SettlementRegistrar for Clock {
    async fn register(
        &self,
        _: &lockstep_core::ClearedSettlement,
    ) -> Result<(), lockstep_core::RegistrationError> {
        Ok(())
    }

    async fn chain_time(&self, _: u64) -> Result<Option<u64>, lockstep_core::ClockError> {
        Ok(Some(*self.0.lock().unwrap()))
    }
}

async fn the_hub_chain_clock_decides_maturity(backend: Backend) {
    let Some(mut env) = Env::start(backend, |_, _| {}).await else {
        return;
    };
    let now = u64::try_from(chrono::Utc::now().timestamp()).unwrap();
    let clock = Arc::new(Clock(Mutex::new(now)));
    env.with_registrar(clock.clone()).await;
    let (_, a) = env.platform("Alpha").await;
    let (_, b) = env.platform("Beta").await;
    let sid = open_repo(&env, &a, &b, "chain", |_| {}).await;
    finalize(&env, &a, &sid).await;
    let maturity = env.get(&a, &format!("/v1/settlements/{sid}")).await.1["repo"]["maturity_at"]
        .as_str()
        .map(|m| chrono::DateTime::parse_from_rfc3339(m).unwrap().timestamp())
        .unwrap();
    // The chain's clock one second before maturity: nothing happens.
    *clock.0.lock().unwrap() = u64::try_from(maturity - 1).unwrap();
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    let v = env.get(&a, &format!("/v1/settlements/{sid}")).await.1;
    assert_eq!(v["repo"]["status"], "open", "{v}");
    // The chain's clock at maturity (a day before the coordinator's): the close comes.
    *clock.0.lock().unwrap() = u64::try_from(maturity).unwrap();
    let mut closing = Value::Null;
    for _ in 0..100 {
        closing = env.get(&a, &format!("/v1/settlements/{sid}")).await.1;
        if closing["repo"]["status"] == "closing" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(closing["repo"]["status"], "closing", "{closing}");
    assert!(closing["closing_settlement_id"].is_string());
    env.stop().await;
}

async fn the_escrows_duration_limit_bounds_the_close(backend: Backend) {
    let Some(mut env) = Env::start(backend, |_, _| {}).await else {
        return;
    };
    // Escrows that register nothing lasting more than two hours (the devnet's limit).
    for e in &mut env.escrows {
        e.max_settlement_duration_secs = Some(7_200);
    }
    env.restart().await;
    let (_, a) = env.platform("Alpha").await;
    let (_, b) = env.platform("Beta").await;
    let op = env.operator().await;
    // A one-day repo is fine: the close registers at maturity and lasts the one-hour
    // window. The opening's own deadline must be within the limit as always.
    let sid = open_repo(&env, &a, &b, "lim", |v| {
        v["timeout_at"] = json!(rfc(chrono::Utc::now() + chrono::Duration::minutes(30)));
    })
    .await;
    finalize(&env, &a, &sid).await;
    // An early close a day before maturity would not register on chain: 409, nothing stored.
    let (s, e) = env
        .post(
            &op,
            &format!("/v1/operator/settlements/{sid}/close"),
            &json!({}),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "{e}");
    assert!(e["detail"].as_str().unwrap().contains("too early"), "{e}");
    let v = env.get(&a, &format!("/v1/settlements/{sid}")).await.1;
    assert_eq!(v["repo"]["status"], "open", "{v}");
    // Escrows whose limit is shorter than the close window: no repo can be opened.
    for e in &mut env.escrows {
        e.max_settlement_duration_secs = Some(1_800);
    }
    env.restart().await;
    let mut v = repo_side("short", None, "seller");
    v["timeout_at"] = json!(rfc(chrono::Utc::now() + chrono::Duration::minutes(20)));
    let (s, e) = env.post(&a, "/v1/instructions", &v).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    assert!(has_loc(&e, "maturity_at"), "{e}");
    assert!(
        e["detail"].as_str().unwrap().contains("close window"),
        "{e}"
    );
    env.stop().await;
}

async fn two_coordinators_on_one_database_register_one_close(backend: Backend) {
    let Some(env) = Env::start(backend, |_, _| {}).await else {
        return;
    };
    let (_, a) = env.platform("Alpha").await;
    let (_, b) = env.platform("Beta").await;
    let op = env.operator().await;
    let start = chrono::Utc::now();
    let maturity = start + chrono::Duration::seconds(5);
    let sid = open_repo(&env, &a, &b, "two", |v| {
        v["timeout_at"] = json!((start + chrono::Duration::seconds(3)).to_rfc3339());
        v["maturity_at"] = json!(maturity.to_rfc3339());
    })
    .await;
    finalize(&env, &a, &sid).await;
    // A second instance on the same database, its worker polling alongside the first.
    let second = lockstep_coordinator::Coordinator::open(
        env.config.clone(),
        env.escrows.clone(),
        env.attester.clone(),
    )
    .await
    .unwrap()
    .start(lockstep_coordinator::Extras::default())
    .await
    .unwrap();
    let mut cid = Value::Null;
    for _ in 0..200 {
        cid =
            env.get(&a, &format!("/v1/settlements/{sid}")).await.1["closing_settlement_id"].clone();
        if cid.is_string() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(cid.is_string(), "no close registered");
    // Both workers keep polling: still one close, the same one.
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    let (_, list) = env.get(&op, "/v1/settlements").await;
    assert_eq!(list["total"], 2, "{list}");
    let v = env.get(&a, &format!("/v1/settlements/{sid}")).await.1;
    assert_eq!(v["closing_settlement_id"], cid);
    let (_, ev) = env
        .get(
            &a,
            &format!("/v1/settlements/{}/events", cid.as_str().unwrap()),
        )
        .await;
    let first = &ev["items"][0];
    assert_eq!(first["to_state"], "INSTRUCTED");
    assert!(
        first["cause"]
            .as_str()
            .unwrap()
            .ends_with("maturity passed"),
        "{first}"
    );
    second.shutdown().await;
    env.stop().await;
}
