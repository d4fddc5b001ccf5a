//! Interactions with a target (mails, calls, letters, meetings...), with the people of its collectivity involved:
//! logged, read newest first, corrected or deleted, each change audited.

use chrono::NaiveDate;

use super::targets::Target;
use super::{Scope, Store, StoreError, StoreResult, Tx, audit, scope_filter, with_db, with_tx};

/// An interaction with a target, with the names of the people involved.
#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize, utoipa::ToSchema)]
pub struct Interaction {
    pub id: i64,
    pub target_id: i64,
    pub kind: String,
    pub occurred_on: NaiveDate,
    pub author_label: String,
    pub summary: String,
    pub outcome: String,
    pub created_at: i64,
}

#[derive(Debug, Clone)]
pub struct NewInteraction {
    pub kind: String,
    pub occurred_on: NaiveDate,
    pub summary: String,
    pub outcome: String,
    pub people: Vec<i64>,
}

/// One interaction with what its edit form needs.
#[derive(Debug, Clone)]
pub struct InteractionEdit {
    pub kind: String,
    pub occurred_on: NaiveDate,
    pub summary: String,
    pub outcome: String,
}

/// Inserts an interaction, links the people involved (who must belong to the target's collectivity) and
/// touches the target, inside `tx`.
pub(crate) async fn insert_interaction(
    tx: &mut Tx,
    target: &Target,
    new: &NewInteraction,
    actor: &audit::Actor,
    now: i64,
) -> StoreResult<i64> {
    let id: i64 = with_tx!(tx, |c| {
        sqlx::query_scalar(
            "INSERT INTO interactions (target_id, kind, occurred_on, author_id, author_label, summary, outcome, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id"
        )
        .bind(target.id)
        .bind(&new.kind)
        .bind(new.occurred_on)
        .bind(actor.user_id)
        .bind(&actor.label)
        .bind(&new.summary)
        .bind(&new.outcome)
        .bind(now)
        .fetch_one(c)
        .await
    })?;
    for person in &new.people {
        let linked = with_tx!(tx, |c| sqlx::query(
            "INSERT INTO interaction_people (interaction_id, person_id)
                 SELECT $1, id FROM people WHERE id = $2 AND organisation_id = $3"
        )
        .bind(id)
        .bind(person)
        .bind(target.organisation_id)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
        if linked == 0 {
            return Err(StoreError::NotFound);
        }
    }
    with_tx!(tx, |c| sqlx::query(
        "UPDATE targets SET updated_at = $2 WHERE id = $1"
    )
    .bind(target.id)
    .bind(now)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(id)
}

impl Store {
    /// Logs an interaction; the people involved must belong to the target's collectivity.
    pub async fn record_interaction(
        &self,
        scope: Scope,
        target_id: i64,
        new: &NewInteraction,
        actor: &audit::Actor,
        now: i64,
    ) -> StoreResult<i64> {
        let target = self
            .target(scope, target_id)
            .await?
            .ok_or(StoreError::NotFound)?;
        let mut tx = self.begin().await?;
        let id = insert_interaction(&mut tx, &target, new, actor, now).await?;
        audit::record(
            &mut tx,
            actor,
            "create",
            "interaction",
            Some(id),
            serde_json::json!({"label": new.summary, "target": target.name, "target_id": target_id, "kind": new.kind}),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Interactions of a target, newest first, each with the names of the people involved.
    pub async fn interactions(
        &self,
        scope: Scope,
        target_id: i64,
    ) -> StoreResult<Vec<(Interaction, Vec<String>)>> {
        let sql = format!(
            "SELECT i.id, i.target_id, i.kind, i.occurred_on, i.author_label, i.summary, i.outcome, i.created_at
             FROM interactions i JOIN targets t ON t.id = i.target_id JOIN organisations o ON o.id = t.organisation_id
             WHERE i.target_id = $1 AND {} ORDER BY i.occurred_on DESC, i.id DESC",
            scope_filter!("2")
        );
        let rows: Vec<Interaction> = with_db!(&self.db, |p| sqlx::query_as(&sql)
            .bind(target_id)
            .bind(scope.relay_user())
            .fetch_all(p)
            .await)?;
        let names: Vec<(i64, String)> = with_db!(&self.db, |p| sqlx::query_as(
            "SELECT ip.interaction_id, p.full_name FROM interaction_people ip
             JOIN interactions i ON i.id = ip.interaction_id JOIN people p ON p.id = ip.person_id
             WHERE i.target_id = $1 ORDER BY p.full_name"
        )
        .bind(target_id)
        .fetch_all(p)
        .await)?;
        Ok(rows
            .into_iter()
            .map(|row| {
                let people = names
                    .iter()
                    .filter(|(id, _)| *id == row.id)
                    .map(|(_, n)| n.clone())
                    .collect();
                (row, people)
            })
            .collect())
    }

    /// One interaction and its target, if the target is inside the scope.
    pub async fn interaction(
        &self,
        scope: Scope,
        id: i64,
    ) -> StoreResult<Option<(Interaction, Target)>> {
        let sql =
            "SELECT id, target_id, kind, occurred_on, author_label, summary, outcome, created_at
                   FROM interactions WHERE id = $1";
        let row: Option<Interaction> = with_db!(&self.db, |p| sqlx::query_as(sql)
            .bind(id)
            .fetch_optional(p)
            .await)?;
        let Some(row) = row else { return Ok(None) };
        Ok(self
            .target(scope, row.target_id)
            .await?
            .map(|target| (row, target)))
    }

    /// Corrects an interaction (kind, date, summary, outcome); the audit keeps what changed.
    pub async fn update_interaction(
        &self,
        scope: Scope,
        id: i64,
        edit: &InteractionEdit,
        actor: &audit::Actor,
        now: i64,
    ) -> StoreResult<Target> {
        let (before, target) = self
            .interaction(scope, id)
            .await?
            .ok_or(StoreError::NotFound)?;
        let mut changes = serde_json::Map::new();
        let mut note = |field: &str, old: String, new: String| {
            if old != new {
                changes.insert(field.into(), serde_json::json!([old, new]));
            }
        };
        note("kind", before.kind.clone(), edit.kind.clone());
        note(
            "occurred_on",
            before.occurred_on.to_string(),
            edit.occurred_on.to_string(),
        );
        note("summary", before.summary.clone(), edit.summary.clone());
        note("outcome", before.outcome.clone(), edit.outcome.clone());
        if changes.is_empty() {
            return Ok(target);
        }
        let mut tx = self.begin().await?;
        with_tx!(&mut tx, |c| {
            sqlx::query(
            "UPDATE interactions SET kind = $2, occurred_on = $3, summary = $4, outcome = $5 WHERE id = $1"
        )
        .bind(id)
        .bind(&edit.kind)
        .bind(edit.occurred_on)
        .bind(&edit.summary)
        .bind(&edit.outcome)
        .execute(c)
        .await
        .map(|r| r.rows_affected())
        })?;
        audit::record(
            &mut tx,
            actor,
            "update",
            "interaction",
            Some(id),
            serde_json::json!({"label": before.summary, "target": target.name, "changes": changes}),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(target)
    }

    /// Deletes an interaction logged by mistake.
    pub async fn delete_interaction(
        &self,
        scope: Scope,
        id: i64,
        actor: &audit::Actor,
        now: i64,
    ) -> StoreResult<Target> {
        let (before, target) = self
            .interaction(scope, id)
            .await?
            .ok_or(StoreError::NotFound)?;
        let mut tx = self.begin().await?;
        for sql in [
            "DELETE FROM interaction_people WHERE interaction_id = $1",
            "DELETE FROM interactions WHERE id = $1",
        ] {
            with_tx!(&mut tx, |c| sqlx::query(sql)
                .bind(id)
                .execute(c)
                .await
                .map(|r| r.rows_affected()))?;
        }
        audit::record(
            &mut tx,
            actor,
            "delete",
            "interaction",
            Some(id),
            serde_json::json!({
                "label": before.summary,
                "target": target.name,
                "kind": before.kind,
                "occurred_on": before.occurred_on.to_string(),
            }),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(target)
    }
}
