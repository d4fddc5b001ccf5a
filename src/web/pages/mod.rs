//! The staff web app: one file per page family. Every route here needs a session; state-changing routes also
//! pass through the CSRF guard.

mod access;
pub use access::public_router as password_router;
mod audit;
mod board;
mod dashboard;
pub use dashboard::DashboardCache;
mod directory;
mod import;
mod inbound;
mod list_page;
mod lists;
mod mail;
mod meetings;
mod networks;
mod newsletter;
mod subscribers;
mod survey;
mod target;
mod targets;

use axum::Router;
use axum::extract::{Query, State};
use axum::response::IntoResponse;
use axum::routing::get;

use super::AppState;
use super::auth::{Session, csrf_guard};
use crate::referential::Referential;

pub fn router(state: AppState) -> Router<AppState> {
    Router::new()
        .merge(dashboard::router())
        .merge(targets::router())
        .merge(target::router())
        .merge(board::router())
        .merge(directory::router())
        .merge(access::router())
        .merge(import::router())
        .merge(mail::router())
        .merge(inbound::router())
        .merge(lists::router())
        .merge(subscribers::router())
        .merge(newsletter::router())
        .merge(networks::router())
        .merge(meetings::router())
        .merge(survey::router())
        .merge(audit::router())
        .merge(super::resources::staff_router())
        .merge(super::auth::logout_router())
        .route("/referential/search", get(complete_collectivity))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            csrf_guard,
        ))
        .route_layer(axum::middleware::from_fn(super::flash::forget_shown_notice))
        .route_layer(axum::middleware::from_fn_with_state(
            state,
            super::error::staff_errors_in_layout,
        ))
}

#[derive(serde::Deserialize)]
struct CompletionQuery {
    q: String,
}

/// Completion of collectivity names while typing: for a relay, only its own départements are offered.
async fn complete_collectivity(
    session: Session,
    State(state): State<AppState>,
    Query(query): Query<CompletionQuery>,
) -> super::error::WebResult<impl IntoResponse> {
    let territories = match session.scope() {
        crate::store::Scope::All => None,
        crate::store::Scope::Relay(id) => Some(state.store.user_territories(id).await?),
    };
    let referential = Referential::get();
    let entries: Vec<serde_json::Value> = referential
        .search_with(&query.q, 10, |e| territories.as_ref().is_none_or(|t| e.departement.as_ref().is_some_and(|d| t.contains(d))))
        .into_iter()
        .map(|e| {
            serde_json::json!({
                "kind": e.kind.as_str(),
                "kind_label": e.kind.label_fr(),
                "code": e.code,
                "name": e.name,
                "departement": e.departement,
                "departement_name": e.departement.as_deref().and_then(|d| referential.departement_name(d)),
                "population": e.population,
            })
        })
        .collect();
    Ok(axum::Json(entries))
}
