//! Federation's durable outbox: one row per activity and partner inbox, written when the activity is made,
//! claimed under a lease by the delivery job of one instance, retried with back-off, and closed as
//! delivered, refused (the partner answered 4xx) or failed (no answer before `give_up_hours`). The same
//! pattern as `mail_deliveries`, without its batching: partners are few.

use super::{Store, StoreResult, with_db};

/// A delivery to make.
#[derive(Debug, Clone)]
pub struct NewActivityDelivery<'a> {
    pub partner_id: i64,
    pub activity_id: &'a str,
    /// What it carries, in French, for staff.
    pub label: &'a str,
    pub inbox_url: &'a str,
    /// `group` or `application`.
    pub signer: &'a str,
    pub body: &'a str,
}

/// A delivery claimed by this instance's job.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ClaimedActivity {
    pub id: i64,
    pub partner_id: i64,
    pub activity_id: String,
    pub inbox_url: String,
    pub signer: String,
    pub body: String,
    pub attempts: i64,
    pub created_at: i64,
}

/// A delivery as the Réseaux page shows it.
#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize)]
pub struct ActivityDelivery {
    pub id: i64,
    pub partner_id: i64,
    pub activity_id: String,
    pub label: String,
    pub inbox_url: String,
    /// `pending`, `delivered`, `refused` or `failed`.
    pub state: String,
    pub attempts: i64,
    pub next_attempt_at: i64,
    pub last_status: Option<i64>,
    pub last_error: String,
    pub created_at: i64,
    pub done_at: Option<i64>,
}

/// How one try ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ActivityOutcome {
    /// 2xx.
    Delivered(u16),
    /// 4xx other than 408 and 429: the partner will not take it.
    Refused(u16, String),
    /// No answer, 5xx, 408 or 429: tried again at `retry_at`, unless past the give-up time (`None`).
    Retry {
        status: Option<u16>,
        error: String,
        retry_at: Option<i64>,
    },
}

impl Store {
    /// Queues deliveries (an activity to the same inbox only once); returns how many are new.
    pub async fn enqueue_activities(
        &self,
        deliveries: &[NewActivityDelivery<'_>],
        now: i64,
    ) -> StoreResult<u64> {
        let mut added = 0;
        let mut tx = self.begin().await?;
        for delivery in deliveries {
            added += super::with_tx!(&mut tx, |c| {
                sqlx::query(
                "INSERT INTO federation_deliveries
                     (partner_id, activity_id, label, inbox_url, signer, body, next_attempt_at, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $7) ON CONFLICT (activity_id, inbox_url) DO NOTHING"
            )
            .bind(delivery.partner_id)
            .bind(delivery.activity_id)
            .bind(delivery.label)
            .bind(delivery.inbox_url)
            .bind(delivery.signer)
            .bind(delivery.body)
            .bind(now)
            .execute(c)
            .await
            .map(|r| r.rows_affected())
            })?;
        }
        tx.commit().await?;
        if added > 0 {
            self.wake_schedules();
        }
        Ok(added)
    }

    /// Claims up to `limit` due deliveries until `lease_until`: another instance's job skips them, and a
    /// crashed instance's lease simply runs out.
    pub async fn claim_activity_deliveries(
        &self,
        now: i64,
        lease_until: i64,
        limit: i64,
    ) -> StoreResult<Vec<ClaimedActivity>> {
        let due = "SELECT id FROM federation_deliveries
             WHERE state = 'pending' AND next_attempt_at <= $2 AND (lease_until IS NULL OR lease_until <= $2)
             ORDER BY next_attempt_at, id LIMIT $3";
        let sql = if self.is_postgres() {
            format!(
                "WITH picked AS MATERIALIZED ({due} FOR UPDATE SKIP LOCKED)
                 UPDATE federation_deliveries d SET lease_until = $1, attempts = d.attempts + 1
                 FROM picked WHERE d.id = picked.id
                 RETURNING d.id, d.partner_id, d.activity_id, d.inbox_url, d.signer, d.body, d.attempts, d.created_at"
            )
        } else {
            format!(
                "UPDATE federation_deliveries SET lease_until = $1, attempts = attempts + 1
                 WHERE id IN ({due})
                 RETURNING id, partner_id, activity_id, inbox_url, signer, body, attempts, created_at"
            )
        };
        let mut claimed: Vec<ClaimedActivity> = with_db!(&self.db, |p| sqlx::query_as(&sql)
            .bind(lease_until)
            .bind(now)
            .bind(limit)
            .fetch_all(p)
            .await)?;
        claimed.sort_by_key(|d| d.id);
        Ok(claimed)
    }

    /// Records how a try of a claimed delivery ended, and lets its lease go.
    pub async fn record_activity_delivery(
        &self,
        id: i64,
        outcome: &ActivityOutcome,
        now: i64,
    ) -> StoreResult<()> {
        let (state, status, error, next): (&str, Option<i64>, &str, Option<i64>) = match outcome {
            ActivityOutcome::Delivered(status) => ("delivered", Some(*status as i64), "", None),
            ActivityOutcome::Refused(status, why) => ("refused", Some(*status as i64), why, None),
            ActivityOutcome::Retry {
                status,
                error,
                retry_at: Some(at),
            } => ("pending", status.map(i64::from), error, Some(*at)),
            ActivityOutcome::Retry {
                status,
                error,
                retry_at: None,
            } => ("failed", status.map(i64::from), error, None),
        };
        with_db!(&self.db, |p| sqlx::query(
            "UPDATE federation_deliveries SET state = $2, last_status = $3, last_error = $4,
                 next_attempt_at = COALESCE($5, next_attempt_at), lease_until = NULL,
                 done_at = CASE WHEN $2 = 'pending' THEN NULL ELSE $6 END
             WHERE id = $1"
        )
        .bind(id)
        .bind(state)
        .bind(status)
        .bind(error)
        .bind(next)
        .bind(now)
        .execute(p)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// The moment the next pending delivery falls due, if any.
    pub async fn next_activity_delivery_due(&self) -> StoreResult<Option<i64>> {
        Ok(with_db!(&self.db, |p| sqlx::query_scalar(
            "SELECT MIN(CASE WHEN lease_until IS NOT NULL AND lease_until > next_attempt_at
                             THEN lease_until ELSE next_attempt_at END)
             FROM federation_deliveries WHERE state = 'pending'"
        )
        .fetch_one(p)
        .await)?)
    }

    /// The last deliveries, newest first, to one partner or to all.
    pub async fn activity_deliveries(
        &self,
        partner_id: Option<i64>,
        limit: i64,
    ) -> StoreResult<Vec<ActivityDelivery>> {
        Ok(with_db!(&self.db, |p| {
            sqlx::query_as(
            "SELECT id, partner_id, activity_id, label, inbox_url, state, attempts, next_attempt_at,
                    last_status, last_error, created_at, done_at
             FROM federation_deliveries WHERE ($1 IS NULL OR partner_id = $1)
             ORDER BY created_at DESC, id DESC LIMIT $2"
        )
        .bind(partner_id)
        .bind(limit)
        .fetch_all(p)
        .await
        })?)
    }

    /// How many deliveries each partner has in each state: (partner id, state, count).
    pub async fn activity_delivery_counts(&self) -> StoreResult<Vec<(i64, String, i64)>> {
        Ok(with_db!(&self.db, |p| {
            sqlx::query_as(
            "SELECT partner_id, state, COUNT(*) FROM federation_deliveries GROUP BY partner_id, state"
        )
        .fetch_all(p)
        .await
        })?)
    }

    /// Makes every pending delivery of a partner due now (staff's "réessayer maintenant").
    pub async fn retry_partner_deliveries(&self, partner_id: i64, now: i64) -> StoreResult<u64> {
        let changed = with_db!(&self.db, |p| sqlx::query(
            "UPDATE federation_deliveries SET next_attempt_at = $2
             WHERE partner_id = $1 AND state = 'pending' AND next_attempt_at > $2"
        )
        .bind(partner_id)
        .bind(now)
        .execute(p)
        .await
        .map(|r| r.rows_affected()))?;
        self.wake_schedules();
        Ok(changed)
    }
}
