//! Being forgotten: a person asks from their preferences page, staff confirm, and
//! [`Store::erase_personal_data`] removes the person's records and scrubs their name and address from free
//! text in one transaction, keeping only anonymous rows, so the counts of past issues and lists do not change.

use serde::Serialize;

use super::audit::{self, Actor};
use super::{Store, StoreError, StoreResult, Tx, with_db, with_tx};

/// What takes the place of an erased name or address in free text.
pub const ERASED: &str = "[personne effacée]";

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

impl Store {
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
