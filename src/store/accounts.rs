//! Accounts: users and their territories, sessions, failed logins, API tokens.

use super::outbox::{NewMessage, NewRecipient, enqueue};
use super::{Scope, Store, StoreError, StoreResult, Tx, audit, with_db, with_tx};
use crate::domain::{EmailAddress, Role};

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

/// The failed logins that bear on one attempt (see `login_attempt_record`).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct LoginAttemptRecord {
    /// Failures of this account from this address.
    pub pair_failures: i64,
    pub pair_last_failure_at: Option<i64>,
    /// Failures of this account from every address.
    pub account_failures: i64,
    /// Failures from this address on every account.
    pub address_failures: i64,
    /// Whether the account logged in successfully from this address recently.
    pub known_address: bool,
}

/// Whose failures [`Store::nth_latest_login_failure`] reads.
#[derive(Debug, Clone, Copy)]
pub enum LoginFailuresOf<'a> {
    Account(&'a str),
    Address(&'a str),
}

/// Inserts an account and its territories inside `tx`.
async fn insert_user(tx: &mut Tx, user: &NewUser<'_>, now: i64) -> StoreResult<i64> {
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

async fn replace_territories(tx: &mut Tx, user_id: i64, territories: &[String]) -> StoreResult<()> {
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

const USER_COLUMNS: &str =
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

    // --- login rate limiting --------------------------------------------------------------------------------

    pub async fn record_login_failure(
        &self,
        account: &str,
        address: &str,
        now: i64,
    ) -> StoreResult<()> {
        with_db!(&self.db, |p| sqlx::query(
            "INSERT INTO login_failures (account, address, failed_at) VALUES ($1, $2, $3)"
        )
        .bind(account)
        .bind(address)
        .bind(now)
        .execute(p)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Failures since `since` for this account and for this address.
    pub async fn count_login_failures(
        &self,
        account: &str,
        address: &str,
        since: i64,
    ) -> StoreResult<(i64, i64)> {
        Ok(with_db!(&self.db, |p| sqlx::query_as(
            "SELECT (SELECT COUNT(*) FROM login_failures WHERE account = $1 AND failed_at >= $3),
                    (SELECT COUNT(*) FROM login_failures WHERE address = $2 AND failed_at >= $3)"
        )
        .bind(account)
        .bind(address)
        .bind(since)
        .fetch_one(p)
        .await)?)
    }

    /// Forgets failures older than `before` (they no longer count towards a lockout).
    pub async fn delete_old_login_failures(&self, before: i64) -> StoreResult<u64> {
        Ok(with_db!(&self.db, |p| sqlx::query(
            "DELETE FROM login_failures WHERE failed_at < $1"
        )
        .bind(before)
        .execute(p)
        .await
        .map(|r| r.rows_affected()))?)
    }

    /// Clears every failure of the account, from every address (an administrator's unlock).
    pub async fn clear_login_failures(&self, account: &str) -> StoreResult<()> {
        with_db!(&self.db, |p| sqlx::query(
            "DELETE FROM login_failures WHERE account = $1"
        )
        .bind(account)
        .execute(p)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// What login throttling needs to know about an attempt on `account` from `address`: failures since
    /// `since`, and whether the account logged in from that address since `known_since`.
    pub async fn login_attempt_record(
        &self,
        account: &str,
        address: &str,
        since: i64,
        known_since: i64,
    ) -> StoreResult<LoginAttemptRecord> {
        Ok(with_db!(&self.db, |p| {
            sqlx::query_as(
            "SELECT
                (SELECT COUNT(*) FROM login_failures
                 WHERE account = $1 AND address = $2 AND failed_at >= $3) AS pair_failures,
                (SELECT MAX(failed_at) FROM login_failures
                 WHERE account = $1 AND address = $2 AND failed_at >= $3) AS pair_last_failure_at,
                (SELECT COUNT(*) FROM login_failures WHERE account = $1 AND failed_at >= $3) AS account_failures,
                (SELECT COUNT(*) FROM login_failures WHERE address = $2 AND failed_at >= $3) AS address_failures,
                EXISTS (SELECT 1 FROM login_addresses
                        WHERE account = $1 AND address = $2 AND last_success_at >= $4) AS known_address"
        )
        .bind(account)
        .bind(address)
        .bind(since)
        .bind(known_since)
        .fetch_one(p)
        .await
        })?)
    }

    /// When the `count`-th most recent failure since `since` of an account or an address happened: once it
    /// is older than the window, fewer than `count` failures remain in it.
    pub async fn nth_latest_login_failure(
        &self,
        of: LoginFailuresOf<'_>,
        count: i64,
        since: i64,
    ) -> StoreResult<Option<i64>> {
        let (sql, key) = match of {
            LoginFailuresOf::Account(account) => (
                "SELECT failed_at FROM login_failures WHERE account = $1 AND failed_at >= $2
                 ORDER BY failed_at DESC LIMIT 1 OFFSET $3",
                account,
            ),
            LoginFailuresOf::Address(address) => (
                "SELECT failed_at FROM login_failures WHERE address = $1 AND failed_at >= $2
                 ORDER BY failed_at DESC LIMIT 1 OFFSET $3",
                address,
            ),
        };
        Ok(with_db!(&self.db, |p| sqlx::query_scalar(sql)
            .bind(key)
            .bind(since)
            .bind((count - 1).max(0))
            .fetch_optional(p)
            .await)?)
    }

    /// A successful login: clears the failures of this account from this address (not those from
    /// elsewhere, which still count towards the account's limit), and remembers the address as one the
    /// account uses; addresses not used since `forget_before` are forgotten.
    pub async fn record_login_success(
        &self,
        account: &str,
        address: &str,
        now: i64,
        forget_before: i64,
    ) -> StoreResult<()> {
        with_db!(&self.db, |p| sqlx::query(
            "DELETE FROM login_failures WHERE account = $1 AND address = $2"
        )
        .bind(account)
        .bind(address)
        .execute(p)
        .await
        .map(|r| r.rows_affected()))?;
        with_db!(&self.db, |p| {
            sqlx::query(
            "INSERT INTO login_addresses (account, address, last_success_at) VALUES ($1, $2, $3)
             ON CONFLICT (account, address) DO UPDATE SET last_success_at = excluded.last_success_at"
        )
        .bind(account)
        .bind(address)
        .bind(now)
        .execute(p)
        .await
        .map(|r| r.rows_affected())
        })?;
        with_db!(&self.db, |p| sqlx::query(
            "DELETE FROM login_addresses WHERE account = $1 AND last_success_at < $2"
        )
        .bind(account)
        .bind(forget_before)
        .execute(p)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(())
    }

    // --- API tokens -----------------------------------------------------------------------------------------

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

/// A one-time link to set a password: the hash of its token, its end, and the mail that carries it.
pub struct PasswordLink {
    pub token_hash: String,
    pub expires_at: i64,
    pub message: NewMessage,
}

/// What an admin changes on an account.
#[derive(Debug, Clone)]
pub struct AccountChange {
    pub role: Role,
    pub territories: Vec<String>,
    pub association_id: Option<i64>,
}

const LAST_ADMIN: &str =
    "C'est le dernier compte administrateur actif : nommez d'abord un autre administrateur.";

/// Records the link and enqueues its mail to the account, inside `tx`.
async fn send_password_link(
    tx: &mut Tx,
    user_id: i64,
    email: &EmailAddress,
    name: &str,
    link: &PasswordLink,
    now: i64,
) -> StoreResult<()> {
    // An older link still unused stops working: only the latest mail counts.
    with_tx!(tx, |c| {
        sqlx::query(
        "UPDATE password_resets SET expires_at = $2 WHERE user_id = $1 AND used_at IS NULL AND expires_at > $2"
    )
    .bind(user_id)
    .bind(now)
    .execute(c)
    .await
    .map(|r| r.rows_affected())
    })?;
    with_tx!(tx, |c| {
        sqlx::query(
        "INSERT INTO password_resets (user_id, token_hash, created_at, expires_at) VALUES ($1, $2, $3, $4)"
    )
    .bind(user_id)
    .bind(&link.token_hash)
    .bind(now)
    .bind(link.expires_at)
    .execute(c)
    .await
    .map(|r| r.rows_affected())
    .map_err(StoreError::from_write)
    })?;
    let recipient = NewRecipient {
        address: email.clone(),
        name: name.to_string(),
        person_id: None,
    };
    enqueue(tx, &link.message, &[recipient], now).await?;
    Ok(())
}

/// Active admins other than `user_id`, read inside `tx`.
async fn other_active_admins(tx: &mut Tx, user_id: i64) -> StoreResult<i64> {
    Ok(with_tx!(tx, |c| sqlx::query_scalar(
        "SELECT COUNT(*) FROM users WHERE role = 'admin' AND active AND id <> $1"
    )
    .bind(user_id)
    .fetch_one(c)
    .await)?)
}

impl Store {
    /// Creates an account without a usable password and mails it a link to choose one.
    pub async fn create_account(
        &self,
        user: &NewUser<'_>,
        link: &PasswordLink,
        actor: &audit::Actor,
        now: i64,
    ) -> StoreResult<i64> {
        let mut tx = self.begin().await?;
        let id = insert_user(&mut tx, user, now).await?;
        // The account's address as just stored.
        let email = EmailAddress::stored(user.email.to_string());
        send_password_link(&mut tx, id, &email, user.name, link, now).await?;
        audit::record(
            &mut tx,
            actor,
            "create",
            "account",
            Some(id),
            serde_json::json!({
                "label": user.name,
                "email": user.email,
                "role": user.role.as_str(),
                "territories": user.territories,
            }),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Changes an account's role, territories and association. The last active admin keeps the role.
    pub async fn update_account(
        &self,
        id: i64,
        change: &AccountChange,
        actor: &audit::Actor,
        now: i64,
    ) -> StoreResult<User> {
        let before = self.user_by_id(id).await?.ok_or(StoreError::NotFound)?;
        let territories_before = self.user_territories(id).await?;
        let mut tx = self.begin().await?;
        if before.role == "admin"
            && before.active
            && change.role != Role::Admin
            && other_active_admins(&mut tx, id).await? == 0
        {
            return Err(StoreError::Conflict(LAST_ADMIN.into()));
        }
        with_tx!(&mut tx, |c| sqlx::query(
            "UPDATE users SET role = $2, association_id = $3 WHERE id = $1"
        )
        .bind(id)
        .bind(change.role.as_str())
        .bind(change.association_id)
        .execute(c)
        .await
        .map(|r| r.rows_affected())
        .map_err(StoreError::from_write))?;
        replace_territories(&mut tx, id, &change.territories).await?;
        let mut changes = serde_json::Map::new();
        if before.role != change.role.as_str() {
            changes.insert(
                "role".into(),
                serde_json::json!([before.role, change.role.as_str()]),
            );
        }
        let mut after_territories = change.territories.clone();
        after_territories.sort();
        if territories_before != after_territories {
            changes.insert(
                "territories".into(),
                serde_json::json!([territories_before.join(", "), after_territories.join(", ")]),
            );
        }
        if before.association_id != change.association_id {
            changes.insert(
                "association".into(),
                serde_json::json!([before.association_id, change.association_id]),
            );
        }
        if !changes.is_empty() {
            audit::record(
                &mut tx,
                actor,
                "update",
                "account",
                Some(id),
                serde_json::json!({"label": before.name, "changes": changes}),
                now,
            )
            .await?;
        }
        tx.commit().await?;
        Ok(before)
    }

    /// Disables (its sessions end at once, its unused links stop working) or re-enables an account. The
    /// last active admin cannot be disabled.
    pub async fn set_account_active(
        &self,
        id: i64,
        active: bool,
        actor: &audit::Actor,
        now: i64,
    ) -> StoreResult<User> {
        let before = self.user_by_id(id).await?.ok_or(StoreError::NotFound)?;
        if before.active == active {
            return Ok(before);
        }
        let mut tx = self.begin().await?;
        if !active && before.role == "admin" && other_active_admins(&mut tx, id).await? == 0 {
            return Err(StoreError::Conflict(LAST_ADMIN.into()));
        }
        with_tx!(&mut tx, |c| sqlx::query(
            "UPDATE users SET active = $2 WHERE id = $1"
        )
        .bind(id)
        .bind(active)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
        if !active {
            with_tx!(&mut tx, |c| sqlx::query(
                "DELETE FROM sessions WHERE user_id = $1"
            )
            .bind(id)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
            with_tx!(&mut tx, |c| {
                sqlx::query(
                "UPDATE password_resets SET expires_at = $2 WHERE user_id = $1 AND used_at IS NULL AND expires_at > $2"
            )
            .bind(id)
            .bind(now)
            .execute(c)
            .await
            .map(|r| r.rows_affected())
            })?;
        }
        audit::record(
            &mut tx,
            actor,
            if active { "enable" } else { "disable" },
            "account",
            Some(id),
            serde_json::json!({"label": before.name, "email": before.email}),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(before)
    }

    /// Mails an active account a new one-time link to choose its password.
    pub async fn reset_password(
        &self,
        id: i64,
        link: &PasswordLink,
        actor: &audit::Actor,
        now: i64,
    ) -> StoreResult<User> {
        let user = self.user_by_id(id).await?.ok_or(StoreError::NotFound)?;
        if !user.active {
            return Err(StoreError::Conflict(
                "Ce compte est désactivé : réactivez-le avant de réinitialiser son mot de passe."
                    .into(),
            ));
        }
        let mut tx = self.begin().await?;
        let email = EmailAddress::stored(user.email.clone());
        send_password_link(&mut tx, id, &email, &user.name, link, now).await?;
        audit::record(
            &mut tx,
            actor,
            "reset_password",
            "account",
            Some(id),
            serde_json::json!({"label": user.name, "email": user.email}),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(user)
    }

    /// The active account a password link opens, while it is unused and not expired.
    pub async fn password_link_user(
        &self,
        token_hash: &str,
        now: i64,
    ) -> StoreResult<Option<User>> {
        let sql = format!(
            "SELECT {} FROM users u JOIN password_resets r ON r.user_id = u.id
             WHERE r.token_hash = $1 AND r.used_at IS NULL AND r.expires_at > $2 AND u.active",
            USER_COLUMNS
                .split(", ")
                .map(|c| format!("u.{c}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        Ok(with_db!(&self.db, |p| sqlx::query_as(&sql)
            .bind(token_hash)
            .bind(now)
            .fetch_optional(p)
            .await)?)
    }

    /// Sets the password chosen through a link, once: the link is spent, the account's other sessions end,
    /// and the link is taken out of the stored copy of its mail (only its hash was kept in
    /// `password_resets`; the outbox keeps what it sent). None when the link is unknown, used, expired or
    /// its account disabled.
    pub async fn use_password_link(
        &self,
        token: &str,
        password_hash: &str,
        now: i64,
    ) -> StoreResult<Option<User>> {
        let token_hash = crate::security::sha256_hex(token);
        let mut tx = self.begin().await?;
        let user_id: Option<i64> = with_tx!(&mut tx, |c| sqlx::query_scalar(
            "UPDATE password_resets SET used_at = $2
             WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2
               AND user_id IN (SELECT id FROM users WHERE active) RETURNING user_id"
        )
        .bind(token_hash)
        .bind(now)
        .fetch_optional(c)
        .await)?;
        let Some(user_id) = user_id else {
            return Ok(None);
        };
        for sql in [
            "UPDATE users SET password_hash = $2 WHERE id = $1",
            "DELETE FROM sessions WHERE user_id = $1 AND $2 <> ''",
        ] {
            with_tx!(&mut tx, |c| sqlx::query(sql)
                .bind(user_id)
                .bind(password_hash)
                .execute(c)
                .await
                .map(|r| r.rows_affected()))?;
        }
        with_tx!(&mut tx, |c| sqlx::query(
            "UPDATE mail_messages SET body_text = REPLACE(body_text, $1, 'lien-utilise'),
                    body_html = REPLACE(body_html, $1, 'lien-utilise')
             WHERE kind = 'password_link' AND body_text LIKE '%' || $1 || '%'"
        )
        .bind(token)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1");
        let user: User = with_tx!(&mut tx, |c| sqlx::query_as(&sql)
            .bind(user_id)
            .fetch_one(c)
            .await)?;
        audit::record(
            &mut tx,
            &audit::Actor {
                user_id: Some(user.id),
                label: user.name.clone(),
            },
            "set_password",
            "account",
            Some(user.id),
            serde_json::json!({"label": user.name}),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(Some(user))
    }
}
