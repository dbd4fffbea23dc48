//! The three-party Lockstep demo (`script/demo --three-chains`): three platforms, three
//! chains, one `dvp-fx` trade. The seller delivers 100 BOND on chain A and is paid 2,300
//! CASH on chain C; the buyer pays 2,500 CASH on chain B and receives the BOND; an FX
//! provider takes the buyer's CASH on B and pays the seller on C. Each party deposits from
//! its own key on its own chain; the hub (chain A, by the hub rule) swaps once both spokes'
//! LOCKED messages are in, and RELEASE goes back to both. Prints the deployment check's
//! table, every webhook, the evidence refs (one anchor per chain, verified against all
//! three), balances, latency and gas per chain. Exits non-zero if anything fails.

use eyre::{bail, eyre};
use lockstep_e2e::fx::FxTrade;
use lockstep_e2e::report::{deployment_check, now, print_gas, print_refs, say, units};
use lockstep_e2e::webhooks::Delivery;
use lockstep_e2e::{EscrowState, World, WorldOptions};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> std::process::ExitCode {
    match run().await {
        Ok(()) => {
            say("three-party demo finished: FINALIZED on all three chains, evidence verified");
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
    say("starting the devnet: three anvil chains, LayerZero v2 stack, escrows wired pairwise");
    let mut opts = WorldOptions::new("demo-fx");
    opts.chains = 3;
    opts.on_webhook = Some(Arc::new(|d: &Delivery| {
        let data = &d.body["data"];
        println!(
            "[{}]   webhook -> {:<12} {:<36} {} -> {}",
            d.received_at.format("%H:%M:%S%.3f"),
            d.platform,
            d.event,
            data["previous_state"].as_str().unwrap_or("-"),
            data["state"].as_str().unwrap_or("-"),
        );
    }));
    let w = World::start(opts).await?;
    say(format!(
        "devnet ready in {:.1} s: chains {}",
        t0.elapsed().as_secs_f64(),
        w.chains()
            .iter()
            .map(|c| format!(
                "{} (chain id {}, eid {})",
                c.info.label, c.info.chain_id, c.info.eid
            ))
            .collect::<Vec<_>>()
            .join(", ")
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
    say("tearing down: coordinator, verifier, anvils");
    result
}

async fn settle(w: &World) -> eyre::Result<()> {
    let t = FxTrade::new(w, "demo-fx")?;
    let c = w.chain_c.as_ref().ok_or_else(|| eyre!("no chain C"))?;
    let (_, fx) = w.fx_party()?;
    let mut starts = Vec::new();
    for chain in w.chains() {
        starts.push(chain.head().await?.0 + 1);
    }
    say(format!(
        "three platforms submit their sides of one dvp-fx trade: {} BOND (A) against {} CASH (B) -> {} CASH (C)",
        units(t.quantity, 18),
        units(t.usd_amount, 6),
        units(t.eur_amount, 6)
    ));
    let s = w.submit_fx(&t).await?;
    let id = s.settlement_id.clone();
    say(format!("matched after the third side: settlement {id}"));
    w.wait_state(&id, "AWAITING_DEPOSITS").await?;
    say("screened, cleared and registered on all three chains (hub: chain A by the hub rule)");
    let [ds, db, df] = w.fx_deposits(&t, &id).await?;
    let fx_custody = w.fx.as_ref().ok_or_else(|| eyre!("no FX custody"))?;
    w.seller.fund(&ds).await?;
    say(format!(
        "seller deposited leg {} on chain {}",
        ds.leg_index, ds.chain_id
    ));
    fx_custody.fund(&df).await?;
    say(format!(
        "FX provider deposited leg {} on chain {}",
        df.leg_index, df.chain_id
    ));
    w.buyer.fund(&db).await?;
    let last_deposit = Instant::now();
    say(format!(
        "buyer deposited leg {} on chain {} (the last leg)",
        db.leg_index, db.chain_id
    ));
    let mut latency = Duration::ZERO;
    for p in w.platforms() {
        let d = w.wait_webhook(p, &id, "FINALIZED").await?;
        latency = latency.max(d.at.duration_since(last_deposit));
    }
    for chain in w.chains() {
        w.wait_escrow(chain.info.chain_id, &s, EscrowState::Executed)
            .await?;
    }
    say("FINALIZED: all three escrows executed");
    tokio::time::sleep(Duration::from_secs(1)).await;
    w.check_webhooks(&id).await?;
    say("every transition reached all three platforms exactly once, signatures verified");
    let bundle = w.evidence_bundle(&id).await?;
    let out = w.verify_evidence(&bundle, "bundle.json")?;
    if !out.status.success() {
        bail!(
            "lockstep evidence verify failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    say("evidence bundle verified against all three chains");

    println!();
    println!("================================ summary ================================");
    println!("settlement        {id}");
    println!("trade reference   {}", s.trade_reference);
    println!("balances after");
    println!(
        "  chain A BOND    seller {}   buyer {}",
        units(w.chain_a.balance(t.bond.0, w.seller.address).await?, 18),
        units(w.chain_a.balance(t.bond.0, w.buyer.address).await?, 18)
    );
    println!(
        "  chain B CASH    buyer {}   FX provider {}",
        units(w.chain_b.balance(t.usd.0, w.buyer.address).await?, 6),
        units(w.chain_b.balance(t.usd.0, fx).await?, 6)
    );
    println!(
        "  chain C CASH    FX provider {}   seller {}",
        units(c.balance(t.eur.0, fx).await?, 6),
        units(c.balance(t.eur.0, w.seller.address).await?, 6)
    );
    print_refs(&bundle);
    println!("timings");
    println!(
        "  end-to-end latency (last deposit -> FINALIZED at all three)  {:>8.3} s",
        latency.as_secs_f64()
    );
    println!("gas used (every transaction after deployment)");
    let mut total = (0, 0);
    for (chain, from) in w.chains().into_iter().zip(starts) {
        let g = chain.gas_since(from).await?;
        print_gas(w, &format!("chain {}", chain.info.label), &g);
        total = (total.0 + g.gas, total.1 + g.txs);
    }
    println!("  total    {:>9} gas in {} tx", total.0, total.1);
    println!("=========================================================================");
    Ok(())
}
