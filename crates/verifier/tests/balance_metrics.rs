//! The verifier key's balance on its own `/metrics`, read from a real anvil chain: the
//! balance gauge and the below-minimum gauge against the chain's `min_balance_wei`.
#![allow(clippy::unwrap_used, missing_docs)]

use alloy::primitives::U256;
use alloy::providers::{Provider, ProviderBuilder};
use alloy::signers::local::PrivateKeySigner;
use lockstep_verifier::http::render;
use lockstep_verifier::{Verifier, VerifierChain, VerifierConfig};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// An anvil on a free loopback port, killed on drop.
struct Anvil(Child, String);

impl Drop for Anvil {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn anvil() -> Anvil {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new("anvil")
        .args([
            "--host",
            "127.0.0.1",
            "--port",
            &port.to_string(),
            "--chain-id",
            "31337",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("anvil on PATH (source script/lib.sh && ensure_npm)");
    let node = Anvil(child, format!("http://127.0.0.1:{port}"));
    let provider = ProviderBuilder::new().connect_http(node.1.parse().unwrap());
    for _ in 0..100 {
        if provider.get_chain_id().await.is_ok() {
            return node;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("anvil did not answer on {}", node.1);
}

fn line<'a>(text: &'a str, prefix: &str) -> &'a str {
    text.lines()
        .find(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("no {prefix} in\n{text}"))
}

#[tokio::test]
async fn balance_gauges_follow_the_key_against_the_minimum() {
    let node = anvil().await;
    let chain = VerifierChain {
        chain_id: 31337,
        eid: 40101,
        escrow: alloy::primitives::Address::repeat_byte(1),
        endpoint: alloy::primitives::Address::repeat_byte(2),
        receive_lib: alloy::primitives::Address::repeat_byte(3),
        rpc_urls: vec![node.1.clone()],
        confirmations: 1,
        start_block: 0,
        min_balance_wei: Some(1_000),
    };
    let config = VerifierConfig {
        listen: "127.0.0.1:0".into(),
        poll_interval_ms: 100,
        rpc_timeout_ms: 5_000,
        chains: vec![chain],
    };
    let verifier = Verifier::new(config, PrivateKeySigner::random()).unwrap();
    let health = verifier.health();
    assert!(
        !render(&health).contains("lockstep_verifier_balance_wei{"),
        "nothing read yet"
    );

    // A fresh key: empty, below the minimum.
    verifier.read_balances().await;
    let text = render(&health);
    assert!(
        text.contains("# TYPE lockstep_verifier_balance_wei gauge\n"),
        "{text}"
    );
    assert!(
        text.contains("# TYPE lockstep_verifier_balance_below_minimum gauge\n"),
        "{text}"
    );
    assert_eq!(
        line(&text, "lockstep_verifier_balance_wei{"),
        "lockstep_verifier_balance_wei{chain_id=\"31337\"} 0"
    );
    assert_eq!(
        line(&text, "lockstep_verifier_balance_below_minimum{"),
        "lockstep_verifier_balance_below_minimum{chain_id=\"31337\"} 1"
    );

    // Refilled above the minimum: the gauges follow.
    let provider = ProviderBuilder::new().connect_http(node.1.parse().unwrap());
    let _: () = provider
        .raw_request(
            "anvil_setBalance".into(),
            (verifier.address(), U256::from(5_000u64)),
        )
        .await
        .unwrap();
    verifier.read_balances().await;
    let text = render(&health);
    assert_eq!(
        line(&text, "lockstep_verifier_balance_wei{"),
        "lockstep_verifier_balance_wei{chain_id=\"31337\"} 5000"
    );
    assert_eq!(
        line(&text, "lockstep_verifier_balance_below_minimum{"),
        "lockstep_verifier_balance_below_minimum{chain_id=\"31337\"} 0"
    );
}
