//! Static files (CSS, the small JavaScript file, the favicon), built into the binary: nothing is fetched from a CDN.

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;

use super::AppState;

const STYLE: &str = include_str!("static/relais.css");
const SCRIPT: &str = include_str!("static/relais.js");
const ICON: &str = include_str!("static/favicon.svg");

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/static/relais.css",
            get(|| async { asset("text/css; charset=utf-8", STYLE) }),
        )
        .route(
            "/static/relais.js",
            get(|| async { asset("text/javascript; charset=utf-8", SCRIPT) }),
        )
        .route(
            "/favicon.svg",
            get(|| async { asset("image/svg+xml", ICON) }),
        )
}

fn asset(content_type: &'static str, body: &'static str) -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        body,
    )
}
