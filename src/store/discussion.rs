//! Discussion lists: their settings, the posts they receive and staff's moderation. A post that passes every
//! check is recorded and its copies enqueued to the active subscribers in one transaction; a held post waits
//! with every reason it was held for, until staff approve (and maybe trust its sender), reject or discard it.

use super::audit::{self, Actor};
use super::outbox::{NewMessage, NewRecipient, enqueue};
use super::{Store, StoreError, StoreResult, Tx, with_db, with_tx};
use crate::domain::EmailAddress;
use crate::domain::{ListKind, PostPolicy, ReplyTo};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DiscussionList {
    pub id: i64,
    pub list_key: String,
    pub name: String,
    pub description: String,
    pub kind: ListKind,
    pub subject_prefix: String,
    pub reply_to: ReplyTo,
    pub post_policy: PostPolicy,
    /// `public`, `members` or `staff`.
    pub archive: String,
    pub max_bytes: i64,
    /// Every copy its own (unsubscribe link, Message-ID, signature); false: one copy for all subscribers.
    pub personalized: bool,
    /// Programs are removed from posts (their names kept in the archive).
    pub strip_executables: bool,
}

const LIST_COLUMNS: &str = "id, list_key, name, description, kind, subject_prefix, reply_to, post_policy, \
     archive, max_bytes, personalized, strip_executables";

/// A post as received and checked.
#[derive(Debug, Clone, Default)]
pub struct NewPost {
    pub list_id: i64,
    pub inbound_message_id: Option<i64>,
    pub from_address: String,
    pub from_name: String,
    pub subject: String,
    pub message_id: String,
    pub in_reply_to: String,
    pub references: String,
    /// The names of the parts the list's settings removed.
    pub removed: Vec<String>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Post {
    pub id: i64,
    pub list_id: i64,
    pub inbound_message_id: Option<i64>,
    pub from_address: String,
    pub from_name: String,
    pub subject: String,
    pub message_id: String,
    pub state: String,
    pub reasons: String,
    pub created_at: i64,
    /// The names of the parts the list removed, one per line.
    pub removed: String,
}

const POST_COLUMNS: &str = "id, list_id, inbound_message_id, from_address, from_name, subject, message_id, state, \
     reasons, created_at, removed";

impl Store {
    pub async fn discussion_list(&self, key: &str) -> StoreResult<Option<DiscussionList>> {
        let sql = format!("SELECT {LIST_COLUMNS} FROM mailing_lists WHERE list_key = $1");
        Ok(with_db!(&self.db, |p| sqlx::query_as(&sql)
            .bind(key)
            .fetch_optional(p)
            .await)?)
    }

    /// Every list, the newsletter's included, by name.
    pub async fn all_lists(&self) -> StoreResult<Vec<DiscussionList>> {
        let sql = format!("SELECT {LIST_COLUMNS} FROM mailing_lists ORDER BY name");
        Ok(with_db!(&self.db, |p| sqlx::query_as(&sql)
            .fetch_all(p)
            .await)?)
    }

    /// Creates a discussion list; a key already taken is a conflict. Recorded as done from the command line.
    pub async fn create_discussion_list(
        &self,
        list: &DiscussionList,
        now: i64,
    ) -> StoreResult<i64> {
        self.create_discussion_list_as(list, &Actor::command_line(), now)
            .await
    }

    /// Creates a discussion list for `actor`, with its audit entry in the same transaction; a key already
    /// taken is a conflict.
    pub async fn create_discussion_list_as(
        &self,
        list: &DiscussionList,
        actor: &Actor,
        now: i64,
    ) -> StoreResult<i64> {
        let mut tx = self.begin().await?;
        let id: i64 = with_tx!(&mut tx, |c| {
            sqlx::query_scalar(
            "INSERT INTO mailing_lists (list_key, name, description, kind, subject_prefix, reply_to, post_policy,
                archive, max_bytes, created_at, personalized, strip_executables)
             VALUES ($1, $2, $3, 'discussion', $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id"
        )
        .bind(&list.list_key)
        .bind(&list.name)
        .bind(&list.description)
        .bind(&list.subject_prefix)
        .bind(list.reply_to.as_str())
        .bind(list.post_policy.as_str())
        .bind(&list.archive)
        .bind(list.max_bytes)
        .bind(now)
        .bind(list.personalized)
        .bind(list.strip_executables)
        .fetch_one(c)
        .await
        .map_err(StoreError::from_write)
        })?;
        audit::record(
            &mut tx,
            actor,
            "create",
            "list",
            Some(id),
            serde_json::json!({ "label": list.name, "list": list.list_key }),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Whether `address` is an active subscriber of the list.
    pub async fn is_subscriber(&self, list_id: i64, address: &str) -> StoreResult<bool> {
        Ok(with_db!(&self.db, |p| sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM subscriptions WHERE list_id = $1 AND address = $2
                            AND state IN ('active', 'bouncing'))"
        )
        .bind(list_id)
        .bind(address.to_lowercase())
        .fetch_one(p)
        .await)?)
    }

    pub async fn is_trusted_sender(&self, list_id: i64, address: &str) -> StoreResult<bool> {
        Ok(with_db!(&self.db, |p| sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM trusted_senders WHERE list_id = $1 AND address = $2)"
        )
        .bind(list_id)
        .bind(address.to_lowercase())
        .fetch_one(p)
        .await)?)
    }

    /// Whether the list already received a post with this Message-ID since `since` (a loop or a resend).
    pub async fn post_seen(&self, list_id: i64, message_id: &str, since: i64) -> StoreResult<bool> {
        if message_id.is_empty() {
            return Ok(false);
        }
        Ok(with_db!(&self.db, |p| {
            sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM list_posts WHERE list_id = $1 AND message_id = $2 AND created_at >= $3)"
        )
        .bind(list_id)
        .bind(message_id)
        .bind(since)
        .fetch_one(p)
        .await
        })?)
    }

    /// Records a post that goes no further (`held` or `discarded`) with its reasons; returns its id.
    pub async fn record_post(
        &self,
        post: &NewPost,
        state: &str,
        reasons: &[String],
        now: i64,
    ) -> StoreResult<i64> {
        let mut tx = self.begin().await?;
        let id = insert_post(&mut tx, post, state, reasons, None, now).await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Records a post and enqueues `message` to the list's active subscribers who receive each message, in
    /// one transaction; every copy carries `Archived-At: <{archive_base}{post id}>`. Returns (post id,
    /// copies).
    pub async fn distribute_post(
        &self,
        post: &NewPost,
        message: &NewMessage,
        archive_base: &str,
        now: i64,
    ) -> StoreResult<(i64, usize)> {
        let mut tx = self.begin().await?;
        let id = insert_post(&mut tx, post, "distributed", &[], None, now).await?;
        let copies = send_post(&mut tx, id, post.list_id, message, archive_base, now).await?;
        tx.commit().await?;
        Ok((id, copies))
    }

    /// The message as received of the post whose copies are mail message `mail_message_id`, and whether its
    /// list strips programs: every copy is that message with the footer ([`crate::mail::list_copy`]).
    pub async fn post_source(&self, mail_message_id: i64) -> StoreResult<Option<(Vec<u8>, bool)>> {
        Ok(with_db!(&self.db, |p| sqlx::query_as(
            "SELECT m.raw, l.strip_executables FROM list_posts p
             JOIN inbound_messages m ON m.id = p.inbound_message_id
             JOIN mailing_lists l ON l.id = p.list_id
             WHERE p.mail_message_id = $1"
        )
        .bind(mail_message_id)
        .fetch_optional(p)
        .await)?)
    }

    /// The posts of a list distributed in `[from, to)`, oldest first, with their received message.
    pub async fn distributed_between(
        &self,
        list_id: i64,
        from: i64,
        to: i64,
    ) -> StoreResult<Vec<Post>> {
        let sql = format!(
            "SELECT {POST_COLUMNS} FROM list_posts
             WHERE list_id = $1 AND state = 'distributed' AND created_at >= $2 AND created_at < $3
             ORDER BY created_at, id"
        );
        Ok(with_db!(&self.db, |p| sqlx::query_as(&sql)
            .bind(list_id)
            .bind(from)
            .bind(to)
            .fetch_all(p)
            .await)?)
    }

    /// The threads of a list's archive, latest activity first, optionally those whose subject or author
    /// contains `query`: (thread id, first subject, first author, posts, last post time).
    pub async fn threads(
        &self,
        list_id: i64,
        query: &str,
        limit: i64,
    ) -> StoreResult<Vec<(i64, String, String, i64, i64)>> {
        let pattern = format!("%{}%", query.to_lowercase());
        Ok(with_db!(&self.db, |p| {
            sqlx::query_as(
            "SELECT t.thread_id, f.subject, f.from_name, t.posts, t.last_at FROM
                (SELECT thread_id, COUNT(*) AS posts, MAX(created_at) AS last_at FROM list_posts
                 WHERE list_id = $1 AND state = 'distributed'
                   AND thread_id IN (SELECT thread_id FROM list_posts WHERE list_id = $1 AND state = 'distributed'
                                     AND (LOWER(subject) LIKE $2 OR LOWER(from_name) LIKE $2
                                          OR LOWER(from_address) LIKE $2))
                 GROUP BY thread_id) t
             JOIN list_posts f ON f.id = (SELECT MIN(id) FROM list_posts WHERE thread_id = t.thread_id
                                           AND list_id = $1 AND state = 'distributed')
             ORDER BY t.last_at DESC LIMIT $3"
        )
        .bind(list_id)
        .bind(&pattern)
        .bind(limit)
        .fetch_all(p)
        .await
        })?)
    }

    /// The distributed posts of a thread, oldest first.
    pub async fn thread_posts(&self, list_id: i64, thread_id: i64) -> StoreResult<Vec<Post>> {
        let sql = format!(
            "SELECT {POST_COLUMNS} FROM list_posts WHERE list_id = $1 AND thread_id = $2 AND state = 'distributed'
             ORDER BY created_at, id"
        );
        Ok(with_db!(&self.db, |p| sqlx::query_as(&sql)
            .bind(list_id)
            .bind(thread_id)
            .fetch_all(p)
            .await)?)
    }

    /// The thread of a post.
    pub async fn post_thread(&self, post_id: i64) -> StoreResult<Option<(i64, i64)>> {
        Ok(with_db!(&self.db, |p| sqlx::query_as(
            "SELECT list_id, thread_id FROM list_posts WHERE id = $1 AND state = 'distributed'"
        )
        .bind(post_id)
        .fetch_optional(p)
        .await)?)
    }

    pub async fn held_posts(&self) -> StoreResult<Vec<Post>> {
        let sql = format!(
            "SELECT {POST_COLUMNS} FROM list_posts WHERE state = 'held' ORDER BY created_at, id"
        );
        Ok(with_db!(&self.db, |p| sqlx::query_as(&sql)
            .fetch_all(p)
            .await)?)
    }

    pub async fn post(&self, id: i64) -> StoreResult<Option<Post>> {
        let sql = format!("SELECT {POST_COLUMNS} FROM list_posts WHERE id = $1");
        Ok(with_db!(&self.db, |p| sqlx::query_as(&sql)
            .bind(id)
            .fetch_optional(p)
            .await)?)
    }

    /// Approves a held post: its copies go out (`message`), and with `trust` its sender's next posts are
    /// not held for not being a subscriber. False when it was not held.
    pub async fn approve_post(
        &self,
        id: i64,
        message: &NewMessage,
        archive_base: &str,
        trust: bool,
        actor: &Actor,
        now: i64,
    ) -> StoreResult<bool> {
        let mut tx = self.begin().await?;
        let post: Option<(i64, String)> = with_tx!(&mut tx, |c| sqlx::query_as(
            "SELECT list_id, from_address FROM list_posts WHERE id = $1 AND state = 'held'"
        )
        .bind(id)
        .fetch_optional(c)
        .await)?;
        let Some((list_id, from)) = post else {
            return Ok(false);
        };
        let copies = send_post(&mut tx, id, list_id, message, archive_base, now).await?;
        with_tx!(&mut tx, |c| {
            sqlx::query(
            "UPDATE list_posts SET state = 'distributed', decided_by = $1, decided_at = $2 WHERE id = $3"
        )
        .bind(&actor.label)
        .bind(now)
        .bind(id)
        .execute(c)
        .await
        .map(|r| r.rows_affected())
        })?;
        if trust {
            with_tx!(&mut tx, |c| sqlx::query(
                "INSERT INTO trusted_senders (list_id, address, created_at) VALUES ($1, $2, $3)
                 ON CONFLICT (list_id, address) DO NOTHING"
            )
            .bind(list_id)
            .bind(&from)
            .bind(now)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
        }
        audit::record(
            &mut tx,
            actor,
            if trust {
                "approve_and_trust"
            } else {
                "approve"
            },
            "list_post",
            Some(id),
            serde_json::json!({ "copies": copies }),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Rejects (the sender is told, with `notice`) or discards a held post. False when it was not held.
    pub async fn close_post(
        &self,
        id: i64,
        state: &str,
        notice: Option<(&NewMessage, NewRecipient)>,
        actor: &Actor,
        now: i64,
    ) -> StoreResult<bool> {
        let mut tx = self.begin().await?;
        let changed = with_tx!(&mut tx, |c| {
            sqlx::query(
            "UPDATE list_posts SET state = $1, decided_by = $2, decided_at = $3 WHERE id = $4 AND state = 'held'"
        )
        .bind(state)
        .bind(&actor.label)
        .bind(now)
        .bind(id)
        .execute(c)
        .await
        .map(|r| r.rows_affected())
        })?;
        if changed == 0 {
            return Ok(false);
        }
        if let Some((message, recipient)) = notice {
            enqueue(&mut tx, message, &[recipient], now).await?;
        }
        audit::record(
            &mut tx,
            actor,
            state,
            "list_post",
            Some(id),
            serde_json::json!({}),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }
}

async fn subscribers_each(tx: &mut Tx, list_id: i64) -> StoreResult<Vec<NewRecipient>> {
    let rows: Vec<(String, String, Option<i64>)> = with_tx!(tx, |c| sqlx::query_as(
        "SELECT address, name, person_id FROM subscriptions
         WHERE list_id = $1 AND state = 'active' AND mode = 'each' ORDER BY id"
    )
    .bind(list_id)
    .fetch_all(c)
    .await)?;
    Ok(rows
        .into_iter()
        .map(|(address, name, person_id)| NewRecipient {
            address: EmailAddress::stored(address),
            name,
            person_id,
        })
        .collect())
}

async fn insert_post(
    tx: &mut Tx,
    post: &NewPost,
    state: &str,
    reasons: &[String],
    mail_message_id: Option<i64>,
    now: i64,
) -> StoreResult<i64> {
    let id: i64 = with_tx!(tx, |c| {
        sqlx::query_scalar(
        "INSERT INTO list_posts (list_id, inbound_message_id, from_address, from_name, subject, message_id,
            in_reply_to, references_header, state, reasons, mail_message_id, created_at, removed)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING id"
    )
    .bind(post.list_id)
    .bind(post.inbound_message_id)
    .bind(post.from_address.to_lowercase())
    .bind(&post.from_name)
    .bind(&post.subject)
    .bind(&post.message_id)
    .bind(&post.in_reply_to)
    .bind(&post.references)
    .bind(state)
    .bind(reasons.join("\n"))
    .bind(mail_message_id)
    .bind(now)
    .bind(post.removed.join("\n"))
    .fetch_one(c)
    .await
    })?;
    let thread = thread_of(tx, post.list_id, &post.in_reply_to, &post.references)
        .await?
        .unwrap_or(id);
    with_tx!(tx, |c| sqlx::query(
        "UPDATE list_posts SET thread_id = $1 WHERE id = $2"
    )
    .bind(thread)
    .bind(id)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(id)
}

/// Enqueues a post's copies with its `Archived-At` and links the post to its mail; returns the copies.
async fn send_post(
    tx: &mut Tx,
    post_id: i64,
    list_id: i64,
    message: &NewMessage,
    archive_base: &str,
    now: i64,
) -> StoreResult<usize> {
    let recipients = subscribers_each(tx, list_id).await?;
    let mut message = message.clone();
    message
        .extra_headers
        .push(("Archived-At".into(), format!("<{archive_base}{post_id}>")));
    let message_id = enqueue(tx, &message, &recipients, now).await?;
    with_tx!(tx, |c| sqlx::query(
        "UPDATE list_posts SET mail_message_id = $1 WHERE id = $2"
    )
    .bind(message_id)
    .bind(post_id)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(recipients.len())
}

/// The thread a post answers, from the Message-IDs it names (the nearest first): a post of the list with
/// that Message-ID (stored without its angle brackets). Copies carry their post's own Message-ID, so no other id can name a post.
async fn thread_of(
    tx: &mut Tx,
    list_id: i64,
    in_reply_to: &str,
    references: &str,
) -> StoreResult<Option<i64>> {
    let mut named: Vec<String> = format!("{references} {in_reply_to}")
        .split(['<', '>', ' ', '\t', '\r', '\n', ','])
        .filter(|id| id.contains('@'))
        .map(String::from)
        .collect();
    named.reverse();
    for id in named {
        let found: Option<Option<i64>> = with_tx!(tx, |c| {
            sqlx::query_scalar(
                "SELECT thread_id FROM list_posts WHERE list_id = $1 AND message_id = $2 ORDER BY id LIMIT 1",
            )
            .bind(list_id)
            .bind(&id)
            .fetch_optional(c)
            .await
        })?;
        if let Some(Some(thread)) = found {
            return Ok(Some(thread));
        }
    }
    Ok(None)
}
