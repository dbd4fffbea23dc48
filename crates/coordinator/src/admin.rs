//! Operator actions behind the CLI: create platforms, issue and revoke tokens.

use crate::auth::{Scope, hash_token, new_token};
use crate::{Error, Result};
use lockstep_core::Db;
use lockstep_core::{new_id, now_ms};
use serde::Serialize;

/// A newly created platform and its first token (printed once).
#[derive(Debug, Clone, Serialize)]
pub struct CreatedPlatform {
    /// The platform's id.
    pub platform_id: String,
    /// The platform's name.
    pub name: String,
    /// The first token's id (for revocation).
    pub token_id: String,
    /// The token itself; only its hash is stored.
    pub token: String,
    /// The token's scopes.
    pub scopes: Vec<Scope>,
}

/// A newly issued token (printed once).
#[derive(Debug, Clone, Serialize)]
pub struct IssuedToken {
    /// The platform, or null for an operator token.
    pub platform_id: Option<String>,
    /// The token's id (for revocation).
    pub token_id: String,
    /// The token itself; only its hash is stored.
    pub token: String,
    /// The token's scopes.
    pub scopes: Vec<Scope>,
}

/// Creates a platform with one token carrying every platform scope.
pub async fn create_platform(db: &Db, name: &str) -> Result<CreatedPlatform> {
    if name.trim().is_empty() {
        return Err(Error::Config("platform name must not be empty".into()));
    }
    let platform_id = new_id("plt");
    sqlx::query("INSERT INTO platforms (id, name, created_at) VALUES ($1, $2, $3)")
        .bind(&platform_id)
        .bind(name)
        .bind(now_ms())
        .execute(db.pool())
        .await?;
    let t = issue_token(db, Some(&platform_id), &Scope::PLATFORM_DEFAULT).await?;
    Ok(CreatedPlatform {
        platform_id,
        name: name.into(),
        token_id: t.token_id,
        token: t.token,
        scopes: t.scopes,
    })
}

/// Issues a token for a platform (`Some`) or an operator token (`None`, scope `operator`).
pub async fn issue_token(
    db: &Db,
    platform_id: Option<&str>,
    scopes: &[Scope],
) -> Result<IssuedToken> {
    match platform_id {
        Some(p) => {
            let exists = sqlx::query("SELECT id FROM platforms WHERE id = $1")
                .bind(p)
                .fetch_optional(db.pool())
                .await?;
            if exists.is_none() {
                return Err(Error::NotFound {
                    kind: "platform",
                    id: p.into(),
                });
            }
            if scopes.contains(&Scope::Operator) {
                return Err(Error::Config(
                    "the operator scope is only for operator tokens".into(),
                ));
            }
        }
        None => {
            if scopes != [Scope::Operator] {
                return Err(Error::Config(
                    "an operator token carries exactly the operator scope".into(),
                ));
            }
        }
    }
    let token = new_token()?;
    let token_id = new_id("tok");
    let scope_str = scopes
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(" ");
    sqlx::query("INSERT INTO api_tokens (id, platform_id, token_hash, scopes, created_at) VALUES ($1, $2, $3, $4, $5)")
        .bind(&token_id)
        .bind(platform_id.map(str::to_string))
        .bind(hash_token(&token))
        .bind(scope_str)
        .bind(now_ms())
        .execute(db.pool())
        .await?;
    Ok(IssuedToken {
        platform_id: platform_id.map(str::to_string),
        token_id,
        token,
        scopes: scopes.to_vec(),
    })
}

/// Revokes a token by id. Returns whether a live token was revoked.
pub async fn revoke_token(db: &Db, token_id: &str) -> Result<bool> {
    let r =
        sqlx::query("UPDATE api_tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
            .bind(now_ms())
            .bind(token_id)
            .execute(db.pool())
            .await?;
    Ok(r.rows_affected() == 1)
}
