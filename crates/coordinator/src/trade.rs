//! The wire types of one side of a trade (an instruction): role, party, legs. Both the
//! instruction intake and the settlement lifecycle read them, so they live apart from
//! either.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A party's role in the trade. Which roles a trade needs, and which legs each provides,
/// is the template's (data); two-role templates use `seller` and `buyer`.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Delivers the asset, receives the payment.
    Seller,
    /// Delivers the payment, receives the asset.
    Buyer,
    /// A third party converting one payment into another (template `dvp-fx`): receives
    /// the buyer's payment and delivers the seller's.
    FxProvider,
}

impl Role {
    /// Wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Seller => "seller",
            Role::Buyer => "buyer",
            Role::FxProvider => "fx_provider",
        }
    }
}

/// What a leg moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LegType {
    /// The asset token.
    AssetDelivery,
    /// The payment token.
    Payment,
}

impl LegType {
    /// Wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            LegType::AssetDelivery => "asset_delivery",
            LegType::Payment => "payment",
        }
    }
}

/// The leg's direction from the submitting party's point of view.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// The party deposits it.
    Deliver,
    /// The party receives it.
    Receive,
}

impl Direction {
    /// Wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Deliver => "deliver",
            Direction::Receive => "receive",
        }
    }
}

/// The submitting party.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Party {
    /// The platform's own reference for the party or order (not blank; no control,
    /// invisible format, separator, private-use or unassigned characters).
    #[schema(min_length = 1, max_length = 128)]
    pub external_reference: String,
    /// Legal name (screened; the same character rules).
    #[schema(min_length = 1, max_length = 200)]
    pub name: String,
    /// The party's wallet (EIP-55 checksum required when mixed-case; receives the counter-leg).
    #[schema(pattern = r"^0x[0-9a-fA-F]{40}$")]
    pub wallet_address: String,
    /// The wallet's chain (a configured chain).
    #[schema(minimum = 1, maximum = 9007199254740991_u64)]
    pub chain_id: u64,
    /// How the legs this party delivers are authorised on chain (escrow v2): `depositor`
    /// (default: a fixed sending address) or `deposit_key` (a one-time key the platform
    /// gets from `/deposits`, signing for whichever custody address deposits).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deposit_authorization: Option<DepositAuthorization>,
    /// `depositor` mode only: the custody address that sends the deposits, when it is not
    /// `wallet_address` (EIP-55 checksum required when mixed-case). Refunds go back to it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(pattern = r"^0x[0-9a-fA-F]{40}$")]
    pub deposit_address: Option<String>,
}

/// How a leg is authorised on chain (docs/onchain-terms.md, "Deposit authorisation").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DepositAuthorization {
    /// `Leg.depositor` is fixed: only that address can deposit.
    #[default]
    Depositor,
    /// `Leg.depositKey` is a one-time key's address: any sender it signed for can deposit.
    DepositKey,
}

impl DepositAuthorization {
    /// Wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            DepositAuthorization::Depositor => "depositor",
            DepositAuthorization::DepositKey => "deposit_key",
        }
    }
}

/// One leg as a party sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LegInput {
    /// `asset_delivery` or `payment`.
    pub leg_type: LegType,
    /// The ERC-20 token address (EIP-55 checksum required when mixed-case).
    #[schema(pattern = r"^0x[0-9a-fA-F]{40}$")]
    pub instrument_id: String,
    /// Decimal string of base units (uint256, above 0), e.g. `"1000000"`.
    #[schema(pattern = r"^[0-9]{1,78}$", max_length = 78)]
    pub quantity: String,
    /// `deliver` or `receive`.
    pub direction: Direction,
    /// The chain the token lives on (a configured chain).
    #[schema(minimum = 1, maximum = 9007199254740991_u64)]
    pub chain_id: u64,
}

/// `POST /v1/instructions`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InstructionRequest {
    /// Unique per platform; the same key and body replays the first answer (not blank;
    /// the character rules of `party.name`).
    #[schema(min_length = 1, max_length = 200)]
    pub idempotency_key: String,
    /// A template slug (`GET /v1/templates`), e.g. `dvp-standard`, `cross-chain-dvp` or
    /// the three-role `dvp-fx`.
    #[schema(pattern = r"^[A-Za-z0-9_-]{1,64}$")]
    pub template_slug: String,
    /// One of the template's `required_roles`.
    pub role: Role,
    /// Who.
    pub party: Party,
    /// The legs the role provides: one per leg type of a two-role template, the role's
    /// `role_legs` entry of a multi-role one.
    #[schema(min_items = 1, max_items = 8)]
    pub legs: Vec<LegInput>,
    /// RFC 3339 deadline of the settlement: in the future, and no further out than the
    /// escrows' `maxSettlementDuration` (or 30 days).
    #[schema(min_length = 1, max_length = 64)]
    pub timeout_at: String,
    /// Null for the first side; the first side's trade reference for the second (`LS-`
    /// and a ULID, as issued).
    #[serde(default)]
    #[schema(pattern = r"^LS-[0-9A-HJKMNP-TV-Z]{26}$")]
    pub trade_reference: Option<String>,
    /// Optional: the only platform (`plt_...`) this instruction may be matched with. On a
    /// first side it binds the trade reference, so no other platform can match it (nor
    /// learn that it exists); on a second side it matches only a first side from that
    /// platform. Absent: any platform holding the trade reference may match it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(pattern = r"^[A-Za-z0-9_-]{1,64}$")]
    pub counterparty_platform_id: Option<String>,
    /// Multi-role templates only, instead of `counterparty_platform_id`: the platforms
    /// allowed to take the other roles. On a first side it binds the trade reference (any
    /// other platform sees it as unknown); on a later side every party already waiting
    /// must be from one of them. Absent: any platform holding the reference may join.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(min_items = 1, max_items = 31)]
    pub counterparty_platform_ids: Option<Vec<String>>,
    /// Template `repo` only (required there, refused elsewhere): RFC 3339 maturity of the
    /// repo, when the closing settlement is registered. After `timeout_at`; maturity plus
    /// the template's `close_window_secs` at most the escrows' `maxSettlementDuration`
    /// (or 30 days) from now. Both sides state the same instant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 64, format = DateTime)]
    pub maturity_at: Option<String>,
    /// Template `repo` only (required there): what the cash provider (`buyer`) is repaid
    /// at maturity, decimal base units of the payment leg's token (uint256, above 0). It
    /// is the closing settlement's payment quantity. Both sides state the same amount.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(pattern = r"^[0-9]{1,78}$", max_length = 78)]
    pub repayment_amount: Option<String>,
    /// Template `repo` only, optional and informational: the agreed repo rate, a decimal
    /// string (percent per annum, e.g. `"5.25"`). When one side states it, both must state
    /// the same number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(pattern = r"^[0-9]{1,6}(\.[0-9]{1,12})?$", max_length = 19)]
    pub repo_rate: Option<String>,
}

impl InstructionRequest {
    /// The platforms this instruction lets take the other roles (`None`: any), from
    /// `counterparty_platform_id` or `counterparty_platform_ids`.
    pub fn allowed_platforms(&self) -> Option<Vec<&str>> {
        match (
            &self.counterparty_platform_id,
            &self.counterparty_platform_ids,
        ) {
            (None, None) => None,
            (one, many) => Some(
                one.iter()
                    .chain(many.iter().flatten())
                    .map(String::as_str)
                    .collect(),
            ),
        }
    }
}

/// The stored, normalised form of an instruction (addresses checksummed).
pub type InstructionBody = InstructionRequest;
