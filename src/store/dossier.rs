//! Everything the target page shows, read in one go: the target and its membership, its contacts, its
//! interactions with the people involved, its stage history and its local needs.
//!
//! The scope is checked once, on the target itself; the other reads hang off that target's id, so they need
//! neither the scope's subquery nor joins to reach the collectivity. All of them run on one connection
//! taken once from the pool: on PostgreSQL every query is a round trip to another process, and this page
//! was the slowest of the web app under load.

use chrono::NaiveDate;

use super::interactions::Interaction;
use super::local_needs::LocalNeed;
use super::memberships::Membership;
use super::people::{Person, person_select};
use super::stage_changes::StageChange;
use super::targets::{Target, target_columns, target_from};
use super::{Scope, Store, StoreResult, scope_filter, with_db};

/// A target with everything its page shows.
#[derive(Debug, Clone)]
pub struct TargetDossier {
    pub target: Target,
    pub contacts: Vec<Person>,
    /// Newest first, each with the names of the people involved.
    pub interactions: Vec<(Interaction, Vec<String>)>,
    pub history: Vec<StageChange>,
    pub needs: Vec<LocalNeed>,
    /// The membership and its representatives' ids, once the collectivity has joined.
    pub membership: Option<(Membership, Vec<i64>)>,
}

#[derive(sqlx::FromRow)]
struct TargetRow {
    #[sqlx(flatten)]
    target: Target,
    membership_id: Option<i64>,
    joined_on: Option<NaiveDate>,
    themes: Option<String>,
}

#[derive(sqlx::FromRow)]
struct InteractionRow {
    #[sqlx(flatten)]
    interaction: Interaction,
    person_name: Option<String>,
}

const TARGET_SQL: &str = concat!(
    "SELECT ",
    target_columns!(),
    ", m.id AS membership_id, m.joined_on, m.themes FROM ",
    target_from!(),
    " LEFT JOIN memberships m ON m.organisation_id = t.organisation_id WHERE t.id = $1 AND ",
    scope_filter!("2")
);

/// One row per interaction and person involved (one with no name when nobody was), newest first.
const INTERACTIONS_SQL: &str =
    "SELECT i.id, i.target_id, i.kind, i.occurred_on, i.author_label, i.summary,
        i.outcome, i.created_at, p.full_name AS person_name
    FROM interactions i LEFT JOIN interaction_people ip ON ip.interaction_id = i.id
    LEFT JOIN people p ON p.id = ip.person_id
    WHERE i.target_id = $1 ORDER BY i.occurred_on DESC, i.id DESC, p.full_name";

const HISTORY_SQL: &str =
    "SELECT id, target_id, from_stage, to_stage, reason, changed_at, author_label
    FROM stage_changes WHERE target_id = $1 ORDER BY changed_at DESC, id DESC";

const NEEDS_SQL: &str = "SELECT id, description, author_label, created_at FROM local_needs
    WHERE target_id = $1 ORDER BY created_at DESC";

const REPRESENTATIVES_SQL: &str =
    "SELECT person_id FROM membership_representatives WHERE membership_id = $1 ORDER BY person_id";

impl Store {
    /// The target `id` with everything its page shows, or `None` when it does not exist in `scope`.
    pub async fn target_dossier(
        &self,
        scope: Scope,
        id: i64,
    ) -> StoreResult<Option<TargetDossier>> {
        let contacts_sql = format!(
            "{} WHERE p.organisation_id = $1 ORDER BY p.full_name",
            person_select(self.is_postgres())
        );
        Ok(with_db!(&self.db, |pool| {
            let mut conn = pool.acquire().await?;
            let found: Option<TargetRow> = sqlx::query_as(TARGET_SQL)
                .bind(id)
                .bind(scope.relay_user())
                .fetch_optional(&mut *conn)
                .await?;
            match found {
                None => Ok::<_, sqlx::Error>(None),
                Some(row) => {
                    let contacts = sqlx::query_as(&contacts_sql)
                        .bind(row.target.organisation_id)
                        .fetch_all(&mut *conn)
                        .await?;
                    let interaction_rows: Vec<InteractionRow> = sqlx::query_as(INTERACTIONS_SQL)
                        .bind(id)
                        .fetch_all(&mut *conn)
                        .await?;
                    let history = sqlx::query_as(HISTORY_SQL)
                        .bind(id)
                        .fetch_all(&mut *conn)
                        .await?;
                    let needs = sqlx::query_as(NEEDS_SQL)
                        .bind(id)
                        .fetch_all(&mut *conn)
                        .await?;
                    let membership = match (row.membership_id, row.joined_on) {
                        (Some(membership_id), Some(joined_on)) => {
                            let representatives = sqlx::query_scalar(REPRESENTATIVES_SQL)
                                .bind(membership_id)
                                .fetch_all(&mut *conn)
                                .await?;
                            let membership = Membership {
                                id: membership_id,
                                organisation_id: row.target.organisation_id,
                                joined_on,
                                themes: row.themes.unwrap_or_default(),
                            };
                            Some((membership, representatives))
                        }
                        _ => None,
                    };
                    Ok(Some(TargetDossier {
                        target: row.target,
                        contacts,
                        interactions: group_people(interaction_rows),
                        history,
                        needs,
                        membership,
                    }))
                }
            }
        })?)
    }
}

/// Folds the rows of one interaction (one per person involved, adjacent thanks to the order) into one.
fn group_people(rows: Vec<InteractionRow>) -> Vec<(Interaction, Vec<String>)> {
    let mut grouped: Vec<(Interaction, Vec<String>)> = Vec::new();
    for row in rows {
        match grouped.last_mut() {
            Some((last, people)) if last.id == row.interaction.id => people.extend(row.person_name),
            _ => grouped.push((row.interaction, row.person_name.into_iter().collect())),
        }
    }
    grouped
}
