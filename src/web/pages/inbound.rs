//! "Courriers reçus": every message relais received (LMTP, SMTP or `relais inject`), per recipient, with
//! what became of it — a calendar answer recorded, a bounce counted or not, a departure, a list command, a
//! post refused or held (then what moderation decided) — filtered by kind, state, list and dates, a page at
//! a time, and the raw message for inspection. Staff and admins only.

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use chrono::NaiveDate;

use crate::domain::inbound::{InboundKind, InboundState, inbound_state_label};
use crate::store::list_admin::{InboundFilter, InboundLine};
use crate::web::AppState;
use crate::web::auth::Session;
use crate::web::error::{WebError, WebResult};
use crate::web::view::{self, Chrome};

const PAGE_SIZE: i64 = 50;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/courriers/recus", get(list))
        .route("/courriers/recus/{id}/brut", get(raw))
}

/// The page's query string; empty strings (an untouched field) mean "any".
#[derive(Debug, Default, Clone, serde::Deserialize)]
struct InboundQuery {
    #[serde(default)]
    kind: String,
    #[serde(default)]
    state: String,
    #[serde(default)]
    list: String,
    /// First day, `YYYY-MM-DD` (Paris).
    #[serde(default)]
    from: String,
    /// Last day included, `YYYY-MM-DD` (Paris).
    #[serde(default)]
    to: String,
    #[serde(default)]
    page: Option<i64>,
}

/// The filters as a query string, without the page, for the pagination links.
fn without_page(query: &InboundQuery) -> String {
    let pairs = [
        ("kind", &query.kind),
        ("state", &query.state),
        ("list", &query.list),
        ("from", &query.from),
        ("to", &query.to),
    ];
    serde_urlencoded::to_string(
        pairs
            .iter()
            .filter(|(_, v)| !v.trim().is_empty())
            .collect::<Vec<_>>(),
    )
    .unwrap_or_default()
}

/// A day typed in a date field, or a French message saying what is wrong.
pub(super) fn day(text: &str, what: &str) -> Result<Option<NaiveDate>, String> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .or_else(|_| NaiveDate::parse_from_str(text, "%d/%m/%Y"))
        .map(Some)
        .map_err(|_| format!("La date {what} « {text} » se lit mal : écrivez-la jj/mm/aaaa."))
}

#[derive(Template)]
#[template(path = "inbound.html", config = "src/web/askama.toml")]
struct InboundPage {
    chrome: Chrome,
    query: InboundQuery,
    /// The filters as a query string, without the page.
    query_string: String,
    rows: Vec<InboundLine>,
    errors: Vec<String>,
    total: i64,
    page: i64,
    pages: i64,
    kinds: Vec<(String, String, bool)>,
    states: Vec<(String, String, bool)>,
    lists: Vec<(String, String, bool)>,
}

impl InboundPage {
    fn when(&self, millis: &i64) -> String {
        crate::web::view::french_datetime(*millis)
    }

    fn state_label(&self, state: &str) -> &'static str {
        inbound_state_label(state)
    }
}

/// Options of a `<select>`: (value, label, selected).
fn options(choices: &[(&str, &str)], selected: &str) -> Vec<(String, String, bool)> {
    choices
        .iter()
        .map(|(value, label)| (value.to_string(), label.to_string(), *value == selected))
        .collect()
}

async fn list(
    session: Session,
    State(state): State<AppState>,
    Query(query): Query<InboundQuery>,
) -> WebResult<Html<String>> {
    session.require_staff()?;
    let mut errors = Vec::new();
    let mut filter = InboundFilter {
        kind: InboundKind::from_code(&query.kind)
            .ok()
            .map(|k| k.as_str().to_string()),
        state: InboundState::from_code(&query.state)
            .ok()
            .map(|s| s.as_str().to_string()),
        ..InboundFilter::default()
    };
    let lists = state.store.all_lists().await?;
    if let Some(list) = lists.iter().find(|l| l.list_key == query.list) {
        let address = state.inbound.list_address(list);
        let (local, domain) = address.split_once('@').unwrap_or((&address, ""));
        filter.recipients = ["", "-join", "-leave", "-request"]
            .iter()
            .map(|suffix| format!("{local}{suffix}@{domain}"))
            .collect();
    }
    let from = day(&query.from, "de début").unwrap_or_else(|e| {
        errors.push(e);
        None
    });
    let to = day(&query.to, "de fin").unwrap_or_else(|e| {
        errors.push(e);
        None
    });
    if let (Some(from), Some(to)) = (from, to)
        && from > to
    {
        errors.push("La date de début vient après la date de fin : inversez-les.".to_string());
    }
    filter.since = from.and_then(crate::french::paris_midnight);
    filter.before = to
        .and_then(|d| d.succ_opt())
        .and_then(crate::french::paris_midnight);
    let page = query.page.unwrap_or(1).max(1);
    let (rows, total) = state
        .store
        .inbound_page(&filter, PAGE_SIZE, (page - 1) * PAGE_SIZE)
        .await?;
    let list_choices: Vec<(&str, &str)> = lists
        .iter()
        .map(|l| (l.list_key.as_str(), l.name.as_str()))
        .collect();
    let page = InboundPage {
        chrome: Chrome::new(&session, "mail", "Courriers reçus"),
        query_string: without_page(&query),
        rows,
        errors,
        total,
        page,
        pages: ((total + PAGE_SIZE - 1) / PAGE_SIZE).max(1),
        kinds: view::options(
            InboundKind::ALL,
            InboundKind::as_str,
            InboundKind::label,
            &query.kind,
        ),
        states: view::options(
            InboundState::ALL,
            InboundState::as_str,
            InboundState::label,
            &query.state,
        ),
        lists: options(&list_choices, &query.list),
        query,
    };
    Ok(Html(page.render()?))
}

async fn raw(
    session: Session,
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> WebResult<Response> {
    session.require_staff()?;
    let raw = state
        .store
        .inbound_raw(id)
        .await?
        .ok_or(WebError::NotFound)?;
    // Shown as text, never rendered: a received message is untrusted.
    Ok((
        [
            (
                header::CONTENT_TYPE,
                "text/plain; charset=utf-8".to_string(),
            ),
            (
                header::CONTENT_DISPOSITION,
                format!("inline; filename=\"recu-{id}.eml\""),
            ),
        ],
        raw,
    )
        .into_response())
}
