//! The audit log: who changed what, written in the same transaction as the change itself.

use super::{Store, StoreResult, Tx, with_db, with_tx};

/// Who is acting: a logged-in account, an API token or the command line.
#[derive(Debug, Clone)]
pub struct Actor {
    pub user_id: Option<i64>,
    pub label: String,
}

impl Actor {
    pub fn command_line() -> Actor {
        Actor {
            user_id: None,
            label: "ligne de commande".into(),
        }
    }
}

#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize)]
pub struct AuditEntry {
    pub id: i64,
    pub at: i64,
    pub actor: String,
    pub action: String,
    pub entity: String,
    pub entity_id: Option<i64>,
    pub details: String,
}

/// Appends one line to the audit log inside `tx`.
pub async fn record(
    tx: &mut Tx,
    actor: &Actor,
    action: &str,
    entity: &str,
    entity_id: Option<i64>,
    details: serde_json::Value,
    now: i64,
) -> StoreResult<()> {
    with_tx!(tx, |c| {
        sqlx::query(
        "INSERT INTO audit_log (at, actor, action, entity, entity_id, details) VALUES ($1, $2, $3, $4, $5, $6)"
    )
    .bind(now)
    .bind(&actor.label)
    .bind(action)
    .bind(entity)
    .bind(entity_id)
    .bind(details.to_string())
    .execute(c)
    .await
    .map(|r| r.rows_affected())
    })?;
    Ok(())
}

impl Store {
    /// The latest entries, newest first, optionally for one entity.
    pub async fn list_audit(
        &self,
        entity: Option<(&str, i64)>,
        limit: i64,
    ) -> StoreResult<Vec<AuditEntry>> {
        let (entity, entity_id) = entity.map_or((None, None), |(e, id)| (Some(e), Some(id)));
        Ok(with_db!(&self.db, |p| sqlx::query_as(
            "SELECT id, at, actor, action, entity, entity_id, details FROM audit_log
             WHERE ($1 IS NULL OR (entity = $1 AND entity_id = $2)) ORDER BY id DESC LIMIT $3"
        )
        .bind(entity)
        .bind(entity_id)
        .bind(limit)
        .fetch_all(p)
        .await)?)
    }
}
