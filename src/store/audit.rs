//! The audit log: who changed what, written in the same transaction as the change itself, and read back
//! page by page with filters for the staff page that tells it as sentences.

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

    /// One page of the log, newest first, with the number of entries the filters keep.
    pub async fn audit_page(
        &self,
        filter: &AuditFilter,
        limit: i64,
        offset: i64,
    ) -> StoreResult<(Vec<AuditEntry>, i64)> {
        const WHERE: &str = "WHERE ($1 IS NULL OR actor = $1) AND ($2 IS NULL OR entity = $2 OR entity = $3)
             AND ($4 IS NULL OR action = $4) AND ($5 IS NULL OR at >= $5) AND ($6 IS NULL OR at < $6)";
        let alias = filter.entity.as_deref().map(|e| match e {
            // Lists were recorded as `mailing_list` before the convention named them `list`.
            "list" => "mailing_list",
            other => other,
        });
        let entries = with_db!(&self.db, |p| sqlx::query_as(&format!(
            "SELECT id, at, actor, action, entity, entity_id, details FROM audit_log {WHERE}
             ORDER BY id DESC LIMIT $7 OFFSET $8"
        ))
        .bind(filter.actor.as_deref())
        .bind(filter.entity.as_deref())
        .bind(alias)
        .bind(filter.action.as_deref())
        .bind(filter.from)
        .bind(filter.until)
        .bind(limit)
        .bind(offset)
        .fetch_all(p)
        .await)?;
        let total: i64 = with_db!(&self.db, |p| sqlx::query_scalar(&format!(
            "SELECT COUNT(*) FROM audit_log {WHERE}"
        ))
        .bind(filter.actor.as_deref())
        .bind(filter.entity.as_deref())
        .bind(alias)
        .bind(filter.action.as_deref())
        .bind(filter.from)
        .bind(filter.until)
        .fetch_one(p)
        .await)?;
        Ok((entries, total))
    }

    /// Everyone who appears in the log, for the page's filter.
    pub async fn audit_actors(&self) -> StoreResult<Vec<String>> {
        Ok(with_db!(&self.db, |p| sqlx::query_scalar(
            "SELECT DISTINCT actor FROM audit_log ORDER BY actor"
        )
        .fetch_all(p)
        .await)?)
    }

    /// The current name of an object the log mentions, for entries written before they carried a label.
    pub async fn audit_object_name(&self, entity: &str, id: i64) -> StoreResult<Option<String>> {
        let sql = match entity {
            "target" => {
                "SELECT o.name FROM targets t JOIN organisations o ON o.id = t.organisation_id WHERE t.id = $1"
            }
            "person" => "SELECT full_name FROM people WHERE id = $1",
            "organisation" => "SELECT name FROM organisations WHERE id = $1",
            "newsletter_issue" => "SELECT title FROM newsletter_issues WHERE id = $1",
            "list" | "mailing_list" => "SELECT name FROM mailing_lists WHERE id = $1",
            "subscription" => {
                "SELECT l.name FROM subscriptions s JOIN mailing_lists l ON l.id = s.list_id WHERE s.id = $1"
            }
            _ => return Ok(None),
        };
        Ok(with_db!(&self.db, |p| sqlx::query_scalar(sql)
            .bind(id)
            .fetch_optional(p)
            .await)?)
    }
}

/// Filters of the audit page; `None` means "any". Times are epoch milliseconds, `until` excluded.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub actor: Option<String>,
    pub entity: Option<String>,
    pub action: Option<String>,
    pub from: Option<i64>,
    pub until: Option<i64>,
}
