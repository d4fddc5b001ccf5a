//! The API's targets: the filtered list a page at a time, one target, making a collectivity a target and
//! changing its follow-up fields (with the political colour or nuance).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{page, parse_code, parse_optional_date};
use crate::domain::nuance::accepted_political_values;
use crate::domain::{LeadSource, PoliticalColour, PoliticalReading, Priority, Scale, Stage};
use crate::referential::{CollectivityKind, Referential};
use crate::store::target_list::{TargetFilter, TargetSort};
use crate::store::targets::{NewTarget, Target, TargetFields};
use crate::web::AppState;
use crate::web::api::openapi::{
    BadRequest, Conflict, Forbidden, NotFound, Unauthorized, Unprocessable,
};
use crate::web::api::{ApiCaller, ApiError, ApiJson, ApiPath, ApiQuery, ApiResult};

/// Filters and order of the targets list; a filter left out matches every target.
#[derive(Deserialize, IntoParams, Default)]
#[into_params(parameter_in = Query)]
pub struct TargetParams {
    /// Text searched in the collectivity's name (accents and case ignored).
    #[param(nullable = false)]
    q: Option<String>,
    /// Stage code, e.g. `contacted`.
    #[param(nullable = false)]
    stage: Option<String>,
    /// INSEE code of the region.
    #[param(nullable = false)]
    region: Option<String>,
    /// INSEE code of the département.
    #[param(nullable = false)]
    departement: Option<String>,
    #[param(nullable = false)]
    scale: Option<String>,
    /// Id of the staff member following the target.
    #[param(nullable = false)]
    owner: Option<i64>,
    /// Political colour code, French colour or nuance (`DVG` filters on `left`).
    #[param(nullable = false)]
    colour: Option<String>,
    /// Lead source code.
    #[param(nullable = false)]
    source: Option<String>,
    /// Order of the list, by name if left out.
    #[param(nullable = false)]
    sort: Option<TargetSort>,
    /// At most this many (1 to 500, 100 by default).
    #[param(nullable = false)]
    limit: Option<i64>,
    /// Skip this many first.
    #[param(nullable = false)]
    offset: Option<i64>,
}

/// One page of the targets list, and how many targets match in all.
#[derive(Serialize, ToSchema)]
pub struct TargetPage {
    total: i64,
    items: Vec<Target>,
}

/// Targets, filtered and sorted, a page at a time.
#[utoipa::path(get, path = "/api/v1/targets", params(TargetParams),
    responses((status = 200, description = "A page of the targets found", body = TargetPage), (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized), (status = 422, response = Unprocessable)),
    security(("bearer" = [])))]
pub async fn list_targets(
    caller: ApiCaller,
    State(state): State<AppState>,
    ApiQuery(params): ApiQuery<TargetParams>,
) -> ApiResult<Json<TargetPage>> {
    let (limit, offset) = page(params.limit, params.offset);
    // Filters take the words of docs/VOCABULARY.md as well as the codes; an unknown word matches nothing.
    let code = |value: Option<String>, parse: fn(&str) -> Option<&'static str>| {
        value.map(|v| parse(&v).map_or(v, String::from))
    };
    let filter = TargetFilter {
        q: params.q,
        stage: code(params.stage, |v| Stage::parse(v).map(Stage::as_str)),
        region: params.region,
        departement: params.departement,
        scale: code(params.scale, |v| Scale::parse(v).map(Scale::as_str)),
        owner: params.owner,
        colour: code(params.colour, |v| {
            PoliticalReading::parse(v).map(|r| r.colour.as_str())
        }),
        source: code(params.source, |v| {
            LeadSource::parse(v).map(LeadSource::as_str)
        }),
        due_by: None,
        overdue_on: None,
    };
    let (items, total) = state
        .store
        .list_targets(
            caller.scope(),
            &filter,
            params.sort.unwrap_or_default(),
            limit,
            offset,
        )
        .await?;
    Ok(Json(TargetPage { total, items }))
}

/// One target.
#[utoipa::path(get, path = "/api/v1/targets/{id}", params(("id" = i64, Path, description = "Id of the target", example = 1)),
    responses((status = 200, description = "The target", body = Target), (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized), (status = 404, response = NotFound)),
    security(("bearer" = [])))]
pub async fn get_target(
    caller: ApiCaller,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<Target>> {
    Ok(Json(
        state
            .store
            .target(caller.scope(), id)
            .await?
            .ok_or(crate::store::StoreError::NotFound)?,
    ))
}

/// A new target: the collectivity by its official code, and the first follow-up fields. A change of a
/// target (PATCH) takes the follow-up fields only: `code` and `stage` are refused there (the stage changes
/// through its stage-changes), `collectivity_kind` is ignored.
#[derive(Deserialize, ToSchema, Default)]
pub struct TargetInput {
    /// INSEE code (commune, département, région) or SIREN (EPCI).
    code: Option<String>,
    /// `commune`, `cc`, `ca`, `cu`, `metropole`, `departement`, `region`; needed only when a code is ambiguous.
    collectivity_kind: Option<String>,
    stage: Option<String>,
    /// Id of the staff member who follows the target.
    owner_id: Option<i64>,
    /// A colour code (`left`, `green`, `centre`, `right`, `various`, `non_partisan`, `unknown`), a French colour,
    /// or a nuance of the Ministry of the Interior (`DVG`, `LDVG`, "Divers gauche"), which is then kept as the
    /// nuance.
    political_colour: Option<String>,
    /// The Ministry's nuance as written (`LDVG`, "Union du centre"…): kept as is, it fixes the colour. An empty
    /// text removes it.
    political_nuance: Option<String>,
    lead_source: Option<String>,
    priority: Option<String>,
    next_action: Option<String>,
    /// AAAA-MM-JJ (or JJ/MM/AAAA).
    next_action_date: Option<String>,
    has_squats: Option<bool>,
    notes: Option<String>,
}

fn apply_fields(input: &TargetInput, mut fields: TargetFields) -> ApiResult<TargetFields> {
    apply_political(input, &mut fields)?;
    if let Some(v) = &input.lead_source {
        fields.lead_source = parse_code(
            "lead_source",
            v,
            LeadSource::parse,
            LeadSource::ALL,
            LeadSource::as_str,
        )?;
    }
    if let Some(v) = &input.priority {
        fields.priority = parse_code(
            "priority",
            v,
            Priority::parse,
            Priority::ALL,
            Priority::as_str,
        )?;
    }
    if input.owner_id.is_some() {
        fields.owner_id = input.owner_id;
    }
    if let Some(v) = &input.next_action {
        fields.next_action = v.trim().into();
    }
    if input.next_action_date.is_some() {
        fields.next_action_date =
            parse_optional_date("next_action_date", input.next_action_date.as_deref())?;
    }
    if let Some(v) = input.has_squats {
        fields.has_squats = v;
    }
    if let Some(v) = &input.notes {
        fields.notes = v.clone();
    }
    Ok(fields)
}

/// Reads a colour or a nuance, refusing an unknown one with the accepted colours and nuance codes.
fn parse_political(field: &'static str, text: &str) -> ApiResult<PoliticalReading> {
    PoliticalReading::parse(text).ok_or_else(|| {
        ApiError::invalid(
            field,
            format!(
                "valeur « {text} » inconnue ; {}",
                accepted_political_values()
            ),
        )
    })
}

/// Applies `political_colour` and `political_nuance`: a nuance fixes the colour and is kept as written; a bare
/// colour that changes the colour drops the nuance it contradicts; a colour that contradicts a nuance given
/// alongside is refused.
fn apply_political(input: &TargetInput, fields: &mut TargetFields) -> ApiResult<()> {
    let colour = input
        .political_colour
        .as_deref()
        .map(|v| parse_political("political_colour", v))
        .transpose()?;
    let nuance = match input.political_nuance.as_deref().map(str::trim) {
        None => None,
        Some("") => Some(None),
        Some(v) => Some(Some((v, parse_political("political_nuance", v)?))),
    };
    match (colour, nuance) {
        (Some(colour), Some(Some((text, nuance))))
            if colour.colour != nuance.colour && colour.colour != PoliticalColour::Unknown =>
        {
            return Err(ApiError::invalid(
                "political_colour",
                format!(
                    "la couleur « {} » ne correspond pas à la nuance « {text} », qui compte comme « {} »",
                    colour.colour.as_str(),
                    nuance.colour.as_str()
                ),
            ));
        }
        (_, Some(Some((text, nuance)))) => {
            fields.political_colour = nuance.colour;
            fields.political_nuance = Some(text.to_string());
        }
        (colour, Some(None)) => {
            if let Some(colour) = &colour {
                fields.political_colour = colour.colour;
            }
            fields.political_nuance = colour.and_then(|c| c.nuance);
        }
        (Some(colour), None) => {
            if colour.nuance.is_some() || colour.colour != fields.political_colour {
                fields.political_nuance = colour.nuance;
            }
            fields.political_colour = colour.colour;
        }
        (None, None) => {}
    }
    Ok(())
}

/// Makes a collectivity a target.
#[utoipa::path(post, path = "/api/v1/targets",
    request_body(content = TargetInput,
        example = json!({"code": "13055", "stage": "contacted", "next_action": "Appeler le cabinet du maire",
            "next_action_date": "2026-12-01"})),
    responses((status = 201, description = "The target as it now is", body = Target), (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized), (status = 403, response = Forbidden),
        (status = 409, response = Conflict), (status = 422, response = Unprocessable)),
    security(("bearer" = [])))]
pub async fn create_target(
    caller: ApiCaller,
    State(state): State<AppState>,
    ApiJson(input): ApiJson<TargetInput>,
) -> ApiResult<(StatusCode, Json<Target>)> {
    caller.require_write()?;
    let code = input
        .code
        .as_deref()
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .ok_or_else(|| ApiError::invalid("code", "le code INSEE ou SIREN est obligatoire"))?;
    let kind = match input.collectivity_kind.as_deref() {
        None => None,
        Some(k) => Some(parse_code(
            "collectivity_kind",
            k,
            CollectivityKind::parse,
            &CollectivityKind::ALL,
            CollectivityKind::as_str,
        )?),
    };
    let entry = Referential::get().by_code(kind, code).ok_or_else(|| {
        ApiError::invalid(
            "code",
            format!("aucune collectivité n'a le code « {code} »"),
        )
    })?;
    let stage = match &input.stage {
        None => Stage::Identified,
        Some(s) => parse_code("stage", s, Stage::parse, Stage::ALL, Stage::as_str)?,
    };
    let defaults = TargetFields {
        political_colour: PoliticalColour::Unknown,
        lead_source: LeadSource::Other,
        priority: Priority::Normal,
        ..Default::default()
    };
    let new = NewTarget {
        organisation: crate::store::organisations::NewOrganisation::from_referential(entry),
        stage,
        fields: apply_fields(&input, defaults)?,
        contacts: vec![],
    };
    let id = state
        .store
        .create_target(&new, &caller.actor(), state.clock.now_millis())
        .await
        .map_err(owner_missing)?;
    get_target(caller, State(state), ApiPath(id))
        .await
        .map(|json| (StatusCode::CREATED, json))
}

/// Changes the follow-up fields of a target; absent fields keep their value.
#[utoipa::path(patch, path = "/api/v1/targets/{id}", params(("id" = i64, Path, description = "Id of the target", example = 1)),
    request_body(content = TargetInput,
        example = json!({"next_action": "Relancer par courrier", "next_action_date": "2026-12-15", "priority": "high"})),
    responses((status = 200, description = "The target", body = Target), (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized), (status = 403, response = Forbidden),
        (status = 404, response = NotFound), (status = 422, response = Unprocessable)),
    security(("bearer" = [])))]
pub async fn update_target(
    caller: ApiCaller,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
    ApiJson(input): ApiJson<TargetInput>,
) -> ApiResult<Json<Target>> {
    caller.require_write()?;
    if input.code.is_some() || input.stage.is_some() {
        return Err(ApiError::invalid(
            if input.code.is_some() {
                "code"
            } else {
                "stage"
            },
            "ne se modifie pas ici : l'étape change par POST /targets/{id}/stage-changes",
        ));
    }
    let target = state
        .store
        .target(caller.scope(), id)
        .await?
        .ok_or(crate::store::StoreError::NotFound)?;
    let fields = apply_fields(&input, target.fields())?;
    state
        .store
        .update_target(
            caller.scope(),
            id,
            &fields,
            &caller.actor(),
            state.clock.now_millis(),
        )
        .await
        .map_err(owner_missing)?;
    get_target(caller, State(state), ApiPath(id)).await
}

/// The only id of a target's write that may name nothing is its owner's: the collectivity is found or
/// created in the same transaction.
fn owner_missing(error: crate::store::StoreError) -> ApiError {
    match error {
        crate::store::StoreError::MissingReference(_) => {
            ApiError::missing_reference("owner_id", "membre de l'équipe")
        }
        other => other.into(),
    }
}
