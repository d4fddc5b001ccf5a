//! The newsletter's rhythm in the database: the date each issue goes out at, the steps taken for each date of
//! the schedule (reminder, check at the date) and the monthly summaries. Every step is claimed by one
//! statement that succeeds for one caller only, so it happens once however many instances run the schedule
//! and however often they restart.

use super::newsletter::Issue;
use super::outbox::{NewMessage, NewRecipient, enqueue};
use super::{Store, StoreResult, with_db, with_tx};
use crate::domain::EmailAddress;

/// A step taken for one date of the schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlotStep {
    /// Staff reminded to prepare the issue, some days before.
    Reminder,
    /// The date came: what was ready went out, staff told of what was not.
    Check,
}

impl SlotStep {
    fn column(self) -> &'static str {
        match self {
            SlotStep::Reminder => "reminded_at",
            SlotStep::Check => "checked_at",
        }
    }
}

/// Issues sent in a period, for a summary.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SentIssue {
    pub id: i64,
    pub title: String,
    pub sent_at: i64,
}

impl Store {
    /// Sets the date an issue not yet sent goes out at (`None`: no date). False when it is sent already.
    pub async fn schedule_issue(&self, id: i64, at: Option<i64>, now: i64) -> StoreResult<bool> {
        self.schedule_issue_audited(id, at, None, now).await
    }

    /// [`Store::schedule_issue`] by a staff member, written in the audit log with the change.
    pub async fn schedule_issue_as(
        &self,
        id: i64,
        at: Option<i64>,
        actor: &super::audit::Actor,
        now: i64,
    ) -> StoreResult<bool> {
        self.schedule_issue_audited(id, at, Some(actor), now).await
    }

    async fn schedule_issue_audited(
        &self,
        id: i64,
        at: Option<i64>,
        actor: Option<&super::audit::Actor>,
        now: i64,
    ) -> StoreResult<bool> {
        let mut tx = self.begin().await?;
        let title: Option<String> = with_tx!(&mut tx, |c| {
            sqlx::query_scalar(
            "UPDATE newsletter_issues SET scheduled_at = $1, updated_at = $2 WHERE id = $3 AND state <> 'sent' RETURNING title"
        )
        .bind(at)
        .bind(now)
        .bind(id)
        .fetch_optional(c)
        .await
        })?;
        if let (Some(title), Some(actor)) = (&title, actor) {
            let details = serde_json::json!({
                "label": title,
                "at": at.map(crate::french::french_datetime),
            });
            super::audit::record(
                &mut tx,
                actor,
                "schedule",
                "newsletter_issue",
                Some(id),
                details,
                now,
            )
            .await?;
        }
        tx.commit().await?;
        Ok(title.is_some())
    }

    /// Ready issues whose date has come, oldest date first.
    pub async fn due_issues(&self, now: i64) -> StoreResult<Vec<Issue>> {
        Ok(with_db!(&self.db, |p| sqlx::query_as(
            "SELECT id, list_id, title, state, sent_at, recipients, message_id, scheduled_at
             FROM newsletter_issues WHERE state = 'ready' AND scheduled_at <= $1
             ORDER BY scheduled_at, id"
        )
        .bind(now)
        .fetch_all(p)
        .await)?)
    }

    /// Issues of `list_id` not sent yet whose date is `slot_at`.
    pub async fn issues_for_slot(&self, list_id: i64, slot_at: i64) -> StoreResult<Vec<Issue>> {
        Ok(with_db!(&self.db, |p| sqlx::query_as(
            "SELECT id, list_id, title, state, sent_at, recipients, message_id, scheduled_at
             FROM newsletter_issues WHERE list_id = $1 AND scheduled_at = $2 AND state <> 'sent'
             ORDER BY id"
        )
        .bind(list_id)
        .bind(slot_at)
        .fetch_all(p)
        .await)?)
    }

    /// Claims `step` for the date `slot_at` of `list_id`: true for the one caller that takes it.
    pub async fn claim_slot_step(
        &self,
        list_id: i64,
        slot_at: i64,
        step: SlotStep,
        now: i64,
    ) -> StoreResult<bool> {
        let mut tx = self.begin().await?;
        with_tx!(&mut tx, |c| sqlx::query(
            "INSERT INTO newsletter_slots (list_id, slot_at) VALUES ($1, $2)
             ON CONFLICT (list_id, slot_at) DO NOTHING"
        )
        .bind(list_id)
        .bind(slot_at)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
        let sql = format!(
            "UPDATE newsletter_slots SET {0} = $1 WHERE list_id = $2 AND slot_at = $3 AND {0} IS NULL",
            step.column()
        );
        let claimed = with_tx!(&mut tx, |c| sqlx::query(&sql)
            .bind(now)
            .bind(list_id)
            .bind(slot_at)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
        tx.commit().await?;
        Ok(claimed == 1)
    }

    /// The addresses and names of active staff and admins: who prepares the newsletter.
    pub async fn staff_recipients(&self) -> StoreResult<Vec<NewRecipient>> {
        let rows: Vec<(String, String)> = with_db!(&self.db, |p| {
            sqlx::query_as(
            "SELECT email, name FROM users WHERE active AND role IN ('admin', 'staff') ORDER BY id"
        )
        .fetch_all(p)
        .await
        })?;
        Ok(rows
            .into_iter()
            .map(|(address, name)| NewRecipient {
                address: EmailAddress::stored(address),
                name,
                person_id: None,
            })
            .collect())
    }

    /// Issues of `list_id` sent in `[from, to)`, in order.
    pub async fn issues_sent_between(
        &self,
        list_id: i64,
        from: i64,
        to: i64,
    ) -> StoreResult<Vec<SentIssue>> {
        Ok(with_db!(&self.db, |p| sqlx::query_as(
            "SELECT id, title, sent_at FROM newsletter_issues
             WHERE list_id = $1 AND state = 'sent' AND sent_at >= $2 AND sent_at < $3
             ORDER BY sent_at, id"
        )
        .bind(list_id)
        .bind(from)
        .bind(to)
        .fetch_all(p)
        .await)?)
    }

    /// Sends the summary of `period` (e.g. `2026-12`) to the active subscribers of `list_id` who chose
    /// it, once: the claim and the mail are one transaction. `message` is `None` when the period had no
    /// issue (the claim is kept, nothing is sent). Returns how many received it, or `None` when it was
    /// claimed before.
    pub async fn send_digest(
        &self,
        list_id: i64,
        period: &str,
        issues: usize,
        message: Option<&NewMessage>,
        now: i64,
    ) -> StoreResult<Option<usize>> {
        let mut tx = self.begin().await?;
        let claimed = with_tx!(&mut tx, |c| {
            sqlx::query(
            "INSERT INTO newsletter_digests (list_id, period, issues, created_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (list_id, period) DO NOTHING"
        )
        .bind(list_id)
        .bind(period)
        .bind(issues as i64)
        .bind(now)
        .execute(c)
        .await
        .map(|r| r.rows_affected())
        })?;
        if claimed == 0 {
            return Ok(None);
        }
        let mut sent = 0;
        if let Some(message) = message {
            let rows: Vec<(String, String, Option<i64>)> = with_tx!(&mut tx, |c| sqlx::query_as(
                "SELECT address, name, person_id FROM subscriptions
                 WHERE list_id = $1 AND state = 'active' AND mode = 'digest' ORDER BY id"
            )
            .bind(list_id)
            .fetch_all(c)
            .await)?;
            let recipients: Vec<NewRecipient> = rows
                .into_iter()
                .map(|(address, name, person_id)| NewRecipient {
                    address: EmailAddress::stored(address),
                    name,
                    person_id,
                })
                .collect();
            if !recipients.is_empty() {
                let message_id = enqueue(&mut tx, message, &recipients, now).await?;
                with_tx!(&mut tx, |c| {
                    sqlx::query(
                    "UPDATE newsletter_digests SET message_id = $1 WHERE list_id = $2 AND period = $3"
                )
                .bind(message_id)
                .bind(list_id)
                .bind(period)
                .execute(c)
                .await
                .map(|r| r.rows_affected())
                })?;
            }
            sent = recipients.len();
        }
        tx.commit().await?;
        Ok(Some(sent))
    }
}
