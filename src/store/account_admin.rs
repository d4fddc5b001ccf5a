//! Accounts as admins manage them on the access page: creating one, changing its role and territories,
//! closing and reopening it, and the one-time links that set a password (mailed, audited).

use super::accounts::{NewUser, USER_COLUMNS, User, insert_user, replace_territories};
use super::outbox::{NewMessage, NewRecipient, enqueue};
use super::{Store, StoreError, StoreResult, Tx, audit, with_db, with_tx};
use crate::domain::{EmailAddress, Role};

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
