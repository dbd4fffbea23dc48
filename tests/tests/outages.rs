//! Lockstep end to end under chain outages (issue 12): the coordinator started while chain
//! B's RPC refuses connections serves the API at once and picks chain B up when it comes
//! back; chain B's RPC hanging (accepting, never answering) does not delay a refund due on
//! chain A. Chain B's RPC sits behind a loopback proxy the test cuts, hangs and restores.
#![allow(clippy::unwrap_used)]

use lockstep_e2e::proxy::ProxyMode;
use lockstep_e2e::steps::to_awaiting_deposits;
use lockstep_e2e::{EscrowState, World, WorldOptions};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn coordinator_started_with_chain_b_down_serves_and_picks_b_up() -> eyre::Result<()> {
    let mut opts = WorldOptions::new("b-down-at-start");
    opts.proxy_b = Some(ProxyMode::Down);
    // World::start waits for /healthz and creates both platforms through the API: the API is
    // up with chain B refusing connections.
    let mut w = World::start(opts).await?;
    let log = std::fs::read_to_string(&w.coordinator.log)?;
    assert!(
        log.contains("chain unreachable at start; picked up when it answers"),
        "no warning about chain B in the log:\n{}",
        w.coordinator.log_tail(40)
    );
    assert!(w.coordinator.is_running(), "lockstep serve exited");
    tokio::time::sleep(Duration::from_secs(3)).await;
    w.proxy_b.as_mut().unwrap().set(ProxyMode::Up).await?;

    // Chain B back: a cross-chain settlement runs to FINALIZED on both chains.
    let t = w.cross_chain_trade("b-down-at-start");
    let (s, ds, db) = to_awaiting_deposits(&w, &t).await?;
    w.seller.fund(&ds).await?;
    w.buyer.fund(&db).await?;
    w.wait_state(&s.settlement_id, "FINALIZED").await?;
    for c in [t.asset_chain, t.cash_chain] {
        w.wait_escrow(c, &s, EscrowState::Executed).await?;
    }
    w.wait_webhook(&w.seller_platform, &s.settlement_id, "FINALIZED")
        .await?;
    w.wait_webhook(&w.buyer_platform, &s.settlement_id, "FINALIZED")
        .await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    w.check_webhooks(&s.settlement_id).await?;
    w.done();
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_chain_b_does_not_delay_a_refund_due_on_chain_a() -> eyre::Result<()> {
    let mut opts = WorldOptions::new("b-hangs");
    opts.proxy_b = Some(ProxyMode::Up);
    // Longer than the refund is allowed to take: only per-chain work passes this test.
    opts.settings.rpc_timeout_ms = Some(20_000);
    let mut w = World::start(opts).await?;
    let deadline = chrono::Utc::now() + chrono::Duration::minutes(10);
    // A cross-chain settlement (the keeper looks at chain B for it) and one on chain A only.
    let mut x = w.cross_chain_trade("b-hangs-x");
    x.timeout_at = deadline;
    let (_sx, _, _) = to_awaiting_deposits(&w, &x).await?;
    let mut y = w.single_chain_trade("b-hangs-y").await?;
    y.timeout_at = deadline;
    let (sy, dys, _) = to_awaiting_deposits(&w, &y).await?;
    w.seller.fund(&dys).await?;
    w.wait_escrow(w.chain_a.info.chain_id, &sy, EscrowState::Open)
        .await?;

    // Chain B's RPC accepts connections and never answers; then chain A passes the deadline.
    w.proxy_b.as_mut().unwrap().set(ProxyMode::Hang).await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let timeout_at = w.timeout_at(&sy.settlement_id).await?;
    w.chain_a.warp_to(timeout_at + 1).await?;
    let warped = std::time::Instant::now();
    w.wait_escrow(w.chain_a.info.chain_id, &sy, EscrowState::Refunded)
        .await?;
    let took = warped.elapsed();
    eprintln!("refund on chain A {took:?} after its deadline, chain B hung");
    assert!(
        took < Duration::from_secs(8),
        "refund on chain A took {took:?} with chain B hung"
    );
    w.wait_state(&sy.settlement_id, "TIMED_OUT").await?;
    w.proxy_b.as_mut().unwrap().set(ProxyMode::Up).await?;
    w.done();
    Ok(())
}
