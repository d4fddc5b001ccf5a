//! Who has access to what (people, roles, territories, last login, API tokens).

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::response::Html;
use axum::routing::get;

use crate::store::accounts::{AccessRow, ApiToken};
use crate::web::AppState;
use crate::web::auth::Session;
use crate::web::error::WebResult;
use crate::web::view::Chrome;

pub fn router() -> Router<AppState> {
    Router::new().route("/access", get(access))
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
