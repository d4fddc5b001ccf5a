//! The newsletter's public archive, without an account: the sent issues (`/lettre/archives`), each as its
//! subscribers received it (`/lettre/archives/{id}`, the "view in a browser" link of every issue), and an
//! Atom feed (`/lettre/archives.atom`). Drafts and issues not yet sent are never shown.

use askama::Template;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;

use super::AppState;
use super::error::{WebError, WebResult};
use super::subscribe::NEWSLETTER;
use crate::mail::newsletter::{archived_page, issue_message};
use crate::store::newsletter::{Issue, Item};
use crate::store::outbox::NewMessage;
use crate::store::subscriptions::MailingList;
use crate::web::view::french_datetime;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/lettre/archives", get(index))
        .route("/lettre/archives.atom", get(feed))
        .route("/lettre/archives/{id}", get(show))
}

/// The newsletter's list (the one the public form subscribes to).
pub(crate) async fn newsletter_list(state: &AppState) -> WebResult<MailingList> {
    state
        .store
        .mailing_list(NEWSLETTER)
        .await?
        .ok_or(WebError::NotFound)
}

/// An issue, its items and its mail as subscribers receive it.
pub(crate) async fn rendered_issue(
    state: &AppState,
    list: &MailingList,
    id: i64,
) -> WebResult<(Issue, Vec<Item>, NewMessage)> {
    let (issue, items) = state.store.issue(id).await?.ok_or(WebError::NotFound)?;
    let message = issue_message(
        list,
        &issue,
        &items,
        &state.settings.server.public_url,
        &state.settings.mail.from_name,
    )?;
    Ok((issue, items, message))
}

#[derive(Template)]
#[template(path = "archive.html", config = "src/web/askama.toml")]
struct ArchivePage {
    list: String,
    description: String,
    issues: Vec<(Issue, String)>,
}

async fn index(State(state): State<AppState>) -> WebResult<Html<String>> {
    let list = newsletter_list(&state).await?;
    let issues = state
        .store
        .sent_issues(list.id)
        .await?
        .into_iter()
        .map(|issue| {
            let when = issue.sent_at.map(french_datetime).unwrap_or_default();
            (issue, when)
        })
        .collect();
    Ok(Html(
        ArchivePage {
            list: list.name,
            description: list.description,
            issues,
        }
        .render()?,
    ))
}

async fn show(State(state): State<AppState>, Path(id): Path<i64>) -> WebResult<Response> {
    let list = newsletter_list(&state).await?;
    let (issue, _, message) = rendered_issue(&state, &list, id).await?;
    if issue.state != "sent" || issue.list_id != list.id {
        return Err(WebError::NotFound);
    }
    let public_url = &state.settings.server.public_url;
    Ok(Html(archived_page(&message.body_html, public_url)).into_response())
}

#[derive(Template)]
#[template(path = "archive_feed.xml", config = "src/web/askama.toml")]
struct Feed {
    list: String,
    base: String,
    updated: String,
    entries: Vec<(Issue, String)>,
}

async fn feed(State(state): State<AppState>) -> WebResult<Response> {
    let list = newsletter_list(&state).await?;
    let rfc3339 = |millis: i64| {
        chrono::DateTime::from_timestamp_millis(millis)
            .unwrap_or_default()
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    };
    let entries: Vec<(Issue, String)> = state
        .store
        .sent_issues(list.id)
        .await?
        .into_iter()
        .take(50)
        .map(|issue| {
            let when = rfc3339(issue.sent_at.unwrap_or_default());
            (issue, when)
        })
        .collect();
    let updated = entries
        .first()
        .map_or_else(|| rfc3339(0), |(_, when)| when.clone());
    let body = Feed {
        list: list.name,
        base: state.settings.server.public_url.clone(),
        updated,
        entries,
    }
    .render()?;
    Ok((
        [(header::CONTENT_TYPE, "application/atom+xml; charset=utf-8")],
        body,
    )
        .into_response())
}
