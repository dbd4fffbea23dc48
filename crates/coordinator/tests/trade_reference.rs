//! The trade reference is not a bearer secret (issue 11), on SQLite and PostgreSQL:
//! counterparty binding, answers that do not tell an unknown, a foreign and a settled
//! reference apart to a non-party, mismatch messages without the other side's values,
//! the 409 for a party's late instruction (never a 500), closing leftovers with a
//! webhook, self-matching only where the template allows it, and a race for one first
//! side.
#![allow(clippy::unwrap_used, missing_docs, unreachable_pub)]

mod common;

use common::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

both_backends!(
    a_bound_reference_looks_unknown_to_every_other_platform,
    a_late_instruction_for_a_settled_reference_gets_409_or_waits,
    self_matching_only_where_the_template_allows_it,
    racing_second_sides_match_once_and_the_rest_get_409,
);

/// The answer every non-party gets, whatever the reference.
const NO_PENDING: &str =
    "no instruction under this trade reference is waiting for a match with this platform";

/// A well-formed reference nobody was issued.
fn unknown_reference() -> String {
    format!("LS-{}", ulid::Ulid::new())
}

/// The parts of an instruction answer that could tell references apart.
fn shape(v: &Value) -> Value {
    let mut keys: Vec<&String> = v.as_object().unwrap().keys().collect();
    keys.sort();
    json!({"keys": keys, "status": v["status"], "match": v["match"], "settlement_id": v["settlement_id"]})
}

fn assert_looks_unknown(v: &Value, unknown: &Value) {
    assert_eq!(v["status"], "pending_match", "{v}");
    assert_eq!(v["match"]["rule"], "no_pending_counterpart", "{v}");
    assert_eq!(v["match"]["message"], NO_PENDING, "{v}");
    assert_eq!(shape(v), shape(unknown));
}

async fn a_bound_reference_looks_unknown_to_every_other_platform(backend: Backend) {
    let Some(env) = Env::start(backend, |_, _| {}).await else {
        return;
    };
    let (_, a) = env.platform("Alpha").await;
    let (pb, b) = env.platform("Beta").await;
    let (_, c) = env.platform("Gamma").await;
    let mut first = seller("s1", None);
    first["counterparty_platform_id"] = json!(pb);
    let (s, f) = env.post(&a, "/v1/instructions", &first).await;
    assert_eq!(s, StatusCode::CREATED, "{f}");
    assert_eq!(f["counterparty_platform_id"], json!(pb));
    let tr = f["trade_reference"].as_str().unwrap();

    // Gamma: unknown, foreign-and-matching and foreign-and-mismatching all answer alike.
    let (s, unknown) = env
        .post(
            &c,
            "/v1/instructions",
            &buyer("c0", Some(&unknown_reference())),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{unknown}");
    assert_looks_unknown(&unknown, &unknown);
    let (s, v) = env
        .post(&c, "/v1/instructions", &buyer("c1", Some(tr)))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_looks_unknown(&v, &unknown);
    let mut off = buyer("c2", Some(tr));
    off["legs"][1]["quantity"] = json!("250000001");
    let (s, v) = env.post(&c, "/v1/instructions", &off).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_looks_unknown(&v, &unknown);

    // Beta, the named counterparty: which rule failed, never Alpha's values.
    let mut wrong = buyer("b1", Some(tr));
    wrong["legs"][1]["quantity"] = json!("250000001");
    let (s, v) = env.post(&b, "/v1/instructions", &wrong).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(v["match"]["rule"], "quantity_mismatch", "{v}");
    let msg = v["match"]["message"].as_str().unwrap();
    assert!(msg.contains("quantity differs"), "{msg}");
    assert!(!msg.contains("250000000") && !msg.contains("1000"), "{msg}");
    let mut other_chain = buyer("b2", Some(tr));
    other_chain["legs"][0]["chain_id"] = json!(CHAIN_B);
    other_chain["template_slug"] = json!("cross-chain-dvp");
    let (_, v) = env.post(&b, "/v1/instructions", &other_chain).await;
    assert_eq!(v["match"]["rule"], "template_mismatch", "{v}");
    assert!(
        !v["match"]["message"]
            .as_str()
            .unwrap()
            .contains("dvp-standard"),
        "{v}"
    );
    let (s, v) = env
        .post(&b, "/v1/instructions", &buyer("b3", Some(tr)))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(v["status"], "matched", "{v}");
    // Gamma was told nothing, so nothing changes for it: its instructions wait out their
    // expiry as on an unknown reference; Beta's leftovers are closed.
    let (_, l) = env.get(&c, "/v1/instructions?status=pending_match").await;
    assert_eq!(l["total"], 3, "{l}");
    let (_, l) = env.get(&b, "/v1/instructions?status=closed").await;
    assert_eq!(l["total"], 2, "{l}");
    env.stop().await;
}

async fn a_late_instruction_for_a_settled_reference_gets_409_or_waits(backend: Backend) {
    let Some(env) = Env::start(backend, |_, _| {}).await else {
        return;
    };
    let (_, a) = env.platform("Alpha").await;
    let (_, b) = env.platform("Beta").await;
    let (_, c) = env.platform("Gamma").await;
    let (url, got) = receiver(0).await;
    let (s, _) = env
        .post(&b, "/v1/webhook-endpoints", &json!({"url": url}))
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let (_, f) = env.post(&a, "/v1/instructions", &seller("s1", None)).await;
    let tr = f["trade_reference"].as_str().unwrap().to_string();
    // An unbound reference: Gamma holds it too and leaves a mismatching leftover.
    let mut wrong = buyer("b-wrong", Some(&tr));
    wrong["legs"][1]["quantity"] = json!("1");
    let (_, left_b) = env.post(&b, "/v1/instructions", &wrong).await;
    assert_eq!(left_b["match"]["rule"], "quantity_mismatch", "{left_b}");
    let mut wrong_c = buyer("c-wrong", Some(&tr));
    wrong_c["legs"][0]["quantity"] = json!("2");
    let (_, left_c) = env.post(&c, "/v1/instructions", &wrong_c).await;
    assert_eq!(left_c["match"]["rule"], "quantity_mismatch", "{left_c}");
    let (s, m) = env
        .post(&b, "/v1/instructions", &buyer("b-ok", Some(&tr)))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{m}");
    let sid = m["settlement_id"].as_str().unwrap().to_string();

    // The leftovers are closed, each with a webhook to its platform.
    for (token, left) in [(&b, &left_b), (&c, &left_c)] {
        let (_, v) = env
            .get(
                token,
                &format!("/v1/instructions/{}", left["id"].as_str().unwrap()),
            )
            .await;
        assert_eq!(v["status"], "closed", "{v}");
    }
    let closed_id = left_b["id"].as_str().unwrap().to_string();
    wait_for(
        || {
            got.lock().unwrap().iter().any(|(_, body)| {
                let v: Value = serde_json::from_str(body).unwrap();
                v["event"] == "instruction.closed"
                    && v["data"]["instruction_id"] == closed_id.as_str()
                    && v["data"]["trade_reference"] == tr.as_str()
                    && v["data"]["status"] == "closed"
            })
        },
        "instruction.closed webhook",
    )
    .await;

    // A late instruction from a party: 409 naming the settlement, every retry, nothing stored.
    // (The old failure: a seller matching the leftover buyer hit the unique constraint, 500.)
    for (token, body) in [
        (&a, seller("s-late", Some(&tr))),
        (&b, buyer("b-late", Some(&tr))),
        (&a, seller("s-late", Some(&tr))),
    ] {
        let (s, v) = env.post(token, "/v1/instructions", &body).await;
        assert_eq!(s, StatusCode::CONFLICT, "{v}");
        assert!(v["detail"].as_str().unwrap().contains(&sid), "{v}");
    }
    let (_, l) = env.get(&a, "/v1/instructions").await;
    assert_eq!(l["total"], 1, "{l}");
    // From a non-party: exactly what an unknown reference answers; it waits.
    let (_, unknown) = env
        .post(
            &c,
            "/v1/instructions",
            &seller("c-unknown", Some(&unknown_reference())),
        )
        .await;
    let (s, v) = env
        .post(&c, "/v1/instructions", &seller("c-late", Some(&tr)))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_looks_unknown(&v, &unknown);
    env.stop().await;
}

async fn self_matching_only_where_the_template_allows_it(backend: Backend) {
    let Some(env) = Env::start(backend, |_, _| {}).await else {
        return;
    };
    let (pa, a) = env.platform("Alpha").await;
    let (_, b) = env.platform("Beta").await;
    let (pc, _) = env.platform("Gamma").await;
    // dvp-standard needs two platforms.
    let (_, f) = env.post(&a, "/v1/instructions", &seller("s1", None)).await;
    let tr = f["trade_reference"].as_str().unwrap();
    let (s, v) = env
        .post(&a, "/v1/instructions", &buyer("b1", Some(tr)))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(v["status"], "pending_match");
    assert_eq!(v["match"]["rule"], "same_platform", "{v}");
    let mut own = seller("s2", None);
    own["counterparty_platform_id"] = json!(pa);
    let (s, v) = env.post(&a, "/v1/instructions", &own).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(
        v["errors"][0]["loc"],
        json!(["body", "counterparty_platform_id"])
    );
    let mut ghost = seller("s3", None);
    ghost["counterparty_platform_id"] = json!("plt_01JNOSUCHPLATFORM000000000");
    let (s, v) = env.post(&a, "/v1/instructions", &ghost).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert!(
        v["detail"].as_str().unwrap().contains("unknown platform"),
        "{v}"
    );
    // A second side naming a platform other than the first side's does not match it.
    let mut named = buyer("b2", Some(tr));
    named["counterparty_platform_id"] = json!(pc);
    let (_, v) = env.post(&b, "/v1/instructions", &named).await;
    assert_eq!(v["match"]["rule"], "counterparty_mismatch", "{v}");
    let (_, v) = env
        .post(&b, "/v1/instructions", &buyer("b3", Some(tr)))
        .await;
    assert_eq!(v["status"], "matched", "{v}");

    // dvp-internal: one platform on both sides, also when it names itself.
    let internal = |v: &mut Value| v["template_slug"] = json!("dvp-internal");
    let mut first = seller("i1", None);
    internal(&mut first);
    first["counterparty_platform_id"] = json!(pa);
    let (s, f) = env.post(&a, "/v1/instructions", &first).await;
    assert_eq!(s, StatusCode::CREATED, "{f}");
    let mut second = buyer("i2", f["trade_reference"].as_str());
    internal(&mut second);
    let (s, v) = env.post(&a, "/v1/instructions", &second).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(v["status"], "matched", "{v}");
    let sid = v["settlement_id"].as_str().unwrap();
    let (s, st) = env.get(&a, &format!("/v1/settlements/{sid}")).await;
    assert_eq!(s, StatusCode::OK, "{st}");
    env.stop().await;
}

async fn racing_second_sides_match_once_and_the_rest_get_409(backend: Backend) {
    let Some(env) = Env::start(backend, |_, _| {}).await else {
        return;
    };
    let (_, a) = env.platform("Alpha").await;
    let (_, b) = env.platform("Beta").await;
    let (_, f) = env.post(&a, "/v1/instructions", &seller("s1", None)).await;
    let tr = f["trade_reference"].as_str().unwrap();
    let bodies: Vec<Value> = (0..8)
        .map(|i| buyer(&format!("race-{i}"), Some(tr)))
        .collect();
    let answers = futures_join_all(
        bodies
            .iter()
            .map(|body| env.post(&b, "/v1/instructions", body)),
    )
    .await;
    let matched: Vec<_> = answers
        .iter()
        .filter(|(s, v)| *s == StatusCode::CREATED && v["status"] == "matched")
        .collect();
    assert_eq!(matched.len(), 1, "{answers:?}");
    let sid = matched[0].1["settlement_id"].as_str().unwrap();
    for (s, v) in &answers {
        assert!(
            *s == StatusCode::CONFLICT && v["detail"].as_str().unwrap().contains(sid)
                || v["settlement_id"] == sid,
            "{s} {v}"
        );
    }
    env.stop().await;
}
