//! "Courriers reçus": every message relais received (LMTP, SMTP or `relais inject`), per recipient, with
//! what became of it — a calendar answer recorded, a bounce counted or not, a departure, a list command, a
//! post refused or held — and the raw message for inspection. Staff and admins only.

use askama::Template;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;

use crate::store::inbound::InboundRow;
use crate::web::AppState;
use crate::web::auth::Session;
use crate::web::error::{WebError, WebResult};
use crate::web::view::Chrome;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/courriers/recus", get(list))
        .route("/courriers/recus/{id}/brut", get(raw))
}

#[derive(Template)]
#[template(path = "inbound.html", config = "src/web/askama.toml")]
struct InboundPage {
    chrome: Chrome,
    rows: Vec<InboundRow>,
}

impl InboundPage {
    fn when(&self, millis: &i64) -> String {
        crate::web::view::french_datetime(*millis)
    }

    fn state_label(&self, state: &str) -> &'static str {
        match state {
            "received" | "routing" => "en cours",
            "done" => "traité",
            "held" => "en attente",
            "refused" => "refusé",
            _ => "en échec",
        }
    }
}

async fn list(session: Session, State(state): State<AppState>) -> WebResult<Html<String>> {
    session.require_staff()?;
    let page = InboundPage {
        chrome: Chrome::new(&session, "mail", "Courriers reçus"),
        rows: state.store.inbound_list(300).await?,
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
