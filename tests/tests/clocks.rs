//! One clock per chain, end to end: a chain whose clock has already passed the deadline
//! when the coordinator registers a settlement can never register it (`EscrowExpired`).
//! The registrar leaves that chain out, the keeper unwinds the chains that did register
//! (through the permissionless abort of a hub that only buffered the spoke's LOCKED, when
//! the late chain is the hub), and the settlement ends TIMED_OUT with every deposit home.
//!
//! Same harness as `e2e.rs`: each test runs its own devnet and `lockstep serve`.
#![allow(clippy::unwrap_used)]

use eyre::ensure;
use lockstep_e2e::{EscrowState, Submitted, Trade, World, WorldOptions};

/// Submits `t` and waits until `chain` registered it (the other chain is past the deadline,
/// so the settlement stays COMPLIANCE_CLEARED).
async fn registered_on_one_chain(w: &World, t: &Trade, chain: u64) -> eyre::Result<Submitted> {
    let s = w.submit(t).await?;
    w.wait_escrow(chain, &s, EscrowState::Open).await?;
    let state = w.state(&s.settlement_id).await?;
    ensure!(
        state == "COMPLIANCE_CLEARED",
        "registered on one chain only, yet {state}"
    );
    Ok(s)
}

/// The tail of the transitions must be exactly `tail`.
async fn ends_with(w: &World, s: &Submitted, tail: &[&str]) -> eyre::Result<()> {
    let tr = w.transitions(&s.settlement_id).await?;
    ensure!(
        tr.len() >= tail.len() && tr[tr.len() - tail.len()..] == *tail,
        "transitions {tr:?} do not end with {tail:?}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hub_past_the_deadline_at_registration_is_aborted_by_the_keeper() -> eyre::Result<()> {
    let w = World::start(WorldOptions::new("clock_hub")).await?;
    let mut t = w.cross_chain_trade("clock-hub");
    t.timeout_at = chrono::Utc::now() + chrono::Duration::minutes(10);
    let deadline = u64::try_from(t.timeout_at.timestamp())?;
    let (hub, spoke) = (t.asset_chain, t.cash_chain);
    // The hub's clock is already past the deadline: it can never register these terms.
    w.chain(hub)?.warp_to(deadline + 60).await?;
    let cash0 = w.chain(spoke)?.balance(t.cash, w.buyer.address).await?;
    let s = registered_on_one_chain(&w, &t, spoke).await?;
    let db = w.deposit_of(&w.buyer_platform, &s.settlement_id).await?;
    w.buyer.fund(&db).await?;
    w.wait_escrow(spoke, &s, EscrowState::Locked).await?;
    // Past the deadline on the spoke too. Nobody signs anything: the keeper aborts the
    // unregistered hub with the terms (it buffered the spoke's LOCKED), and the ABORT
    // returns the buyer's deposit on the spoke.
    w.chain(spoke)?.warp_to(deadline + 1).await?;
    w.wait_state(&s.settlement_id, "TIMED_OUT").await?;
    w.wait_escrow(hub, &s, EscrowState::Refunded).await?;
    w.wait_escrow(spoke, &s, EscrowState::Refunded).await?;
    assert_eq!(
        w.chain(spoke)?.balance(t.cash, w.buyer.address).await?,
        cash0,
        "the buyer's CASH is back"
    );
    // The abort of an unregistered hub emits `SettlementRefunded` only (never
    // `SettlementRegistered`), so the settlement never was AWAITING_DEPOSITS.
    ends_with(&w, &s, &["COMPLIANCE_CLEARED", "TIMED_OUT"]).await?;
    w.wait_webhook(&w.seller_platform, &s.settlement_id, "TIMED_OUT")
        .await?;
    w.wait_webhook(&w.buyer_platform, &s.settlement_id, "TIMED_OUT")
        .await?;
    w.check_webhooks(&s.settlement_id).await?;
    w.done();
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spoke_past_the_deadline_at_registration_times_out_from_compliance_cleared()
-> eyre::Result<()> {
    let w = World::start(WorldOptions::new("clock_spoke")).await?;
    let mut t = w.cross_chain_trade("clock-spoke");
    t.timeout_at = chrono::Utc::now() + chrono::Duration::minutes(10);
    let deadline = u64::try_from(t.timeout_at.timestamp())?;
    let (hub, spoke) = (t.asset_chain, t.cash_chain);
    w.chain(spoke)?.warp_to(deadline + 60).await?;
    w.chain(spoke)?.mine(2).await?;
    let bond0 = w.chain(hub)?.balance(t.asset, w.seller.address).await?;
    let s = registered_on_one_chain(&w, &t, hub).await?;
    let ds = w.deposit_of(&w.seller_platform, &s.settlement_id).await?;
    w.seller.fund(&ds).await?;
    assert_eq!(
        w.chain(hub)?.balance(t.asset, w.seller.address).await?,
        bond0 - t.quantity,
        "the deposit left the seller"
    );
    // Past the deadline on the hub: the keeper refunds it; the spoke never registered and
    // never will, so the settlement times out straight from COMPLIANCE_CLEARED.
    w.chain(hub)?.warp_to(deadline + 1).await?;
    w.wait_state(&s.settlement_id, "TIMED_OUT").await?;
    w.wait_escrow(hub, &s, EscrowState::Refunded).await?;
    assert_eq!(
        w.chain(hub)?.balance(t.asset, w.seller.address).await?,
        bond0,
        "the seller's BOND is back"
    );
    ends_with(&w, &s, &["COMPLIANCE_CLEARED", "TIMED_OUT"]).await?;
    w.wait_webhook(&w.seller_platform, &s.settlement_id, "TIMED_OUT")
        .await?;
    w.wait_webhook(&w.buyer_platform, &s.settlement_id, "TIMED_OUT")
        .await?;
    w.check_webhooks(&s.settlement_id).await?;
    w.done();
    Ok(())
}
