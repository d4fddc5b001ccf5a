//! Bimonthly meetings: the occurrences of a series, rows made ahead of time, each with its own date, theme,
//! agenda and state. Every change to an occurrence raises its `sequence`, the iCalendar SEQUENCE, so an
//! invitation already sent is followed by an update. Every change staff make here is audited in its own
//! transaction. Series are in [`super::meeting_series`] (edits in [`super::meeting_series_edit`]), agendas in
//! [`super::meeting_agenda`], practical sheets in [`super::resources`], attendees and dispatches in
//! [`super::meeting_attendees`].

use super::audit::{self, Actor};
use super::{Store, StoreError, StoreResult, Tx, with_db, with_tx};

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

/// What changes on an occurrence.
#[derive(Debug, Clone)]
pub struct MeetingChange {
    pub starts_at: i64,
    pub ends_at: i64,
    pub theme: String,
}

impl Store {
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
}

/// Deletes occurrences with everything hanging from them (agenda, attendees, dispatches, flagged items).
pub(super) async fn delete_meetings(tx: &mut Tx, ids: &[i64]) -> StoreResult<()> {
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
pub(super) const ANNOUNCED: &str = "(sent_sequence IS NOT NULL OR minutes_sent_at IS NOT NULL)";

/// `[old, new]` when a field changed, for the audit entry's `changes`.
pub(super) fn changed<T: PartialEq + serde::Serialize>(
    changes: &mut serde_json::Map<String, serde_json::Value>,
    field: &str,
    old: T,
    new: T,
) {
    if old != new {
        changes.insert(field.into(), serde_json::json!([old, new]));
    }
}
