//! The API's people: search, read one with their emails and phones, record one.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::page;
use crate::domain::EmailAddress;
use crate::store::people::{NewPerson, Person};
use crate::web::AppState;
use crate::web::api::openapi::{BadRequest, Forbidden, NotFound, Unauthorized, Unprocessable};
use crate::web::api::{ApiCaller, ApiError, ApiJson, ApiPath, ApiQuery, ApiResult};

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
