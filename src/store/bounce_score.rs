//! Mailman's bounce scoring, per subscription: a counted bounce (a permanent failure, never a delay, a
//! temporary failure or a 5.7.x policy refusal) adds one point, at most once per day; a score whose last
//! point is more than [`RESET_DAYS`] old starts again; at [`THRESHOLD`] delivery is disabled. A disabled
//! subscription then gets up to [`WARNINGS`] warnings [`WARNING_EVERY_DAYS`] apart, and is removed after the
//! last. An abuse report ends the reporter's subscription to the list at once.

use chrono::NaiveDate;

use super::outbox::NewRecipient;
use super::{Store, StoreResult, Tx, with_db, with_tx};

/// Points that disable delivery.
pub const THRESHOLD: i64 = 5;
/// Days without a counted bounce after which the score starts again.
pub const RESET_DAYS: i64 = 7;
/// Warnings sent to a disabled subscription before it is removed.
pub const WARNINGS: i64 = 3;
pub const WARNING_EVERY_DAYS: i64 = 7;

/// A subscription whose delivery a bounce just disabled, for telling staff.
#[derive(Debug, Clone, PartialEq)]
pub struct Disabled {
    pub address: String,
    pub list: String,
}

/// Adds a counted bounce of `address` on `day` to each of its subscriptions still receiving mail; returns
/// those it disabled.
pub(crate) async fn charge(
    tx: &mut Tx,
    address: &str,
    day: NaiveDate,
    now: i64,
) -> StoreResult<Vec<Disabled>> {
    let rows: Vec<(i64, i64, String, String)> = with_tx!(tx, |c| sqlx::query_as(
        "SELECT s.id, s.bounce_score, s.bounce_day, l.name FROM subscriptions s
         JOIN mailing_lists l ON l.id = s.list_id
         WHERE s.address = $1 AND s.state IN ('active', 'bouncing')"
    )
    .bind(address.to_lowercase())
    .fetch_all(c)
    .await)?;
    let today = day.to_string();
    let mut disabled = Vec::new();
    for (id, score, last_day, list) in rows {
        if last_day == today {
            continue; // one point a day at most
        }
        let stale = NaiveDate::parse_from_str(&last_day, "%Y-%m-%d")
            .map(|last| (day - last).num_days() > RESET_DAYS)
            .unwrap_or(true);
        let score = if stale { 1 } else { score + 1 };
        let disable = score >= THRESHOLD;
        // Below the threshold the subscription keeps receiving: only its score moves.
        with_tx!(tx, |c| sqlx::query(
            "UPDATE subscriptions SET bounce_score = $1, bounce_day = $2, updated_at = $3,
                state = CASE WHEN $4 THEN 'disabled' ELSE state END,
                bounce_warnings = 0, bounce_warned_at = NULL
             WHERE id = $5"
        )
        .bind(score)
        .bind(&today)
        .bind(now)
        .bind(disable)
        .bind(id)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
        if disable {
            disabled.push(Disabled {
                address: address.to_lowercase(),
                list,
            });
        }
    }
    Ok(disabled)
}

impl Store {
    /// Subscriptions in a disabled state due a warning at `now` (none yet, or the last one
    /// [`WARNING_EVERY_DAYS`] ago): (subscription id, address, list name, warnings so far).
    pub async fn bounce_warnings_due(
        &self,
        now: i64,
    ) -> StoreResult<Vec<(i64, String, String, i64)>> {
        Ok(with_db!(&self.db, |p| sqlx::query_as(
            "SELECT s.id, s.address, l.name, s.bounce_warnings FROM subscriptions s
             JOIN mailing_lists l ON l.id = s.list_id
             WHERE s.state = 'disabled' AND s.bounce_score >= $1
               AND (s.bounce_warned_at IS NULL OR s.bounce_warned_at <= $2)
             ORDER BY s.id"
        )
        .bind(THRESHOLD)
        .bind(now - WARNING_EVERY_DAYS * 86_400_000)
        .fetch_all(p)
        .await)?)
    }

    /// Sends one warning (claimed with the subscription's row, so once) or, after the last, removes the
    /// subscription. Returns true when this call did something.
    pub async fn warn_or_remove(
        &self,
        id: i64,
        warnings_so_far: i64,
        warning: &super::outbox::NewMessage,
        recipient: &NewRecipient,
        now: i64,
    ) -> StoreResult<bool> {
        let mut tx = self.begin().await?;
        let due = now - WARNING_EVERY_DAYS * 86_400_000;
        let done = if warnings_so_far >= WARNINGS {
            with_tx!(&mut tx, |c| sqlx::query(
                "UPDATE subscriptions SET state = 'unsubscribed', updated_at = $1
                 WHERE id = $2 AND state = 'disabled' AND bounce_warnings = $3
                   AND (bounce_warned_at IS NULL OR bounce_warned_at <= $4)"
            )
            .bind(now)
            .bind(id)
            .bind(warnings_so_far)
            .bind(due)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?
        } else {
            let claimed = with_tx!(&mut tx, |c| {
                sqlx::query(
                "UPDATE subscriptions SET bounce_warnings = bounce_warnings + 1, bounce_warned_at = $1
                 WHERE id = $2 AND state = 'disabled' AND bounce_warnings = $3
                   AND (bounce_warned_at IS NULL OR bounce_warned_at <= $4)"
            )
            .bind(now)
            .bind(id)
            .bind(warnings_so_far)
            .bind(due)
            .execute(c)
            .await
            .map(|r| r.rows_affected())
            })?;
            if claimed == 1 {
                super::outbox::enqueue(&mut tx, warning, std::slice::from_ref(recipient), now)
                    .await?;
            }
            claimed
        };
        tx.commit().await?;
        Ok(done == 1)
    }

    /// Charges a bounce reported after delivery (see [`charge`]) in a transaction of its own.
    pub async fn charge_bounce(
        &self,
        address: &str,
        day: NaiveDate,
        now: i64,
    ) -> StoreResult<Vec<Disabled>> {
        let mut tx = self.begin().await?;
        let disabled = charge(&mut tx, address, day, now).await?;
        tx.commit().await?;
        Ok(disabled)
    }

    /// The state and score of `address`'s subscription to `list_key`.
    pub async fn bounce_state(
        &self,
        list_key: &str,
        address: &str,
    ) -> StoreResult<Option<(String, i64, i64)>> {
        Ok(with_db!(&self.db, |p| sqlx::query_as(
            "SELECT s.state, s.bounce_score, s.bounce_warnings FROM subscriptions s
             JOIN mailing_lists l ON l.id = s.list_id WHERE l.list_key = $1 AND s.address = $2"
        )
        .bind(list_key)
        .bind(address.to_lowercase())
        .fetch_optional(p)
        .await)?)
    }
}
