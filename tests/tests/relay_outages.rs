//! Packets are never abandoned (issue 12): right after the hub executed, the RELEASE to
//! chain B cannot be delivered, for longer than the old retry budget (20 attempts, after
//! which the old relayer marked the packet `failed` for good and the settlement stayed
//! EXECUTING_SWAP): chain B's RPC unreachable, or the relayer key's gas balance on chain B
//! emptied. Once the fault is over, the settlement finalizes on both chains with every
//! webhook once. The relayer's retry backoff is shortened (`relay_retry_base_ms` /
//! `relay_retry_cap_ms`) so twenty attempts take seconds instead of minutes.
#![allow(clippy::unwrap_used)]

use alloy::primitives::U256;
use alloy::providers::Provider;
use alloy::providers::ext::AnvilApi;
use eyre::ensure;
use lockstep_e2e::proxy::ProxyMode;
use lockstep_e2e::steps::to_awaiting_deposits;
use lockstep_e2e::{DepositInstruction, EscrowState, Submitted, Trade, World, WorldOptions};
use std::time::{Duration, Instant};

/// The old relayer gave a packet up after this many attempts.
const OLD_RETRY_BUDGET: u64 = 20;
/// The relayer's log line for a failed delivery pass (with its `attempts`).
const ATTEMPT_FAILED: &str = "packet delivery attempt failed; retrying";

/// Options with the relayer retrying after 50 ms doubling to 250 ms.
fn fast_retries(name: &str) -> WorldOptions {
    let mut opts = WorldOptions::new(name);
    opts.settings.relay_retry_ms = Some((50, 250));
    opts
}

/// Funds the spoke (chain B) and waits until its LOCKED reached the hub; returns the
/// settlement and the hub's deposit, not made yet.
async fn spoke_locked(w: &World, t: &Trade) -> eyre::Result<(Submitted, DepositInstruction)> {
    let (s, ds, db) = to_awaiting_deposits(w, t).await?;
    w.buyer.fund(&db).await?;
    let hub = w.chain(t.asset_chain)?;
    let until = Instant::now() + Duration::from_secs(60);
    while hub.settlement_of(s.onchain_id).await?.locked_mask == 0 {
        ensure!(
            Instant::now() < until,
            "the spoke's LOCKED never reached the hub\n{}",
            w.context(Some(&s.settlement_id)).await
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    w.seller.approve(&ds).await?;
    Ok((s, ds))
}

/// Waits until the relayer logged more than [`OLD_RETRY_BUDGET`] failed passes of a
/// packet, checking meanwhile that the settlement stays EXECUTING_SWAP with the spoke
/// LOCKED; returns the last logged error's count.
async fn past_the_old_budget(w: &World, t: &Trade, s: &Submitted) -> eyre::Result<u64> {
    w.wait_state(&s.settlement_id, "EXECUTING_SWAP").await?;
    let until = Instant::now() + Duration::from_secs(120);
    loop {
        let spoke = w.chain(t.cash_chain)?.settlement_of(s.onchain_id).await?;
        ensure!(
            spoke.state == EscrowState::Locked,
            "spoke {spoke:?} during the fault"
        );
        let state = w.state(&s.settlement_id).await?;
        ensure!(
            state == "EXECUTING_SWAP",
            "settlement {state} during the fault"
        );
        if let Some(n) = w.coordinator.max_logged(ATTEMPT_FAILED, "attempts")?
            && n > OLD_RETRY_BUDGET
        {
            return Ok(n);
        }
        ensure!(
            Instant::now() < until,
            "not {OLD_RETRY_BUDGET} failed attempts after 120 s\n{}",
            w.context(Some(&s.settlement_id)).await
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// After the fault: FINALIZED, both escrows EXECUTED, every webhook once. Returns how long
/// FINALIZED took from the end of the fault.
async fn finalizes_once(w: &World, t: &Trade, s: &Submitted) -> eyre::Result<Duration> {
    let back = Instant::now();
    w.wait_state(&s.settlement_id, "FINALIZED").await?;
    let took = back.elapsed();
    for c in [t.asset_chain, t.cash_chain] {
        w.wait_escrow(c, s, EscrowState::Executed).await?;
    }
    for p in [&w.seller_platform, &w.buyer_platform] {
        w.wait_webhook(p, &s.settlement_id, "FINALIZED").await?;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    w.check_webhooks(&s.settlement_id).await?;
    let tr = w.transitions(&s.settlement_id).await?;
    ensure!(
        tr.ends_with(&[
            "AWAITING_DEPOSITS".to_string(),
            "EXECUTING_SWAP".to_string(),
            "FINALIZED".to_string()
        ]),
        "transitions {tr:?}"
    );
    Ok(took)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chain_b_unreachable_past_the_old_retry_budget_then_back_finalizes() -> eyre::Result<()> {
    let started = Instant::now();
    let mut opts = fast_retries("b-long-outage");
    opts.proxy_b = Some(ProxyMode::Up);
    let mut w = World::start(opts).await?;
    let t = w.cross_chain_trade("b-long-outage");
    let (s, ds) = spoke_locked(&w, &t).await?;
    // Chain B's RPC goes away as the hub executes (cut just before the hub's completing
    // deposit, so the RELEASE cannot slip through before the cut).
    w.proxy_b.as_mut().unwrap().set(ProxyMode::Down).await?;
    w.seller.deposit(&ds).await?;
    w.wait_escrow(t.asset_chain, &s, EscrowState::Executed)
        .await?;
    let attempts = past_the_old_budget(&w, &t, &s).await?;
    eprintln!("chain B down: {attempts} failed delivery attempts of the RELEASE");
    w.proxy_b.as_mut().unwrap().set(ProxyMode::Up).await?;
    let took = finalizes_once(&w, &t, &s).await?;
    eprintln!(
        "FINALIZED {took:?} after chain B came back; scenario took {:?}",
        started.elapsed()
    );
    w.done();
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relayer_out_of_gas_on_chain_b_past_the_old_retry_budget_then_refilled_delivers()
-> eyre::Result<()> {
    let started = Instant::now();
    let mut opts = fast_retries("relayer-no-gas");
    let minimum = 1_000_000_000_000_000_000u64;
    opts.settings.min_relayer_balance_wei = Some(minimum);
    let w = World::start(opts).await?;
    let t = w.cross_chain_trade("relayer-no-gas");
    let relayer = w.devnet.info.accounts.relayer.address;
    let b = &w.chain_b;
    let funded = b.provider.get_balance(relayer).await?;
    ensure!(funded > U256::from(minimum), "relayer starts with {funded}");
    let (s, ds) = spoke_locked(&w, &t).await?;
    // The relayer key's balance on chain B is emptied as the hub executes.
    b.provider.anvil_set_balance(relayer, U256::ZERO).await?;
    w.seller.deposit(&ds).await?;
    w.wait_escrow(t.asset_chain, &s, EscrowState::Executed)
        .await?;
    let attempts = past_the_old_budget(&w, &t, &s).await?;
    eprintln!("relayer without gas: {attempts} failed delivery attempts of the RELEASE");
    let low = format!(
        "lockstep_relayer_balance_below_minimum{{chain_id=\"{}\"}} 1\n",
        b.info.chain_id
    );
    let until = Instant::now() + Duration::from_secs(60);
    loop {
        let metrics = w.coordinator.metrics().await?;
        if metrics.contains(&low) {
            break;
        }
        ensure!(Instant::now() < until, "no {low} in /metrics:\n{metrics}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    ensure!(
        w.chain(t.cash_chain)?
            .settlement_of(s.onchain_id)
            .await?
            .state
            == EscrowState::Locked,
        "delivered without gas"
    );
    b.provider.anvil_set_balance(relayer, funded).await?;
    let took = finalizes_once(&w, &t, &s).await?;
    eprintln!(
        "FINALIZED {took:?} after the refill; scenario took {:?}",
        started.elapsed()
    );
    w.done();
    Ok(())
}
