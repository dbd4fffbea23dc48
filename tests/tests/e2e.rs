//! Lockstep end to end: real anvil chains, the real LayerZero v2 stack and escrows, the
//! real `lockstep serve` over HTTP, the parties depositing from their own keys.
//!
//! Each test starts its own devnet (own ports, own data directory under `target/e2e/`,
//! kept when the test fails). Needs `target/debug/lockstep` (built if missing) and the npm
//! Foundry toolchain (`npm ci`).
#![allow(clippy::unwrap_used)]

use alloy::primitives::U256;
use alloy::sol_types::SolCall;
use eyre::{ensure, eyre};
use lockstep_bindings::ISettlementEscrow::{self, ISettlementEscrowErrors};
use lockstep_bindings::{DemoToken, EscrowRevert};
use lockstep_e2e::chain::{CallOutcome, hex_bytes};
use lockstep_e2e::steps::{
    balances, expect_escrow_error, refund_calldata, timeout_of, to_awaiting_deposits,
};
use lockstep_e2e::{EscrowState, World, WorldOptions};
use std::time::Duration;

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
    // The spoke's deposit came back inside the ABORT delivery (the relayer's RelayerDvn
    // committing it and calling lzReceive on the endpoint), not by a refund call on the escrow.
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
        Some(c.info.relayer_dvn),
        "the spoke refund was not a delivery through the RelayerDvn"
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
