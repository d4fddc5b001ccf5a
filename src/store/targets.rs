//! Targets of the outreach pipeline: one target with its collectivity, its creation and the edits of its
//! follow-up fields. Nothing is overwritten: every edit leaves its before/after in the audit log. The list
//! and its filters are in [`super::target_list`], stage changes in [`super::stage_changes`], interactions in
//! [`super::interactions`], local needs in [`super::local_needs`], deletion in [`super::target_deletion`].

use chrono::NaiveDate;

use super::organisations::{NewOrganisation, find_or_insert_organisation};
use super::people::{NewPerson, insert_person};
use super::stage_changes::insert_stage_change;
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

pub(super) const TARGET_SELECT: &str =
    concat!("SELECT ", target_columns!(), " FROM ", target_from!());

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
}
