//! Tokenised repo end to end (docs/coordinator.md "Repo"): the opening settles across two
//! chains, both anvils are warped past maturity, the coordinator registers the close by
//! itself from the terms fixed at opening (legs reversed, the repayment as cash) and the
//! parties settle it, or let it time out.
//!
//! Same harness as `e2e.rs`: each test runs its own devnet and `lockstep serve`.
#![allow(clippy::unwrap_used)]

use alloy::primitives::U256;
use eyre::{bail, ensure, eyre};
use lockstep_e2e::steps::{balances, to_awaiting_deposits};
use lockstep_e2e::{EscrowState, RepoTerms, Submitted, Trade, World, WorldOptions};
use serde_json::Value;
use std::time::Instant;

/// The cross-chain trade as a repo: 100 BOND on chain A against 2,500 CASH on chain B,
/// the opening's deadline in 30 minutes, maturity in one hour, 1% repo interest. (The
/// devnet's escrows register nothing lasting more than two hours.)
fn repo_trade(w: &World, tag: &str) -> Trade {
    let mut t = w.cross_chain_trade(tag);
    t.template = "repo";
    t.timeout_at = chrono::Utc::now() + chrono::Duration::minutes(30);
    t.repo = Some(RepoTerms {
        maturity_at: chrono::Utc::now() + chrono::Duration::hours(1),
        repayment: t.price + t.price / U256::from(100u64),
    });
    t
}

/// The repo fields of `t`.
fn terms(t: &Trade) -> eyre::Result<&RepoTerms> {
    t.repo.as_ref().ok_or_else(|| eyre!("not a repo trade"))
}

/// Opens the repo: both deposit, the opening FINALIZED with no close yet.
async fn open(w: &World, t: &Trade) -> eyre::Result<Submitted> {
    let (s, ds, db) = to_awaiting_deposits(w, t).await?;
    w.seller.fund(&ds).await?;
    w.buyer.fund(&db).await?;
    let v = w.wait_state(&s.settlement_id, "FINALIZED").await?;
    ensure!(v["repo"]["status"] == "open", "opening: {v}");
    ensure!(
        v.get("closing_settlement_id").is_none(),
        "closed early: {v}"
    );
    Ok(s)
}

/// Moves both chains' clocks past maturity; returns the close the coordinator registers.
async fn warp_to_maturity(w: &World, t: &Trade, opening: &str) -> eyre::Result<Submitted> {
    let maturity = u64::try_from(terms(t)?.maturity_at.timestamp())?;
    w.warp_to(maturity + 1).await?;
    let started = Instant::now();
    let registered = |v: &Value| {
        println!(
            "repo: close {} registered {:.2} s after both chains passed maturity",
            v["closing_settlement_id"],
            started.elapsed().as_secs_f64()
        );
    };
    loop {
        let v = w.settlement(opening).await?;
        if let Some(id) = v["closing_settlement_id"].as_str() {
            registered(&v);
            ensure!(v["repo"]["status"] == "closing", "opening: {v}");
            let tr = v["repo"]["closing_terms"]["trade_reference"]
                .as_str()
                .ok_or_else(|| eyre!("no closing trade reference: {v}"))?;
            return Ok(Submitted {
                settlement_id: id.to_string(),
                onchain_id: alloy::primitives::keccak256(tr.as_bytes()),
                trade_reference: tr.to_string(),
                matched_at: Instant::now(),
            });
        }
        if started.elapsed() > lockstep_e2e::STEP_TIMEOUT {
            bail!(
                "no close registered after maturity\n{}",
                w.context(Some(opening)).await
            );
        }
        tokio::time::sleep(lockstep_e2e::POLL).await;
    }
}

/// The close names its opening (API and evidence) and the opening names the close.
async fn check_links(w: &World, opening: &str, close: &str) -> eyre::Result<Value> {
    let c = w.settlement(close).await?;
    ensure!(c["parent_settlement_id"] == opening, "close: {c}");
    let o = w.settlement(opening).await?;
    ensure!(o["closing_settlement_id"] == close, "opening: {o}");
    let rc = &c["evidence"]["input"]["terms"]["repo_close"];
    ensure!(
        rc["parent_settlement_id"] == opening,
        "close evidence: {rc}"
    );
    ensure!(
        rc["closing_terms_ref"] == o["repo"]["closing_terms_ref"]
            && o["evidence"]["input"]["terms"]["repo"]["closing_terms_ref"]
                == o["repo"]["closing_terms_ref"],
        "the opening's evidence binds the close's terms"
    );
    Ok(o)
}

/// The settlement's evidence bundle, once the chain side has stored it, verified against
/// both chains (`lockstep evidence verify --rpc`).
async fn verified_bundle(w: &World, id: &str, file: &str) -> eyre::Result<Value> {
    let started = Instant::now();
    let bundle = loop {
        match w.evidence_bundle(id).await {
            Ok(b) => break b,
            Err(e) if started.elapsed() > lockstep_e2e::STEP_TIMEOUT => return Err(e),
            Err(_) => tokio::time::sleep(lockstep_e2e::POLL).await,
        }
    };
    let out = w.verify_evidence(&bundle, file)?;
    ensure!(
        out.status.success(),
        "evidence verify of {id} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(bundle)
}

/// Both platforms got `event` about the opening.
async fn told_both(w: &World, opening: &str, event: &str) -> eyre::Result<()> {
    for p in [&w.seller_platform, &w.buyer_platform] {
        let body = w.wait_event(&p.key, opening, event).await?;
        ensure!(body["data"]["settlement_id"] == opening, "{event}: {body}");
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repo_opens_and_closes_at_maturity_with_time_warped() -> eyre::Result<()> {
    let w = World::start(WorldOptions::new("repo_close")).await?;
    let t = repo_trade(&w, "repo-close");
    let repayment = terms(&t)?.repayment;
    let (a, b) = (t.asset_chain, t.cash_chain);
    let bond0 = balances(&w, a, t.asset).await?;
    let cash0 = balances(&w, b, t.cash).await?;
    let s = open(&w, &t).await?;
    ensure!(
        balances(&w, a, t.asset).await? == (bond0.0 - t.quantity, bond0.1 + t.quantity),
        "the buyer holds the collateral"
    );
    // The seller pays interest on top of the cash it got.
    w.seller.mint(b, t.cash, repayment - t.price).await?;
    let c = warp_to_maturity(&w, &t, &s.settlement_id).await?;
    w.wait_state(&c.settlement_id, "AWAITING_DEPOSITS").await?;
    let ds = w.deposit_of(&w.seller_platform, &c.settlement_id).await?;
    let db = w.deposit_of(&w.buyer_platform, &c.settlement_id).await?;
    ensure!(
        (ds.token, ds.chain_id, ds.amount.clone()) == (t.cash, b, repayment.to_string()),
        "the seller repays: {ds:?}"
    );
    ensure!(
        (db.token, db.chain_id, db.amount.clone()) == (t.asset, a, t.quantity.to_string()),
        "the buyer returns the collateral: {db:?}"
    );
    w.seller.fund(&ds).await?;
    w.buyer.fund(&db).await?;
    let funded = Instant::now();
    w.wait_state(&c.settlement_id, "FINALIZED").await?;
    println!(
        "repo: close FINALIZED {:.2} s after the second deposit, {:.2} s after registration",
        funded.elapsed().as_secs_f64(),
        c.matched_at.elapsed().as_secs_f64()
    );
    for chain in [a, b] {
        w.wait_escrow(chain, &c, EscrowState::Executed).await?;
    }
    assert_eq!(balances(&w, a, t.asset).await?, bond0, "BOND back home");
    assert_eq!(
        balances(&w, b, t.cash).await?,
        (cash0.0, cash0.1 - t.price + repayment),
        "CASH: the buyer earned the interest"
    );
    let o = check_links(&w, &s.settlement_id, &c.settlement_id).await?;
    assert_eq!(o["repo"]["status"], "closed", "{o}");
    told_both(&w, &s.settlement_id, "settlement.repo.close_registered").await?;
    told_both(&w, &s.settlement_id, "settlement.repo.closed").await?;
    for p in [&w.seller_platform, &w.buyer_platform] {
        let d = w.wait_webhook(p, &c.settlement_id, "FINALIZED").await?;
        assert_eq!(d.body["data"]["parent_settlement_id"], s.settlement_id);
    }
    w.check_webhooks(&c.settlement_id).await?;
    w.check_webhooks(&s.settlement_id).await?;
    // Both bundles verify on chain; the opening's binds the closing terms, the close's
    // names its opening and carries those terms.
    let ob = verified_bundle(&w, &s.settlement_id, "opening.json").await?;
    let cb = verified_bundle(&w, &c.settlement_id, "close.json").await?;
    let bound = &ob["facts"]["decision"]["terms"]["repo"]["closing_terms_ref"];
    assert_eq!(*bound, o["repo"]["closing_terms_ref"], "{ob}");
    let rc = &cb["facts"]["decision"]["terms"]["repo_close"];
    assert_eq!(rc["parent_settlement_id"], s.settlement_id, "{cb}");
    assert_eq!(rc["closing_terms_ref"], *bound);
    w.done();
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repo_close_timing_out_refunds_and_fails_the_repo() -> eyre::Result<()> {
    let w = World::start(WorldOptions::new("repo_timeout")).await?;
    let t = repo_trade(&w, "repo-timeout");
    let (a, b) = (t.asset_chain, t.cash_chain);
    let bond0 = balances(&w, a, t.asset).await?;
    let cash0 = balances(&w, b, t.cash).await?;
    let s = open(&w, &t).await?;
    let c = warp_to_maturity(&w, &t, &s.settlement_id).await?;
    w.wait_state(&c.settlement_id, "AWAITING_DEPOSITS").await?;
    // Only the buyer returns the collateral; the seller never repays.
    let db = w.deposit_of(&w.buyer_platform, &c.settlement_id).await?;
    w.buyer.fund(&db).await?;
    w.wait_escrow(a, &c, EscrowState::Locked).await?;
    ensure!(
        balances(&w, a, t.asset).await?.1 == bond0.1,
        "the buyer's BOND is in the escrow"
    );
    // Past the close's window on both chains: the keeper refunds, the close times out.
    let deadline = w.timeout_at(&c.settlement_id).await?;
    let maturity = u64::try_from(terms(&t)?.maturity_at.timestamp())?;
    assert_eq!(
        deadline,
        maturity + 3_600,
        "the window of the repo template"
    );
    w.warp_to(deadline + 1).await?;
    w.wait_state(&c.settlement_id, "TIMED_OUT").await?;
    w.wait_escrow(a, &c, EscrowState::Refunded).await?;
    assert_eq!(
        balances(&w, a, t.asset).await?,
        (bond0.0 - t.quantity, bond0.1 + t.quantity),
        "the buyer's BOND deposit is back with the buyer"
    );
    assert_eq!(
        balances(&w, b, t.cash).await?,
        (cash0.0 + t.price, cash0.1 - t.price),
        "the opening's cash stays where it settled"
    );
    let o = check_links(&w, &s.settlement_id, &c.settlement_id).await?;
    assert_eq!(o["repo"]["status"], "close_failed", "{o}");
    assert_eq!(o["state"], "FINALIZED", "the opening stays final");
    told_both(&w, &s.settlement_id, "settlement.repo.close_failed").await?;
    for p in [&w.seller_platform, &w.buyer_platform] {
        w.wait_webhook(p, &c.settlement_id, "TIMED_OUT").await?;
    }
    w.check_webhooks(&c.settlement_id).await?;
    w.done();
    Ok(())
}
