//! Multi-party matching (template `dvp-fx`, three roles on three chains), SQLite and
//! PostgreSQL: a three-platform match, each refusal with its exact message and without
//! the other sides' values, webhooks to every party's platform, reads by every party and
//! nobody else, and deposit instructions each platform sees only for its own legs.
#![allow(clippy::unwrap_used, missing_docs)]

mod common;

use common::*;
use lockstep_coordinator::multileg::build_multi_party_terms;
use lockstep_coordinator::terms::{Escrows, terms_from_json, terms_json};
use lockstep_coordinator::trade::InstructionBody;
use lockstep_core::EscrowChain;
use reqwest::StatusCode;
use serde_json::{Value, json};

const CHAIN_C: u64 = 31339;
/// The EUR the seller is paid in (chain C) and the USD the buyer pays (chain B).
const EUR: &str = USDC;
const USD: &str = OTHER_TOKEN;
const FX_WALLET: &str = "0x2222222222222222222222222222222222222222";
const NO_PENDING: &str =
    "no instruction under this trade reference is waiting for a match with this platform";

/// A coordinator with `dvp-fx` enabled and a third chain.
async fn start(backend: Backend) -> Option<Env> {
    let mut env = Env::start(backend, |c, _| c.enable_templates = vec!["dvp-fx".into()]).await?;
    env.escrows.push(EscrowChain {
        chain_id: CHAIN_C,
        eid: 40163,
        escrow: "0x00000000000000000000000000000000000E5C03"
            .parse()
            .unwrap(),
        max_settlement_duration_secs: None,
    });
    env.restart().await;
    Some(env)
}

fn leg(t: &str, token: &str, qty: &str, dir: &str, chain: u64) -> Value {
    json!({"leg_type": t, "instrument_id": token, "quantity": qty, "direction": dir, "chain_id": chain})
}

/// One side of the FX trade: the seller delivers 1000 ASSET (chain A) for 230 EUR
/// (chain C), the buyer pays 250 USD (chain B), the FX provider turns USD into EUR.
fn side(role: &str, key: &str, tr: Option<&str>) -> Value {
    let (name, wallet, legs) = match role {
        "seller" => (
            "Alpha Securities AG",
            SELLER_WALLET,
            [
                leg("asset_delivery", ASSET, "1000", "deliver", CHAIN_A),
                leg("payment", EUR, "230", "receive", CHAIN_C),
            ],
        ),
        "buyer" => (
            "Beta Capital LLC",
            BUYER_WALLET,
            [
                leg("payment", USD, "250", "deliver", CHAIN_B),
                leg("asset_delivery", ASSET, "1000", "receive", CHAIN_A),
            ],
        ),
        _ => (
            "Gamma FX Ltd",
            FX_WALLET,
            [
                leg("payment", EUR, "230", "deliver", CHAIN_C),
                leg("payment", USD, "250", "receive", CHAIN_B),
            ],
        ),
    };
    json!({
        "idempotency_key": key,
        "template_slug": "dvp-fx",
        "role": role,
        "party": {"external_reference": format!("order-{key}"), "name": name, "wallet_address": wallet, "chain_id": CHAIN_A},
        "legs": legs,
        "timeout_at": timeout_at(),
        "trade_reference": tr,
    })
}

/// [`side`] with a given `timeout_at` (a replay must repeat the body exactly).
fn side_at(role: &str, key: &str, tr: &str, timeout_at: &str) -> Value {
    let mut v = side(role, key, Some(tr));
    v["timeout_at"] = json!(timeout_at);
    v
}

/// Three platforms, each with a webhook receiver.
async fn platforms(env: &Env) -> Vec<(String, String, Received)> {
    let mut out = Vec::new();
    for name in ["Seller Venue", "Buyer Broker", "FX Desk"] {
        let (id, token) = env.platform(name).await;
        let (url, got) = receiver(0).await;
        let (s, v) = env
            .post(&token, "/v1/webhook-endpoints", &json!({"url": url}))
            .await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        out.push((id, token, got));
    }
    out
}

/// Posts `body` as `token`; asserts 201 and returns the instruction.
async fn submit(env: &Env, token: &str, body: &Value) -> Value {
    let (s, v) = env.post(token, "/v1/instructions", body).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    v
}

/// The seller's first side (naming `allowed` platforms, if any); its trade reference.
async fn open(env: &Env, token: &str, key: &str, allowed: Option<Vec<&str>>) -> String {
    let mut first = side("seller", key, None);
    if let Some(ids) = allowed {
        first["counterparty_platform_ids"] = json!(ids);
    }
    let v = submit(env, token, &first).await;
    assert_eq!(v["status"], "pending_match");
    v["trade_reference"].as_str().unwrap().to_string()
}

async fn three_parties_on_three_platforms_settle(backend: Backend) {
    let Some(env) = start(backend).await else {
        return;
    };
    let p = platforms(&env).await;
    let (a, b, c) = (&p[0].1, &p[1].1, &p[2].1);
    let tr = open(&env, a, "s1", Some(vec![&p[1].0, &p[2].0])).await;
    // The buyer joins and waits: a role is still missing, nothing failed.
    let v = submit(&env, b, &side("buyer", "b1", Some(&tr))).await;
    assert_eq!(v["status"], "pending_match");
    assert!(v["match"].is_null() && v["settlement_id"].is_null(), "{v}");
    // The FX provider completes the trade.
    let f1 = side("fx_provider", "f1", Some(&tr));
    let f1_timeout = f1["timeout_at"].as_str().unwrap().to_string();
    let v = submit(&env, c, &f1).await;
    assert_eq!(v["status"], "matched", "{v}");
    let sid = v["settlement_id"].as_str().unwrap().to_string();
    for (_, t, _) in &p {
        let (s, l) = env.get(t, "/v1/instructions?status=matched").await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(l["items"][0]["settlement_id"], sid.as_str(), "{l}");
    }
    // Every party's platform reads it, with every party; another platform does not.
    let (_, d) = env.platform("Delta").await;
    let roles: Vec<(String, String)> = p
        .iter()
        .zip(["seller", "buyer", "fx_provider"])
        .map(|((id, _, _), r)| (r.to_string(), id.clone()))
        .collect();
    for (_, t, _) in &p {
        let (s, v) = env.get(t, &format!("/v1/settlements/{sid}")).await;
        assert_eq!(s, StatusCode::OK, "{v}");
        let got: Vec<(String, String)> = v["parties"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| {
                (
                    x["role"].as_str().unwrap().into(),
                    x["platform_id"].as_str().unwrap().into(),
                )
            })
            .collect();
        assert_eq!(got, roles);
        let (_, l) = env.get(t, "/v1/settlements").await;
        assert_eq!(l["total"], 1, "{l}");
    }
    let (s, _) = env.get(&d, &format!("/v1/settlements/{sid}")).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (_, l) = env.get(&d, "/v1/settlements").await;
    assert_eq!(l["total"], 0);
    // Screened and cleared: one decision over the three parties, three legs on three
    // chains, the hub by the hub rule (one leg per chain: the seller's asset leg's chain).
    let op = env.operator().await;
    let v = env.wait_state(&op, &sid, "COMPLIANCE_CLEARED").await;
    let terms = terms_from_json(&v["terms"]).unwrap();
    let legs: Vec<(u32, String)> = terms
        .legs
        .iter()
        .map(|l| (l.eid, l.token.to_checksum(None)))
        .collect();
    let eids: Vec<u32> = env.escrows.iter().map(|e| e.eid).collect();
    assert_eq!(
        legs,
        [
            (eids[0], ASSET.to_string()),
            (eids[1], USD.to_string()),
            (eids[2], EUR.to_string())
        ]
    );
    assert_eq!(terms.hubEid, eids[0]);
    let ev = &v["evidence"];
    let decisions = ev["parties"].as_array().unwrap();
    assert_eq!(decisions.len(), 3, "{ev}");
    let scopes: Vec<&str> = decisions
        .iter()
        .map(|d| d["passport"]["scope"].as_str().unwrap())
        .collect();
    assert_eq!(scopes, ["seller", "buyer", "fx_provider"]);
    let subject_refs = ev["settlement_decision"]["subject_refs"].clone();
    let want: Vec<Value> = decisions
        .iter()
        .map(|d| d["decision_ref"].clone())
        .collect();
    assert_eq!(subject_refs, json!(want));
    assert_eq!(v["decision_ref"], ev["decision_ref"]);
    // The on-chain decisionRef is the decision ref's digest.
    assert_eq!(
        format!("sha256:{:x}", terms.decisionRef),
        ev["decision_ref"].as_str().unwrap()
    );
    // Every platform with a party gets every webhook of the settlement.
    let want = [
        "settlement.state.instructed",
        "settlement.state.compliance_checking",
        "settlement.state.compliance_cleared",
        "settlement.compliance.cleared",
    ];
    for (_, _, got) in &p {
        wait_for(|| events_of(got).len() >= want.len(), "webhooks").await;
        let mut events = events_of(got);
        events.sort();
        let mut sorted = want.map(String::from).to_vec();
        sorted.sort();
        assert_eq!(events, sorted);
    }
    // A late instruction: 409 for every party (the third one's platform is only in
    // settlement_parties), the non-party answer for anyone else.
    for (t, key) in [(b, "b-late"), (c, "c-late")] {
        let (s, v) = env
            .post(t, "/v1/instructions", &side("buyer", key, Some(&tr)))
            .await;
        assert_eq!(s, StatusCode::CONFLICT, "{v}");
    }
    // Idempotency holds: the completing submission replays its first answer.
    let (s, v) = env
        .post(
            c,
            "/v1/instructions",
            &side_at("fx_provider", "f1", &tr, &f1_timeout),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["settlement_id"], sid.as_str());
    let v = submit(&env, &d, &side("buyer", "d-late", Some(&tr))).await;
    assert_eq!(v["match"]["message"], NO_PENDING);
    env.stop().await;
}

/// Submits the seller and buyer of a fresh trade, then `last` (as `token`): the refusal.
async fn refused(env: &Env, p: &[(String, String, Received)], tag: &str, last: Value) -> Value {
    let tr = open(env, &p[0].1, &format!("s-{tag}"), None).await;
    let mut last = last;
    last["trade_reference"] = json!(tr);
    submit(env, &p[1].1, &side("buyer", &format!("b-{tag}"), Some(&tr))).await;
    let v = submit(env, &p[2].1, &last).await;
    assert_eq!(v["status"], "pending_match", "{v}");
    v["match"].clone()
}

async fn each_refusal_names_its_rule_and_no_other_values(backend: Backend) {
    let Some(env) = start(backend).await else {
        return;
    };
    let p = platforms(&env).await;
    // Leftover: the FX provider pays EUR on chain B, where nobody receives it.
    let mut f = side("fx_provider", "f-left", None);
    f["legs"][0]["chain_id"] = json!(CHAIN_B);
    let m = refused(&env, &p, "left", f).await;
    assert_eq!(m["rule"], "leftover_leg");
    assert_eq!(
        m["message"],
        format!(
            "legs[0] (instrument {EUR} on chain {CHAIN_B}): no single leg of another party pairs with it (same instrument and chain, opposite direction)"
        )
    );
    // Quantity: 231 EUR instead of 230; the seller's 230 is not revealed.
    let mut f = side("fx_provider", "f-qty", None);
    f["legs"][0]["quantity"] = json!("231");
    let m = refused(&env, &p, "qty", f).await;
    assert_eq!(m["rule"], "quantity_mismatch");
    assert_eq!(
        m["message"],
        format!(
            "legs[0] (instrument {EUR} on chain {CHAIN_C}): the quantity differs from the pairing leg's"
        )
    );
    assert!(!m.to_string().contains("230"), "{m}");
    // A mismatch between the two others: the completing side learns only that.
    let tr = open(&env, &p[0].1, "s-oth", None).await;
    let mut bad_buyer = side("buyer", "b-oth", Some(&tr));
    bad_buyer["legs"][1]["quantity"] = json!("999");
    submit(&env, &p[1].1, &bad_buyer).await;
    let v = submit(&env, &p[2].1, &side("fx_provider", "f-oth", Some(&tr))).await;
    assert_eq!(v["match"]["rule"], "quantity_mismatch");
    assert_eq!(
        v["match"]["message"],
        "two other parties' pairing legs differ in quantity"
    );
    assert!(!v["match"].to_string().contains("999"));
    // A duplicate role, from a platform the first side let in.
    let tr = open(&env, &p[0].1, "s-dup", None).await;
    submit(&env, &p[1].1, &side("buyer", "b-dup", Some(&tr))).await;
    let v = submit(&env, &p[2].1, &side("buyer", "c-dup", Some(&tr))).await;
    assert_eq!(v["match"]["rule"], "duplicate_role");
    assert_eq!(
        v["match"]["message"],
        "role buyer is already taken under this trade reference"
    );
    // The role is still open to the right party.
    let v = submit(&env, &p[2].1, &side("fx_provider", "f-dup", Some(&tr))).await;
    assert_eq!(v["status"], "matched", "{v}");
    // A foreign platform: the first side names the buyer's and the FX platform only.
    let tr = open(&env, &p[0].1, "s-for", Some(vec![&p[1].0, &p[2].0])).await;
    let (_, d) = env.platform("Delta").await;
    let v = submit(&env, &d, &side("fx_provider", "d-for", Some(&tr))).await;
    assert_eq!(v["match"]["rule"], "no_pending_counterpart");
    assert_eq!(v["match"]["message"], NO_PENDING);
    // Exactly what an unknown reference gets.
    let unknown = format!("LS-{}", ulid::Ulid::new());
    let u = submit(&env, &d, &side("fx_provider", "d-unk", Some(&unknown))).await;
    assert_eq!(u["match"], v["match"]);
    // The later side's platform list: the FX platform is not on the buyer's.
    let tr = open(&env, &p[0].1, "s-lst", None).await;
    let mut b = side("buyer", "b-lst", Some(&tr));
    b["counterparty_platform_ids"] = json!([p[0].0]);
    submit(&env, &p[1].1, &b).await;
    let v = submit(&env, &p[2].1, &side("fx_provider", "f-lst", Some(&tr))).await;
    assert_eq!(v["match"]["rule"], "counterparty_mismatch");
    assert_eq!(
        v["match"]["message"],
        "an instruction waiting under this trade reference names other platforms for the remaining roles"
    );
    // Unknown roles are field errors: a role the template lacks, a role nobody knows.
    let mut bad = seller("x-role", None);
    bad["role"] = json!("fx_provider");
    let (s, e) = env.post(&p[0].1, "/v1/instructions", &bad).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        e["errors"][0]["msg"], "template dvp-standard has no role fx_provider",
        "{e}"
    );
    let mut bad = side("seller", "x-role2", None);
    bad["role"] = json!("arbiter");
    let (s, _) = env.post(&p[0].1, "/v1/instructions", &bad).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    // A role's legs are the template's: a seller without its receiving leg is refused.
    let mut bad = side("seller", "x-legs", None);
    bad["legs"][1]["direction"] = json!("deliver");
    let (s, e) = env.post(&p[0].1, "/v1/instructions", &bad).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        e["errors"][0]["msg"],
        "template dvp-fx needs exactly these legs for role seller: deliver asset_delivery, receive payment"
    );
    // counterparty_platform_ids belongs to multi-role templates.
    let mut bad = seller("x-ids", None);
    bad["counterparty_platform_ids"] = json!([p[1].0]);
    let (s, e) = env.post(&p[0].1, "/v1/instructions", &bad).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        e["errors"][0]["loc"],
        json!(["body", "counterparty_platform_ids"])
    );
    env.stop().await;
}

async fn deposit_instructions_are_each_platforms_own(backend: Backend) {
    let Some(env) = start(backend).await else {
        return;
    };
    let p = platforms(&env).await;
    let tr = open(&env, &p[0].1, "s-dep", None).await;
    let bodies = vec![side("seller", "s-dep", None)];
    let mut bodies: Vec<InstructionBody> = bodies
        .into_iter()
        .map(|v| serde_json::from_value(v).unwrap())
        .collect();
    let b = side("buyer", "b-dep", Some(&tr));
    let f = side("fx_provider", "f-dep", Some(&tr));
    submit(&env, &p[1].1, &b).await;
    let v = submit(&env, &p[2].1, &f).await;
    let sid = v["settlement_id"].as_str().unwrap().to_string();
    bodies.push(serde_json::from_value(b).unwrap());
    bodies.push(serde_json::from_value(f).unwrap());
    // The terms the multi-leg builder makes, stored as a clearance would store them.
    let escrows = Escrows::new(env.escrows.clone()).unwrap();
    let refs: Vec<&InstructionBody> = bodies.iter().collect();
    let built = build_multi_party_terms(
        &tr,
        4_000_000_000_000,
        Default::default(),
        &refs,
        &escrows,
        alloy::signers::local::PrivateKeySigner::random,
    )
    .unwrap();
    sqlx::query("UPDATE settlements SET terms = $1, deposit_secrets = $2 WHERE id = $3")
        .bind(serde_json::to_string(&terms_json(&built.terms)).unwrap())
        .bind(serde_json::to_string(&built.secrets).unwrap())
        .bind(&sid)
        .execute(env.db().pool())
        .await
        .unwrap();
    // Each platform gets exactly its party's delivering leg, on its own chain.
    for ((_, t, _), (index, chain, token)) in
        p.iter()
            .zip([(0, CHAIN_A, ASSET), (1, CHAIN_B, USD), (2, CHAIN_C, EUR)])
    {
        let (s, d) = env.get(t, &format!("/v1/settlements/{sid}/deposits")).await;
        assert_eq!(s, StatusCode::OK, "{d}");
        assert_eq!(d["total"], 1, "{d}");
        assert_eq!(d["items"][0]["leg_index"], index);
        assert_eq!(d["items"][0]["chain_id"], chain);
        assert_eq!(d["items"][0]["token"], token);
    }
    let (_, other) = env.platform("Delta").await;
    let (s, _) = env
        .get(&other, &format!("/v1/settlements/{sid}/deposits"))
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    env.stop().await;
}

async fn the_openapi_document_describes_multi_party_requests(backend: Backend) {
    let Some(env) = start(backend).await else {
        return;
    };
    let (s, doc) = env
        .req(reqwest::Method::GET, None, "/openapi.json", None)
        .await;
    assert_eq!(s, StatusCode::OK);
    let schemas = &doc["components"]["schemas"];
    let ids = &schemas["InstructionRequest"]["properties"]["counterparty_platform_ids"];
    assert_eq!(ids["minItems"], 1, "{ids}");
    assert_eq!(ids["maxItems"], 31, "{ids}");
    assert!(schemas["Role"].to_string().contains("fx_provider"));
    let role_legs = &schemas["Template"]["properties"]["role_legs"];
    assert!(role_legs.to_string().contains("RoleLegs"), "{role_legs}");
    assert!(
        schemas["LegSpec"]["required"]
            .to_string()
            .contains("direction")
    );
    // The enabled template is served with its roles' legs.
    let (_, t) = env.platform("Reader").await;
    let (s, fx) = env.get(&t, "/v1/settlement-templates/dvp-fx").await;
    assert_eq!(s, StatusCode::OK, "{fx}");
    assert_eq!(
        fx["required_roles"],
        json!(["seller", "buyer", "fx_provider"])
    );
    assert_eq!(fx["role_legs"][2]["legs"][1]["direction"], "deliver");
    env.stop().await;
}

async fn the_last_two_roles_arriving_together_complete_the_trade(backend: Backend) {
    let Some(env) = start(backend).await else {
        return;
    };
    let p = platforms(&env).await;
    for round in 0..5 {
        let tr = open(&env, &p[0].1, &format!("s-race{round}"), None).await;
        let b = side("buyer", &format!("b-race{round}"), Some(&tr));
        let f = side("fx_provider", &format!("f-race{round}"), Some(&tr));
        let (rb, rf) = tokio::join!(
            env.post(&p[1].1, "/v1/instructions", &b),
            env.post(&p[2].1, "/v1/instructions", &f)
        );
        assert_eq!((rb.0, rf.0), (StatusCode::CREATED, StatusCode::CREATED));
        // Exactly one completed the trade; the other is matched into the same settlement.
        let completed: Vec<&Value> = [&rb.1, &rf.1]
            .into_iter()
            .filter(|v| v["status"] == "matched")
            .collect();
        assert_eq!(completed.len(), 1, "round {round}: {} / {}", rb.1, rf.1);
        let sid = completed[0]["settlement_id"].as_str().unwrap();
        for t in [&p[1].1, &p[2].1] {
            let (s, l) = env.get(t, "/v1/instructions?status=matched").await;
            assert_eq!(s, StatusCode::OK);
            assert_eq!(l["items"][0]["settlement_id"], sid, "round {round}: {l}");
        }
    }
    env.stop().await;
}

both_backends!(
    the_last_two_roles_arriving_together_complete_the_trade,
    the_openapi_document_describes_multi_party_requests,
    three_parties_on_three_platforms_settle,
    each_refusal_names_its_rule_and_no_other_values,
    deposit_instructions_are_each_platforms_own,
);
