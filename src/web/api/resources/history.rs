//! A target's history through the API: its stage changes (and moving it), its interactions (and recording one).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{get_target, parse_code, parse_optional_date};
use crate::domain::{InteractionKind, Stage};
use crate::store::interactions::{Interaction, NewInteraction};
use crate::store::stage_changes::{StageChange, StageMove};
use crate::store::targets::Target;
use crate::web::AppState;
use crate::web::api::openapi::{BadRequest, Forbidden, NotFound, Unauthorized, Unprocessable};
use crate::web::api::{ApiCaller, ApiError, ApiJson, ApiPath, ApiResult};

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
