//! The deposit instructions of a cleared settlement: per leg a platform must fund, the
//! ready-to-sign `approve` and `deposit` calldata.

use super::store::{self, SettlementRow, parse_json};
use crate::terms::{self, Escrows};
use crate::{Error, Result};
use alloy::primitives::{B256, U256};
use alloy::sol_types::SolCall;
use lockstep_core::Db;
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
    /// The deposit secret authorising this leg (keep it private until deposited).
    pub secret: String,
    /// `approve(escrow, amount)` calldata for `token`.
    pub approve_calldata: String,
    /// `deposit(terms, legIndex, secret)` calldata for `escrow`; send with the LayerZero fee
    /// from the escrow's `quoteDeposit` as value on spoke chains.
    pub deposit_calldata: String,
}

/// One stored deposit secret: its leg, the role that funds it, the secret.
fn secret_entry(e: &Value) -> Result<(usize, &str, B256)> {
    let role = e["role"].as_str().unwrap_or_default();
    match (
        e["leg_index"]
            .as_u64()
            .and_then(|i| usize::try_from(i).ok()),
        e["secret"].as_str().and_then(|x| x.parse::<B256>().ok()),
    ) {
        (Some(i), Some(secret)) => Ok((i, role, secret)),
        _ => Err(Error::Corrupt {
            what: "deposit secrets",
            message: e.to_string(),
        }),
    }
}

/// The legs `platform` must fund (its parties' delivering legs); empty before clearing.
pub async fn deposits(
    db: &Db,
    escrows: &Escrows,
    s: &SettlementRow,
    platform: &str,
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
        let (i, role, secret) = secret_entry(e)?;
        let mine = (role == "seller" && s.seller_platform_id == platform)
            || (role == "buyer" && s.buyer_platform_id == platform);
        let Some(leg) = t.legs.get(i).filter(|_| mine) else {
            continue;
        };
        let Some(chain) = escrows.by_eid(leg.eid) else {
            continue;
        };
        let approve = terms::approveCall {
            spender: chain.escrow,
            amount: leg.amount,
        }
        .abi_encode();
        let deposit = terms::depositCall {
            terms: t.clone(),
            legIndex: U256::from(i),
            secret,
        }
        .abi_encode();
        out.push(DepositInstruction {
            leg_index: i,
            chain_id: chain.chain_id,
            escrow: chain.escrow.to_checksum(None),
            token: leg.token.to_checksum(None),
            amount: leg.amount.to_string(),
            secret: secret.to_string(),
            approve_calldata: format!("0x{}", hex::encode(approve)),
            deposit_calldata: format!("0x{}", hex::encode(deposit)),
        });
    }
    Ok(out)
}
