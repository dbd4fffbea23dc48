//! R5 end to end: one DVN key cannot forge a message. The coordinator's relayer key (one
//! of the two required DVNs of every receive path) verifies, on the destination's
//! ReceiveUln302, a packet no escrow ever sent: a LOCKED for a settlement whose spoke was
//! never funded, a RELEASE to a spoke while the hub refunds. The ULN stores that
//! verification, yet the packet is never verifiable, never committed and never delivered,
//! and the settlement ends exactly as it would have without the forgery. And the verifier,
//! given two RPC endpoints for a chain, refuses to attest while one of them serves another
//! view of the chain (no logs, other block hashes) and says why.
#![allow(clippy::unwrap_used)]

use alloy::primitives::{B256, keccak256};
use alloy::sol_types::SolValue;
use eyre::ensure;
use lockstep_bindings::{ISettlementEscrow, LzRevert};
use lockstep_e2e::chain::{Chain, Custody};
use lockstep_e2e::forge::{ForgedPacket, LOCKED, RELEASE};
use lockstep_e2e::lying::Lie;
use lockstep_e2e::proxy::ProxyMode;
use lockstep_e2e::steps::{terms_of, to_awaiting_deposits};
use lockstep_e2e::{EscrowState, Submitted, World, WorldOptions};
use std::time::{Duration, Instant};

/// The relayer key (operator of the coordinator's DVN, its `RelayerDvn`) as a custody the
/// test signs with.
fn relayer_key(w: &World) -> eyre::Result<Custody> {
    let info = &w.devnet.info;
    Custody::new(&info.accounts.relayer.private_key, &info.chains)
}

/// Verifies `p` on `dst` as the coordinator's DVN alone (the relayer key through its
/// `RelayerDvn`) and checks it gets no further: the
/// verification is stored, the quorum is not met, `commitVerification` reverts
/// `LZ_ULN_Verifying` and `lzReceive` reverts.
async fn forge_with_one_dvn(w: &World, p: &ForgedPacket, dst: &Chain) -> eyre::Result<()> {
    let relayer = relayer_key(w)?;
    p.verify_as_relayer_dvn(&relayer, dst).await?;
    ensure!(
        p.verified_by(dst, dst.info.relayer_dvn).await?,
        "the relayer's verification of the forged packet is not stored"
    );
    ensure!(
        !p.verifiable(dst).await?,
        "a packet verified by the relayer key alone is verifiable"
    );
    let e = p.commit_revert(&w.buyer, dst).await?;
    ensure!(
        matches!(e, LzRevert::LZ_ULN_Verifying(_)),
        "commitVerification of the forged packet: {e:?}"
    );
    p.lz_receive_outcome(&w.buyer, dst).await?;
    Ok(())
}

/// The settlement did not move: its escrow on `chain_id` is `escrow` and heard from no other
/// chain (`lockedMask` 0), and the coordinator still says `state`.
async fn unmoved(
    w: &World,
    s: &Submitted,
    chain_id: u64,
    escrow: EscrowState,
    state: &str,
) -> eyre::Result<()> {
    let on = w.chain(chain_id)?.settlement_of(s.onchain_id).await?;
    ensure!(
        (on.state, on.locked_mask) == (escrow, 0),
        "escrow on chain {chain_id} moved: {on:?}"
    );
    let now = w.state(&s.settlement_id).await?;
    ensure!(now == state, "settlement {now}, expected {state}");
    Ok(())
}

/// For six seconds: the forged packet is never committed, the independent verifier never
/// verifies it, and the settlement stays [`unmoved`] on `dst`.
async fn stays_unverified(
    w: &World,
    p: &ForgedPacket,
    dst: &Chain,
    s: &Submitted,
    (escrow, state): (EscrowState, &str),
) -> eyre::Result<()> {
    let verifier = w.devnet.info.accounts.verifier.address;
    let until = Instant::now() + Duration::from_secs(6);
    while Instant::now() < until {
        ensure!(
            p.committed_hash(dst).await? == B256::ZERO,
            "the forged packet was committed"
        );
        ensure!(
            !p.verified_by(dst, verifier).await?,
            "the independent verifier verified a packet nobody sent"
        );
        unmoved(w, s, dst.info.chain_id, escrow, state).await?;
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    Ok(())
}

/// Passes the deadline on both chains and waits for TIMED_OUT with every escrow refunded and
/// the two platforms' webhooks each delivered once.
async fn times_out_and_refunds(w: &World, s: &Submitted) -> eyre::Result<()> {
    let timeout_at = w.timeout_at(&s.settlement_id).await?;
    w.warp_to(timeout_at + 1).await?;
    w.wait_state(&s.settlement_id, "TIMED_OUT").await?;
    for c in [&w.chain_a, &w.chain_b] {
        w.wait_escrow(c.info.chain_id, s, EscrowState::Refunded)
            .await?;
    }
    let tr = w.transitions(&s.settlement_id).await?;
    ensure!(
        tr.ends_with(&["AWAITING_DEPOSITS".to_string(), "TIMED_OUT".to_string()]),
        "transitions {tr:?}"
    );
    for p in [&w.seller_platform, &w.buyer_platform] {
        w.wait_webhook(p, &s.settlement_id, "TIMED_OUT").await?;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    w.check_webhooks(&s.settlement_id).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_locked_forged_with_the_relayer_key_alone_is_never_delivered() -> eyre::Result<()> {
    let started = Instant::now();
    let w = World::start(WorldOptions::new("forged_locked")).await?;
    let mut t = w.cross_chain_trade("forged-locked");
    t.timeout_at = chrono::Utc::now() + chrono::Duration::minutes(10);
    let (hub, spoke) = (w.chain(t.asset_chain)?, w.chain(t.cash_chain)?);
    let bond0 = hub.balance(t.asset, w.seller.address).await?;
    let (s, ds, _db) = to_awaiting_deposits(&w, &t).await?;
    // The hub's party deposits; the spoke's party never does.
    w.seller.fund(&ds).await?;
    w.wait_escrow(hub.info.chain_id, &s, EscrowState::Locked)
        .await?;
    let terms = terms_of(&ds)?;
    let on_hub = hub.settlement_of(s.onchain_id).await?;
    ensure!(
        keccak256(terms.abi_encode()) == on_hub.terms_hash,
        "the forged message does not carry the registered terms"
    );
    let forged = ForgedPacket::next_on_path(spoke, hub, LOCKED, &terms).await?;
    ensure!(
        forged.nonce == 1,
        "spoke -> hub already sent {} packets",
        forged.nonce - 1
    );
    forge_with_one_dvn(&w, &forged, hub).await?;
    let expected = (EscrowState::Locked, "AWAITING_DEPOSITS");
    stays_unverified(&w, &forged, hub, &s, expected).await?;

    times_out_and_refunds(&w, &s).await?;
    ensure!(
        hub.balance(t.asset, w.seller.address).await? == bond0,
        "the seller's BOND is not back"
    );
    let received = hub
        .events::<ISettlementEscrow::MessageReceived>(s.onchain_id, w.start_blocks.0)
        .await?;
    ensure!(received.is_empty(), "the hub received {received:?}");
    ensure!(forged.committed_hash(hub).await? == B256::ZERO);
    eprintln!("forged LOCKED scenario took {:?}", started.elapsed());
    w.done();
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_release_forged_while_the_hub_refunds_is_never_delivered() -> eyre::Result<()> {
    let started = Instant::now();
    let w = World::start(WorldOptions::new("forged_release")).await?;
    let mut t = w.cross_chain_trade("forged-release");
    t.timeout_at = chrono::Utc::now() + chrono::Duration::minutes(10);
    let (hub, spoke) = (w.chain(t.asset_chain)?, w.chain(t.cash_chain)?);
    let cash0 = spoke.balance(t.cash, w.buyer.address).await?;
    let (s, _ds, db) = to_awaiting_deposits(&w, &t).await?;
    // The spoke's party deposits (the spoke locks and its LOCKED reaches the hub); the
    // hub's party never does, so the hub will refund.
    w.buyer.fund(&db).await?;
    w.wait_escrow(spoke.info.chain_id, &s, EscrowState::Locked)
        .await?;
    let until = Instant::now() + Duration::from_secs(60);
    while hub.settlement_of(s.onchain_id).await?.locked_mask == 0 {
        ensure!(
            Instant::now() < until,
            "the spoke's LOCKED never reached the hub"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let forged = ForgedPacket::next_on_path(hub, spoke, RELEASE, &terms_of(&db)?).await?;
    ensure!(
        forged.nonce == 1,
        "hub -> spoke already sent {} packets",
        forged.nonce - 1
    );
    forge_with_one_dvn(&w, &forged, spoke).await?;
    let expected = (EscrowState::Locked, "AWAITING_DEPOSITS");
    stays_unverified(&w, &forged, spoke, &s, expected).await?;

    // The hub refunds at the deadline; its ABORT (the real packet at the nonce the forgery
    // used) is verified by both DVNs and unwinds the spoke.
    times_out_and_refunds(&w, &s).await?;
    ensure!(
        spoke.balance(t.cash, w.buyer.address).await? == cash0,
        "the buyer's CASH is not back"
    );
    let received = spoke
        .events::<ISettlementEscrow::MessageReceived>(s.onchain_id, w.start_blocks.1)
        .await?;
    let kinds: Vec<u8> = received.iter().map(|(_, e)| e.kind).collect();
    ensure!(
        kinds == [3],
        "the spoke received kinds {kinds:?}, expected one ABORT"
    );
    let released = spoke
        .events::<ISettlementEscrow::LegReleased>(s.onchain_id, w.start_blocks.1)
        .await?;
    ensure!(released.is_empty(), "the spoke released {released:?}");
    ensure!(
        !forged.verifiable(spoke).await?,
        "the forged RELEASE became verifiable"
    );
    eprintln!("forged RELEASE scenario took {:?}", started.elapsed());
    w.done();
    Ok(())
}

/// Waits until the verifier's `/healthz` is 503 with chain B refusing for a reason
/// containing `why` (a refusal for an earlier lie may show until the next scan); returns
/// the reason.
async fn verifier_refuses(w: &World, why: &str) -> eyre::Result<String> {
    let chain_b = w.chain_b.info.chain_id.to_string();
    let until = Instant::now() + Duration::from_secs(60);
    loop {
        let (code, body) = w.verifier.healthz().await?;
        let b = &body["chains"][&chain_b];
        let reason = b["reason"].as_str().unwrap_or_default();
        if code == 503 && b["status"] == "refusing" && reason.contains(why) {
            return Ok(reason.to_string());
        }
        ensure!(
            Instant::now() < until,
            "the verifier never refused: /healthz {code} {body}\n{}",
            w.verifier.log_tail(30)
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_verifier_refuses_while_its_rpc_endpoints_disagree() -> eyre::Result<()> {
    let started = Instant::now();
    let mut opts = WorldOptions::new("verifier_rpcs");
    // The verifier reads chain B from two endpoints: chain B itself and a proxy that
    // answers eth_getLogs with no logs.
    opts.verifier_proxy_b = Some(ProxyMode::Lying(Lie::NoLogs));
    let mut w = World::start(opts).await?;
    let t = w.cross_chain_trade("verifier-rpcs");
    let (hub, spoke) = (t.asset_chain, t.cash_chain);
    let (s, ds, db) = to_awaiting_deposits(&w, &t).await?;
    w.seller.fund(&ds).await?;
    w.buyer.fund(&db).await?;
    // The spoke (chain B) locks and sends LOCKED: one endpoint shows its PacketSent, the
    // other none.
    w.wait_escrow(spoke, &s, EscrowState::Locked).await?;
    let reason = verifier_refuses(&w, "PacketSent logs").await?;
    eprintln!("verifier refuses: {reason}");
    w.wait_state(&s.settlement_id, "EXECUTING_SWAP").await?;
    // Nothing is delivered: the hub never hears the LOCKED.
    for _ in 0..10 {
        unmoved(&w, &s, hub, EscrowState::Locked, "EXECUTING_SWAP").await?;
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    // The proxy now serves another fork: other block hashes.
    let proxy = w.verifier_proxy_b.as_mut().unwrap();
    proxy.set(ProxyMode::Lying(Lie::OtherBlockHashes)).await?;
    let reason = verifier_refuses(&w, "has hash").await?;
    eprintln!("verifier refuses: {reason}");
    unmoved(&w, &s, hub, EscrowState::Locked, "EXECUTING_SWAP").await?;
    let metrics = w.verifier.metrics().await?;
    let refused: u64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("lockstep_verifier_rpc_disagreements_total "))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0);
    ensure!(refused >= 2, "disagreements counted: {metrics}");
    ensure!(
        metrics.contains(&format!(
            "lockstep_verifier_chain_healthy{{chain_id=\"{spoke}\"}} 0\n"
        )),
        "chain B healthy in the metrics: {metrics}"
    );
    ensure!(
        metrics.contains("lockstep_verifier_verified_total 0\n"),
        "the verifier verified something: {metrics}"
    );
    let log = std::fs::read_to_string(&w.verifier.log)?;
    ensure!(
        log.contains("RPC endpoints disagree: refusing to attest"),
        "no refusal in the verifier's log:\n{}",
        w.verifier.log_tail(30)
    );

    // Honest again: the LOCKED is verified by both DVNs and the settlement finalizes.
    w.verifier_proxy_b
        .as_mut()
        .unwrap()
        .set(ProxyMode::Up)
        .await?;
    w.wait_state(&s.settlement_id, "FINALIZED").await?;
    for c in [hub, spoke] {
        w.wait_escrow(c, &s, EscrowState::Executed).await?;
    }
    let (code, health) = w.verifier.healthz().await?;
    ensure!(code == 200, "verifier /healthz {code}: {health}");
    for p in [&w.seller_platform, &w.buyer_platform] {
        w.wait_webhook(p, &s.settlement_id, "FINALIZED").await?;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    w.check_webhooks(&s.settlement_id).await?;
    eprintln!(
        "verifier RPC disagreement scenario took {:?}",
        started.elapsed()
    );
    w.done();
    Ok(())
}
