//! "Courriers envoyés": every message relais sent or is sending, with each recipient's state, attempts and
//! the receiving server's last reply; any copy can be looked at as its HTML, its text and its raw source
//! (rebuilt as the workers build it), like a mail catcher. Staff and admins only: it shows addresses.

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;

use crate::domain::mail_kind::{DeliveryState, MailKind};
use crate::mail::compose::{Links, PreparedMessage, compose};
use crate::store::outbox::{DeliveryRow, MailMessage, MessageSummary};
use crate::web::AppState;
use crate::web::auth::Session;
use crate::web::error::{WebError, WebResult};
use crate::web::view::{self, Chrome, french_datetime, mail_kind_label};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/courriers", get(list))
        .route("/courriers/{id}", get(show))
        .route("/courriers/{id}/html", get(html_body))
        .route("/courriers/{id}/copies/{delivery}", get(raw_copy))
}

#[derive(Template)]
#[template(path = "mail_list.html", config = "src/web/askama.toml")]
struct ListPage {
    chrome: Chrome,
    messages: Vec<MessageSummary>,
    /// The kinds offered by the filter: (code, French name, selected).
    kinds: Vec<(String, String, bool)>,
}

#[derive(serde::Deserialize)]
struct ListQuery {
    #[serde(default)]
    kind: String,
}

async fn list(
    session: Session,
    State(state): State<AppState>,
    Query(query): Query<ListQuery>,
) -> WebResult<Html<String>> {
    session.require_staff()?;
    let kind = MailKind::from_code(&query.kind).ok();
    let page = ListPage {
        chrome: Chrome::new(&session, "mail", "Courriers envoyés"),
        messages: state
            .store
            .list_mail_messages_of_kind(kind.map(MailKind::as_str), 200)
            .await?,
        kinds: view::options(
            MailKind::ALL,
            MailKind::as_str,
            MailKind::label,
            kind.map_or("", MailKind::as_str),
        ),
    };
    Ok(Html(page.render()?))
}

#[derive(Template)]
#[template(path = "mail_message.html", config = "src/web/askama.toml")]
struct MessagePage {
    chrome: Chrome,
    message: MailMessage,
    deliveries: Vec<DeliveryRow>,
}

async fn message(state: &AppState, id: i64) -> WebResult<MailMessage> {
    state
        .store
        .mail_message(id)
        .await?
        .ok_or(WebError::NotFound)
}

async fn show(
    session: Session,
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> WebResult<Html<String>> {
    session.require_staff()?;
    let message = message(&state, id).await?;
    let page = MessagePage {
        chrome: Chrome::new(&session, "mail", message.subject.clone()),
        deliveries: state.store.deliveries_of(id).await?,
        message,
    };
    Ok(Html(page.render()?))
}

/// The HTML part alone, for the page's frame: sandboxed, so nothing in it runs or reaches the app.
async fn html_body(
    session: Session,
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> WebResult<Response> {
    session.require_staff()?;
    let message = message(&state, id).await?;
    Ok((
        [
            (
                header::CONTENT_SECURITY_POLICY,
                "sandbox; default-src 'none'; img-src data:; style-src 'unsafe-inline'",
            ),
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
        ],
        message.body_html,
    )
        .into_response())
}

/// One recipient's copy as the workers build it (without the DKIM signatures, which are made at send time).
async fn raw_copy(
    session: Session,
    State(state): State<AppState>,
    Path((id, delivery_id)): Path<(i64, i64)>,
) -> WebResult<Response> {
    session.require_staff()?;
    let message = message(&state, id).await?;
    let delivery = state
        .store
        .delivery_as_claimed(id, delivery_id)
        .await?
        .ok_or(WebError::NotFound)?;
    let links = Links::for_delivery(
        &state.settings.server.public_url,
        &state.unsubscribe,
        &message,
        delivery.id,
    );
    let copy = compose(
        &state.settings.mail,
        &PreparedMessage::new(message),
        &delivery,
        &links,
        state.clock.now_millis(),
    )
    .map_err(|e| WebError::BadRequest(e.to_string()))?;
    Ok((
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        copy.raw,
    )
        .into_response())
}

impl MailMessage {
    pub fn when(&self) -> String {
        french_datetime(self.created_at)
    }
    pub fn kind_label(&self) -> &'static str {
        mail_kind_label(&self.kind)
    }
}

impl MessageSummary {
    pub fn when(&self) -> String {
        french_datetime(self.created_at)
    }
    pub fn kind_label(&self) -> &'static str {
        mail_kind_label(&self.kind)
    }
}

impl DeliveryRow {
    pub fn state_label(&self) -> &'static str {
        self.state.label()
    }

    pub fn sent(&self) -> String {
        self.sent_at.map(french_datetime).unwrap_or_default()
    }

    pub fn next_attempt(&self) -> String {
        if self.state == DeliveryState::Queued {
            french_datetime(self.next_attempt_at)
        } else {
            String::new()
        }
    }
}
