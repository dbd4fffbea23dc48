//! The Lockstep demo: one cross-platform, cross-chain settlement on two local chains.
//!
//! Devnet up (two anvils, the real LayerZero v2 stack, escrows, demo tokens), the coordinator
//! started, two platforms ("Bond issuer platform", "Fund platform") with signed-webhook
//! receivers, both instructions submitted over HTTP, each party approving and depositing on
//! its own chain from its own key, the swap completed through LayerZero by the coordinator's
//! relayer (after `lockstep deployment check` proved both deployments and printed its table),
//! the evidence bundle verified against both chains, and a summary: balances,
//! refs, timings, gas per chain. Exits non-zero if anything fails; tears everything down.
//!
//! `cargo run -p lockstep-e2e --bin demo` (or `script/demo`).

use alloy::primitives::U256;
use eyre::{bail, eyre};
use lockstep_e2e::report::{deployment_check, now, print_gas, print_refs, say, units};
use lockstep_e2e::webhooks::Delivery;
use lockstep_e2e::{Trade, World, WorldOptions};
use std::sync::Arc;
use std::time::{Duration, Instant};

struct Balances {
    seller_bond_a: U256,
    buyer_bond_a: U256,
    seller_cash_b: U256,
    buyer_cash_b: U256,
}

async fn balances(w: &World, t: &Trade) -> eyre::Result<Balances> {
    Ok(Balances {
        seller_bond_a: w.chain_a.balance(t.asset, w.seller.address).await?,
        buyer_bond_a: w.chain_a.balance(t.asset, w.buyer.address).await?,
        seller_cash_b: w.chain_b.balance(t.cash, w.seller.address).await?,
        buyer_cash_b: w.chain_b.balance(t.cash, w.buyer.address).await?,
    })
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> std::process::ExitCode {
    match run().await {
        Ok(()) => {
            say("demo finished: settlement FINALIZED on both chains, evidence verified");
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("[{}] DEMO FAILED: {e:?}", now());
            std::process::ExitCode::from(1)
        }
    }
}

async fn run() -> eyre::Result<()> {
    let t0 = Instant::now();
    say("starting the devnet: two anvil chains, LayerZero v2 stack, escrows, demo tokens");
    let mut opts = WorldOptions::new("demo");
    opts.on_webhook = Some(Arc::new(|d: &Delivery| {
        let platform = if d.platform == "seller" {
            "Bond issuer platform"
        } else {
            "Fund platform"
        };
        let data = &d.body["data"];
        println!(
            "[{}]   webhook -> {platform:<20} {:<36} {} -> {}  (webhook-id {}, signature verified)",
            d.received_at.format("%H:%M:%S%.3f"),
            d.event,
            data["previous_state"].as_str().unwrap_or("-"),
            data["state"].as_str().unwrap_or("-"),
            d.webhook_id
        );
    }));
    let w = World::start(opts).await?;
    let (a, b) = (&w.chain_a.info, &w.chain_b.info);
    say(format!(
        "devnet ready in {:.1} s: chain A {} (chain id {}, eid {}), chain B {} (chain id {}, eid {})",
        t0.elapsed().as_secs_f64(),
        a.rpc_url,
        a.chain_id,
        a.eid,
        b.rpc_url,
        b.chain_id,
        b.eid
    ));
    say(format!(
        "escrows: A {} / B {}; BOND (A) {}, CASH (B) {}",
        a.escrow, b.escrow, a.tokens.bond, b.tokens.cash
    ));
    say(format!(
        "coordinator {} (log {})",
        w.coordinator.url,
        w.coordinator.log.display()
    ));
    say(format!(
        "platforms: \"{}\" ({}), \"{}\" ({}), each with a signed webhook endpoint",
        w.seller_platform.name, w.seller_platform.id, w.buyer_platform.name, w.buyer_platform.id
    ));
    let result = match deployment_check(&w) {
        Ok(()) => settle(&w).await,
        Err(e) => Err(e),
    };
    if let Err(e) = &result {
        eprintln!("{}", w.context(None).await);
        return Err(eyre!("{e:?}"));
    }
    w.done();
    say("tearing down: coordinator, anvils");
    result
}

async fn settle(w: &World) -> eyre::Result<()> {
    let t = w.cross_chain_trade("demo");
    let before = balances(w, &t).await?;
    let start_blocks = (w.chain_a.head().await?.0 + 1, w.chain_b.head().await?.0 + 1);

    say(format!(
        "Bond issuer platform submits the seller's side: deliver {} BOND on chain A, receive {} CASH on chain B",
        units(t.quantity, 18),
        units(t.price, 6)
    ));
    let submitted_at = Instant::now();
    let s = w.submit(&t).await?;
    let id = s.settlement_id.clone();
    say(format!(
        "Fund platform submits the buyer's side with trade reference {}: matched, settlement {id}",
        s.trade_reference
    ));
    let cleared = w
        .wait_webhook(&w.seller_platform, &id, "COMPLIANCE_CLEARED")
        .await?;
    let cleared_after = cleared.at.duration_since(submitted_at);
    w.wait_state(&id, "AWAITING_DEPOSITS").await?;
    say("registered on both chains (attested terms): awaiting deposits");

    let ds = w.deposit_of(&w.seller_platform, &id).await?;
    let db = w.deposit_of(&w.buyer_platform, &id).await?;
    say(format!(
        "seller custody {} approves and deposits leg {} on chain {} (from /deposits, verbatim)",
        w.seller.address, ds.leg_index, ds.chain_id
    ));
    let (_, r) = w.seller.fund(&ds).await?;
    say(format!(
        "  deposit tx {} in block {}",
        r.transaction_hash,
        r.block_number.unwrap_or_default()
    ));
    say(format!(
        "buyer custody {} approves and deposits leg {} on chain {}",
        w.buyer.address, db.leg_index, db.chain_id
    ));
    let (_, r) = w.buyer.fund(&db).await?;
    let last_deposit = Instant::now();
    say(format!(
        "  deposit tx {} in block {}: the spoke is LOCKED, LayerZero carries it to the hub",
        r.transaction_hash,
        r.block_number.unwrap_or_default()
    ));
    let fin_seller = w.wait_webhook(&w.seller_platform, &id, "FINALIZED").await?;
    let fin_buyer = w.wait_webhook(&w.buyer_platform, &id, "FINALIZED").await?;
    let latency_seller = fin_seller.at.duration_since(last_deposit);
    let latency_buyer = fin_buyer.at.duration_since(last_deposit);
    w.wait_state(&id, "FINALIZED").await?;
    // Both escrows executed (the spoke by RELEASE).
    for c in [&w.chain_a, &w.chain_b] {
        let started = Instant::now();
        while c.settlement_of(s.onchain_id).await?.state != lockstep_e2e::EscrowState::Executed {
            if started.elapsed() > Duration::from_secs(60) {
                bail!("escrow on chain {} never executed", c.info.chain_id);
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    say("settlement FINALIZED: both escrows executed");
    // Late duplicates would show here.
    tokio::time::sleep(Duration::from_secs(1)).await;
    w.check_webhooks(&id).await?;
    say("every transition reached both platforms exactly once, every signature verified");

    let bundle = w.evidence_bundle(&id).await?;
    let out = w.verify_evidence(&bundle, "bundle.json")?;
    if !out.status.success() {
        bail!(
            "lockstep evidence verify failed ({}): {}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    say(format!(
        "evidence bundle verified against both chains: {}",
        String::from_utf8_lossy(&out.stdout).trim()
    ));

    let after = balances(w, &t).await?;
    let gas_a = w.chain_a.gas_since(start_blocks.0).await?;
    let gas_b = w.chain_b.gas_since(start_blocks.1).await?;
    check_swap(&before, &after, &t)?;

    println!();
    println!("================================ summary ================================");
    println!("settlement        {id}");
    println!("trade reference   {}", s.trade_reference);
    println!("on-chain id       {}", s.onchain_id);
    println!("balances          before -> after");
    println!(
        "  chain A BOND    seller {} -> {}   buyer {} -> {}",
        units(before.seller_bond_a, 18),
        units(after.seller_bond_a, 18),
        units(before.buyer_bond_a, 18),
        units(after.buyer_bond_a, 18)
    );
    println!(
        "  chain B CASH    seller {} -> {}   buyer {} -> {}",
        units(before.seller_cash_b, 6),
        units(after.seller_cash_b, 6),
        units(before.buyer_cash_b, 6),
        units(after.buyer_cash_b, 6)
    );
    print_refs(&bundle);
    println!("timings");
    println!(
        "  instructions -> COMPLIANCE_CLEARED webhook   {:>8.3} s",
        cleared_after.as_secs_f64()
    );
    println!(
        "  last deposit -> FINALIZED webhook, Bond issuer platform   {:>8.3} s",
        latency_seller.as_secs_f64()
    );
    println!(
        "  last deposit -> FINALIZED webhook, Fund platform          {:>8.3} s",
        latency_buyer.as_secs_f64()
    );
    println!(
        "  end-to-end latency (last deposit -> FINALIZED on both)    {:>8.3} s",
        latency_seller.max(latency_buyer).as_secs_f64()
    );
    println!(
        "gas used (every transaction after deployment: registration, deposits, both DVNs, executor)"
    );
    for (label, g) in [("chain A", &gas_a), ("chain B", &gas_b)] {
        print_gas(w, label, g);
    }
    println!(
        "  total    {:>9} gas in {} tx",
        gas_a.gas + gas_b.gas,
        gas_a.txs + gas_b.txs
    );
    println!("=========================================================================");
    Ok(())
}

fn check_swap(before: &Balances, after: &Balances, t: &Trade) -> eyre::Result<()> {
    let ok = after.seller_bond_a + t.quantity == before.seller_bond_a
        && after.buyer_bond_a == before.buyer_bond_a + t.quantity
        && after.seller_cash_b == before.seller_cash_b + t.price
        && after.buyer_cash_b + t.price == before.buyer_cash_b;
    if !ok {
        bail!("balances did not swap exactly");
    }
    Ok(())
}
