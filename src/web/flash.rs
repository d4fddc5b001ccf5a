//! The message a staff member reads after a save ("Suivi enregistré."): the handler answers with a redirect
//! that carries it in a short-lived cookie, the next page of the app shows it once in the layout, and the
//! response that showed it deletes the cookie. Nothing goes into the URL, so reloading or sharing the page
//! never repeats a message.

use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use percent_encoding::{NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};

const NOTICE_COOKIE: &str = "relais_notice";
/// Long enough for the redirect to be followed, short enough that a message never resurfaces later.
const NOTICE_SECONDS: u32 = 120;
/// A notice is one sentence; a longer cookie is someone else's doing and is ignored.
const MAX_NOTICE_CHARS: usize = 400;

/// A 303 redirect to `to` that shows `message` on the page it leads to.
pub fn redirect_with_notice(to: &str, message: &str) -> Response {
    let value = format!(
        "{NOTICE_COOKIE}={}; Path=/; Max-Age={NOTICE_SECONDS}; HttpOnly; SameSite=Strict",
        utf8_percent_encode(message, NON_ALPHANUMERIC)
    );
    let mut response =
        (StatusCode::SEE_OTHER, [(header::LOCATION, to.to_string())]).into_response();
    if let Ok(cookie) = HeaderValue::from_str(&value) {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}

/// The notice a request carries, if any.
pub fn notice_of(headers: &HeaderMap) -> Option<String> {
    let jar = axum_extra::extract::CookieJar::from_headers(headers);
    let raw = jar.get(NOTICE_COOKIE)?.value().to_string();
    let text = percent_decode_str(&raw)
        .decode_utf8()
        .ok()?
        .trim()
        .to_string();
    (!text.is_empty() && text.chars().count() <= MAX_NOTICE_CHARS).then_some(text)
}

/// Deletes the notice cookie once a page (anything but a redirect) has answered the request that carried it.
pub async fn forget_shown_notice(request: Request, next: Next) -> Response {
    let carried = notice_of(request.headers()).is_some();
    let mut response = next.run(request).await;
    if carried && !response.status().is_redirection() {
        let expired = format!("{NOTICE_COOKIE}=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict");
        if let Ok(cookie) = HeaderValue::from_str(&expired) {
            response.headers_mut().append(header::SET_COOKIE, cookie);
        }
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_notice_survives_the_round_trip_through_its_cookie() {
        let response = redirect_with_notice("/targets/3", "Suivi enregistré : « Appel » (Lyon).");
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        let set = response.headers()[header::SET_COOKIE].to_str().unwrap();
        let pair = set.split(';').next().unwrap();
        let mut headers = HeaderMap::new();
        headers.insert(header::COOKIE, HeaderValue::from_str(pair).unwrap());
        assert_eq!(
            notice_of(&headers).as_deref(),
            Some("Suivi enregistré : « Appel » (Lyon).")
        );
    }

    #[test]
    fn an_empty_or_overlong_cookie_shows_nothing() {
        for value in ["", "%20", &"a".repeat(MAX_NOTICE_CHARS + 1)] {
            let mut headers = HeaderMap::new();
            headers.insert(
                header::COOKIE,
                HeaderValue::from_str(&format!("{NOTICE_COOKIE}={value}")).unwrap(),
            );
            assert_eq!(notice_of(&headers), None, "{value:?}");
        }
    }
}
