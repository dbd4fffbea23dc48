//! The reconciler driven by an in-memory `Ledger` over logs in a temporary chain store.
#![allow(clippy::unwrap_used)]

use super::*;
use crate::store::{BlockRow, Cursor, IndexedRound, NewLog};
use alloy::primitives::{Address, U256};
use async_trait::async_trait;
use lockstep_bindings::ISettlementEscrow::{Leg, Terms};
use lockstep_core::{Db, DecisionRecord};
use lockstep_evidence::dvp::DvpDecisionInput;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Mutex;

/// The coordinator's side of the port, in memory.
#[derive(Default)]
struct FakeLedger {
    rows: Mutex<BTreeMap<String, ChainSettlement>>,
    moves: Mutex<Vec<(S, S, String)>>,
    bundles: Mutex<BTreeMap<String, Value>>,
    /// Answer the next `apply_transition` with `Concurrent` after moving the settlement
    /// (another writer got there first).
    race_next: Mutex<bool>,
    /// The owed legs recorded, by settlement.
    owed: Mutex<Vec<(String, lockstep_core::OwedLeg)>>,
}

impl FakeLedger {
    fn state(&self, id: &str) -> S {
        self.rows.lock().unwrap()[id].state
    }
}

#[async_trait]
impl Ledger for FakeLedger {
    async fn live_settlements(&self) -> Result<Vec<ChainSettlement>, LedgerError> {
        Ok(self
            .rows
            .lock()
            .unwrap()
            .values()
            .filter(|s| {
                matches!(
                    s.state,
                    S::ComplianceCleared | S::AwaitingDeposits | S::ExecutingSwap
                ) || (s.state.is_terminal() && !s.has_bundle)
            })
            .cloned()
            .collect())
    }

    async fn settlement(&self, id: &str) -> Result<Option<ChainSettlement>, LedgerError> {
        Ok(self.rows.lock().unwrap().get(id).cloned())
    }

    async fn find_by_onchain_id(
        &self,
        onchain_id: B256,
    ) -> Result<Option<ChainSettlement>, LedgerError> {
        Ok(self
            .rows
            .lock()
            .unwrap()
            .values()
            .find(|s| s.onchain_id == onchain_id)
            .cloned())
    }

    async fn apply_transition(&self, id: &str, to: S, cause: &str) -> Result<(), LedgerError> {
        let mut rows = self.rows.lock().unwrap();
        let s = rows
            .get_mut(id)
            .ok_or_else(|| LedgerError::NotFound(id.into()))?;
        if !s.state.can_transition_to(to) {
            return Err(LedgerError::IllegalTransition {
                settlement_id: id.into(),
                from: s.state,
                to,
            });
        }
        let from = s.state;
        s.state = to;
        self.moves.lock().unwrap().push((from, to, cause.into()));
        if std::mem::take(&mut *self.race_next.lock().unwrap()) {
            return Err(LedgerError::Concurrent {
                settlement_id: id.into(),
                expected: from,
            });
        }
        Ok(())
    }

    async fn record_owed(
        &self,
        id: &str,
        owed: &lockstep_core::OwedLeg,
    ) -> Result<bool, LedgerError> {
        let mut all = self.owed.lock().unwrap();
        let seen = all
            .iter()
            .any(|(i, o)| i == id && o.chain_id == owed.chain_id && o.leg_index == owed.leg_index);
        if !seen {
            all.push((id.into(), owed.clone()));
        }
        Ok(!seen)
    }

    async fn store_bundle(&self, id: &str, bundle: &Value) -> Result<bool, LedgerError> {
        let mut rows = self.rows.lock().unwrap();
        let s = rows
            .get_mut(id)
            .ok_or_else(|| LedgerError::NotFound(id.into()))?;
        if s.has_bundle {
            return Ok(false);
        }
        s.has_bundle = true;
        self.bundles
            .lock()
            .unwrap()
            .insert(id.into(), bundle.clone());
        Ok(true)
    }
}

const ESCROW_1: Address = Address::repeat_byte(0xe1);
const ESCROW_2: Address = Address::repeat_byte(0xe2);

fn configs() -> Arc<[ChainConfig]> {
    vec![
        ChainConfig::new(1, 40101, ESCROW_1),
        ChainConfig::new(2, 40102, ESCROW_2),
    ]
    .into()
}

fn decision() -> DecisionRecord {
    let party = |p: &str, role: &str, instrument: &str| {
        json!({
            "platform": p, "external_reference": format!("ref-{p}"), "role": role,
            "wallet": "0x00000000000000000000000000000000000000d1",
            "delivers": {"quantity": "100", "instrument": instrument},
            "created_at_ms": 1_000, "timeout_at_ms": 2_000
        })
    };
    let input = DvpDecisionInput::from_json(
        "$",
        &json!({
            "parties": [party("alpha", "seller", "eip155:1/erc20:0xa"), party("beta", "buyer", "eip155:2/erc20:0xb")],
            "terms": {"trade": "t-1"},
            "policy": {"template": "dvp"},
            "verdict": "ALLOW"
        }),
    )
    .unwrap();
    DecisionRecord {
        input,
        decided_at_ms: 1_500,
    }
}

fn settlement() -> ChainSettlement {
    let onchain_id = lockstep_core::onchain_settlement_id("t-1");
    let leg = |eid| Leg {
        eid,
        token: Address::repeat_byte(0x70),
        amount: U256::from(100u64),
        depositor: Address::repeat_byte(0xd1),
        depositKey: Address::ZERO,
        recipient: Address::repeat_byte(0xd2),
    };
    ChainSettlement {
        id: "stl_1".into(),
        trade_reference: "t-1".into(),
        onchain_id,
        state: S::ComplianceCleared,
        terms: Terms {
            settlementId: onchain_id,
            hubEid: 40101,
            timeoutAt: 2,
            decisionRef: B256::ZERO,
            legs: vec![leg(40101), leg(40102)],
        },
        terms_hash: B256::repeat_byte(0x11),
        decision: Some(decision()),
        has_bundle: false,
    }
}

fn th() -> String {
    format!("{:#x}", B256::repeat_byte(0x11))
}

/// Stores `events` (chain, block, log index, event, fields) emitted by `escrow` of the
/// settlement `t-1`.
async fn store_logs(
    store: &ChainStore,
    events: &[(u64, u64, u64, &str, Value)],
    escrow: Option<Address>,
) {
    for (chain, block, index, event, fields) in events {
        let hash = B256::with_last_byte(*block as u8);
        store
            .commit_round(&IndexedRound {
                chain_id: *chain,
                blocks: vec![BlockRow {
                    number: *block,
                    hash,
                    timestamp: 1_700_000_000 + block,
                }],
                logs: vec![NewLog {
                    block_number: *block,
                    log_index: *index,
                    block_hash: hash,
                    block_timestamp: 1_700_000_000 + block,
                    tx_hash: B256::with_last_byte(0x80 + *block as u8),
                    address: escrow.unwrap_or(if *chain == 1 { ESCROW_1 } else { ESCROW_2 }),
                    event: (*event).into(),
                    key: lockstep_core::onchain_settlement_id("t-1"),
                    fields: fields.clone(),
                }],
                cursor: Cursor {
                    block_number: *block,
                    block_hash: hash,
                },
                prune_below: 0,
            })
            .await
            .unwrap();
    }
}

async fn setup() -> (tempfile::TempDir, Reconciler, Arc<FakeLedger>) {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::connect(&lockstep_core::db::sqlite_url_for(dir.path()))
        .await
        .unwrap();
    let store = ChainStore::open(db).await.unwrap();
    let ledger = Arc::new(FakeLedger::default());
    ledger
        .rows
        .lock()
        .unwrap()
        .insert("stl_1".into(), settlement());
    let r = Reconciler {
        chains: configs(),
        store,
        ledger: ledger.clone(),
    };
    (dir, r, ledger)
}

#[tokio::test]
async fn walks_a_settlement_to_finalized_and_stores_its_bundle_once() {
    let (_dir, r, ledger) = setup().await;
    store_logs(
        &r.store,
        &[(1, 1, 0, "SettlementRegistered", json!({"termsHash": th()}))],
        None,
    )
    .await;
    r.reconcile_all().await.unwrap();
    assert_eq!(
        ledger.state("stl_1"),
        S::ComplianceCleared,
        "one chain is not enough"
    );
    store_logs(
        &r.store,
        &[
            (2, 1, 0, "SettlementRegistered", json!({"termsHash": th()})),
            (1, 2, 0, "LegDeposited", json!({"legIndex": "0"})),
            (2, 2, 0, "LegDeposited", json!({"legIndex": "1"})),
            (1, 3, 0, "SettlementExecuted", json!({"termsHash": th()})),
            (1, 3, 1, "LegReleased", json!({"legIndex": "0"})),
            (2, 4, 0, "SettlementExecuted", json!({"termsHash": th()})),
            (2, 4, 1, "LegReleased", json!({"legIndex": "1"})),
        ],
        None,
    )
    .await;
    r.reconcile_all().await.unwrap();
    let moves: Vec<(S, S)> = ledger
        .moves
        .lock()
        .unwrap()
        .iter()
        .map(|m| (m.0, m.1))
        .collect();
    assert_eq!(
        moves,
        [
            (S::ComplianceCleared, S::AwaitingDeposits),
            (S::AwaitingDeposits, S::ExecutingSwap),
            (S::ExecutingSwap, S::Finalized),
        ]
    );
    let causes: Vec<String> = ledger
        .moves
        .lock()
        .unwrap()
        .iter()
        .map(|m| m.2.clone())
        .collect();
    assert!(
        causes[0].starts_with("registered: SettlementRegistered on chain 1 (block 1"),
        "{}",
        causes[0]
    );
    assert!(causes[2].starts_with("swap executed: "), "{}", causes[2]);
    let bundle = ledger.bundles.lock().unwrap()["stl_1"].clone();
    let legs = bundle
        .pointer("/facts/legs")
        .and_then(Value::as_array)
        .unwrap();
    assert_eq!(legs.len(), 2);
    assert_eq!(legs[1]["anchor"]["escrow"], format!("{ESCROW_2:#x}"));
    assert_eq!(legs[1]["anchor"]["event"], "LegReleased");
    assert_eq!(legs[1]["anchor"]["log_index"], 1);
    // Nothing more to do: a repeated round moves nothing and stores no second bundle.
    r.reconcile_all().await.unwrap();
    assert_eq!(ledger.moves.lock().unwrap().len(), 3);
    assert_eq!(ledger.bundles.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn ignores_logs_of_other_escrows_and_other_terms() {
    let (_dir, r, ledger) = setup().await;
    store_logs(
        &r.store,
        &[(1, 1, 0, "SettlementRegistered", json!({"termsHash": th()}))],
        Some(Address::repeat_byte(0x99)),
    )
    .await;
    store_logs(
        &r.store,
        &[
            (2, 1, 0, "SettlementRegistered", json!({"termsHash": th()})),
            (
                1,
                2,
                0,
                "SettlementRegistered",
                json!({"termsHash": format!("{:#x}", B256::repeat_byte(0x22))}),
            ),
        ],
        None,
    )
    .await;
    r.reconcile_all().await.unwrap();
    assert_eq!(ledger.state("stl_1"), S::ComplianceCleared);
    assert!(ledger.moves.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_concurrent_move_is_not_an_error_and_the_walk_goes_on() {
    let (_dir, r, ledger) = setup().await;
    *ledger.race_next.lock().unwrap() = true;
    store_logs(
        &r.store,
        &[
            (1, 1, 0, "SettlementRegistered", json!({"termsHash": th()})),
            (2, 1, 0, "SettlementRegistered", json!({"termsHash": th()})),
            (1, 2, 0, "LegDeposited", json!({"legIndex": "0"})),
            (1, 5, 0, "SettlementRefunded", json!({"termsHash": th()})),
            (1, 5, 1, "LegRefunded", json!({"legIndex": "0"})),
            (2, 5, 0, "SettlementRefunded", json!({"termsHash": th()})),
        ],
        None,
    )
    .await;
    let s = ledger.settlement("stl_1").await.unwrap().unwrap();
    r.reconcile_one(s).await.unwrap();
    assert_eq!(ledger.state("stl_1"), S::TimedOut);
    let bundle = ledger.bundles.lock().unwrap()["stl_1"].clone();
    let legs = bundle
        .pointer("/facts/legs")
        .and_then(Value::as_array)
        .unwrap();
    assert_eq!(legs.len(), 1, "only the deposited leg has a receipt");
    assert_eq!(legs[0]["outcome"], "REVERSED");
}

#[tokio::test]
async fn a_leg_on_an_unconfigured_chain_is_an_error_and_a_missing_decision_too() {
    let (_dir, mut r, ledger) = setup().await;
    r.chains = vec![ChainConfig::new(1, 40101, ESCROW_1)].into();
    let s = ledger.settlement("stl_1").await.unwrap().unwrap();
    assert!(matches!(r.legs_at(&s), Err(ChainError::Config(_))));
    let mut s = settlement();
    s.decision = None;
    s.state = S::Finalized;
    let at = LegChains::default();
    assert!(matches!(
        bundle_for(&s, &at, &[]),
        Err(ChainError::Missing {
            what: "decision evidence",
            ..
        })
    ));
}

#[tokio::test]
async fn an_owed_leg_is_recorded_once_and_anchors_the_bundle() {
    let (_dir, r, ledger) = setup().await;
    let owed = json!({
        "legIndex": "1",
        "beneficiary": format!("{:#x}", Address::repeat_byte(0xd2)),
        "token": format!("{:#x}", Address::repeat_byte(0x70)),
        "amount": "100",
        "refund": false
    });
    store_logs(
        &r.store,
        &[
            (1, 1, 0, "SettlementRegistered", json!({"termsHash": th()})),
            (2, 1, 0, "SettlementRegistered", json!({"termsHash": th()})),
            (1, 2, 0, "LegDeposited", json!({"legIndex": "0"})),
            (2, 2, 0, "LegDeposited", json!({"legIndex": "1"})),
            (1, 3, 0, "SettlementExecuted", json!({"termsHash": th()})),
            (1, 3, 1, "LegReleased", json!({"legIndex": "0"})),
            (2, 4, 0, "SettlementExecuted", json!({"termsHash": th()})),
            (2, 4, 1, "LegOwed", owed),
        ],
        None,
    )
    .await;
    r.reconcile_all().await.unwrap();
    assert_eq!(ledger.state("stl_1"), S::Finalized);
    r.reconcile_all().await.unwrap();
    let recorded = ledger.owed.lock().unwrap().clone();
    assert_eq!(recorded.len(), 1, "{recorded:?}");
    let (id, o) = &recorded[0];
    assert_eq!(id, "stl_1");
    assert_eq!((o.chain_id, o.leg_index, o.refund), (2, 1, false));
    assert_eq!(o.beneficiary, Address::repeat_byte(0xd2));
    assert_eq!(o.escrow, ESCROW_2);
    assert_eq!(o.amount, U256::from(100u64));
    let bundle = ledger.bundles.lock().unwrap()["stl_1"].clone();
    let legs = bundle
        .pointer("/facts/legs")
        .and_then(Value::as_array)
        .unwrap();
    assert_eq!(legs.len(), 2);
    assert_eq!(legs[1]["anchor"]["event"], "LegOwed");
    assert_eq!(
        legs[1]["outcome"], legs[0]["outcome"],
        "owed on release = COMMITTED"
    );
}
