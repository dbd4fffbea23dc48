//! Escrow v2 end to end (issue 10, security.md R1–R4): a leg whose transfer fails is owed
//! and claimed, never blocking the settlement; a deposit-key signature is bound to its
//! sender.
//!
//! Same harness as `e2e.rs`: each test runs its own devnet and `lockstep serve`.
#![allow(clippy::unwrap_used)]

use alloy::primitives::{Address, U256};
use alloy::sol_types::SolCall;
use eyre::{bail, ensure, eyre};
use lockstep_bindings::EscrowRevert;
use lockstep_bindings::ISettlementEscrow::{self, ISettlementEscrowErrors};
use lockstep_e2e::chain::{CallOutcome, hex_bytes};
use lockstep_e2e::process::lockstep_claim;
use lockstep_e2e::steps::to_awaiting_deposits;
use lockstep_e2e::{
    Custody, DepositInstruction, EscrowState, Submitted, Trade, World, WorldOptions,
};
use serde_json::Value;

alloy::sol! {
    /// The demo permissioned token's issuer calls (contracts/src/demo/PermissionedToken.sol).
    interface IPermissioned {
        function setVerified(address account, bool verified) external;
        function setAddressFrozen(address account, bool frozen) external;
        function mint(address to, uint256 amount) external;
    }
}

/// What `beneficiary` can claim in `token` from the escrow of `chain_id`.
async fn owed(
    w: &World,
    chain_id: u64,
    token: Address,
    beneficiary: Address,
) -> eyre::Result<U256> {
    let c = w.chain(chain_id)?;
    Ok(ISettlementEscrow::new(c.info.escrow, &c.provider)
        .owed(token, beneficiary)
        .call()
        .await?)
}

/// The demo security token (`SEC`) of chain B and its issuer (the deployer), with the
/// parties and `extra` verified holders and the buyer holding `amount`.
async fn permissioned_cash(
    w: &World,
    extra: Address,
    amount: U256,
) -> eyre::Result<(Address, Custody)> {
    let b = &w.chain_b.info;
    let sec = b
        .tokens
        .sec
        .ok_or_else(|| eyre!("no SEC token in the deployment"))?;
    let issuer = Custody::new(
        &w.devnet.info.accounts.deployer.private_key,
        &w.devnet.info.chains,
    )?;
    for who in [w.seller.address, w.buyer.address, extra] {
        let call = IPermissioned::setVerifiedCall {
            account: who,
            verified: true,
        };
        issuer
            .send(b.chain_id, sec, call.abi_encode().into(), U256::ZERO)
            .await?;
    }
    let mint = IPermissioned::mintCall {
        to: w.buyer.address,
        amount,
    };
    issuer
        .send(b.chain_id, sec, mint.abi_encode().into(), U256::ZERO)
        .await?;
    Ok((sec, issuer))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_recipient_is_owed_and_claims_elsewhere() -> eyre::Result<()> {
    let w = World::start(WorldOptions::new("owed_leg")).await?;
    let mut t = w.cross_chain_trade("owed");
    let elsewhere = Address::repeat_byte(0x5e);
    let (sec, issuer) = permissioned_cash(&w, elsewhere, t.price).await?;
    t.cash = sec;
    let cash_chain = t.cash_chain;
    let (s, ds, db) = to_awaiting_deposits(&w, &t).await?;
    w.buyer.fund(&db).await?;
    // The issuer freezes the seller (the payment's recipient) after the buyer's leg is in
    // escrow and before the swap: the payout to the seller must fail at RELEASE.
    let freeze = IPermissioned::setAddressFrozenCall {
        account: w.seller.address,
        frozen: true,
    };
    issuer
        .send(cash_chain, sec, freeze.abi_encode().into(), U256::ZERO)
        .await?;
    w.seller.fund(&ds).await?;

    w.wait_state(&s.settlement_id, "FINALIZED").await?;
    w.wait_escrow(t.asset_chain, &s, EscrowState::Executed)
        .await?;
    w.wait_escrow(cash_chain, &s, EscrowState::Executed).await?;
    for p in [&w.seller_platform, &w.buyer_platform] {
        let body = w
            .wait_event(&p.key, &s.settlement_id, "settlement.leg_owed")
            .await?;
        let text = body.to_string().to_ascii_lowercase();
        ensure!(
            text.contains(&format!("{:#x}", w.seller.address)),
            "leg_owed webhook does not name the seller: {body}"
        );
    }
    assert_eq!(owed(&w, cash_chain, sec, w.seller.address).await?, t.price);
    assert_eq!(
        w.chain(cash_chain)?.balance(sec, w.seller.address).await?,
        U256::ZERO
    );
    // The asset leg was delivered as usual.
    assert_eq!(
        w.chain(t.asset_chain)?
            .balance(t.asset, w.buyer.address)
            .await?,
        t.quantity
    );

    // The evidence anchors the owed leg to its LegOwed log, and the chains confirm it.
    let bundle = w.evidence_bundle(&s.settlement_id).await?;
    let legs = bundle["facts"]["legs"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    ensure!(legs.len() == 2, "two legs in the bundle: {bundle}");
    let owed_leg = legs
        .iter()
        .find(|l| l["leg_index"].as_u64() == Some(db.leg_index as u64))
        .ok_or_else(|| eyre!("no entry for the payment leg: {bundle}"))?;
    assert_eq!(owed_leg["anchor"]["event"], "LegOwed", "{owed_leg}");
    assert_eq!(owed_leg["outcome"], "COMMITTED", "{owed_leg}");
    let out = w.verify_evidence(&bundle, "bundle.json")?;
    ensure!(
        out.status.success(),
        "evidence verify --rpc failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    // The seller claims to another (verified, unfrozen) address of its choice.
    let key = &w.devnet.info.parties.seller.private_key;
    let rpc = w.chain(cash_chain)?.info.rpc_url.clone();
    let escrow = w.chain(cash_chain)?.info.escrow;
    let out = lockstep_claim(&rpc, escrow, sec, elsewhere, key)?;
    ensure!(
        out.status.success(),
        "lockstep claim failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed: Value = serde_json::from_slice(&out.stdout)?;
    assert_eq!(printed["amount"], t.price.to_string(), "{printed}");
    assert!(
        printed["tx_hash"].as_str().is_some_and(|h| h.len() == 66),
        "{printed}"
    );
    assert_eq!(w.chain(cash_chain)?.balance(sec, elsewhere).await?, t.price);
    assert_eq!(
        owed(&w, cash_chain, sec, w.seller.address).await?,
        U256::ZERO
    );
    // A second claim: nothing owed, said clearly, nothing sent.
    let out = lockstep_claim(&rpc, escrow, sec, elsewhere, key)?;
    ensure!(!out.status.success(), "a second claim succeeded");
    let err = String::from_utf8_lossy(&out.stderr);
    ensure!(err.contains("nothing owed"), "{err}");
    w.check_webhooks(&s.settlement_id).await?;
    w.done();
    Ok(())
}

/// Submits `t` with the seller's leg authorised by a one-time deposit key.
async fn submit_with_deposit_key(w: &World, t: &Trade) -> eyre::Result<Submitted> {
    let mut sell = t.seller_instruction();
    sell["party"]["deposit_authorization"] = "deposit_key".into();
    let first = w
        .api
        .post_ok(&w.seller_platform.token, "/v1/instructions", &sell)
        .await?;
    let tr = first["trade_reference"]
        .as_str()
        .ok_or_else(|| eyre!("no trade_reference: {first}"))?
        .to_string();
    let buy = t.buyer_instruction(&tr);
    let second = w
        .api
        .post_ok(&w.buyer_platform.token, "/v1/instructions", &buy)
        .await?;
    let id = second["settlement_id"]
        .as_str()
        .ok_or_else(|| eyre!("not matched: {second}"))?
        .to_string();
    Ok(Submitted {
        settlement_id: id,
        onchain_id: alloy::primitives::keccak256(tr.as_bytes()),
        trade_reference: tr,
        matched_at: std::time::Instant::now(),
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deposit_signature_only_works_for_its_sender() -> eyre::Result<()> {
    let w = World::start(WorldOptions::new("deposit_key")).await?;
    let t = w.cross_chain_trade("depkey");
    let s = submit_with_deposit_key(&w, &t).await?;
    w.wait_state(&s.settlement_id, "AWAITING_DEPOSITS").await?;
    let path = format!(
        "/v1/settlements/{}/deposits?sender={:#x}",
        s.settlement_id, w.seller.address
    );
    let v = w.api.get_ok(&w.seller_platform.token, &path).await?;
    let mut items: Vec<DepositInstruction> = serde_json::from_value(v["items"].clone())?;
    ensure!(items.len() == 1, "one seller leg: {v}");
    let ds = items.remove(0);
    ensure!(
        ds.authorization == "deposit_key" && ds.deposit_key.is_some() && ds.signature.is_some(),
        "a deposit-key leg with a signature for the seller: {ds:?}"
    );
    assert_eq!(ds.sender, Some(w.seller.address));
    // The seller's signed calldata, copied by another sender (front-running): refused.
    let data = hex_bytes(ds.calldata()?)?;
    let out = w
        .buyer
        .call(ds.chain_id, ds.escrow, data, U256::ZERO)
        .await?;
    expect_unauthorized(out, "signature copied to another sender")?;
    // The sender it was signed for deposits.
    let c = w.chain(ds.chain_id)?;
    assert_eq!(c.settlement_of(s.onchain_id).await?.deposited_mask, 0);
    w.seller.fund(&ds).await?;
    assert_eq!(
        c.settlement_of(s.onchain_id)
            .await?
            .deposited_mask
            .count_ones(),
        1
    );
    let depositor = ISettlementEscrow::new(c.info.escrow, &c.provider)
        .depositorOf(s.onchain_id, U256::from(ds.leg_index))
        .call()
        .await?;
    assert_eq!(
        depositor, w.seller.address,
        "the deposit-key leg records its sender"
    );
    w.done();
    Ok(())
}

fn expect_unauthorized(out: CallOutcome, what: &str) -> eyre::Result<()> {
    match out {
        CallOutcome::Reverted(EscrowRevert::Escrow(
            ISettlementEscrowErrors::EscrowUnauthorizedDepositor(_),
        )) => Ok(()),
        other => bail!("{what}: expected EscrowUnauthorizedDepositor, got {other:?}"),
    }
}

/// Polls until `check` holds on the escrow of `chain` for on-chain id `id`.
async fn wait_on_chain(
    w: &World,
    chain: u64,
    id: alloy::primitives::B256,
    what: &str,
    check: impl Fn(&lockstep_e2e::chain::EscrowSettlement) -> bool,
) -> eyre::Result<()> {
    let started = std::time::Instant::now();
    loop {
        let on = w.chain(chain)?.settlement_of(id).await?;
        if check(&on) {
            return Ok(());
        }
        if started.elapsed() > lockstep_e2e::STEP_TIMEOUT {
            bail!("chain {chain}: {what} never happened ({on:?})");
        }
        tokio::time::sleep(lockstep_e2e::POLL).await;
    }
}

/// Cross-chain terms (hub A: the seller's BOND; spoke B: the buyer's CASH), made by the
/// test itself: the coordinator never hears of them.
fn own_terms(w: &World, timeout_at: u64) -> ISettlementEscrow::Terms {
    use ISettlementEscrow::Leg;
    let (a, b) = (&w.chain_a.info, &w.chain_b.info);
    let leg = |eid, token, amount, depositor, recipient| Leg {
        eid,
        token,
        amount,
        depositor,
        depositKey: Address::ZERO,
        recipient,
    };
    ISettlementEscrow::Terms {
        settlementId: alloy::primitives::keccak256(b"LS-UNREGISTERED-HUB"),
        hubEid: a.eid,
        timeoutAt: timeout_at,
        decisionRef: alloy::primitives::B256::repeat_byte(0xde),
        legs: vec![
            leg(
                a.eid,
                a.tokens.bond,
                U256::from(7u64),
                w.seller.address,
                w.buyer.address,
            ),
            leg(
                b.eid,
                b.tokens.cash,
                U256::from(11u64),
                w.buyer.address,
                w.seller.address,
            ),
        ],
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spoke_locked_under_an_unregistered_hub_unwinds_without_the_attester() -> eyre::Result<()>
{
    use alloy::signers::SignerSync;
    use alloy::sol_types::SolValue;
    let w = World::start(WorldOptions::new("unregistered_hub")).await?;
    let (a, b) = (w.chain_a.info.clone(), w.chain_b.info.clone());
    let terms = own_terms(&w, w.chain_b.head().await?.1 + 600);
    let id = terms.settlementId;
    let terms_hash = alloy::primitives::keccak256(terms.abi_encode());
    let eb = ISettlementEscrow::new(b.escrow, &w.chain_b.provider);
    let cash0 = w.chain_b.balance(b.tokens.cash, w.buyer.address).await?;
    // The attester signs the spoke's registration only, then is gone for good.
    {
        let attester: alloy::signers::local::PrivateKeySigner =
            w.devnet.info.accounts.attester.private_key.parse()?;
        let digest = eb
            .registrationDigest(id, terms_hash, terms.decisionRef)
            .call()
            .await?;
        let signature = attester.sign_hash_sync(&digest)?.as_bytes().to_vec().into();
        let reg = ISettlementEscrow::registerCall {
            terms: terms.clone(),
            signature,
        };
        w.buyer
            .send(b.chain_id, b.escrow, reg.abi_encode().into(), U256::ZERO)
            .await?;
    }
    let approve = lockstep_bindings::DemoToken::approveCall {
        spender: b.escrow,
        value: terms.legs[1].amount,
    };
    w.buyer
        .send(
            b.chain_id,
            b.tokens.cash,
            approve.abi_encode().into(),
            U256::ZERO,
        )
        .await?;
    let fee = eb
        .quoteDeposit(terms.clone(), U256::from(1u64))
        .call()
        .await?;
    let dep = ISettlementEscrow::depositCall {
        terms: terms.clone(),
        legIndex: U256::from(1u64),
        signature: Default::default(),
    };
    w.buyer
        .send(b.chain_id, b.escrow, dep.abi_encode().into(), fee)
        .await?;
    assert_eq!(
        w.chain_b.settlement_of(id).await?.state,
        EscrowState::Locked
    );
    // The relayer delivers LOCKED; the never-registered hub buffers it.
    wait_on_chain(&w, a.chain_id, id, "LOCKED buffered on the hub", |on| {
        on.terms_hash == terms_hash && on.state == EscrowState::None
    })
    .await?;
    // Past the deadline anyone aborts the hub with the spoke's terms: no attestation.
    w.warp_to(terms.timeoutAt + 1).await?;
    let ea = ISettlementEscrow::new(a.escrow, &w.chain_a.provider);
    let fee = ea.quoteRefund(terms.clone()).call().await?;
    let refund = ISettlementEscrow::refundCall {
        terms: terms.clone(),
    };
    w.seller
        .send(a.chain_id, a.escrow, refund.abi_encode().into(), fee)
        .await?;
    assert_eq!(
        w.chain_a.settlement_of(id).await?.state,
        EscrowState::Refunded
    );
    // ABORT reaches the locked spoke, which returns the buyer's deposit.
    wait_on_chain(&w, b.chain_id, id, "spoke refunded by ABORT", |on| {
        on.state == EscrowState::Refunded
    })
    .await?;
    assert_eq!(
        w.chain_b.balance(b.tokens.cash, w.buyer.address).await?,
        cash0
    );
    w.done();
    Ok(())
}

alloy::sol! {
    /// OpenZeppelin `TimelockController` (the escrow's owner) and the escrow's pause flag.
    #[sol(rpc)]
    interface ITimelock {
        function schedule(address target, uint256 value, bytes data, bytes32 predecessor, bytes32 salt, uint256 delay) external;
        function execute(address target, uint256 value, bytes payload, bytes32 predecessor, bytes32 salt) external payable;
        function getMinDelay() external view returns (uint256);
    }
    #[sol(rpc)]
    interface IPausable {
        function pause() external;
        function paused() external view returns (bool);
    }
}

/// Pauses the escrow of `chain` through its timelock (admin: the deployer): schedules
/// `pause()` now; returns the delay to wait before [`execute_pause`].
async fn schedule_pause(w: &World, admin: &Custody, chain: u64) -> eyre::Result<u64> {
    let c = w.chain(chain)?;
    let timelock = c.info.timelock.ok_or_else(|| eyre!("no timelock"))?;
    let delay = ITimelock::new(timelock, &c.provider)
        .getMinDelay()
        .call()
        .await?;
    let call = ITimelock::scheduleCall {
        target: c.info.escrow,
        value: U256::ZERO,
        data: IPausable::pauseCall {}.abi_encode().into(),
        predecessor: Default::default(),
        salt: Default::default(),
        delay,
    };
    admin
        .send(chain, timelock, call.abi_encode().into(), U256::ZERO)
        .await?;
    Ok(u64::try_from(delay)?)
}

/// Executes the scheduled `pause()` of `chain`'s escrow and checks it took effect.
async fn execute_pause(w: &World, admin: &Custody, chain: u64) -> eyre::Result<()> {
    let c = w.chain(chain)?;
    let timelock = c.info.timelock.ok_or_else(|| eyre!("no timelock"))?;
    let call = ITimelock::executeCall {
        target: c.info.escrow,
        value: U256::ZERO,
        payload: IPausable::pauseCall {}.abi_encode().into(),
        predecessor: Default::default(),
        salt: Default::default(),
    };
    admin
        .send(chain, timelock, call.abi_encode().into(), U256::ZERO)
        .await?;
    let paused = IPausable::new(c.info.escrow, &c.provider)
        .paused()
        .call()
        .await?;
    ensure!(paused, "escrow on chain {chain} not paused");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pause_never_blocks_an_unwind() -> eyre::Result<()> {
    let mut w = World::start(WorldOptions::new("pause_unwind")).await?;
    let mut t = w.cross_chain_trade("pause");
    t.timeout_at = chrono::Utc::now() + chrono::Duration::minutes(10);
    let bond0 = w
        .chain(t.asset_chain)?
        .balance(t.asset, w.seller.address)
        .await?;
    let (s, ds, _db) = to_awaiting_deposits(&w, &t).await?;
    w.seller.fund(&ds).await?;
    // The owner (the timelock) pauses both escrows while the seller's leg is held; the
    // coordinator is away meanwhile so that the pause is in force before any unwind.
    let admin = Custody::new(
        &w.devnet.info.accounts.deployer.private_key,
        &w.devnet.info.chains,
    )?;
    let mut delay = 0;
    for c in [t.asset_chain, t.cash_chain] {
        delay = delay.max(schedule_pause(&w, &admin, c).await?);
    }
    w.coordinator.stop().await?;
    let (_, now) = w.chain_a.head().await?;
    let (_, now_b) = w.chain_b.head().await?;
    w.warp_to(now.max(now_b) + delay + 1).await?;
    for c in [t.asset_chain, t.cash_chain] {
        execute_pause(&w, &admin, c).await?;
    }
    // Past the deadline (the timelock delay exceeds any settlement's duration), paused:
    // the keeper's refunds still unwind the settlement.
    w.coordinator.start().await?;
    w.wait_state(&s.settlement_id, "TIMED_OUT").await?;
    w.wait_escrow(t.asset_chain, &s, EscrowState::Refunded)
        .await?;
    w.wait_escrow(t.cash_chain, &s, EscrowState::Refunded)
        .await?;
    assert_eq!(
        w.chain(t.asset_chain)?
            .balance(t.asset, w.seller.address)
            .await?,
        bond0
    );
    w.check_webhooks(&s.settlement_id).await?;
    w.done();
    Ok(())
}
