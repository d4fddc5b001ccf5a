//! The JSON API under `/api/v1`: organisations, people, targets, stage changes and interactions, for scripts
//! and other tools. Authentication is an API token (`relais token create`) sent as `Authorization: Bearer …`;
//! errors are JSON with a French `error` message and, when one field is at fault, its name in `field`.

mod openapi;
mod resources;

use std::borrow::Cow;

use axum::Router;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;

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

/// An error of the API, answered as an [`ApiErrorBody`].
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    message: String,
    field: Option<Cow<'static, str>>,
}

/// The body of every error the API answers.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct ApiErrorBody {
    /// What was wrong and what to do, in French.
    error: String,
    /// The field of the request at fault, when one is.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    field: Option<String>,
}

impl ApiError {
    pub fn invalid(field: impl Into<Cow<'static, str>>, message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            message: message.into(),
            field: Some(field.into()),
        }
    }

    /// The answer to a write that names a row that does not exist (see [`StoreError::MissingReference`]).
    pub fn missing_reference(field: &'static str, what: &str) -> ApiError {
        ApiError::invalid(
            field,
            format!("{what} introuvable : vérifiez l'identifiant"),
        )
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
            // Handlers name the field; this is the answer where one did not.
            StoreError::MissingReference(_) => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "un identifiant de la requête ne désigne rien ; rien n'a été enregistré",
            ),
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

const NUL_REFUSED: &str = "le caractère NUL (U+0000) n'est pas admis dans un texte";

/// A JSON body. A malformed body or a wrong content type is a 400; a text holding the NUL character, which
/// PostgreSQL cannot store, is a 422 naming the top-level field that holds it.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let axum::Json(value) =
            axum::Json::<serde_json::Value>::from_request(request, state).await?;
        if let serde_json::Value::Object(fields) = &value
            && let Some((name, _)) = fields.iter().find(|(_, v)| holds_nul(v))
        {
            return Err(ApiError::invalid(name.clone(), NUL_REFUSED));
        }
        if holds_nul(&value) {
            return Err(ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, NUL_REFUSED));
        }
        serde_json::from_value(value).map(ApiJson).map_err(|e| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                format!("corps JSON invalide : {e}"),
            )
        })
    }
}

fn holds_nul(value: &serde_json::Value) -> bool {
    match value {
        serde_json::Value::String(text) => text.contains('\0'),
        serde_json::Value::Array(items) => items.iter().any(holds_nul),
        serde_json::Value::Object(fields) => fields
            .iter()
            .any(|(name, v)| name.contains('\0') || holds_nul(v)),
        _ => false,
    }
}

/// Query parameters. Unreadable ones are a 400; one holding the NUL character is a 422 naming it.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let axum::extract::Query(pairs) =
            axum::extract::Query::<Vec<(String, String)>>::try_from_uri(&parts.uri)?;
        if let Some((name, _)) = pairs
            .iter()
            .find(|(name, value)| name.contains('\0') || value.contains('\0'))
        {
            return Err(ApiError::invalid(name.replace('\0', ""), NUL_REFUSED));
        }
        let axum::extract::Query(params) = axum::extract::Query::<T>::try_from_uri(&parts.uri)?;
        Ok(ApiQuery(params))
    }
}

/// `axum::extract::Path` whose rejection is answered as an [`ApiError`].
#[derive(axum::extract::FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct ApiPath<T>(pub T);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ApiErrorBody {
            error: self.message,
            field: self.field.map(Cow::into_owned),
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
