//! The chain store on a temporary SQLite file.
#![allow(clippy::unwrap_used)]

use super::*;
use alloy::primitives::{Address, B256};
use serde_json::json;

async fn sqlite(dir: &tempfile::TempDir) -> Db {
    Db::connect(&lockstep_core::db::sqlite_url_for(dir.path()))
        .await
        .unwrap()
}

async fn open(dir: &tempfile::TempDir) -> ChainStore {
    ChainStore::open(sqlite(dir).await).await.unwrap()
}

/// A fresh PostgreSQL database when `LOCKSTEP_TEST_POSTGRES_URL` is set (under
/// `script/with-postgres`), otherwise `None` and the variant is skipped.
async fn postgres() -> Option<Db> {
    let Ok(admin) = std::env::var("LOCKSTEP_TEST_POSTGRES_URL") else {
        eprintln!("SKIPPING PostgreSQL variant: LOCKSTEP_TEST_POSTGRES_URL is not set");
        return None;
    };
    let db = Db::connect(&admin).await.unwrap();
    let name = lockstep_core::new_id("lockstep_chain_test").to_lowercase();
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(db.pool())
        .await
        .unwrap();
    let base = admin.rsplit_once('/').map(|(b, _)| b.to_string()).unwrap();
    Some(Db::connect(&format!("{base}/{name}")).await.unwrap())
}

#[tokio::test]
async fn postgres_variants() {
    for flow in 0..4 {
        let Some(db) = postgres().await else { return };
        match flow {
            0 => previous_schema_flow(db).await,
            1 => rounds_flow(ChainStore::open(db).await.unwrap()).await,
            2 => packets_flow(ChainStore::open(db).await.unwrap()).await,
            _ => deferred_flow(ChainStore::open(db).await.unwrap()).await,
        }
    }
}

fn h(n: u8) -> B256 {
    B256::repeat_byte(n)
}

fn log(block: u64, index: u64, event: &str, key: B256, fields: serde_json::Value) -> NewLog {
    NewLog {
        block_number: block,
        log_index: index,
        block_hash: h(block as u8),
        block_timestamp: 1_000 + block,
        tx_hash: h(0xa0 + block as u8),
        address: Address::repeat_byte(0xe5),
        event: event.into(),
        key,
        fields,
    }
}

fn round(chain_id: u64, to: u64, logs: Vec<NewLog>) -> IndexedRound {
    let mut blocks: Vec<BlockRow> = logs
        .iter()
        .map(|l| BlockRow {
            number: l.block_number,
            hash: l.block_hash,
            timestamp: l.block_timestamp,
        })
        .collect();
    blocks.push(BlockRow {
        number: to,
        hash: h(to as u8),
        timestamp: 1_000 + to,
    });
    IndexedRound {
        chain_id,
        blocks,
        logs,
        cursor: Cursor {
            block_number: to,
            block_hash: h(to as u8),
        },
        prune_below: to.saturating_sub(256),
    }
}

#[tokio::test]
async fn migrates_once_and_beside_other_crates_migrations() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir).await;
    // Another crate's migration recorded in the shared table (the coordinator's 1, 2, ...).
    sqlx::query("INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) VALUES (1, 'init', TRUE, x'00', 0)")
        .execute(store.db().pool())
        .await
        .unwrap();
    drop(store);
    let store = open(&dir).await;
    let versions: Vec<(i64,)> =
        sqlx::query_as("SELECT version FROM _sqlx_migrations ORDER BY version")
            .fetch_all(store.db().pool())
            .await
            .unwrap();
    assert_eq!(versions, [(1,), (1001,), (1002,)]);
}

#[tokio::test]
async fn opens_a_database_created_by_the_previous_schema() {
    let dir = tempfile::tempdir().unwrap();
    previous_schema_flow(sqlite(&dir).await).await;
}

async fn previous_schema_flow(db: Db) {
    // The tables as the coordinator's 0002_chain.sql created them, with a row.
    for stmt in [
        "CREATE TABLE chain_cursors (chain_id BIGINT PRIMARY KEY, block_number BIGINT NOT NULL, block_hash TEXT NOT NULL, updated_at BIGINT NOT NULL)",
        "CREATE TABLE lz_packets (guid TEXT PRIMARY KEY, src_chain_id BIGINT NOT NULL, src_eid BIGINT NOT NULL, dst_eid BIGINT NOT NULL, sender TEXT NOT NULL, receiver TEXT NOT NULL, nonce BIGINT NOT NULL, packet TEXT NOT NULL, src_tx_hash TEXT NOT NULL, state TEXT NOT NULL, attempts BIGINT NOT NULL, last_error TEXT, next_attempt_at BIGINT NOT NULL, delivered_tx_hash TEXT, created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL)",
        "CREATE INDEX lz_packets_due ON lz_packets (state, next_attempt_at)",
        "INSERT INTO chain_cursors VALUES (7, 42, '0x2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a', 0)",
        "INSERT INTO lz_packets VALUES ('0x01', 7, 1, 2, '', '', 1, '0x', '0x', 'committed', 3, 'x', 0, NULL, 0, 0)",
        // Given up by the old relayer after 20 attempts, and an unreadable one.
        "INSERT INTO lz_packets VALUES ('0x02', 7, 1, 2, '', '', 2, '0x0102', '0x', 'failed', 20, 'rpc down', 9000000000000, NULL, 0, 0)",
        "INSERT INTO lz_packets VALUES ('0x03', 7, 0, 0, '', '', 0, '', '0x', 'failed', 0, 'unreadable packet: short', 0, NULL, 0, 0)",
    ] {
        sqlx::query(stmt).execute(db.pool()).await.unwrap();
    }
    let store = ChainStore::open(db).await.unwrap();
    assert_eq!(
        store.cursor(7).await.unwrap(),
        Some(Cursor {
            block_number: 42,
            block_hash: h(0x2a)
        })
    );
    // Stored status strings read back typed.
    assert_eq!(
        store.packet_status("0x01").await.unwrap(),
        Some((PacketStatus::Committed, 3, Some("x".into())))
    );
    // 1002: the packet given up goes back to work at once; the unreadable one is named so.
    assert_eq!(
        store.packet_status("0x02").await.unwrap(),
        Some((PacketStatus::Pending, 20, Some("rpc down".into())))
    );
    let due: Vec<String> = store
        .due_packets(1, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|d| d.guid)
        .collect();
    assert_eq!(due, ["0x01", "0x02"]);
    assert_eq!(
        store.packet_status("0x03").await.unwrap().map(|s| s.0),
        Some(PacketStatus::Unreadable)
    );
}

#[tokio::test]
async fn commits_rounds_reads_logs_and_rewinds() {
    let dir = tempfile::tempdir().unwrap();
    rounds_flow(open(&dir).await).await;
}

async fn rounds_flow(store: ChainStore) {
    assert_eq!(store.cursor(1).await.unwrap(), None);
    let key = h(0x55);
    let r1 = round(
        1,
        10,
        vec![
            log(
                3,
                0,
                "SettlementRegistered",
                key,
                json!({"termsHash": "0x11"}),
            ),
            log(5, 2, "LegDeposited", key, json!({"legIndex": "0"})),
            log(5, 3, "LegDeposited", h(0x66), json!({"legIndex": "0"})),
        ],
    );
    store.commit_round(&r1).await.unwrap();
    // A repeated round changes nothing.
    store.commit_round(&r1).await.unwrap();
    assert_eq!(store.cursor(1).await.unwrap().unwrap().block_number, 10);
    let logs = store.logs_by_key(key).await.unwrap();
    assert_eq!(logs.len(), 2);
    assert_eq!(logs[0].event, "SettlementRegistered");
    assert_eq!(logs[1].leg_index(), Some(0));
    assert_eq!(logs[1].block_timestamp, 1_005);
    assert_eq!(logs[1].tx_hash, format!("{:#x}", h(0xa5)));
    assert_eq!(
        logs[1].address,
        format!("{:#x}", Address::repeat_byte(0xe5))
    );
    let blocks: Vec<u64> = store
        .blocks_newest_first(1)
        .await
        .unwrap()
        .into_iter()
        .map(|b| b.0)
        .collect();
    assert_eq!(blocks, [10, 5, 3]);
    let back = Cursor {
        block_number: 4,
        block_hash: h(4),
    };
    assert_eq!(store.rewind(1, back).await.unwrap(), 2);
    assert_eq!(store.cursor(1).await.unwrap(), Some(back));
    assert_eq!(store.logs_by_key(key).await.unwrap().len(), 1);
    let blocks: Vec<u64> = store
        .blocks_newest_first(1)
        .await
        .unwrap()
        .into_iter()
        .map(|b| b.0)
        .collect();
    assert_eq!(blocks, [3]);
}

#[tokio::test]
async fn prunes_old_block_hashes_without_logs() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir).await;
    store
        .commit_round(&round(
            1,
            20,
            vec![log(15, 0, "LegDeposited", h(1), json!({}))],
        ))
        .await
        .unwrap();
    let mut late = round(1, 600, vec![]);
    late.prune_below = 600 - 256;
    store.commit_round(&late).await.unwrap();
    let blocks: Vec<u64> = store
        .blocks_newest_first(1)
        .await
        .unwrap()
        .into_iter()
        .map(|b| b.0)
        .collect();
    assert_eq!(blocks, [600, 15], "block 20 pruned, block 15 holds a log");
}

fn packet(guid: &str, nonce: i64, status: PacketStatus) -> NewPacket {
    NewPacket {
        guid: guid.into(),
        src_chain_id: 1,
        src_eid: 40101,
        dst_eid: 40102,
        sender: "0xaa".into(),
        receiver: "0xbb".into(),
        nonce,
        packet: "0x01".into(),
        src_tx_hash: "0xcc".into(),
        status,
        last_error: None,
    }
}

#[tokio::test]
async fn queues_packets_and_records_passes() {
    let dir = tempfile::tempdir().unwrap();
    packets_flow(open(&dir).await).await;
}

async fn packets_flow(store: ChainStore) {
    let guid = format!("{:#x}", h(0x42));
    store
        .commit_round(&round(
            1,
            9,
            vec![log(
                9,
                0,
                "PacketSent",
                h(0x42),
                json!({"encoded_packet": "0x01", "options": "0x"}),
            )],
        ))
        .await
        .unwrap();
    let unqueued = store.unqueued_packet_logs(10).await.unwrap();
    assert_eq!(unqueued.len(), 1);
    assert_eq!(unqueued[0].settlement_key, guid);
    assert_eq!(
        store.packet_sent_fields(1, &guid).await.unwrap().as_deref(),
        Some(r#"{"encoded_packet":"0x01","options":"0x"}"#)
    );
    store
        .insert_packet(&packet(&guid, 2, PacketStatus::Pending))
        .await
        .unwrap();
    store
        .insert_packet(&packet("0x02", 1, PacketStatus::Pending))
        .await
        .unwrap();
    store
        .insert_packet(&packet("0x03", 3, PacketStatus::Unreadable))
        .await
        .unwrap();
    // Queued once: the guid is not offered again, a second insert is a no-op.
    assert!(store.unqueued_packet_logs(10).await.unwrap().is_empty());
    store
        .insert_packet(&packet(&guid, 2, PacketStatus::Unreadable))
        .await
        .unwrap();
    let due = store.due_packets(i64::MAX, 10).await.unwrap();
    let order: Vec<&str> = due.iter().map(|d| d.guid.as_str()).collect();
    assert_eq!(
        order,
        ["0x02", guid.as_str()],
        "nonce order, unreadable ones left out"
    );
    assert_eq!(due[1].status, PacketStatus::Pending);

    store
        .set_packet_status(&guid, PacketStatus::Verified)
        .await
        .unwrap();
    store
        .record_failed_attempt(&guid, PacketStatus::Verified, 1, "boom", i64::MAX)
        .await
        .unwrap();
    assert_eq!(
        store.packet_status(&guid).await.unwrap(),
        Some((PacketStatus::Verified, 1, Some("boom".into())))
    );
    assert_eq!(
        store.due_packets(0, 10).await.unwrap().len(),
        0,
        "not due yet"
    );
    store
        .record_blocked("0x02", PacketStatus::Committed, "waiting", 0, 5)
        .await
        .unwrap();
    let first = store.list_packets(true, 10).await.unwrap();
    let blocked = first.iter().find(|p| p.guid == "0x02").unwrap();
    assert_eq!(
        (blocked.blocked_on_nonce, blocked.next_attempt_at),
        (Some(0), 5)
    );
    let since = blocked.blocked_since.unwrap();
    // Still waiting for the same nonce: the time it started waiting is kept.
    store
        .record_blocked("0x02", PacketStatus::Committed, "waiting", 0, 6)
        .await
        .unwrap();
    let again = store.list_packets(true, 10).await.unwrap();
    let blocked = again.iter().find(|p| p.guid == "0x02").unwrap();
    assert_eq!(blocked.blocked_since, Some(since));
    assert_eq!(
        store.packet_backlog(since + 1).await.unwrap(),
        PacketBacklog {
            undelivered: 2,
            blocked: 1
        }
    );
    assert_eq!(
        store.packet_backlog(0).await.unwrap(),
        PacketBacklog::default()
    );
    store
        .record_delivered(&guid, 2, Some(h(0x77)))
        .await
        .unwrap();
    assert_eq!(
        store.packet_status(&guid).await.unwrap(),
        Some((PacketStatus::Delivered, 2, None))
    );
    let counts = store.packet_counts().await.unwrap();
    assert_eq!(
        counts,
        [
            (PacketStatus::Pending, 0),
            (PacketStatus::Verified, 0),
            (PacketStatus::Committed, 1),
            (PacketStatus::Delivered, 1),
            (PacketStatus::Unreadable, 1),
        ]
    );
    store.replace_packet_bytes("0x02", "0x0203").await.unwrap();
    let due = store.due_packets(i64::MAX, 10).await.unwrap();
    assert_eq!(
        (due[0].packet.as_str(), due[0].status),
        ("0x0203", PacketStatus::Committed)
    );
}

#[tokio::test]
async fn joins_deferred_messages_with_later_sends() {
    let dir = tempfile::tempdir().unwrap();
    deferred_flow(open(&dir).await).await;
}

async fn deferred_flow(store: ChainStore) {
    let key = h(0x55);
    store
        .commit_round(&round(
            1,
            9,
            vec![
                log(2, 0, "MessageSent", key, json!({"kind": 2})),
                log(3, 0, "MessageDeferred", key, json!({"kind": 2})),
                log(4, 1, "MessageSent", key, json!({"kind": 3})),
            ],
        ))
        .await
        .unwrap();
    let rows = store.deferred_messages().await.unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!((rows[0].block_number, rows[0].log_index), (3, 0));
    assert_eq!(rows[0].sent.as_deref(), Some(r#"{"kind":3}"#));
    assert_eq!(rows[0].settlement_key, format!("{key:#x}"));
}

#[test]
fn packet_statuses_keep_their_stored_names() {
    let names: Vec<_> = PacketStatus::ALL.iter().map(|s| s.as_str()).collect();
    assert_eq!(
        names,
        [
            "pending",
            "verified",
            "committed",
            "delivered",
            "unreadable"
        ]
    );
    for s in PacketStatus::ALL {
        assert_eq!(PacketStatus::parse(s.as_str()), Some(s));
    }
    assert_eq!(PacketStatus::parse("PENDING"), None);
    assert!(PacketStatus::Committed.is_open() && !PacketStatus::Unreadable.is_open());
}
