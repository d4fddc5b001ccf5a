//! Errors of the web pages, shown to people as a French page that says what went wrong and what to do.

use askama::Template;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};

use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum WebError {
    #[error("connexion requise")]
    LoginRequired,
    #[error("accès refusé")]
    Forbidden,
    /// A members' list archive seen without a subscriber's link nor a staff session.
    #[error("archives réservées aux abonnés")]
    SubscribersOnly,
    #[error("page introuvable")]
    NotFound,
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Conflict(String),
    #[error("erreur interne")]
    Internal(String),
}

pub type WebResult<T, E = WebError> = Result<T, E>;

impl From<StoreError> for WebError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotFound => WebError::NotFound,
            StoreError::Conflict(what) => WebError::Conflict(what),
            other => WebError::Internal(other.to_string()),
        }
    }
}

impl From<askama::Error> for WebError {
    fn from(error: askama::Error) -> Self {
        WebError::Internal(format!("template: {error}"))
    }
}

#[derive(Template)]
#[template(path = "error.html", config = "src/web/askama.toml")]
struct ErrorPage<'a> {
    status: u16,
    title: &'a str,
    message: &'a str,
}

/// Where an official who followed an archive link learns how to open it.
#[derive(Template)]
#[template(path = "archive_subscribers_only.html", config = "src/web/askama.toml")]
struct SubscribersOnlyPage;

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        let (status, title, message) = match &self {
            WebError::LoginRequired => return Redirect::to("/login").into_response(),
            WebError::Forbidden => (
                StatusCode::FORBIDDEN,
                "Accès refusé",
                "Votre compte ne permet pas cette action. Demandez à un·e administrateur·rice si besoin.".to_string(),
            ),
            WebError::SubscribersOnly => {
                let page = SubscribersOnlyPage;
                return match page.render() {
                    Ok(html) => (StatusCode::FORBIDDEN, Html(html)).into_response(),
                    Err(_) => (StatusCode::FORBIDDEN, "Archives réservées aux abonnés").into_response(),
                };
            }
            WebError::NotFound => (
                StatusCode::NOT_FOUND,
                "Page introuvable",
                "Cette page n'existe pas, ou plus, ou elle ne vous est pas ouverte. Vérifiez l'adresse, ou \
                 revenez à la page précédente."
                    .to_string(),
            ),
            WebError::BadRequest(message) => (StatusCode::BAD_REQUEST, "Saisie incorrecte", message.clone()),
            WebError::Conflict(message) => (StatusCode::CONFLICT, "Déjà enregistré", message.clone()),
            WebError::Internal(detail) => {
                tracing::error!(%detail, "internal error");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Erreur interne",
                    "Une erreur est survenue ; rien n'a été enregistré. Réessayez, puis prévenez l'équipe technique si elle persiste."
                        .to_string(),
                )
            }
        };
        let page = ErrorPage {
            status: status.as_u16(),
            title,
            message: &message,
        };
        match page.render() {
            Ok(html) => (status, Html(html)).into_response(),
            Err(_) => (status, message).into_response(),
        }
    }
}
