//! Permissioned tokens end to end (issue 10 item 5, security.md R6): before registering,
//! the coordinator asks each leg's token (ERC-3643 `canTransfer`) whether the depositor may
//! pay the escrow and the escrow may pay the recipient. A trade whose asset leg is the
//! devnet's `SEC` token, delivered to a recipient the token's identity registry does not
//! verify, ends ROLLED_BACK before anything is registered, and both platforms see why (the
//! webhooks and the event trail name the leg, the token, the address and the reason); once
//! the recipient is verified, the same trade settles.
//!
//! Same harness as `e2e.rs`: the test runs its own devnet and `lockstep serve`.
#![allow(clippy::unwrap_used)]

use alloy::primitives::{Address, U256};
use alloy::sol_types::SolCall;
use eyre::{ensure, eyre};
use lockstep_e2e::{Custody, World, WorldOptions};

alloy::sol! {
    /// The demo permissioned token's issuer call (contracts/src/demo/PermissionedToken.sol).
    interface IPermissioned {
        function setVerified(address account, bool verified) external;
    }
}

/// The issuer (the deployer) verifies or unverifies `who` on `sec` of `chain_id`.
async fn set_verified(
    issuer: &Custody,
    chain_id: u64,
    sec: Address,
    who: Address,
    verified: bool,
) -> eyre::Result<()> {
    let call = IPermissioned::setVerifiedCall {
        account: who,
        verified,
    };
    issuer
        .send(chain_id, sec, call.abi_encode().into(), U256::ZERO)
        .await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unverified_recipient_rolls_back_before_registration_and_a_verified_one_settles()
-> eyre::Result<()> {
    let w = World::start(WorldOptions::new("permissioned")).await?;
    let a = &w.chain_a.info;
    let sec = a
        .tokens
        .sec
        .ok_or_else(|| eyre!("no SEC token in the deployment"))?;
    let issuer = Custody::new(
        &w.devnet.info.accounts.deployer.private_key,
        &w.devnet.info.chains,
    )?;
    // The seller (the asset's depositor) is a verified holder; the buyer (its recipient)
    // is not.
    set_verified(&issuer, a.chain_id, sec, w.seller.address, true).await?;
    let mut t = w.cross_chain_trade("refused");
    t.asset = sec;
    w.seller
        .mint(a.chain_id, sec, t.quantity * U256::from(2u64))
        .await?;

    let s = w.submit(&t).await?;
    let id = &s.settlement_id;
    w.wait_state(id, "ROLLED_BACK").await?;
    let transitions = w.transitions(id).await?;
    ensure!(
        transitions == ["INSTRUCTED", "COMPLIANCE_CHECKING", "ROLLED_BACK"],
        "refused before registration: {transitions:?}"
    );
    for c in [&w.chain_a, &w.chain_b] {
        let on = c.settlement_of(s.onchain_id).await?;
        ensure!(
            on.state == lockstep_e2e::EscrowState::None,
            "registered on chain {} despite the refusal: {:?}",
            c.info.chain_id,
            on.state
        );
    }
    let events = w
        .api
        .get_ok(
            &w.buyer_platform.token,
            &format!("/v1/settlements/{id}/events"),
        )
        .await?;
    let cause = events["items"]
        .as_array()
        .and_then(|a| a.last())
        .and_then(|e| e["cause"].as_str())
        .ok_or_else(|| eyre!("no cause: {events}"))?
        .to_string();
    let buyer = w.buyer.address.to_string();
    for needle in [
        "leg ",
        "SEC",
        &sec.to_string(),
        &buyer,
        "recipient",
        "isVerified false",
        "canTransfer false",
    ] {
        ensure!(cause.contains(needle), "{needle} not in the cause: {cause}");
    }
    ensure!(
        !cause.contains(&w.seller.address.to_string()),
        "the verified depositor is not refused: {cause}"
    );
    for p in [&w.seller_platform, &w.buyer_platform] {
        let state = w
            .wait_event(&p.key, id, "settlement.state.rolled_back")
            .await?;
        ensure!(state["data"]["state"] == "ROLLED_BACK", "{state}");
        let failed = w
            .wait_event(&p.key, id, "settlement.compliance.failed")
            .await?;
        ensure!(
            failed["data"]["detail"].as_str() == Some(cause.as_str()),
            "webhook detail differs from the cause: {failed} vs {cause}"
        );
    }

    // Verified, the same trade settles.
    set_verified(&issuer, a.chain_id, sec, w.buyer.address, true).await?;
    let mut t = w.cross_chain_trade("allowed");
    t.asset = sec;
    let s = w.submit(&t).await?;
    let id = &s.settlement_id;
    w.wait_state(id, "AWAITING_DEPOSITS").await?;
    let ds = w.deposit_of(&w.seller_platform, id).await?;
    let db = w.deposit_of(&w.buyer_platform, id).await?;
    w.seller.fund(&ds).await?;
    w.buyer.fund(&db).await?;
    w.wait_state(id, "FINALIZED").await?;
    ensure!(
        w.chain_a.balance(sec, w.buyer.address).await? == t.quantity,
        "the buyer holds the SEC it bought"
    );
    w.done();
    Ok(())
}
