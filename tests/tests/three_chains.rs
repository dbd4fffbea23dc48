//! Three parties on three platforms, three chains (template `dvp-fx`, `lockstep devnet
//! --chains 3`): the settlement finalizes with balances checked on every chain and evidence
//! anchored on each leg's own chain, and, when one party never deposits, it unwinds on all
//! three chains.
#![allow(clippy::unwrap_used)]

use alloy::primitives::{Address, U256};
use eyre::ensure;
use lockstep_e2e::fx::FxTrade;
use lockstep_e2e::{Chain, EscrowState, World, WorldOptions};
use std::time::Instant;

fn three_chains(name: &str) -> WorldOptions {
    let mut o = WorldOptions::new(name);
    o.chains = 3;
    o
}

/// Balances of `who` in `token` on `chain`.
async fn held(chain: &Chain, token: Address, who: &[Address]) -> eyre::Result<Vec<U256>> {
    let mut out = Vec::new();
    for w in who {
        out.push(chain.balance(token, *w).await?);
    }
    Ok(out)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_parties_on_three_chains_settle_with_evidence_on_every_chain() -> eyre::Result<()> {
    let w = World::start(three_chains("three_chains")).await?;
    let c = w.chain_c.as_ref().unwrap();
    let (_, fx) = w.fx_party()?;
    let (seller, buyer) = (w.seller.address, w.buyer.address);
    let t = FxTrade::new(&w, "fx")?;
    let starts = [w.start_blocks.0, w.start_blocks.1, c.head().await?.0];
    let a0 = held(&w.chain_a, t.bond.0, &[seller, buyer]).await?;
    let b0 = held(&w.chain_b, t.usd.0, &[buyer, fx]).await?;
    let c0 = held(c, t.eur.0, &[fx, seller]).await?;

    let s = w.submit_fx(&t).await?;
    let v = w.wait_state(&s.settlement_id, "AWAITING_DEPOSITS").await?;
    assert_eq!(v["parties"].as_array().map(Vec::len), Some(3), "{v}");
    let [ds, db, df] = w.fx_deposits(&t, &s.settlement_id).await?;
    for chain in w.chains() {
        let on = chain.settlement_of(s.onchain_id).await?;
        ensure!(
            on.state == EscrowState::Open,
            "chain {}: {:?}",
            chain.info.chain_id,
            on.state
        );
    }
    w.seller.fund(&ds).await?;
    w.buyer.fund(&db).await?;
    w.fx.as_ref().unwrap().fund(&df).await?;
    let last_deposit = Instant::now();
    w.wait_state(&s.settlement_id, "FINALIZED").await?;
    for p in w.platforms() {
        w.wait_webhook(p, &s.settlement_id, "FINALIZED").await?;
    }
    let latency = last_deposit.elapsed();
    for chain in w.chains() {
        w.wait_escrow(chain.info.chain_id, &s, EscrowState::Executed)
            .await?;
    }
    // Every leg went to its receiver, on its own chain.
    let (q, usd, eur) = (t.quantity, t.usd_amount, t.eur_amount);
    assert_eq!(
        held(&w.chain_a, t.bond.0, &[seller, buyer]).await?,
        [a0[0] - q, a0[1] + q]
    );
    assert_eq!(
        held(&w.chain_b, t.usd.0, &[buyer, fx]).await?,
        [b0[0] - usd, b0[1] + usd]
    );
    assert_eq!(
        held(c, t.eur.0, &[fx, seller]).await?,
        [c0[0] - eur, c0[1] + eur]
    );
    for chain in w.chains() {
        let esc = chain.info.escrow;
        for token in [chain.info.tokens.bond, chain.info.tokens.cash] {
            assert_eq!(
                chain.balance(token, esc).await?,
                U256::ZERO,
                "escrow keeps nothing"
            );
        }
    }
    w.check_webhooks(&s.settlement_id).await?;

    // One bundle: a leg per party, each anchored on its own chain, verified against all three.
    let bundle = w.evidence_bundle(&s.settlement_id).await?;
    let legs = bundle["facts"]["legs"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(legs.len(), 3, "{bundle}");
    let mut anchored: Vec<u64> = legs
        .iter()
        .map(|l| l["anchor"]["chain_id"].as_u64().unwrap_or_default())
        .collect();
    anchored.sort_unstable();
    let mut ids: Vec<u64> = w.chains().iter().map(|c| c.info.chain_id).collect();
    ids.sort_unstable();
    assert_eq!(anchored, ids, "anchors: {legs:?}");
    assert_eq!(
        bundle["decision"]["parties"].as_array().map(Vec::len),
        Some(3)
    );
    let out = w.verify_evidence(&bundle, "bundle.json")?;
    assert!(
        out.status.success(),
        "evidence verify failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // Figures for the notes: latency and gas per chain (every transaction after set-up).
    let mut total = 0;
    for (chain, from) in w.chains().into_iter().zip(starts) {
        let g = chain.gas_since(from + 1).await?;
        total += g.gas;
        eprintln!(
            "three-chain gas: chain {} {} gas in {} tx",
            chain.info.chain_id, g.gas, g.txs
        );
    }
    eprintln!(
        "three-chain latency: last deposit -> FINALIZED at all three platforms {:.3} s; total gas {total}",
        latency.as_secs_f64()
    );
    w.done();
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_third_deposit_unwinds_on_all_three_chains() -> eyre::Result<()> {
    let w = World::start(three_chains("three_chains_unwind")).await?;
    let c = w.chain_c.as_ref().unwrap();
    let (_, fx) = w.fx_party()?;
    let (seller, buyer) = (w.seller.address, w.buyer.address);
    let mut t = FxTrade::new(&w, "fx-unwind")?;
    t.timeout_at = chrono::Utc::now() + chrono::Duration::minutes(10);
    let a0 = held(&w.chain_a, t.bond.0, &[seller]).await?;
    let b0 = held(&w.chain_b, t.usd.0, &[buyer]).await?;
    let c0 = held(c, t.eur.0, &[fx]).await?;
    let s = w.submit_fx(&t).await?;
    w.wait_state(&s.settlement_id, "AWAITING_DEPOSITS").await?;
    let [ds, db, _df] = w.fx_deposits(&t, &s.settlement_id).await?;
    w.seller.fund(&ds).await?;
    w.buyer.fund(&db).await?;
    assert_eq!(
        held(&w.chain_a, t.bond.0, &[seller]).await?,
        [a0[0] - t.quantity]
    );
    assert_eq!(
        held(&w.chain_b, t.usd.0, &[buyer]).await?,
        [b0[0] - t.usd_amount]
    );
    // The FX provider never pays. Past the deadline on every chain, everything goes home.
    let deadline = lockstep_e2e::steps::timeout_of(&ds)?;
    w.warp_to(deadline + 1).await?;
    w.wait_state(&s.settlement_id, "TIMED_OUT").await?;
    for p in w.platforms() {
        w.wait_webhook(p, &s.settlement_id, "TIMED_OUT").await?;
    }
    for chain in w.chains() {
        w.wait_escrow(chain.info.chain_id, &s, EscrowState::Refunded)
            .await?;
    }
    assert_eq!(
        held(&w.chain_a, t.bond.0, &[seller]).await?,
        a0,
        "the seller's BOND is back"
    );
    assert_eq!(
        held(&w.chain_b, t.usd.0, &[buyer]).await?,
        b0,
        "the buyer's CASH is back"
    );
    assert_eq!(
        held(c, t.eur.0, &[fx]).await?,
        c0,
        "the FX provider paid nothing"
    );
    let tr = w.transitions(&s.settlement_id).await?;
    assert!(!tr.contains(&"EXECUTING_SWAP".to_string()), "{tr:?}");
    w.check_webhooks(&s.settlement_id).await?;
    w.done();
    Ok(())
}
