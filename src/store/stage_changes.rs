//! Stage changes of a target: each move is appended to its history, never overwritten, and becoming a
//! member opens a membership.

use chrono::NaiveDate;

use super::{Scope, Store, StoreError, StoreResult, Tx, audit, scope_filter, with_db, with_tx};
use crate::domain::Stage;

/// A stage change as the history shows it.
#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize, utoipa::ToSchema)]
pub struct StageChange {
    pub id: i64,
    pub target_id: i64,
    pub from_stage: Option<Stage>,
    pub to_stage: Stage,
    pub reason: String,
    pub changed_at: i64,
    pub author_label: String,
}

/// How a stage change is asked for.
#[derive(Debug, Clone)]
pub struct StageMove {
    pub to: Stage,
    /// Required when declining; kept for any move.
    pub reason: String,
    pub on_hold_until: Option<NaiveDate>,
    /// The date recorded as join date when the move makes the target a member.
    pub today: NaiveDate,
}

pub(crate) async fn insert_stage_change(
    tx: &mut Tx,
    target_id: i64,
    from: Option<Stage>,
    to: Stage,
    reason: &str,
    actor: &audit::Actor,
    now: i64,
) -> StoreResult<()> {
    with_tx!(tx, |c| {
        sqlx::query(
        "INSERT INTO stage_changes (target_id, from_stage, to_stage, reason, changed_at, author_id, author_label)
         VALUES ($1, $2, $3, $4, $5, $6, $7)"
    )
    .bind(target_id)
    .bind(from.map(Stage::as_str))
    .bind(to.as_str())
    .bind(reason)
    .bind(now)
    .bind(actor.user_id)
    .bind(&actor.label)
    .execute(c)
    .await
    .map(|r| r.rows_affected())
    })?;
    Ok(())
}

impl Store {
    /// Moves a target to another stage, keeping the change; becoming a member opens a membership.
    #[tracing::instrument(skip(self, actor, change), fields(to = %change.to))]
    pub async fn change_stage(
        &self,
        scope: Scope,
        id: i64,
        change: &StageMove,
        actor: &audit::Actor,
        now: i64,
    ) -> StoreResult<()> {
        let Some(target) = self.target(scope, id).await? else {
            return Err(StoreError::NotFound);
        };
        let label = target.name;
        let mut tx = self.begin().await?;
        let sql = format!(
            "SELECT stage FROM targets WHERE id = $1{}",
            tx.lock_clause()
        );
        let from: Stage = with_tx!(&mut tx, |c| sqlx::query_scalar(&sql)
            .bind(id)
            .fetch_one(c)
            .await)?;
        if from == change.to {
            return Ok(());
        }
        let declined_reason = if change.to == Stage::Declined {
            change.reason.as_str()
        } else {
            ""
        };
        let on_hold_until = if change.to == Stage::OnHold {
            change.on_hold_until
        } else {
            None
        };
        with_tx!(&mut tx, |c| {
            sqlx::query(
            "UPDATE targets SET stage = $2, declined_reason = $3, on_hold_until = $4, updated_at = $5 WHERE id = $1"
        )
        .bind(id)
        .bind(change.to.as_str())
        .bind(declined_reason)
        .bind(on_hold_until)
        .bind(now)
        .execute(c)
        .await
        .map(|r| r.rows_affected())
        })?;
        insert_stage_change(
            &mut tx,
            id,
            Some(from),
            change.to,
            &change.reason,
            actor,
            now,
        )
        .await?;
        if change.to == Stage::Member {
            with_tx!(&mut tx, |c| {
                sqlx::query(
                "INSERT INTO memberships (organisation_id, joined_on, created_at)
                 SELECT organisation_id, $2, $3 FROM targets WHERE id = $1 ON CONFLICT (organisation_id) DO NOTHING"
            )
            .bind(id)
            .bind(change.today)
            .bind(now)
            .execute(c)
            .await
            .map(|r| r.rows_affected())
            })?;
        }
        audit::record(
            &mut tx,
            actor,
            "stage",
            "target",
            Some(id),
            serde_json::json!({"label": label, "from": from, "to": change.to, "reason": change.reason}),
            now,
        )
        .await?;
        tx.commit().await
    }

    pub async fn stage_history(
        &self,
        scope: Scope,
        target_id: i64,
    ) -> StoreResult<Vec<StageChange>> {
        let sql = format!(
            "SELECT s.id, s.target_id, s.from_stage, s.to_stage, s.reason, s.changed_at, s.author_label
             FROM stage_changes s JOIN targets t ON t.id = s.target_id JOIN organisations o ON o.id = t.organisation_id
             WHERE s.target_id = $1 AND {} ORDER BY s.changed_at DESC, s.id DESC",
            scope_filter!("2")
        );
        Ok(with_db!(&self.db, |p| sqlx::query_as(&sql)
            .bind(target_id)
            .bind(scope.relay_user())
            .fetch_all(p)
            .await)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stored code the enums do not know stops the read with an error naming the column and the code,
    /// instead of reaching a page as text.
    #[tokio::test]
    async fn unknown_codes_in_a_row_are_refused() {
        let pool = sqlx::SqlitePool::connect("sqlite::memory:").await.unwrap();
        let row = |to_stage: &str| {
            format!(
                "SELECT 1 AS id, 2 AS target_id, NULL AS from_stage, '{to_stage}' AS to_stage, '' AS reason,
                        0 AS changed_at, 'Camille' AS author_label"
            )
        };
        let change: StageChange = sqlx::query_as(&row("on_hold"))
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!((change.from_stage, change.to_stage), (None, Stage::OnHold));
        let error = sqlx::query_as::<_, StageChange>(&row("perdue"))
            .fetch_one(&pool)
            .await
            .unwrap_err()
            .to_string();
        assert!(error.contains("to_stage"), "{error}");
        assert!(error.contains("unknown Stage code \"perdue\""), "{error}");
        // A French label is for people: a row must hold the code itself.
        assert!(
            sqlx::query_as::<_, StageChange>(&row("En pause"))
                .fetch_one(&pool)
                .await
                .is_err()
        );
    }
}
