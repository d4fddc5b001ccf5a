//! The JSON API under `/api/v1`: organisations, people, targets, stage changes and interactions, for scripts
//! and other tools. Authentication is an API token (`relais token create`) sent as `Authorization: Bearer …`;
//! errors are JSON with a French `error` message and, when one field is at fault, its name in `field`.

mod openapi;
mod resources;

use axum::Router;
use axum::extract::FromRequestParts;
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};

use super::AppState;
use crate::domain::Role;
use crate::security;
use crate::store::audit::Actor;
use crate::store::{Scope, StoreError};

pub fn router() -> Router<AppState> {
    Router::new()
        .merge(resources::router())
        .merge(openapi::router())
}

/// A JSON error body: `{"error": "...", "field": "..."}`.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    message: String,
    field: Option<&'static str>,
}

impl ApiError {
    pub fn invalid(field: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            message: message.into(),
            field: Some(field),
        }
    }

    fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            message: message.into(),
            field: None,
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotFound => ApiError::new(StatusCode::NOT_FOUND, "introuvable"),
            StoreError::Conflict(what) => ApiError::new(StatusCode::CONFLICT, what),
            other => {
                tracing::error!(error = %other, "api store error");
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "erreur interne ; rien n'a été enregistré",
                )
            }
        }
    }
}

impl From<axum::extract::rejection::JsonRejection> for ApiError {
    fn from(rejection: axum::extract::rejection::JsonRejection) -> Self {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("corps JSON invalide : {}", rejection.body_text()),
        )
    }
}

impl From<axum::extract::rejection::QueryRejection> for ApiError {
    fn from(rejection: axum::extract::rejection::QueryRejection) -> Self {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("paramètres invalides : {}", rejection.body_text()),
        )
    }
}

impl From<axum::extract::rejection::PathRejection> for ApiError {
    fn from(rejection: axum::extract::rejection::PathRejection) -> Self {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("chemin invalide : {}", rejection.body_text()),
        )
    }
}

/// `axum::Json` whose rejection (malformed body, wrong content type) is answered as an [`ApiError`].
#[derive(axum::extract::FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct ApiJson<T>(pub T);

/// `axum::extract::Query` whose rejection is answered as an [`ApiError`].
#[derive(axum::extract::FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct ApiQuery<T>(pub T);

/// `axum::extract::Path` whose rejection is answered as an [`ApiError`].
#[derive(axum::extract::FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct ApiPath<T>(pub T);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = match self.field {
            Some(field) => serde_json::json!({"error": self.message, "field": field}),
            None => serde_json::json!({"error": self.message}),
        };
        (self.status, axum::Json(body)).into_response()
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

/// The caller of the API: a live token and its role.
pub struct ApiCaller {
    pub name: String,
    pub role: Role,
}

impl ApiCaller {
    pub fn scope(&self) -> Scope {
        Scope::All
    }

    pub fn actor(&self) -> Actor {
        Actor {
            user_id: None,
            label: format!("jeton API « {} »", self.name),
        }
    }

    pub fn require_write(&self) -> ApiResult<()> {
        if self.role.can_write() {
            Ok(())
        } else {
            Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "ce jeton est en lecture seule",
            ))
        }
    }
}

impl FromRequestParts<AppState> for ApiCaller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let header = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        let Some(token) = header.and_then(|h| h.strip_prefix("Bearer ")) else {
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "jeton manquant : envoyez « Authorization: Bearer <jeton> »",
            ));
        };
        let found = state
            .store
            .use_api_token(
                &security::sha256_hex(token.trim()),
                state.clock.now_millis(),
            )
            .await?;
        let Some(found) = found else {
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "jeton inconnu ou révoqué",
            ));
        };
        Ok(ApiCaller {
            name: found.name,
            role: Role::parse(&found.role).unwrap_or(Role::Viewer),
        })
    }
}
