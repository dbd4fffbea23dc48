//! The deposit instructions of a cleared settlement: per leg a platform must fund, how it
//! is authorised (fixed depositor or one-time deposit key, escrow v2) and the ready-to-sign
//! `approve` and `deposit` calldata.

use super::store::{self, SettlementRow, parse_json};
use crate::terms::{self, Escrows, Terms};
use crate::trade::DepositAuthorization;
use crate::{Error, Result};
use alloy::primitives::{Address, B256, Bytes, U256};
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::SolCall;
use lockstep_core::{Db, EscrowChain};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

/// One leg a platform must fund, with ready-to-sign calldata.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DepositInstruction {
    /// Index of the leg in `terms.legs`.
    pub leg_index: usize,
    /// EVM chain id to send both transactions on.
    pub chain_id: u64,
    /// The escrow (target of `deposit`, spender of `approve`).
    pub escrow: String,
    /// The ERC-20 (target of `approve`).
    pub token: String,
    /// Exact amount, base units.
    pub amount: String,
    /// `depositor` (only `sender` can deposit) or `deposit_key` (any sender the one-time
    /// key signed for).
    pub authorization: DepositAuthorization,
    /// The address that must send `approve` and `deposit`: the fixed depositor, or for a
    /// deposit-key leg the `?sender=` of the request (null without it).
    pub sender: Option<String>,
    /// Deposit-key legs: the one-time key's address (`Leg.depositKey`); null otherwise.
    pub deposit_key: Option<String>,
    /// Deposit-key legs: the one-time key itself (0x-hex, 32 bytes), so the platform can
    /// sign `Deposit(settlementId, legIndex, sender)` for any custody address; keep it
    /// private. Null otherwise.
    pub deposit_key_private_key: Option<String>,
    /// Deposit-key legs with a `sender`: the key's 65-byte `r ‖ s ‖ v` EIP-712 signature
    /// for that sender (useless from any other sender). Null otherwise.
    pub signature: Option<String>,
    /// `approve(escrow, amount)` calldata for `token`.
    pub approve_calldata: String,
    /// `deposit(terms, legIndex, signature)` calldata for `escrow`, to send from `sender`
    /// (empty signature for depositor legs); null for a deposit-key leg without `sender`.
    /// Send with the LayerZero fee from the escrow's `quoteDeposit` as value on spoke
    /// chains.
    pub deposit_calldata: Option<String>,
}

/// One stored leg authorisation: the leg, the role that funds it, the one-time key of a
/// deposit-key leg.
struct StoredAuth {
    leg_index: usize,
    role: String,
    key: Option<PrivateKeySigner>,
}

/// Reads one entry of the stored `deposit_secrets` (see [`terms::BuiltTerms::secrets`]).
fn stored_auth(e: &Value) -> Result<StoredAuth> {
    let corrupt = || Error::Corrupt {
        what: "deposit authorisations",
        message: format!("unreadable entry (leg {})", e["leg_index"]),
    };
    let leg_index = e["leg_index"]
        .as_u64()
        .and_then(|i| usize::try_from(i).ok())
        .ok_or_else(corrupt)?;
    let key = match e["authorization"].as_str() {
        Some("depositor") => None,
        Some("deposit_key") => {
            let raw: B256 = e["private_key"]
                .as_str()
                .and_then(|k| k.parse().ok())
                .ok_or_else(corrupt)?;
            Some(PrivateKeySigner::from_bytes(&raw).map_err(|_| corrupt())?)
        }
        _ => return Err(corrupt()),
    };
    Ok(StoredAuth {
        leg_index,
        role: e["role"].as_str().unwrap_or_default().to_string(),
        key,
    })
}

fn hex0x(b: &[u8]) -> String {
    format!("0x{}", hex::encode(b))
}

/// The instruction for leg `a.leg_index` of `t`; `sender` is the requested sender of a
/// deposit-key leg.
fn instruction(
    t: &Terms,
    chain: &EscrowChain,
    a: &StoredAuth,
    sender: Option<Address>,
) -> Result<DepositInstruction> {
    let i = a.leg_index;
    let leg = &t.legs[i];
    let approve = terms::approveCall {
        spender: chain.escrow,
        amount: leg.amount,
    }
    .abi_encode();
    let (authorization, sender, signature) = match &a.key {
        None => (DepositAuthorization::Depositor, Some(leg.depositor), None),
        Some(k) => {
            let sig = sender
                .map(|s| terms::sign_deposit(k, chain.chain_id, chain.escrow, t.settlementId, i, s))
                .transpose()?;
            (DepositAuthorization::DepositKey, sender, sig)
        }
    };
    let deposit = match (&a.key, &signature) {
        (Some(_), None) => None,
        _ => Some(
            terms::depositCall {
                terms: t.clone(),
                legIndex: U256::from(i),
                signature: Bytes::from(signature.clone().unwrap_or_default()),
            }
            .abi_encode(),
        ),
    };
    Ok(DepositInstruction {
        leg_index: i,
        chain_id: chain.chain_id,
        escrow: chain.escrow.to_checksum(None),
        token: leg.token.to_checksum(None),
        amount: leg.amount.to_string(),
        authorization,
        sender: sender.map(|s| s.to_checksum(None)),
        deposit_key: a.key.as_ref().map(|k| k.address().to_checksum(None)),
        deposit_key_private_key: a.key.as_ref().map(|k| hex0x(&k.to_bytes()[..])),
        signature: signature.as_deref().map(hex0x),
        approve_calldata: hex0x(&approve),
        deposit_calldata: deposit.as_deref().map(hex0x),
    })
}

/// The legs `platform` must fund (its parties' delivering legs); empty before clearing.
/// `sender` names the custody address that will deposit the deposit-key legs (their
/// signature and calldata are for it).
pub async fn deposits(
    db: &Db,
    escrows: &Escrows,
    s: &SettlementRow,
    platform: &str,
    sender: Option<Address>,
) -> Result<Vec<DepositInstruction>> {
    let secrets = store::deposit_secrets(db, &s.id).await?;
    let (Some(secrets), Some(tv)) = (secrets, parse_json::<Value>("terms", s.terms.as_deref())?)
    else {
        return Ok(Vec::new());
    };
    let t = terms::terms_from_json(&tv).ok_or(Error::Corrupt {
        what: "terms",
        message: "unreadable".into(),
    })?;
    let mut out = Vec::new();
    for e in &secrets {
        let a = stored_auth(e)?;
        let funder = match a.role.as_str() {
            "seller" => Some(s.seller_platform_id.as_str()),
            "buyer" => Some(s.buyer_platform_id.as_str()),
            role => s
                .more_parties
                .iter()
                .find(|p| p.role == role)
                .map(|p| p.platform_id.as_str()),
        };
        let mine = funder == Some(platform);
        let Some(leg) = t.legs.get(a.leg_index).filter(|_| mine) else {
            continue;
        };
        let Some(chain) = escrows.by_eid(leg.eid) else {
            continue;
        };
        out.push(instruction(&t, chain, &a, sender)?);
    }
    Ok(out)
}
