//! The agenda of a meeting occurrence: its items, in order, each with the practical sheets it links. Every
//! change raises the occurrence's sequence, so invitees get an update; each is audited.

use super::audit::{self, Actor};
use super::meetings::changed;
use super::resources::Resource;
use super::{Store, StoreError, StoreResult, Tx, with_db, with_tx};

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

impl Store {
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
