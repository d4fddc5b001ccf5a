//! The outbox: messages and their deliveries, one per recipient.
//!
//! [`enqueue`] is the only way mail enters relais: it writes the message and its deliveries inside the
//! caller's transaction, so a mail exists exactly when the action that caused it was committed. Delivery
//! workers [`Store::claim_deliveries`] with a lease, send, and record each recipient's outcome at once
//! ([`Store::record_deliveries`], several workers' outcomes to a commit); a lease that runs out (a crashed worker) makes the delivery due again.

use super::{Store, StoreResult, Tx, with_db, with_tx};
use crate::domain::EmailAddress;
use crate::domain::mail_kind::{DeliveryState, MailKind};

/// A mail as rendered once for all its recipients.
#[derive(Debug, Clone, Default)]
pub struct NewMessage {
    /// What kind of mail this is, for the staff page and the headers.
    pub kind: MailKind,
    /// What caused it (`meeting`, `newsletter_issue`…) and which one, if anything.
    pub cause_kind: String,
    pub cause_id: Option<i64>,
    pub subject: String,
    pub body_text: String,
    pub body_html: String,
    /// The data the templates were rendered with, kept to show and replay the message.
    pub template_data: serde_json::Value,
    /// Automatic notices carry `Auto-Submitted: auto-generated`.
    pub auto_submitted: bool,
    /// For list and newsletter mail: the subscription a recipient can leave.
    pub list: Option<ListHeaders>,
    /// For meeting mail: the invitation sent as a `text/calendar` alternative.
    pub invitation: Option<Invitation>,
    /// The author of a redistributed list post, in From (none: the organisation's `mail.from_address`).
    pub author: Option<Author>,
    /// Headers of this message's own (Reply-To, Cc, In-Reply-To, References…), in order.
    pub extra_headers: Vec<(String, String)>,
    /// Every recipient gets the same content: To names the list (Mailman's non-personalised delivery); only
    /// the envelope and the one-click unsubscribe headers are each copy's. Only list posts.
    pub shared_copy: bool,
}

/// The list a message belongs to, for its List-* headers and each copy's unsubscribe link.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ListHeaders {
    /// The subscription a recipient can leave (`mailing_lists.list_key`).
    pub key: String,
    /// Its name, in List-Id and in the unsubscribe page.
    pub label: String,
    /// The List-Post value (`NO` on announce-only lists; none: no List-Post header).
    pub post: Option<String>,
}

/// An iCalendar object sent as a `text/calendar` alternative (meeting invitations).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Invitation {
    pub ics: String,
    /// Its METHOD: `REQUEST` or `CANCEL`.
    pub method: String,
}

/// Who wrote a redistributed list post, as its From shows them.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Author {
    /// Empty: the address alone.
    pub name: String,
    pub address: String,
}

/// One copy to send: the address is checked before it can be enqueued.
#[derive(Debug, Clone)]
pub struct NewRecipient {
    pub address: EmailAddress,
    pub name: String,
    pub person_id: Option<i64>,
}

/// A stored message, as workers and the staff page read it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct MailMessage {
    pub id: i64,
    /// The stored code, kept as text: a row written before a kind was renamed still shows (as "Autre
    /// courrier") and still sends. [`MailMessage::mail_kind`] reads it.
    pub kind: String,
    pub cause_kind: String,
    pub cause_id: Option<i64>,
    pub subject: String,
    pub body_text: String,
    pub body_html: String,
    pub auto_submitted: bool,
    pub list: Option<ListHeaders>,
    pub invitation: Option<Invitation>,
    pub author: Option<Author>,
    /// JSON pairs: see [`NewMessage::extra_headers`].
    pub extra_headers: String,
    pub created_at: i64,
    /// Every recipient gets the same bytes ([`NewMessage::shared_copy`]).
    pub shared_copy: bool,
}

impl MailMessage {
    /// The message's own headers, in order.
    pub fn headers(&self) -> Vec<(String, String)> {
        serde_json::from_str(&self.extra_headers).unwrap_or_default()
    }

    /// The message's kind, if its code is one relais still knows.
    pub fn mail_kind(&self) -> Option<MailKind> {
        MailKind::from_code(&self.kind).ok()
    }
}

/// `mail_messages` as stored: an empty text column means "none".
#[derive(sqlx::FromRow)]
struct MailMessageRow {
    id: i64,
    kind: String,
    cause_kind: String,
    cause_id: Option<i64>,
    subject: String,
    body_text: String,
    body_html: String,
    auto_submitted: bool,
    list_key: String,
    list_label: String,
    list_post: String,
    calendar: String,
    calendar_method: String,
    from_name: String,
    from_address: String,
    extra_headers: String,
    created_at: i64,
    shared_copy: bool,
}

/// `Some(text)` unless it is empty.
fn non_empty(text: String) -> Option<String> {
    (!text.is_empty()).then_some(text)
}

impl From<MailMessageRow> for MailMessage {
    fn from(row: MailMessageRow) -> MailMessage {
        MailMessage {
            id: row.id,
            kind: row.kind,
            cause_kind: row.cause_kind,
            cause_id: row.cause_id,
            subject: row.subject,
            body_text: row.body_text,
            body_html: row.body_html,
            auto_submitted: row.auto_submitted,
            list: (!row.list_key.is_empty()).then(|| ListHeaders {
                key: row.list_key,
                label: row.list_label,
                post: non_empty(row.list_post),
            }),
            invitation: (!row.calendar.is_empty()).then_some(Invitation {
                ics: row.calendar,
                method: row.calendar_method,
            }),
            author: (!row.from_address.is_empty()).then_some(Author {
                name: row.from_name,
                address: row.from_address,
            }),
            extra_headers: row.extra_headers,
            created_at: row.created_at,
            shared_copy: row.shared_copy,
        }
    }
}

/// A delivery a worker holds the lease of.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ClaimedDelivery {
    pub id: i64,
    pub message_id: i64,
    pub recipient: String,
    pub recipient_name: String,
    /// Names the delivery in its bounce address (VERP) and, later, its unsubscribe link.
    pub token: String,
    /// Attempts started, this one included.
    pub attempts: i64,
    pub created_at: i64,
}

/// What became of one attempt.
#[derive(Debug, Clone, PartialEq)]
pub enum DeliveryOutcome {
    Sent {
        reply: String,
    },
    /// Try again at `retry_at` (epoch milliseconds).
    Retry {
        reply: String,
        retry_at: i64,
    },
    Bounced {
        reply: String,
    },
    /// Temporary failures until the schedule gave up.
    Failed {
        reply: String,
    },
}

/// One delivery as the staff page lists it.
#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize)]
pub struct DeliveryRow {
    pub id: i64,
    pub message_id: i64,
    pub recipient: String,
    pub recipient_name: String,
    #[sqlx(try_from = "String")]
    pub state: DeliveryState,
    pub attempts: i64,
    pub next_attempt_at: i64,
    pub last_reply: String,
    pub sent_at: Option<i64>,
}

/// Deliveries written per statement: well under both databases' limits on bound parameters.
const DELIVERY_CHUNK: usize = 500;

/// Writes `message` and one delivery per recipient inside `tx`; they are due at `now`. Workers of this
/// process are woken when `tx` commits. Returns the message id.
pub async fn enqueue(
    tx: &mut Tx,
    message: &NewMessage,
    recipients: &[NewRecipient],
    now: i64,
) -> StoreResult<i64> {
    let data = message.template_data.to_string();
    // The columns keep "empty: none", as rows written before these types were.
    let (list_key, list_label, list_post) = message.list.as_ref().map_or(("", "", ""), |list| {
        (
            list.key.as_str(),
            list.label.as_str(),
            list.post.as_deref().unwrap_or(""),
        )
    });
    let (calendar, calendar_method) = message
        .invitation
        .as_ref()
        .map_or(("", ""), |i| (i.ics.as_str(), i.method.as_str()));
    let (from_name, from_address) = message
        .author
        .as_ref()
        .map_or(("", ""), |a| (a.name.as_str(), a.address.as_str()));
    let message_id: i64 = with_tx!(tx, |c| {
        sqlx::query_scalar(
        "INSERT INTO mail_messages (kind, cause_kind, cause_id, subject, body_text, body_html, template_data,
            auto_submitted, created_at, list_key, list_label, list_post, calendar, calendar_method, from_name,
            from_address, extra_headers, shared_copy)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18) RETURNING id"
    )
    .bind(message.kind.as_str())
    .bind(&message.cause_kind)
    .bind(message.cause_id)
    .bind(&message.subject)
    .bind(&message.body_text)
    .bind(&message.body_html)
    .bind(&data)
    .bind(message.auto_submitted)
    .bind(now)
    .bind(list_key)
    .bind(list_label)
    .bind(list_post)
    .bind(calendar)
    .bind(calendar_method)
    .bind(from_name)
    .bind(from_address)
    .bind(serde_json::to_string(&message.extra_headers).unwrap_or_else(|_| "[]".into()))
    .bind(message.shared_copy)
    .fetch_one(c)
    .await
    })?;
    add_recipients(tx, message_id, recipients, now).await?;
    Ok(message_id)
}

/// Adds deliveries of message `message_id` inside `tx` (for sends too large to hold all recipients in
/// memory at once: call it once per chunk in the transaction that enqueued the message).
pub async fn add_recipients(
    tx: &mut Tx,
    message_id: i64,
    recipients: &[NewRecipient],
    now: i64,
) -> StoreResult<()> {
    for chunk in recipients.chunks(DELIVERY_CHUNK) {
        let mut sql = String::from(
            "INSERT INTO mail_deliveries (message_id, recipient, recipient_name, person_id, token, next_attempt_at,
                created_at) VALUES ",
        );
        for i in 0..chunk.len() {
            let p = i * 4;
            if i > 0 {
                sql.push(',');
            }
            sql.push_str(&format!(
                "($1, ${}, ${}, ${}, ${}, $2, $2)",
                p + 3,
                p + 4,
                p + 5,
                p + 6
            ));
        }
        with_tx!(tx, |c| {
            let mut query = sqlx::query(&sql).bind(message_id).bind(now);
            for recipient in chunk {
                query = query
                    .bind(recipient.address.as_str())
                    .bind(&recipient.name)
                    .bind(recipient.person_id)
                    .bind(delivery_token());
            }
            query.execute(c).await.map(|r| r.rows_affected())
        })?;
    }
    tx.mail_enqueued = true;
    Ok(())
}

/// 20 random bytes in lowercase hex: safe in an address's local part, where some servers fold case.
fn delivery_token() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 20];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

impl Store {
    /// Enqueues one message in a transaction of its own (for mails no other write causes).
    pub async fn enqueue_mail(
        &self,
        message: &NewMessage,
        recipients: &[NewRecipient],
        now: i64,
    ) -> StoreResult<i64> {
        let mut tx = self.begin().await?;
        let id = enqueue(&mut tx, message, recipients, now).await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Leases up to `limit` due deliveries to `worker` until `lease_until`, counting the attempt. On
    /// PostgreSQL rows another worker is claiming are skipped; on SQLite the single statement runs alone.
    pub async fn claim_deliveries(
        &self,
        worker: &str,
        now: i64,
        lease_until: i64,
        limit: i64,
    ) -> StoreResult<Vec<ClaimedDelivery>> {
        let due = "SELECT id FROM mail_deliveries
                 WHERE state = 'queued' AND next_attempt_at <= $3 AND (lease_until IS NULL OR lease_until <= $3)
                 ORDER BY next_attempt_at, id LIMIT $4";
        let sql = if self.is_postgres() {
            // The batch is picked once, in a materialized CTE, whatever plan the statistics of a queue that
            // just grew by thousands suggest; rows another instance's worker is claiming are skipped, and
            // the partial index `mail_deliveries_claim_order` gives them in order without a sort.
            format!(
                "WITH picked AS MATERIALIZED ({due} FOR UPDATE SKIP LOCKED)
                 UPDATE mail_deliveries d SET lease_until = $1, leased_by = $2, attempts = d.attempts + 1
                 FROM picked WHERE d.id = picked.id
                 RETURNING d.id, d.message_id, d.recipient, d.recipient_name, d.token, d.attempts, d.created_at"
            )
        } else {
            // SQLite runs one writing statement at a time: nothing to skip.
            format!(
                "UPDATE mail_deliveries SET lease_until = $1, leased_by = $2, attempts = attempts + 1
                 WHERE id IN ({due})
                 RETURNING id, message_id, recipient, recipient_name, token, attempts, created_at"
            )
        };
        let mut claimed: Vec<ClaimedDelivery> =
            with_db!(&self.outbox_db, |p| sqlx::query_as(&sql)
                .bind(lease_until)
                .bind(worker)
                .bind(now)
                .bind(limit)
                .fetch_all(p)
                .await)?;
        claimed.sort_by_key(|d| d.id);
        Ok(claimed)
    }

    /// How many deliveries are due at `now` and not leased, counting at most `cap`.
    pub async fn due_deliveries(&self, now: i64, cap: i64) -> StoreResult<i64> {
        Ok(with_db!(&self.outbox_db, |p| {
            sqlx::query_scalar(
            "SELECT COUNT(*) FROM (SELECT 1 FROM mail_deliveries
                 WHERE state = 'queued' AND next_attempt_at <= $1 AND (lease_until IS NULL OR lease_until <= $1)
                 LIMIT $2) due"
        )
        .bind(now)
        .bind(cap)
        .fetch_one(p)
        .await
        })?)
    }

    /// Records outcomes (all or none): each delivery gets its outcome and loses its lease, if its worker
    /// still holds that lease; a permanent refusal also records a bounce for the address. The delivery
    /// workers' copies sent at the same moment share one statement instead of queueing for the database's
    /// write lock one by one. Returns, for each record, whether its lease was still held.
    pub async fn record_deliveries(&self, records: &[OutcomeRecord]) -> StoreResult<Vec<bool>> {
        if records.is_empty() {
            return Ok(Vec::new());
        }
        let mut values: Vec<_> = records.iter().map(outcome_columns).collect();
        // Padded to a few sizes with rows that match no delivery (ids start at 1): each size is a
        // statement SQLite prepares and keeps, and one per batch size held megabytes.
        let rows = [1, 4, 16, 64, 256]
            .into_iter()
            .find(|&size| size >= values.len())
            .unwrap_or(values.len());
        values.resize(
            rows,
            (0, "", DeliveryState::Queued.as_str(), "", None, None, None),
        );
        let sql = outcome_update_sql(rows);
        let bounced = records
            .iter()
            .any(|r| matches!(r.outcome, DeliveryOutcome::Bounced { .. }));
        let updated: Vec<(i64, String)> = if bounced {
            // A permanent refusal also records a bounce for the address: one transaction for both.
            let mut tx = self.begin_on(&self.outbox_db).await?;
            let updated: Vec<(i64, String)> = with_tx!(&mut tx, |c| {
                let mut query = sqlx::query_as(&sql);
                for v in &values {
                    query = query.bind(v.0).bind(v.1).bind(v.2).bind(v.3);
                    query = query.bind(v.4).bind(v.5).bind(v.6);
                }
                query.fetch_all(c).await
            })?;
            for record in records {
                let DeliveryOutcome::Bounced { reply } = &record.outcome else {
                    continue;
                };
                if let Some((_, address)) = updated.iter().find(|(id, _)| *id == record.delivery_id)
                {
                    insert_bounce(&mut tx, record.delivery_id, address, reply, record.at).await?;
                }
            }
            tx.commit().await?;
            updated
        } else {
            // One statement is atomic on its own.
            with_db!(&self.outbox_db, |p| {
                let mut query = sqlx::query_as(&sql);
                for v in &values {
                    query = query.bind(v.0).bind(v.1).bind(v.2).bind(v.3);
                    query = query.bind(v.4).bind(v.5).bind(v.6);
                }
                query.fetch_all(p).await
            })?
        };
        Ok(records
            .iter()
            .map(|r| updated.iter().any(|(id, _)| *id == r.delivery_id))
            .collect())
    }

    /// The bounces of an address, newest first: (status, reply, counted, when).
    pub async fn bounces_of(&self, address: &str) -> StoreResult<Vec<(String, String, bool, i64)>> {
        Ok(with_db!(&self.db, |p| sqlx::query_as(
            "SELECT status, reply, counted, created_at FROM bounces WHERE address = $1
             ORDER BY created_at DESC, id DESC"
        )
        .bind(address.to_lowercase())
        .fetch_all(p)
        .await)?)
    }

    /// Gives back deliveries `worker` claimed but did not attempt (it is stopping): due again at once, the
    /// attempt uncounted.
    pub async fn release_deliveries(&self, worker: &str, ids: &[i64]) -> StoreResult<()> {
        for id in ids {
            with_db!(&self.outbox_db, |p| {
                sqlx::query(
                "UPDATE mail_deliveries SET lease_until = NULL, leased_by = NULL, attempts = attempts - 1
                 WHERE id = $1 AND leased_by = $2 AND state = 'queued'"
            )
            .bind(id)
            .bind(worker)
            .execute(p)
            .await
            .map(|r| r.rows_affected())
            })?;
        }
        Ok(())
    }

    /// Extends to `lease_until` the leases `worker` still holds on `ids`: a worker renews its batch's leases
    /// while it sends, so a lease can be short and a crashed worker's copies wait little.
    pub async fn renew_leases(
        &self,
        worker: &str,
        ids: &[i64],
        lease_until: i64,
    ) -> StoreResult<u64> {
        if ids.is_empty() {
            return Ok(0);
        }
        let sql = format!(
            "UPDATE mail_deliveries SET lease_until = $1
             WHERE leased_by = $2 AND state = 'queued' AND id IN ({})",
            super::numbered_placeholders(3, ids.len())
        );
        Ok(with_db!(&self.outbox_db, |p| {
            let mut query = sqlx::query(&sql).bind(lease_until).bind(worker);
            for id in ids {
                query = query.bind(id);
            }
            query.execute(p).await.map(|r| r.rows_affected())
        })?)
    }

    /// Who holds delivery `id`'s lease and until when, if anyone.
    pub async fn lease_of(&self, id: i64) -> StoreResult<Option<(String, i64)>> {
        let row: Option<(Option<String>, Option<i64>)> =
            with_db!(&self.outbox_db, |p| sqlx::query_as(
                "SELECT leased_by, lease_until FROM mail_deliveries WHERE id = $1"
            )
            .bind(id)
            .fetch_optional(p)
            .await)?;
        Ok(row.and_then(|(by, until)| Some((by?, until?))))
    }

    /// Hands back every delivery leased by a worker whose name starts with `instance_prefix`, the attempt
    /// uncounted: an instance does so as it starts, for the leases its previous run held when it was
    /// killed. Returns how many.
    pub async fn release_instance_leases(&self, instance_prefix: &str) -> StoreResult<u64> {
        Ok(with_db!(&self.outbox_db, |p| {
            sqlx::query(
            "UPDATE mail_deliveries SET lease_until = NULL, leased_by = NULL, attempts = attempts - 1
             WHERE state = 'queued' AND leased_by IS NOT NULL
               AND substr(leased_by, 1, length($1)) = $1"
        )
        .bind(instance_prefix)
        .execute(p)
        .await
        .map(|r| r.rows_affected())
        })?)
    }

    /// When the next queued delivery falls due (its retry time, or the end of its lease), if any.
    pub async fn next_delivery_due(&self) -> StoreResult<Option<i64>> {
        Ok(with_db!(&self.outbox_db, |p| sqlx::query_scalar(
            "SELECT MIN(CASE WHEN lease_until IS NOT NULL AND lease_until > next_attempt_at
                        THEN lease_until ELSE next_attempt_at END)
             FROM mail_deliveries WHERE state = 'queued'"
        )
        .fetch_one(p)
        .await)?)
    }

    pub async fn mail_message(&self, id: i64) -> StoreResult<Option<MailMessage>> {
        let row: Option<MailMessageRow> = with_db!(&self.db, |p| {
            sqlx::query_as(
            "SELECT id, kind, cause_kind, cause_id, subject, body_text, body_html, auto_submitted, list_key,
                list_label, list_post, calendar, calendar_method, from_name, from_address, extra_headers,
                created_at, shared_copy
             FROM mail_messages WHERE id = $1"
        )
        .bind(id)
        .fetch_optional(p)
        .await
        })?;
        Ok(row.map(MailMessage::from))
    }

    /// The deliveries of a message, in the order they were written.
    pub async fn deliveries_of(&self, message_id: i64) -> StoreResult<Vec<DeliveryRow>> {
        Ok(with_db!(&self.db, |p| {
            sqlx::query_as(
            "SELECT id, message_id, recipient, recipient_name, state, attempts, next_attempt_at, last_reply, sent_at
             FROM mail_deliveries WHERE message_id = $1 ORDER BY id"
        )
        .bind(message_id)
        .fetch_all(p)
        .await
        })?)
    }
}

/// A message as the staff page lists it, with its deliveries counted by state.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct MessageSummary {
    pub id: i64,
    /// The stored code, as in [`MailMessage::kind`]: an old one reads "Autre courrier".
    pub kind: String,
    pub subject: String,
    pub created_at: i64,
    pub recipients: i64,
    pub sent: i64,
    pub queued: i64,
    pub bounced: i64,
    pub failed: i64,
}

impl Store {
    /// The newest messages first, with their deliveries counted by state.
    pub async fn list_mail_messages(&self, limit: i64) -> StoreResult<Vec<MessageSummary>> {
        self.list_mail_messages_of_kind(None, limit).await
    }

    /// The newest messages of one kind (any kind for `None`), with their deliveries counted by state.
    pub async fn list_mail_messages_of_kind(
        &self,
        kind: Option<&str>,
        limit: i64,
    ) -> StoreResult<Vec<MessageSummary>> {
        Ok(with_db!(&self.db, |p| sqlx::query_as(
            "SELECT m.id, m.kind, m.subject, m.created_at, COUNT(d.id) AS recipients,
                COALESCE(SUM(CASE WHEN d.state = 'sent' THEN 1 ELSE 0 END), 0) AS sent,
                COALESCE(SUM(CASE WHEN d.state = 'queued' THEN 1 ELSE 0 END), 0) AS queued,
                COALESCE(SUM(CASE WHEN d.state = 'bounced' THEN 1 ELSE 0 END), 0) AS bounced,
                COALESCE(SUM(CASE WHEN d.state = 'failed' THEN 1 ELSE 0 END), 0) AS failed
             FROM mail_messages m LEFT JOIN mail_deliveries d ON d.message_id = m.id
             WHERE ($2 IS NULL OR m.kind = $2)
             GROUP BY m.id, m.kind, m.subject, m.created_at ORDER BY m.id DESC LIMIT $1"
        )
        .bind(limit)
        .bind(kind)
        .fetch_all(p)
        .await)?)
    }

    /// One delivery, as a worker would claim it (to rebuild the copy the staff page shows).
    pub async fn delivery_as_claimed(
        &self,
        message_id: i64,
        delivery_id: i64,
    ) -> StoreResult<Option<ClaimedDelivery>> {
        Ok(with_db!(&self.db, |p| sqlx::query_as(
            "SELECT id, message_id, recipient, recipient_name, token, attempts, created_at
             FROM mail_deliveries WHERE id = $1 AND message_id = $2"
        )
        .bind(delivery_id)
        .bind(message_id)
        .fetch_optional(p)
        .await)?)
    }
}

impl Store {
    /// How many deliveries of a message still wait for an outcome (an index range: cheap to poll).
    pub async fn deliveries_queued(&self, message_id: i64) -> StoreResult<i64> {
        Ok(with_db!(&self.db, |p| {
            sqlx::query_scalar(
                "SELECT COUNT(*) FROM mail_deliveries WHERE message_id = $1 AND state = 'queued'",
            )
            .bind(message_id)
            .fetch_one(p)
            .await
        })?)
    }

    /// How many deliveries of a message are in each state.
    pub async fn delivery_states(&self, message_id: i64) -> StoreResult<Vec<(String, i64)>> {
        Ok(with_db!(&self.db, |p| {
            sqlx::query_as(
            "SELECT state, COUNT(*) FROM mail_deliveries WHERE message_id = $1 GROUP BY state ORDER BY state"
        )
        .bind(message_id)
        .fetch_all(p)
        .await
        })?)
    }
}

/// The enhanced status code of an SMTP reply ("550 5.1.1 <…>" gives "5.1.1"), or "" when it has none.
pub fn enhanced_status(reply: &str) -> String {
    reply
        .split_whitespace()
        .nth(1)
        .filter(|code| {
            let parts: Vec<&str> = code.split('.').collect();
            parts.len() == 3
                && parts
                    .iter()
                    .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
        })
        .unwrap_or_default()
        .to_string()
}

/// One attempt's outcome, as a worker hands it over to be recorded.
#[derive(Debug, Clone)]
pub struct OutcomeRecord {
    pub worker: String,
    pub delivery_id: i64,
    pub outcome: DeliveryOutcome,
    /// When the attempt ended (epoch milliseconds).
    pub at: i64,
}

/// The columns an outcome writes: delivery, worker, state, reply, next attempt, sent at, finished at.
type OutcomeColumns<'a> = (
    i64,
    &'a str,
    &'static str,
    &'a str,
    Option<i64>,
    Option<i64>,
    Option<i64>,
);

fn outcome_columns(record: &OutcomeRecord) -> OutcomeColumns<'_> {
    let now = Some(record.at);
    let (new_state, reply, next_attempt, sent_at, finished_at) = match &record.outcome {
        DeliveryOutcome::Sent { reply } => (DeliveryState::Sent, reply, None, now, now),
        DeliveryOutcome::Retry { reply, retry_at } => {
            (DeliveryState::Queued, reply, Some(*retry_at), None, None)
        }
        DeliveryOutcome::Bounced { reply } => (DeliveryState::Bounced, reply, None, None, now),
        DeliveryOutcome::Failed { reply } => (DeliveryState::Failed, reply, None, None, now),
    };
    (
        record.delivery_id,
        &record.worker,
        new_state.as_str(),
        reply,
        next_attempt,
        sent_at,
        finished_at,
    )
}

/// One UPDATE for `rows` outcomes (the same on both databases): each delivery gets its outcome and loses
/// its lease, if its worker still holds that lease. Returns the deliveries updated and their addresses.
fn outcome_update_sql(rows: usize) -> String {
    let values: Vec<String> = (0..rows)
        .map(|row| {
            let n = row * 7;
            format!(
                "(${}, ${}, ${}, ${}, ${}, ${}, ${})",
                n + 1,
                n + 2,
                n + 3,
                n + 4,
                n + 5,
                n + 6,
                n + 7
            )
        })
        .collect();
    format!(
        "WITH outcome (id, worker, state, reply, next_attempt_at, sent_at, finished_at) AS (VALUES {})
         UPDATE mail_deliveries SET state = outcome.state, last_reply = outcome.reply,
             next_attempt_at = COALESCE(outcome.next_attempt_at, mail_deliveries.next_attempt_at),
             sent_at = outcome.sent_at, finished_at = outcome.finished_at,
             lease_until = NULL, leased_by = NULL
         FROM outcome
         WHERE mail_deliveries.id = outcome.id AND mail_deliveries.leased_by = outcome.worker
             AND mail_deliveries.state = 'queued'
         RETURNING mail_deliveries.id, mail_deliveries.recipient",
        values.join(", ")
    )
}

/// A permanent refusal's bounce, counted towards disabling the address unless it is a policy refusal.
async fn insert_bounce(
    tx: &mut Tx,
    delivery_id: i64,
    address: &str,
    reply: &str,
    now: i64,
) -> StoreResult<()> {
    let status = enhanced_status(reply);
    with_tx!(tx, |c| sqlx::query(
        "INSERT INTO bounces (address, delivery_id, source, status, reply, counted, created_at)
         VALUES ($1, $2, 'smtp', $3, $4, $5, $6)"
    )
    .bind(address.to_lowercase())
    .bind(delivery_id)
    .bind(&status)
    .bind(reply)
    .bind(!status.starts_with("5.7."))
    .bind(now)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    if !status.starts_with("5.7.") {
        super::bounce_score::charge(tx, address, crate::french::paris_day(now), now).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored_row() -> MailMessageRow {
        MailMessageRow {
            id: 1,
            kind: "list_post".into(),
            cause_kind: String::new(),
            cause_id: None,
            subject: "Eau potable".into(),
            body_text: String::new(),
            body_html: String::new(),
            auto_submitted: false,
            list_key: String::new(),
            list_label: String::new(),
            list_post: String::new(),
            calendar: String::new(),
            calendar_method: String::new(),
            from_name: String::new(),
            from_address: String::new(),
            extra_headers: "[]".into(),
            created_at: 0,
            shared_copy: false,
        }
    }

    #[test]
    fn empty_columns_read_as_none() {
        let message = MailMessage::from(stored_row());
        assert_eq!(message.list, None);
        assert_eq!(message.invitation, None);
        assert_eq!(message.author, None);
        assert_eq!(message.mail_kind(), Some(MailKind::ListPost));
    }

    #[test]
    fn filled_columns_read_as_their_parts() {
        let message = MailMessage::from(MailMessageRow {
            kind: "renamed_long_ago".into(),
            list_key: "echanges".into(),
            list_label: "Échanges".into(),
            calendar: "BEGIN:VCALENDAR".into(),
            calendar_method: "REQUEST".into(),
            from_name: "Camille".into(),
            from_address: "camille@lyon.example".into(),
            ..stored_row()
        });
        // An old code still reads: the page names it "Autre courrier", the worker sends it as built.
        assert_eq!(message.mail_kind(), None);
        assert_eq!(message.kind, "renamed_long_ago");
        assert_eq!(
            message.list,
            Some(ListHeaders {
                key: "echanges".into(),
                label: "Échanges".into(),
                post: None,
            })
        );
        assert_eq!(
            message.invitation.map(|i| (i.ics, i.method)),
            Some(("BEGIN:VCALENDAR".into(), "REQUEST".into()))
        );
        assert_eq!(
            message.author.map(|a| (a.name, a.address)),
            Some(("Camille".into(), "camille@lyon.example".into()))
        );
    }

    #[test]
    fn the_enhanced_status_is_read_from_the_reply() {
        assert_eq!(
            enhanced_status("550 5.1.1 <a@b.example>: User unknown"),
            "5.1.1"
        );
        assert_eq!(
            enhanced_status("554 5.7.1 Message rejected as spam"),
            "5.7.1"
        );
        assert_eq!(enhanced_status("550 Mailbox unavailable"), "");
        assert_eq!(enhanced_status(""), "");
    }
}
