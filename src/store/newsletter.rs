//! Newsletter issues and their items. Staff collect items at any time; an issue gathers some of them, is
//! marked ready, and [`Store::send_issue`] sends it once: the conditional update from `ready` to `sent`
//! and the enqueueing of its mail to every active subscriber share one transaction, so two clicks, two
//! instances or a crash in between never send an issue twice or lose it.

use super::outbox::{NewMessage, NewRecipient, enqueue};
use super::{Store, StoreError, StoreResult, audit, with_db, with_tx};
use crate::domain::EmailAddress;

/// The categories of an item, with their French names, in the order an issue shows them.
pub const CATEGORIES: [(&str, &str); 6] = [
    ("legal", "Actualité juridique"),
    ("figures", "Chiffres clés"),
    ("practice", "Bonne pratique"),
    ("meeting", "Prochaine rencontre"),
    ("resource", "Nouvelle ressource"),
    ("other", "Autre"),
];

pub fn category_label(code: &str) -> &'static str {
    CATEGORIES
        .iter()
        .find(|(c, _)| *c == code)
        .map_or("Autre", |(_, label)| label)
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Item {
    pub id: i64,
    pub category: String,
    pub title: String,
    /// Markdown.
    pub body: String,
    pub issue_id: Option<i64>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Issue {
    pub id: i64,
    pub list_id: i64,
    pub title: String,
    /// `draft`, `ready` or `sent`.
    pub state: String,
    pub sent_at: Option<i64>,
    pub recipients: i64,
    /// The mail that carried it, once sent.
    pub message_id: Option<i64>,
    /// The date of the schedule it goes out at once ready (epoch milliseconds).
    pub scheduled_at: Option<i64>,
}

/// What asking to send an issue did.
#[derive(Debug, Clone, PartialEq)]
pub enum IssueSending {
    Sent { recipients: usize },
    AlreadySent,
    NotReady,
}

impl Store {
    /// Records an item waiting for an issue, and who wrote it.
    pub async fn add_item(
        &self,
        category: &str,
        title: &str,
        body: &str,
        actor: &audit::Actor,
        now: i64,
    ) -> StoreResult<i64> {
        let mut tx = self.begin().await?;
        let id: i64 = with_tx!(&mut tx, |c| {
            sqlx::query_scalar(
            "INSERT INTO newsletter_items (category, title, body, created_by, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $5) RETURNING id"
        )
        .bind(category)
        .bind(title)
        .bind(body)
        .bind(actor.user_id)
        .bind(now)
        .fetch_one(c)
        .await
        })?;
        audit::record(
            &mut tx,
            actor,
            "create",
            "newsletter_item",
            Some(id),
            serde_json::json!({"label": title, "category": category}),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Items not yet in an issue, oldest first.
    pub async fn unassigned_items(&self) -> StoreResult<Vec<Item>> {
        Ok(with_db!(&self.db, |p| sqlx::query_as(
            "SELECT id, category, title, body, issue_id FROM newsletter_items
             WHERE issue_id IS NULL ORDER BY id"
        )
        .fetch_all(p)
        .await)?)
    }

    /// A new draft issue of `list_id` gathering the `items` not yet in another issue.
    pub async fn create_issue(
        &self,
        list_id: i64,
        title: &str,
        items: &[i64],
        actor: &audit::Actor,
        now: i64,
    ) -> StoreResult<i64> {
        let mut tx = self.begin().await?;
        let id: i64 = with_tx!(&mut tx, |c| sqlx::query_scalar(
            "INSERT INTO newsletter_issues (list_id, title, created_at, updated_at)
             VALUES ($1, $2, $3, $3) RETURNING id"
        )
        .bind(list_id)
        .bind(title)
        .bind(now)
        .fetch_one(c)
        .await)?;
        for item in items {
            with_tx!(&mut tx, |c| sqlx::query(
                "UPDATE newsletter_items SET issue_id = $1, updated_at = $2
                 WHERE id = $3 AND issue_id IS NULL"
            )
            .bind(id)
            .bind(now)
            .bind(item)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
        }
        audit::record(
            &mut tx,
            actor,
            "create",
            "newsletter_issue",
            Some(id),
            serde_json::json!({"label": title, "items": items.len()}),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Issues of a list, newest first.
    pub async fn issues(&self, list_id: i64) -> StoreResult<Vec<Issue>> {
        Ok(with_db!(&self.db, |p| {
            sqlx::query_as(
            "SELECT id, list_id, title, state, sent_at, recipients, message_id, scheduled_at FROM newsletter_issues
             WHERE list_id = $1 ORDER BY id DESC"
        )
        .bind(list_id)
        .fetch_all(p)
        .await
        })?)
    }

    /// An issue and its items, in category order then as added.
    pub async fn issue(&self, id: i64) -> StoreResult<Option<(Issue, Vec<Item>)>> {
        let issue: Option<Issue> = with_db!(&self.db, |p| {
            sqlx::query_as(
            "SELECT id, list_id, title, state, sent_at, recipients, message_id, scheduled_at FROM newsletter_issues WHERE id = $1"
        )
        .bind(id)
        .fetch_optional(p)
        .await
        })?;
        let Some(issue) = issue else {
            return Ok(None);
        };
        let mut items: Vec<Item> = with_db!(&self.db, |p| {
            sqlx::query_as(
            "SELECT id, category, title, body, issue_id FROM newsletter_items WHERE issue_id = $1 ORDER BY id"
        )
        .bind(id)
        .fetch_all(p)
        .await
        })?;
        items.sort_by_key(|item| {
            CATEGORIES
                .iter()
                .position(|(code, _)| *code == item.category)
                .unwrap_or(CATEGORIES.len())
        });
        Ok(Some((issue, items)))
    }

    /// Marks a draft ready (or a ready issue back to draft); a sent issue does not change.
    pub async fn set_issue_ready(&self, id: i64, ready: bool, now: i64) -> StoreResult<bool> {
        self.set_issue_ready_audited(id, ready, None, now).await
    }

    /// [`Store::set_issue_ready`] by a staff member, written in the audit log with the change.
    pub async fn set_issue_ready_as(
        &self,
        id: i64,
        ready: bool,
        actor: &audit::Actor,
        now: i64,
    ) -> StoreResult<bool> {
        self.set_issue_ready_audited(id, ready, Some(actor), now)
            .await
    }

    async fn set_issue_ready_audited(
        &self,
        id: i64,
        ready: bool,
        actor: Option<&audit::Actor>,
        now: i64,
    ) -> StoreResult<bool> {
        let (from, to) = if ready {
            ("draft", "ready")
        } else {
            ("ready", "draft")
        };
        let mut tx = self.begin().await?;
        let title: Option<String> = with_tx!(&mut tx, |c| {
            sqlx::query_scalar(
            "UPDATE newsletter_issues SET state = $1, updated_at = $2 WHERE id = $3 AND state = $4 RETURNING title"
        )
        .bind(to)
        .bind(now)
        .bind(id)
        .bind(from)
        .fetch_optional(c)
        .await
        })?;
        if let (Some(title), Some(actor)) = (&title, actor) {
            let details = serde_json::json!({ "label": title });
            audit::record(
                &mut tx,
                actor,
                to,
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

    /// Sends a ready issue to every active subscriber of its list who receives each issue (the others get
    /// the monthly summary), once. `message` is the rendered issue.
    pub async fn send_issue(
        &self,
        id: i64,
        message: &NewMessage,
        actor: &super::audit::Actor,
        now: i64,
    ) -> StoreResult<IssueSending> {
        let mut tx = self.begin().await?;
        let claimed: Option<(i64, String)> = with_tx!(&mut tx, |c| sqlx::query_as(
            "UPDATE newsletter_issues SET state = 'sent', sent_at = $1, updated_at = $1
             WHERE id = $2 AND state = 'ready' RETURNING list_id, title"
        )
        .bind(now)
        .bind(id)
        .fetch_optional(c)
        .await)?;
        let Some((list_id, title)) = claimed else {
            let state: Option<String> = with_tx!(&mut tx, |c| sqlx::query_scalar(
                "SELECT state FROM newsletter_issues WHERE id = $1"
            )
            .bind(id)
            .fetch_optional(c)
            .await)?;
            return Ok(match state.as_deref() {
                Some("sent") => IssueSending::AlreadySent,
                Some(_) => IssueSending::NotReady,
                None => return Err(super::StoreError::NotFound),
            });
        };
        let subscribers: Vec<(String, String, Option<i64>)> =
            with_tx!(&mut tx, |c| sqlx::query_as(
                "SELECT address, name, person_id FROM subscriptions
             WHERE list_id = $1 AND state = 'active' AND mode = 'each' ORDER BY id"
            )
            .bind(list_id)
            .fetch_all(c)
            .await)?;
        let recipients: Vec<NewRecipient> = subscribers
            .into_iter()
            .map(|(address, name, person_id)| NewRecipient {
                address: EmailAddress::stored(address),
                name,
                person_id,
            })
            .collect();
        let message_id = enqueue(&mut tx, message, &recipients, now).await?;
        with_tx!(&mut tx, |c| sqlx::query(
            "UPDATE newsletter_issues SET message_id = $1, recipients = $2 WHERE id = $3"
        )
        .bind(message_id)
        .bind(recipients.len() as i64)
        .bind(id)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
        super::audit::record(
            &mut tx,
            actor,
            "send",
            "newsletter_issue",
            Some(id),
            serde_json::json!({ "label": title, "count": recipients.len() }),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(IssueSending::Sent {
            recipients: recipients.len(),
        })
    }

    /// The sent issues of a list, newest first: the public archive.
    pub async fn sent_issues(&self, list_id: i64) -> StoreResult<Vec<Issue>> {
        Ok(with_db!(&self.db, |p| {
            sqlx::query_as(
            "SELECT id, list_id, title, state, sent_at, recipients, message_id, scheduled_at FROM newsletter_issues
             WHERE list_id = $1 AND state = 'sent' ORDER BY sent_at DESC, id DESC"
        )
        .bind(list_id)
        .fetch_all(p)
        .await
        })?)
    }

    /// How many recipients of a message left its list through that message's own unsubscribe link.
    pub async fn unsubscribes_from_message(&self, message_id: i64) -> StoreResult<i64> {
        Ok(with_db!(&self.db, |p| sqlx::query_scalar(
            "SELECT COUNT(*) FROM unsubscribes u JOIN mail_deliveries d ON d.id = u.delivery_id
             WHERE d.message_id = $1"
        )
        .bind(message_id)
        .fetch_one(p)
        .await)?)
    }
}

/// An item and the state of its issue, as one row.
type ItemRow = (i64, String, String, String, Option<i64>, Option<String>);

impl Store {
    /// How many subscribers an issue of `list_id` sent now would reach (active, one mail each), for the
    /// confirmation staff read before sending.
    pub async fn issue_audience(&self, list_id: i64) -> StoreResult<i64> {
        Ok(with_db!(&self.db, |p| {
            sqlx::query_scalar(
            "SELECT COUNT(*) FROM subscriptions WHERE list_id = $1 AND state = 'active' AND mode = 'each'"
        )
        .bind(list_id)
        .fetch_one(p)
        .await
        })?)
    }

    /// One item, with the state of its issue (None when not yet in one).
    pub async fn item(&self, id: i64) -> StoreResult<Option<(Item, Option<String>)>> {
        let row: Option<ItemRow> = with_db!(&self.db, |p| {
            sqlx::query_as(
                "SELECT i.id, i.category, i.title, i.body, i.issue_id, s.state FROM newsletter_items i
                 LEFT JOIN newsletter_issues s ON s.id = i.issue_id WHERE i.id = $1"
            )
            .bind(id)
            .fetch_optional(p)
            .await
        })?;
        Ok(row.map(|(id, category, title, body, issue_id, state)| {
            (
                Item {
                    id,
                    category,
                    title,
                    body,
                    issue_id,
                },
                state,
            )
        }))
    }

    /// The item, refused (Conflict) when its issue is sent: what subscribers received does not change.
    async fn changeable_item(&self, tx: &mut super::Tx, id: i64) -> StoreResult<Item> {
        let sql =
            format!(
            "SELECT i.id, i.category, i.title, i.body, i.issue_id, s.state FROM newsletter_items i
             LEFT JOIN newsletter_issues s ON s.id = i.issue_id WHERE i.id = $1{}",
            if tx.lock_clause().is_empty() { "" } else { " FOR UPDATE OF i" }
        );
        let row: Option<ItemRow> = with_tx!(tx, |c| sqlx::query_as(&sql)
            .bind(id)
            .fetch_optional(c)
            .await)?;
        let (id, category, title, body, issue_id, state) = row.ok_or(StoreError::NotFound)?;
        if state.as_deref() == Some("sent") {
            return Err(StoreError::Conflict(
                "Cet élément fait partie d'un numéro déjà envoyé : il ne peut plus changer.".into(),
            ));
        }
        Ok(Item {
            id,
            category,
            title,
            body,
            issue_id,
        })
    }

    /// Corrects an item not yet sent; the audit keeps what changed.
    pub async fn update_item(
        &self,
        id: i64,
        category: &str,
        title: &str,
        body: &str,
        actor: &audit::Actor,
        now: i64,
    ) -> StoreResult<Item> {
        let mut tx = self.begin().await?;
        let before = self.changeable_item(&mut tx, id).await?;
        let mut changes = serde_json::Map::new();
        for (field, old, new) in [
            ("category", &before.category, category),
            ("title", &before.title, title),
            ("body", &before.body, body),
        ] {
            if old != new {
                changes.insert(field.into(), serde_json::json!([old, new]));
            }
        }
        if !changes.is_empty() {
            with_tx!(&mut tx, |c| {
                sqlx::query(
                "UPDATE newsletter_items SET category = $2, title = $3, body = $4, updated_at = $5 WHERE id = $1"
            )
            .bind(id)
            .bind(category)
            .bind(title)
            .bind(body)
            .bind(now)
            .execute(c)
            .await
            .map(|r| r.rows_affected())
            })?;
            audit::record(
                &mut tx,
                actor,
                "update",
                "newsletter_item",
                Some(id),
                serde_json::json!({"label": before.title, "changes": changes}),
                now,
            )
            .await?;
        }
        tx.commit().await?;
        Ok(before)
    }

    /// Deletes an item not yet sent.
    pub async fn delete_item(&self, id: i64, actor: &audit::Actor, now: i64) -> StoreResult<Item> {
        let mut tx = self.begin().await?;
        let before = self.changeable_item(&mut tx, id).await?;
        with_tx!(&mut tx, |c| sqlx::query(
            "DELETE FROM newsletter_items WHERE id = $1"
        )
        .bind(id)
        .execute(c)
        .await
        .map(|r| r.rows_affected())
        .map_err(StoreError::from_write))?;
        audit::record(
            &mut tx,
            actor,
            "delete",
            "newsletter_item",
            Some(id),
            serde_json::json!({"label": before.title, "category": before.category, "issue": before.issue_id}),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(before)
    }
}
