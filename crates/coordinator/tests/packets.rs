//! API tests of the operator's packet desk (`/v1/operator/packets`) and of the stale packets
//! in the stuck-settlements report, over the chain side's real store (`lz_packets` seeded
//! through `ChainStore`), on SQLite and PostgreSQL.
#![allow(clippy::unwrap_used, missing_docs, unreachable_pub)]

mod common;

use alloy::primitives::{Address, B256};
use alloy::sol_types::SolValue;
use common::*;
use lockstep_bindings::ISettlementEscrow::Terms;
use lockstep_chain::ChainStore;
use lockstep_chain::store::{NewPacket, PacketStatus};
use reqwest::{Method, StatusCode};
use serde_json::Value;

both_backends!(
    packet_desk_lists_filters_gets_and_retries,
    stuck_report_lists_blocked_packets,
    packet_desk_without_chain_side,
);

const EID_A: u32 = 40161;
const EID_B: u32 = 40162;

fn guid(n: u8) -> String {
    format!("{:#x}", B256::repeat_byte(n))
}

/// An encoded LayerZero v2 packet A -> B carrying `kind ‖ abi.encode(terms)`.
fn packet(nonce: u64, n: u8, kind: u8, onchain_id: B256) -> String {
    let terms = Terms {
        settlementId: onchain_id,
        hubEid: EID_A,
        timeoutAt: 1,
        decisionRef: B256::ZERO,
        legs: Vec::new(),
    };
    let escrow = |s: &str| s.parse::<Address>().unwrap().into_word();
    let mut b = vec![1u8];
    b.extend_from_slice(&nonce.to_be_bytes());
    b.extend_from_slice(&EID_A.to_be_bytes());
    b.extend_from_slice(escrow(ESCROW_A).as_slice());
    b.extend_from_slice(&EID_B.to_be_bytes());
    b.extend_from_slice(escrow(ESCROW_B).as_slice());
    b.extend_from_slice(B256::repeat_byte(n).as_slice());
    b.push(kind);
    b.extend_from_slice(&terms.abi_encode());
    alloy::hex::encode_prefixed(b)
}

/// Queues packet `n` (nonce `nonce`) as the relayer's ingestion would.
async fn seed(store: &ChainStore, n: u8, nonce: u64, kind: u8, onchain_id: B256) {
    let readable = kind != 0;
    store
        .insert_packet(&NewPacket {
            guid: guid(n),
            src_chain_id: i64::try_from(CHAIN_A).unwrap(),
            src_eid: EID_A,
            dst_eid: EID_B,
            sender: format!("{:#x}", ESCROW_A.parse::<Address>().unwrap().into_word()),
            receiver: ESCROW_B.to_lowercase(),
            nonce: i64::try_from(nonce).unwrap(),
            packet: if readable {
                packet(nonce, n, kind, onchain_id)
            } else {
                String::new()
            },
            src_tx_hash: guid(0xee),
            status: if readable {
                PacketStatus::Pending
            } else {
                PacketStatus::Unreadable
            },
            last_error: (!readable).then(|| "packet too short".to_string()),
        })
        .await
        .unwrap();
}

/// A coordinator with the chain store's packet desk, two platforms, an operator and one
/// settlement (`(env, store, platform token, operator token, settlement id, on-chain id)`).
async fn start(backend: Backend) -> Option<(Env, ChainStore, String, String, String, B256)> {
    let mut env = Env::start(backend, |_, _| {}).await?;
    let store = env.with_chain_store().await;
    let (_, a) = env.platform("Alpha").await;
    let (_, b) = env.platform("Beta").await;
    let op = env.operator().await;
    let (sid, _) = matched_pair(&env, &a, &b, "p1", |_| {}).await;
    env.wait_state(&a, &sid, "COMPLIANCE_CLEARED").await;
    let (_, s) = env.get(&op, &format!("/v1/settlements/{sid}")).await;
    let onchain = lockstep_core::onchain_settlement_id(s["trade_reference"].as_str().unwrap());
    Some((env, store, a, op, sid, onchain))
}

fn guids(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["guid"].as_str().unwrap().to_string())
        .collect()
}

async fn packet_desk_lists_filters_gets_and_retries(backend: Backend) {
    let Some((env, store, platform, op, sid, onchain)) = start(backend).await else {
        return;
    };
    seed_four(&store, onchain).await;
    operators_only(&env, &platform).await;
    lists_open_first_with_every_field(&env, &op, &sid, onchain).await;
    filters_and_pages(&env, &op).await;
    gets_and_retries(&env, &store, &op).await;
    env.stop().await;
}

async fn seed_four(store: &ChainStore, onchain: B256) {
    let other = B256::repeat_byte(0x77);
    // 1: RELEASE of the settlement, failing; 2: behind it on the path; 3: delivered
    // (another settlement); 4: unreadable.
    seed(store, 1, 1, 2, onchain).await;
    seed(store, 2, 2, 3, onchain).await;
    seed(store, 3, 3, 1, other).await;
    seed(store, 4, 4, 0, other).await;
    let far = lockstep_core::now_ms() + 3_600_000;
    store
        .record_failed_attempt(&guid(1), PacketStatus::Pending, 3, "rpc down", far)
        .await
        .unwrap();
    store
        .record_blocked(
            &guid(2),
            PacketStatus::Verified,
            "waits for nonce 1",
            1,
            far,
        )
        .await
        .unwrap();
    store
        .record_delivered(&guid(3), 1, Some(B256::repeat_byte(0xdd)))
        .await
        .unwrap();
}

async fn operators_only(env: &Env, platform: &str) {
    // Operators only.
    for (m, path) in [
        (Method::GET, "/v1/operator/packets".to_string()),
        (Method::GET, format!("/v1/operator/packets/{}", guid(1))),
        (
            Method::POST,
            format!("/v1/operator/packets/{}/retry", guid(1)),
        ),
    ] {
        let (s, _) = env.req(m.clone(), Some(platform), &path, None).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{m} {path}");
        let (s, _) = env.req(m.clone(), None, &path, None).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "{m} {path}");
    }
}

async fn lists_open_first_with_every_field(env: &Env, op: &str, sid: &str, onchain: B256) {
    // Open ones first (oldest first), then the closed ones.
    let (s, all) = env.get(op, "/v1/operator/packets").await;
    assert_eq!(s, StatusCode::OK, "{all}");
    assert_eq!(
        (all["total"].as_i64(), all["limit"].as_i64()),
        (Some(4), Some(50))
    );
    assert_eq!(&guids(&all)[..2], &[guid(1), guid(2)]);
    let p1 = &all["items"][0];
    assert_eq!(p1["path"]["src_chain_id"], CHAIN_A);
    assert_eq!(p1["path"]["src_eid"], EID_A);
    assert_eq!(p1["path"]["dst_chain_id"], CHAIN_B);
    assert_eq!(p1["path"]["dst_eid"], EID_B);
    assert_eq!(p1["nonce"], 1);
    assert_eq!(p1["settlement_id"], sid);
    assert_eq!(p1["onchain_settlement_id"], format!("{onchain:#x}"));
    assert_eq!(p1["message_kind"], "RELEASE");
    assert_eq!(p1["status"], "pending");
    assert_eq!(p1["attempts"], 3);
    assert_eq!(p1["last_error"], "rpc down");
    assert_eq!(p1["blocked_on_nonce"], Value::Null);
    assert!(
        p1["next_attempt_at"].as_str().unwrap().ends_with('Z'),
        "{p1}"
    );
}

async fn filters_and_pages(env: &Env, op: &str) {
    // Filters and paging.
    let (_, open) = env.get(op, "/v1/operator/packets?open_only=true").await;
    assert_eq!(
        (open["total"].as_i64(), guids(&open)),
        (Some(2), vec![guid(1), guid(2)])
    );
    let (_, blocked) = env.get(op, "/v1/operator/packets?blocked=true").await;
    assert_eq!(
        (blocked["total"].as_i64(), guids(&blocked)),
        (Some(1), vec![guid(2)])
    );
    let p2 = &blocked["items"][0];
    assert_eq!(
        (p2["status"].as_str(), p2["blocked_on_nonce"].as_u64()),
        (Some("verified"), Some(1))
    );
    assert_eq!(
        (p2["message_kind"].as_str(), p2["attempts"].as_u64()),
        (Some("ABORT"), Some(0))
    );
    assert!(p2["blocked_since"].is_string(), "{p2}");
    let (_, done) = env.get(op, "/v1/operator/packets?status=delivered").await;
    assert_eq!(
        (done["total"].as_i64(), guids(&done)),
        (Some(1), vec![guid(3)])
    );
    let p3 = &done["items"][0];
    assert_eq!(
        p3["delivered_tx_hash"],
        format!("{:#x}", B256::repeat_byte(0xdd))
    );
    assert_eq!(
        (p3["settlement_id"].clone(), p3["message_kind"].as_str()),
        (Value::Null, Some("LOCKED"))
    );
    let (_, bad) = env.get(op, "/v1/operator/packets?status=unreadable").await;
    assert_eq!(bad["items"][0]["message_kind"], Value::Null);
    assert_eq!(bad["items"][0]["last_error"], "packet too short");
    let (_, none) = env
        .get(op, "/v1/operator/packets?status=delivered&open_only=true")
        .await;
    assert_eq!(none["total"], 0);
    let (_, paged) = env.get(op, "/v1/operator/packets?limit=1&offset=1").await;
    assert_eq!(
        (paged["total"].as_i64(), guids(&paged)),
        (Some(4), vec![guid(2)])
    );
    for (query, want) in [
        ("status=failed", StatusCode::BAD_REQUEST),
        ("open_only=maybe", StatusCode::BAD_REQUEST),
        ("guid=0x01", StatusCode::BAD_REQUEST),
        ("limit=0", StatusCode::UNPROCESSABLE_ENTITY),
        ("offset=-1", StatusCode::UNPROCESSABLE_ENTITY),
    ] {
        let (s, v) = env.get(op, &format!("/v1/operator/packets?{query}")).await;
        assert_eq!(s, want, "{query}: {v}");
    }
}

async fn gets_and_retries(env: &Env, store: &ChainStore, op: &str) {
    // One packet, any case; unknown: 404.
    let (s, one) = env
        .get(
            op,
            &format!(
                "/v1/operator/packets/{}",
                guid(1).to_uppercase().replace("0X", "0x")
            ),
        )
        .await;
    assert_eq!(
        (s, one["guid"].as_str()),
        (StatusCode::OK, Some(guid(1).as_str()))
    );
    let (s, _) = env
        .get(op, &format!("/v1/operator/packets/{}", guid(9)))
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    // Retry: due now, idempotent; 409 when closed; 404 when unknown.
    let now = lockstep_core::now_ms();
    assert!(
        store.due_packets(now, 10).await.unwrap().is_empty(),
        "nothing due yet"
    );
    for _ in 0..2 {
        let (s, r) = env
            .req(
                Method::POST,
                Some(op),
                &format!("/v1/operator/packets/{}/retry", guid(1)),
                None,
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{r}");
        assert_eq!(
            (r["guid"].as_str(), r["status"].as_str()),
            (Some(guid(1).as_str()), Some("pending"))
        );
        assert_eq!(r["next_attempt_at"], "1970-01-01T00:00:00.000Z");
    }
    let due: Vec<String> = store
        .due_packets(now, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.guid)
        .collect();
    assert_eq!(due, vec![guid(1)]);
    for (n, want) in [
        (3, StatusCode::CONFLICT),
        (4, StatusCode::CONFLICT),
        (9, StatusCode::NOT_FOUND),
    ] {
        let (s, v) = env
            .req(
                Method::POST,
                Some(op),
                &format!("/v1/operator/packets/{}/retry", guid(n)),
                None,
            )
            .await;
        assert_eq!(s, want, "packet {n}: {v}");
    }
    let (_, p3) = env
        .get(op, &format!("/v1/operator/packets/{}", guid(3)))
        .await;
    assert_eq!(p3["status"], "delivered");
}

async fn stuck_report_lists_blocked_packets(backend: Backend) {
    let Some((env, store, _, op, sid, onchain)) = start(backend).await else {
        return;
    };
    seed(&store, 1, 1, 2, onchain).await;
    seed(&store, 2, 2, 3, onchain).await;
    let far = lockstep_core::now_ms() + 3_600_000;
    store
        .record_blocked(
            &guid(2),
            PacketStatus::Committed,
            "waits for nonce 1",
            1,
            far,
        )
        .await
        .unwrap();
    // Fresh packets and a fresh settlement: nothing is stuck.
    let (s, st) = env.get(&op, "/v1/operator/stuck-settlements").await;
    assert_eq!((s, st["total"].as_i64()), (StatusCode::OK, Some(0)), "{st}");
    // Packet 2 has waited for nonce 1 for two hours (threshold: stuck_after_secs = 3600).
    let two_hours_ago = lockstep_core::now_ms() - 7_200_000;
    sqlx::query("UPDATE lz_packets SET blocked_since = $1 WHERE guid = $2")
        .bind(two_hours_ago)
        .bind(guid(2))
        .execute(env.db().pool())
        .await
        .unwrap();
    let (s, st) = env.get(&op, "/v1/operator/stuck-settlements").await;
    assert_eq!((s, st["total"].as_i64()), (StatusCode::OK, Some(1)), "{st}");
    let item = &st["items"][0];
    // The settlement's own fields are unchanged; its stale packets are added.
    assert_eq!(item["id"], sid.as_str());
    assert_eq!(item["state"], "COMPLIANCE_CLEARED");
    assert!(
        item["trade_reference"].is_string() && item["parties"].is_array(),
        "{item}"
    );
    let stuck = item["stuck_packets"].as_array().unwrap();
    assert_eq!(stuck.len(), 1, "{item}");
    assert_eq!(stuck[0]["guid"], guid(2));
    assert_eq!(stuck[0]["blocked_on_nonce"], 1);
    assert_eq!(stuck[0]["settlement_id"], sid.as_str());
    // Delivered: no longer stuck.
    store.record_delivered(&guid(2), 0, None).await.unwrap();
    let (_, st) = env.get(&op, "/v1/operator/stuck-settlements").await;
    assert_eq!(st["total"], 0, "{st}");
    env.stop().await;
}

async fn packet_desk_without_chain_side(backend: Backend) {
    let Some(env) = Env::start(backend, |_, _| {}).await else {
        return;
    };
    let op = env.operator().await;
    let (s, list) = env.get(&op, "/v1/operator/packets?open_only=true").await;
    assert_eq!(
        (
            s,
            list["total"].as_i64(),
            list["items"].as_array().map(Vec::len)
        ),
        (StatusCode::OK, Some(0), Some(0))
    );
    let (s, _) = env
        .get(&op, &format!("/v1/operator/packets/{}", guid(1)))
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = env
        .req(
            Method::POST,
            Some(&op),
            &format!("/v1/operator/packets/{}/retry", guid(1)),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    env.stop().await;
}
