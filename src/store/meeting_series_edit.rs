//! Editing a meeting series: its coming occurrences nothing was sent for are re-timed onto the new rule's
//! dates (or removed when left over); those announced keep what was sent, and only a new video link sends
//! them an update. The edit is audited field by field.

use super::audit::{self, Actor};
use super::meeting_series::{NewSeries, SERIES_COLUMNS, Series};
use super::meetings::{ANNOUNCED, changed, delete_meetings};
use super::{Store, StoreError, StoreResult, Tx, with_tx};

/// What an edit of a series did to its coming, unannounced occurrences.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SeriesEdited {
    pub retimed: u64,
    pub removed: u64,
    /// Announced coming occurrences that will send an update (their video link changed).
    pub updated: u64,
}

impl Store {
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
