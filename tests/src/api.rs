//! The coordinator's HTTP API as the platforms use it, and the two sides of a trade.

use alloy::primitives::{Address, U256};
use eyre::{WrapErr, bail};
use serde::Deserialize;
use serde_json::{Value, json};
use std::time::Duration;

/// A bearer-token HTTP client for the coordinator.
#[derive(Debug, Clone)]
pub struct Api {
    /// `http://host:port`.
    pub base: String,
    http: reqwest::Client,
}

impl Api {
    /// A client for the coordinator at `base`.
    pub fn new(base: &str) -> eyre::Result<Api> {
        Ok(Api {
            base: base.trim_end_matches('/').to_string(),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(20))
                .build()?,
        })
    }

    async fn send(
        &self,
        method: reqwest::Method,
        token: &str,
        path: &str,
        body: Option<&Value>,
    ) -> eyre::Result<(u16, Value)> {
        let mut r = self
            .http
            .request(method.clone(), format!("{}{path}", self.base))
            .bearer_auth(token);
        if let Some(b) = body {
            r = r.json(b);
        }
        let resp = r
            .send()
            .await
            .wrap_err_with(|| format!("{method} {path}"))?;
        let status = resp.status().as_u16();
        let text = resp.text().await?;
        Ok((
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        ))
    }

    /// `GET path`: status and body.
    pub async fn get(&self, token: &str, path: &str) -> eyre::Result<(u16, Value)> {
        self.send(reqwest::Method::GET, token, path, None).await
    }

    /// `POST path` with a JSON body: status and body.
    pub async fn post(&self, token: &str, path: &str, body: &Value) -> eyre::Result<(u16, Value)> {
        self.send(reqwest::Method::POST, token, path, Some(body))
            .await
    }

    /// `GET path`, which must answer 2xx.
    pub async fn get_ok(&self, token: &str, path: &str) -> eyre::Result<Value> {
        let (s, v) = self.get(token, path).await?;
        if !(200..300).contains(&s) {
            bail!("GET {path}: {s} {v}");
        }
        Ok(v)
    }

    /// `POST path`, which must answer 2xx.
    pub async fn post_ok(&self, token: &str, path: &str, body: &Value) -> eyre::Result<Value> {
        let (s, v) = self.post(token, path, body).await?;
        if !(200..300).contains(&s) {
            bail!("POST {path}: {s} {v}");
        }
        Ok(v)
    }
}

/// One leg a platform must fund, as `GET /v1/settlements/{id}/deposits` returns it.
#[derive(Debug, Clone, Deserialize)]
pub struct DepositInstruction {
    /// Index in `terms.legs`.
    pub leg_index: usize,
    /// Chain to send both transactions on.
    pub chain_id: u64,
    /// The escrow (deposit target, approve spender).
    pub escrow: Address,
    /// The ERC-20 (approve target).
    pub token: Address,
    /// Exact amount, base units (decimal string).
    pub amount: String,
    /// `depositor` (the fixed depositor must send) or `deposit_key` (whoever the leg's
    /// one-time key signs for).
    pub authorization: String,
    /// The address that must send the deposit, if known.
    #[serde(default)]
    pub sender: Option<Address>,
    /// The leg's deposit key (deposit-key legs).
    #[serde(default)]
    pub deposit_key: Option<Address>,
    /// The deposit key's private key, hex (deposit-key legs).
    #[serde(default)]
    pub deposit_key_private_key: Option<String>,
    /// The key's signature for `sender` (deposit-key legs asked with `?sender=`).
    #[serde(default)]
    pub signature: Option<String>,
    /// `approve(escrow, amount)` calldata.
    pub approve_calldata: String,
    /// `deposit(terms, legIndex, signature)` calldata (null for a deposit-key leg asked
    /// without a sender).
    #[serde(default)]
    pub deposit_calldata: Option<String>,
}

impl DepositInstruction {
    /// The deposit calldata; an error for a deposit-key leg fetched without a sender.
    pub fn calldata(&self) -> eyre::Result<&str> {
        self.deposit_calldata.as_deref().ok_or_else(|| {
            eyre::eyre!(
                "leg {} has no deposit calldata (authorization {}, no sender)",
                self.leg_index,
                self.authorization
            )
        })
    }
}

/// A trade between the seller (delivers `quantity` of `asset`) and the buyer (pays `price`
/// of `cash`); the two instructions are derived from it.
#[derive(Debug, Clone)]
pub struct Trade {
    /// `dvp-standard` (one chain), `cross-chain-dvp` or `repo`.
    pub template: &'static str,
    /// Distinguishes idempotency keys and references.
    pub tag: String,
    /// The asset token.
    pub asset: Address,
    /// Its chain.
    pub asset_chain: u64,
    /// Asset amount, base units.
    pub quantity: U256,
    /// The payment token.
    pub cash: Address,
    /// Its chain.
    pub cash_chain: u64,
    /// Payment amount, base units.
    pub price: U256,
    /// The seller's custody wallet.
    pub seller: Address,
    /// The seller party's chain.
    pub seller_chain: u64,
    /// The buyer's custody wallet.
    pub buyer: Address,
    /// The buyer party's chain.
    pub buyer_chain: u64,
    /// Deadline (RFC 3339): no execution at or after it.
    pub timeout_at: chrono::DateTime<chrono::Utc>,
    /// Template `repo`: the maturity and the repayment both instructions state.
    pub repo: Option<RepoTerms>,
}

/// The repo fields of a trade's instructions.
#[derive(Debug, Clone)]
pub struct RepoTerms {
    /// `maturity_at`.
    pub maturity_at: chrono::DateTime<chrono::Utc>,
    /// `repayment_amount`: the cash the buyer gets back at maturity, base units.
    pub repayment: U256,
}

impl Trade {
    fn legs(&self, role: &str) -> Value {
        let (asset_dir, cash_dir) = if role == "seller" {
            ("deliver", "receive")
        } else {
            ("receive", "deliver")
        };
        json!([
            {"leg_type": "asset_delivery", "instrument_id": self.asset.to_checksum(None), "quantity": self.quantity.to_string(), "direction": asset_dir, "chain_id": self.asset_chain},
            {"leg_type": "payment", "instrument_id": self.cash.to_checksum(None), "quantity": self.price.to_string(), "direction": cash_dir, "chain_id": self.cash_chain},
        ])
    }

    /// Adds the repo fields, when the trade has them.
    fn with_repo(&self, mut v: Value) -> Value {
        if let Some(r) = &self.repo {
            v["maturity_at"] = json!(
                r.maturity_at
                    .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            );
            v["repayment_amount"] = json!(r.repayment.to_string());
        }
        v
    }

    /// The seller's instruction (first side: no trade reference yet).
    pub fn seller_instruction(&self) -> Value {
        self.with_repo(json!({
            "idempotency_key": format!("sell-{}", self.tag),
            "template_slug": self.template,
            "role": "seller",
            "party": {"external_reference": format!("S-{}", self.tag), "name": "Alpha Securities AG",
                      "wallet_address": self.seller.to_checksum(None), "chain_id": self.seller_chain},
            "legs": self.legs("seller"),
            "timeout_at": self.timeout_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            "trade_reference": null,
        }))
    }

    /// The buyer's instruction, matching the seller's by `trade_reference`.
    pub fn buyer_instruction(&self, trade_reference: &str) -> Value {
        self.with_repo(json!({
            "idempotency_key": format!("buy-{}", self.tag),
            "template_slug": self.template,
            "role": "buyer",
            "party": {"external_reference": format!("B-{}", self.tag), "name": "Beta Capital LLC",
                      "wallet_address": self.buyer.to_checksum(None), "chain_id": self.buyer_chain},
            "legs": self.legs("buyer"),
            "timeout_at": self.timeout_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            "trade_reference": trade_reference,
        }))
    }
}
