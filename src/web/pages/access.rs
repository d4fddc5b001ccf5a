//! Who has access to what (people, roles, territories, last login, API tokens) and the audit log.

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::response::Html;
use axum::routing::get;

use crate::store::accounts::{AccessRow, ApiToken};
use crate::store::audit::AuditEntry;
use crate::web::AppState;
use crate::web::auth::Session;
use crate::web::error::WebResult;
use crate::web::view::Chrome;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/access", get(access))
        .route("/audit", get(audit))
}

#[derive(Template)]
#[template(path = "access.html", config = "src/web/askama.toml")]
struct AccessPage {
    chrome: Chrome,
    accounts: Vec<AccessRow>,
    tokens: Vec<ApiToken>,
}

async fn access(session: Session, State(state): State<AppState>) -> WebResult<Html<String>> {
    session.require_staff()?;
    let page = AccessPage {
        chrome: Chrome::new(&session, "access", "Accès"),
        accounts: state.store.list_access().await?,
        tokens: state.store.list_api_tokens().await?,
    };
    Ok(Html(page.render()?))
}

#[derive(Template)]
#[template(path = "audit.html", config = "src/web/askama.toml")]
struct AuditPage {
    chrome: Chrome,
    entries: Vec<AuditEntry>,
}

async fn audit(session: Session, State(state): State<AppState>) -> WebResult<Html<String>> {
    session.require_staff()?;
    let page = AuditPage {
        chrome: Chrome::new(&session, "audit", "Journal"),
        entries: state.store.list_audit(None, 300).await?,
    };
    Ok(Html(page.render()?))
}
