//! What a person can do about themselves from the personal link of any mail: see and change their
//! subscriptions, take away everything relais holds about their address ([`Store::personal_data`]), and ask
//! to be forgotten. Staff confirm an erasure; [`Store::erase_personal_data`] then removes the person's
//! records and scrubs their name and address from free text in one transaction, and keeps only anonymous
//! rows, so the counts of past issues and lists do not change.

use chrono::{DateTime, SecondsFormat};
use serde::Serialize;

use super::audit::{self, Actor};
use super::{Store, StoreError, StoreResult, Tx, with_db, with_tx};
use crate::domain::mail_kind::{delivery_state_label, mail_kind_label, public_reply};

/// One section of a person's data export: a list of records.
type Values = Vec<serde_json::Value>;

/// What takes the place of an erased name or address in free text.
pub const ERASED: &str = "[personne effacée]";

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

/// A request to be forgotten, as staff see it.
#[derive(Debug, Clone, sqlx::FromRow, Serialize)]
pub struct ErasureRequest {
    pub id: i64,
    pub address: String,
    pub state: String,
    pub requested_at: i64,
    pub decided_at: Option<i64>,
    pub decided_by: String,
}

/// What an erasure removed, for the audit log and the staff page (counts only).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ErasureCounts {
    pub contacts: u64,
    pub subscriptions: u64,
    pub deliveries: u64,
    pub texts: u64,
}

/// The SHA-256 of a lowercase address, in hex: what stays of an erased address.
pub fn address_hash(address: &str) -> String {
    crate::security::sha256_hex(&address.to_lowercase())
}

fn rfc3339(millis: i64) -> String {
    DateTime::from_timestamp_millis(millis)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn rfc3339_opt(millis: Option<i64>) -> Option<String> {
    millis.map(rfc3339)
}

#[derive(sqlx::FromRow)]
struct ContactRow {
    id: i64,
    full_name: String,
    function: String,
    notes: String,
    organisation: Option<String>,
    created_at: i64,
    updated_at: i64,
}

#[derive(sqlx::FromRow)]
struct InteractionRow {
    occurred_on: chrono::NaiveDate,
    kind: String,
    summary: String,
    outcome: String,
    organisation: String,
}

#[derive(sqlx::FromRow)]
struct SurveyRecord {
    sent_at: i64,
    answered_at: Option<i64>,
    draft: String,
    problems: Option<String>,
    other_themes: Option<String>,
    involvement: Option<String>,
    slots: Option<String>,
    comments: Option<String>,
}

#[derive(sqlx::FromRow)]
struct DeliveryRecord {
    subject: String,
    kind: String,
    recipient_name: String,
    state: String,
    attempts: i64,
    last_reply: String,
    sent_at: Option<i64>,
    created_at: i64,
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

    /// Everything relais holds about `address`, as one JSON document: subscriptions with their consent,
    /// contact records with the interactions they took part in, every mail sent to the address, departures,
    /// bounces, meetings they were invited to, their survey invitations and answers, and erasure requests.
    pub async fn personal_data(&self, address: &str, now: i64) -> StoreResult<serde_json::Value> {
        let address = address.to_lowercase();
        let subscriptions = self.export_subscriptions(&address).await?;
        let contacts = self.export_contacts(&address).await?;
        let (mails, unsubscribes, bounces, received) = self.export_mail(&address).await?;
        let (meetings, surveys, erasures) = self.export_meetings_surveys_erasures(&address).await?;
        Ok(serde_json::json!({
            "adresse": address,
            "exporte_le": rfc3339(now),
            "abonnements": subscriptions,
            "fiches_contact": contacts,
            "courriers": mails,
            "desabonnements": unsubscribes,
            "retours_en_erreur": bounces,
            "reunions": meetings,
            "recensement": surveys,
            "courriers_recus": received,
            "demandes_d_effacement": erasures,
        }))
    }

    /// The export's subscriptions, with their consent.
    async fn export_subscriptions(&self, address: &str) -> StoreResult<Vec<serde_json::Value>> {
        Ok(self
            .subscriptions_of_address(address)
            .await?
            .into_iter()
            .map(|s| {
                serde_json::json!({
                    "liste": s.list_name,
                    "nom": s.name,
                    "etat": export_words::subscription_state(&s.state),
                    "mode": export_words::mode(&s.mode),
                    "consentement": {
                        "date": rfc3339_opt(s.consent_at),
                        "source": export_words::consent_source(&s.consent_source),
                        "enregistre_par": s.consent_by,
                        "base_legale": export_words::legal_basis(&s.legal_basis),
                        "version_du_texte": s.wording_version,
                    },
                    "cree_le": rfc3339(s.created_at),
                    "modifie_le": rfc3339(s.updated_at),
                })
            })
            .collect())
    }

    /// The export's contact records holding `address`, each with its emails, phones, memberships and
    /// exchanges.
    async fn export_contacts(&self, address: &str) -> StoreResult<Vec<serde_json::Value>> {
        let contacts: Vec<ContactRow> = with_db!(&self.db, |p| {
            sqlx::query_as(
            "SELECT p.id, p.full_name, p.function, p.notes, o.name AS organisation, p.created_at, p.updated_at
             FROM people p LEFT JOIN organisations o ON o.id = p.organisation_id
             WHERE p.id IN (SELECT person_id FROM person_emails WHERE LOWER(email) = $1) ORDER BY p.id"
        )
        .bind(address)
        .fetch_all(p)
        .await
        })?;
        let mut records = Vec::new();
        for contact in contacts {
            records.push(self.export_contact(contact).await?);
        }
        Ok(records)
    }

    async fn export_contact(&self, contact: ContactRow) -> StoreResult<serde_json::Value> {
        let emails: Vec<String> = with_db!(&self.db, |p| sqlx::query_scalar(
            "SELECT email FROM person_emails WHERE person_id = $1 ORDER BY email"
        )
        .bind(contact.id)
        .fetch_all(p)
        .await)?;
        let phones: Vec<String> = with_db!(&self.db, |p| sqlx::query_scalar(
            "SELECT phone FROM person_phones WHERE person_id = $1 ORDER BY phone"
        )
        .bind(contact.id)
        .fetch_all(p)
        .await)?;
        let interactions: Vec<InteractionRow> = with_db!(&self.db, |p| {
            sqlx::query_as(
                "SELECT i.occurred_on, i.kind, i.summary, i.outcome, o.name AS organisation
             FROM interaction_people ip JOIN interactions i ON i.id = ip.interaction_id
             JOIN targets t ON t.id = i.target_id JOIN organisations o ON o.id = t.organisation_id
             WHERE ip.person_id = $1 ORDER BY i.occurred_on, i.id",
            )
            .bind(contact.id)
            .fetch_all(p)
            .await
        })?;
        let represents: Vec<String> = with_db!(&self.db, |p| {
            sqlx::query_scalar(
            "SELECT o.name FROM membership_representatives r
             JOIN memberships m ON m.id = r.membership_id JOIN organisations o ON o.id = m.organisation_id
             WHERE r.person_id = $1 ORDER BY o.name"
        )
        .bind(contact.id)
        .fetch_all(p)
        .await
        })?;
        Ok(serde_json::json!({
            "nom": contact.full_name,
            "fonction": contact.function,
            "notes": contact.notes,
            "organisation": contact.organisation,
            "adresses": emails,
            "telephones": phones,
            "represente": represents,
            "echanges": interactions.into_iter().map(|i| serde_json::json!({
                "date": i.occurred_on.to_string(),
                "type": crate::domain::InteractionKind::parse(&i.kind)
                    .map_or("échange", crate::domain::InteractionKind::label),
                "organisation": i.organisation,
                "resume": i.summary,
                "suite": i.outcome,
            })).collect::<Vec<_>>(),
            "cree_le": rfc3339(contact.created_at),
            "modifie_le": rfc3339(contact.updated_at),
        }))
    }

    /// The export's mails: those sent to `address`, its unsubscribes, its bounces, and what it sent relais.
    async fn export_mail(&self, address: &str) -> StoreResult<(Values, Values, Values, Values)> {
        let deliveries: Vec<DeliveryRecord> = with_db!(&self.db, |p| {
            sqlx::query_as(
            "SELECT m.subject, m.kind, d.recipient_name, d.state, d.attempts, d.last_reply, d.sent_at,
                d.created_at
             FROM mail_deliveries d JOIN mail_messages m ON m.id = d.message_id
             WHERE LOWER(d.recipient) = $1 ORDER BY d.id"
        )
        .bind(address)
        .fetch_all(p)
        .await
        })?;
        let unsubscribes: Vec<(String, String, i64)> = with_db!(&self.db, |p| {
            sqlx::query_as(
            "SELECT list_key, source, created_at FROM unsubscribes WHERE address = $1 ORDER BY id"
        )
        .bind(address)
        .fetch_all(p)
        .await
        })?;
        let bounces: Vec<(String, String, String, i64)> = with_db!(&self.db, |p| {
            sqlx::query_as(
            "SELECT source, status, reply, created_at FROM bounces WHERE LOWER(address) = $1 ORDER BY id"
        )
        .bind(address)
        .fetch_all(p)
        .await
        })?;
        let received: Vec<(i64, String, String)> = with_db!(&self.db, |p| sqlx::query_as(
            "SELECT received_at, subject, channel FROM inbound_messages
             WHERE from_address = $1 OR LOWER(envelope_from) = $1 ORDER BY id"
        )
        .bind(address)
        .fetch_all(p)
        .await)?;
        Ok((
            deliveries.into_iter().map(|d| serde_json::json!({
                "objet": d.subject,
                "type": mail_kind_label(&d.kind),
                "nom_du_destinataire": d.recipient_name,
                "etat": delivery_state_label(&d.state),
                "tentatives": d.attempts,
                "derniere_reponse": public_reply(&d.last_reply),
                "envoye_le": rfc3339_opt(d.sent_at),
                "cree_le": rfc3339(d.created_at),
            })).collect::<Vec<_>>(),
            unsubscribes.into_iter().map(|(list, source, at)| serde_json::json!({
                "liste": list, "source": export_words::unsubscribe_source(&source), "date": rfc3339(at),
            })).collect::<Vec<_>>(),
            bounces.into_iter().map(|(source, status, reply, at)| serde_json::json!({
                "source": export_words::bounce_source(&source), "statut": status, "reponse": reply,
                "date": rfc3339(at),
            })).collect::<Vec<_>>(),
            received.into_iter().map(|(at, subject, channel)| serde_json::json!({
                "date": rfc3339(at), "objet": subject, "canal": export_words::channel(&channel),
            })).collect::<Vec<_>>(),
        ))
    }

    /// The export's meetings, survey invitations and answers, and erasure requests.
    async fn export_meetings_surveys_erasures(
        &self,
        address: &str,
    ) -> StoreResult<(Values, Values, Values)> {
        let meetings: Vec<(i64, String, String, Option<bool>)> =
            with_db!(&self.db, |p| sqlx::query_as(
                "SELECT m.starts_at, a.role, a.response, a.attended FROM meeting_attendees a
             JOIN meetings m ON m.id = a.meeting_id WHERE a.address = $1 ORDER BY m.starts_at"
            )
            .bind(address)
            .fetch_all(p)
            .await)?;
        let surveys: Vec<SurveyRecord> = with_db!(&self.db, |p| {
            sqlx::query_as(
            "SELECT i.sent_at, i.answered_at, i.draft, a.problems, a.other_themes, a.involvement, a.slots,
                a.comments
             FROM survey_invitations i LEFT JOIN survey_answers a ON a.invitation_id = i.id
             WHERE LOWER(i.address) = $1 ORDER BY i.id"
        )
        .bind(address)
        .fetch_all(p)
        .await
        })?;
        let erasures: Vec<(String, i64)> = with_db!(&self.db, |p| sqlx::query_as(
            "SELECT state, requested_at FROM erasure_requests WHERE address = $1 ORDER BY id"
        )
        .bind(address)
        .fetch_all(p)
        .await)?;
        Ok((
            meetings
                .into_iter()
                .map(|(at, role, response, attended)| {
                    serde_json::json!({
                        "date": rfc3339(at), "role": export_words::meeting_role(&role),
                        "reponse": export_words::meeting_response(&response), "present": attended,
                    })
                })
                .collect::<Vec<_>>(),
            surveys
                .into_iter()
                .map(|s| {
                    serde_json::json!({
                        "invite_le": rfc3339(s.sent_at),
                        "repondu_le": rfc3339_opt(s.answered_at),
                        "brouillon": s.draft,
                        "problemes": s.problems,
                        "autres_themes": s.other_themes,
                        "implication": s.involvement,
                        "creneaux": s.slots,
                        "commentaires": s.comments,
                    })
                })
                .collect::<Vec<_>>(),
            erasures
                .into_iter()
                .map(|(state, at)| {
                    serde_json::json!({
                        "etat": export_words::erasure_state(&state), "date": rfc3339(at),
                    })
                })
                .collect::<Vec<_>>(),
        ))
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

    /// Records that `address` asks to be forgotten; asking again while a request is pending changes
    /// nothing. Returns the request's id.
    pub async fn request_erasure(&self, address: &str, now: i64) -> StoreResult<i64> {
        let address = address.to_lowercase();
        let mut tx = self.begin().await?;
        let pending: Option<i64> = with_tx!(&mut tx, |c| sqlx::query_scalar(
            "SELECT id FROM erasure_requests WHERE address = $1 AND state = 'pending'"
        )
        .bind(&address)
        .fetch_optional(c)
        .await)?;
        let id = match pending {
            Some(id) => id,
            None => with_tx!(&mut tx, |c| {
                sqlx::query_scalar(
                "INSERT INTO erasure_requests (address, address_hash, requested_at) VALUES ($1, $2, $3)
                 RETURNING id"
            )
            .bind(&address)
            .bind(address_hash(&address))
            .bind(now)
            .fetch_one(c)
            .await
            })?,
        };
        tx.commit().await?;
        Ok(id)
    }

    /// The erasure requests staff have not decided yet, oldest first.
    pub async fn pending_erasures(&self) -> StoreResult<Vec<ErasureRequest>> {
        Ok(with_db!(&self.db, |p| sqlx::query_as(
            "SELECT id, address, state, requested_at, decided_at, decided_by FROM erasure_requests
             WHERE state = 'pending' ORDER BY requested_at, id"
        )
        .fetch_all(p)
        .await)?)
    }

    /// Carries out a pending erasure request, in one transaction: the contact records of the address go
    /// (with their e-mails, phones and links to interactions and memberships); subscriptions, deliveries,
    /// departures and bounces stay as anonymous rows; the person's names and the address are replaced by
    /// [`ERASED`] wherever staff or relais wrote them in free text (notes, interactions, the audit log, the
    /// mails sent to them). Errors with `NotFound` when the request is not pending.
    pub async fn erase_personal_data(
        &self,
        request_id: i64,
        actor: &Actor,
        now: i64,
    ) -> StoreResult<ErasureCounts> {
        let mut tx = self.begin().await?;
        let address: Option<String> = with_tx!(&mut tx, |c| sqlx::query_scalar(
            "SELECT address FROM erasure_requests WHERE id = $1 AND state = 'pending'"
        )
        .bind(request_id)
        .fetch_optional(c)
        .await)?;
        let address = address.ok_or(StoreError::NotFound)?;
        let mut counts = ErasureCounts::default();
        let person_ids: Vec<i64> = with_tx!(&mut tx, |c| sqlx::query_scalar(
            "SELECT DISTINCT person_id FROM person_emails WHERE LOWER(email) = $1"
        )
        .bind(&address)
        .fetch_all(c)
        .await)?;
        let names = names_known(&mut tx, &address, &person_ids).await?;
        // Free text first, while the messages sent to the address can still be found.
        for needle in &needles(&mut tx, &address, names).await? {
            counts.texts += scrub(&mut tx, &address, needle).await?;
        }
        counts.contacts = remove_contacts(&mut tx, &person_ids).await?;
        (counts.subscriptions, counts.deliveries) =
            anonymise_subscriptions(&mut tx, &address, now).await?;
        anonymise_traces(&mut tx, &address).await?;
        with_tx!(&mut tx, |c| {
            sqlx::query(
            "UPDATE erasure_requests SET address = '', state = 'done', decided_at = $1, decided_by = $2
             WHERE address = $3"
        )
        .bind(now)
        .bind(&actor.label)
        .bind(&address)
        .execute(c)
        .await
        .map(|r| r.rows_affected())
        })?;
        audit::record(
            &mut tx,
            actor,
            "erase",
            "erasure_request",
            Some(request_id),
            serde_json::to_value(&counts).unwrap_or_default(),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(counts)
    }

    /// Refuses a pending erasure request (when the law requires relais to keep the data); the person's
    /// data stays. False when it was not pending.
    pub async fn refuse_erasure(
        &self,
        request_id: i64,
        actor: &Actor,
        now: i64,
    ) -> StoreResult<bool> {
        let changed = with_db!(&self.db, |p| sqlx::query(
            "UPDATE erasure_requests SET state = 'refused', decided_at = $1, decided_by = $2
             WHERE id = $3 AND state = 'pending'"
        )
        .bind(now)
        .bind(&actor.label)
        .bind(request_id)
        .execute(p)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(changed == 1)
    }
}

/// Every name the address was known by (contact records, subscriptions, mails), sorted, without those too
/// short to be told from ordinary words, which are not searched for in free text.
async fn names_known(tx: &mut Tx, address: &str, person_ids: &[i64]) -> StoreResult<Vec<String>> {
    let mut names: Vec<String> = Vec::new();
    for id in person_ids {
        let name: String = with_tx!(tx, |c| sqlx::query_scalar(
            "SELECT full_name FROM people WHERE id = $1"
        )
        .bind(id)
        .fetch_one(c)
        .await)?;
        names.push(name);
    }
    let other_names: Vec<String> = with_tx!(tx, |c| sqlx::query_scalar(
        "SELECT name FROM subscriptions WHERE address = $1
         UNION SELECT recipient_name FROM mail_deliveries WHERE LOWER(recipient) = $1
         UNION SELECT name FROM meeting_attendees WHERE address = $1
         UNION SELECT name FROM survey_invitations WHERE LOWER(address) = $1"
    )
    .bind(address)
    .fetch_all(c)
    .await)?;
    names.extend(other_names);
    names.retain(|name| name.trim().chars().count() >= 4);
    names.sort();
    names.dedup();
    Ok(names)
}

/// What to replace in free text: the address first, then the address as people wrote it (REPLACE is
/// case-sensitive), then the names.
async fn needles(tx: &mut Tx, address: &str, names: Vec<String>) -> StoreResult<Vec<String>> {
    let mut needles: Vec<String> = with_tx!(tx, |c| sqlx::query_scalar(
        "SELECT email FROM person_emails WHERE LOWER(email) = $1
         UNION SELECT recipient FROM mail_deliveries WHERE LOWER(recipient) = $1"
    )
    .bind(address)
    .fetch_all(c)
    .await)?;
    needles.retain(|needle| needle != address);
    needles.insert(0, address.to_string());
    needles.extend(names);
    Ok(needles)
}

/// Deletes the contact records, with their e-mails, phones and links; the rows that only pointed at them
/// stay. Returns how many records went.
async fn remove_contacts(tx: &mut Tx, person_ids: &[i64]) -> StoreResult<u64> {
    for id in person_ids {
        for sql in [
            // Meetings keep the attendance count, surveys the answer (its ratings), without the person.
            "UPDATE meeting_attendees SET person_id = NULL WHERE person_id = $1",
            "UPDATE survey_invitations SET person_id = NULL WHERE person_id = $1",
            "DELETE FROM interaction_people WHERE person_id = $1",
            "DELETE FROM membership_representatives WHERE person_id = $1",
            "DELETE FROM person_emails WHERE person_id = $1",
            "DELETE FROM person_phones WHERE person_id = $1",
            "UPDATE subscriptions SET person_id = NULL WHERE person_id = $1",
            "UPDATE mail_deliveries SET person_id = NULL WHERE person_id = $1",
            "DELETE FROM people WHERE id = $1",
        ] {
            with_tx!(tx, |c| sqlx::query(sql)
                .bind(id)
                .execute(c)
                .await
                .map(|r| r.rows_affected()))?;
        }
    }
    Ok(person_ids.len() as u64)
}

/// Anonymous rows: a list still counts its former subscriber, an issue its recipient. Returns how many
/// subscriptions and deliveries lost the address.
async fn anonymise_subscriptions(tx: &mut Tx, address: &str, now: i64) -> StoreResult<(u64, u64)> {
    let subscriptions = with_tx!(tx, |c| {
        sqlx::query(
            "UPDATE subscriptions SET address = 'efface-' || CAST(id AS TEXT), name = '', person_id = NULL,
                state = 'disabled', confirm_token_hash = NULL, confirm_expires_at = NULL, updated_at = $2
             WHERE address = $1",
        )
        .bind(address)
        .bind(now)
        .execute(c)
        .await
        .map(|r| r.rows_affected())
    })?;
    let deliveries = with_tx!(tx, |c| {
        sqlx::query(
            "UPDATE mail_deliveries SET recipient = '', recipient_name = '' WHERE LOWER(recipient) = $1",
        )
        .bind(address)
        .execute(c)
        .await
        .map(|r| r.rows_affected())
    })?;
    Ok((subscriptions, deliveries))
}

/// The other rows that carry the address: departures, bounces, attendance, the mail the person sent.
async fn anonymise_traces(tx: &mut Tx, address: &str) -> StoreResult<()> {
    for sql in [
        "UPDATE unsubscribes SET address = 'efface-' || CAST(id AS TEXT) WHERE address = $1",
        "UPDATE bounces SET address = '' WHERE LOWER(address) = $1",
        "UPDATE meeting_attendees SET address = 'efface-' || CAST(id AS TEXT), name = '', organisation = '',
            person_id = NULL WHERE address = $1",
        // Mail the person sent relais goes, with what became of it.
        "DELETE FROM inbound_recipients WHERE message_id IN
            (SELECT id FROM inbound_messages WHERE from_address = $1 OR LOWER(envelope_from) = $1)",
        "DELETE FROM inbound_messages WHERE from_address = $1 OR LOWER(envelope_from) = $1",
        // The link dies with the address: an erased invitation can no longer be answered.
        "UPDATE survey_invitations SET address = '', name = '', draft = '', person_id = NULL, expires_at = 0
         WHERE LOWER(address) = $1",
    ] {
        with_tx!(tx, |c| sqlx::query(sql)
            .bind(address)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
    }
    Ok(())
}

/// Replaces `needle` by [`ERASED`] in every free-text column that may name a person, and in the mails that
/// went to `address`. Returns how many rows changed.
async fn scrub(tx: &mut Tx, address: &str, needle: &str) -> StoreResult<u64> {
    let mut changed = 0;
    for (table, column) in [
        ("interactions", "summary"),
        ("interactions", "outcome"),
        ("local_needs", "description"),
        ("organisations", "notes"),
        ("targets", "notes"),
        ("targets", "next_action"),
        ("targets", "declined_reason"),
        ("people", "notes"),
        ("stage_changes", "reason"),
        ("audit_log", "details"),
        ("mail_deliveries", "last_reply"),
        ("bounces", "reply"),
        ("meetings", "minutes"),
        ("agenda_items", "presenter"),
        ("agenda_items", "description"),
        ("minutes_items", "title"),
        ("minutes_items", "body"),
        ("survey_answers", "problems"),
        ("survey_answers", "other_themes"),
        ("survey_answers", "comments"),
        // Where the person acted themselves (answering the survey signs its interaction and stage move).
        ("audit_log", "actor"),
        ("stage_changes", "author_label"),
        ("interactions", "author_label"),
        ("local_needs", "author_label"),
    ] {
        let sql = format!(
            "UPDATE {table} SET {column} = REPLACE({column}, $1, $2) WHERE {column} LIKE '%' || $1 || '%'"
        );
        changed += with_tx!(tx, |c| sqlx::query(&sql)
            .bind(needle)
            .bind(ERASED)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
    }
    // The mails written for this person (a confirmation greets them by name); list mail does not name
    // its recipients, so this only changes messages that did.
    for column in ["subject", "body_text", "body_html", "template_data"] {
        let sql = format!(
            "UPDATE mail_messages SET {column} = REPLACE({column}, $1, $2)
             WHERE {column} LIKE '%' || $1 || '%'
               AND id IN (SELECT message_id FROM mail_deliveries WHERE LOWER(recipient) = $3)"
        );
        changed += with_tx!(tx, |c| sqlx::query(&sql)
            .bind(needle)
            .bind(ERASED)
            .bind(address)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
    }
    Ok(changed)
}

/// The words of a person's data export: every stored code as the French a person reads (the export is
/// theirs, not a developer's), each unknown code as a neutral word rather than the code itself.
mod export_words {
    pub fn subscription_state(code: &str) -> &'static str {
        match code {
            "active" => "abonné",
            "pending" => "en attente de confirmation",
            "unsubscribed" => "désabonné",
            "bouncing" => "suspendu : les courriers reviennent en erreur",
            _ => "désactivé",
        }
    }

    pub fn mode(code: &str) -> &'static str {
        match code {
            "digest" => "un résumé par jour",
            _ => "chaque message",
        }
    }

    pub fn consent_source(code: &str) -> &'static str {
        match code {
            "public_form" => "formulaire d'inscription en ligne",
            "staff" => "ajouté par l'équipe",
            "import" => "import d'un fichier de l'équipe",
            "mail" => "demande par courrier",
            "preferences" => "page de préférences",
            _ => "autre",
        }
    }

    pub fn legal_basis(code: &str) -> &'static str {
        match code {
            "consent" => "consentement",
            "legitimate_interest" => "intérêt légitime",
            _ => "autre",
        }
    }

    pub fn unsubscribe_source(code: &str) -> &'static str {
        match code {
            "preferences" => "page de préférences",
            "staff" => "par l'équipe",
            "page" => "lien de désabonnement",
            "one-click" => "désabonnement en un clic depuis la messagerie",
            "mailto" => "demande par courrier",
            "abuse" => "signalement comme indésirable",
            _ => "autre",
        }
    }

    pub fn bounce_source(code: &str) -> &'static str {
        match code {
            "smtp" => "refus du serveur destinataire",
            _ => "avis de non-remise",
        }
    }

    pub fn meeting_role(code: &str) -> &'static str {
        match code {
            "speaker" => "personne qui intervient",
            "staff" => "membre de l'équipe",
            _ => "personne invitée",
        }
    }

    pub fn meeting_response(code: &str) -> &'static str {
        match code {
            "accepted" => "oui",
            "declined" => "non",
            "tentative" => "peut-être",
            _ => "sans réponse",
        }
    }

    pub fn channel(code: &str) -> &'static str {
        match code {
            "inject" => "déposé sur le serveur par l'administrateur",
            _ => "transmis par le serveur de courrier",
        }
    }

    pub fn erasure_state(code: &str) -> &'static str {
        match code {
            "done" => "effectuée",
            "refused" => "refusée",
            _ => "en attente",
        }
    }
}
