//! Targets of the outreach pipeline: the list with filters, one target with its history, stage changes,
//! edits of the follow-up fields, interactions, local needs and memberships. Nothing is overwritten: stage
//! changes and interactions are appended, and every edit leaves its before/after in the audit log.

use chrono::NaiveDate;

use super::organisations::{NewOrganisation, find_or_insert_organisation};
use super::people::{NewPerson, insert_person};
use super::{Scope, Store, StoreError, StoreResult, Tx, audit, scope_filter, with_db, with_tx};
use crate::domain::{LeadSource, PoliticalColour, Priority, Scale, Stage};

/// A target as lists, the board and the API show it (its collectivity joined in).
#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize, utoipa::ToSchema)]
pub struct Target {
    pub id: i64,
    pub organisation_id: i64,
    pub name: String,
    pub collectivity_kind: Option<String>,
    pub official_code: Option<String>,
    pub departement_code: Option<String>,
    pub region_code: Option<String>,
    pub population: Option<i64>,
    pub scale: Option<Scale>,
    pub stage: Stage,
    pub declined_reason: String,
    pub on_hold_until: Option<NaiveDate>,
    pub owner_id: Option<i64>,
    pub owner_name: Option<String>,
    pub political_colour: PoliticalColour,
    /// The Ministry's nuance as staff wrote it ("Divers gauche", "LDVG"), if given.
    pub political_nuance: Option<String>,
    pub lead_source: LeadSource,
    pub priority: Priority,
    pub next_action: String,
    pub next_action_date: Option<NaiveDate>,
    pub has_squats: bool,
    pub notes: String,
    pub created_at: i64,
    pub updated_at: i64,
}

/// The columns of a [`Target`], read from [`target_from!`] (macros, so `concat!` can compose queries).
macro_rules! target_columns {
    () => {
        "t.id, t.organisation_id, o.name, o.collectivity_kind, o.official_code,
        o.departement_code, o.region_code, o.population, o.scale, t.stage, t.declined_reason, t.on_hold_until,
        t.owner_id, u.name AS owner_name, t.political_colour, t.political_nuance, t.lead_source, t.priority, t.next_action,
        t.next_action_date, t.has_squats, t.notes, t.created_at, t.updated_at"
    };
}
macro_rules! target_from {
    () => {
        "targets t JOIN organisations o ON o.id = t.organisation_id LEFT JOIN users u ON u.id = t.owner_id"
    };
}
pub(crate) use {target_columns, target_from};

const TARGET_SELECT: &str = concat!("SELECT ", target_columns!(), " FROM ", target_from!());

/// The follow-up fields staff edit on a target.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, PartialEq)]
pub struct TargetFields {
    pub owner_id: Option<i64>,
    pub political_colour: PoliticalColour,
    /// The nuance as written; when given, `political_colour` is the colour it maps to.
    pub political_nuance: Option<String>,
    pub lead_source: LeadSource,
    pub priority: Priority,
    pub next_action: String,
    pub next_action_date: Option<NaiveDate>,
    pub has_squats: bool,
    pub notes: String,
}

/// A target nobody has qualified yet: colour unknown, source "other", normal priority.
impl Default for TargetFields {
    fn default() -> Self {
        TargetFields {
            owner_id: None,
            political_colour: PoliticalColour::Unknown,
            political_nuance: None,
            lead_source: LeadSource::Other,
            priority: Priority::Normal,
            next_action: String::new(),
            next_action_date: None,
            has_squats: false,
            notes: String::new(),
        }
    }
}

impl Target {
    pub fn fields(&self) -> TargetFields {
        TargetFields {
            owner_id: self.owner_id,
            political_colour: self.political_colour,
            political_nuance: self.political_nuance.clone(),
            lead_source: self.lead_source,
            priority: self.priority,
            next_action: self.next_action.clone(),
            next_action_date: self.next_action_date,
            has_squats: self.has_squats,
            notes: self.notes.clone(),
        }
    }
}

/// A new target: its collectivity, its first stage and follow-up fields, and contacts met on the way in.
#[derive(Debug, Clone)]
pub struct NewTarget {
    pub organisation: NewOrganisation,
    pub stage: Stage,
    pub fields: TargetFields,
    pub contacts: Vec<NewPerson>,
}

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

#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize)]
pub struct LocalNeed {
    pub id: i64,
    pub description: String,
    pub author_label: String,
    pub created_at: i64,
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

/// Inserts a target (and its collectivity and contacts when new) inside `tx`, with its first stage change.
pub(crate) async fn insert_target(
    tx: &mut Tx,
    new: &NewTarget,
    actor: &audit::Actor,
    now: i64,
) -> StoreResult<i64> {
    let organisation_id = find_or_insert_organisation(tx, &new.organisation, now).await?;
    let f = &new.fields;
    let id: i64 = with_tx!(tx, |c| {
        sqlx::query_scalar(
        "INSERT INTO targets (organisation_id, stage, owner_id, political_colour, lead_source, priority, next_action,
                              next_action_date, has_squats, notes, created_at, updated_at, political_nuance)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11, $12) RETURNING id"
    )
    .bind(organisation_id)
    .bind(new.stage.as_str())
    .bind(f.owner_id)
    .bind(f.political_colour.as_str())
    .bind(f.lead_source.as_str())
    .bind(f.priority.as_str())
    .bind(&f.next_action)
    .bind(f.next_action_date)
    .bind(f.has_squats)
    .bind(&f.notes)
    .bind(now)
    .bind(&f.political_nuance)
    .fetch_one(c)
    .await
    .map_err(|e| match StoreError::from_write(e) {
        StoreError::Conflict(_) => StoreError::Conflict(format!("{} est déjà une cible", new.organisation.name)),
        other => other,
    })
    })?;
    insert_stage_change(tx, id, None, new.stage, "", actor, now).await?;
    for contact in &new.contacts {
        let contact = NewPerson {
            organisation_id: Some(organisation_id),
            ..contact.clone()
        };
        insert_person(tx, &contact, now).await?;
    }
    audit::record(
        tx,
        actor,
        "create",
        "target",
        Some(id),
        // The same details as the batched import writes (store/import_batch.rs): change both together.
        serde_json::json!({"name": new.organisation.name, "stage": new.stage}),
        now,
    )
    .await?;
    Ok(id)
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

/// Replaces the follow-up fields of a target inside `tx`, auditing what changed.
pub(crate) async fn update_target_fields(
    tx: &mut Tx,
    id: i64,
    before: &TargetFields,
    after: &TargetFields,
    actor: &audit::Actor,
    now: i64,
) -> StoreResult<()> {
    if before == after {
        return Ok(());
    }
    // What changed, field by field, as [before, after].
    let (old, new) = (serde_json::json!(before), serde_json::json!(after));
    let mut changes = serde_json::Map::new();
    if let (Some(old), Some(new)) = (old.as_object(), new.as_object()) {
        for (field, value) in new {
            if old.get(field) != Some(value) {
                changes.insert(field.clone(), serde_json::json!([old.get(field), value]));
            }
        }
    }
    let label: String = with_tx!(tx, |c| {
        sqlx::query_scalar(
        "SELECT o.name FROM targets t JOIN organisations o ON o.id = t.organisation_id WHERE t.id = $1"
    )
    .bind(id)
    .fetch_one(c)
    .await
    })?;
    with_tx!(tx, |c| {
        sqlx::query(
        "UPDATE targets SET owner_id = $2, political_colour = $3, lead_source = $4, priority = $5, next_action = $6,
                next_action_date = $7, has_squats = $8, notes = $9, updated_at = $10, political_nuance = $11
         WHERE id = $1"
    )
    .bind(id)
    .bind(after.owner_id)
    .bind(after.political_colour.as_str())
    .bind(after.lead_source.as_str())
    .bind(after.priority.as_str())
    .bind(&after.next_action)
    .bind(after.next_action_date)
    .bind(after.has_squats)
    .bind(&after.notes)
    .bind(now)
    .bind(&after.political_nuance)
    .execute(c)
    .await
    .map(|r| r.rows_affected())
    .map_err(StoreError::from_write)
    })?;
    audit::record(
        tx,
        actor,
        "update",
        "target",
        Some(id),
        serde_json::json!({"label": label, "changes": changes}),
        now,
    )
    .await
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

/// Reads one target inside `tx` (whatever the scope), for work that continues in the same transaction.
pub(crate) async fn target_in(tx: &mut Tx, id: i64) -> StoreResult<Target> {
    let sql = format!("{TARGET_SELECT} WHERE t.id = $1");
    Ok(with_tx!(tx, |c| sqlx::query_as(&sql)
        .bind(id)
        .fetch_one(c)
        .await)?)
}

impl Store {
    #[tracing::instrument(skip_all)]
    pub async fn create_target(
        &self,
        new: &NewTarget,
        actor: &audit::Actor,
        now: i64,
    ) -> StoreResult<i64> {
        let mut tx = self.begin().await?;
        let id = insert_target(&mut tx, new, actor, now).await?;
        tx.commit().await?;
        Ok(id)
    }

    pub async fn target(&self, scope: Scope, id: i64) -> StoreResult<Option<Target>> {
        let sql = format!("{TARGET_SELECT} WHERE t.id = $1 AND {}", scope_filter!("2"));
        Ok(with_db!(&self.db, |p| sqlx::query_as(&sql)
            .bind(id)
            .bind(scope.relay_user())
            .fetch_optional(p)
            .await)?)
    }

    /// The target of a collectivity, looked up by its official code, whatever the scope (for imports).
    pub async fn target_by_official_code(
        &self,
        collectivity_kind: &str,
        code: &str,
    ) -> StoreResult<Option<Target>> {
        let sql =
            format!("{TARGET_SELECT} WHERE o.collectivity_kind = $1 AND o.official_code = $2");
        Ok(with_db!(&self.db, |p| sqlx::query_as(&sql)
            .bind(collectivity_kind)
            .bind(code)
            .fetch_optional(p)
            .await)?)
    }

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

    /// Saves the follow-up fields; only what differs is written and audited.
    pub async fn update_target(
        &self,
        scope: Scope,
        id: i64,
        after: &TargetFields,
        actor: &audit::Actor,
        now: i64,
    ) -> StoreResult<()> {
        let before = self
            .target(scope, id)
            .await?
            .ok_or(StoreError::NotFound)?
            .fields();
        let mut tx = self.begin().await?;
        update_target_fields(&mut tx, id, &before, after, actor, now).await?;
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

/// What deleting a target takes with it, counted for the confirmation staff read before deleting.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TargetFootprint {
    /// Contacts of the collectivity: they stay in the directory, only their links to the follow-ups go.
    pub contacts: i64,
    pub interactions: i64,
    pub stage_changes: i64,
    pub needs: i64,
    /// Questionnaire invitations sent: a target that received one is real, and cannot be deleted.
    pub survey_invitations: i64,
    /// A member of the club is not a mistake either: its membership would be orphaned.
    pub is_member: bool,
}

impl TargetFootprint {
    /// Why the target cannot be deleted, in French, if it cannot.
    pub fn refusal(&self) -> Option<&'static str> {
        if self.survey_invitations > 0 {
            Some(
                "Cette cible a reçu le questionnaire : elle ne peut pas être supprimée (passez-la plutôt en « Refus » ou « En pause »).",
            )
        } else if self.is_member {
            Some("Cette collectivité est membre du club : elle ne peut pas être supprimée.")
        } else {
            None
        }
    }
}

/// One interaction with what its edit form needs.
#[derive(Debug, Clone)]
pub struct InteractionEdit {
    pub kind: String,
    pub occurred_on: NaiveDate,
    pub summary: String,
    pub outcome: String,
}

impl Store {
    /// Counts what deleting a target would remove; None when it is outside the scope.
    pub async fn target_footprint(
        &self,
        scope: Scope,
        id: i64,
    ) -> StoreResult<Option<TargetFootprint>> {
        let Some(target) = self.target(scope, id).await? else {
            return Ok(None);
        };
        let count = |sql: &'static str, key: i64| async move {
            with_db!(&self.db, |p| sqlx::query_scalar::<_, i64>(sql)
                .bind(key)
                .fetch_one(p)
                .await)
        };
        Ok(Some(TargetFootprint {
            contacts: count(
                "SELECT COUNT(*) FROM people WHERE organisation_id = $1",
                target.organisation_id,
            )
            .await?,
            interactions: count("SELECT COUNT(*) FROM interactions WHERE target_id = $1", id)
                .await?,
            stage_changes: count(
                "SELECT COUNT(*) FROM stage_changes WHERE target_id = $1",
                id,
            )
            .await?,
            needs: count("SELECT COUNT(*) FROM local_needs WHERE target_id = $1", id).await?,
            survey_invitations: count(
                "SELECT COUNT(*) FROM survey_invitations WHERE target_id = $1",
                id,
            )
            .await?,
            is_member: count(
                "SELECT COUNT(*) FROM memberships WHERE organisation_id = $1",
                target.organisation_id,
            )
            .await?
                > 0,
        }))
    }

    /// Deletes a target created by mistake with its follow-ups, stage history and local needs. The
    /// collectivity and its contacts stay in the directory: a person belongs to a collectivity, not to a
    /// target, so nobody is deleted with it (and a person is never shared between two targets). Refused
    /// (Conflict) for a target that received the questionnaire or became a member.
    pub async fn delete_target(
        &self,
        scope: Scope,
        id: i64,
        actor: &audit::Actor,
        now: i64,
    ) -> StoreResult<String> {
        let target = self.target(scope, id).await?.ok_or(StoreError::NotFound)?;
        let footprint = self
            .target_footprint(scope, id)
            .await?
            .ok_or(StoreError::NotFound)?;
        if let Some(refusal) = footprint.refusal() {
            return Err(StoreError::Conflict(refusal.into()));
        }
        let mut tx = self.begin().await?;
        tx.execute_each_for(
            &[
            "DELETE FROM interaction_people WHERE interaction_id IN (SELECT id FROM interactions WHERE target_id = $1)",
            "DELETE FROM interactions WHERE target_id = $1",
            "DELETE FROM stage_changes WHERE target_id = $1",
            "DELETE FROM local_needs WHERE target_id = $1",
            "DELETE FROM targets WHERE id = $1",
        ],
            id,
        )
        .await?;
        audit::record(
            &mut tx,
            actor,
            "delete",
            "target",
            Some(id),
            serde_json::json!({
                "label": target.name,
                "stage": target.stage,
                "interactions": footprint.interactions,
                "stage_changes": footprint.stage_changes,
                "needs": footprint.needs,
                "contacts_kept": footprint.contacts,
            }),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(target.name)
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
