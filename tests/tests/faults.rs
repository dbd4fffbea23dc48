//! Lockstep end to end under faults: the coordinator SIGKILLed mid-settlement, reorgs
//! before and after the indexer saw a deposit, and two coordinators on one PostgreSQL
//! database handing the chain side over. Same harness as `e2e.rs`.
#![allow(clippy::unwrap_used)]

use eyre::ensure;
use lockstep_bindings::ISettlementEscrow;
use lockstep_e2e::process::CoordinatorSettings;
use lockstep_e2e::steps::{balances, to_awaiting_deposits};
use lockstep_e2e::{EscrowState, World, WorldOptions};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn coordinator_killed_mid_settlement_finishes_exactly_once() -> eyre::Result<()> {
    let mut w = World::start(WorldOptions::new("kill")).await?;
    let t = w.cross_chain_trade("kill");
    let from = w.start_blocks;
    let bond0 = balances(&w, t.asset_chain, t.asset).await?;
    let cash0 = balances(&w, t.cash_chain, t.cash).await?;
    let (s, ds, db) = to_awaiting_deposits(&w, &t).await?;
    w.seller.fund(&ds).await?;
    // Let the indexer see the first deposit, then SIGKILL: no graceful shutdown.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    w.coordinator.kill()?;
    w.buyer.fund(&db).await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    w.coordinator.start().await?;
    w.wait_state(&s.settlement_id, "FINALIZED").await?;
    w.wait_webhook(&w.seller_platform, &s.settlement_id, "FINALIZED")
        .await?;
    w.wait_webhook(&w.buyer_platform, &s.settlement_id, "FINALIZED")
        .await?;
    w.wait_escrow(t.cash_chain, &s, EscrowState::Executed)
        .await?;
    // Give a duplicate a chance to show up before counting.
    tokio::time::sleep(Duration::from_secs(3)).await;
    w.check_webhooks(&s.settlement_id).await?;
    let tr = w.transitions(&s.settlement_id).await?;
    let mut dedup = tr.clone();
    dedup.dedup();
    assert_eq!(tr, dedup, "a transition applied twice");

    // On chain: registered once per chain, executed once, every leg paid once.
    for (c, start) in [(&w.chain_a, from.0), (&w.chain_b, from.1)] {
        let id = s.onchain_id;
        let reg = c
            .events::<ISettlementEscrow::SettlementRegistered>(id, start)
            .await?;
        assert_eq!(reg.len(), 1, "registrations on chain {}", c.info.chain_id);
        let rel = c
            .events::<ISettlementEscrow::LegReleased>(id, start)
            .await?;
        assert_eq!(rel.len(), 1, "payouts on chain {}", c.info.chain_id);
        let recv = c
            .events::<ISettlementEscrow::MessageReceived>(id, start)
            .await?;
        assert_eq!(recv.len(), 1, "deliveries on chain {}", c.info.chain_id);
    }
    let exec = w
        .chain_a
        .events::<ISettlementEscrow::SettlementExecuted>(s.onchain_id, from.0)
        .await?;
    assert_eq!(exec.len(), 1);
    let bond1 = balances(&w, t.asset_chain, t.asset).await?;
    let cash1 = balances(&w, t.cash_chain, t.cash).await?;
    assert_eq!(bond1, (bond0.0 - t.quantity, bond0.1 + t.quantity));
    assert_eq!(cash1, (cash0.0 + t.price, cash0.1 - t.price));
    w.done();
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reorg_dropping_a_deposit_block_keeps_state_and_webhooks_right() -> eyre::Result<()> {
    let mut opts = WorldOptions::new("reorg");
    opts.settings = CoordinatorSettings {
        confirmations: 4,
        ..CoordinatorSettings::default()
    };
    let w = World::start(opts).await?;
    let t = w.single_chain_trade("reorg").await?;
    let a = &w.chain_a;
    let (s, ds, db) = to_awaiting_deposits(&w, &t).await?;
    // Blocks only on demand from here: the test decides what gets confirmed.
    a.manual_blocks().await?;
    w.seller.fund(&ds).await?;
    a.mine(6).await?;
    w.buyer.approve(&db).await?;
    let cash_before = a.balance(t.cash, w.buyer.address).await?;
    let (head_before, _) = a.head().await?;
    // The completing deposit swaps in its own block...
    let r = w.buyer.deposit(&db).await?;
    assert_eq!(r.block_number, Some(head_before + 1));
    assert_eq!(
        a.settlement_of(s.onchain_id).await?.state,
        EscrowState::Executed
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    // ...which a reorg drops before it has 4 confirmations.
    a.rollback(1).await?;
    assert_eq!(a.head().await?.0, head_before);
    let on = a.settlement_of(s.onchain_id).await?;
    assert_eq!(
        (on.state, on.deposited_mask),
        (EscrowState::Open, 1 << ds.leg_index),
        "after the reorg only the seller's deposit is in"
    );
    assert_eq!(a.balance(t.cash, w.buyer.address).await?, cash_before);
    // The replacement blocks get confirmed; the dropped swap must leave no trace.
    a.mine(8).await?;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(w.state(&s.settlement_id).await?, "AWAITING_DEPOSITS");
    for p in [&w.seller_platform, &w.buyer_platform] {
        let states = w.webhook_states(p, &s.settlement_id);
        assert!(
            !states
                .iter()
                .any(|x| x == "executing_swap" || x == "finalized"),
            "{}: webhooks from the dropped block: {states:?}",
            p.name
        );
    }
    // Deposit again: now it settles, once.
    w.buyer.deposit(&db).await?;
    a.interval_blocks(1).await?;
    w.wait_state(&s.settlement_id, "FINALIZED").await?;
    w.wait_webhook(&w.seller_platform, &s.settlement_id, "FINALIZED")
        .await?;
    w.wait_webhook(&w.buyer_platform, &s.settlement_id, "FINALIZED")
        .await?;
    w.check_webhooks(&s.settlement_id).await?;
    let exec = a
        .events::<ISettlementEscrow::SettlementExecuted>(s.onchain_id, w.start_blocks.0)
        .await?;
    assert_eq!(exec.len(), 1, "one execution on the canonical chain");
    w.done();
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reorg_after_the_indexer_saw_a_deposit_rewinds_and_settles_once() -> eyre::Result<()> {
    let mut opts = WorldOptions::new("deep_reorg");
    opts.settings = CoordinatorSettings {
        confirmations: 2,
        ..CoordinatorSettings::default()
    };
    let w = World::start(opts).await?;
    let t = w.single_chain_trade("deep").await?;
    let a = &w.chain_a;
    let (s, ds, db) = to_awaiting_deposits(&w, &t).await?;
    a.manual_blocks().await?;
    let (head_before, _) = a.head().await?;
    w.seller.fund(&ds).await?;
    // Confirmed and indexed...
    a.mine(4).await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    // ...then a reorg deeper than the confirmations takes the approve and the deposit away.
    let (head, _) = a.head().await?;
    a.rollback(head - head_before).await?;
    let on = a.settlement_of(s.onchain_id).await?;
    assert_eq!((on.state, on.deposited_mask), (EscrowState::Open, 0));
    a.mine(4).await?;
    // The buyer alone cannot complete it: only one leg is in on the canonical chain.
    w.buyer.fund(&db).await?;
    a.mine(4).await?;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        w.state(&s.settlement_id).await?,
        "AWAITING_DEPOSITS",
        "a deposit dropped by the reorg still counted\n{}",
        w.context(Some(&s.settlement_id)).await
    );
    // The seller deposits again: settles once.
    w.seller.fund(&ds).await?;
    a.interval_blocks(1).await?;
    w.wait_state(&s.settlement_id, "FINALIZED").await?;
    w.wait_webhook(&w.buyer_platform, &s.settlement_id, "FINALIZED")
        .await?;
    w.check_webhooks(&s.settlement_id).await?;
    let deposits = a
        .events::<ISettlementEscrow::LegDeposited>(s.onchain_id, w.start_blocks.0)
        .await?;
    assert_eq!(deposits.len(), 2, "two deposits on the canonical chain");
    w.done();
    Ok(())
}

/// Two coordinator instances on one PostgreSQL database: both serve the API, only the
/// advisory-lock holder runs the chain side. The leader is SIGKILLed after the first
/// deposit; the other takes over the chain side and the settlement finishes once, with
/// every webhook once. Runs under `script/with-postgres` (as `script/test` does); without
/// a server it says so loudly and passes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_two_coordinators_hand_over_the_chain_side() -> eyre::Result<()> {
    let Some(db) = lockstep_e2e::process::fresh_postgres_database("handover")? else {
        eprintln!(
            "\n!!!!! SKIPPING PostgreSQL e2e test: LOCKSTEP_TEST_POSTGRES_URL is not set (run under script/with-postgres) !!!!!\n"
        );
        return Ok(());
    };
    let mut opts = WorldOptions::new("pg-handover");
    opts.settings.database_url = Some(db);
    let settings = opts.settings.clone();
    let mut w = World::start(opts).await?;
    // A second instance of the same deployment, on another port.
    let listen = format!("127.0.0.1:{}", lockstep_e2e::devnet::free_port()?);
    let config2 = w.dir.join("lockstep-2.toml");
    lockstep_e2e::process::write_config(
        &w.devnet.info,
        &config2,
        &listen,
        &w.dir.join("data-2"),
        &settings,
    )?;
    let mut second = lockstep_e2e::process::Coordinator::new(
        config2,
        w.dir.join("coordinator-2.log"),
        &listen,
        &w.devnet.info.accounts.attester.private_key,
        &w.devnet.info.accounts.relayer.private_key,
    )?;
    second.start().await?;

    let t = w.cross_chain_trade("pg");
    let (s, ds, db) = to_awaiting_deposits(&w, &t).await?;
    w.seller.fund(&ds).await?;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    // The first instance started first and leads; kill it without a graceful shutdown.
    let first_log = std::fs::read_to_string(&w.coordinator.log)?;
    ensure!(
        first_log.contains("now runs the chain side"),
        "the first instance never led the chain side"
    );
    ensure!(
        !std::fs::read_to_string(&second.log)?.contains("now runs the chain side"),
        "both instances ran the chain side at once"
    );
    w.coordinator.kill()?;
    w.buyer.fund(&db).await?;
    // The survivor answers the API too: read the state through it.
    let api2 = lockstep_e2e::api::Api::new(&second.url)?;
    let deadline = std::time::Instant::now() + Duration::from_secs(90);
    loop {
        let v = api2
            .get_ok(
                &w.seller_platform.token,
                &format!("/v1/settlements/{}", s.settlement_id),
            )
            .await?;
        if v["state"] == "FINALIZED" {
            break;
        }
        ensure!(
            std::time::Instant::now() < deadline,
            "not FINALIZED through the second instance: {v}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let second_log = std::fs::read_to_string(&second.log)?;
    ensure!(
        second_log.contains("now runs the chain side"),
        "the second instance never took over the chain side"
    );
    w.coordinator.start().await?;
    w.wait_webhook(&w.seller_platform, &s.settlement_id, "FINALIZED")
        .await?;
    w.wait_webhook(&w.buyer_platform, &s.settlement_id, "FINALIZED")
        .await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    w.check_webhooks(&s.settlement_id).await?;
    let bundle = w.evidence_bundle(&s.settlement_id).await?;
    let out = w.verify_evidence(&bundle, "pg-bundle.json")?;
    ensure!(
        out.status.success(),
        "evidence verify --rpc failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    second.kill()?;
    w.done();
    Ok(())
}
