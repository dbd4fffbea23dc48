//! The three-party trade of a three-chain [`World`] (template `dvp-fx`): the seller
//! delivers BOND on chain A and is paid CASH on chain C, the buyer pays CASH on chain B and
//! receives the BOND, the FX provider takes the buyer's CASH on B and pays the seller on C.
//! Used by the three-chain e2e tests and `demo --three-chains`.

use crate::api::DepositInstruction;
use crate::world::{Platform, Submitted, World};
use alloy::primitives::{Address, U256, keccak256};
use eyre::{ensure, eyre};
use serde_json::{Value, json};
use std::time::Instant;

/// One leg of an instruction, as the API takes it.
#[derive(Debug, Clone)]
pub struct FxLeg {
    /// `asset_delivery` or `payment`.
    pub leg_type: &'static str,
    /// The token.
    pub token: Address,
    /// Base units.
    pub quantity: U256,
    /// `deliver` or `receive`.
    pub direction: &'static str,
    /// Its chain.
    pub chain_id: u64,
}

/// The three-party FX trade.
#[derive(Debug, Clone)]
pub struct FxTrade {
    /// Distinguishes idempotency keys and references.
    pub tag: String,
    /// BOND on chain A, 18 decimals.
    pub bond: (Address, u64),
    /// The buyer's CASH on chain B, 6 decimals.
    pub usd: (Address, u64),
    /// The FX provider's CASH on chain C, 6 decimals.
    pub eur: (Address, u64),
    /// BOND delivered.
    pub quantity: U256,
    /// CASH the buyer pays on B.
    pub usd_amount: U256,
    /// CASH the seller receives on C.
    pub eur_amount: U256,
    /// Deadline.
    pub timeout_at: chrono::DateTime<chrono::Utc>,
}

impl FxTrade {
    /// 100 BOND on A against 2,500 CASH on B, turned into 2,300 CASH on C; one hour.
    pub fn new(w: &World, tag: &str) -> eyre::Result<FxTrade> {
        let c = w
            .chain_c
            .as_ref()
            .ok_or_else(|| eyre!("not a three-chain world"))?;
        let (a, b) = (&w.chain_a.info, &w.chain_b.info);
        Ok(FxTrade {
            tag: tag.into(),
            bond: (a.tokens.bond, a.chain_id),
            usd: (b.tokens.cash, b.chain_id),
            eur: (c.info.tokens.cash, c.info.chain_id),
            quantity: U256::from(100u64) * U256::from(10u64).pow(U256::from(18u64)),
            usd_amount: U256::from(2_500_000_000u64),
            eur_amount: U256::from(2_300_000_000u64),
            timeout_at: chrono::Utc::now() + chrono::Duration::hours(1),
        })
    }

    fn leg(
        leg_type: &'static str,
        (token, chain_id): (Address, u64),
        quantity: U256,
        direction: &'static str,
    ) -> FxLeg {
        FxLeg {
            leg_type,
            token,
            quantity,
            direction,
            chain_id,
        }
    }

    /// The legs of `role` (`seller`, `buyer`, `fx_provider`): what it delivers first.
    pub fn legs(&self, role: &str) -> [FxLeg; 2] {
        let (q, usd, eur) = (self.quantity, self.usd_amount, self.eur_amount);
        match role {
            "seller" => [
                Self::leg("asset_delivery", self.bond, q, "deliver"),
                Self::leg("payment", self.eur, eur, "receive"),
            ],
            "buyer" => [
                Self::leg("payment", self.usd, usd, "deliver"),
                Self::leg("asset_delivery", self.bond, q, "receive"),
            ],
            _ => [
                Self::leg("payment", self.eur, eur, "deliver"),
                Self::leg("payment", self.usd, usd, "receive"),
            ],
        }
    }

    /// The instruction of `role` for custody `wallet` (the first side has no reference).
    pub fn instruction(&self, role: &str, wallet: Address, reference: Option<&str>) -> Value {
        let legs: Vec<Value> = self
            .legs(role)
            .iter()
            .map(|l| json!({"leg_type": l.leg_type, "instrument_id": l.token.to_checksum(None),
                "quantity": l.quantity.to_string(), "direction": l.direction, "chain_id": l.chain_id}))
            .collect();
        let party_chain = self.legs(role)[0].chain_id;
        json!({
            "idempotency_key": format!("{role}-{}", self.tag),
            "template_slug": "dvp-fx",
            "role": role,
            "party": {"external_reference": format!("{role}-{}", self.tag), "name": format!("{role} custody"),
                      "wallet_address": wallet.to_checksum(None), "chain_id": party_chain},
            "legs": legs,
            "timeout_at": self.timeout_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            "trade_reference": reference,
        })
    }
}

impl World {
    /// The FX provider's platform and custody address of a three-chain world.
    pub fn fx_party(&self) -> eyre::Result<(&Platform, Address)> {
        match (&self.fx_platform, &self.fx) {
            (Some(p), Some(c)) => Ok((p, c.address)),
            _ => Err(eyre!("not a three-chain world")),
        }
    }

    /// Submits the seller's side (naming the other two platforms), the buyer's and the FX
    /// provider's; the last one must match.
    pub async fn submit_fx(&self, t: &FxTrade) -> eyre::Result<Submitted> {
        let (fx_platform, fx_wallet) = self.fx_party()?;
        let mut first = t.instruction("seller", self.seller.address, None);
        first["counterparty_platform_ids"] = json!([self.buyer_platform.id, fx_platform.id]);
        let v = self
            .api
            .post_ok(&self.seller_platform.token, "/v1/instructions", &first)
            .await?;
        let tr = v["trade_reference"]
            .as_str()
            .ok_or_else(|| eyre!("first side without trade_reference: {v}"))?
            .to_string();
        let second = t.instruction("buyer", self.buyer.address, Some(&tr));
        let v = self
            .api
            .post_ok(&self.buyer_platform.token, "/v1/instructions", &second)
            .await?;
        ensure!(v["status"] == "pending_match", "buyer's side: {v}");
        let third = t.instruction("fx_provider", fx_wallet, Some(&tr));
        let v = self
            .api
            .post_ok(&fx_platform.token, "/v1/instructions", &third)
            .await?;
        let matched_at = Instant::now();
        let id = v["settlement_id"]
            .as_str()
            .ok_or_else(|| eyre!("third side not matched: {v}"))?;
        Ok(Submitted {
            settlement_id: id.to_string(),
            onchain_id: keccak256(tr.as_bytes()),
            trade_reference: tr,
            matched_at,
        })
    }

    /// Each party's one deposit instruction (seller, buyer, FX provider), checked against
    /// the leg it delivers.
    pub async fn fx_deposits(
        &self,
        t: &FxTrade,
        id: &str,
    ) -> eyre::Result<[DepositInstruction; 3]> {
        let (fx_platform, _) = self.fx_party()?;
        let mut out = Vec::new();
        for (role, p) in [
            ("seller", &self.seller_platform),
            ("buyer", &self.buyer_platform),
            ("fx_provider", fx_platform),
        ] {
            let d = self.deposit_of(p, id).await?;
            let want = &t.legs(role)[0];
            ensure!(
                d.token == want.token
                    && d.chain_id == want.chain_id
                    && d.amount == want.quantity.to_string(),
                "{role}'s deposit instruction does not match its delivering leg: {d:?}"
            );
            out.push(d);
        }
        out.try_into()
            .map_err(|_| eyre!("expected three deposit instructions"))
    }
}
