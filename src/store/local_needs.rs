//! Local needs noted on a target by staff, appended and audited.

use super::{Scope, Store, StoreError, StoreResult, audit, scope_filter, with_db, with_tx};

#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize)]
pub struct LocalNeed {
    pub id: i64,
    pub description: String,
    pub author_label: String,
    pub created_at: i64,
}

impl Store {
    pub async fn add_local_need(
        &self,
        scope: Scope,
        target_id: i64,
        description: &str,
        actor: &audit::Actor,
        now: i64,
    ) -> StoreResult<i64> {
        let target = self
            .target(scope, target_id)
            .await?
            .ok_or(StoreError::NotFound)?;
        let mut tx = self.begin().await?;
        let id: i64 = with_tx!(&mut tx, |c| {
            sqlx::query_scalar(
            "INSERT INTO local_needs (target_id, description, author_id, author_label, created_at)
             VALUES ($1, $2, $3, $4, $5) RETURNING id"
        )
        .bind(target_id)
        .bind(description)
        .bind(actor.user_id)
        .bind(&actor.label)
        .bind(now)
        .fetch_one(c)
        .await
        })?;
        audit::record(
            &mut tx,
            actor,
            "local_need",
            "target",
            Some(target_id),
            serde_json::json!({"label": target.name, "need": id, "description": description}),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(id)
    }

    pub async fn local_needs(&self, scope: Scope, target_id: i64) -> StoreResult<Vec<LocalNeed>> {
        let sql = format!(
            "SELECT n.id, n.description, n.author_label, n.created_at FROM local_needs n
             JOIN targets t ON t.id = n.target_id JOIN organisations o ON o.id = t.organisation_id
             WHERE n.target_id = $1 AND {} ORDER BY n.created_at DESC",
            scope_filter!("2")
        );
        Ok(with_db!(&self.db, |p| sqlx::query_as(&sql)
            .bind(target_id)
            .bind(scope.relay_user())
            .fetch_all(p)
            .await)?)
    }
}
