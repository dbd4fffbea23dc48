//! The transfer-eligibility seam (security.md R6) with a fake checker, on SQLite and
//! PostgreSQL: a refusal rolls the settlement back from `COMPLIANCE_CHECKING` with a cause
//! naming the leg, the token, the addresses and why (event trail, both platforms'
//! webhooks); a check that cannot run leaves it in `COMPLIANCE_CHECKING`, unattested, and
//! is retried; an allowed check clears as before.
#![allow(clippy::unwrap_used, missing_docs, unreachable_pub)]

mod common;

use alloy::primitives::Address;
use common::*;
use lockstep_bindings::ISettlementEscrow::Terms;
use lockstep_coordinator::settlements::EventView;
use lockstep_core::{EligibilityError, Refusal, TransferEligibility};
use serde_json::{Value, json};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

both_backends!(refusal_rolls_back_and_outage_retries);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Fail,
    Refuse,
    Allow,
}

/// Stands in for the chain side's check.
struct FakeCheck {
    mode: Mutex<Mode>,
    calls: AtomicUsize,
}

#[async_trait::async_trait]
impl TransferEligibility for FakeCheck {
    async fn check(&self, terms: &Terms) -> Result<Vec<Refusal>, EligibilityError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let mode = *self.mode.lock().unwrap();
        match mode {
            Mode::Fail => Err(EligibilityError {
                message: "rpc down".into(),
            }),
            Mode::Allow => Ok(Vec::new()),
            Mode::Refuse => {
                let leg = &terms.legs[0];
                Ok(vec![Refusal {
                    leg_index: 0,
                    token: leg.token,
                    symbol: Some("SEC".into()),
                    from: Address::repeat_byte(0xe5),
                    to: leg.recipient,
                    reason: format!(
                        "recipient {} is not verified (isVerified false), canTransfer false",
                        leg.recipient
                    ),
                }])
            }
        }
    }
}

fn bodies(got: &Received) -> Vec<Value> {
    got.lock()
        .unwrap()
        .iter()
        .map(|(_, b)| serde_json::from_str(b).unwrap())
        .collect()
}

async fn refusal_rolls_back_and_outage_retries(backend: Backend) {
    let Some(mut env) = Env::start(backend, |_, _| {}).await else {
        return;
    };
    let check = Arc::new(FakeCheck {
        mode: Mutex::new(Mode::Fail),
        calls: AtomicUsize::new(0),
    });
    env.eligibility = Some(check.clone());
    env.restart().await;
    let (_, a) = env.platform("Alpha").await;
    let (_, b) = env.platform("Beta").await;
    let (url_a, got_a) = receiver(0).await;
    let (url_b, got_b) = receiver(0).await;
    env.post(&a, "/v1/webhook-endpoints", &json!({"url": url_a}))
        .await;
    env.post(&b, "/v1/webhook-endpoints", &json!({"url": url_b}))
        .await;

    // The check cannot run: retried, nothing cleared nor rolled back.
    let (sid, _) = matched_pair(&env, &a, &b, "elig", |_| {}).await;
    wait_for(
        || check.calls.load(Ordering::SeqCst) >= 2,
        "a retried eligibility check",
    )
    .await;
    let v = env.wait_state(&a, &sid, "COMPLIANCE_CHECKING").await;
    assert!(v["terms"].is_null(), "{v:#}");
    assert!(
        v["attestations"].is_null() || v["attestations"] == json!([]),
        "{v:#}"
    );

    // The token refuses: ROLLED_BACK with the reason, both platforms told.
    *check.mode.lock().unwrap() = Mode::Refuse;
    env.wait_state(&b, &sid, "ROLLED_BACK").await;
    let (_, ev) = env.get(&a, &format!("/v1/settlements/{sid}/events")).await;
    let events: Vec<EventView> = serde_json::from_value(ev["items"].clone()).unwrap();
    let last = events.last().unwrap();
    assert_eq!(last.to_state.as_str(), "ROLLED_BACK");
    assert_eq!(
        last.from_state.map(|s| s.as_str()),
        Some("COMPLIANCE_CHECKING")
    );
    let recipient = BUYER_WALLET.parse::<Address>().unwrap().to_string();
    for needle in [
        "leg 0",
        "SEC",
        &recipient,
        "isVerified false",
        "canTransfer false",
    ] {
        assert!(
            last.cause.contains(needle),
            "{needle} not in {}",
            last.cause
        );
    }
    for got in [&got_a, &got_b] {
        wait_for(
            || {
                let events = events_of(got);
                events.contains(&"settlement.state.rolled_back".to_string())
                    && events.contains(&"settlement.compliance.failed".to_string())
            },
            "the roll-back webhooks",
        )
        .await;
        let failed = bodies(got)
            .into_iter()
            .find(|b| b["event"] == "settlement.compliance.failed")
            .unwrap();
        assert_eq!(failed["data"]["detail"].as_str().unwrap(), last.cause);
        assert_eq!(failed["data"]["settlement_id"], sid.as_str());
    }

    // Allowed: clears as before.
    *check.mode.lock().unwrap() = Mode::Allow;
    let (sid2, _) = matched_pair(&env, &a, &b, "elig2", |_| {}).await;
    env.wait_state(&a, &sid2, "COMPLIANCE_CLEARED").await;
    env.stop().await;
}
