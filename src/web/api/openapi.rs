//! The OpenAPI document of the JSON API, served at `/api/v1/openapi.json` (no Swagger UI: nothing is fetched
//! from elsewhere).

use axum::routing::get;
use axum::{Json, Router};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::resources;
use crate::web::AppState;

#[derive(OpenApi)]
#[openapi(
    info(title = "relais API", description = "Organisations, people, targets, stage changes and interactions of the outreach pipeline. Errors are JSON: {\"error\": message, \"field\": name}."),
    paths(
        resources::list_organisations, resources::get_organisation, resources::create_organisation,
        resources::list_people, resources::get_person, resources::create_person,
        resources::list_targets, resources::get_target, resources::create_target, resources::update_target,
        resources::list_stage_changes, resources::change_stage, resources::list_interactions, resources::create_interaction,
    ),
    components(schemas(
        crate::store::organisations::Organisation, crate::store::people::Person, crate::store::targets::Target,
        crate::store::targets::StageChange, crate::store::targets::Interaction,
    )),
    modifiers(&BearerAuth)
)]
pub struct ApiDoc;

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
