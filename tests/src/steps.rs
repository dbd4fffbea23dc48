//! Steps and checks the end-to-end tests share: reaching AWAITING_DEPOSITS with checked
//! deposit instructions, balances, and the escrow calls a test makes itself.

use crate::chain::{CallOutcome, hex_bytes};
use crate::{DepositInstruction, EscrowState, Submitted, Trade, World};
use alloy::primitives::{Address, Bytes, U256};
use alloy::sol_types::SolCall;
use eyre::{bail, ensure};
use lockstep_bindings::EscrowRevert;
use lockstep_bindings::ISettlementEscrow::{self, ISettlementEscrowErrors};

/// Submits the trade and waits until it is registered on every chain; returns the seller's
/// and the buyer's deposit instructions, checked against the trade.
pub async fn to_awaiting_deposits(
    w: &World,
    t: &Trade,
) -> eyre::Result<(Submitted, DepositInstruction, DepositInstruction)> {
    let s = w.submit(t).await?;
    w.wait_state(&s.settlement_id, "AWAITING_DEPOSITS").await?;
    let ds = w.deposit_of(&w.seller_platform, &s.settlement_id).await?;
    let db = w.deposit_of(&w.buyer_platform, &s.settlement_id).await?;
    ensure!(
        ds.token == t.asset && ds.chain_id == t.asset_chain && ds.amount == t.quantity.to_string(),
        "seller's deposit instruction does not match the trade: {ds:?}"
    );
    ensure!(
        db.token == t.cash && db.chain_id == t.cash_chain && db.amount == t.price.to_string(),
        "buyer's deposit instruction does not match the trade: {db:?}"
    );
    for (c, d) in [(t.asset_chain, &ds), (t.cash_chain, &db)] {
        let on = w.chain(c)?.settlement_of(s.onchain_id).await?;
        ensure!(
            on.state == EscrowState::Open,
            "escrow on chain {c} is {:?} at AWAITING_DEPOSITS (leg {})",
            on.state,
            d.leg_index
        );
    }
    Ok((s, ds, db))
}

/// Balances of (seller, buyer) in `token` on `chain_id`.
pub async fn balances(w: &World, chain_id: u64, token: Address) -> eyre::Result<(U256, U256)> {
    let c = w.chain(chain_id)?;
    Ok((
        c.balance(token, w.seller.address).await?,
        c.balance(token, w.buyer.address).await?,
    ))
}

/// The terms inside a deposit instruction's `deposit` calldata.
pub fn terms_of(d: &DepositInstruction) -> eyre::Result<ISettlementEscrow::Terms> {
    let call = ISettlementEscrow::depositCall::abi_decode(&hex_bytes(d.calldata()?)?)?;
    Ok(call.terms)
}

/// The on-chain `timeoutAt` of the terms inside a deposit instruction.
pub fn timeout_of(d: &DepositInstruction) -> eyre::Result<u64> {
    Ok(terms_of(d)?.timeoutAt)
}

/// The escrow's `refund(terms)` calldata for the terms inside a deposit instruction.
pub fn refund_calldata(d: &DepositInstruction) -> eyre::Result<Bytes> {
    Ok(ISettlementEscrow::refundCall {
        terms: terms_of(d)?,
    }
    .abi_encode()
    .into())
}

/// The typed escrow error of a reverted call (any other outcome is an error).
pub fn expect_escrow_error(out: CallOutcome, what: &str) -> eyre::Result<ISettlementEscrowErrors> {
    match out {
        CallOutcome::Reverted(EscrowRevert::Escrow(e)) => Ok(e),
        other => bail!("{what}: expected a typed escrow revert, got {other:?}"),
    }
}
