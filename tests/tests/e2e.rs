//! Lockstep end to end: real anvil chains, the real LayerZero v2 stack and escrows, the
//! real `lockstep serve` over HTTP, the parties depositing from their own keys.
//!
//! Each test starts its own devnet (own ports, own data directory under `target/e2e/`,
//! kept when the test fails). Needs `target/debug/lockstep` (built if missing) and the npm
//! Foundry toolchain (`npm ci`).
#![allow(clippy::unwrap_used)]

use alloy::primitives::{Bytes, U256};
use alloy::sol_types::SolCall;
use eyre::{bail, ensure, eyre};
use lockstep_bindings::ISettlementEscrow::{self, ISettlementEscrowErrors};
use lockstep_bindings::{DemoToken, EscrowRevert};
use lockstep_e2e::chain::{CallOutcome, hex_bytes};
use lockstep_e2e::process::CoordinatorSettings;
use lockstep_e2e::{DepositInstruction, EscrowState, Submitted, Trade, World, WorldOptions};
use std::time::Duration;

/// Submits the trade and waits until it is registered on every chain; returns the seller's
/// and the buyer's deposit instructions, checked against the trade.
async fn to_awaiting_deposits(
    w: &World,
    t: &Trade,
) -> eyre::Result<(Submitted, DepositInstruction, DepositInstruction)> {
    let s = w.submit(t).await?;
    w.wait_state(&s.settlement_id, "AWAITING_DEPOSITS").await?;
    let ds = w.deposit_of(&w.seller_platform, &s.settlement_id).await?;
    let db = w.deposit_of(&w.buyer_platform, &s.settlement_id).await?;
    ensure!(
        ds.token == t.asset && ds.chain_id == t.asset_chain && ds.amount == t.quantity.to_string(),
        "seller's deposit instruction does not match the trade: {ds:?}"
    );
    ensure!(
        db.token == t.cash && db.chain_id == t.cash_chain && db.amount == t.price.to_string(),
        "buyer's deposit instruction does not match the trade: {db:?}"
    );
    for (c, d) in [(t.asset_chain, &ds), (t.cash_chain, &db)] {
        let on = w.chain(c)?.settlement_of(s.onchain_id).await?;
        ensure!(
            on.state == EscrowState::Open,
            "escrow on chain {c} is {:?} at AWAITING_DEPOSITS (leg {})",
            on.state,
            d.leg_index
        );
    }
    Ok((s, ds, db))
}

/// Balances of (seller, buyer) in `token` on `chain_id`.
async fn balances(
    w: &World,
    chain_id: u64,
    token: alloy::primitives::Address,
) -> eyre::Result<(U256, U256)> {
    let c = w.chain(chain_id)?;
    Ok((
        c.balance(token, w.seller.address).await?,
        c.balance(token, w.buyer.address).await?,
    ))
}

/// The on-chain `timeoutAt` of the terms inside a deposit instruction.
fn timeout_of(d: &DepositInstruction) -> eyre::Result<u64> {
    let call = ISettlementEscrow::depositCall::abi_decode(&hex_bytes(d.calldata()?)?)?;
    Ok(call.terms.timeoutAt)
}

/// The escrow's `refund(terms)` calldata for the terms inside a deposit instruction.
fn refund_calldata(d: &DepositInstruction) -> eyre::Result<Bytes> {
    let call = ISettlementEscrow::depositCall::abi_decode(&hex_bytes(d.calldata()?)?)?;
    Ok(ISettlementEscrow::refundCall { terms: call.terms }
        .abi_encode()
        .into())
}

fn expect_escrow_error(out: CallOutcome, what: &str) -> eyre::Result<ISettlementEscrowErrors> {
    match out {
        CallOutcome::Reverted(EscrowRevert::Escrow(e)) => Ok(e),
        other => bail!("{what}: expected a typed escrow revert, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn single_chain_settlement_finalizes_and_swaps() -> eyre::Result<()> {
    let w = World::start(WorldOptions::new("single_chain")).await?;
    let t = w.single_chain_trade("single").await?;
    let a = t.asset_chain;
    let bond0 = balances(&w, a, t.asset).await?;
    let cash0 = balances(&w, a, t.cash).await?;
    let (s, ds, db) = to_awaiting_deposits(&w, &t).await?;
    ensure!(ds.chain_id == a && db.chain_id == a, "legs not on chain A");
    w.seller.fund(&ds).await?;
    w.buyer.fund(&db).await?;
    w.wait_state(&s.settlement_id, "FINALIZED").await?;
    w.wait_webhook(&w.seller_platform, &s.settlement_id, "FINALIZED")
        .await?;
    w.wait_webhook(&w.buyer_platform, &s.settlement_id, "FINALIZED")
        .await?;
    let bond1 = balances(&w, a, t.asset).await?;
    let cash1 = balances(&w, a, t.cash).await?;
    assert_eq!(bond1, (bond0.0 - t.quantity, bond0.1 + t.quantity), "BOND");
    assert_eq!(cash1, (cash0.0 + t.price, cash0.1 - t.price), "CASH");
    let esc = w.chain_a.info.escrow;
    assert_eq!(w.chain_a.balance(t.asset, esc).await?, U256::ZERO);
    assert_eq!(w.chain_a.balance(t.cash, esc).await?, U256::ZERO);
    assert_eq!(
        w.chain_a.settlement_of(s.onchain_id).await?.state,
        EscrowState::Executed
    );
    let tr = w.transitions(&s.settlement_id).await?;
    assert!(
        tr.ends_with(&[
            "COMPLIANCE_CLEARED".to_string(),
            "AWAITING_DEPOSITS".into(),
            "EXECUTING_SWAP".into(),
            "FINALIZED".into()
        ]),
        "{tr:?}"
    );
    w.check_webhooks(&s.settlement_id).await?;
    w.done();
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cross_chain_settlement_finalizes_with_verified_evidence() -> eyre::Result<()> {
    let w = World::start(WorldOptions::new("cross_chain")).await?;
    let t = w.cross_chain_trade("cross");
    let bond0 = balances(&w, t.asset_chain, t.asset).await?;
    let cash0 = balances(&w, t.cash_chain, t.cash).await?;
    let (s, ds, db) = to_awaiting_deposits(&w, &t).await?;
    ensure!(ds.chain_id != db.chain_id, "legs on one chain");
    w.seller.fund(&ds).await?;
    w.buyer.fund(&db).await?;
    w.wait_state(&s.settlement_id, "FINALIZED").await?;
    w.wait_webhook(&w.seller_platform, &s.settlement_id, "FINALIZED")
        .await?;
    w.wait_webhook(&w.buyer_platform, &s.settlement_id, "FINALIZED")
        .await?;
    w.wait_escrow(t.asset_chain, &s, EscrowState::Executed)
        .await?;
    w.wait_escrow(t.cash_chain, &s, EscrowState::Executed)
        .await?;
    let bond1 = balances(&w, t.asset_chain, t.asset).await?;
    let cash1 = balances(&w, t.cash_chain, t.cash).await?;
    assert_eq!(
        bond1,
        (bond0.0 - t.quantity, bond0.1 + t.quantity),
        "BOND on A"
    );
    assert_eq!(cash1, (cash0.0 + t.price, cash0.1 - t.price), "CASH on B");
    w.check_webhooks(&s.settlement_id).await?;

    let bundle = w.evidence_bundle(&s.settlement_id).await?;
    let out = w.verify_evidence(&bundle, "bundle.json")?;
    assert!(
        out.status.success(),
        "evidence verify failed ({}): {}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // One anchor's block hash changed: the verification must fail.
    let mut tampered = bundle.clone();
    let anchor = tampered["facts"]["legs"][0]["anchor"]
        .as_object_mut()
        .ok_or_else(|| eyre!("no anchor in facts.legs[0]: {bundle}"))?;
    let h = anchor["block_hash"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let flipped = if h.ends_with('0') {
        format!("{}1", &h[..h.len() - 1])
    } else {
        format!("{}0", &h[..h.len() - 1])
    };
    anchor.insert("block_hash".into(), flipped.into());
    let out = w.verify_evidence(&tampered, "bundle-tampered.json")?;
    assert!(
        !out.status.success(),
        "a bundle with a changed anchor block_hash verified: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    // A forgery rebuilt consistently from the changed facts passes the offline check; only
    // the chains can tell, and they must.
    let forged = w.rebuild_bundle(&tampered["facts"], "facts-forged.json")?;
    let out = w.verify_evidence_offline(&forged, "bundle-forged.json")?;
    assert!(
        out.status.success(),
        "the rebuilt forgery should be internally consistent: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = w.verify_evidence(&forged, "bundle-forged.json")?;
    assert!(
        !out.status.success(),
        "a forged anchor passed the on-chain check: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("block_hash"), "{err}");
    w.done();
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_deposit_times_out_and_refunds() -> eyre::Result<()> {
    let w = World::start(WorldOptions::new("timeout")).await?;
    let mut t = w.cross_chain_trade("timeout");
    t.timeout_at = chrono::Utc::now() + chrono::Duration::minutes(10);
    let bond0 = balances(&w, t.asset_chain, t.asset).await?;
    let (s, ds, _db) = to_awaiting_deposits(&w, &t).await?;
    w.seller.fund(&ds).await?;
    let held = w
        .chain(t.asset_chain)?
        .balance(t.asset, w.seller.address)
        .await?;
    assert_eq!(held, bond0.0 - t.quantity, "the deposit left the seller");
    // The buyer never pays. Past the deadline on both chains the relayer unwinds.
    let deadline = timeout_of(&ds)?;
    w.warp_to(deadline + 1).await?;
    w.wait_state(&s.settlement_id, "TIMED_OUT").await?;
    w.wait_webhook(&w.seller_platform, &s.settlement_id, "TIMED_OUT")
        .await?;
    w.wait_webhook(&w.buyer_platform, &s.settlement_id, "TIMED_OUT")
        .await?;
    w.wait_escrow(t.asset_chain, &s, EscrowState::Refunded)
        .await?;
    w.wait_escrow(t.cash_chain, &s, EscrowState::Refunded)
        .await?;
    let bond1 = balances(&w, t.asset_chain, t.asset).await?;
    assert_eq!(bond1, bond0, "the seller's BOND is back");
    let tr = w.transitions(&s.settlement_id).await?;
    assert!(!tr.contains(&"EXECUTING_SWAP".to_string()), "{tr:?}");
    w.check_webhooks(&s.settlement_id).await?;
    w.done();
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hub_abort_refunds_the_locked_spoke_only_by_message() -> eyre::Result<()> {
    let mut w = World::start(WorldOptions::new("abort")).await?;
    let mut t = w.cross_chain_trade("abort");
    t.timeout_at = chrono::Utc::now() + chrono::Duration::minutes(10);
    let (hub, spoke) = (t.asset_chain, t.cash_chain);
    let bond0 = balances(&w, hub, t.asset).await?;
    let cash0 = balances(&w, spoke, t.cash).await?;
    let (s, ds, db) = to_awaiting_deposits(&w, &t).await?;
    w.seller.fund(&ds).await?;
    // The relayer goes away before the spoke deposit: its LOCKED stays undelivered.
    w.coordinator.stop().await?;
    let from_b = w.chain(spoke)?.head().await?.0;
    w.buyer.fund(&db).await?;
    assert_eq!(
        w.chain(spoke)?.settlement_of(s.onchain_id).await?.state,
        EscrowState::Locked
    );
    assert_eq!(
        w.chain(hub)?.settlement_of(s.onchain_id).await?.state,
        EscrowState::Locked,
        "hub: local leg in, spoke not yet reported"
    );
    let deadline = timeout_of(&db)?;
    w.warp_to(deadline + 1).await?;
    // The locked spoke cannot unwind itself, even past the deadline.
    let out = w
        .buyer
        .call(spoke, db.escrow, refund_calldata(&db)?, U256::ZERO)
        .await?;
    let e = expect_escrow_error(out, "spoke refund while LOCKED")?;
    assert!(
        matches!(e, ISettlementEscrowErrors::EscrowAwaitingHub(_)),
        "{e:?}"
    );
    w.coordinator.start().await?;
    w.wait_state(&s.settlement_id, "ROLLED_BACK").await?;
    w.wait_webhook(&w.seller_platform, &s.settlement_id, "ROLLED_BACK")
        .await?;
    w.wait_webhook(&w.buyer_platform, &s.settlement_id, "ROLLED_BACK")
        .await?;
    w.wait_escrow(hub, &s, EscrowState::Refunded).await?;
    w.wait_escrow(spoke, &s, EscrowState::Refunded).await?;
    // The spoke's deposit came back inside the ABORT delivery (lzReceive through the
    // endpoint), not by a refund call on the escrow.
    let c = w.chain(spoke)?;
    let refunds = c
        .events::<ISettlementEscrow::LegRefunded>(s.onchain_id, from_b)
        .await?;
    assert_eq!(refunds.len(), 1, "one LegRefunded on the spoke");
    let (log, ev) = &refunds[0];
    assert_eq!(ev.legIndex, U256::from(db.leg_index));
    let tx = log
        .transaction_hash
        .ok_or_else(|| eyre!("log without tx"))?;
    assert_eq!(
        c.tx_to(tx).await?,
        Some(c.info.endpoint),
        "the spoke refund was not an lzReceive"
    );
    let received = c
        .events::<ISettlementEscrow::MessageReceived>(s.onchain_id, from_b)
        .await?;
    assert!(
        received
            .iter()
            .any(|(l, m)| l.transaction_hash == Some(tx) && m.kind == 3),
        "no ABORT (kind 3) received in the refunding transaction: {received:?}"
    );
    assert_eq!(balances(&w, hub, t.asset).await?, bond0, "BOND back on A");
    assert_eq!(balances(&w, spoke, t.cash).await?, cash0, "CASH back on B");
    w.check_webhooks(&s.settlement_id).await?;
    w.done();
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_token_or_amount_is_refused() -> eyre::Result<()> {
    let w = World::start(WorldOptions::new("wrong_deposit")).await?;
    let t = w.single_chain_trade("wrong").await?;
    let a = t.asset_chain;
    let (s, ds, db) = to_awaiting_deposits(&w, &t).await?;
    let bond0 = balances(&w, a, t.asset).await?;
    w.seller.approve(&ds).await?;
    let call = ISettlementEscrow::depositCall::abi_decode(&hex_bytes(ds.calldata()?)?)?;

    // A tampered amount changes the terms: refused against the registered terms hash.
    let mut bad = call.clone();
    bad.terms.legs[ds.leg_index].amount -= U256::from(1u64);
    let out = w
        .seller
        .call(a, ds.escrow, bad.abi_encode().into(), U256::ZERO)
        .await?;
    let e = expect_escrow_error(out, "tampered amount")?;
    assert!(
        matches!(e, ISettlementEscrowErrors::EscrowTermsMismatch(_)),
        "{e:?}"
    );
    // Sending it for real fails too (gas estimation reverts).
    assert!(
        w.seller
            .send(a, ds.escrow, bad.abi_encode().into(), U256::ZERO)
            .await
            .is_err()
    );

    // The seller's calldata on the buyer's leg (another token, another amount): refused.
    let mut other = call.clone();
    other.legIndex = U256::from(db.leg_index);
    let out = w
        .seller
        .call(a, ds.escrow, other.abi_encode().into(), U256::ZERO)
        .await?;
    let e = expect_escrow_error(out, "other leg")?;
    assert!(
        matches!(
            e,
            ISettlementEscrowErrors::EscrowUnauthorizedDepositor(_)
                | ISettlementEscrowErrors::EscrowInvalidLeg(_)
        ),
        "{e:?}"
    );

    // The wrong token approved (CASH instead of BOND, BOND allowance withdrawn): the
    // escrow's pull of BOND reverts in the token.
    let zero = DemoToken::approveCall {
        spender: ds.escrow,
        value: U256::ZERO,
    }
    .abi_encode();
    w.seller.send(a, t.asset, zero.into(), U256::ZERO).await?;
    let wrong = DemoToken::approveCall {
        spender: ds.escrow,
        value: t.quantity,
    }
    .abi_encode();
    w.seller.send(a, t.cash, wrong.into(), U256::ZERO).await?;
    let out = w
        .seller
        .call(a, ds.escrow, hex_bytes(ds.calldata()?)?, U256::ZERO)
        .await?;
    assert!(
        matches!(
            out,
            CallOutcome::Reverted(EscrowRevert::Other(_)) | CallOutcome::Failed(_)
        ),
        "deposit without the right allowance: {out:?}"
    );
    assert!(w.seller.deposit(&ds).await.is_err());

    // Nothing moved, nothing changed.
    let on = w.chain_a.settlement_of(s.onchain_id).await?;
    assert_eq!(
        (on.state, on.deposited_mask),
        (EscrowState::Open, 0),
        "{on:?}"
    );
    assert_eq!(balances(&w, a, t.asset).await?, bond0);
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(w.state(&s.settlement_id).await?, "AWAITING_DEPOSITS");

    // The right deposits still settle.
    w.seller.fund(&ds).await?;
    w.buyer.fund(&db).await?;
    w.wait_state(&s.settlement_id, "FINALIZED").await?;
    w.check_webhooks(&s.settlement_id).await?;
    w.done();
    Ok(())
}

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
