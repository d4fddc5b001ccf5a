//! Who a meeting's mails go to and what they answered, and the record of every dispatch. The invitees of a
//! series' list (the representatives of member collectivities, staff) are written onto an occurrence when
//! its agenda first goes out; speakers are added by staff at any time. A dispatch is claimed by inserting
//! its `(meeting, step, sequence)` row in the transaction that enqueues its mail, so it happens once.

use super::outbox::{NewMessage, NewRecipient, enqueue};
use super::{Store, StoreResult, with_db, with_tx};
use crate::domain::EmailAddress;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Attendee {
    pub id: i64,
    pub address: String,
    pub name: String,
    pub organisation: String,
    /// `invitee`, `speaker` or `staff`.
    pub role: String,
    /// `needs-action`, `accepted`, `declined` or `tentative` (iCalendar PARTSTAT, lowercase).
    pub response: String,
    pub responded_at: Option<i64>,
    pub attended: Option<bool>,
}

/// A dispatch as the meeting's page lists it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Dispatch {
    pub step: String,
    pub sequence: i64,
    pub message_id: Option<i64>,
    pub late: bool,
    pub created_at: i64,
    /// What its mail was rendered from (JSON; an update's `changes`), `{}` without a mail.
    pub template_data: String,
}

/// Who a dispatch goes to.
#[derive(Debug, Clone)]
pub enum Audience {
    /// Every attendee: invitees, speakers and staff.
    All,
    /// The attendees who received the invitation and accepted or have not answered (the day-before
    /// reminder).
    NotDeclined,
    /// The attendees who received the invitation (an update, a cancellation).
    Invited,
    /// The attendees added since the invitation went out, up to this attendee id (their own invitation).
    NotYetInvited(i64),
    /// These people (staff notices, the relay to the associations' list).
    Listed(Vec<NewRecipient>),
}

impl Store {
    /// Writes the invitees of an occurrence from its series' list: the first address of each
    /// representative of a member collectivity and, if the series says so, every active staff member.
    /// Attendees already there are kept as they are.
    pub async fn add_invitees(
        &self,
        meeting_id: i64,
        members: bool,
        staff: bool,
        now: i64,
    ) -> StoreResult<u64> {
        let mut added = 0;
        if members {
            added += with_db!(&self.db, |p| {
                sqlx::query(
                "INSERT INTO meeting_attendees (meeting_id, address, name, person_id, organisation, role, created_at)
                 SELECT $1, e.address, p.full_name, p.id, o.name, 'invitee', $2
                 FROM membership_representatives r
                 JOIN memberships m ON m.id = r.membership_id
                 JOIN organisations o ON o.id = m.organisation_id
                 JOIN people p ON p.id = r.person_id
                 JOIN (SELECT person_id, LOWER(MIN(email)) AS address FROM person_emails GROUP BY person_id) e
                   ON e.person_id = p.id
                 WHERE TRUE
                 ORDER BY p.id
                 ON CONFLICT (meeting_id, address) DO NOTHING"
            )
            .bind(meeting_id)
            .bind(now)
            .execute(p)
            .await
            .map(|r| r.rows_affected())
            })?;
        }
        if staff {
            added += with_db!(&self.db, |p| sqlx::query(
                "INSERT INTO meeting_attendees (meeting_id, address, name, role, created_at)
                 SELECT $1, LOWER(email), name, 'staff', $2 FROM users
                 WHERE active AND role IN ('admin', 'staff') ORDER BY id
                 ON CONFLICT (meeting_id, address) DO NOTHING"
            )
            .bind(meeting_id)
            .bind(now)
            .execute(p)
            .await
            .map(|r| r.rows_affected()))?;
        }
        Ok(added)
    }

    /// Adds an invited speaker (often from a partner organisation), tied to the person of the directory
    /// with that address if there is one; an address already invited becomes a speaker.
    pub async fn add_speaker(
        &self,
        meeting_id: i64,
        address: &str,
        name: &str,
        organisation: &str,
        now: i64,
    ) -> StoreResult<()> {
        with_db!(&self.db, |p| {
            sqlx::query(
            "INSERT INTO meeting_attendees (meeting_id, address, name, organisation, role, person_id, created_at)
             VALUES ($1, $2, $3, $4, 'speaker',
                     (SELECT MIN(person_id) FROM person_emails WHERE LOWER(email) = $2), $5)
             ON CONFLICT (meeting_id, address) DO UPDATE SET role = 'speaker', name = $3, organisation = $4"
        )
        .bind(meeting_id)
        .bind(address.to_lowercase())
        .bind(name)
        .bind(organisation)
        .bind(now)
        .execute(p)
        .await
        .map(|r| r.rows_affected())
        })?;
        Ok(())
    }

    pub async fn attendees(&self, meeting_id: i64) -> StoreResult<Vec<Attendee>> {
        Ok(with_db!(&self.db, |p| sqlx::query_as(
            "SELECT id, address, name, organisation, role, response, responded_at, attended
             FROM meeting_attendees WHERE meeting_id = $1 ORDER BY role, name, address"
        )
        .bind(meeting_id)
        .fetch_all(p)
        .await)?)
    }

    /// Records `address`'s answer to a meeting; false when the address is not invited.
    pub async fn record_response(
        &self,
        meeting_id: i64,
        address: &str,
        response: &str,
        now: i64,
    ) -> StoreResult<bool> {
        let changed = with_db!(&self.db, |p| {
            sqlx::query(
            "UPDATE meeting_attendees SET response = $1, responded_at = $2 WHERE meeting_id = $3 AND address = $4"
        )
        .bind(response)
        .bind(now)
        .bind(meeting_id)
        .bind(address.to_lowercase())
        .execute(p)
        .await
        .map(|r| r.rows_affected())
        })?;
        Ok(changed == 1)
    }

    /// The meeting and address a delivery of a meeting mail went to, for its answer links.
    pub async fn meeting_of_delivery(
        &self,
        delivery_id: i64,
    ) -> StoreResult<Option<(i64, String)>> {
        Ok(with_db!(&self.db, |p| {
            sqlx::query_as(
            "SELECT m.cause_id, d.recipient FROM mail_deliveries d JOIN mail_messages m ON m.id = d.message_id
             WHERE d.id = $1 AND m.cause_kind = 'meeting' AND m.cause_id IS NOT NULL AND d.recipient <> ''"
        )
        .bind(delivery_id)
        .fetch_optional(p)
        .await
        })?)
    }

    /// Records who attended: the attendees in `present` did, the others did not.
    pub async fn record_attendance(&self, meeting_id: i64, present: &[i64]) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        with_tx!(&mut tx, |c| sqlx::query(
            "UPDATE meeting_attendees SET attended = FALSE WHERE meeting_id = $1"
        )
        .bind(meeting_id)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
        for id in present {
            with_tx!(&mut tx, |c| sqlx::query(
                "UPDATE meeting_attendees SET attended = TRUE WHERE meeting_id = $1 AND id = $2"
            )
            .bind(meeting_id)
            .bind(id)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Claims the dispatch `(meeting, step, sequence)` and enqueues `message` to the attendees of
    /// `audience`, in one transaction. `None` when it was claimed before (by this or another instance);
    /// otherwise the message id (`None` inside when nobody was to receive it).
    #[allow(clippy::too_many_arguments)]
    pub async fn dispatch_meeting_mail(
        &self,
        meeting_id: i64,
        step: &str,
        sequence: i64,
        late: bool,
        audience: Audience,
        message: &NewMessage,
        now: i64,
    ) -> StoreResult<Option<Option<i64>>> {
        let mut tx = self.begin().await?;
        let claimed = with_tx!(&mut tx, |c| {
            sqlx::query(
            "INSERT INTO meeting_dispatches (meeting_id, step, sequence, late, created_at) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (meeting_id, step, sequence) DO NOTHING"
        )
        .bind(meeting_id)
        .bind(step)
        .bind(sequence)
        .bind(late)
        .bind(now)
        .execute(c)
        .await
        .map(|r| r.rows_affected())
        })?;
        if claimed == 0 {
            return Ok(None);
        }
        let recipients = match audience {
            Audience::Listed(recipients) => recipients,
            Audience::All
            | Audience::NotDeclined
            | Audience::Invited
            | Audience::NotYetInvited(_) => {
                let condition = match audience {
                    Audience::NotDeclined => {
                        "response <> 'declined' AND invited_sequence IS NOT NULL".to_string()
                    }
                    Audience::Invited => "invited_sequence IS NOT NULL".to_string(),
                    Audience::NotYetInvited(up_to) => {
                        format!("invited_sequence IS NULL AND id <= {up_to}")
                    }
                    _ => "TRUE".to_string(),
                };
                let sql = format!(
                    "SELECT address, name, person_id FROM meeting_attendees
                     WHERE meeting_id = $1 AND {condition} ORDER BY id"
                );
                let rows: Vec<(String, String, Option<i64>)> =
                    with_tx!(&mut tx, |c| sqlx::query_as(&sql)
                        .bind(meeting_id)
                        .fetch_all(c)
                        .await)?;
                rows.into_iter()
                    .map(|(address, name, person_id)| NewRecipient {
                        address: EmailAddress::stored(address),
                        name,
                        person_id,
                    })
                    .collect()
            }
        };
        let mut message_id = None;
        if !recipients.is_empty() {
            let id = enqueue(&mut tx, message, &recipients, now).await?;
            with_tx!(&mut tx, |c| {
                sqlx::query(
                "UPDATE meeting_dispatches SET message_id = $1 WHERE meeting_id = $2 AND step = $3 AND sequence = $4"
            )
            .bind(id)
            .bind(meeting_id)
            .bind(step)
            .bind(sequence)
            .execute(c)
            .await
            .map(|r| r.rows_affected())
            })?;
            message_id = Some(id);
        }
        // What an invitation or update said, for the next update to say what changed; and who received it.
        let calendar_sequence = message.template_data["sequence"]
            .as_i64()
            .unwrap_or(sequence);
        if step == "agenda" || step == "update" {
            let snapshot = message.template_data["snapshot"].to_string();
            with_tx!(&mut tx, |c| sqlx::query(
                "UPDATE meetings SET sent_sequence = $1, sent_snapshot = $2 WHERE id = $3"
            )
            .bind(calendar_sequence)
            .bind(&snapshot)
            .bind(meeting_id)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
        }
        if step == "agenda" || step == "update" || step == "invitation" {
            for recipient in &recipients {
                with_tx!(&mut tx, |c| {
                    sqlx::query(
                    "UPDATE meeting_attendees SET invited_sequence = $1 WHERE meeting_id = $2 AND address = $3"
                )
                .bind(calendar_sequence)
                .bind(meeting_id)
                .bind(recipient.address.as_str())
                .execute(c)
                .await
                .map(|r| r.rows_affected())
                })?;
            }
        }
        if step == "minutes" {
            with_tx!(&mut tx, |c| sqlx::query(
                "UPDATE meetings SET minutes_sent_at = $1 WHERE id = $2"
            )
            .bind(now)
            .bind(meeting_id)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
        }
        tx.commit().await?;
        Ok(Some(message_id))
    }

    /// Whether the dispatch `(meeting, step)` happened, whatever its sequence.
    pub async fn dispatched(&self, meeting_id: i64, step: &str) -> StoreResult<bool> {
        Ok(with_db!(&self.db, |p| sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM meeting_dispatches WHERE meeting_id = $1 AND step = $2)"
        )
        .bind(meeting_id)
        .bind(step)
        .fetch_one(p)
        .await)?)
    }

    pub async fn dispatches(&self, meeting_id: i64) -> StoreResult<Vec<Dispatch>> {
        Ok(with_db!(&self.db, |p| sqlx::query_as(
            "SELECT d.step, d.sequence, d.message_id, d.late, d.created_at,
                COALESCE(m.template_data, '{}') AS template_data
             FROM meeting_dispatches d LEFT JOIN mail_messages m ON m.id = d.message_id
             WHERE d.meeting_id = $1 ORDER BY d.created_at, d.step"
        )
        .bind(meeting_id)
        .fetch_all(p)
        .await)?)
    }

    /// Records that `sequence` changed nothing invitees see (no update sent), with the snapshot it has.
    pub async fn note_unseen_change(
        &self,
        meeting_id: i64,
        sequence: i64,
        snapshot: &str,
    ) -> StoreResult<()> {
        with_db!(&self.db, |p| {
            sqlx::query(
            "UPDATE meetings SET sent_sequence = $1, sent_snapshot = $2 WHERE id = $3 AND sent_sequence < $1"
        )
        .bind(sequence)
        .bind(snapshot)
        .bind(meeting_id)
        .execute(p)
        .await
        .map(|r| r.rows_affected())
        })?;
        Ok(())
    }

    /// The highest id of the attendees who have not received the invitation yet (added after it went out).
    pub async fn last_uninvited(&self, meeting_id: i64) -> StoreResult<Option<i64>> {
        Ok(with_db!(&self.db, |p| {
            sqlx::query_scalar(
            "SELECT MAX(id) FROM meeting_attendees WHERE meeting_id = $1 AND invited_sequence IS NULL"
        )
        .bind(meeting_id)
        .fetch_one(p)
        .await
        })?)
    }

    /// How many people a meeting's mails go to (those who received its invitation).
    pub async fn invited_count(&self, meeting_id: i64) -> StoreResult<i64> {
        Ok(with_db!(&self.db, |p| {
            sqlx::query_scalar(
            "SELECT COUNT(*) FROM meeting_attendees WHERE meeting_id = $1 AND invited_sequence IS NOT NULL"
        )
        .bind(meeting_id)
        .fetch_one(p)
        .await
        })?)
    }
}
