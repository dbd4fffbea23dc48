//! The transfer-eligibility check (security.md R6), the chain side of
//! `lockstep_core::TransferEligibility`: before the coordinator clears a settlement, every
//! leg's token is asked, on that leg's chain with read-only `eth_call`s, whether the
//! depositor may pay the escrow and the escrow may pay the recipient (ERC-3643
//! `canTransfer(from, to, amount)`). A token without that function (the call reverts or
//! returns nothing decodable) is unrestricted. The probe amount is 0: balances are the
//! deposit's concern, not eligibility (the escrow holds nothing for the settlement yet). A
//! refusal is explained with the identity registry's `isVerified` when the token has one.
//! A deposit-key leg has no known sender: only escrow → recipient is checked.
//! [`ChainSide`] implements the port with [`check`].

use crate::client::ChainClient;
use crate::side::ChainSide;
use alloy::network::TransactionBuilder;
use alloy::primitives::{Address, Bytes, U256};
use alloy::providers::Provider;
use alloy::rpc::types::TransactionRequest;
use alloy::sol_types::SolCall;
use async_trait::async_trait;
use lockstep_bindings::ISettlementEscrow::Terms;
use lockstep_core::{EligibilityError, Refusal, TransferEligibility};
use std::sync::Arc;

alloy::sol! {
    /// The ERC-3643 calls the check makes (all views).
    interface ITransferCheck {
        function canTransfer(address from, address to, uint256 amount) external view returns (bool);
        function isVerified(address account) external view returns (bool);
        function identityRegistry() external view returns (address);
        function symbol() external view returns (string);
    }
}

/// Every refused transfer of `terms`' legs; an error when a chain is unknown or a call
/// fails for another reason than a revert (the coordinator retries).
pub async fn check(
    chains: &[Arc<ChainClient>],
    terms: &Terms,
) -> Result<Vec<Refusal>, EligibilityError> {
    let mut refusals = Vec::new();
    for (leg_index, leg) in terms.legs.iter().enumerate() {
        let chain = chains
            .iter()
            .find(|c| c.config.eid == leg.eid)
            .ok_or_else(|| EligibilityError {
                message: format!("leg {leg_index}: no chain with eid {}", leg.eid),
            })?;
        let escrow = chain.escrow();
        let mut transfers = Vec::new();
        if leg.depositor != Address::ZERO && leg.depositKey == Address::ZERO {
            transfers.push((("depositor", leg.depositor), ("escrow", escrow)));
        }
        transfers.push((("escrow", escrow), ("recipient", leg.recipient)));
        for ((from_role, from), (to_role, to)) in transfers {
            let call = ITransferCheck::canTransferCall {
                from,
                to,
                amount: U256::ZERO,
            };
            let Some(allowed) = view(chain, leg.token, &call).await? else {
                break; // no canTransfer: an unrestricted token
            };
            if allowed {
                continue;
            }
            let mut why = Vec::new();
            for (role, who) in [(from_role, from), (to_role, to)] {
                if verified(chain, leg.token, who).await? == Some(false) {
                    why.push(format!("{role} {who} is not verified (isVerified false)"));
                }
            }
            why.push("canTransfer false".into());
            let symbol = view(chain, leg.token, &ITransferCheck::symbolCall {}).await?;
            refusals.push(Refusal {
                leg_index,
                token: leg.token,
                symbol,
                from,
                to,
                reason: format!("{from_role} {from} to {to_role} {to}: {}", why.join(", ")),
            });
        }
    }
    Ok(refusals)
}

#[async_trait]
impl TransferEligibility for ChainSide {
    async fn check(&self, terms: &Terms) -> Result<Vec<Refusal>, EligibilityError> {
        check(self.chains(), terms).await
    }
}

/// `isVerified(who)` on the token, or on its `identityRegistry()`; `None` without either.
async fn verified(
    chain: &ChainClient,
    token: Address,
    who: Address,
) -> Result<Option<bool>, EligibilityError> {
    let call = ITransferCheck::isVerifiedCall { account: who };
    if let Some(v) = view(chain, token, &call).await? {
        return Ok(Some(v));
    }
    match view(chain, token, &ITransferCheck::identityRegistryCall {}).await? {
        Some(registry) if registry != Address::ZERO && registry != token => {
            view(chain, registry, &call).await
        }
        _ => Ok(None),
    }
}

/// One read-only call: `Ok(None)` when the contract reverts or its answer does not decode
/// (it does not implement the function); `Err` for any other failure.
async fn view<C: SolCall>(
    chain: &ChainClient,
    to: Address,
    call: &C,
) -> Result<Option<C::Return>, EligibilityError> {
    let tx = TransactionRequest::default()
        .with_to(to)
        .with_input(Bytes::from(call.abi_encode()));
    match chain.provider.call(tx).await {
        Ok(data) => Ok(C::abi_decode_returns(&data).ok()),
        Err(e) => match e.as_error_resp() {
            Some(p) if p.code == 3 || p.message.to_lowercase().contains("revert") => Ok(None),
            _ => Err(EligibilityError {
                message: format!("chain {}: {} on {to}: {e}", chain.chain_id(), C::SIGNATURE),
            }),
        },
    }
}
