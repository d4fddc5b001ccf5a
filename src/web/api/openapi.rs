//! The OpenAPI document of the JSON API, served at `/api/v1/openapi.json` (no Swagger UI: nothing is fetched
//! from elsewhere).
//!
//! The document must stay true to the routes: every path as routed under `/api/v1`, path parameters declared,
//! query parameters `in: query`, every status an operation can answer with its body, every referenced schema
//! present. `tests/api_document.rs` checks it with `openapi-spec-validator` and fuzzes the running API with
//! schemathesis against it.

use axum::routing::get;
use axum::{Json, Router};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToResponse};

use super::{ApiErrorBody, resources};
use crate::web::AppState;

#[derive(OpenApi)]
#[openapi(
    info(title = "relais API", description = "Organisations, people, targets, stage changes and interactions of the outreach pipeline. Every request carries an API token (`Authorization: Bearer …`). Errors are JSON: {\"error\": French message, \"field\": name of the field at fault, when one is}."),
    paths(
        resources::list_organisations, resources::get_organisation, resources::create_organisation,
        resources::list_people, resources::get_person, resources::create_person,
        resources::list_targets, resources::get_target, resources::create_target, resources::update_target,
        resources::list_stage_changes, resources::change_stage, resources::list_interactions, resources::create_interaction,
    ),
    components(
        schemas(
            crate::store::organisations::Organisation, crate::store::people::Person, crate::store::targets::Target,
            crate::store::stage_changes::StageChange, crate::store::interactions::Interaction,
            crate::store::target_list::TargetSort, ApiErrorBody,
            // The closed vocabularies the targets carry, each one schema of its codes.
            crate::domain::Stage, crate::domain::Scale, crate::domain::PoliticalColour,
            crate::domain::LeadSource, crate::domain::Priority,
        ),
        responses(BadRequest, Unauthorized, Forbidden, NotFound, Conflict, Unprocessable),
    ),
    modifiers(&BearerAuth)
)]
pub struct ApiDoc;

// The error answers, each described once and referenced by the operations that can give it. The types are
// never built: the handlers answer an `ApiError`, whose body is an `ApiErrorBody`.

/// The request could not be read: malformed JSON or not JSON, a missing or mistyped field, a query parameter
/// or an id of the wrong type.
#[derive(ToResponse)]
#[allow(dead_code)]
pub struct BadRequest(ApiErrorBody);

/// No token, or a token that is unknown or revoked.
#[derive(ToResponse)]
#[allow(dead_code)]
pub struct Unauthorized(ApiErrorBody);

/// The token is read-only (role `viewer`).
#[derive(ToResponse)]
#[allow(dead_code)]
pub struct Forbidden(ApiErrorBody);

/// Nothing has this id.
#[derive(ToResponse)]
#[allow(dead_code)]
pub struct NotFound(ApiErrorBody);

/// The collectivity is already a target.
#[derive(ToResponse)]
#[allow(dead_code)]
pub struct Conflict(ApiErrorBody);

/// A value was refused (unknown code, unreadable date, an id that names nothing, a text with the NUL
/// character…); `field` names it. Nothing was recorded.
#[derive(ToResponse)]
#[allow(dead_code)]
pub struct Unprocessable(ApiErrorBody);

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

pub fn router() -> Router<AppState> {
    Router::new().route("/openapi.json", get(|| async { Json(ApiDoc::openapi()) }))
}
