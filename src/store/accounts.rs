//! Accounts: users and their territories, and their sessions. Logins are counted in `login_attempts.rs`, API
//! tokens kept in `api_tokens.rs`, and what admins change on an account in `account_admin.rs`.

use super::{Scope, Store, StoreError, StoreResult, Tx, with_db, with_tx};
use crate::domain::Role;

/// An account that can log in.
#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize)]
pub struct User {
    pub id: i64,
    pub email: String,
    pub name: String,
    pub role: String,
    #[serde(skip)]
    pub password_hash: String,
    pub association_id: Option<i64>,
    pub active: bool,
    pub created_at: i64,
    pub last_login_at: Option<i64>,
}

impl User {
    pub fn role(&self) -> Role {
        // The CHECK constraint keeps the column to the four codes; a viewer is the safe reading otherwise.
        Role::parse(&self.role).unwrap_or(Role::Viewer)
    }

    pub fn scope(&self) -> Scope {
        if self.role().sees_everything() {
            Scope::All
        } else {
            Scope::Relay(self.id)
        }
    }
}

/// A live session: its account, its CSRF token and when it ends.
#[derive(sqlx::FromRow, Clone, Debug)]
pub struct ActiveSession {
    #[sqlx(flatten)]
    pub user: User,
    pub csrf_token: String,
    pub expires_at: i64,
}

/// A new account, already validated.
pub struct NewUser<'a> {
    pub email: &'a str,
    pub name: &'a str,
    pub role: Role,
    pub password_hash: &'a str,
    pub association_id: Option<i64>,
    pub territories: &'a [String],
}

/// One line of the "who sees what" page.
#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize)]
pub struct AccessRow {
    pub id: i64,
    pub name: String,
    pub email: String,
    pub role: String,
    pub active: bool,
    pub association: Option<String>,
    pub territories: Option<String>,
    pub last_login_at: Option<i64>,
}

/// Inserts an account and its territories inside `tx`.
pub(super) async fn insert_user(tx: &mut Tx, user: &NewUser<'_>, now: i64) -> StoreResult<i64> {
    let id: i64 = with_tx!(tx, |c| {
        sqlx::query_scalar(
            "INSERT INTO users (email, name, role, password_hash, association_id, active, created_at)
             VALUES ($1, $2, $3, $4, $5, TRUE, $6) RETURNING id",
        )
        .bind(user.email)
        .bind(user.name)
        .bind(user.role.as_str())
        .bind(user.password_hash)
        .bind(user.association_id)
        .bind(now)
        .fetch_one(c)
        .await
        .map_err(StoreError::from_write)
    })?;
    replace_territories(tx, id, user.territories).await?;
    Ok(id)
}

pub(super) async fn replace_territories(
    tx: &mut Tx,
    user_id: i64,
    territories: &[String],
) -> StoreResult<()> {
    with_tx!(tx, |c| sqlx::query(
        "DELETE FROM user_territories WHERE user_id = $1"
    )
    .bind(user_id)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    for code in territories {
        with_tx!(tx, |c| {
            sqlx::query(
            "INSERT INTO user_territories (user_id, departement_code) VALUES ($1, $2) ON CONFLICT DO NOTHING"
        )
        .bind(user_id)
        .bind(code)
        .execute(c)
        .await
        .map(|r| r.rows_affected())
        })?;
    }
    Ok(())
}

pub(super) const USER_COLUMNS: &str =
    "id, email, name, role, password_hash, association_id, active, created_at, last_login_at";

impl Store {
    #[tracing::instrument(skip(self, user), fields(email = user.email))]
    pub async fn create_user(&self, user: &NewUser<'_>, now: i64) -> StoreResult<i64> {
        let mut tx = self.begin().await?;
        let id = insert_user(&mut tx, user, now).await?;
        tx.commit().await?;
        Ok(id)
    }

    pub async fn user_by_email(&self, email: &str) -> StoreResult<Option<User>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE email = $1");
        Ok(with_db!(&self.db, |p| sqlx::query_as(&sql)
            .bind(email)
            .fetch_optional(p)
            .await)?)
    }

    pub async fn user_by_id(&self, id: i64) -> StoreResult<Option<User>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1");
        Ok(with_db!(&self.db, |p| sqlx::query_as(&sql)
            .bind(id)
            .fetch_optional(p)
            .await)?)
    }

    /// Active accounts that can own targets (staff and admins), for owner pickers and filters.
    pub async fn list_owners(&self) -> StoreResult<Vec<(i64, String)>> {
        Ok(with_db!(&self.db, |p| sqlx::query_as(
            "SELECT id, name FROM users WHERE active AND role IN ('admin', 'staff') ORDER BY name"
        )
        .fetch_all(p)
        .await)?)
    }

    pub async fn user_territories(&self, user_id: i64) -> StoreResult<Vec<String>> {
        Ok(with_db!(&self.db, |p| {
            sqlx::query_scalar(
            "SELECT departement_code FROM user_territories WHERE user_id = $1 ORDER BY departement_code"
        )
        .bind(user_id)
        .fetch_all(p)
        .await
        })?)
    }

    pub async fn count_users(&self) -> StoreResult<i64> {
        Ok(with_db!(&self.db, |p| sqlx::query_scalar(
            "SELECT COUNT(*) FROM users"
        )
        .fetch_one(p)
        .await)?)
    }

    pub async fn record_login(&self, user_id: i64, now: i64) -> StoreResult<()> {
        with_db!(&self.db, |p| sqlx::query(
            "UPDATE users SET last_login_at = $2 WHERE id = $1"
        )
        .bind(user_id)
        .bind(now)
        .execute(p)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Everyone with access, their role, association, territories and last login.
    pub async fn list_access(&self) -> StoreResult<Vec<AccessRow>> {
        // string_agg / group_concat differ: build the territory list in Rust instead of in SQL.
        let mut rows: Vec<AccessRow> = with_db!(&self.db, |p| sqlx::query_as(
            "SELECT u.id, u.name, u.email, u.role, u.active, o.name AS association,
                    CAST(NULL AS TEXT) AS territories, u.last_login_at
             FROM users u LEFT JOIN organisations o ON o.id = u.association_id
             ORDER BY u.role, u.name"
        )
        .fetch_all(p)
        .await)?;
        let territories: Vec<(i64, String)> = with_db!(&self.db, |p| {
            sqlx::query_as(
            "SELECT user_id, departement_code FROM user_territories ORDER BY user_id, departement_code"
        )
        .fetch_all(p)
        .await
        })?;
        for row in &mut rows {
            let codes: Vec<&str> = territories
                .iter()
                .filter(|(id, _)| *id == row.id)
                .map(|(_, code)| code.as_str())
                .collect();
            if !codes.is_empty() {
                row.territories = Some(codes.join(", "));
            }
        }
        Ok(rows)
    }

    /// Names and roles of the active accounts that can see a row of this département: every non-relay account,
    /// and the relays whose territories include it. Answers "who sees this contact?".
    pub async fn accounts_seeing(
        &self,
        departement_code: Option<&str>,
    ) -> StoreResult<Vec<(String, String)>> {
        Ok(with_db!(&self.db, |p| {
            sqlx::query_as(
            "SELECT name, role FROM users u WHERE u.active AND (u.role <> 'relay' OR EXISTS (
                 SELECT 1 FROM user_territories t WHERE t.user_id = u.id AND t.departement_code = $1))
             ORDER BY u.role, u.name"
        )
        .bind(departement_code)
        .fetch_all(p)
        .await
        })?)
    }

    // --- sessions -------------------------------------------------------------------------------------------

    pub async fn create_session(
        &self,
        token_hash: &str,
        user_id: i64,
        csrf_token: &str,
        now: i64,
        expires_at: i64,
    ) -> StoreResult<()> {
        with_db!(&self.db, |p| {
            sqlx::query(
            "INSERT INTO sessions (token_hash, user_id, csrf_token, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)"
        )
        .bind(token_hash)
        .bind(user_id)
        .bind(csrf_token)
        .bind(now)
        .bind(expires_at)
        .execute(p)
        .await
        .map(|r| r.rows_affected())
        })?;
        Ok(())
    }

    /// The user and CSRF token of a live session of an active account.
    pub async fn session_user(
        &self,
        token_hash: &str,
        now: i64,
    ) -> StoreResult<Option<ActiveSession>> {
        // One query: the account and the session's CSRF token together.
        Ok(with_db!(&self.db, |p| {
            sqlx::query_as(
            "SELECT u.id, u.email, u.name, u.role, u.password_hash, u.association_id, u.active, u.created_at,
                    u.last_login_at, s.csrf_token, s.expires_at
             FROM sessions s JOIN users u ON u.id = s.user_id
             WHERE s.token_hash = $1 AND s.expires_at > $2 AND u.active"
        )
        .bind(token_hash)
        .bind(now)
        .fetch_optional(p)
        .await
        })?)
    }

    pub async fn delete_session(&self, token_hash: &str) -> StoreResult<()> {
        with_db!(&self.db, |p| sqlx::query(
            "DELETE FROM sessions WHERE token_hash = $1"
        )
        .bind(token_hash)
        .execute(p)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(())
    }

    pub async fn delete_expired_sessions(&self, now: i64) -> StoreResult<u64> {
        let done = with_db!(&self.db, |p| sqlx::query(
            "DELETE FROM sessions WHERE expires_at <= $1"
        )
        .bind(now)
        .execute(p)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(done)
    }
}
