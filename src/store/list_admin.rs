//! Staff running a discussion list from its page: its settings (each change in the audit log), its
//! subscribers with their delivery mode and bounce score, removing one (a departure with source `staff`),
//! re-enabling one that bounces disabled, re-subscribing at their request someone who left (a new consent:
//! when, by whom in the team, on what ground), where each address of a bulk subscription stands, and the
//! pages of "Courriers reçus" with a held post's moderation decision.

use std::collections::HashMap;

use serde_json::json;

use super::audit::{self, Actor};
use super::discussion::{DiscussionList, Post};
use super::{Store, StoreResult, with_db, with_tx};
use crate::domain::{PostPolicy, ReplyTo};

/// The consent ground recorded when the team re-subscribes someone who asked for it.
pub const RESUBSCRIBE_GROUND: &str = "réabonnement par l'équipe à la demande de la personne";

/// What staff may change on a list (its address and kind stay).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ListSettings {
    pub name: String,
    pub description: String,
    pub subject_prefix: String,
    pub reply_to: ReplyTo,
    pub post_policy: PostPolicy,
    /// `public`, `members` or `staff`.
    pub archive: String,
    pub max_bytes: i64,
    pub personalized: bool,
    pub strip_executables: bool,
}

impl ListSettings {
    pub fn of(list: &DiscussionList) -> ListSettings {
        ListSettings {
            name: list.name.clone(),
            description: list.description.clone(),
            subject_prefix: list.subject_prefix.clone(),
            reply_to: list.reply_to,
            post_policy: list.post_policy,
            archive: list.archive.clone(),
            max_bytes: list.max_bytes,
            personalized: list.personalized,
            strip_executables: list.strip_executables,
        }
    }
}

/// A subscription as the list's page shows it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ListSubscriber {
    pub id: i64,
    pub address: String,
    pub name: String,
    /// `pending`, `active`, `bouncing`, `disabled` or `unsubscribed`.
    pub state: String,
    /// `each` or `digest`.
    pub mode: String,
    pub bounce_score: i64,
    pub bounce_warnings: i64,
    pub consent_at: Option<i64>,
    pub consent_source: String,
    pub legal_basis: String,
    pub wording_version: String,
    pub consent_by: String,
    pub updated_at: i64,
}

/// Where an address stands with a list, before staff add it.
#[derive(Debug, Clone, PartialEq)]
pub enum Standing {
    /// Not on the list and never left it.
    New,
    /// A subscription that has not ended, in this state.
    Subscribed(String),
    /// Left the list (or was removed) at this time, from this source (`one_click`, `preferences`,
    /// `staff`…; `bounces` when bounces removed it).
    Left { at: i64, source: String },
}

/// What re-subscribing at someone's request did.
#[derive(Debug, Clone, PartialEq)]
pub enum Resubscribed {
    Done,
    /// The address is subscribed already: nothing changed.
    AlreadySubscribed,
    /// The address never left: the bulk form adds it.
    NeverLeft,
}

/// The filters of "Courriers reçus"; `None` is any.
#[derive(Debug, Clone, Default)]
pub struct InboundFilter {
    pub kind: Option<String>,
    /// The state as shown: a held post's moderation decision (`distributed`, `rejected`, `discarded`)
    /// replaces `held`.
    pub state: Option<String>,
    /// The addresses of one list (the list and its commands); empty: every recipient.
    pub recipients: Vec<String>,
    /// Received at or after, epoch milliseconds.
    pub since: Option<i64>,
    /// Received before, epoch milliseconds.
    pub before: Option<i64>,
}

/// A received message and recipient, with the decision on its post when it was held.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct InboundLine {
    pub id: i64,
    pub message_id: i64,
    pub received_at: i64,
    pub channel: String,
    pub envelope_from: String,
    pub from_address: String,
    pub subject: String,
    pub recipient: String,
    pub kind: String,
    /// The state as shown (see [`InboundFilter::state`]).
    pub state: String,
    pub outcome: String,
    pub decided_by: String,
    pub decided_at: Option<i64>,
}

/// A value bound to a query built from the filters given.
enum Bind {
    Text(String),
    Int(i64),
}

/// Binds `bind` as the next parameter; returns its placeholder.
fn next(bind: Bind, binds: &mut Vec<Bind>) -> String {
    binds.push(bind);
    format!("${}", binds.len())
}

/// Received recipients with their shown state: a held post follows its moderation decision, read from
/// the post of the list the recipient names.
const INBOUND_LINES: &str = "SELECT r.id, m.id AS message_id, m.received_at, m.channel, m.envelope_from,
        m.from_address, m.subject, r.recipient, r.kind,
        CASE WHEN r.state = 'held' AND p.state IN ('distributed', 'rejected', 'discarded') THEN p.state
             ELSE r.state END AS state,
        r.outcome, COALESCE(p.decided_by, '') AS decided_by, p.decided_at
     FROM inbound_recipients r JOIN inbound_messages m ON m.id = r.message_id
     LEFT JOIN list_posts p ON r.kind = 'post' AND p.id =
        (SELECT MAX(lp.id) FROM list_posts lp JOIN mailing_lists l ON l.id = lp.list_id
         WHERE lp.inbound_message_id = r.message_id AND r.recipient LIKE l.list_key || '@%')";

impl Store {
    /// Saves a discussion list's settings and, when something changed, writes the fields before and after
    /// in the audit log in the same transaction. Returns whether anything changed.
    pub async fn update_list_settings(
        &self,
        list: &DiscussionList,
        settings: &ListSettings,
        actor: &Actor,
        now: i64,
    ) -> StoreResult<bool> {
        let before = ListSettings::of(list);
        if &before == settings {
            return Ok(false);
        }
        let mut tx = self.begin().await?;
        with_tx!(&mut tx, |c| {
            sqlx::query(
            "UPDATE mailing_lists SET name = $1, description = $2, subject_prefix = $3, reply_to = $4,
                post_policy = $5, archive = $6, max_bytes = $7, personalized = $8, strip_executables = $9
             WHERE id = $10 AND kind = 'discussion'"
        )
        .bind(&settings.name)
        .bind(&settings.description)
        .bind(&settings.subject_prefix)
        .bind(settings.reply_to.as_str())
        .bind(settings.post_policy.as_str())
        .bind(&settings.archive)
        .bind(settings.max_bytes)
        .bind(settings.personalized)
        .bind(settings.strip_executables)
        .bind(list.id)
        .execute(c)
        .await
        .map(|r| r.rows_affected())
        })?;
        audit::record(
            &mut tx,
            actor,
            "update",
            "mailing_list",
            Some(list.id),
            json!({ "list": list.list_key, "before": before, "after": settings }),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Every subscription of a list, ended ones included, by address.
    pub async fn list_subscribers(&self, list_id: i64) -> StoreResult<Vec<ListSubscriber>> {
        Ok(with_db!(&self.db, |p| sqlx::query_as(
            "SELECT id, address, name, state, mode, bounce_score, bounce_warnings, consent_at,
                consent_source, legal_basis, wording_version, consent_by, updated_at
             FROM subscriptions WHERE list_id = $1 ORDER BY address"
        )
        .bind(list_id)
        .fetch_all(p)
        .await)?)
    }

    /// The held posts of one list, oldest first.
    pub async fn held_posts_of(&self, list_id: i64) -> StoreResult<Vec<Post>> {
        Ok(self
            .held_posts()
            .await?
            .into_iter()
            .filter(|p| p.list_id == list_id)
            .collect())
    }

    /// Where each of `addresses` (lowercase) stands with the list; an address missing from the answer is
    /// [`Standing::New`].
    pub async fn standings(
        &self,
        list: &DiscussionList,
        addresses: &[String],
    ) -> StoreResult<HashMap<String, Standing>> {
        let mut standings = HashMap::new();
        for chunk in addresses.chunks(500) {
            let placeholders = super::numbered_placeholders(2, chunk.len());
            let subscriptions_sql = format!(
                "SELECT address, state, updated_at FROM subscriptions
                 WHERE list_id = $1 AND address IN ({placeholders})"
            );
            let subscriptions: Vec<(String, String, i64)> = with_db!(&self.db, |p| {
                let mut query = sqlx::query_as(&subscriptions_sql).bind(list.id);
                for address in chunk {
                    query = query.bind(address);
                }
                query.fetch_all(p).await
            })?;
            let departures_sql = format!(
                "SELECT address, created_at, source FROM unsubscribes
                 WHERE list_key = $1 AND address IN ({placeholders})"
            );
            let departures: Vec<(String, i64, String)> = with_db!(&self.db, |p| {
                let mut query = sqlx::query_as(&departures_sql).bind(&list.list_key);
                for address in chunk {
                    query = query.bind(address);
                }
                query.fetch_all(p).await
            })?;
            let departures: HashMap<String, (i64, String)> = departures
                .into_iter()
                .map(|(address, at, source)| (address, (at, source)))
                .collect();
            for (address, state, updated_at) in subscriptions {
                let standing = if state != "unsubscribed" {
                    Standing::Subscribed(state)
                } else if let Some((at, source)) = departures.get(&address) {
                    Standing::Left {
                        at: *at,
                        source: source.clone(),
                    }
                } else {
                    // Only the bounce warnings end a subscription without recording a departure.
                    Standing::Left {
                        at: updated_at,
                        source: "bounces".into(),
                    }
                };
                standings.insert(address, standing);
            }
            for (address, (at, source)) in departures {
                standings
                    .entry(address)
                    .or_insert(Standing::Left { at, source });
            }
        }
        Ok(standings)
    }

    /// Ends a subscription of the list on staff's decision and records the departure (source `staff`,
    /// replacing an older one the person had since come back from). Returns its address, or `None` when
    /// it was not a live subscription of this list.
    pub async fn remove_subscriber(
        &self,
        list: &DiscussionList,
        subscription_id: i64,
        actor: &Actor,
        now: i64,
    ) -> StoreResult<Option<String>> {
        let mut tx = self.begin().await?;
        let address: Option<String> = with_tx!(&mut tx, |c| sqlx::query_scalar(
            "UPDATE subscriptions SET state = 'unsubscribed', updated_at = $1
             WHERE id = $2 AND list_id = $3 AND state <> 'unsubscribed' RETURNING address"
        )
        .bind(now)
        .bind(subscription_id)
        .bind(list.id)
        .fetch_optional(c)
        .await)?;
        let Some(address) = address else {
            return Ok(None);
        };
        // Someone who left and came back by the public form still has that departure: the audit log
        // keeps it when this one replaces it.
        let earlier: Option<(i64, String)> = with_tx!(&mut tx, |c| sqlx::query_as(
            "SELECT created_at, source FROM unsubscribes WHERE list_key = $1 AND address = $2"
        )
        .bind(&list.list_key)
        .bind(&address)
        .fetch_optional(c)
        .await)?;
        let earlier = earlier.map(|(at, source)| json!({ "at": at, "source": source }));
        with_tx!(&mut tx, |c| {
            sqlx::query(
            "INSERT INTO unsubscribes (list_key, address, source, created_at) VALUES ($1, $2, 'staff', $3)
             ON CONFLICT (list_key, address) DO UPDATE
                SET source = 'staff', created_at = $3, delivery_id = NULL"
        )
        .bind(&list.list_key)
        .bind(&address)
        .bind(now)
        .execute(c)
        .await
        .map(|r| r.rows_affected())
        })?;
        audit::record(
            &mut tx,
            actor,
            "unsubscribe",
            "subscription",
            Some(subscription_id),
            json!({
                "list": list.list_key,
                "address": address,
                "source": "staff",
                "earlier_departure": earlier,
            }),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(Some(address))
    }

    /// Gives back delivery to a subscription bounces disabled, its score and warnings reset. Returns its
    /// address, or `None` when it was not disabled.
    pub async fn reenable_subscriber(
        &self,
        list: &DiscussionList,
        subscription_id: i64,
        actor: &Actor,
        now: i64,
    ) -> StoreResult<Option<String>> {
        let mut tx = self.begin().await?;
        let address: Option<String> = with_tx!(&mut tx, |c| {
            sqlx::query_scalar(
                "UPDATE subscriptions SET state = 'active', bounce_score = 0, bounce_day = '',
                bounce_warnings = 0,
                bounce_warned_at = NULL, updated_at = $1
             WHERE id = $2 AND list_id = $3 AND state IN ('disabled', 'bouncing')
             RETURNING address",
            )
            .bind(now)
            .bind(subscription_id)
            .bind(list.id)
            .fetch_optional(c)
            .await
        })?;
        let Some(address) = address else {
            return Ok(None);
        };
        audit::record(
            &mut tx,
            actor,
            "reenable",
            "subscription",
            Some(subscription_id),
            json!({ "list": list.list_key, "address": address }),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(Some(address))
    }

    /// Subscribes again, at their request, someone who left the list: the subscription becomes active
    /// with a new consent (now, legal basis consent, ground [`RESUBSCRIBE_GROUND`], `consent_by` the staff
    /// member), and the departure moves to the audit log (a later departure is then recorded afresh).
    pub async fn resubscribe_on_request(
        &self,
        list: &DiscussionList,
        address: &str,
        name: &str,
        actor: &Actor,
        now: i64,
    ) -> StoreResult<Resubscribed> {
        let address = address.to_lowercase();
        let mut tx = self.begin().await?;
        let lock = tx.lock_clause();
        let subscription_sql = format!(
            "SELECT id, state, updated_at FROM subscriptions WHERE list_id = $1 AND address = $2{lock}"
        );
        let subscription: Option<(i64, String, i64)> =
            with_tx!(&mut tx, |c| sqlx::query_as(&subscription_sql)
                .bind(list.id)
                .bind(&address)
                .fetch_optional(c)
                .await)?;
        let departure: Option<(i64, String)> = with_tx!(&mut tx, |c| {
            sqlx::query_as(
            "DELETE FROM unsubscribes WHERE list_key = $1 AND address = $2 RETURNING created_at, source"
        )
        .bind(&list.list_key)
        .bind(&address)
        .fetch_optional(c)
        .await
        })?;
        let left = match (&subscription, &departure) {
            (Some((_, state, _)), _) if state != "unsubscribed" => {
                return Ok(Resubscribed::AlreadySubscribed);
            }
            (_, Some((at, source))) => (*at, source.clone()),
            (Some((_, _, at)), None) => (*at, "bounces".to_string()),
            (None, None) => return Ok(Resubscribed::NeverLeft),
        };
        let id: i64 = match subscription {
            Some((id, _, _)) => {
                with_tx!(&mut tx, |c| {
                    sqlx::query(
                    "UPDATE subscriptions SET state = 'active',
                        name = CASE WHEN $1 = '' THEN name ELSE $1 END, consent_at = $2,
                        consent_source = 'staff', legal_basis = 'consent', wording_version = $3,
                        consent_by = $4, confirm_token_hash = NULL, confirm_expires_at = NULL,
                        bounce_score = 0,
                        bounce_day = '', bounce_warnings = 0, bounce_warned_at = NULL, updated_at = $2
                     WHERE id = $5"
                )
                .bind(name)
                .bind(now)
                .bind(RESUBSCRIBE_GROUND)
                .bind(&actor.label)
                .bind(id)
                .execute(c)
                .await
                .map(|r| r.rows_affected())
                })?;
                id
            }
            None => with_tx!(&mut tx, |c| {
                sqlx::query_scalar(
                "INSERT INTO subscriptions (list_id, address, name, state, consent_at, consent_source,
                    legal_basis, wording_version, consent_by, created_at, updated_at)
                 VALUES ($1, $2, $3, 'active', $4, 'staff', 'consent', $5, $6, $4, $4) RETURNING id"
            )
            .bind(list.id)
            .bind(&address)
            .bind(name)
            .bind(now)
            .bind(RESUBSCRIBE_GROUND)
            .bind(&actor.label)
            .fetch_one(c)
            .await
            })?,
        };
        audit::record(
            &mut tx,
            actor,
            "resubscribe",
            "subscription",
            Some(id),
            json!({
                "list": list.list_key,
                "address": address,
                "ground": RESUBSCRIBE_GROUND,
                "left_at": left.0,
                "left_source": left.1,
            }),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(Resubscribed::Done)
    }

    /// One page of received recipients matching `filter`, newest first, and how many match in all.
    pub async fn inbound_page(
        &self,
        filter: &InboundFilter,
        limit: i64,
        offset: i64,
    ) -> StoreResult<(Vec<InboundLine>, i64)> {
        let mut conditions = Vec::new();
        let mut binds = Vec::new();
        if let Some(kind) = &filter.kind {
            conditions.push(format!(
                "x.kind = {}",
                next(Bind::Text(kind.clone()), &mut binds)
            ));
        }
        if let Some(state) = &filter.state {
            conditions.push(format!(
                "x.state = {}",
                next(Bind::Text(state.clone()), &mut binds)
            ));
        }
        if !filter.recipients.is_empty() {
            let names: Vec<String> = filter
                .recipients
                .iter()
                .map(|r| next(Bind::Text(r.to_lowercase()), &mut binds))
                .collect();
            conditions.push(format!("x.recipient IN ({})", names.join(", ")));
        }
        if let Some(since) = filter.since {
            conditions.push(format!(
                "x.received_at >= {}",
                next(Bind::Int(since), &mut binds)
            ));
        }
        if let Some(before) = filter.before {
            conditions.push(format!(
                "x.received_at < {}",
                next(Bind::Int(before), &mut binds)
            ));
        }
        let filtered = format!(
            "FROM ({INBOUND_LINES}) x{}",
            if conditions.is_empty() {
                String::new()
            } else {
                format!(" WHERE {}", conditions.join(" AND "))
            }
        );
        let limit_at = next(Bind::Int(limit), &mut binds);
        let offset_at = next(Bind::Int(offset), &mut binds);
        let page_sql =
            format!("SELECT x.* {filtered} ORDER BY x.id DESC LIMIT {limit_at} OFFSET {offset_at}");
        let count_sql = format!("SELECT COUNT(*) {filtered}");
        let counted = binds.len() - 2;
        Ok(with_db!(&self.db, |p| {
            let mut conn = p.acquire().await?;
            let mut query = sqlx::query_as::<_, InboundLine>(&page_sql);
            for bind in &binds {
                query = match bind {
                    Bind::Text(text) => query.bind(text),
                    Bind::Int(number) => query.bind(*number),
                };
            }
            let lines = query.fetch_all(&mut *conn).await?;
            let mut count = sqlx::query_scalar::<_, i64>(&count_sql);
            for bind in &binds[..counted] {
                count = match bind {
                    Bind::Text(text) => count.bind(text),
                    Bind::Int(number) => count.bind(*number),
                };
            }
            let total = count.fetch_one(&mut *conn).await?;
            Ok::<_, sqlx::Error>((lines, total))
        })?)
    }
}
