//! Handlers of the JSON API, one per operation, each documented for the OpenAPI document: organisations,
//! people, targets, and a target's stage changes and interactions, one file each; the paging and value
//! parsers they share are here.

mod history;
mod organisations;
mod people;
mod targets;

pub use history::*;
pub use organisations::*;
pub use people::*;
pub use targets::*;

use axum::Router;
use axum::routing::get;
use chrono::NaiveDate;

use super::{ApiError, ApiResult};
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

pub(super) const MAX_LIMIT: i64 = 500;

pub(super) fn page(limit: Option<i64>, offset: Option<i64>) -> (i64, i64) {
    (
        limit.unwrap_or(100).clamp(1, MAX_LIMIT),
        offset.unwrap_or(0).max(0),
    )
}

pub(super) fn parse_optional_date(
    field: &'static str,
    text: Option<&str>,
) -> ApiResult<Option<NaiveDate>> {
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

pub(super) fn parse_code<T>(
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
