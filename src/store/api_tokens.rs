//! API tokens: created and revoked by admins, stored as a hash, each with the role it acts with.

use super::{Store, StoreError, StoreResult, with_db};
use crate::domain::Role;

/// An API token as listed (never its secret).
#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize)]
pub struct ApiToken {
    pub id: i64,
    pub name: String,
    pub role: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

impl Store {
    pub async fn create_api_token(
        &self,
        name: &str,
        role: Role,
        token_hash: &str,
        now: i64,
    ) -> StoreResult<i64> {
        Ok(with_db!(&self.db, |p| {
            sqlx::query_scalar(
            "INSERT INTO api_tokens (name, role, token_hash, created_at) VALUES ($1, $2, $3, $4) RETURNING id"
        )
        .bind(name)
        .bind(role.as_str())
        .bind(token_hash)
        .bind(now)
        .fetch_one(p)
        .await
        .map_err(StoreError::from_write)
        })?)
    }

    /// The token of this hash if it is not revoked; marks it used.
    pub async fn use_api_token(&self, token_hash: &str, now: i64) -> StoreResult<Option<ApiToken>> {
        Ok(with_db!(&self.db, |p| sqlx::query_as(
            "UPDATE api_tokens SET last_used_at = $2 WHERE token_hash = $1 AND revoked_at IS NULL
             RETURNING id, name, role, created_at, last_used_at, revoked_at"
        )
        .bind(token_hash)
        .bind(now)
        .fetch_optional(p)
        .await)?)
    }

    pub async fn list_api_tokens(&self) -> StoreResult<Vec<ApiToken>> {
        Ok(with_db!(&self.db, |p| {
            sqlx::query_as(
            "SELECT id, name, role, created_at, last_used_at, revoked_at FROM api_tokens ORDER BY id"
        )
        .fetch_all(p)
        .await
        })?)
    }

    pub async fn revoke_api_token(&self, id: i64, now: i64) -> StoreResult<()> {
        let done = with_db!(&self.db, |p| sqlx::query(
            "UPDATE api_tokens SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL"
        )
        .bind(id)
        .bind(now)
        .execute(p)
        .await
        .map(|r| r.rows_affected()))?;
        if done == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }
}
