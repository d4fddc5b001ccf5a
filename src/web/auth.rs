//! Logging in and out, the session extractor, role checks and CSRF protection.
//!
//! Sessions live in the database (the cookie holds a random token, the table its SHA-256). Every state-changing
//! request of the web app must carry the session's CSRF token, in the `_csrf` form field, the `_csrf` query
//! parameter (multipart uploads) or the `X-CSRF-Token` header (fetch calls); [`csrf_guard`] refuses the rest.
//! Failed logins are counted per account and per client address in the database, so a lockout holds across
//! restarts and instances.

use std::net::SocketAddr;

use askama::Template;
use axum::body::{Body, to_bytes};
use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use axum_extra::extract::CookieJar;
use axum_extra::extract::cookie::{Cookie, SameSite};

use super::AppState;
use super::error::{WebError, WebResult};
use crate::domain::Role;
use crate::security;
use crate::store::Scope;
use crate::store::accounts::User;
use crate::store::audit::Actor;

pub const SESSION_COOKIE: &str = "relais_session";

/// The logged-in person of a request.
#[derive(Clone, Debug)]
pub struct Session {
    pub user: User,
    pub csrf: String,
}

impl Session {
    pub fn role(&self) -> Role {
        self.user.role()
    }

    pub fn scope(&self) -> Scope {
        self.user.scope()
    }

    pub fn actor(&self) -> Actor {
        Actor {
            user_id: Some(self.user.id),
            label: self.user.name.clone(),
        }
    }

    /// Refuses viewers: only roles that may change pipeline data pass.
    pub fn require_write(&self) -> WebResult<()> {
        if self.role().can_write() {
            Ok(())
        } else {
            Err(WebError::Forbidden)
        }
    }

    /// Only staff and admins pass (imports, the access page, the audit log).
    pub fn require_staff(&self) -> WebResult<()> {
        if self.role().is_staff() {
            Ok(())
        } else {
            Err(WebError::Forbidden)
        }
    }
}

async fn load_session(state: &AppState, jar: &CookieJar) -> Result<Option<Session>, WebError> {
    let Some(cookie) = jar.get(SESSION_COOKIE) else {
        return Ok(None);
    };
    let token_hash = security::sha256_hex(cookie.value());
    let now = state.clock.now_millis();
    // Read the generation before the database: a commit meanwhile makes this read stale at once.
    let generation = state.store.generation();
    let active = match state.sessions.get(&token_hash, generation, now) {
        Some(active) => active,
        None => match state.store.session_user(&token_hash, now).await? {
            Some(active) => {
                state
                    .sessions
                    .insert(token_hash, generation, active.clone());
                active
            }
            None => return Ok(None),
        },
    };
    Ok(Some(Session {
        user: active.user,
        csrf: active.csrf_token,
    }))
}

/// The session of a request, if it has one: for pages open to the public that show more to staff.
pub async fn optional_session(
    state: &AppState,
    headers: &axum::http::HeaderMap,
) -> Result<Option<Session>, WebError> {
    load_session(state, &CookieJar::from_headers(headers)).await
}

impl FromRequestParts<AppState> for Session {
    type Rejection = WebError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        if let Some(session) = parts.extensions.get::<Session>() {
            return Ok(session.clone());
        }
        let jar = CookieJar::from_headers(&parts.headers);
        let session = load_session(state, &jar)
            .await?
            .ok_or(WebError::LoginRequired)?;
        parts.extensions.insert(session.clone());
        Ok(session)
    }
}

/// Largest urlencoded form read to find its CSRF field.
const MAX_FORM_BYTES: usize = 1024 * 1024;

/// Refuses any state-changing request of the web app that lacks the session's CSRF token.
pub async fn csrf_guard(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    ) {
        return next.run(request).await;
    }
    let jar = CookieJar::from_headers(request.headers());
    let session = match load_session(&state, &jar).await {
        Ok(Some(session)) => session,
        Ok(None) => return WebError::LoginRequired.into_response(),
        Err(error) => return error.into_response(),
    };
    let (mut parts, body) = request.into_parts();
    let mut presented = parts
        .headers
        .get("x-csrf-token")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .or_else(|| query_field(parts.uri.query().unwrap_or(""), "_csrf"));
    let is_form = parts
        .headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    let body = if presented.is_none() && is_form {
        let Ok(bytes) = to_bytes(body, MAX_FORM_BYTES).await else {
            return WebError::BadRequest("Formulaire trop volumineux.".into()).into_response();
        };
        presented = query_field(&String::from_utf8_lossy(&bytes), "_csrf");
        Body::from(bytes)
    } else {
        body
    };
    if !presented.is_some_and(|token| security::constant_time_eq(&token, &session.csrf)) {
        return csrf_refused();
    }
    parts.extensions.insert(session);
    next.run(Request::from_parts(parts, body)).await
}

fn csrf_refused() -> Response {
    (
        StatusCode::FORBIDDEN,
        Html("<!doctype html><html lang=\"fr\"><meta charset=\"utf-8\"><title>Formulaire expiré</title><main><h1>Formulaire expiré</h1><p>Ce formulaire n'est plus valable (jeton de sécurité absent ou périmé). Rechargez la page et recommencez.</p><p><a href=\"/\">Retour au tableau de bord</a></p></main></html>"),
    )
        .into_response()
}

fn query_field(encoded: &str, name: &str) -> Option<String> {
    serde_urlencoded::from_str::<Vec<(String, String)>>(encoded)
        .ok()?
        .into_iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value)
}

pub fn router() -> Router<AppState> {
    Router::new().route("/login", get(login_page).post(login))
}

/// Logging out changes state, so it sits behind the CSRF guard with the other pages.
pub fn logout_router() -> Router<AppState> {
    Router::new().route("/logout", post(logout))
}

#[derive(Template)]
#[template(path = "login.html", config = "src/web/askama.toml")]
struct LoginPage {
    email: String,
    error: Option<String>,
}

async fn login_page() -> WebResult<Html<String>> {
    Ok(Html(
        LoginPage {
            email: String::new(),
            error: None,
        }
        .render()?,
    ))
}

#[derive(serde::Deserialize)]
struct LoginForm {
    email: String,
    password: String,
}

async fn login(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    jar: CookieJar,
    Form(form): Form<LoginForm>,
) -> WebResult<Response> {
    let account = form.email.trim().to_lowercase();
    let address = peer.ip().to_string();
    let now = state.clock.now_millis();
    let security_settings = &state.settings.security;
    let since = now - security_settings.login_window_minutes * 60_000;
    let (by_account, by_address) = state
        .store
        .count_login_failures(&account, &address, since)
        .await?;
    let refuse = |status: StatusCode, message: &str| -> WebResult<Response> {
        let page = LoginPage {
            email: account.clone(),
            error: Some(message.to_string()),
        };
        Ok((status, Html(page.render()?)).into_response())
    };
    if by_account >= security_settings.login_max_failures
        || by_address >= security_settings.login_max_failures
    {
        tracing::warn!(%account, %address, "login refused: too many failures");
        return refuse(
            StatusCode::TOO_MANY_REQUESTS,
            &format!(
                "Trop de tentatives échouées. Réessayez dans {} minutes.",
                security_settings.login_window_minutes
            ),
        );
    }
    let user = state.store.user_by_email(&account).await?;
    let valid = match &user {
        Some(user) if user.active => security::verify_password(&form.password, &user.password_hash),
        _ => {
            security::dummy_verify(&form.password);
            false
        }
    };
    let Some(user) = user.filter(|_| valid) else {
        state
            .store
            .record_login_failure(&account, &address, now)
            .await?;
        return refuse(
            StatusCode::UNAUTHORIZED,
            "Adresse email ou mot de passe incorrect.",
        );
    };
    state.store.clear_login_failures(&account).await?;
    let token = security::random_token();
    let expires = now + security_settings.session_hours * 3_600_000;
    state
        .store
        .create_session(
            &security::sha256_hex(&token),
            user.id,
            &security::random_token(),
            now,
            expires,
        )
        .await?;
    state.store.record_login(user.id, now).await?;
    tracing::info!(user = user.id, "logged in");
    let cookie = Cookie::build((SESSION_COOKIE, token))
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(state.settings.server.secure_cookies())
        .path("/")
        .max_age(time::Duration::hours(security_settings.session_hours))
        .build();
    Ok((jar.add(cookie), Redirect::to("/")).into_response())
}

async fn logout(State(state): State<AppState>, jar: CookieJar) -> WebResult<Response> {
    if let Some(cookie) = jar.get(SESSION_COOKIE) {
        let token_hash = security::sha256_hex(cookie.value());
        state.sessions.forget(&token_hash);
        state.store.delete_session(&token_hash).await?;
    }
    Ok((
        jar.remove(Cookie::build(SESSION_COOKIE).path("/")),
        Redirect::to("/login"),
    )
        .into_response())
}
