//! The newsletter's public archive, without an account: the sent issues (`/lettre/archives`), each as its
//! subscribers received it (`/lettre/archives/{id}`, the "view in a browser" link of every issue), and an
//! Atom feed (`/lettre/archives.atom`, each entry with its table of contents as summary and its items as
//! content, so a feed reader shows the issue itself). Drafts and issues not yet sent are never shown.

use askama::Template;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;

use super::AppState;
use super::error::{WebError, WebResult};
use crate::mail::newsletter::{archived_page, render_issue, shown_items};
use crate::store::newsletter::{Issue, Item};
use crate::store::outbox::NewMessage;
use crate::store::subscriptions::MailingList;
use crate::store::subscriptions::NEWSLETTER;
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
    render_issue(&state.store, &state.settings, list, id)
        .await
        .map_err(|error| WebError::Internal(error.to_string()))?
        .ok_or(WebError::NotFound)
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
    entries: Vec<FeedEntry>,
}

/// One sent issue in the feed.
struct FeedEntry {
    issue: Issue,
    /// RFC 3339, when it was sent.
    updated: String,
    /// "Au sommaire : …", the items' titles.
    summary: String,
    /// The items as HTML, under their category headings (escaped once more by the XML template).
    content_html: String,
}

/// The summary and content of an issue's feed entry, from its items.
fn feed_text(items: &[Item]) -> (String, String) {
    let shown = shown_items(items);
    let titles: Vec<&str> = shown.iter().map(|item| item.title.as_str()).collect();
    let summary = if titles.is_empty() {
        String::new()
    } else {
        format!("Au sommaire : {}.", titles.join(" ; "))
    };
    let mut content = String::new();
    for item in &shown {
        if item.first_of_category {
            content.push_str(&format!("<h2>{}</h2>\n", askama_escape(item.category)));
        }
        content.push_str(&format!(
            "<h3>{}</h3>\n{}",
            askama_escape(&item.title),
            item.body_html
        ));
    }
    (summary, content)
}

/// `text` escaped for HTML.
fn askama_escape(text: &str) -> String {
    askama::filters::escape(text, askama::filters::Html)
        .map(|escaped| escaped.to_string())
        .unwrap_or_default()
}

async fn feed(State(state): State<AppState>) -> WebResult<Response> {
    let list = newsletter_list(&state).await?;
    let rfc3339 = |millis: i64| {
        chrono::DateTime::from_timestamp_millis(millis)
            .unwrap_or_default()
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    };
    let mut entries = Vec::new();
    for issue in state.store.sent_issues(list.id).await?.into_iter().take(50) {
        let items = match state.store.issue(issue.id).await? {
            Some((_, items)) => items,
            None => Vec::new(),
        };
        let (summary, content_html) = feed_text(&items);
        entries.push(FeedEntry {
            updated: rfc3339(issue.sent_at.unwrap_or_default()),
            issue,
            summary,
            content_html,
        });
    }
    let updated = entries
        .first()
        .map_or_else(|| rfc3339(0), |entry| entry.updated.clone());
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
