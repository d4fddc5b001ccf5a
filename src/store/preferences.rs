//! What a person can do about their subscriptions from the personal link of any mail: see them, change
//! their mode (each message or the daily digest), leave lists. What relais holds about an address is
//! exported by `personal_data.rs`; being forgotten is `erasure.rs`.

use serde::Serialize;

use super::{Store, StoreResult, with_db, with_tx};

/// One subscription as its owner sees it.
#[derive(Debug, Clone, sqlx::FromRow, Serialize)]
pub struct OwnSubscription {
    pub list_id: i64,
    pub list_key: String,
    pub list_name: String,
    pub list_kind: crate::domain::ListKind,
    pub name: String,
    pub state: String,
    pub mode: String,
    pub consent_at: Option<i64>,
    pub consent_source: String,
    /// The staff member who recorded the consent (a re-subscription at the person's request); empty when the
    /// person gave it through a form or a link.
    pub consent_by: String,
    pub legal_basis: String,
    pub wording_version: String,
    pub created_at: i64,
    pub updated_at: i64,
}

impl Store {
    /// The address a delivery went to, unless it was erased since.
    pub async fn delivery_recipient(&self, delivery_id: i64) -> StoreResult<Option<String>> {
        Ok(with_db!(&self.db, |p| sqlx::query_scalar(
            "SELECT recipient FROM mail_deliveries WHERE id = $1 AND recipient <> ''"
        )
        .bind(delivery_id)
        .fetch_optional(p)
        .await)?
        .map(|address: String| address.to_lowercase()))
    }

    /// Whether delivery `delivery_id` is a mail of `kinds` sent since `since`: a link mailed at the person's
    /// own request, recent enough to open their personal data (a link in an older mail may have been
    /// forwarded or quoted).
    pub async fn delivery_is_fresh_link(
        &self,
        delivery_id: i64,
        kinds: &[&str],
        since: i64,
    ) -> StoreResult<bool> {
        let sql = format!(
            "SELECT EXISTS (SELECT 1 FROM mail_deliveries d JOIN mail_messages m ON m.id = d.message_id
             WHERE d.id = $1 AND d.created_at >= $2 AND m.kind IN ({}))",
            super::numbered_placeholders(3, kinds.len())
        );
        Ok(with_db!(&self.db, |p| {
            let mut query = sqlx::query_scalar(&sql).bind(delivery_id).bind(since);
            for kind in kinds {
                query = query.bind(*kind);
            }
            query.fetch_one(p).await
        })?)
    }

    /// Every subscription of `address`, whatever its state.
    pub async fn subscriptions_of_address(
        &self,
        address: &str,
    ) -> StoreResult<Vec<OwnSubscription>> {
        Ok(with_db!(&self.db, |p| {
            sqlx::query_as(
                "SELECT s.list_id, l.list_key, l.name AS list_name, l.kind AS list_kind, s.name, s.state,
                    s.mode, s.consent_at, s.consent_source, s.consent_by, s.legal_basis, s.wording_version,
                    s.created_at, s.updated_at
                 FROM subscriptions s JOIN mailing_lists l ON l.id = s.list_id
                 WHERE s.address = $1 ORDER BY l.name",
            )
            .bind(address.to_lowercase())
            .fetch_all(p)
            .await
        })?)
    }

    /// Sets how `address` receives `list_id` (`each` or `digest`); false when there is no such
    /// subscription.
    pub async fn set_subscription_mode(
        &self,
        address: &str,
        list_id: i64,
        mode: &str,
        now: i64,
    ) -> StoreResult<bool> {
        let changed = with_db!(&self.db, |p| {
            sqlx::query(
            "UPDATE subscriptions SET mode = $1, updated_at = $2 WHERE address = $3 AND list_id = $4"
        )
        .bind(mode)
        .bind(now)
        .bind(address.to_lowercase())
        .bind(list_id)
        .execute(p)
        .await
        .map(|r| r.rows_affected())
        })?;
        Ok(changed == 1)
    }

    /// Ends the subscriptions of `address` to `list_id` (or to every list when `None`) that are not ended
    /// yet, and records each departure (source `preferences`). Returns how many ended.
    pub async fn leave_lists(
        &self,
        address: &str,
        list_id: Option<i64>,
        now: i64,
    ) -> StoreResult<u64> {
        let address = address.to_lowercase();
        let mut tx = self.begin().await?;
        let ending: Vec<(i64, String)> = with_tx!(&mut tx, |c| {
            sqlx::query_as(
            "SELECT s.id, l.list_key FROM subscriptions s JOIN mailing_lists l ON l.id = s.list_id
             WHERE s.address = $1 AND s.state <> 'unsubscribed' AND ($2 IS NULL OR s.list_id = $2)"
        )
        .bind(&address)
        .bind(list_id)
        .fetch_all(c)
        .await
        })?;
        for (id, list_key) in &ending {
            with_tx!(&mut tx, |c| sqlx::query(
                "UPDATE subscriptions SET state = 'unsubscribed', updated_at = $1 WHERE id = $2"
            )
            .bind(now)
            .bind(id)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
            with_tx!(&mut tx, |c| sqlx::query(
                "INSERT INTO unsubscribes (list_key, address, source, created_at)
                 VALUES ($1, $2, 'preferences', $3) ON CONFLICT (list_key, address) DO NOTHING"
            )
            .bind(list_key)
            .bind(&address)
            .bind(now)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
        }
        tx.commit().await?;
        Ok(ending.len() as u64)
    }

    /// Whether the preferences link may be mailed to `address`: relais knows it (a subscription or a contact
    /// record) and sent it no such link since `since`.
    pub async fn may_send_preferences_link(&self, address: &str, since: i64) -> StoreResult<bool> {
        let address = address.to_lowercase();
        let (known, recent): (bool, bool) = with_db!(&self.db, |p| {
            sqlx::query_as(
            "SELECT EXISTS (SELECT 1 FROM subscriptions WHERE address = $1)
                    OR EXISTS (SELECT 1 FROM person_emails WHERE LOWER(email) = $1),
                EXISTS (SELECT 1 FROM mail_deliveries d JOIN mail_messages m ON m.id = d.message_id
                        WHERE d.recipient = $1 AND m.kind = 'preferences_link' AND d.created_at >= $2)"
        )
        .bind(&address)
        .bind(since)
        .fetch_one(p)
        .await
        })?;
        Ok(known && !recent)
    }
}
