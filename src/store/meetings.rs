//! Bimonthly meetings: a series is a recurrence rule and a video link; its occurrences are rows made ahead of
//! time, each with its own date, theme, agenda and state. Every change to an occurrence raises its
//! `sequence`, the iCalendar SEQUENCE, so an invitation already sent is followed by an update. Resources
//! (practical sheets) are linked from agenda items. Attendees and dispatches are in
//! [`super::meeting_attendees`].

use super::{Store, StoreError, StoreResult, with_db, with_tx};

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
}

const MEETING_COLUMNS: &str = "id, series_id, uid, occurrence_start, starts_at, ends_at, theme, state, sequence, \
     agenda_ready, sent_sequence, minutes, minutes_sent_at";

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
        Ok(with_db!(&self.db, |p| {
            sqlx::query_scalar(
            "INSERT INTO meeting_series (title, rrule, first_start, duration_minutes, video_url, invite_members,
                invite_staff, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id"
        )
        .bind(&new.title)
        .bind(&new.rrule)
        .bind(&new.first_start)
        .bind(new.duration_minutes)
        .bind(&new.video_url)
        .bind(new.invite_members)
        .bind(new.invite_staff)
        .bind(now)
        .fetch_one(p)
        .await
        })?)
    }

    pub async fn all_series(&self) -> StoreResult<Vec<Series>> {
        Ok(with_db!(&self.db, |p| {
            sqlx::query_as(
            "SELECT id, title, rrule, first_start, duration_minutes, video_url, invite_members, invite_staff
             FROM meeting_series ORDER BY id"
        )
        .fetch_all(p)
        .await
        })?)
    }

    pub async fn series(&self, id: i64) -> StoreResult<Option<Series>> {
        Ok(with_db!(&self.db, |p| {
            sqlx::query_as(
            "SELECT id, title, rrule, first_start, duration_minutes, video_url, invite_members, invite_staff
             FROM meeting_series WHERE id = $1"
        )
        .bind(id)
        .fetch_optional(p)
        .await
        })?)
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
        let mut tx = self.begin().await?;
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
        if change.ends_at <= change.starts_at {
            return Err(StoreError::Conflict("la fin doit suivre le début".into()));
        }
        let changed = with_db!(&self.db, |p| {
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
        .execute(p)
        .await
        .map(|r| r.rows_affected())
        })?;
        Ok(changed == 1)
    }

    /// Cancels an occurrence (for good); its sequence rises for the CANCEL.
    pub async fn cancel_meeting(&self, id: i64, now: i64) -> StoreResult<bool> {
        let changed = with_db!(&self.db, |p| sqlx::query(
            "UPDATE meetings SET state = 'cancelled', sequence = sequence + 1, updated_at = $1
             WHERE id = $2 AND state = 'planned'"
        )
        .bind(now)
        .bind(id)
        .execute(p)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(changed == 1)
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
        for resource in &item.resources {
            with_tx!(&mut tx, |c| sqlx::query(
                "INSERT INTO agenda_item_resources (item_id, resource_id) VALUES ($1, $2)
                 ON CONFLICT DO NOTHING"
            )
            .bind(id)
            .bind(resource)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
        }
        tx.commit().await?;
        Ok(id)
    }

    /// Removes an agenda item and raises the occurrence's sequence.
    pub async fn remove_agenda_item(
        &self,
        meeting_id: i64,
        item_id: i64,
        now: i64,
    ) -> StoreResult<bool> {
        let mut tx = self.begin().await?;
        with_tx!(&mut tx, |c| sqlx::query(
            "DELETE FROM agenda_item_resources WHERE item_id = $1"
        )
        .bind(item_id)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
        let removed = with_tx!(&mut tx, |c| sqlx::query(
            "DELETE FROM agenda_items WHERE id = $1 AND meeting_id = $2"
        )
        .bind(item_id)
        .bind(meeting_id)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
        if removed == 1 {
            with_tx!(&mut tx, |c| sqlx::query(
                "UPDATE meetings SET sequence = sequence + 1, updated_at = $1 WHERE id = $2"
            )
            .bind(now)
            .bind(meeting_id)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
        }
        tx.commit().await?;
        Ok(removed == 1)
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
