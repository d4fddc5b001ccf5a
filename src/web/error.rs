//! Errors of the web pages, shown to people as a French page that says what went wrong and what to do. The
//! page stands alone for the public; for a logged-in staff member the staff router shows the same words inside
//! the app's layout ([`staff_errors_in_layout`]), menu included, with a link back to the page they came from.

use askama::Template;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Redirect, Response};

use super::AppState;
use super::auth::optional_session;
use super::view::Chrome;
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
    /// The page's own answer, ready (a form refused: the page again with the French message), handed back
    /// through `?` by [`super::forms::Validated::or_answer`].
    #[error("réponse de la page")]
    Answer(Box<Response>),
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

/// What an error page said, kept on the response so that the staff router can say it inside the layout.
#[derive(Debug, Clone)]
struct ShownError {
    title: &'static str,
    message: String,
}

#[derive(Template)]
#[template(path = "staff_error.html", config = "src/web/askama.toml")]
struct StaffErrorPage<'a> {
    chrome: Chrome,
    status: u16,
    message: &'a str,
    back: &'a str,
}

/// Shows the error pages of the staff app inside its layout, for a logged-in person, with a way back to the
/// page the request came from (its `Referer`, when it is a page of this site). Answers to scripts asking for
/// JSON are left as they are.
pub async fn staff_errors_in_layout(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let headers = request.headers().clone();
    let response = next.run(request).await;
    let Some(shown) = response.extensions().get::<ShownError>().cloned() else {
        return response;
    };
    let wants_json = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("application/json"));
    if wants_json {
        return response;
    }
    let Ok(Some(session)) = optional_session(&state, &headers).await else {
        return response;
    };
    let back = back_path(&headers, &state.settings.server.public_url);
    let page = StaffErrorPage {
        chrome: Chrome::new(&session, "", shown.title),
        status: response.status().as_u16(),
        message: &shown.message,
        back: &back,
    };
    match page.render() {
        Ok(html) => (response.status(), Html(html)).into_response(),
        Err(_) => response,
    }
}

/// The path of the page a request came from, when it is one of this site's, else the dashboard.
fn back_path(headers: &HeaderMap, public_url: &str) -> String {
    let referer = headers
        .get(header::REFERER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let path = [
        public_url.trim_end_matches('/').to_string(),
        format!("http://{host}"),
        format!("https://{host}"),
    ]
    .iter()
    .filter(|origin| !origin.is_empty() && !origin.ends_with("//"))
    .find_map(|origin| referer.strip_prefix(origin.as_str()))
    .filter(|path| path.starts_with('/') && !path.starts_with("//"));
    path.unwrap_or("/").to_string()
}

/// Where an official who followed an archive link learns how to open it.
#[derive(Template)]
#[template(path = "archive_subscribers_only.html", config = "src/web/askama.toml")]
struct SubscribersOnlyPage;

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        let (status, title, message) = match self {
            WebError::Answer(response) => return *response,
            WebError::LoginRequired => return Redirect::to("/login").into_response(),
            WebError::Forbidden => (
                StatusCode::FORBIDDEN,
                "Accès refusé",
                "Votre compte ne permet pas cette action. Demandez-le à une personne administratrice de relais si besoin.".to_string(),
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
            WebError::BadRequest(message) => (StatusCode::BAD_REQUEST, "Saisie incorrecte", message),
            WebError::Conflict(message) => (StatusCode::CONFLICT, "Déjà enregistré", message),
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
        let mut response = match page.render() {
            Ok(html) => (status, Html(html)).into_response(),
            Err(_) => (status, message.clone()).into_response(),
        };
        response
            .extensions_mut()
            .insert(ShownError { title, message });
        response
    }
}
