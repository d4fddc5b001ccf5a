//! Logging in and out, the session extractor, role checks and CSRF protection.
//!
//! Sessions live in the database (the cookie holds a random token, the table its SHA-256). Every state-changing
//! request of the web app must carry the session's CSRF token, in the `_csrf` form field (for a multipart
//! upload, its first field), the `X-CSRF-Token` header (fetch calls) or the `_csrf` query parameter (older
//! upload forms); [`csrf_guard`] refuses the rest.
//!
//! Failed logins are kept in the database (so throttling holds across restarts and instances) and counted
//! three ways over `security.login_window_minutes` (see [`refused_until`]):
//! - per account *and* client address: after `login_free_failures`, each attempt of that pair waits 2, 4, 8 …
//!   seconds after the last failure, at most `login_max_delay_minutes`. Guessing is slowed where it happens;
//!   the account's owner elsewhere is not touched.
//! - per account, from all addresses (`login_account_max_failures`, a guesser spread over many addresses),
//! - per address, on all accounts (`login_address_max_failures`, one machine trying many accounts):
//!   past either, attempts are refused *except* for an account at an address it logged in from successfully
//!   within [`KNOWN_ADDRESS_DAYS`]. Someone else's failures never lock a person out of an address they use,
//!   while guesses spread over many addresses, or one address trying many accounts, are stopped for every
//!   other account and address. (A first login from a new place may have to wait out such an attack.)
//!
//! A refused attempt is not checked nor counted (hammering does not prolong the wait) and gets a French page
//! saying how long to wait, with 429 and `Retry-After`. A successful login clears the failures of its account
//! from its address. The client address is the one [`super::client`] reads (proxies included).

use askama::Template;
use axum::body::{Body, to_bytes};
use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use axum_extra::extract::CookieJar;
use axum_extra::extract::cookie::{Cookie, SameSite};

use super::AppState;
use super::client::ClientAddress;
use super::error::{WebError, WebResult};
use crate::config::SecuritySettings;
use crate::domain::Role;
use crate::security;
use crate::store::Scope;
use crate::store::accounts::User;
use crate::store::audit::Actor;
use crate::store::login_attempts::LoginFailuresOf;

pub const SESSION_COOKIE: &str = "relais_session";

/// The logged-in person of a request.
#[derive(Clone, Debug)]
pub struct Session {
    pub user: User,
    pub csrf: String,
    /// The message left by the previous save, shown once by the layout ([`super::flash`]).
    pub notice: Option<String>,
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
        notice: None,
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
        let mut session = load_session(state, &jar)
            .await?
            .ok_or(WebError::LoginRequired)?;
        session.notice = super::flash::notice_of(&parts.headers);
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
    let multipart_boundary = parts
        .headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .filter(|v| v.starts_with("multipart/form-data"))
        .and_then(|v| v.split("boundary=").nth(1))
        .map(|b| b.trim_matches('"').to_string());
    let body = if presented.is_none() && is_form {
        let Ok(bytes) = to_bytes(body, MAX_FORM_BYTES).await else {
            return WebError::BadRequest("Formulaire trop volumineux.".into()).into_response();
        };
        presented = query_field(&String::from_utf8_lossy(&bytes), "_csrf");
        Body::from(bytes)
    } else if let (None, Some(boundary)) = (&presented, multipart_boundary) {
        let (token, body) = first_multipart_field(body, &boundary, "_csrf").await;
        presented = token;
        body
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

/// The value of `name` when it is the first field of a multipart body (forms put their hidden `_csrf` input
/// first), read from the body's first few kilobytes only, so an upload is never held in memory here; the
/// body is handed back whole.
async fn first_multipart_field(body: Body, boundary: &str, name: &str) -> (Option<String>, Body) {
    use futures::StreamExt;
    const PEEK_BYTES: usize = 4096;
    let mut stream = body.into_data_stream();
    let mut prefix: Vec<u8> = Vec::new();
    let mut failed = None;
    while prefix.len() < PEEK_BYTES {
        match stream.next().await {
            Some(Ok(chunk)) => prefix.extend_from_slice(&chunk),
            Some(Err(error)) => {
                failed = Some(error);
                break;
            }
            None => break,
        }
    }
    let value = multipart_first_value(&prefix, boundary, name);
    let head = futures::stream::once(async move {
        match failed {
            Some(error) => Err(error),
            None => Ok(axum::body::Bytes::from(prefix)),
        }
    });
    (value, Body::from_stream(head.chain(stream)))
}

fn multipart_first_value(prefix: &[u8], boundary: &str, name: &str) -> Option<String> {
    let text = String::from_utf8_lossy(prefix);
    let first = text.strip_prefix(&format!("--{boundary}\r\n"))?;
    let (headers, rest) = first.split_once("\r\n\r\n")?;
    let disposition = headers
        .lines()
        .find(|l| l.to_ascii_lowercase().starts_with("content-disposition:"))?;
    if !disposition.contains(&format!("name=\"{name}\"")) || disposition.contains("filename=") {
        return None;
    }
    let (value, _) = rest.split_once(&format!("\r\n--{boundary}"))?;
    Some(value.to_string())
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

/// How long a successful login makes its address one the account uses, exempt from the limits across
/// accounts and across addresses.
pub const KNOWN_ADDRESS_DAYS: i64 = 30;

async fn login(
    State(state): State<AppState>,
    client: ClientAddress,
    jar: CookieJar,
    Form(form): Form<LoginForm>,
) -> WebResult<Response> {
    let account = form.email.trim().to_lowercase();
    let address = client.throttle_key();
    let now = state.clock.now_millis();
    let security_settings = &state.settings.security;
    let page = |message: &str| LoginPage {
        email: account.clone(),
        error: Some(message.to_string()),
    };
    if let Some((until, limit)) = refused_until(&state, &account, &address, now).await? {
        tracing::warn!(%account, %address, limit, "login refused: too many failures");
        let seconds = (until - now + 999) / 1000;
        let message = format!(
            "Trop de tentatives de connexion. Réessayez dans {}.",
            wait_in_words(seconds)
        );
        return Ok((
            StatusCode::TOO_MANY_REQUESTS,
            [(header::RETRY_AFTER, HeaderValue::from(seconds))],
            Html(page(&message).render()?),
        )
            .into_response());
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
        let page = page("Adresse email ou mot de passe incorrect.");
        return Ok((StatusCode::UNAUTHORIZED, Html(page.render()?)).into_response());
    };
    state
        .store
        .record_login_success(
            &account,
            &address,
            now,
            now - KNOWN_ADDRESS_DAYS * 86_400_000,
        )
        .await?;
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

/// Until when an attempt on `account` from `address` must wait, and which limit says so (for the log); `None`
/// when it may go ahead now.
async fn refused_until(
    state: &AppState,
    account: &str,
    address: &str,
    now: i64,
) -> WebResult<Option<(i64, &'static str)>> {
    let limits = &state.settings.security;
    let window = limits.login_window_minutes * 60_000;
    let since = now - window;
    let known_since = now - KNOWN_ADDRESS_DAYS * 86_400_000;
    let record = state
        .store
        .login_attempt_record(account, address, since, known_since)
        .await?;
    let mut refused = pair_free_at(record.pair_failures, record.pair_last_failure_at, limits)
        .map(|until| (until, "account from this address"));
    if !record.known_address {
        let spread = [
            (
                record.account_failures,
                limits.login_account_max_failures,
                LoginFailuresOf::Account(account),
                "account",
            ),
            (
                record.address_failures,
                limits.login_address_max_failures,
                LoginFailuresOf::Address(address),
                "address",
            ),
        ];
        for (failures, limit, of, name) in spread {
            if failures < limit {
                continue;
            }
            // The limit lifts when the limit-th latest failure leaves the window.
            if let Some(at) = state
                .store
                .nth_latest_login_failure(of, limit, since)
                .await?
                && refused.is_none_or(|(until, _)| at + window > until)
            {
                refused = Some((at + window, name));
            }
        }
    }
    Ok(refused.filter(|(until, _)| *until > now))
}

/// When an account may be tried again from an address after `failures` failures from there, the last at
/// `last_failure_at`: at once for the first `login_free_failures`, then 2, 4, 8 … seconds after the last,
/// at most `login_max_delay_minutes`.
fn pair_free_at(
    failures: i64,
    last_failure_at: Option<i64>,
    limits: &SecuritySettings,
) -> Option<i64> {
    let last = last_failure_at?;
    if failures < limits.login_free_failures {
        return None;
    }
    let doublings = (failures - limits.login_free_failures + 1).min(40);
    let delay = (1_000_i64 << doublings).min(limits.login_max_delay_minutes * 60_000);
    Some(last + delay)
}

/// "8 secondes", "4 minutes": a wait as the refusal page says it, rounded up.
fn wait_in_words(seconds: i64) -> String {
    let plural = |n: i64, word: &str| format!("{n} {word}{}", if n > 1 { "s" } else { "" });
    if seconds < 60 {
        plural(seconds.max(1), "seconde")
    } else {
        plural((seconds + 59) / 60, "minute")
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_is_read_only_from_the_first_field_of_an_upload() {
        let body = |first: &str| {
            format!(
                "--b0\r\nContent-Disposition: form-data; {first}\r\n\r\njeton\r\n--b0\r\n\
                 Content-Disposition: form-data; name=\"file\"; filename=\"a.csv\"\r\n\r\nx\r\n--b0--\r\n"
            )
        };
        assert_eq!(
            multipart_first_value(body("name=\"_csrf\"").as_bytes(), "b0", "_csrf").as_deref(),
            Some("jeton")
        );
        assert_eq!(
            multipart_first_value(body("name=\"other\"").as_bytes(), "b0", "_csrf"),
            None
        );
        // A file named like the field is not a token.
        assert_eq!(
            multipart_first_value(
                body("name=\"_csrf\"; filename=\"t\"").as_bytes(),
                "b0",
                "_csrf"
            ),
            None
        );
    }

    fn limits() -> SecuritySettings {
        SecuritySettings {
            login_free_failures: 3,
            login_max_delay_minutes: 15,
            login_account_max_failures: 50,
            login_address_max_failures: 30,
            login_window_minutes: 60,
            session_hours: 72,
        }
    }

    #[test]
    fn the_wait_of_a_pair_doubles_after_the_free_failures_up_to_the_cap() {
        let limits = limits();
        assert_eq!(pair_free_at(0, None, &limits), None);
        assert_eq!(pair_free_at(2, Some(1_000), &limits), None);
        let waits: Vec<i64> = (3..=14)
            .map(|failures| pair_free_at(failures, Some(0), &limits).unwrap() / 1000)
            .collect();
        assert_eq!(waits, [2, 4, 8, 16, 32, 64, 128, 256, 512, 900, 900, 900]);
        assert_eq!(pair_free_at(10_000, Some(0), &limits), Some(900_000));
    }

    #[test]
    fn waits_read_in_french_rounded_up() {
        assert_eq!(wait_in_words(0), "1 seconde");
        assert_eq!(wait_in_words(8), "8 secondes");
        assert_eq!(wait_in_words(60), "1 minute");
        assert_eq!(wait_in_words(181), "4 minutes");
        assert_eq!(wait_in_words(900), "15 minutes");
    }
}
