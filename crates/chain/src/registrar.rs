//! Registration of cleared settlements on every chain they touch (the chain side's half of
//! the `SettlementRegistrar` port; `ChainSide` implements the trait with it).
//!
//! For each attestation the registrar reads `settlementOf(settlementId)` first: a settlement
//! already registered (by an earlier attempt, another coordinator instance, or anyone with
//! the attestation) is left alone, so a retry after a crash never registers twice and never
//! fails for it. The move to `AWAITING_DEPOSITS` is not made here: the reconciler makes it
//! when the indexer has seen `SettlementRegistered` on every chain, confirmed.
//!
//! A chain whose clock already passed the terms' `timeoutAt` can never register them
//! (`EscrowExpired`): the registrar leaves it out instead of retrying for ever, and the
//! settlement unwinds on the other chains (the keeper refunds them; the reconciler takes
//! COMPLIANCE_CLEARED -> TIMED_OUT once every registered chain is refunded and every other
//! chain's confirmed clock is past the deadline).

use crate::client::{Chains, rpc};
use crate::error::{ChainError, Result};
use alloy::primitives::Bytes;
use alloy::rpc::types::TransactionRequest;
use alloy::sol_types::SolCall;
use lockstep_bindings::ISettlementEscrow::ISettlementEscrowErrors;
use lockstep_bindings::{EscrowRevert, ISettlementEscrow, escrow_state};
use lockstep_core::ClearedSettlement;

/// Registers `s` on every chain of its attestations that has not registered it yet.
pub async fn register_everywhere(chains: &Chains, s: &ClearedSettlement) -> Result<()> {
    for att in &s.attestations {
        let chain = chains.by_id(att.chain_id).ok_or_else(|| {
            ChainError::Config(format!(
                "settlement {} needs chain {}, which is not configured",
                s.id, att.chain_id
            ))
        })?;
        let escrow = ISettlementEscrow::new(chain.escrow(), chain.provider.clone());
        let cur = escrow
            .settlementOf(s.terms.settlementId)
            .call()
            .await
            .map_err(|e| rpc(att.chain_id, "settlementOf", e))?;
        if cur.state != escrow_state::NONE {
            tracing::info!(settlement_id = %s.id, chain_id = att.chain_id, state = escrow_state::name(cur.state), "already registered");
            continue;
        }
        let sig: Bytes = att
            .signature
            .parse()
            .map_err(|e| ChainError::Config(format!("attestation signature of {}: {e}", s.id)))?;
        let call = ISettlementEscrow::registerCall {
            terms: s.terms.clone(),
            signature: sig,
        };
        if chain.latest_timestamp().await? >= s.terms.timeoutAt {
            expired(s, att.chain_id);
            continue;
        }
        let tx = TransactionRequest::default()
            .to(chain.escrow())
            .input(call.abi_encode().into());
        match chain.sender.send(tx, "register").await {
            Ok(receipt) => tracing::info!(
                settlement_id = %s.id,
                chain_id = att.chain_id,
                tx = %receipt.transaction_hash,
                gas_used = receipt.gas_used,
                "registered on chain"
            ),
            Err(ChainError::Reverted {
                revert: EscrowRevert::Escrow(ISettlementEscrowErrors::EscrowExpired(_)),
                ..
            }) => expired(s, att.chain_id),
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Logs that `chain_id` is left out: its clock passed the deadline before registration.
fn expired(s: &ClearedSettlement, chain_id: u64) {
    tracing::warn!(
        settlement_id = %s.id,
        chain_id,
        timeout_at = s.terms.timeoutAt,
        "the chain's clock passed the deadline before registration; not registering there (the settlement unwinds)"
    );
}
