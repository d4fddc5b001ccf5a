//! Leaving a list from a mail: what an unsubscribe link leads to, and the record that the address left (kept
//! even when the subscription row is gone, so the list never writes to it again unasked).

use super::{Store, StoreResult, with_db, with_tx};

/// What an unsubscribe link leads to: the recipient and the subscription they can leave.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UnsubscribeTarget {
    pub delivery_id: i64,
    pub address: String,
    pub list_key: String,
    pub list_label: String,
}

impl Store {
    /// The recipient and list of a delivery, when its message is list or newsletter mail.
    pub async fn unsubscribe_target(
        &self,
        delivery_id: i64,
    ) -> StoreResult<Option<UnsubscribeTarget>> {
        Ok(with_db!(&self.db, |p| sqlx::query_as(
            "SELECT d.id AS delivery_id, d.recipient AS address, m.list_key, m.list_label
             FROM mail_deliveries d JOIN mail_messages m ON m.id = d.message_id
             WHERE d.id = $1 AND m.list_key <> '' AND d.recipient <> ''"
        )
        .bind(delivery_id)
        .fetch_optional(p)
        .await)?)
    }

    /// Records that `address` left `list_key`; the first time counts (its date and source are kept).
    pub async fn record_unsubscribe(
        &self,
        target: &UnsubscribeTarget,
        source: &str,
        now: i64,
    ) -> StoreResult<()> {
        let address = target.address.to_lowercase();
        let mut tx = self.begin().await?;
        with_tx!(&mut tx, |c| sqlx::query(
            "INSERT INTO unsubscribes (list_key, address, delivery_id, source, created_at)
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (list_key, address) DO NOTHING"
        )
        .bind(&target.list_key)
        .bind(&address)
        .bind(target.delivery_id)
        .bind(source)
        .bind(now)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
        // The subscription, when the list is one people subscribe to, ends with it.
        with_tx!(&mut tx, |c| sqlx::query(
            "UPDATE subscriptions SET state = 'unsubscribed', updated_at = $1
             WHERE address = $2 AND state <> 'unsubscribed'
               AND list_id = (SELECT id FROM mailing_lists WHERE list_key = $3)"
        )
        .bind(now)
        .bind(&address)
        .bind(&target.list_key)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
        tx.commit().await?;
        Ok(())
    }

    /// When and how `address` left `list_key`, if it did.
    pub async fn unsubscribed(
        &self,
        list_key: &str,
        address: &str,
    ) -> StoreResult<Option<(i64, String)>> {
        Ok(with_db!(&self.db, |p| sqlx::query_as(
            "SELECT created_at, source FROM unsubscribes WHERE list_key = $1 AND address = $2"
        )
        .bind(list_key)
        .bind(address.to_lowercase())
        .fetch_optional(p)
        .await)?)
    }
}
