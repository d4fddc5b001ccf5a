//! Bimonthly meetings: a series is a recurrence rule and a video link; its occurrences are rows made ahead of
//! time, each with its own date, theme, agenda and state. Every change to an occurrence raises its
//! `sequence`, the iCalendar SEQUENCE, so an invitation already sent is followed by an update. Resources
//! (practical sheets) are linked from agenda items. Editing a series re-times its coming occurrences nothing
//! was sent for; those announced keep what was sent. Every change staff make here is audited in its own
//! transaction. Attendees and dispatches are in [`super::meeting_attendees`].

use super::audit::{self, Actor};
use super::{Store, StoreError, StoreResult, Tx, with_db, with_tx};

/// A new series, as the staff form gives it.
#[derive(Debug, Clone)]
pub struct NewSeries {
    pub title: String,
    /// RFC 5545 RRULE without DTSTART, e.g. `FREQ=MONTHLY;INTERVAL=2;BYDAY=1TU`.
    pub rrule: String,
    /// Paris time of the first occurrence, `YYYY-MM-DDTHH:MM`.
    pub first_start: String,
    pub duration_minutes: i64,
    pub video_url: String,
    pub invite_members: bool,
    pub invite_staff: bool,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Series {
    pub id: i64,
    pub title: String,
    pub rrule: String,
    pub first_start: String,
    pub duration_minutes: i64,
    pub video_url: String,
    pub invite_members: bool,
    pub invite_staff: bool,
    /// Paris date (`YYYY-MM-DD`) of the last possible occurrence; empty while the series goes on.
    pub ends_on: String,
}

const SERIES_COLUMNS: &str = "id, title, rrule, first_start, duration_minutes, video_url, invite_members, invite_staff, ends_on";

/// How a series' meetings stand: what its edit, end and delete buttons may do.
#[derive(Debug, Clone, Default)]
pub struct SeriesCounts {
    /// Every occurrence made so far.
    pub total: i64,
    /// Occurrences whose invitation (or minutes) went out: they stay as sent.
    pub announced: i64,
    /// Coming occurrences nothing was sent for: they follow an edited rule, or go when the series ends.
    pub unannounced_future: i64,
    /// The start of the latest announced occurrence.
    pub last_announced: Option<i64>,
}

/// What an edit of a series did to its coming, unannounced occurrences.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SeriesEdited {
    pub retimed: u64,
    pub removed: u64,
    /// Announced coming occurrences that will send an update (their video link changed).
    pub updated: u64,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Meeting {
    pub id: i64,
    pub series_id: i64,
    pub uid: String,
    pub occurrence_start: i64,
    pub starts_at: i64,
    pub ends_at: i64,
    pub theme: String,
    /// `planned` or `cancelled`.
    pub state: String,
    pub sequence: i64,
    pub agenda_ready: bool,
    /// The SEQUENCE of the last invitation sent; `None` before the agenda went out.
    pub sent_sequence: Option<i64>,
    pub minutes: String,
    pub minutes_sent_at: Option<i64>,
    /// JSON of what the last invitation or update said ([`crate::mail::meetings::Snapshot`]); empty before.
    pub sent_snapshot: String,
}

const MEETING_COLUMNS: &str = "id, series_id, uid, occurrence_start, starts_at, ends_at, theme, state, sequence, \
     agenda_ready, sent_sequence, minutes, minutes_sent_at, sent_snapshot";

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AgendaItem {
    pub id: i64,
    pub position: i64,
    pub title: String,
    pub presenter: String,
    pub duration_minutes: i64,
    pub description: String,
}

#[derive(Debug, Clone)]
pub struct NewAgendaItem {
    pub title: String,
    pub presenter: String,
    pub duration_minutes: i64,
    pub description: String,
    pub resources: Vec<i64>,
}

#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize)]
pub struct Resource {
    pub id: i64,
    pub title: String,
    pub url: String,
    pub description: String,
    pub themes: String,
}

/// What changes on an occurrence.
#[derive(Debug, Clone)]
pub struct MeetingChange {
    pub starts_at: i64,
    pub ends_at: i64,
    pub theme: String,
}

impl Store {
    pub async fn create_series(&self, new: &NewSeries, now: i64) -> StoreResult<i64> {
        self.create_series_as(new, "", &Actor::command_line(), now)
            .await
    }

    /// Creates a series ending on `ends_on` (empty: it goes on), with its audit entry.
    pub async fn create_series_as(
        &self,
        new: &NewSeries,
        ends_on: &str,
        actor: &Actor,
        now: i64,
    ) -> StoreResult<i64> {
        let mut tx = self.begin().await?;
        let id: i64 = with_tx!(&mut tx, |c| {
            sqlx::query_scalar(
            "INSERT INTO meeting_series (title, rrule, first_start, duration_minutes, video_url, invite_members,
                invite_staff, ends_on, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id"
        )
        .bind(&new.title)
        .bind(&new.rrule)
        .bind(&new.first_start)
        .bind(new.duration_minutes)
        .bind(&new.video_url)
        .bind(new.invite_members)
        .bind(new.invite_staff)
        .bind(ends_on)
        .bind(now)
        .fetch_one(c)
        .await
        })?;
        audit::record(
            &mut tx,
            actor,
            "create",
            "meeting_series",
            Some(id),
            serde_json::json!({
                "label": new.title,
                "rule": crate::domain::recurrence::describe(&new.rrule),
                "first_start": new.first_start,
            }),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(id)
    }

    pub async fn all_series(&self) -> StoreResult<Vec<Series>> {
        let sql = format!("SELECT {SERIES_COLUMNS} FROM meeting_series ORDER BY id");
        Ok(with_db!(&self.db, |p| sqlx::query_as(&sql)
            .fetch_all(p)
            .await)?)
    }

    pub async fn series(&self, id: i64) -> StoreResult<Option<Series>> {
        let sql = format!("SELECT {SERIES_COLUMNS} FROM meeting_series WHERE id = $1");
        Ok(with_db!(&self.db, |p| sqlx::query_as(&sql)
            .bind(id)
            .fetch_optional(p)
            .await)?)
    }

    /// Makes the occurrences `(rule date, end)` of a series that do not exist yet; an occurrence moved or
    /// cancelled keeps its row. Returns how many were made.
    pub async fn add_occurrences(
        &self,
        series_id: i64,
        occurrences: &[(i64, i64)],
        uid_domain: &str,
        now: i64,
    ) -> StoreResult<u64> {
        self.add_occurrences_checked(series_id, None, occurrences, uid_domain, now)
            .await
    }

    /// [`Store::add_occurrences`] for the dates `series` gives, unless the series changed since it was read
    /// (an edit committed meanwhile must not get the old rule's dates back): then none, and the next pass
    /// uses the new rule.
    pub async fn add_occurrences_of(
        &self,
        series: &Series,
        occurrences: &[(i64, i64)],
        uid_domain: &str,
        now: i64,
    ) -> StoreResult<u64> {
        self.add_occurrences_checked(series.id, Some(series), occurrences, uid_domain, now)
            .await
    }

    async fn add_occurrences_checked(
        &self,
        series_id: i64,
        read: Option<&Series>,
        occurrences: &[(i64, i64)],
        uid_domain: &str,
        now: i64,
    ) -> StoreResult<u64> {
        let mut tx = self.begin().await?;
        if let Some(read) = read {
            // Locked until this transaction ends: an edit waits, and sees the dates made here.
            let sql = format!(
                "SELECT {SERIES_COLUMNS} FROM meeting_series WHERE id = $1{}",
                tx.lock_clause()
            );
            let current: Option<Series> = with_tx!(&mut tx, |c| sqlx::query_as(&sql)
                .bind(series_id)
                .fetch_optional(c)
                .await)?;
            let same = current.is_some_and(|current| {
                (
                    &current.rrule,
                    &current.first_start,
                    current.duration_minutes,
                    &current.ends_on,
                ) == (
                    &read.rrule,
                    &read.first_start,
                    read.duration_minutes,
                    &read.ends_on,
                )
            });
            if !same {
                return Ok(0);
            }
        }
        let mut added = 0;
        for (start, end) in occurrences {
            let uid = format!("reunion-{series_id}-{start}@{uid_domain}");
            added += with_tx!(&mut tx, |c| {
                sqlx::query(
                "INSERT INTO meetings (series_id, uid, occurrence_start, starts_at, ends_at, created_at, updated_at)
                 VALUES ($1, $2, $3, $3, $4, $5, $5) ON CONFLICT (series_id, occurrence_start) DO NOTHING"
            )
            .bind(series_id)
            .bind(&uid)
            .bind(start)
            .bind(end)
            .bind(now)
            .execute(c)
            .await
            .map(|r| r.rows_affected())
            })?;
        }
        tx.commit().await?;
        Ok(added)
    }

    /// Occurrences ending after `from`, soonest first, cancelled ones included.
    pub async fn meetings_from(&self, from: i64, limit: i64) -> StoreResult<Vec<Meeting>> {
        let sql = format!(
            "SELECT {MEETING_COLUMNS} FROM meetings WHERE ends_at > $1 ORDER BY starts_at, id LIMIT $2"
        );
        Ok(with_db!(&self.db, |p| sqlx::query_as(&sql)
            .bind(from)
            .bind(limit)
            .fetch_all(p)
            .await)?)
    }

    /// Occurrences that ended before `before`, latest first.
    pub async fn past_meetings(&self, before: i64, limit: i64) -> StoreResult<Vec<Meeting>> {
        let sql = format!(
            "SELECT {MEETING_COLUMNS} FROM meetings WHERE ends_at <= $1 ORDER BY starts_at DESC, id DESC LIMIT $2"
        );
        Ok(with_db!(&self.db, |p| sqlx::query_as(&sql)
            .bind(before)
            .bind(limit)
            .fetch_all(p)
            .await)?)
    }

    pub async fn meeting(&self, id: i64) -> StoreResult<Option<Meeting>> {
        let sql = format!("SELECT {MEETING_COLUMNS} FROM meetings WHERE id = $1");
        Ok(with_db!(&self.db, |p| sqlx::query_as(&sql)
            .bind(id)
            .fetch_optional(p)
            .await)?)
    }

    /// The occurrence with this iCalendar UID (calendar replies name it).
    pub async fn meeting_by_uid(&self, uid: &str) -> StoreResult<Option<Meeting>> {
        let sql = format!("SELECT {MEETING_COLUMNS} FROM meetings WHERE uid = $1");
        Ok(with_db!(&self.db, |p| sqlx::query_as(&sql)
            .bind(uid)
            .fetch_optional(p)
            .await)?)
    }

    /// Moves an occurrence or gives it a theme; raises its sequence when anything changed. Refused for a
    /// cancelled one.
    pub async fn change_meeting(
        &self,
        id: i64,
        change: &MeetingChange,
        now: i64,
    ) -> StoreResult<bool> {
        self.change_meeting_as(id, change, &Actor::command_line(), "", now)
            .await
    }

    /// [`Store::change_meeting`] by `actor`, audited under `label` ("réunion du mardi 2 février 2027").
    pub async fn change_meeting_as(
        &self,
        id: i64,
        change: &MeetingChange,
        actor: &Actor,
        label: &str,
        now: i64,
    ) -> StoreResult<bool> {
        if change.ends_at <= change.starts_at {
            return Err(StoreError::Conflict("la fin doit suivre le début".into()));
        }
        let mut tx = self.begin().await?;
        let sql = format!("SELECT {MEETING_COLUMNS} FROM meetings WHERE id = $1");
        let Some(old) = with_tx!(&mut tx, |c| sqlx::query_as::<_, Meeting>(&sql)
            .bind(id)
            .fetch_optional(c)
            .await)?
        else {
            return Err(StoreError::NotFound);
        };
        let changed_rows = with_tx!(&mut tx, |c| {
            sqlx::query(
            "UPDATE meetings SET starts_at = $1, ends_at = $2, theme = $3, sequence = sequence + 1, updated_at = $4
             WHERE id = $5 AND state = 'planned'
               AND (starts_at <> $1 OR ends_at <> $2 OR theme <> $3)"
        )
        .bind(change.starts_at)
        .bind(change.ends_at)
        .bind(&change.theme)
        .bind(now)
        .bind(id)
        .execute(c)
        .await
        .map(|r| r.rows_affected())
        })?;
        if changed_rows == 1 {
            let mut changes = serde_json::Map::new();
            changed(&mut changes, "starts_at", old.starts_at, change.starts_at);
            changed(&mut changes, "ends_at", old.ends_at, change.ends_at);
            changed(&mut changes, "theme", &old.theme, &change.theme);
            audit::record(
                &mut tx,
                actor,
                "update",
                "meeting",
                Some(id),
                serde_json::json!({ "label": label, "changes": changes }),
                now,
            )
            .await?;
        }
        tx.commit().await?;
        Ok(changed_rows == 1)
    }

    /// Cancels an occurrence (for good); its sequence rises for the CANCEL. `told` is how many people the
    /// cancellation goes to, for the audit entry.
    pub async fn cancel_meeting(
        &self,
        id: i64,
        actor: &Actor,
        label: &str,
        told: usize,
        now: i64,
    ) -> StoreResult<bool> {
        let mut tx = self.begin().await?;
        let changed_rows = with_tx!(&mut tx, |c| sqlx::query(
            "UPDATE meetings SET state = 'cancelled', sequence = sequence + 1, updated_at = $1
             WHERE id = $2 AND state = 'planned'"
        )
        .bind(now)
        .bind(id)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
        if changed_rows == 1 {
            audit::record(
                &mut tx,
                actor,
                "cancel",
                "meeting",
                Some(id),
                serde_json::json!({ "label": label, "count": told }),
                now,
            )
            .await?;
        }
        tx.commit().await?;
        Ok(changed_rows == 1)
    }

    pub async fn set_agenda_ready(&self, id: i64, ready: bool, now: i64) -> StoreResult<bool> {
        let changed = with_db!(&self.db, |p| {
            sqlx::query(
            "UPDATE meetings SET agenda_ready = $1, updated_at = $2 WHERE id = $3 AND state = 'planned'"
        )
        .bind(ready)
        .bind(now)
        .bind(id)
        .execute(p)
        .await
        .map(|r| r.rows_affected())
        })?;
        Ok(changed == 1)
    }

    /// Appends an item to an occurrence's agenda (with its resources) and raises the sequence.
    pub async fn add_agenda_item(
        &self,
        meeting_id: i64,
        item: &NewAgendaItem,
        actor: &Actor,
        meeting_label: &str,
        now: i64,
    ) -> StoreResult<i64> {
        let mut tx = self.begin().await?;
        let bumped = with_tx!(&mut tx, |c| {
            sqlx::query(
            "UPDATE meetings SET sequence = sequence + 1, updated_at = $1 WHERE id = $2 AND state = 'planned'"
        )
        .bind(now)
        .bind(meeting_id)
        .execute(c)
        .await
        .map(|r| r.rows_affected())
        })?;
        if bumped == 0 {
            return Err(StoreError::NotFound);
        }
        let id: i64 = with_tx!(&mut tx, |c| {
            sqlx::query_scalar(
            "INSERT INTO agenda_items (meeting_id, position, title, presenter, duration_minutes, description,
                created_at)
             VALUES ($1, (SELECT COALESCE(MAX(position), 0) + 1 FROM agenda_items WHERE meeting_id = $1),
                $2, $3, $4, $5, $6) RETURNING id"
        )
        .bind(meeting_id)
        .bind(&item.title)
        .bind(&item.presenter)
        .bind(item.duration_minutes)
        .bind(&item.description)
        .bind(now)
        .fetch_one(c)
        .await
        })?;
        link_resources(&mut tx, id, &item.resources).await?;
        audit::record(
            &mut tx,
            actor,
            "create",
            "agenda_item",
            Some(id),
            serde_json::json!({
                "label": item.title,
                "meeting": meeting_label,
                "meeting_id": meeting_id,
            }),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Removes an agenda item and raises the occurrence's sequence. Returns its title, `None` when it was
    /// not there.
    pub async fn remove_agenda_item(
        &self,
        meeting_id: i64,
        item_id: i64,
        actor: &Actor,
        meeting_label: &str,
        now: i64,
    ) -> StoreResult<Option<String>> {
        let mut tx = self.begin().await?;
        let title: Option<String> = with_tx!(&mut tx, |c| sqlx::query_scalar(
            "SELECT i.title FROM agenda_items i JOIN meetings m ON m.id = i.meeting_id
             WHERE i.id = $1 AND i.meeting_id = $2 AND m.state = 'planned'"
        )
        .bind(item_id)
        .bind(meeting_id)
        .fetch_optional(c)
        .await)?;
        let Some(title) = title else {
            return Ok(None);
        };
        with_tx!(&mut tx, |c| sqlx::query(
            "DELETE FROM agenda_item_resources WHERE item_id = $1"
        )
        .bind(item_id)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
        with_tx!(&mut tx, |c| sqlx::query(
            "DELETE FROM agenda_items WHERE id = $1 AND meeting_id = $2"
        )
        .bind(item_id)
        .bind(meeting_id)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
        bump_sequence(&mut tx, meeting_id, now).await?;
        audit::record(
            &mut tx,
            actor,
            "delete",
            "agenda_item",
            Some(item_id),
            serde_json::json!({
                "label": title,
                "meeting": meeting_label,
                "meeting_id": meeting_id,
            }),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(Some(title))
    }

    pub async fn agenda(&self, meeting_id: i64) -> StoreResult<Vec<AgendaItem>> {
        Ok(with_db!(&self.db, |p| sqlx::query_as(
            "SELECT id, position, title, presenter, duration_minutes, description FROM agenda_items
             WHERE meeting_id = $1 ORDER BY position, id"
        )
        .bind(meeting_id)
        .fetch_all(p)
        .await)?)
    }

    /// The resources linked from an occurrence's agenda: (item id, resource).
    pub async fn agenda_resources(&self, meeting_id: i64) -> StoreResult<Vec<(i64, Resource)>> {
        let rows: Vec<(i64, i64, String, String, String, String)> =
            with_db!(&self.db, |p| sqlx::query_as(
                "SELECT ar.item_id, r.id, r.title, r.url, r.description, r.themes
                 FROM agenda_item_resources ar JOIN agenda_items i ON i.id = ar.item_id
                 JOIN resources r ON r.id = ar.resource_id
                 WHERE i.meeting_id = $1 ORDER BY i.position, r.title"
            )
            .bind(meeting_id)
            .fetch_all(p)
            .await)?;
        Ok(rows
            .into_iter()
            .map(|(item, id, title, url, description, themes)| {
                (
                    item,
                    Resource {
                        id,
                        title,
                        url,
                        description,
                        themes,
                    },
                )
            })
            .collect())
    }

    pub async fn add_resource(
        &self,
        title: &str,
        url: &str,
        description: &str,
        themes: &str,
        now: i64,
    ) -> StoreResult<i64> {
        Ok(with_db!(&self.db, |p| {
            sqlx::query_scalar(
            "INSERT INTO resources (title, url, description, themes, created_at) VALUES ($1, $2, $3, $4, $5)
             RETURNING id"
        )
        .bind(title)
        .bind(url)
        .bind(description)
        .bind(themes)
        .bind(now)
        .fetch_one(p)
        .await
        })?)
    }

    /// Records an uploaded document as a resource; its address is `/ressources/{id}/fichier`, where relais
    /// serves it. Returns the id (the caller stores the file under it).
    pub async fn add_resource_document(
        &self,
        title: &str,
        description: &str,
        themes: &str,
        file_name: &str,
        content_type: &str,
        now: i64,
    ) -> StoreResult<i64> {
        let mut tx = self.begin().await?;
        let id: i64 = with_tx!(&mut tx, |c| {
            sqlx::query_scalar(
            "INSERT INTO resources (title, url, description, themes, file_name, content_type, created_at)
             VALUES ($1, '', $2, $3, $4, $5, $6) RETURNING id"
        )
        .bind(title)
        .bind(description)
        .bind(themes)
        .bind(file_name)
        .bind(content_type)
        .bind(now)
        .fetch_one(c)
        .await
        })?;
        with_tx!(&mut tx, |c| sqlx::query(
            "UPDATE resources SET url = $1 WHERE id = $2"
        )
        .bind(format!("/ressources/{id}/fichier"))
        .bind(id)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
        tx.commit().await?;
        Ok(id)
    }

    /// Forgets a resource whose document could not be stored.
    pub async fn remove_resource(&self, id: i64) -> StoreResult<()> {
        with_db!(&self.db, |p| sqlx::query(
            "DELETE FROM resources WHERE id = $1"
        )
        .bind(id)
        .execute(p)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// The file name and type of an uploaded document.
    pub async fn resource_document(&self, id: i64) -> StoreResult<Option<(String, String)>> {
        Ok(with_db!(&self.db, |p| sqlx::query_as(
            "SELECT file_name, content_type FROM resources WHERE id = $1 AND file_name <> ''"
        )
        .bind(id)
        .fetch_optional(p)
        .await)?)
    }

    pub async fn resources(&self) -> StoreResult<Vec<Resource>> {
        Ok(with_db!(&self.db, |p| sqlx::query_as(
            "SELECT id, title, url, description, themes FROM resources ORDER BY title, id"
        )
        .fetch_all(p)
        .await)?)
    }
}

/// Deletes occurrences with everything hanging from them (agenda, attendees, dispatches, flagged items).
async fn delete_meetings(tx: &mut Tx, ids: &[i64]) -> StoreResult<()> {
    const STATEMENTS: [&str; 6] = [
        "DELETE FROM agenda_item_resources WHERE item_id IN (SELECT id FROM agenda_items WHERE meeting_id = $1)",
        "DELETE FROM agenda_items WHERE meeting_id = $1",
        "DELETE FROM meeting_attendees WHERE meeting_id = $1",
        "DELETE FROM meeting_dispatches WHERE meeting_id = $1",
        "DELETE FROM minutes_items WHERE meeting_id = $1",
        "DELETE FROM meetings WHERE id = $1",
    ];
    for id in ids {
        for sql in STATEMENTS {
            with_tx!(tx, |c| sqlx::query(sql)
                .bind(id)
                .execute(c)
                .await
                .map(|r| r.rows_affected()))?;
        }
    }
    Ok(())
}

/// An occurrence counts as announced once its invitation or its minutes went out.
const ANNOUNCED: &str = "(sent_sequence IS NOT NULL OR minutes_sent_at IS NOT NULL)";

/// `[old, new]` when a field changed, for the audit entry's `changes`.
fn changed<T: PartialEq + serde::Serialize>(
    changes: &mut serde_json::Map<String, serde_json::Value>,
    field: &str,
    old: T,
    new: T,
) {
    if old != new {
        changes.insert(field.into(), serde_json::json!([old, new]));
    }
}

/// The series as it stands, locked: a dispatcher pass making occurrences waits, then sees the new rule.
async fn lock_series(tx: &mut Tx, id: i64) -> StoreResult<Series> {
    let sql = format!(
        "SELECT {SERIES_COLUMNS} FROM meeting_series WHERE id = $1{}",
        tx.lock_clause()
    );
    with_tx!(tx, |c| sqlx::query_as(&sql)
        .bind(id)
        .fetch_optional(c)
        .await)?
    .ok_or(StoreError::NotFound)
}

async fn write_series(tx: &mut Tx, id: i64, new: &NewSeries, ends_on: &str) -> StoreResult<()> {
    with_tx!(tx, |c| {
        sqlx::query(
            "UPDATE meeting_series SET title = $1, rrule = $2, first_start = $3, duration_minutes = $4,
                video_url = $5, invite_members = $6, invite_staff = $7, ends_on = $8 WHERE id = $9"
        )
        .bind(&new.title)
        .bind(&new.rrule)
        .bind(&new.first_start)
        .bind(new.duration_minutes)
        .bind(&new.video_url)
        .bind(new.invite_members)
        .bind(new.invite_staff)
        .bind(ends_on)
        .bind(id)
        .execute(c)
        .await
        .map(|r| r.rows_affected())
    })?;
    Ok(())
}

/// The dates a changed rule gives, and what moving an occurrence onto one of them needs.
struct SeriesDates<'a> {
    /// `(start, end)` of each occurrence of the new rule.
    occurrences: &'a [(i64, i64)],
    uid_domain: &'a str,
    now: i64,
}

/// Moves the coming occurrences nothing was sent for onto the new rule's free dates, and removes those left
/// over; the cancelled ones were dates of the old rule and go. Returns `(retimed, removed)`.
async fn retime_unsent(tx: &mut Tx, id: i64, dates: &SeriesDates<'_>) -> StoreResult<(u64, u64)> {
    let sql = format!(
        "SELECT id, state FROM meetings WHERE series_id = $1 AND NOT {ANNOUNCED} AND starts_at > $2
         ORDER BY starts_at, id"
    );
    let unsent: Vec<(i64, String)> = with_tx!(tx, |c| sqlx::query_as(&sql)
        .bind(id)
        .bind(dates.now)
        .fetch_all(c)
        .await)?;
    let (planned, cancelled): (Vec<_>, Vec<_>) = unsent
        .into_iter()
        .partition(|(_, state)| state == "planned");
    let cancelled: Vec<i64> = cancelled.into_iter().map(|(id, _)| id).collect();
    delete_meetings(tx, &cancelled).await?;
    let planned: Vec<i64> = planned.into_iter().map(|(id, _)| id).collect();
    let free = free_dates(tx, id, &planned, dates.occurrences).await?;
    let (moving, leftover) = planned.split_at(planned.len().min(free.len()));
    move_meetings(tx, id, moving, &free, dates).await?;
    delete_meetings(tx, leftover).await?;
    Ok((
        moving.len() as u64,
        (cancelled.len() + leftover.len()) as u64,
    ))
}

/// The new rule's dates not held already: announced or past occurrences keep theirs.
async fn free_dates<'a>(
    tx: &mut Tx,
    id: i64,
    planned: &[i64],
    occurrences: &'a [(i64, i64)],
) -> StoreResult<Vec<&'a (i64, i64)>> {
    let all: Vec<(i64, i64)> = with_tx!(tx, |c| sqlx::query_as(
        "SELECT id, occurrence_start FROM meetings WHERE series_id = $1"
    )
    .bind(id)
    .fetch_all(c)
    .await)?;
    let kept: Vec<i64> = all
        .iter()
        .filter(|(meeting, _)| !planned.contains(meeting))
        .map(|(_, start)| *start)
        .collect();
    Ok(occurrences
        .iter()
        .filter(|(start, _)| !kept.contains(start))
        .collect())
}

/// Puts each of `moving` on the date of the same rank in `free`.
async fn move_meetings(
    tx: &mut Tx,
    id: i64,
    moving: &[i64],
    free: &[&(i64, i64)],
    dates: &SeriesDates<'_>,
) -> StoreResult<()> {
    // First out of the way (occurrence dates and UIDs are unique), then onto the new dates.
    for meeting in moving {
        with_tx!(tx, |c| {
            sqlx::query(
                "UPDATE meetings SET occurrence_start = -id, uid = uid || '-moving' WHERE id = $1",
            )
            .bind(meeting)
            .execute(c)
            .await
            .map(|r| r.rows_affected())
        })?;
    }
    for (meeting, (start, end)) in moving.iter().zip(free) {
        with_tx!(tx, |c| {
            sqlx::query(
                "UPDATE meetings SET occurrence_start = $1, starts_at = $1, ends_at = $2, uid = $3,
                    updated_at = $4 WHERE id = $5",
            )
            .bind(start)
            .bind(end)
            .bind(format!("reunion-{id}-{start}@{}", dates.uid_domain))
            .bind(dates.now)
            .bind(meeting)
            .execute(c)
            .await
            .map(|r| r.rows_affected())
        })?;
        // Its date changed: staff are reminded again before the new one.
        with_tx!(tx, |c| {
            sqlx::query(
                "DELETE FROM meeting_dispatches WHERE meeting_id = $1 AND step = 'staff_reminder'",
            )
            .bind(meeting)
            .execute(c)
            .await
            .map(|r| r.rows_affected())
        })?;
    }
    Ok(())
}

/// Announced meetings keep their date, but the link to join them must reach invitees: each coming one
/// sends an update. Returns how many.
async fn announce_new_link(tx: &mut Tx, id: i64, now: i64) -> StoreResult<u64> {
    let sql = "UPDATE meetings SET sequence = sequence + 1, updated_at = $1
         WHERE series_id = $2 AND state = 'planned' AND starts_at > $1 AND sent_sequence IS NOT NULL";
    with_tx!(tx, |c| sqlx::query(sql)
        .bind(now)
        .bind(id)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))
    .map_err(Into::into)
}

/// `[old, new]` for each field an edit changed, for the audit entry.
fn series_changes(
    old: &Series,
    new: &NewSeries,
    ends_on: &str,
) -> serde_json::Map<String, serde_json::Value> {
    let mut changes = serde_json::Map::new();
    changed(&mut changes, "title", &old.title, &new.title);
    changed(
        &mut changes,
        "rule",
        crate::domain::recurrence::describe(&old.rrule),
        crate::domain::recurrence::describe(&new.rrule),
    );
    changed(
        &mut changes,
        "first_start",
        &old.first_start,
        &new.first_start,
    );
    changed(
        &mut changes,
        "duration_minutes",
        old.duration_minutes,
        new.duration_minutes,
    );
    changed(&mut changes, "video_url", &old.video_url, &new.video_url);
    changed(&mut changes, "ends_on", old.ends_on.as_str(), ends_on);
    changed(
        &mut changes,
        "invite_members",
        old.invite_members,
        new.invite_members,
    );
    changed(
        &mut changes,
        "invite_staff",
        old.invite_staff,
        new.invite_staff,
    );
    changes
}

impl Store {
    pub async fn series_counts(&self, series_id: i64, now: i64) -> StoreResult<SeriesCounts> {
        let sql = format!(
            "SELECT COUNT(*), COALESCE(SUM(CASE WHEN {ANNOUNCED} THEN 1 ELSE 0 END), 0),
                COALESCE(SUM(CASE WHEN NOT {ANNOUNCED} AND state = 'planned' AND starts_at > $2 THEN 1 ELSE 0 END), 0),
                MAX(CASE WHEN sent_sequence IS NOT NULL THEN starts_at END)
             FROM meetings WHERE series_id = $1"
        );
        let (total, announced, unannounced_future, last_announced): (i64, i64, i64, Option<i64>) =
            with_db!(&self.db, |p| sqlx::query_as(&sql)
                .bind(series_id)
                .bind(now)
                .fetch_one(p)
                .await)?;
        Ok(SeriesCounts {
            total,
            announced,
            unannounced_future,
            last_announced,
        })
    }

    /// Changes a series. When its rule, first date, length or end changed, its coming occurrences nothing
    /// was sent for follow the new rule: in order, they take the dates of `occurrences` (the new rule's,
    /// from after the last announced one), keeping their agenda; those left over are removed; the
    /// dispatcher makes any missing ones. Announced occurrences keep what was sent.
    #[allow(clippy::too_many_arguments)]
    pub async fn update_series(
        &self,
        id: i64,
        new: &NewSeries,
        ends_on: &str,
        occurrences: &[(i64, i64)],
        uid_domain: &str,
        actor: &Actor,
        now: i64,
    ) -> StoreResult<SeriesEdited> {
        let mut tx = self.begin().await?;
        let old = lock_series(&mut tx, id).await?;
        write_series(&mut tx, id, new, ends_on).await?;
        let mut edited = SeriesEdited::default();
        let retime = old.rrule != new.rrule
            || old.first_start != new.first_start
            || old.duration_minutes != new.duration_minutes
            || old.ends_on != ends_on;
        if retime {
            let dates = SeriesDates {
                occurrences,
                uid_domain,
                now,
            };
            (edited.retimed, edited.removed) = retime_unsent(&mut tx, id, &dates).await?;
        }
        if old.video_url != new.video_url {
            edited.updated = announce_new_link(&mut tx, id, now).await?;
        }
        audit::record(
            &mut tx,
            actor,
            "update",
            "meeting_series",
            Some(id),
            serde_json::json!({
                "label": new.title,
                "changes": series_changes(&old, new, ends_on),
                "retimed": edited.retimed,
                "removed": edited.removed,
                "updated": edited.updated,
            }),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(edited)
    }

    /// Deletes a series and all its occurrences; refused once one of them was announced (end it instead).
    /// Returns how many occurrences went with it.
    pub async fn delete_series(&self, id: i64, actor: &Actor, now: i64) -> StoreResult<u64> {
        let mut tx = self.begin().await?;
        let title: String = with_tx!(&mut tx, |c| sqlx::query_scalar(
            "SELECT title FROM meeting_series WHERE id = $1"
        )
        .bind(id)
        .fetch_optional(c)
        .await)?
        .ok_or(StoreError::NotFound)?;
        let sql = format!("SELECT id, {ANNOUNCED} FROM meetings WHERE series_id = $1");
        let meetings: Vec<(i64, bool)> = with_tx!(&mut tx, |c| sqlx::query_as(&sql)
            .bind(id)
            .fetch_all(c)
            .await)?;
        if meetings.iter().any(|(_, announced)| *announced) {
            return Err(StoreError::Conflict(format!(
                "La série « {title} » a des réunions déjà annoncées : elle ne peut pas être supprimée. \
                 Arrêtez-la plutôt : les réunions annoncées restent, les suivantes disparaissent."
            )));
        }
        let ids: Vec<i64> = meetings.iter().map(|(id, _)| *id).collect();
        delete_meetings(&mut tx, &ids).await?;
        with_tx!(&mut tx, |c| sqlx::query(
            "DELETE FROM meeting_series WHERE id = $1"
        )
        .bind(id)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
        audit::record(
            &mut tx,
            actor,
            "delete",
            "meeting_series",
            Some(id),
            serde_json::json!({ "label": title, "count": ids.len() }),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(ids.len() as u64)
    }

    /// Changes an agenda item (and its linked sheets); raises the occurrence's sequence when anything
    /// changed. Returns the title it had, or `None` when nothing changed.
    pub async fn update_agenda_item(
        &self,
        meeting_id: i64,
        item_id: i64,
        item: &NewAgendaItem,
        actor: &Actor,
        meeting_label: &str,
        now: i64,
    ) -> StoreResult<Option<String>> {
        let mut tx = self.begin().await?;
        let old: Option<(String, String, i64, String)> = with_tx!(&mut tx, |c| sqlx::query_as(
            "SELECT i.title, i.presenter, i.duration_minutes, i.description FROM agenda_items i
             JOIN meetings m ON m.id = i.meeting_id
             WHERE i.id = $1 AND i.meeting_id = $2 AND m.state = 'planned'"
        )
        .bind(item_id)
        .bind(meeting_id)
        .fetch_optional(c)
        .await)?;
        let (title, presenter, duration, description) = old.ok_or(StoreError::NotFound)?;
        let mut linked: Vec<i64> = with_tx!(&mut tx, |c| {
            sqlx::query_scalar(
            "SELECT resource_id FROM agenda_item_resources WHERE item_id = $1 ORDER BY resource_id"
        )
        .bind(item_id)
        .fetch_all(c)
        .await
        })?;
        linked.sort_unstable();
        let mut wanted = item.resources.clone();
        wanted.sort_unstable();
        wanted.dedup();
        let mut changes = serde_json::Map::new();
        changed(&mut changes, "title", &title, &item.title);
        changed(&mut changes, "presenter", &presenter, &item.presenter);
        changed(
            &mut changes,
            "duration_minutes",
            duration,
            item.duration_minutes,
        );
        changed(&mut changes, "description", &description, &item.description);
        changed(&mut changes, "resources", &linked, &wanted);
        if changes.is_empty() {
            return Ok(None);
        }
        with_tx!(&mut tx, |c| {
            sqlx::query(
            "UPDATE agenda_items SET title = $1, presenter = $2, duration_minutes = $3, description = $4
             WHERE id = $5"
        )
        .bind(&item.title)
        .bind(&item.presenter)
        .bind(item.duration_minutes)
        .bind(&item.description)
        .bind(item_id)
        .execute(c)
        .await
        .map(|r| r.rows_affected())
        })?;
        if linked != wanted {
            with_tx!(&mut tx, |c| sqlx::query(
                "DELETE FROM agenda_item_resources WHERE item_id = $1"
            )
            .bind(item_id)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
            link_resources(&mut tx, item_id, &wanted).await?;
        }
        bump_sequence(&mut tx, meeting_id, now).await?;
        audit::record(
            &mut tx,
            actor,
            "update",
            "agenda_item",
            Some(item_id),
            serde_json::json!({
                "label": item.title,
                "meeting": meeting_label,
                "meeting_id": meeting_id,
                "changes": changes,
            }),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(Some(title))
    }
}

/// Raises a meeting's SEQUENCE: what its invitees hold is out of date, the next update replaces it.
async fn bump_sequence(tx: &mut Tx, meeting_id: i64, now: i64) -> StoreResult<()> {
    with_tx!(tx, |c| sqlx::query(
        "UPDATE meetings SET sequence = sequence + 1, updated_at = $1 WHERE id = $2"
    )
    .bind(now)
    .bind(meeting_id)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

/// Links practical sheets to an agenda item (a sheet named twice is linked once).
async fn link_resources(tx: &mut Tx, item_id: i64, resources: &[i64]) -> StoreResult<()> {
    for resource in resources {
        with_tx!(tx, |c| sqlx::query(
            "INSERT INTO agenda_item_resources (item_id, resource_id) VALUES ($1, $2)
             ON CONFLICT DO NOTHING"
        )
        .bind(item_id)
        .bind(resource)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
    }
    Ok(())
}
