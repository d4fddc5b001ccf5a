//! The targets list: its filters and sort orders, turned into SQL that only names the active filters so
//! both databases can use their indexes, and one page read with its total.

use chrono::NaiveDate;

use super::targets::{TARGET_SELECT, Target};
use super::{Scope, Store, StoreResult, with_db};

/// Filters of the targets list; `None` means "any".
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct TargetFilter {
    pub q: Option<String>,
    pub stage: Option<String>,
    pub region: Option<String>,
    pub departement: Option<String>,
    pub scale: Option<String>,
    pub owner: Option<i64>,
    pub colour: Option<String>,
    pub source: Option<String>,
    /// Only targets whose next action is due on or before this date.
    pub due_by: Option<NaiveDate>,
    /// Only the open targets (neither member nor declined) whose next action was due before this date: the
    /// dashboard's "en retard" count, as a list.
    pub overdue_on: Option<NaiveDate>,
}

/// Sort orders offered by the list; each maps to a fixed ORDER BY, never to user text.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TargetSort {
    #[default]
    Name,
    Stage,
    NextActionDate,
    Population,
    Updated,
}

impl TargetSort {
    fn order_by(self) -> &'static str {
        match self {
            TargetSort::Name => "o.name, o.id",
            TargetSort::Stage => {
                "CASE t.stage WHEN 'identified' THEN 0 WHEN 'contacted' THEN 1 WHEN 'in_discussion' THEN 2 \
                 WHEN 'survey_sent' THEN 3 WHEN 'survey_answered' THEN 4 WHEN 'member' THEN 5 \
                 WHEN 'declined' THEN 6 ELSE 7 END, o.name, t.id"
            }
            // Written so PostgreSQL can follow its index order (ascending puts nulls last there).
            TargetSort::NextActionDate => "t.next_action_date NULLS LAST, t.id",
            TargetSort::Population => {
                "CASE WHEN o.population IS NULL THEN 1 ELSE 0 END, o.population DESC, t.id"
            }
            TargetSort::Updated => "t.updated_at DESC, t.id DESC",
        }
    }
}

/// A value bound to a filter placeholder.
enum FilterValue<'a> {
    Text(&'a str),
    Owned(String),
    Id(i64),
    Date(NaiveDate),
}

impl TargetFilter {
    /// The WHERE conditions of the filters that are set, with their values in placeholder order from `$1`.
    /// Only the active filters appear in the SQL, so the databases can use their indexes (an
    /// `($n IS NULL OR …)` form would force a scan of every target).
    fn conditions(&self, scope: Scope) -> (String, Vec<FilterValue<'_>>) {
        let mut values: Vec<FilterValue<'_>> = Vec::new();
        let mut conditions: Vec<String> = Vec::new();
        let text_filters: [(&str, &Option<String>); 6] = [
            ("t.stage = $?", &self.stage),
            ("t.region_code = $?", &self.region),
            ("t.departement_code = $?", &self.departement),
            ("t.scale = $?", &self.scale),
            ("t.political_colour = $?", &self.colour),
            ("t.lead_source = $?", &self.source),
        ];
        for (sql, value) in text_filters {
            if let Some(value) = value.as_deref().filter(|v| !v.is_empty()) {
                values.push(FilterValue::Text(value));
                conditions.push(sql.replace("$?", &format!("${}", values.len())));
            }
        }
        if let Some(q) = self
            .q
            .as_deref()
            .map(crate::domain::search_query)
            .filter(|q| !q.is_empty())
        {
            values.push(FilterValue::Owned(format!("%{q}%")));
            conditions.push(format!("o.search_text LIKE ${}", values.len()));
        }
        if let Some(owner) = self.owner {
            values.push(FilterValue::Id(owner));
            conditions.push(format!("t.owner_id = ${}", values.len()));
        }
        if let Some(due_by) = self.due_by {
            values.push(FilterValue::Date(due_by));
            conditions.push(format!("t.next_action_date <= ${}", values.len()));
        }
        if let Some(today) = self.overdue_on {
            values.push(FilterValue::Date(today));
            conditions.push(format!(
                "t.next_action_date < ${} AND t.stage NOT IN ('declined', 'member')",
                values.len()
            ));
        }
        if let Scope::Relay(user) = scope {
            values.push(FilterValue::Id(user));
            conditions.push(format!(
                "t.departement_code IN (SELECT departement_code FROM user_territories WHERE user_id = ${})",
                values.len()
            ));
        }
        let sql = if conditions.is_empty() {
            "TRUE".to_string()
        } else {
            conditions.join(" AND ")
        };
        (sql, values)
    }
}

impl Store {
    /// One page of targets and the total count for the same filters.
    pub async fn list_targets(
        &self,
        scope: Scope,
        filter: &TargetFilter,
        sort: TargetSort,
        limit: i64,
        offset: i64,
    ) -> StoreResult<(Vec<Target>, i64)> {
        let (conditions, values) = filter.conditions(scope);
        let n = values.len();
        let order = sort.order_by();
        let from = if conditions.contains("o.") || order.contains("o.") {
            "targets t JOIN organisations o ON o.id = t.organisation_id"
        } else {
            "targets t"
        };
        let rows_sql = if self.is_postgres() {
            // PostgreSQL walks an index in the page's order and joins only the rows it keeps.
            format!(
                "{TARGET_SELECT} WHERE {conditions} ORDER BY {order} LIMIT ${} OFFSET ${}",
                n + 1,
                n + 2
            )
        } else {
            // SQLite would join every matching row before sorting: the page's ids are chosen from indexes
            // first (the région, département, scale and stage are on the target row), then only those rows
            // are read whole. The collectivity is joined only when a filter or the order needs it.
            format!(
                "{TARGET_SELECT} WHERE t.id IN (SELECT t.id FROM {from} WHERE {conditions} ORDER BY {order} LIMIT ${} OFFSET ${})
                 ORDER BY {order}",
                n + 1,
                n + 2
            )
        };
        let count_from = if conditions.contains("o.") {
            from
        } else {
            "targets t"
        };
        let count_sql = format!("SELECT COUNT(*) FROM {count_from} WHERE {conditions}");
        macro_rules! bind_values {
            ($query:expr) => {{
                let mut query = $query;
                for value in &values {
                    query = match value {
                        FilterValue::Text(text) => query.bind(*text),
                        FilterValue::Owned(text) => query.bind(text.as_str()),
                        FilterValue::Id(id) => query.bind(*id),
                        FilterValue::Date(date) => query.bind(*date),
                    };
                }
                query
            }};
        }
        // Both queries on one connection: the pool checks a connection at each release with a round trip.
        // Counting separately is cheaper than a window over the rows: the count comes from indexes alone.
        Ok(with_db!(&self.db, |p| {
            let mut conn = p.acquire().await?;
            let rows = bind_values!(sqlx::query_as(&rows_sql))
                .bind(limit)
                .bind(offset)
                .fetch_all(&mut *conn)
                .await?;
            let total = bind_values!(sqlx::query_scalar(&count_sql))
                .fetch_one(&mut *conn)
                .await?;
            Ok::<_, sqlx::Error>((rows, total))
        })?)
    }
}
