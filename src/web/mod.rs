//! The web side of relais: the staff web app (server-rendered askama pages with a little JavaScript served by
//! relais itself), the JSON API under `/api/v1`, and the operational endpoints (`/healthz`, `/readyz`,
//! `/metrics`). One router per resource, merged here; one state shared by all.

pub mod answer;
pub mod api;
pub mod archive;
pub mod assets;
pub mod auth;
pub mod budget;
pub mod cache;
pub mod client;
pub mod error;
pub mod federation;
pub mod flash;
pub mod forms;
pub mod list_archive;
pub mod metrics;
pub mod pages;
pub mod preferences;
pub mod resources;
pub mod subscribe;
pub mod survey;
pub mod unsubscribe;
pub mod view;

use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::http::{HeaderValue, header};
use axum::response::IntoResponse;
use axum::routing::get;
use tower_http::set_header::SetResponseHeaderLayer;

use crate::clock::Clock;
use crate::config::Settings;
use crate::store::Store;

/// Everything a handler may need.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub settings: Arc<Settings>,
    pub clock: Clock,
    pub metrics: Arc<metrics::Metrics>,
    pub dashboard_cache: Arc<pages::DashboardCache>,
    pub owners_cache: Arc<cache::DerivedCache<(), Vec<(i64, String)>>>,
    pub sessions: Arc<cache::SessionCache>,
    /// Signs and checks the unsubscribe links of list and newsletter mail.
    pub unsubscribe: crate::mail::unsubscribe::UnsubscribeKey,
    /// The key that signs the moment the subscription form was shown, read from the database once.
    pub subscribe_form_key: Arc<tokio::sync::OnceCell<String>>,
    /// Receiving's shared parts (its DNS resolver above all), for staff decisions on held posts.
    pub inbound: crate::inbound::Inbound,
    /// What each client may still make the public forms mail this hour.
    pub form_budget: Arc<budget::ClientBudget>,
    /// Federation with partner networks: actors, keys, the outbox of activities, the inbox's gate.
    pub federation: crate::federation::Federation,
}

/// The whole HTTP application.
pub fn router(state: AppState) -> Router {
    let upload_limit = state.settings.server.max_upload_mb as usize * 1024 * 1024;
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics::render))
        .merge(assets::router())
        .merge(auth::router())
        .merge(unsubscribe::router())
        .merge(subscribe::router())
        .merge(preferences::router())
        .merge(answer::router())
        .merge(survey::router())
        .merge(resources::router())
        .merge(list_archive::router())
        .merge(archive::router())
        .merge(federation::router(&state))
        .merge(pages::password_router())
        .merge(pages::router(state.clone()))
        .nest("/api/v1", api::router())
        // An unknown address gets the French "Page introuvable" page, not the browser's own error page.
        .fallback(|| async { error::WebError::NotFound })
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            metrics::track,
        ))
        .layer(DefaultBodyLimit::max(upload_limit))
        // Security headers on every response, unless a handler set its own: the policy above, no MIME
        // sniffing, no referrer sent to other sites (pages' links carry personal tokens), no framing.
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CONTENT_SECURITY_POLICY),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(state)
}

/// The policy every page keeps unless it sets a stricter one of its own (a mail's HTML shown to staff, an
/// archived post): scripts only from relais itself (the pages carry no inline script), no plugins, no
/// framing by another site (clickjacking), forms posted to relais only. Styles may be inline (mail HTML
/// and a few pages carry some); images may come from the web, as in the mails staff preview.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self' 'unsafe-inline'; img-src 'self' data: https:; object-src 'none'; base-uri 'self'; \
     form-action 'self'; frame-ancestors 'none'";

/// Ready when the database answers.
async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    match state.store.ping().await {
        Ok(()) => (StatusCode::OK, "ready"),
        Err(error) => {
            tracing::warn!(%error, "database not reachable");
            (StatusCode::SERVICE_UNAVAILABLE, "database unreachable")
        }
    }
}

impl AppState {
    /// Staff who can own targets, for pickers and filters; shared between requests (see [`cache`]).
    pub async fn owners(&self) -> Result<Arc<Vec<(i64, String)>>, crate::store::StoreError> {
        self.owners_cache
            .get(&self.store, (), |_| true, || self.store.list_owners())
            .await
    }
}
