//! Organisations: collectivities (from the referential), member associations and partners.

use super::{Scope, Store, StoreError, StoreResult, Tx, scope_filter, with_db, with_tx};
use crate::domain::Scale;

#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize, utoipa::ToSchema)]
pub struct Organisation {
    pub id: i64,
    /// `collectivity`, `association` or `partner`.
    pub kind: String,
    pub name: String,
    /// For a collectivity: `commune`, `cc`, `ca`, `cu`, `metropole`, `departement`, `region`.
    pub collectivity_kind: Option<String>,
    /// INSEE code (communes, départements, régions) or SIREN (EPCIs).
    pub official_code: Option<String>,
    pub departement_code: Option<String>,
    pub region_code: Option<String>,
    pub population: Option<i64>,
    pub scale: Option<Scale>,
    pub website: String,
    pub notes: String,
    pub created_at: i64,
    pub updated_at: i64,
}

/// What it takes to record an organisation; the caller has validated it.
#[derive(Debug, Clone, Default)]
pub struct NewOrganisation {
    pub kind: String,
    pub name: String,
    pub collectivity_kind: Option<String>,
    pub official_code: Option<String>,
    pub departement_code: Option<String>,
    pub region_code: Option<String>,
    pub population: Option<i64>,
    pub scale: Option<Scale>,
    pub website: String,
    pub notes: String,
}

pub(crate) const ORGANISATION_COLUMNS: &str = "o.id, o.kind, o.name, o.collectivity_kind, o.official_code, \
     o.departement_code, o.region_code, o.population, o.scale, o.website, o.notes, o.created_at, o.updated_at";

/// Returns the id of the organisation with the same official code, or inserts it.
pub(crate) async fn find_or_insert_organisation(
    tx: &mut Tx,
    new: &NewOrganisation,
    now: i64,
) -> StoreResult<i64> {
    if let (Some(kind), Some(code)) = (&new.collectivity_kind, &new.official_code) {
        let existing: Option<i64> = with_tx!(tx, |c| sqlx::query_scalar(
            "SELECT id FROM organisations WHERE collectivity_kind = $1 AND official_code = $2"
        )
        .bind(kind)
        .bind(code)
        .fetch_optional(c)
        .await)?;
        if let Some(id) = existing {
            return Ok(id);
        }
    }
    let search_text =
        crate::domain::search_text(&[&new.name, new.official_code.as_deref().unwrap_or("")]);
    Ok(with_tx!(tx, |c| {
        sqlx::query_scalar(
        "INSERT INTO organisations (kind, name, collectivity_kind, official_code, departement_code, region_code,
                                    population, scale, website, notes, search_text, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12) RETURNING id"
    )
    .bind(&new.kind)
    .bind(&new.name)
    .bind(&new.collectivity_kind)
    .bind(&new.official_code)
    .bind(&new.departement_code)
    .bind(&new.region_code)
    .bind(new.population)
    .bind(new.scale.map(Scale::as_str))
    .bind(&new.website)
    .bind(&new.notes)
    .bind(search_text)
    .bind(now)
    .fetch_one(c)
    .await
    .map_err(StoreError::from_write)
    })?)
}

impl Store {
    pub async fn create_organisation(
        &self,
        new: &NewOrganisation,
        actor: &super::audit::Actor,
        now: i64,
    ) -> StoreResult<i64> {
        let mut tx = self.begin().await?;
        let id = find_or_insert_organisation(&mut tx, new, now).await?;
        super::audit::record(
            &mut tx,
            actor,
            "create",
            "organisation",
            Some(id),
            serde_json::json!({"label": new.name, "name": new.name, "kind": new.kind}),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(id)
    }

    pub async fn organisation(&self, scope: Scope, id: i64) -> StoreResult<Option<Organisation>> {
        let sql = format!(
            "SELECT {ORGANISATION_COLUMNS} FROM organisations o WHERE o.id = $1 AND {}",
            scope_filter!("2")
        );
        Ok(with_db!(&self.db, |p| sqlx::query_as(&sql)
            .bind(id)
            .bind(scope.relay_user())
            .fetch_optional(p)
            .await)?)
    }

    /// Organisations matching a search (folded text), of one kind or all, inside the scope.
    pub async fn search_organisations(
        &self,
        scope: Scope,
        query: &str,
        kind: Option<&str>,
        limit: i64,
        offset: i64,
    ) -> StoreResult<Vec<Organisation>> {
        let sql = format!(
            "SELECT {ORGANISATION_COLUMNS} FROM organisations o
             WHERE ($1 IS NULL OR o.search_text LIKE $1) AND ($2 IS NULL OR o.kind = $2) AND {}
             ORDER BY o.name, o.id LIMIT $4 OFFSET $5",
            scope_filter!("3")
        );
        let folded = crate::domain::search_query(query);
        let pattern = (!folded.is_empty()).then(|| format!("%{folded}%"));
        Ok(with_db!(&self.db, |p| sqlx::query_as(&sql)
            .bind(&pattern)
            .bind(kind)
            .bind(scope.relay_user())
            .bind(limit)
            .bind(offset)
            .fetch_all(p)
            .await)?)
    }

    /// Member associations, for the relay account form and the people pages.
    pub async fn association_by_name(&self, name: &str) -> StoreResult<Option<i64>> {
        Ok(with_db!(&self.db, |p| sqlx::query_scalar(
            "SELECT id FROM organisations WHERE kind = 'association' AND search_text = $1"
        )
        .bind(crate::domain::search_text(&[name]))
        .fetch_optional(p)
        .await)?)
    }
}

impl Store {
    /// The target id of an organisation, if it is in the pipeline.
    pub async fn target_id_of_organisation(
        &self,
        organisation_id: i64,
    ) -> StoreResult<Option<i64>> {
        Ok(with_db!(&self.db, |p| sqlx::query_scalar(
            "SELECT id FROM targets WHERE organisation_id = $1"
        )
        .bind(organisation_id)
        .fetch_optional(p)
        .await)?)
    }
}

impl NewOrganisation {
    /// The organisation row of a collectivity of the referential, with its région and scale filled in.
    pub fn from_referential(entry: &crate::referential::Entry) -> NewOrganisation {
        let referential = crate::referential::Referential::get();
        NewOrganisation {
            kind: "collectivity".into(),
            name: entry.name.clone(),
            collectivity_kind: Some(entry.kind.as_str().into()),
            official_code: Some(entry.code.clone()),
            departement_code: entry.departement.clone(),
            region_code: entry.region.clone().or_else(|| {
                entry
                    .departement
                    .as_deref()
                    .and_then(|d| referential.region_of_departement(d))
                    .map(str::to_string)
            }),
            population: entry.population,
            scale: Some(Scale::of(entry.kind, entry.population)),
            ..Default::default()
        }
    }
}
