//! The on-chain settlement terms and the EIP-712 registration attestation, exactly as
//! docs/onchain-terms.md fixes them: the terms construction from the matched
//! instructions ([`build_terms`], a pure function: each leg authorised by a fixed depositor
//! or a one-time deposit key drawn from the caller's key source), their JSON form, the
//! registration attestation, the deposit key's EIP-712 `Deposit` signature
//! ([`sign_deposit`]), and the escrow deployments the coordinator signs for ([`Escrows`]).

use crate::trade::{DepositAuthorization, Direction, InstructionBody, LegInput, LegType};
use crate::{Error, Result};
use alloy::primitives::{Address, B256, U256, keccak256};
use alloy::signers::SignerSync;
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::{SolStruct, SolValue, eip712_domain};
use lockstep_core::EscrowChain;
use serde_json::{Value, json};

pub use lockstep_core::Attestation;
/// `settlementId = keccak256(utf8(trade_reference))`.
pub use lockstep_core::onchain_settlement_id as settlement_id;

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

    /// The EIP-712 message a leg's one-time deposit key signs for one sender.
    #[derive(Debug, PartialEq, Eq)]
    struct Deposit {
        bytes32 settlementId;
        uint256 legIndex;
        address sender;
    }
}

/// `termsHash = keccak256(abi.encode(terms))`.
pub fn terms_hash(terms: &Terms) -> B256 {
    keccak256(terms.abi_encode())
}

/// The EIP-712 domain of one escrow: `"Lockstep"`, `"1"`, its chain id, the escrow (both the
/// registration attestation and the deposit authorisation use it).
pub fn escrow_domain(chain_id: u64, escrow: Address) -> alloy::sol_types::Eip712Domain {
    eip712_domain! {
        name: "Lockstep",
        version: "1",
        chain_id: chain_id,
        verifying_contract: escrow,
    }
}

/// The EIP-712 signing hash of the registration on one escrow.
pub fn registration_signing_hash(chain_id: u64, escrow: Address, reg: &Registration) -> B256 {
    reg.eip712_signing_hash(&escrow_domain(chain_id, escrow))
}

/// The EIP-712 digest a leg's deposit key signs to let `sender` deposit it on one escrow
/// (the escrow's `depositDigest(settlementId, legIndex, sender)`).
pub fn deposit_signing_hash(chain_id: u64, escrow: Address, deposit: &Deposit) -> B256 {
    deposit.eip712_signing_hash(&escrow_domain(chain_id, escrow))
}

/// The deposit key's 65-byte `r ‖ s ‖ v` signature letting `sender` deposit leg
/// `leg_index` of `settlement_id` on the escrow `escrow` of chain `chain_id`.
pub fn sign_deposit(
    key: &PrivateKeySigner,
    chain_id: u64,
    escrow: Address,
    settlement_id: B256,
    leg_index: usize,
    sender: Address,
) -> Result<Vec<u8>> {
    let d = Deposit {
        settlementId: settlement_id,
        legIndex: U256::from(leg_index),
        sender,
    };
    let sig = key
        .sign_hash_sync(&deposit_signing_hash(chain_id, escrow, &d))
        .map_err(|source| Error::Signing {
            settlement_id: settlement_id.to_string(),
            source,
        })?;
    Ok(sig.as_bytes().to_vec())
}

/// The escrow deployments settlements may use, one per chain (no chain id or endpoint
/// id twice).
#[derive(Debug, Clone, Default)]
pub struct Escrows(Vec<EscrowChain>);

impl Escrows {
    /// Checks that no chain id or endpoint id appears twice and that every chain id is a
    /// JSON-safe integer (at most 2^53 - 1, what instructions may name).
    pub fn new(chains: Vec<EscrowChain>) -> Result<Escrows> {
        for (i, c) in chains.iter().enumerate() {
            if c.chain_id > crate::validate::MAX_JSON_INTEGER {
                return Err(Error::Config(format!(
                    "chain id {} is above 2^53 - 1 (JSON-safe integers only)",
                    c.chain_id
                )));
            }
            if chains[..i]
                .iter()
                .any(|o| o.chain_id == c.chain_id || o.eid == c.eid)
            {
                return Err(Error::Config(format!(
                    "chain {} (eid {}) is configured twice",
                    c.chain_id, c.eid
                )));
            }
        }
        Ok(Escrows(chains))
    }

    /// The deployment on the chain with this EVM chain id.
    pub fn by_chain_id(&self, chain_id: u64) -> Option<&EscrowChain> {
        self.0.iter().find(|c| c.chain_id == chain_id)
    }

    /// The deployment on the chain with this LayerZero endpoint id.
    pub fn by_eid(&self, eid: u32) -> Option<&EscrowChain> {
        self.0.iter().find(|c| c.eid == eid)
    }
}

/// The terms of a cleared settlement and how each leg is authorised.
#[derive(Debug, Clone)]
pub struct BuiltTerms {
    /// The terms every escrow registers.
    pub terms: Terms,
    /// Per leg: `{leg_index, role, authorization}`, plus `deposit_key` (address) and
    /// `private_key` (0x-hex) for deposit-key legs. Stored, shown only to the platform
    /// that funds the leg.
    pub secrets: Vec<Value>,
}

/// One leg of `b`'s, paid to `counterparty`'s wallet, authorised per `b`'s party:
/// its fixed depositor (custody `deposit_address`, else the wallet) or a fresh key from
/// `key`. Returns the leg and the key drawn, if any.
pub(crate) fn leg_of(
    b: &InstructionBody,
    l: &LegInput,
    counterparty: &InstructionBody,
    eid: u32,
    key: &mut impl FnMut() -> PrivateKeySigner,
) -> std::result::Result<(Leg, Option<PrivateKeySigner>), String> {
    let addr = |s: &str| s.parse::<Address>().map_err(|e| format!("{s}: {e}"));
    let (depositor, signer) = match b.party.deposit_authorization.unwrap_or_default() {
        DepositAuthorization::Depositor => (
            addr(
                b.party
                    .deposit_address
                    .as_deref()
                    .unwrap_or(&b.party.wallet_address),
            )?,
            None,
        ),
        DepositAuthorization::DepositKey => (Address::ZERO, Some(key())),
    };
    let leg = Leg {
        eid,
        token: addr(&l.instrument_id)?,
        amount: U256::from_str_radix(&l.quantity, 10).map_err(|e| e.to_string())?,
        depositor,
        depositKey: signer.as_ref().map_or(Address::ZERO, |k| k.address()),
        recipient: addr(&counterparty.party.wallet_address)?,
    };
    Ok((leg, signer))
}

/// Builds the on-chain terms from the matched instructions: every delivering leg, the
/// seller's first, asset before payment; each leg's recipient is the counterparty's
/// wallet; each leg is authorised by its party's fixed depositor or, in deposit-key mode,
/// by a one-time key drawn from `key`; the hub is the chain of the first leg (the seller's
/// asset leg). Fails with a message when an instruction no longer fits (a chain not
/// configured any more, an unreadable amount or address).
pub fn build_terms(
    trade_reference: &str,
    timeout_at_ms: i64,
    decision_ref: B256,
    [seller, buyer]: [&InstructionBody; 2],
    escrows: &Escrows,
    mut key: impl FnMut() -> PrivateKeySigner,
) -> Result<BuiltTerms> {
    let bad = |m: String| Error::Corrupt {
        what: "matched instructions",
        message: m,
    };
    let mut legs = Vec::new();
    let mut secrets = Vec::new();
    for (b, counterparty) in [(seller, buyer), (buyer, seller)] {
        let mut mine: Vec<_> = b
            .legs
            .iter()
            .filter(|l| l.direction == Direction::Deliver)
            .collect();
        mine.sort_by_key(|l| l.leg_type != LegType::AssetDelivery);
        for l in mine {
            let chain = escrows
                .by_chain_id(l.chain_id)
                .ok_or_else(|| bad(format!("chain {} is no longer configured", l.chain_id)))?;
            let (leg, signer) = leg_of(b, l, counterparty, chain.eid, &mut key).map_err(bad)?;
            let mut entry = json!({"leg_index": legs.len(), "role": b.role.as_str()});
            if let Some(k) = signer {
                entry["authorization"] = json!(DepositAuthorization::DepositKey.as_str());
                entry["deposit_key"] = json!(k.address().to_checksum(None));
                entry["private_key"] = json!(format!("0x{}", hex::encode(k.to_bytes())));
            } else {
                entry["authorization"] = json!(DepositAuthorization::Depositor.as_str());
            }
            secrets.push(entry);
            legs.push(leg);
        }
    }
    let hub_eid = legs
        .first()
        .map(|l| l.eid)
        .ok_or_else(|| bad("no legs".into()))?;
    let terms = Terms {
        settlementId: settlement_id(trade_reference),
        hubEid: hub_eid,
        timeoutAt: u64::try_from(timeout_at_ms / 1000).map_err(|e| bad(e.to_string()))?,
        decisionRef: decision_ref,
        legs,
    };
    Ok(BuiltTerms { terms, secrets })
}

/// The deployments the terms touch, by ascending endpoint id (one attestation each).
pub fn chains_of<'a>(terms: &Terms, escrows: &'a Escrows) -> Vec<&'a EscrowChain> {
    let mut eids: Vec<u32> = terms.legs.iter().map(|l| l.eid).collect();
    eids.sort_unstable();
    eids.dedup();
    eids.iter().filter_map(|e| escrows.by_eid(*e)).collect()
}

/// Signs the registration for every chain the terms touch (in the order of `chains`).
pub fn attest(
    signer: &PrivateKeySigner,
    terms: &Terms,
    chains: &[&EscrowChain],
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
            let sig = signer
                .sign_hash_sync(&hash)
                .map_err(|source| Error::Signing {
                    settlement_id: settlement.into(),
                    source,
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
            "deposit_key": l.depositKey.to_checksum(None),
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
                depositKey: a("deposit_key", l)?,
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
                depositKey: address!("0x00000000000000000000000000000000000000d7"),
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
        let chain = EscrowChain {
            chain_id: 31337,
            eid: 40161,
            escrow: address!("0x00000000000000000000000000000000000e5c40"),
            max_settlement_duration_secs: None,
        };
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
    fn deposit_type_hash_matches_the_escrow_and_signature_recovers_to_the_key() {
        let d = Deposit {
            settlementId: B256::ZERO,
            legIndex: U256::ZERO,
            sender: Address::ZERO,
        };
        assert_eq!(
            d.eip712_type_hash(),
            keccak256(b"Deposit(bytes32 settlementId,uint256 legIndex,address sender)")
        );
        let key = PrivateKeySigner::random();
        let escrow = address!("0x00000000000000000000000000000000000e5c40");
        let sender = address!("0x2222222222222222222222222222222222222222");
        let id = settlement_id("LS-TEST");
        let sig = sign_deposit(&key, 31337, escrow, id, 3, sender).unwrap();
        assert_eq!(sig.len(), 65);
        let sig = Signature::try_from(sig.as_slice()).unwrap();
        let digest = |chain: u64, leg: u64, sender: Address| {
            let d = Deposit {
                settlementId: id,
                legIndex: U256::from(leg),
                sender,
            };
            deposit_signing_hash(chain, escrow, &d)
        };
        let rec = |h: B256| sig.recover_address_from_prehash(&h).unwrap();
        assert_eq!(rec(digest(31337, 3, sender)), key.address());
        assert_ne!(rec(digest(31337, 3, escrow)), key.address());
        assert_ne!(rec(digest(31337, 2, sender)), key.address());
        assert_ne!(rec(digest(1, 3, sender)), key.address());
    }

    fn body(role: &str, wallet: &str, deliver_first: bool) -> InstructionBody {
        use crate::trade::{InstructionRequest, Party, Role};
        let leg = |t: LegType, token: &str, deliver: bool| LegInput {
            leg_type: t,
            instrument_id: token.into(),
            quantity: "10".into(),
            direction: if deliver {
                Direction::Deliver
            } else {
                Direction::Receive
            },
            chain_id: 31337,
        };
        InstructionRequest {
            idempotency_key: "k".into(),
            template_slug: "dvp-standard".into(),
            role: if role == "seller" {
                Role::Seller
            } else {
                Role::Buyer
            },
            party: Party {
                external_reference: "r".into(),
                name: "n".into(),
                wallet_address: wallet.into(),
                chain_id: 31337,
                deposit_authorization: None,
                deposit_address: None,
            },
            legs: vec![
                leg(
                    LegType::AssetDelivery,
                    "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
                    deliver_first,
                ),
                leg(
                    LegType::Payment,
                    "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
                    !deliver_first,
                ),
            ],
            timeout_at: String::new(),
            trade_reference: None,
            counterparty_platform_id: None,
            counterparty_platform_ids: None,
            maturity_at: None,
            repayment_amount: None,
            repo_rate: None,
        }
    }

    #[test]
    fn build_terms_authorises_by_depositor_custody_address_or_fresh_key() {
        let escrows = Escrows::new(vec![EscrowChain {
            chain_id: 31337,
            eid: 40161,
            escrow: address!("0x00000000000000000000000000000000000e5c40"),
            max_settlement_duration_secs: None,
        }])
        .unwrap();
        let seller_wallet = address!("0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb");
        let buyer_wallet = address!("0x52908400098527886E0F7030069857D2E4169EE7");
        let custody = address!("0x1111111111111111111111111111111111111111");
        let mut seller = body("seller", &seller_wallet.to_string(), true);
        let mut buyer = body("buyer", &buyer_wallet.to_string(), false);
        let build = |s: &InstructionBody, b: &InstructionBody, keys: &mut Vec<Address>| {
            build_terms(
                "LS-T",
                1_900_000_000_000,
                B256::ZERO,
                [s, b],
                &escrows,
                || {
                    let k = PrivateKeySigner::random();
                    keys.push(k.address());
                    k
                },
            )
            .unwrap()
        };
        // Default: each party's wallet is the fixed depositor; no key drawn.
        let mut keys = Vec::new();
        let t = build(&seller, &buyer, &mut keys);
        assert!(keys.is_empty());
        assert_eq!(t.terms.legs[0].depositor, seller_wallet);
        assert_eq!(t.terms.legs[1].depositor, buyer_wallet);
        assert!(t.terms.legs.iter().all(|l| l.depositKey.is_zero()));
        assert_eq!(t.secrets[0]["authorization"], "depositor");
        assert!(t.secrets[0].get("private_key").is_none());
        // A custody address for the seller, a deposit key for the buyer.
        seller.party.deposit_address = Some(custody.to_checksum(None));
        buyer.party.deposit_authorization = Some(DepositAuthorization::DepositKey);
        let t = build(&seller, &buyer, &mut keys);
        assert_eq!(t.terms.legs[0].depositor, custody);
        assert_eq!(t.terms.legs[1].depositor, Address::ZERO);
        assert_eq!(keys.len(), 1);
        assert_eq!(t.terms.legs[1].depositKey, keys[0]);
        assert_eq!(t.secrets[1]["authorization"], "deposit_key");
        assert_eq!(t.secrets[1]["role"], "buyer");
        let pk: B256 = t.secrets[1]["private_key"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(
            PrivateKeySigner::from_bytes(&pk).unwrap().address(),
            keys[0]
        );
        assert_eq!(t.terms.legs[0].recipient, buyer_wallet);
        assert_eq!(t.terms.legs[1].recipient, seller_wallet);
    }

    #[test]
    fn terms_json_round_trips() {
        let t = sample();
        assert_eq!(terms_from_json(&terms_json(&t)).unwrap(), t);
    }
}
