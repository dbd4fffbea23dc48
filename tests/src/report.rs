//! What the demos print: timestamps, amounts, the deployment check's table, the evidence
//! refs and gas per chain.

use crate::chain::GasReport;
use crate::world::World;
use alloy::primitives::U256;
use eyre::bail;
use serde_json::Value;
use std::time::Instant;

/// The wall clock, `HH:MM:SS.mmm` (UTC).
pub fn now() -> String {
    chrono::Utc::now().format("%H:%M:%S%.3f").to_string()
}

/// Prints one timestamped line.
pub fn say(msg: impl AsRef<str>) {
    println!("[{}] {}", now(), msg.as_ref());
}

/// `amount` base units with `decimals` as a decimal string.
pub fn units(amount: U256, decimals: u32) -> String {
    let scale = U256::from(10u64).pow(U256::from(decimals));
    let whole = amount / scale;
    let frac = amount % scale;
    if frac.is_zero() {
        whole.to_string()
    } else {
        let f = format!("{:0>width$}", frac.to_string(), width = decimals as usize);
        format!("{whole}.{}", f.trim_end_matches('0'))
    }
}

/// `lockstep deployment check` on the world's configuration: prints its table, fails the
/// demo on any deviation.
pub fn deployment_check(w: &World) -> eyre::Result<()> {
    let started = Instant::now();
    let out = crate::process::deployment_check(&w.coordinator.config)?;
    say(format!(
        "deployment check (bytecode vs contracts/src, owner, delegate, timelock, peers, libraries, DVNs) in {:.1} s:",
        started.elapsed().as_secs_f64()
    ));
    print!("{}", String::from_utf8_lossy(&out.stdout));
    if !out.status.success() {
        bail!(
            "deployment check failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

/// Prints one chain's gas line: total, transactions, and per sender.
pub fn print_gas(w: &World, label: &str, g: &GasReport) {
    let parts: Vec<String> = g
        .by_sender
        .iter()
        .map(|(who, (n, gas))| format!("{} {n} tx {gas}", w.label(*who)))
        .collect();
    println!(
        "  {label}  {:>9} gas in {} tx   ({})",
        g.gas,
        g.txs,
        parts.join(", ")
    );
}

/// Prints the evidence refs of a bundle: the decision, each leg's execution and anchor.
pub fn print_refs(bundle: &Value) {
    let s = |v: &Value| v.as_str().unwrap_or("-").to_string();
    println!("evidence");
    println!(
        "  decision_ref          {}",
        s(&bundle["decision"]["decision_ref"])
    );
    println!(
        "  on-chain decisionRef  {}",
        s(&bundle["decision"]["onchain_decision_ref"])
    );
    if let Some(legs) = bundle["legs"].as_array() {
        for (i, l) in legs.iter().enumerate() {
            let anchor = &bundle["facts"]["legs"][i]["anchor"];
            println!(
                "  leg {}  execution_ref {}  outcome {}",
                l["leg_index"],
                s(&l["execution_ref"]),
                s(&l["execution"]["outcome"])
            );
            println!(
                "         anchor chain {} tx {} block {} ({})",
                anchor["chain_id"],
                s(&anchor["tx_hash"]),
                anchor["block_number"],
                s(&anchor["event"])
            );
        }
    }
    println!(
        "  audit chain cap       {}",
        s(&bundle["audit_chain"]["cap"])
    );
}
