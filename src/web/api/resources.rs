//! Handlers of the JSON API, one per operation, each documented for the OpenAPI document.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::openapi::{BadRequest, Conflict, Forbidden, NotFound, Unauthorized, Unprocessable};
use super::{ApiCaller, ApiError, ApiJson, ApiPath, ApiQuery, ApiResult};
use crate::domain::nuance::accepted_political_values;
use crate::domain::{
    EmailAddress, InteractionKind, LeadSource, PoliticalColour, PoliticalReading, Priority, Scale,
    Stage,
};
use crate::referential::{CollectivityKind, Referential};
use crate::store::interactions::{Interaction, NewInteraction};
use crate::store::organisations::{NewOrganisation, Organisation};
use crate::store::people::{NewPerson, Person};
use crate::store::stage_changes::{StageChange, StageMove};
use crate::store::target_list::{TargetFilter, TargetSort};
use crate::store::targets::{NewTarget, Target, TargetFields};
use crate::web::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/organisations",
            get(list_organisations).post(create_organisation),
        )
        .route("/organisations/{id}", get(get_organisation))
        .route("/people", get(list_people).post(create_person))
        .route("/people/{id}", get(get_person))
        .route("/targets", get(list_targets).post(create_target))
        .route("/targets/{id}", get(get_target).patch(update_target))
        .route(
            "/targets/{id}/stage-changes",
            get(list_stage_changes).post(change_stage),
        )
        .route(
            "/targets/{id}/interactions",
            get(list_interactions).post(create_interaction),
        )
}

const MAX_LIMIT: i64 = 500;

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

/// Filters of the people list.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PeopleSearch {
    /// Text searched in names, functions and emails (accents and case ignored).
    #[serde(default)]
    q: String,
    /// At most this many (1 to 500, 100 by default).
    #[param(nullable = false)]
    limit: Option<i64>,
    /// Skip this many first.
    #[param(nullable = false)]
    offset: Option<i64>,
}

fn page(limit: Option<i64>, offset: Option<i64>) -> (i64, i64) {
    (
        limit.unwrap_or(100).clamp(1, MAX_LIMIT),
        offset.unwrap_or(0).max(0),
    )
}

fn parse_optional_date(field: &'static str, text: Option<&str>) -> ApiResult<Option<NaiveDate>> {
    match text.map(str::trim) {
        None | Some("") => Ok(None),
        Some(text) => crate::domain::parse_date(text).map(Some).ok_or_else(|| {
            ApiError::invalid(
                field,
                format!("date « {text} » illisible (attendu AAAA-MM-JJ)"),
            )
        }),
    }
}

fn parse_code<T>(
    field: &'static str,
    text: &str,
    parse: fn(&str) -> Option<T>,
    all: &[T],
    code: fn(T) -> &'static str,
) -> ApiResult<T>
where
    T: Copy,
{
    parse(text).ok_or_else(|| {
        let accepted = all.iter().map(|v| code(*v)).collect::<Vec<_>>().join(", ");
        ApiError::invalid(
            field,
            format!("valeur « {text} » inconnue ; valeurs admises : {accepted}"),
        )
    })
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

/// People, by name, function or email.
#[utoipa::path(get, path = "/api/v1/people", params(PeopleSearch),
    responses((status = 200, description = "The people found", body = [PersonView]), (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized), (status = 422, response = Unprocessable)),
    security(("bearer" = [])))]
pub async fn list_people(
    caller: ApiCaller,
    State(state): State<AppState>,
    ApiQuery(params): ApiQuery<PeopleSearch>,
) -> ApiResult<Json<Vec<PersonView>>> {
    let (limit, offset) = page(params.limit, params.offset);
    let people = state
        .store
        .search_people(caller.scope(), &params.q, limit, offset)
        .await?;
    Ok(Json(people.into_iter().map(PersonView::from).collect()))
}

/// A person with their emails and phones.
#[derive(Serialize, ToSchema)]
pub struct PersonView {
    #[serde(flatten)]
    person: Person,
    emails: Vec<String>,
    phones: Vec<String>,
}

impl From<Person> for PersonView {
    fn from(person: Person) -> Self {
        PersonView {
            emails: person.emails().into_iter().map(str::to_string).collect(),
            phones: person.phones().into_iter().map(str::to_string).collect(),
            person,
        }
    }
}

/// One person.
#[utoipa::path(get, path = "/api/v1/people/{id}", params(("id" = i64, Path, description = "Id of the person", example = 1)),
    responses((status = 200, description = "The person", body = PersonView), (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized), (status = 404, response = NotFound)),
    security(("bearer" = [])))]
pub async fn get_person(
    caller: ApiCaller,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<PersonView>> {
    let person = state
        .store
        .person(caller.scope(), id)
        .await?
        .ok_or(crate::store::StoreError::NotFound)?;
    Ok(Json(person.into()))
}

#[derive(Deserialize, ToSchema)]
pub struct PersonInput {
    organisation_id: Option<i64>,
    full_name: String,
    #[serde(default)]
    function: String,
    #[serde(default)]
    emails: Vec<String>,
    #[serde(default)]
    phones: Vec<String>,
    #[serde(default)]
    notes: String,
}

/// Records a person, with their organisation if they have one.
#[utoipa::path(post, path = "/api/v1/people", request_body(content = PersonInput,
        example = json!({"organisation_id": 1, "full_name": "Inès Marchal", "function": "coordinatrice",
            "emails": ["ines.marchal@example.org"], "phones": ["04 91 00 00 00"]})),
    responses((status = 201, description = "The person recorded", body = PersonView), (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized), (status = 403, response = Forbidden),
        (status = 422, response = Unprocessable)),
    security(("bearer" = [])))]
pub async fn create_person(
    caller: ApiCaller,
    State(state): State<AppState>,
    ApiJson(input): ApiJson<PersonInput>,
) -> ApiResult<(StatusCode, Json<PersonView>)> {
    caller.require_write()?;
    if input.full_name.trim().is_empty() {
        return Err(ApiError::invalid("full_name", "le nom est obligatoire"));
    }
    let emails = input
        .emails
        .iter()
        .map(|e| {
            EmailAddress::parse(e)
                .map(|e| e.to_string())
                .map_err(|m| ApiError::invalid("emails", m))
        })
        .collect::<ApiResult<Vec<_>>>()?;
    let new = NewPerson {
        organisation_id: input.organisation_id,
        full_name: input.full_name.trim().into(),
        function: input.function,
        notes: input.notes,
        emails,
        phones: input.phones,
    };
    let id = state
        .store
        .create_person(
            caller.scope(),
            &new,
            &caller.actor(),
            state.clock.now_millis(),
        )
        .await
        .map_err(|e| match e {
            crate::store::StoreError::NotFound | crate::store::StoreError::MissingReference(_) => {
                ApiError::missing_reference("organisation_id", "organisation")
            }
            other => other.into(),
        })?;
    get_person(caller, State(state), ApiPath(id))
        .await
        .map(|json| (StatusCode::CREATED, json))
}

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

/// The stage changes of a target, newest first.
#[utoipa::path(get, path = "/api/v1/targets/{id}/stage-changes", params(("id" = i64, Path, description = "Id of the target", example = 1)),
    responses((status = 200, description = "The stage changes", body = [StageChange]), (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized), (status = 404, response = NotFound)),
    security(("bearer" = [])))]
pub async fn list_stage_changes(
    caller: ApiCaller,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<Vec<StageChange>>> {
    state
        .store
        .target(caller.scope(), id)
        .await?
        .ok_or(crate::store::StoreError::NotFound)?;
    Ok(Json(state.store.stage_history(caller.scope(), id).await?))
}

/// A move of a target to another stage.
#[derive(Deserialize, ToSchema)]
pub struct StageInput {
    /// Stage code, e.g. `contacted`.
    stage: String,
    /// Required when the stage is `declined`.
    #[serde(default)]
    reason: String,
    /// AAAA-MM-JJ, kept when the stage is `on_hold`.
    on_hold_until: Option<String>,
}

/// Moves a target to another stage; answers the target as it now is.
#[utoipa::path(post, path = "/api/v1/targets/{id}/stage-changes", params(("id" = i64, Path, description = "Id of the target", example = 1)),
    request_body(content = StageInput, example = json!({"stage": "contacted"})),
    responses((status = 201, description = "The target as it now is", body = Target), (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized), (status = 403, response = Forbidden),
        (status = 404, response = NotFound), (status = 422, response = Unprocessable)),
    security(("bearer" = [])))]
pub async fn change_stage(
    caller: ApiCaller,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
    ApiJson(input): ApiJson<StageInput>,
) -> ApiResult<(StatusCode, Json<Target>)> {
    caller.require_write()?;
    let to = parse_code(
        "stage",
        &input.stage,
        Stage::parse,
        Stage::ALL,
        Stage::as_str,
    )?;
    if to == Stage::Declined && input.reason.trim().is_empty() {
        return Err(ApiError::invalid(
            "reason",
            "la raison du refus est obligatoire",
        ));
    }
    let change = StageMove {
        to,
        reason: input.reason.trim().into(),
        on_hold_until: parse_optional_date("on_hold_until", input.on_hold_until.as_deref())?,
        today: state.clock.today(),
    };
    state
        .store
        .change_stage(
            caller.scope(),
            id,
            &change,
            &caller.actor(),
            state.clock.now_millis(),
        )
        .await?;
    get_target(caller, State(state), ApiPath(id))
        .await
        .map(|json| (StatusCode::CREATED, json))
}

/// An interaction with the names of the people involved.
#[derive(Serialize, ToSchema)]
pub struct InteractionView {
    #[serde(flatten)]
    interaction: Interaction,
    people: Vec<String>,
}

/// The interactions with a target, newest first.
#[utoipa::path(get, path = "/api/v1/targets/{id}/interactions", params(("id" = i64, Path, description = "Id of the target", example = 1)),
    responses((status = 200, description = "The interactions", body = [InteractionView]), (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized), (status = 404, response = NotFound)),
    security(("bearer" = [])))]
pub async fn list_interactions(
    caller: ApiCaller,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<Vec<InteractionView>>> {
    state
        .store
        .target(caller.scope(), id)
        .await?
        .ok_or(crate::store::StoreError::NotFound)?;
    let rows = state.store.interactions(caller.scope(), id).await?;
    Ok(Json(
        rows.into_iter()
            .map(|(interaction, people)| InteractionView {
                interaction,
                people,
            })
            .collect(),
    ))
}

/// An interaction to record.
#[derive(Deserialize, ToSchema)]
pub struct InteractionInput {
    /// `email`, `phone_call`, `letter`, `postcard`, `meeting` or `other`.
    kind: String,
    /// AAAA-MM-JJ.
    occurred_on: String,
    summary: String,
    #[serde(default)]
    outcome: String,
    /// Ids of people of the target's collectivity.
    #[serde(default)]
    people: Vec<i64>,
}

/// The id of what was created.
#[derive(Serialize, ToSchema)]
pub struct Created {
    id: i64,
}

/// Records an interaction with a target.
#[utoipa::path(post, path = "/api/v1/targets/{id}/interactions", params(("id" = i64, Path, description = "Id of the target", example = 1)),
    request_body(content = InteractionInput,
        example = json!({"kind": "phone_call", "occurred_on": "2026-11-20", "summary": "Appel au cabinet du maire",
            "outcome": "Rendez-vous le 2 décembre", "people": [1]})),
    responses((status = 201, description = "The interaction recorded", body = Created), (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized), (status = 403, response = Forbidden),
        (status = 404, response = NotFound), (status = 422, response = Unprocessable)),
    security(("bearer" = [])))]
pub async fn create_interaction(
    caller: ApiCaller,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
    ApiJson(input): ApiJson<InteractionInput>,
) -> ApiResult<(StatusCode, Json<Created>)> {
    caller.require_write()?;
    let kind = parse_code(
        "kind",
        &input.kind,
        InteractionKind::parse,
        InteractionKind::ALL,
        InteractionKind::as_str,
    )?;
    let occurred_on = parse_optional_date("occurred_on", Some(&input.occurred_on))?
        .ok_or_else(|| ApiError::invalid("occurred_on", "la date est obligatoire"))?;
    if input.summary.trim().is_empty() {
        return Err(ApiError::invalid("summary", "le résumé est obligatoire"));
    }
    // A person named twice is linked once (a second link would break the table's key).
    let mut people = input.people;
    people.sort_unstable();
    people.dedup();
    let new = NewInteraction {
        kind: kind.as_str().into(),
        occurred_on,
        summary: input.summary.trim().into(),
        outcome: input.outcome,
        people,
    };
    // The target is looked up first so that a "not found" of the recording is about the people.
    state
        .store
        .target(caller.scope(), id)
        .await?
        .ok_or(crate::store::StoreError::NotFound)?;
    let interaction = state
        .store
        .record_interaction(
            caller.scope(),
            id,
            &new,
            &caller.actor(),
            state.clock.now_millis(),
        )
        .await
        .map_err(|e| match e {
            crate::store::StoreError::NotFound => ApiError::invalid(
                "people",
                "une des personnes est introuvable ou n'appartient pas à cette collectivité",
            ),
            other => other.into(),
        })?;
    Ok((StatusCode::CREATED, Json(Created { id: interaction })))
}
