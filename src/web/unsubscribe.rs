//! Leaving a list or the newsletter from a mail, without an account: `GET /desabonnement/{token}` shows a
//! page with a button; `POST` to the same address unsubscribes at once, as mail clients do for RFC 8058
//! one-click (`List-Unsubscribe=One-Click` in the body) and as the page's button does. The signed token
//! ([`crate::mail::unsubscribe`]) is the only credential: no session, no CSRF token, and a forged or
//! altered one changes nothing. The page that confirms the unsubscribe offers to undo it in one click
//! (`POST /desabonnement/{token}/reabonner`), for a day and only from the mail whose link was used.

use askama::Template;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;

use super::AppState;
use super::error::WebResult;
use crate::store::subscriptions::UndoUnsubscribe;
use crate::store::unsubscribes::UnsubscribeTarget;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/desabonnement/{token}", get(ask).post(confirm))
        .route(
            "/desabonnement/{token}/reabonner",
            axum::routing::post(resubscribe),
        )
}

enum UnsubscribeState {
    Ask {
        list: String,
        address: String,
    },
    Done {
        list: String,
        address: String,
        token: String,
    },
    Resubscribed {
        list: String,
        address: String,
    },
    /// The undo came too late, or from another mail than the one used to leave.
    TooLate {
        list: String,
    },
    Invalid,
}

#[derive(Template)]
#[template(path = "unsubscribe.html", config = "src/web/askama.toml")]
struct UnsubscribePage {
    state: UnsubscribeState,
}

fn page(status: StatusCode, state: UnsubscribeState) -> WebResult<Response> {
    Ok((status, Html(UnsubscribePage { state }.render()?)).into_response())
}

async fn target(state: &AppState, token: &str) -> WebResult<Option<UnsubscribeTarget>> {
    match state.unsubscribe.verify(token) {
        Some(delivery_id) => Ok(state.store.unsubscribe_target(delivery_id).await?),
        None => Ok(None),
    }
}

async fn ask(State(state): State<AppState>, Path(token): Path<String>) -> WebResult<Response> {
    match target(&state, &token).await? {
        Some(target) => page(
            StatusCode::OK,
            UnsubscribeState::Ask {
                list: target.list_label,
                address: target.address,
            },
        ),
        None => page(StatusCode::NOT_FOUND, UnsubscribeState::Invalid),
    }
}

async fn confirm(
    State(state): State<AppState>,
    Path(token): Path<String>,
    body: String,
) -> WebResult<Response> {
    let Some(target) = target(&state, &token).await? else {
        return page(StatusCode::NOT_FOUND, UnsubscribeState::Invalid);
    };
    // The page's button sends `source=page`; mail clients send `List-Unsubscribe=One-Click`. Whatever else
    // the body holds, the signed token alone decides.
    let fields: Vec<(String, String)> = serde_urlencoded::from_str(&body).unwrap_or_default();
    let source = if fields.iter().any(|(k, v)| k == "source" && v == "page") {
        "page"
    } else {
        "one-click"
    };
    state
        .store
        .record_unsubscribe(&target, source, state.clock.now_millis())
        .await?;
    page(
        StatusCode::OK,
        UnsubscribeState::Done {
            list: target.list_label,
            address: target.address,
            token,
        },
    )
}

/// Undoes the unsubscribe just made with this link.
async fn resubscribe(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> WebResult<Response> {
    let Some(target) = target(&state, &token).await? else {
        return page(StatusCode::NOT_FOUND, UnsubscribeState::Invalid);
    };
    match state
        .store
        .undo_unsubscribe(&target, state.clock.now_millis())
        .await?
    {
        UndoUnsubscribe::Resubscribed => page(
            StatusCode::OK,
            UnsubscribeState::Resubscribed {
                list: target.list_label,
                address: target.address,
            },
        ),
        UndoUnsubscribe::Refused => page(
            StatusCode::CONFLICT,
            UnsubscribeState::TooLate {
                list: target.list_label,
            },
        ),
    }
}
