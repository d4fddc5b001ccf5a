//! The API's organisations: search, read one, record a member association or a partner.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::page;
use crate::referential::Referential;
use crate::store::organisations::{NewOrganisation, Organisation};
use crate::web::AppState;
use crate::web::api::openapi::{BadRequest, Forbidden, NotFound, Unauthorized, Unprocessable};
use crate::web::api::{ApiCaller, ApiError, ApiJson, ApiPath, ApiQuery, ApiResult};

/// Filters of the organisations list.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OrganisationSearch {
    /// Text searched in names (accents and case ignored).
    #[serde(default)]
    q: String,
    /// `collectivity`, `association` or `partner`.
    #[param(nullable = false)]
    kind: Option<String>,
    /// At most this many (1 to 500, 100 by default).
    #[param(nullable = false)]
    limit: Option<i64>,
    /// Skip this many first.
    #[param(nullable = false)]
    offset: Option<i64>,
}

/// Organisations, by name.
#[utoipa::path(get, path = "/api/v1/organisations", params(OrganisationSearch),
    responses((status = 200, description = "The organisations found", body = [Organisation]), (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized), (status = 422, response = Unprocessable)),
    security(("bearer" = [])))]
pub async fn list_organisations(
    caller: ApiCaller,
    State(state): State<AppState>,
    ApiQuery(params): ApiQuery<OrganisationSearch>,
) -> ApiResult<Json<Vec<Organisation>>> {
    let (limit, offset) = page(params.limit, params.offset);
    Ok(Json(
        state
            .store
            .search_organisations(
                caller.scope(),
                &params.q,
                params.kind.as_deref(),
                limit,
                offset,
            )
            .await?,
    ))
}

/// One organisation.
#[utoipa::path(get, path = "/api/v1/organisations/{id}", params(("id" = i64, Path, description = "Id of the organisation", example = 1)),
    responses((status = 200, description = "The organisation", body = Organisation), (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized), (status = 404, response = NotFound)),
    security(("bearer" = [])))]
pub async fn get_organisation(
    caller: ApiCaller,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<Organisation>> {
    Ok(Json(
        state
            .store
            .organisation(caller.scope(), id)
            .await?
            .ok_or(crate::store::StoreError::NotFound)?,
    ))
}

#[derive(Deserialize, ToSchema)]
pub struct OrganisationInput {
    /// `association` (member association) or `partner`; collectivities are created with their target.
    kind: String,
    name: String,
    #[serde(default)]
    departement_code: Option<String>,
    #[serde(default)]
    website: String,
    #[serde(default)]
    notes: String,
}

/// Records a member association or a partner.
#[utoipa::path(post, path = "/api/v1/organisations", request_body(content = OrganisationInput,
        example = json!({"kind": "association", "name": "Association des maires ruraux", "departement_code": "13"})),
    responses((status = 201, description = "The organisation recorded", body = Organisation), (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized), (status = 403, response = Forbidden),
        (status = 422, response = Unprocessable)),
    security(("bearer" = [])))]
pub async fn create_organisation(
    caller: ApiCaller,
    State(state): State<AppState>,
    ApiJson(input): ApiJson<OrganisationInput>,
) -> ApiResult<(StatusCode, Json<Organisation>)> {
    caller.require_write()?;
    if !matches!(input.kind.as_str(), "association" | "partner") {
        return Err(ApiError::invalid(
            "kind",
            "« association » ou « partner » attendu ; une collectivité se crée avec sa cible",
        ));
    }
    if input.name.trim().is_empty() {
        return Err(ApiError::invalid("name", "le nom est obligatoire"));
    }
    let referential = Referential::get();
    let departement = match input
        .departement_code
        .as_deref()
        .map(str::trim)
        .filter(|d| !d.is_empty())
    {
        None => None,
        Some(text) => Some(
            referential
                .resolve_departement(text)
                .ok_or_else(|| {
                    ApiError::invalid(
                        "departement_code",
                        format!("département « {text} » inconnu"),
                    )
                })?
                .to_string(),
        ),
    };
    let new = NewOrganisation {
        kind: input.kind,
        name: input.name.trim().into(),
        region_code: departement
            .as_deref()
            .and_then(|d| referential.region_of_departement(d))
            .map(str::to_string),
        departement_code: departement,
        website: input.website,
        notes: input.notes,
        ..Default::default()
    };
    let id = state
        .store
        .create_organisation(&new, &caller.actor(), state.clock.now_millis())
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(
            state
                .store
                .organisation(caller.scope(), id)
                .await?
                .ok_or(crate::store::StoreError::NotFound)?,
        ),
    ))
}
