//! The board: one column per stage. Moving a card (drag and drop, or the small form on each card when
//! JavaScript is off) posts to `/targets/{id}/stage`, which records the stage change; declining asks a reason.

use askama::Template;
use axum::Router;
use axum::extract::{Query, State};
use axum::response::Html;
use axum::routing::get;

use super::targets::ListQuery;
use crate::domain::Stage;
use crate::store::target_list::TargetSort;
use crate::store::targets::Target;
use crate::web::AppState;
use crate::web::auth::Session;
use crate::web::error::WebResult;
use crate::web::view::Chrome;

/// Cards shown per column; beyond it the column links to the filtered list.
const CARDS_PER_COLUMN: i64 = 200;

pub fn router() -> Router<AppState> {
    Router::new().route("/board", get(board))
}

pub struct Column {
    pub code: &'static str,
    pub label: &'static str,
    pub cards: Vec<Target>,
    pub total: i64,
}

#[derive(Template)]
#[template(path = "board.html", config = "src/web/askama.toml")]
struct BoardPage {
    chrome: Chrome,
    columns: Vec<Column>,
    stages: &'static [Stage],
}

async fn board(
    session: Session,
    State(state): State<AppState>,
    Query(query): Query<ListQuery>,
) -> WebResult<Html<String>> {
    let mut columns = Vec::new();
    for stage in Stage::ALL {
        let mut filter = query.filter();
        filter.stage = Some(stage.as_str().to_string());
        let (cards, total) = state
            .store
            .list_targets(
                session.scope(),
                &filter,
                TargetSort::NextActionDate,
                CARDS_PER_COLUMN,
                0,
            )
            .await?;
        columns.push(Column {
            code: stage.as_str(),
            label: stage.label(),
            cards,
            total,
        });
    }
    let page = BoardPage {
        chrome: Chrome::new(&session, "board", "Tableau des étapes"),
        columns,
        stages: Stage::ALL,
    };
    Ok(Html(page.render()?))
}
