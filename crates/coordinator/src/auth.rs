//! Machine-to-machine bearer tokens with scopes. Tokens are high-entropy random strings,
//! stored only as their SHA-256; a lookup by hash needs no constant-time comparison.

use crate::Result;
use base64::Engine;
use lockstep_core::Db;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sqlx::Row;
use std::fmt;
use std::str::FromStr;

/// What a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Scope {
    /// Read the platform's own instructions.
    #[serde(rename = "instructions:read")]
    InstructionsRead,
    /// Submit and cancel instructions.
    #[serde(rename = "instructions:write")]
    InstructionsWrite,
    /// Read settlements the platform is a party to.
    #[serde(rename = "settlements:read")]
    SettlementsRead,
    /// Manage the platform's webhook endpoints.
    #[serde(rename = "webhooks:manage")]
    WebhooksManage,
    /// Operator: every settlement, counts, stuck list, manual compliance decisions.
    #[serde(rename = "operator")]
    Operator,
}

impl Scope {
    /// The scopes a platform token gets by default.
    pub const PLATFORM_DEFAULT: [Scope; 4] = [
        Scope::InstructionsRead,
        Scope::InstructionsWrite,
        Scope::SettlementsRead,
        Scope::WebhooksManage,
    ];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::InstructionsRead => "instructions:read",
            Scope::InstructionsWrite => "instructions:write",
            Scope::SettlementsRead => "settlements:read",
            Scope::WebhooksManage => "webhooks:manage",
            Scope::Operator => "operator",
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Scope {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        [
            Scope::InstructionsRead,
            Scope::InstructionsWrite,
            Scope::SettlementsRead,
            Scope::WebhooksManage,
            Scope::Operator,
        ]
        .into_iter()
        .find(|sc| sc.as_str() == s)
        .ok_or_else(|| format!("unknown scope {s:?}"))
    }
}

/// The authenticated caller.
#[derive(Debug, Clone)]
pub struct Principal {
    /// The token's id.
    pub token_id: String,
    /// The platform, or `None` for an operator token.
    pub platform_id: Option<String>,
    /// Granted scopes.
    pub scopes: Vec<Scope>,
}

impl Principal {
    /// Whether the token carries `scope`.
    pub fn has(&self, scope: Scope) -> bool {
        self.scopes.contains(&scope)
    }
}

/// The stored form of a token.
pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// A fresh token: `lst_` + 32 random bytes, base64url.
pub(crate) fn new_token() -> Result<String> {
    let bytes = crate::random_bytes::<32>()?;
    Ok(format!(
        "lst_{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    ))
}

/// Resolves a presented bearer token, ignoring revoked ones.
pub async fn authenticate(db: &Db, token: &str) -> Result<Option<Principal>> {
    authenticate_hash(db, &hash_token(token)).await
}

/// Resolves a token by its [`hash_token`], ignoring revoked ones. Reads through
/// [`Db::reads`] (on SQLite it does not queue behind the single writer); a revocation is
/// seen by the next request after its commit, in this process or another.
pub async fn authenticate_hash(db: &Db, token_hash: &str) -> Result<Option<Principal>> {
    let row = sqlx::query("SELECT id, platform_id, scopes FROM api_tokens WHERE token_hash = $1 AND revoked_at IS NULL")
        .bind(token_hash)
        .fetch_optional(db.reads())
        .await?;
    let Some(row) = row else { return Ok(None) };
    let scopes: String = row.try_get("scopes")?;
    Ok(Some(Principal {
        token_id: row.try_get("id")?,
        platform_id: row.try_get("platform_id")?,
        scopes: scopes.split(' ').filter_map(|s| s.parse().ok()).collect(),
    }))
}
