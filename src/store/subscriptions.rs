//! Lists people subscribe to and their subscriptions, each with the consent that made it (date, source,
//! legal basis, wording shown). A public subscription is double opt-in: [`Store::request_subscription`]
//! keeps it pending and enqueues the confirmation mail in the same transaction; the link's token (only its
//! hash is stored) makes it active through [`Store::confirm_subscription`] until it expires.

use super::audit::{self, Actor};
use super::outbox::{NewMessage, NewRecipient, enqueue};
use super::{Store, StoreError, StoreResult, with_db, with_tx};
use crate::domain::EmailAddress;

/// The key of the club's newsletter, the list its migration creates and the public form subscribes to.
pub const NEWSLETTER: &str = "lettre";

/// A list people subscribe to.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct MailingList {
    pub id: i64,
    pub list_key: String,
    pub name: String,
    pub description: String,
    /// The newsletter (only staff write) or a discussion list.
    pub kind: crate::domain::ListKind,
}

/// A request from the public form, once its fields are valid.
#[derive(Debug, Clone)]
pub struct SubscriptionRequest {
    pub list_id: i64,
    /// Lowercase.
    pub address: String,
    pub name: String,
    /// The version of the consent wording the form showed.
    pub wording_version: String,
    /// SHA-256 of the confirmation link's token.
    pub token_hash: String,
    pub expires_at: i64,
    /// How the person asked: `public_form`, or `mail` (a `<list>-join` message).
    pub source: &'static str,
}

/// Whose contacts staff subscribe in one step.
#[derive(Debug, Clone, PartialEq)]
pub enum ContactSelection {
    /// The people of the collectivities at this stage of the pipeline.
    Stage(crate::domain::Stage),
    /// The people of every member organisation.
    Members,
    /// The people of these organisations (a filtered view of the targets list).
    Organisations(Vec<i64>),
    /// The people of every member association of the collective.
    Associations,
}

/// A subscription as staff see it, with why it exists.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SubscriberRow {
    pub address: String,
    pub name: String,
    pub state: String,
    pub mode: String,
    pub consent_at: Option<i64>,
    pub consent_source: String,
    pub legal_basis: String,
    pub wording_version: String,
    pub updated_at: i64,
}

/// What a request led to.
#[derive(Debug, Clone, PartialEq)]
pub enum SubscriptionRequested {
    /// A confirmation mail is on its way (a new subscription, or a pending or ended one asked again).
    ConfirmationSent,
    /// Already subscribed: nothing changes and no mail is sent.
    AlreadyActive,
}

/// What following a confirmation link did.
#[derive(Debug, Clone, PartialEq)]
pub enum Confirmation {
    Confirmed {
        list: String,
        address: String,
    },
    /// The link was followed before and the subscription is active.
    AlreadyActive {
        list: String,
        address: String,
    },
    /// The link's time is over; the subscription stays pending.
    Expired {
        list: String,
    },
    /// The link served once, and the subscription has ended since.
    Used,
    Unknown,
}

impl Store {
    pub async fn mailing_list(&self, list_key: &str) -> StoreResult<Option<MailingList>> {
        Ok(with_db!(&self.db, |p| sqlx::query_as(
            "SELECT id, list_key, name, description, kind FROM mailing_lists WHERE list_key = $1"
        )
        .bind(list_key)
        .fetch_optional(p)
        .await)?)
    }

    /// Records a public request and enqueues `confirmation` (which carries the link) in one transaction.
    /// Asking twice never makes two subscriptions: a pending one gets a new link, an active one is left as
    /// it is.
    pub async fn request_subscription(
        &self,
        request: &SubscriptionRequest,
        confirmation: &NewMessage,
        now: i64,
    ) -> StoreResult<SubscriptionRequested> {
        let mut tx = self.begin().await?;
        let existing: Option<(i64, String)> = with_tx!(&mut tx, |c| sqlx::query_as(
            "SELECT id, state FROM subscriptions WHERE list_id = $1 AND address = $2"
        )
        .bind(request.list_id)
        .bind(&request.address)
        .fetch_optional(c)
        .await)?;
        match existing {
            Some((_, state)) if state == "active" || state == "bouncing" => {
                return Ok(SubscriptionRequested::AlreadyActive);
            }
            Some((id, _)) => {
                with_tx!(&mut tx, |c| {
                    sqlx::query(
                        "UPDATE subscriptions SET state = 'pending', name = $1, consent_at = NULL,
                        consent_source = $7, legal_basis = 'consent', wording_version = $2,
                        confirm_token_hash = $3, confirm_expires_at = $4, updated_at = $5
                     WHERE id = $6",
                    )
                    .bind(&request.name)
                    .bind(&request.wording_version)
                    .bind(&request.token_hash)
                    .bind(request.expires_at)
                    .bind(now)
                    .bind(id)
                    .bind(request.source)
                    .execute(c)
                    .await
                    .map(|r| r.rows_affected())
                })?;
            }
            None => {
                // Two requests at once: the unique (list, address) key lets one insert; the other
                // fails and the person asks again, finding the first.
                with_tx!(&mut tx, |c| {
                    sqlx::query(
                    "INSERT INTO subscriptions (list_id, address, name, state, consent_source, legal_basis,
                        wording_version, confirm_token_hash, confirm_expires_at, created_at, updated_at)
                     VALUES ($1, $2, $3, 'pending', $8, 'consent', $4, $5, $6, $7, $7)"
                )
                .bind(request.list_id)
                .bind(&request.address)
                .bind(&request.name)
                .bind(&request.wording_version)
                .bind(&request.token_hash)
                .bind(request.expires_at)
                .bind(now)
                .bind(request.source)
                .execute(c)
                .await
                .map(|r| r.rows_affected())
                })?;
            }
        }
        let recipient = NewRecipient {
            // Checked by the form or, for a `-join` mail, before relais answers its sender.
            address: EmailAddress::parse(&request.address).map_err(StoreError::Conflict)?,
            name: request.name.clone(),
            person_id: None,
        };
        enqueue(&mut tx, confirmation, &[recipient], now).await?;
        tx.commit().await?;
        Ok(SubscriptionRequested::ConfirmationSent)
    }

    /// Follows a confirmation link (`token_hash` of its token) at `now`.
    /// The name and description of the list a confirmation link (by its token's hash) is for.
    pub async fn confirmation_list(
        &self,
        token_hash: &str,
    ) -> StoreResult<Option<(String, String)>> {
        Ok(with_db!(&self.db, |p| {
            sqlx::query_as(
            "SELECT l.name, l.description FROM subscriptions s JOIN mailing_lists l ON l.id = s.list_id
             WHERE s.confirm_token_hash = $1"
        )
        .bind(token_hash)
        .fetch_optional(p)
        .await
        })?)
    }

    pub async fn confirm_subscription(
        &self,
        token_hash: &str,
        now: i64,
    ) -> StoreResult<Confirmation> {
        let found: Option<(i64, String, Option<i64>, String, String)> =
            with_db!(&self.db, |p| sqlx::query_as(
                "SELECT s.id, s.state, s.confirm_expires_at, s.address, l.name
                 FROM subscriptions s JOIN mailing_lists l ON l.id = s.list_id
                 WHERE s.confirm_token_hash = $1"
            )
            .bind(token_hash)
            .fetch_optional(p)
            .await)?;
        let Some((id, state, expires_at, address, list)) = found else {
            return Ok(Confirmation::Unknown);
        };
        match state.as_str() {
            "active" | "bouncing" => Ok(Confirmation::AlreadyActive { list, address }),
            "pending" if expires_at.is_some_and(|at| at > now) => {
                let updated = with_db!(&self.db, |p| {
                    sqlx::query(
                    "UPDATE subscriptions SET state = 'active', consent_at = $1, updated_at = $1
                     WHERE id = $2 AND state = 'pending'"
                )
                .bind(now)
                .bind(id)
                .execute(p)
                .await
                .map(|r| r.rows_affected())
                })?;
                if updated == 1 {
                    Ok(Confirmation::Confirmed { list, address })
                } else {
                    // Confirmed meanwhile by another click.
                    Ok(Confirmation::AlreadyActive { list, address })
                }
            }
            "pending" => Ok(Confirmation::Expired { list }),
            _ => Ok(Confirmation::Used),
        }
    }

    /// The subscription of `address` to `list_key`: (state, consent date, consent source, wording version).
    pub async fn subscription_of(
        &self,
        list_key: &str,
        address: &str,
    ) -> StoreResult<Option<(String, Option<i64>, String, String)>> {
        Ok(with_db!(&self.db, |p| sqlx::query_as(
            "SELECT s.state, s.consent_at, s.consent_source, s.wording_version
             FROM subscriptions s JOIN mailing_lists l ON l.id = s.list_id
             WHERE l.list_key = $1 AND s.address = $2"
        )
        .bind(list_key)
        .bind(address.to_lowercase())
        .fetch_optional(p)
        .await)?)
    }

    /// Subscribes the contacts of `selection` (their first address each) on staff's initiative: active at
    /// once, consent source `staff`, legal basis legitimate interest (they can leave in one click). An
    /// address already subscribed, pending, or that ever left the list is left alone. Returns how many
    /// were added.
    pub async fn subscribe_contacts(
        &self,
        list: &MailingList,
        selection: ContactSelection,
        now: i64,
    ) -> StoreResult<u64> {
        self.subscribe_contacts_audited(list, selection, None, now)
            .await
    }

    /// [`Store::subscribe_contacts`] done by a staff member: the audit log records how many joined, in the
    /// same transaction.
    pub async fn subscribe_contacts_as(
        &self,
        list: &MailingList,
        selection: ContactSelection,
        actor: &Actor,
        now: i64,
    ) -> StoreResult<u64> {
        self.subscribe_contacts_audited(list, selection, Some(actor), now)
            .await
    }

    async fn subscribe_contacts_audited(
        &self,
        list: &MailingList,
        selection: ContactSelection,
        actor: Option<&Actor>,
        now: i64,
    ) -> StoreResult<u64> {
        let described = match &selection {
            ContactSelection::Stage(stage) => format!("stage:{}", stage.as_str()),
            ContactSelection::Members => "members".into(),
            ContactSelection::Associations => "associations".into(),
            ContactSelection::Organisations(ids) => format!("organisations:{}", ids.len()),
        };
        // Only integers and the fixed codes of stages are written into the SQL text.
        let condition = match selection {
            ContactSelection::Stage(stage) => format!(
                "p.organisation_id IN (SELECT organisation_id FROM targets WHERE stage = '{}')",
                stage.as_str()
            ),
            ContactSelection::Members => {
                "p.organisation_id IN (SELECT organisation_id FROM memberships)".to_string()
            }
            ContactSelection::Associations => {
                "p.organisation_id IN (SELECT id FROM organisations WHERE kind = 'association')"
                    .to_string()
            }
            ContactSelection::Organisations(ids) if ids.is_empty() => return Ok(0),
            ContactSelection::Organisations(ids) => format!(
                "p.organisation_id IN ({})",
                ids.iter()
                    .map(i64::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        let sql = format!(
            "INSERT INTO subscriptions (list_id, address, name, person_id, state, consent_at, consent_source,
                legal_basis, wording_version, created_at, updated_at)
             SELECT $1, e.address, p.full_name, p.id, 'active', $2, 'staff', 'legitimate_interest', '', $2, $2
             FROM people p
             JOIN (SELECT person_id, LOWER(MIN(email)) AS address FROM person_emails GROUP BY person_id) e
               ON e.person_id = p.id
             WHERE {condition}
               AND NOT EXISTS (SELECT 1 FROM unsubscribes u WHERE u.list_key = $3 AND u.address = e.address)
             ORDER BY p.id
             ON CONFLICT (list_id, address) DO NOTHING"
        );
        let mut tx = self.begin().await?;
        let added = with_tx!(&mut tx, |c| sqlx::query(&sql)
            .bind(list.id)
            .bind(now)
            .bind(&list.list_key)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
        if let Some(actor) = actor
            && added > 0
        {
            let details = serde_json::json!({
                "label": list.name, "list": list.list_key, "count": added, "selection": described,
            });
            audit::record(
                &mut tx,
                actor,
                "subscribe",
                "subscription",
                None,
                details,
                now,
            )
            .await?;
        }
        tx.commit().await?;
        Ok(added)
    }

    /// The subscriptions of a list, newest change first.
    pub async fn subscribers(&self, list_id: i64) -> StoreResult<Vec<SubscriberRow>> {
        Ok(with_db!(&self.db, |p| {
            sqlx::query_as(
            "SELECT address, name, state, mode, consent_at, consent_source, legal_basis, wording_version,
                updated_at
             FROM subscriptions WHERE list_id = $1 ORDER BY updated_at DESC, id DESC"
        )
        .bind(list_id)
        .fetch_all(p)
        .await
        })?)
    }

    /// Adds active subscriptions for `entries` (address, name) with one consent record for all: `source`
    /// (`import`, `staff`, `onboarding`) and `legal_basis`. Addresses already on the list, or that left it,
    /// are left alone. One transaction; returns how many were added.
    pub async fn add_subscriptions(
        &self,
        list: &MailingList,
        entries: &[(String, String)],
        source: &str,
        legal_basis: &str,
        now: i64,
    ) -> StoreResult<u64> {
        self.add_subscriptions_audited(list, entries, source, legal_basis, None, now)
            .await
    }

    /// [`Store::add_subscriptions`] done by a staff member: the audit log records the addresses added, in
    /// the same transaction.
    pub async fn add_subscriptions_as(
        &self,
        list: &MailingList,
        entries: &[(String, String)],
        actor: &Actor,
        now: i64,
    ) -> StoreResult<u64> {
        self.add_subscriptions_audited(
            list,
            entries,
            "staff",
            "legitimate_interest",
            Some(actor),
            now,
        )
        .await
    }

    async fn add_subscriptions_audited(
        &self,
        list: &MailingList,
        entries: &[(String, String)],
        source: &str,
        legal_basis: &str,
        actor: Option<&Actor>,
        now: i64,
    ) -> StoreResult<u64> {
        let mut tx = self.begin().await?;
        let mut added = 0;
        // 500 rows of 3 parameters each per statement, well under both databases' limits.
        for chunk in entries.chunks(500) {
            let values: Vec<String> = (0..chunk.len())
                .map(|n| format!("(${}, ${}, ${})", n * 3 + 6, n * 3 + 7, n * 3 + 8))
                .collect();
            let sql = format!(
                "WITH v (address, name, position) AS (VALUES {})
                 INSERT INTO subscriptions (list_id, address, name, state, consent_at, consent_source,
                    legal_basis, created_at, updated_at)
                 SELECT $1, LOWER(v.address), v.name, 'active', $2, $3, $4, $2, $2
                 FROM v
                 WHERE NOT EXISTS (SELECT 1 FROM unsubscribes u
                                   WHERE u.list_key = $5 AND u.address = LOWER(v.address))
                 ORDER BY v.position
                 ON CONFLICT (list_id, address) DO NOTHING",
                values.join(", ")
            );
            added += with_tx!(&mut tx, |c| {
                let mut query = sqlx::query(&sql)
                    .bind(list.id)
                    .bind(now)
                    .bind(source)
                    .bind(legal_basis)
                    .bind(&list.list_key);
                for (position, (address, name)) in chunk.iter().enumerate() {
                    query = query.bind(address).bind(name).bind(position as i64);
                }
                query.execute(c).await.map(|r| r.rows_affected())
            })?;
        }
        if let Some(actor) = actor
            && added > 0
        {
            let mut details = serde_json::json!({
                "label": list.name, "list": list.list_key, "count": added, "source": source,
            });
            if let [(address, _)] = entries {
                details["address"] = address.to_lowercase().into();
            }
            audit::record(
                &mut tx,
                actor,
                "subscribe",
                "subscription",
                None,
                details,
                now,
            )
            .await?;
        }
        tx.commit().await?;
        Ok(added)
    }
}

/// How long after leaving a list the "re-subscribe" button of the confirmation page still works: long
/// enough to notice a wrong click, short enough that an old mail forwarded to someone else cannot put its
/// recipient back on the list.
pub const UNDO_UNSUBSCRIBE_MILLIS: i64 = 24 * 3600 * 1000;

/// What undoing an unsubscribe did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UndoUnsubscribe {
    Resubscribed,
    /// No unsubscribe from this very mail, or too old: nothing changed.
    Refused,
}

impl Store {
    /// Undoes the unsubscribe made from this mail's link (the wrong click): the address is back on the
    /// list as before, the leaving record is removed, and the audit log keeps both. Only the delivery whose
    /// link recorded the unsubscribe can undo it, within [`UNDO_UNSUBSCRIBE_MILLIS`].
    pub async fn undo_unsubscribe(
        &self,
        target: &crate::store::unsubscribes::UnsubscribeTarget,
        now: i64,
    ) -> StoreResult<UndoUnsubscribe> {
        let address = target.address.to_lowercase();
        let mut tx = self.begin().await?;
        let removed = with_tx!(&mut tx, |c| sqlx::query(
            "DELETE FROM unsubscribes WHERE list_key = $1 AND address = $2 AND delivery_id = $3
               AND created_at >= $4"
        )
        .bind(&target.list_key)
        .bind(&address)
        .bind(target.delivery_id)
        .bind(now - UNDO_UNSUBSCRIBE_MILLIS)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
        if removed == 0 {
            return Ok(UndoUnsubscribe::Refused);
        }
        let subscription: Option<i64> = with_tx!(&mut tx, |c| sqlx::query_scalar(
            "UPDATE subscriptions SET state = 'active', updated_at = $1
             WHERE address = $2 AND state = 'unsubscribed'
               AND list_id = (SELECT id FROM mailing_lists WHERE list_key = $3) RETURNING id"
        )
        .bind(now)
        .bind(&address)
        .bind(&target.list_key)
        .fetch_optional(c)
        .await)?;
        super::audit::record(
            &mut tx,
            &super::audit::Actor {
                user_id: None,
                label: "la personne abonnée (lien du courrier)".into(),
            },
            "subscribe",
            "subscription",
            subscription,
            serde_json::json!({"label": target.list_label, "list_key": target.list_key, "source": "undo_unsubscribe"}),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(UndoUnsubscribe::Resubscribed)
    }
}

impl Store {
    /// Puts `address` back on `list_id` after leaving it from the preferences page less than
    /// [`UNDO_UNSUBSCRIBE_MILLIS`] ago; false (nothing changed) otherwise, e.g. after a staff removal or a
    /// departure by another way, which only a new subscription undoes.
    pub async fn rejoin_list(&self, address: &str, list_id: i64, now: i64) -> StoreResult<bool> {
        let address = address.to_lowercase();
        let mut tx = self.begin().await?;
        let list: Option<(String, String)> = with_tx!(&mut tx, |c| sqlx::query_as(
            "SELECT list_key, name FROM mailing_lists WHERE id = $1"
        )
        .bind(list_id)
        .fetch_optional(c)
        .await)?;
        let Some((list_key, list_name)) = list else {
            return Ok(false);
        };
        let removed = with_tx!(&mut tx, |c| {
            sqlx::query(
            "DELETE FROM unsubscribes WHERE list_key = $1 AND address = $2 AND source = 'preferences'
               AND created_at >= $3"
        )
        .bind(&list_key)
        .bind(&address)
        .bind(now - UNDO_UNSUBSCRIBE_MILLIS)
        .execute(c)
        .await
        .map(|r| r.rows_affected())
        })?;
        if removed == 0 {
            return Ok(false);
        }
        let subscription: Option<i64> = with_tx!(&mut tx, |c| sqlx::query_scalar(
            "UPDATE subscriptions SET state = 'active', updated_at = $1
             WHERE address = $2 AND list_id = $3 AND state = 'unsubscribed' RETURNING id"
        )
        .bind(now)
        .bind(&address)
        .bind(list_id)
        .fetch_optional(c)
        .await)?;
        super::audit::record(
            &mut tx,
            &super::audit::Actor {
                user_id: None,
                label: "la personne abonnée (page de préférences)".into(),
            },
            "subscribe",
            "subscription",
            subscription,
            serde_json::json!({"label": list_name, "list_key": list_key, "source": "undo_unsubscribe"}),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }
}
