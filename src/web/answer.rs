//! Answering a meeting invitation without an account: each copy of an agenda carries three links,
//! `/reunions/reponse/{token}?r=oui|non|peut-etre`, whose signed token names the delivery and so the meeting
//! and the invitee ([`crate::mail::unsubscribe::Purpose::Answer`]). Opening one shows a button (mail scanners
//! open links; only a person presses it); the `POST` records the answer, which staff see on the meeting's
//! page and which decides who gets the reminder the day before.

use askama::Template;
use axum::Router;
use axum::extract::{Form, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;

use super::AppState;
use super::error::WebResult;
use crate::french::french_span;
use crate::mail::unsubscribe::Purpose;

pub fn router() -> Router<AppState> {
    Router::new().route("/reunions/reponse/{token}", get(ask).post(record))
}

enum AnswerState {
    Ask { answer: String, label: &'static str },
    Recorded { label: &'static str },
    Over,
    Invalid,
}

#[derive(Template)]
#[template(path = "answer.html", config = "src/web/askama.toml")]
struct AnswerPage {
    meeting: String,
    state: AnswerState,
}

#[derive(Deserialize)]
struct Choice {
    #[serde(default)]
    r: String,
}

/// The iCalendar PARTSTAT of a link's answer, and how the page says it.
fn answer_of(code: &str) -> Option<(&'static str, &'static str)> {
    match code {
        "oui" => Some(("accepted", "je serai là")),
        "non" => Some(("declined", "je ne serai pas là")),
        "peut-etre" => Some(("tentative", "je serai peut-être là")),
        _ => None,
    }
}

/// The meeting and invitee a token names, with the meeting's title and date as the page shows them.
async fn invitation(
    state: &AppState,
    token: &str,
) -> WebResult<Option<(crate::store::meetings::Meeting, String, String)>> {
    let Some(delivery) = state.unsubscribe.verify_for(Purpose::Answer, token) else {
        return Ok(None);
    };
    let Some((meeting_id, address)) = state.store.meeting_of_delivery(delivery).await? else {
        return Ok(None);
    };
    let Some(meeting) = state.store.meeting(meeting_id).await? else {
        return Ok(None);
    };
    let series = state.store.series(meeting.series_id).await?;
    let when = french_span(
        chrono::DateTime::from_timestamp_millis(meeting.starts_at).unwrap_or_default(),
        chrono::DateTime::from_timestamp_millis(meeting.ends_at).unwrap_or_default(),
    );
    let title = format!(
        "{} du {when}",
        series.map_or("Réunion".to_string(), |s| s.title)
    );
    Ok(Some((meeting, address, title)))
}

fn page(status: StatusCode, meeting: String, state: AnswerState) -> WebResult<Response> {
    Ok((status, Html(AnswerPage { meeting, state }.render()?)).into_response())
}

async fn ask(
    State(state): State<AppState>,
    Path(token): Path<String>,
    Query(choice): Query<Choice>,
) -> WebResult<Response> {
    let (Some((meeting, _, title)), Some((_, label))) =
        (invitation(&state, &token).await?, answer_of(&choice.r))
    else {
        return page(StatusCode::NOT_FOUND, String::new(), AnswerState::Invalid);
    };
    if meeting.state == "cancelled" || meeting.starts_at <= state.clock.now_millis() {
        return page(StatusCode::GONE, title, AnswerState::Over);
    }
    page(
        StatusCode::OK,
        title,
        AnswerState::Ask {
            answer: choice.r,
            label,
        },
    )
}

async fn record(
    State(state): State<AppState>,
    Path(token): Path<String>,
    Form(choice): Form<Choice>,
) -> WebResult<Response> {
    let (Some((meeting, address, title)), Some((partstat, label))) =
        (invitation(&state, &token).await?, answer_of(&choice.r))
    else {
        return page(StatusCode::NOT_FOUND, String::new(), AnswerState::Invalid);
    };
    let now = state.clock.now_millis();
    if meeting.state == "cancelled" || meeting.starts_at <= now {
        return page(StatusCode::GONE, title, AnswerState::Over);
    }
    if !state
        .store
        .record_response(meeting.id, &address, partstat, now)
        .await?
    {
        return page(StatusCode::NOT_FOUND, title, AnswerState::Invalid);
    }
    page(StatusCode::OK, title, AnswerState::Recorded { label })
}
