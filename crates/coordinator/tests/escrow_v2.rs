//! Escrow v2 on the coordinator side (issue 10), through real HTTP on SQLite and
//! PostgreSQL: sender-bound deposits (fixed depositor, custody address, one-time deposit
//! key with its EIP-712 `Deposit` signature), the escrows' `maxSettlementDuration`, the
//! attester's one term set per on-chain settlement id across instances, and owed legs.
#![allow(clippy::unwrap_used, missing_docs, unreachable_pub)]

mod common;

use alloy::primitives::{Address, B256, U256};
use alloy::signers::Signature;
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::SolCall;
use common::*;
use lockstep_coordinator::server::{Coordinator, Extras};
use lockstep_coordinator::terms::{Deposit, deposit_signing_hash, depositCall, terms_from_json};
use lockstep_core::OwedLeg;
use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::Row;

both_backends!(
    custody_address_and_deposit_key_legs,
    timeout_beyond_max_settlement_duration_is_refused,
    attester_never_signs_two_term_sets_for_one_id,
    a_term_set_conflict_holds_back_only_its_own_settlement,
    owed_legs_are_recorded_once_and_reach_both_platforms,
);

const CUSTODY: &str = "0x1111111111111111111111111111111111111111";
const KEY_SENDER: &str = "0x2222222222222222222222222222222222222222";

fn decode_deposit(item: &Value) -> depositCall {
    let raw = hex::decode(
        item["deposit_calldata"]
            .as_str()
            .unwrap()
            .trim_start_matches("0x"),
    )
    .unwrap();
    <depositCall as SolCall>::abi_decode(&raw).unwrap()
}

async fn custody_address_and_deposit_key_legs(backend: Backend) {
    let Some(env) = Env::start(backend, |_, _| {}).await else {
        return;
    };
    let (_, a) = env.platform("Alpha").await;
    let (_, b) = env.platform("Beta").await;
    let (_, c) = env.platform("Gamma").await;
    // The seller deposits from a custody address; the buyer asks for a deposit key.
    let (s, first) = env
        .post(&a, "/v1/instructions", &{
            let mut v = seller("v2", None);
            v["party"]["deposit_address"] = json!(CUSTODY);
            v
        })
        .await;
    assert_eq!(s, StatusCode::CREATED, "{first}");
    let mut second = buyer("v2", first["trade_reference"].as_str());
    second["party"]["deposit_authorization"] = json!("deposit_key");
    let (s, v) = env.post(&b, "/v1/instructions", &second).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let sid = v["settlement_id"].as_str().unwrap().to_string();
    let v = env.wait_state(&a, &sid, "COMPLIANCE_CLEARED").await;
    let terms = terms_from_json(&v["terms"]).unwrap();
    let legs = &terms.legs;
    assert_eq!(legs[0].depositor, CUSTODY.parse::<Address>().unwrap());
    assert_eq!(legs[0].depositKey, Address::ZERO);
    assert_eq!(legs[1].depositor, Address::ZERO);
    assert_ne!(legs[1].depositKey, Address::ZERO);
    // Nobody reads a key off the settlement itself.
    assert!(!v.to_string().contains("private"), "{v}");

    // The seller's platform: its custody address sends, empty signature.
    let (s, d) = env
        .get(&a, &format!("/v1/settlements/{sid}/deposits"))
        .await;
    assert_eq!(s, StatusCode::OK, "{d}");
    assert_eq!(d["total"], 1);
    let item = &d["items"][0];
    assert_eq!(item["authorization"], "depositor");
    assert_eq!(item["sender"], CUSTODY);
    assert!(decode_deposit(item).signature.is_empty());
    assert!(
        !d.to_string()
            .contains(&legs[1].depositKey.to_checksum(None))
    );

    // The buyer's platform, no sender: the key, no signature, no calldata.
    let (s, d) = env
        .get(&b, &format!("/v1/settlements/{sid}/deposits"))
        .await;
    assert_eq!(s, StatusCode::OK, "{d}");
    let item = &d["items"][0];
    assert_eq!(item["leg_index"], 1);
    assert_eq!(item["authorization"], "deposit_key");
    assert!(item["sender"].is_null() && item["signature"].is_null());
    assert!(item["deposit_calldata"].is_null());
    assert!(item["approve_calldata"].is_string());
    assert_eq!(item["deposit_key"], legs[1].depositKey.to_checksum(None));
    let pk: B256 = item["deposit_key_private_key"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let key = PrivateKeySigner::from_bytes(&pk).unwrap();
    assert_eq!(key.address(), legs[1].depositKey);

    check_signature_for_sender(&env, &b, &sid, &terms).await;
    // Another platform never sees the key; the seller's platform does not get the buyer's leg.
    let (s, _) = env
        .get(&c, &format!("/v1/settlements/{sid}/deposits"))
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (_, d) = env
        .get(
            &a,
            &format!("/v1/settlements/{sid}/deposits?sender={KEY_SENDER}"),
        )
        .await;
    assert!(!d.to_string().contains(&hex::encode(pk)), "{d}");
    assert_eq!(d["items"][0]["sender"], CUSTODY);
    // A malformed sender is a 422.
    let (s, e) = env
        .get(&b, &format!("/v1/settlements/{sid}/deposits?sender=0x12"))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    // deposit_address is for depositor mode only, and must be an address.
    let mut bad = seller("v2-bad", None);
    bad["party"]["deposit_authorization"] = json!("deposit_key");
    bad["party"]["deposit_address"] = json!(CUSTODY);
    let (s, e) = env.post(&a, "/v1/instructions", &bad).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        e["detail"].as_str().unwrap().contains("deposit_address"),
        "{e}"
    );
    bad["party"]["deposit_authorization"] = json!("depositor");
    bad["party"]["deposit_address"] = json!("0xnope");
    let (s, _) = env.post(&a, "/v1/instructions", &bad).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    env.stop().await;
}

/// `?sender=` on a deposit-key leg (leg 1): a signature by the key over the EIP-712
/// `Deposit` digest for exactly that sender, and calldata carrying it.
async fn check_signature_for_sender(
    env: &Env,
    b: &str,
    sid: &str,
    terms: &lockstep_coordinator::terms::Terms,
) {
    let legs = &terms.legs;
    // With ?sender=: a signature by the key over the EIP-712 Deposit digest for that sender.
    let (s, d) = env
        .get(
            b,
            &format!("/v1/settlements/{sid}/deposits?sender={KEY_SENDER}"),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{d}");
    let item = &d["items"][0];
    assert_eq!(item["sender"], KEY_SENDER);
    let sig_hex = item["signature"].as_str().unwrap();
    let sig: Signature = sig_hex.parse().unwrap();
    let sender: Address = KEY_SENDER.parse().unwrap();
    let digest = deposit_signing_hash(
        CHAIN_A,
        ESCROW_A.parse().unwrap(),
        &Deposit {
            settlementId: terms.settlementId,
            legIndex: U256::from(1),
            sender,
        },
    );
    assert_eq!(
        sig.recover_address_from_prehash(&digest).unwrap(),
        legs[1].depositKey
    );
    // Bound to the sender: over another sender's digest it recovers to someone else.
    let other = deposit_signing_hash(
        CHAIN_A,
        ESCROW_A.parse().unwrap(),
        &Deposit {
            settlementId: terms.settlementId,
            legIndex: U256::from(1),
            sender: CUSTODY.parse().unwrap(),
        },
    );
    assert_ne!(
        sig.recover_address_from_prehash(&other).unwrap(),
        legs[1].depositKey
    );
    let call = decode_deposit(item);
    assert_eq!(&call.terms, terms);
    assert_eq!(call.legIndex, U256::from(1));
    assert_eq!(format!("0x{}", hex::encode(&call.signature)), sig_hex);
    assert_eq!(call.signature.len(), 65);
}

async fn timeout_beyond_max_settlement_duration_is_refused(backend: Backend) {
    let Some(mut env) = Env::start(backend, |_, _| {}).await else {
        return;
    };
    env.escrows[0].max_settlement_duration_secs = Some(7200);
    env.escrows[1].max_settlement_duration_secs = Some(3600);
    env.restart().await;
    let (_, a) = env.platform("Alpha").await;
    let at = |mins: i64| (chrono::Utc::now() + chrono::Duration::minutes(mins)).to_rfc3339();
    // Chain A only (7200 s): 90 minutes is fine, 3 hours is not.
    let mut ok = seller("d1", None);
    ok["timeout_at"] = json!(at(90));
    let (s, v) = env.post(&a, "/v1/instructions", &ok).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let mut long = seller("d2", None);
    long["timeout_at"] = json!(at(180));
    let (s, e) = env.post(&a, "/v1/instructions", &long).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    let detail = e["detail"].as_str().unwrap();
    assert!(detail.contains("timeout_at"), "{e}");
    assert!(detail.contains("7200"), "{e}");
    // A leg on chain B: the smaller limit (3600 s) applies.
    let mut cross = seller("d3", None);
    cross["template_slug"] = json!("cross-chain-dvp");
    cross["legs"][1]["chain_id"] = json!(CHAIN_B);
    cross["timeout_at"] = json!(at(90));
    let (s, e) = env.post(&a, "/v1/instructions", &cross).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    let detail = e["detail"].as_str().unwrap();
    assert!(
        detail.contains("3600") && detail.contains(&CHAIN_B.to_string()),
        "{e}"
    );
    cross["timeout_at"] = json!(at(50));
    let (s, v) = env.post(&a, "/v1/instructions", &cross).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    env.stop().await;
}

async fn attested_hash(env: &Env, onchain_id: &str) -> Vec<String> {
    sqlx::query("SELECT terms_hash FROM attested_terms WHERE onchain_id = $1")
        .bind(onchain_id)
        .fetch_all(env.db().pool())
        .await
        .unwrap()
        .iter()
        .map(|r| r.try_get::<String, _>("terms_hash").unwrap())
        .collect()
}

async fn attester_never_signs_two_term_sets_for_one_id(backend: Backend) {
    let Some(env) = Env::start(backend, |_, _| {}).await else {
        return;
    };
    let (_, a) = env.platform("Alpha").await;
    let (_, b) = env.platform("Beta").await;
    let op = env.operator().await;
    // A deposit key per clearing makes every clearing's term set different.
    let (sid, _) = matched_pair(&env, &a, &b, "att", |v| {
        v["party"]["deposit_authorization"] = json!("deposit_key")
    })
    .await;
    let v = env.wait_state(&a, &sid, "COMPLIANCE_CLEARED").await;
    let first_hash = v["terms_hash"].as_str().unwrap().to_string();
    let onchain_id = v["terms"]["settlement_id"].as_str().unwrap().to_string();
    assert_eq!(
        attested_hash(&env, &onchain_id).await,
        vec![first_hash.clone()]
    );

    // Put the settlement back before clearing (as if the clearing were lost), then let a
    // second coordinator instance on the same database clear it again.
    sqlx::query("UPDATE settlements SET state = 'COMPLIANCE_CHECKING', compliance = NULL, terms = NULL, terms_hash = NULL, attestations = NULL, deposit_secrets = NULL WHERE id = $1")
        .bind(&sid)
        .execute(env.db().pool())
        .await
        .unwrap();
    let second = Coordinator::open(
        env.config.clone(),
        env.escrows.clone(),
        env.attester.clone(),
    )
    .await
    .unwrap()
    .start(Extras::default())
    .await
    .unwrap();
    let base2 = format!("http://{}", second.addr());
    let r = env
        .http
        .post(format!("{base2}/v1/operator/settlements/{sid}/retry"))
        .bearer_auth(&op)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CONFLICT);
    let body: Value = r.json().await.unwrap();
    assert!(
        body["detail"].as_str().unwrap().contains("already signed"),
        "{body}"
    );
    // Refused on both instances: nothing attested, the first term set stays the only one.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    for token in [&a, &b] {
        let (_, v) = env.get(token, &format!("/v1/settlements/{sid}")).await;
        assert_eq!(v["state"], "COMPLIANCE_CHECKING", "{v}");
        assert!(v["terms"].is_null() && v["terms_hash"].is_null(), "{v}");
        assert_eq!(v["attestations"], json!([]));
    }
    assert_eq!(attested_hash(&env, &onchain_id).await, [first_hash]);
    second.shutdown().await;
    env.stop().await;
}

/// Settlements screened together are cleared together (one attestation upsert, one
/// guarded update); an on-chain id already attested with another term set holds back its
/// own settlement only: nothing of it is written, the others clear.
async fn a_term_set_conflict_holds_back_only_its_own_settlement(backend: Backend) {
    let Some(env) = Env::start(backend, |_, _| {}).await else {
        return;
    };
    let (_, a) = env.platform("Alpha").await;
    let (_, b) = env.platform("Beta").await;
    let refs = env.first_sides(&a, "batch", 3).await;
    let taken = lockstep_core::onchain_settlement_id(&refs[1]).to_string();
    sqlx::query("INSERT INTO attested_terms (onchain_id, terms_hash, settlement_id, attested_at) VALUES ($1, 'sha256:another', 'stl_elsewhere', 1)")
        .bind(&taken)
        .execute(env.db().pool())
        .await
        .unwrap();
    // The second sides at once, so the worker screens them in one round.
    let seconds = refs.iter().enumerate().map(|(i, tr)| {
        let body = buyer(&format!("b-batch-{i}"), Some(tr));
        let (env, b) = (&env, &b);
        async move { env.post(b, "/v1/instructions", &body).await }
    });
    let mut sids = Vec::new();
    for (s, v) in futures_join_all(seconds).await {
        assert_eq!(s, StatusCode::CREATED, "{v}");
        sids.push(v["settlement_id"].as_str().unwrap().to_string());
    }
    for i in [0, 2] {
        let v = env.wait_state(&a, &sids[i], "COMPLIANCE_CLEARED").await;
        let onchain_id = lockstep_core::onchain_settlement_id(&refs[i]).to_string();
        assert_eq!(v["terms"]["settlement_id"], json!(onchain_id), "{v}");
        let hash = v["terms_hash"].as_str().unwrap().to_string();
        assert_eq!(attested_hash(&env, &onchain_id).await, [hash]);
        check_attestations(&env, &v);
    }
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let (_, v) = env.get(&a, &format!("/v1/settlements/{}", sids[1])).await;
    assert_eq!(v["state"], "COMPLIANCE_CHECKING", "{v}");
    assert!(v["terms"].is_null() && v["terms_hash"].is_null(), "{v}");
    assert_eq!(v["attestations"], json!([]));
    assert_eq!(attested_hash(&env, &taken).await, ["sha256:another"]);
    env.stop().await;
}

async fn owed_legs_are_recorded_once_and_reach_both_platforms(backend: Backend) {
    let Some(env) = Env::start(backend, |_, _| {}).await else {
        return;
    };
    let (_, a) = env.platform("Alpha").await;
    let (_, b) = env.platform("Beta").await;
    let (url_a, got_a) = receiver(0).await;
    let (url_b, got_b) = receiver(0).await;
    env.post(&a, "/v1/webhook-endpoints", &json!({"url": url_a}))
        .await;
    env.post(&b, "/v1/webhook-endpoints", &json!({"url": url_b}))
        .await;
    let (sid, _) = matched_pair(&env, &a, &b, "owed", |_| {}).await;
    env.wait_state(&a, &sid, "COMPLIANCE_CLEARED").await;
    let v = env.get(&a, &format!("/v1/settlements/{sid}")).await.1;
    assert_eq!(v["owed"], json!([]));

    let owed = OwedLeg {
        leg_index: 1,
        chain_id: CHAIN_A,
        escrow: ESCROW_A.parse().unwrap(),
        beneficiary: SELLER_WALLET.parse().unwrap(),
        token: USDC.parse().unwrap(),
        amount: U256::from(250_000_000u64),
        refund: false,
        tx_hash: B256::repeat_byte(0xab),
    };
    let ledger = env.ledger();
    assert!(ledger.record_owed(&sid, &owed).await.unwrap());
    assert!(!ledger.record_owed(&sid, &owed).await.unwrap(), "once");
    assert!(ledger.record_owed("stl_nope", &owed).await.is_err());

    let leg_owed = |got: &Received| {
        got.lock()
            .unwrap()
            .iter()
            .map(|(_, body)| serde_json::from_str::<Value>(body).unwrap())
            .filter(|e| e["event"] == "settlement.leg_owed")
            .collect::<Vec<_>>()
    };
    for got in [&got_a, &got_b] {
        wait_for(|| !leg_owed(got).is_empty(), "the leg_owed webhook").await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    for got in [&got_a, &got_b] {
        let events = leg_owed(got);
        assert_eq!(events.len(), 1, "exactly once per platform");
        assert_eq!(
            events[0]["data"],
            json!({
                "settlement_id": sid, "leg_index": 1, "chain_id": CHAIN_A, "escrow": ESCROW_A,
                "beneficiary": SELLER_WALLET, "token": USDC, "amount": "250000000",
                "refund": false, "tx_hash": B256::repeat_byte(0xab).to_string(),
            })
        );
    }
    for token in [&a, &b] {
        let (_, v) = env.get(token, &format!("/v1/settlements/{sid}")).await;
        let list = v["owed"].as_array().unwrap();
        assert_eq!(list.len(), 1, "{v}");
        assert_eq!(list[0]["beneficiary"], SELLER_WALLET);
        assert_eq!(list[0]["amount"], "250000000");
        assert_eq!(list[0]["refund"], false);
        assert_eq!(list[0]["leg_index"], 1);
        assert_eq!(list[0]["chain_id"], CHAIN_A);
        assert!(list[0]["recorded_at"].is_string());
    }
    // Another leg (a refund owed to the buyer) is a second entry.
    let refund = OwedLeg {
        leg_index: 0,
        refund: true,
        beneficiary: BUYER_WALLET.parse().unwrap(),
        ..owed
    };
    assert!(ledger.record_owed(&sid, &refund).await.unwrap());
    let (_, v) = env.get(&b, &format!("/v1/settlements/{sid}")).await;
    assert_eq!(v["owed"].as_array().unwrap().len(), 2);
    assert_eq!(v["owed"][0]["refund"], true);
    // The OpenAPI document describes the new shapes and the `sender` query parameter.
    let (_, doc) = env
        .req(reqwest::Method::GET, None, "/openapi.json", None)
        .await;
    let schemas = &doc["components"]["schemas"];
    for name in ["OwedView", "DepositAuthorization", "DepositInstruction"] {
        assert!(schemas.get(name).is_some(), "{name} missing");
    }
    for field in [
        "authorization",
        "sender",
        "deposit_key",
        "deposit_key_private_key",
        "signature",
    ] {
        assert!(
            schemas["DepositInstruction"]["properties"]
                .get(field)
                .is_some(),
            "{field} missing"
        );
    }
    assert!(
        schemas["SettlementView"]["properties"]
            .get("owed")
            .is_some()
    );
    assert!(
        schemas["Party"]["properties"]
            .get("deposit_address")
            .is_some()
    );
    let params = doc["paths"]["/v1/settlements/{id}/deposits"]["get"]["parameters"].to_string();
    assert!(params.contains("\"sender\""), "{params}");
    env.stop().await;
}
