//! The on-chain settlement terms and the EIP-712 registration attestation, exactly as
//! docs/onchain-terms.md fixes them.

use crate::config::ChainConfig;
use crate::{Error, Result};
use alloy::primitives::{Address, B256, U256, keccak256};
use alloy::signers::SignerSync;
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::{SolStruct, SolValue, eip712_domain};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// `Leg`, `Terms` and the escrow's `deposit` call come from the bindings generated from
/// the compiled contract (crates/bindings), so the coordinator's encoding cannot drift from
/// the Solidity.
pub use lockstep_bindings::ISettlementEscrow::{Leg, Terms, depositCall};

alloy::sol! {
    /// ERC-20 approval of the escrow for the leg amount.
    function approve(address spender, uint256 amount) external returns (bool);

    /// The EIP-712 message the attester signs.
    #[derive(Debug, PartialEq, Eq)]
    struct Registration {
        bytes32 settlementId;
        bytes32 termsHash;
        bytes32 decisionRef;
    }
}

/// `settlementId = keccak256(utf8(trade_reference))`.
pub fn settlement_id(trade_reference: &str) -> B256 {
    keccak256(trade_reference.as_bytes())
}

/// `termsHash = keccak256(abi.encode(terms))`.
pub fn terms_hash(terms: &Terms) -> B256 {
    keccak256(terms.abi_encode())
}

/// `depositKey = keccak256(abi.encodePacked(bytes32 secret))`.
pub fn deposit_key(secret: &B256) -> B256 {
    keccak256(secret.as_slice())
}

/// The EIP-712 signing hash of the registration on one escrow.
pub fn registration_signing_hash(chain_id: u64, escrow: Address, reg: &Registration) -> B256 {
    let domain = eip712_domain! {
        name: "Lockstep",
        version: "1",
        chain_id: chain_id,
        verifying_contract: escrow,
    };
    reg.eip712_signing_hash(&domain)
}

/// A signed registration for one chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Attestation {
    /// EVM chain id of the escrow.
    pub chain_id: u64,
    /// LayerZero endpoint id of that chain.
    pub eid: u32,
    /// The escrow (EIP-712 verifying contract).
    #[schema(value_type = String)]
    pub escrow: Address,
    /// The attester's address.
    #[schema(value_type = String)]
    pub attester: Address,
    /// 65 bytes `r || s || v`, 0x-hex.
    pub signature: String,
}

/// Signs the registration for every chain the terms touch (in the order of `chains`).
pub fn attest(
    signer: &PrivateKeySigner,
    terms: &Terms,
    chains: &[&ChainConfig],
    settlement: &str,
) -> Result<Vec<Attestation>> {
    let reg = Registration {
        settlementId: terms.settlementId,
        termsHash: terms_hash(terms),
        decisionRef: terms.decisionRef,
    };
    chains
        .iter()
        .map(|c| {
            let hash = registration_signing_hash(c.chain_id, c.escrow, &reg);
            let sig = signer.sign_hash_sync(&hash).map_err(|e| Error::Signing {
                settlement_id: settlement.into(),
                message: e.to_string(),
            })?;
            Ok(Attestation {
                chain_id: c.chain_id,
                eid: c.eid,
                escrow: c.escrow,
                attester: signer.address(),
                signature: format!("0x{}", hex::encode(sig.as_bytes())),
            })
        })
        .collect()
}

/// The JSON view of the terms (amounts as decimal strings).
pub fn terms_json(terms: &Terms) -> serde_json::Value {
    serde_json::json!({
        "settlement_id": terms.settlementId.to_string(),
        "hub_eid": terms.hubEid,
        "timeout_at": terms.timeoutAt,
        "decision_ref": terms.decisionRef.to_string(),
        "legs": terms.legs.iter().map(|l| serde_json::json!({
            "eid": l.eid,
            "token": l.token.to_checksum(None),
            "amount": l.amount.to_string(),
            "depositor": l.depositor.to_checksum(None),
            "deposit_key": l.depositKey.to_string(),
            "recipient": l.recipient.to_checksum(None),
        })).collect::<Vec<_>>(),
    })
}

/// Reads the terms back from [`terms_json`].
pub fn terms_from_json(v: &serde_json::Value) -> Option<Terms> {
    let b = |k: &str, o: &serde_json::Value| o.get(k)?.as_str()?.parse::<B256>().ok();
    let a = |k: &str, o: &serde_json::Value| o.get(k)?.as_str()?.parse::<Address>().ok();
    let legs = v
        .get("legs")?
        .as_array()?
        .iter()
        .map(|l| {
            Some(Leg {
                eid: u32::try_from(l.get("eid")?.as_u64()?).ok()?,
                token: a("token", l)?,
                amount: U256::from_str_radix(l.get("amount")?.as_str()?, 10).ok()?,
                depositor: a("depositor", l)?,
                depositKey: b("deposit_key", l)?,
                recipient: a("recipient", l)?,
            })
        })
        .collect::<Option<Vec<_>>>()?;
    Some(Terms {
        settlementId: b("settlement_id", v)?,
        hubEid: u32::try_from(v.get("hub_eid")?.as_u64()?).ok()?,
        timeoutAt: v.get("timeout_at")?.as_u64()?,
        decisionRef: b("decision_ref", v)?,
        legs,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use alloy::primitives::{address, b256};
    use alloy::signers::Signature;

    fn sample() -> Terms {
        Terms {
            settlementId: settlement_id("LS-TEST"),
            hubEid: 40161,
            timeoutAt: 1_900_000_000,
            decisionRef: b256!("1111111111111111111111111111111111111111111111111111111111111111"),
            legs: vec![Leg {
                eid: 40161,
                token: address!("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"),
                amount: U256::from(1000),
                depositor: Address::ZERO,
                depositKey: deposit_key(&B256::repeat_byte(7)),
                recipient: address!("0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359"),
            }],
        }
    }

    #[test]
    fn abi_encoding_is_solidity_abi_encode_of_the_struct() {
        let enc = sample().abi_encode();
        // abi.encode of one dynamic tuple: a 0x20 offset head, then the tuple.
        assert_eq!(U256::from_be_slice(&enc[..32]), U256::from(32));
        // settlementId, hubEid, timeoutAt, decisionRef, offset of legs, length, one leg of 6 words.
        assert_eq!(enc.len(), 32 * (1 + 5 + 1 + 6));
        assert_eq!(&enc[32..64], settlement_id("LS-TEST").as_slice());
        assert_eq!(settlement_id("LS-TEST"), keccak256(b"LS-TEST"));
    }

    #[test]
    fn registration_type_hash_matches_the_documented_type() {
        let reg = Registration {
            settlementId: B256::ZERO,
            termsHash: B256::ZERO,
            decisionRef: B256::ZERO,
        };
        assert_eq!(
            reg.eip712_type_hash(),
            keccak256(b"Registration(bytes32 settlementId,bytes32 termsHash,bytes32 decisionRef)")
        );
    }

    #[test]
    fn attestation_recovers_to_the_attester_and_binds_chain_and_escrow() {
        let signer = PrivateKeySigner::random();
        let terms = sample();
        let chain = ChainConfig::new(
            31337,
            40161,
            address!("0x00000000000000000000000000000000000e5c40"),
        );
        let att = attest(&signer, &terms, &[&chain], "stl_x").unwrap();
        let sig: Signature = att[0].signature.parse().unwrap();
        let reg = Registration {
            settlementId: terms.settlementId,
            termsHash: terms_hash(&terms),
            decisionRef: terms.decisionRef,
        };
        let hash = registration_signing_hash(31337, chain.escrow, &reg);
        assert_eq!(
            sig.recover_address_from_prehash(&hash).unwrap(),
            signer.address()
        );
        // Another chain id gives another digest: the signature does not carry over.
        let other = registration_signing_hash(1, chain.escrow, &reg);
        assert_ne!(
            sig.recover_address_from_prehash(&other).unwrap(),
            signer.address()
        );
        let bytes = hex::decode(att[0].signature.trim_start_matches("0x")).unwrap();
        assert_eq!(bytes.len(), 65);
        assert!(bytes[64] == 27 || bytes[64] == 28);
    }

    #[test]
    fn terms_json_round_trips() {
        let t = sample();
        assert_eq!(terms_from_json(&terms_json(&t)).unwrap(), t);
    }
}
