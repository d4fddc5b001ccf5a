//! Meeting series: a recurrence rule and a video link, and the occurrences made from them ahead of time. A
//! series with an announced occurrence cannot be deleted, only ended. Editing a series is in
//! [`super::meeting_series_edit`].

use super::audit::{self, Actor};
use super::meetings::{ANNOUNCED, delete_meetings};
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
    /// Paris date (`YYYY-MM-DD`) of the last possible occurrence; empty while the series goes on.
    pub ends_on: String,
}

pub(super) const SERIES_COLUMNS: &str = "id, title, rrule, first_start, duration_minutes, video_url, invite_members, invite_staff, ends_on";

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
}
