//! The federation endpoints partners reach without a session: discovery (WebFinger, NodeInfo, host-meta),
//! the two actors, the Group's collections, published objects (410 Gone with a Tombstone once withdrawn),
//! and the inbox. Actors and discovery are open, as every ActivityPub peer expects; collections and objects
//! answer only signed requests of allowed partners (what is public goes only to partners staff allow);
//! the inbox runs the gate of `federation/inbox.rs`.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, OriginalUri, Path, Query, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::Value;

use super::AppState;
use crate::federation::activities;
use crate::federation::documents::{self, collection, tombstone};
use crate::federation::inbox::{InboxAnswer, Incoming};
use crate::federation::objects::paris_time;

const ACTIVITY_JSON: &str = "application/activity+json; charset=utf-8";

pub fn router(state: &AppState) -> Router<AppState> {
    let inbox_limit = state.settings.federation.max_inbox_bytes;
    Router::new()
        .route("/.well-known/webfinger", get(webfinger))
        .route("/.well-known/nodeinfo", get(nodeinfo_links))
        .route("/.well-known/host-meta", get(host_meta))
        .route("/nodeinfo/2.1", get(nodeinfo))
        .route("/relay", get(application))
        .route("/g/{name}", get(group))
        .route("/g/{name}/{part}", get(group_collection))
        .route("/events/{uuid}", get(object))
        .route("/articles/{uuid}", get(object))
        .route("/documents/{uuid}", get(object))
        .merge(
            Router::new()
                .route("/inbox", post(inbox))
                .route("/relay/inbox", post(inbox))
                .route("/g/{name}/inbox", post(inbox))
                .layer(DefaultBodyLimit::max(inbox_limit)),
        )
}

fn activity_json(status: StatusCode, value: &Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, ACTIVITY_JSON)],
        value.to_string(),
    )
        .into_response()
}

fn answer(answer: InboxAnswer) -> Response {
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, axum::Json(answer.body)).into_response()
}

#[derive(serde::Deserialize)]
struct Resource {
    resource: Option<String>,
}

async fn webfinger(State(state): State<AppState>, Query(query): Query<Resource>) -> Response {
    let Some(resource) = query.resource else {
        return answer(InboxAnswer::refused(
            400,
            "missing_resource",
            "paramètre resource manquant",
        ));
    };
    match documents::webfinger(state.federation.urls(), &resource) {
        Some(found) => (
            [(header::CONTENT_TYPE, "application/jrd+json; charset=utf-8")],
            found.to_string(),
        )
            .into_response(),
        None => answer(InboxAnswer::refused(
            404,
            "unknown_account",
            "compte inconnu",
        )),
    }
}

async fn nodeinfo_links(State(state): State<AppState>) -> Response {
    axum::Json(documents::nodeinfo_links(state.federation.urls())).into_response()
}

async fn nodeinfo(State(state): State<AppState>) -> Response {
    let mut posts = 0;
    for kind in crate::federation::publish::KINDS {
        posts += state
            .store
            .published_objects(kind)
            .await
            .map(|o| o.len() as i64)
            .unwrap_or(0);
    }
    (
        [(
            header::CONTENT_TYPE,
            "application/json; profile=\"http://nodeinfo.diaspora.software/ns/schema/2.1#\"",
        )],
        documents::nodeinfo(state.federation.network_name(), posts).to_string(),
    )
        .into_response()
}

async fn host_meta(State(state): State<AppState>) -> Response {
    (
        [(header::CONTENT_TYPE, "application/xrd+xml; charset=utf-8")],
        documents::host_meta(state.federation.urls()),
    )
        .into_response()
}

async fn application(State(state): State<AppState>) -> Response {
    match state.federation.application_document().await {
        Ok(document) => activity_json(StatusCode::OK, &document),
        Err(error) => answer(InboxAnswer::refused(500, "internal", error.to_string())),
    }
}

async fn group(State(state): State<AppState>, Path(name): Path<String>) -> Response {
    if name != state.federation.urls().group_name() {
        return answer(InboxAnswer::refused(404, "unknown_actor", "acteur inconnu"));
    }
    match state.federation.group_document().await {
        Ok(document) => activity_json(StatusCode::OK, &document),
        Err(error) => answer(InboxAnswer::refused(500, "internal", error.to_string())),
    }
}

/// Checks that an allowed partner signed a GET.
async fn signed_by_partner(
    state: &AppState,
    method: &Method,
    uri: &OriginalUri,
    headers: &HeaderMap,
) -> Result<(), Response> {
    let path = uri.0.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let request = Incoming {
        method,
        path_and_query: path,
        headers,
        body: &[],
    };
    state
        .federation
        .verify_fetch(&request)
        .await
        .map(|_| ())
        .map_err(answer)
}

async fn group_collection(
    State(state): State<AppState>,
    Path((name, part)): Path<(String, String)>,
    method: Method,
    uri: OriginalUri,
    headers: HeaderMap,
) -> Response {
    let urls = state.federation.urls().clone();
    if name != urls.group_name() || !documents::GROUP_COLLECTIONS.contains(&part.as_str()) {
        return answer(InboxAnswer::refused(
            404,
            "unknown_collection",
            "collection inconnue",
        ));
    }
    if let Err(refused) = signed_by_partner(&state, &method, &uri, &headers).await {
        return refused;
    }
    match collection_items(&state, &part).await {
        Ok(items) => activity_json(
            StatusCode::OK,
            &collection(&urls.group_part(&part), &urls.group(), items),
        ),
        Err(error) => answer(crate::federation::inbox::InboxAnswer::refused(
            500,
            "internal",
            error.to_string(),
        )),
    }
}

async fn collection_items(state: &AppState, part: &str) -> anyhow::Result<Vec<Value>> {
    let federation = &state.federation;
    let published = |kind: &'static str| async move {
        let mut items = Vec::new();
        for object in state.store.published_objects(kind).await? {
            if let Some(json) = federation.published_document(&object).await? {
                items.push(crate::federation::objects::without_context(&json));
            }
        }
        anyhow::Ok(items)
    };
    Ok(match part {
        "outbox" => {
            let mut items = Vec::new();
            for kind in crate::federation::publish::KINDS {
                for object in published(kind).await? {
                    let activity =
                        activities::about_object(federation.urls(), "Create", &object, "");
                    items.push(crate::federation::objects::without_context(&activity));
                }
            }
            items
        }
        "followers" => state
            .store
            .follower_partners()
            .await?
            .into_iter()
            .map(|p| Value::String(p.their_follow_actor))
            .collect(),
        "following" => state
            .store
            .partners()
            .await?
            .into_iter()
            .filter(|p| p.allowed && p.our_follow == "accepted")
            .map(|p| Value::String(p.actor_url))
            .collect(),
        "memberships" => federation.membership_items().await?,
        "events" => published("event").await?,
        "posts" => published("article").await?,
        "resources" => published("document").await?,
        _ => Vec::new(),
    })
}

async fn object(
    State(state): State<AppState>,
    Path(uuid): Path<String>,
    method: Method,
    uri: OriginalUri,
    headers: HeaderMap,
) -> Response {
    let found = match state.store.published_object_by_uuid(&uuid).await {
        Ok(found) => found,
        Err(error) => return answer(InboxAnswer::refused(500, "internal", error.to_string())),
    };
    let folder = uri.0.path().split('/').nth(1).unwrap_or_default();
    let Some(object) = found.filter(|o| {
        matches!(
            (o.kind.as_str(), folder),
            ("event", "events") | ("article", "articles") | ("document", "documents")
        )
    }) else {
        return answer(InboxAnswer::refused(404, "unknown_object", "objet inconnu"));
    };
    if let Err(refused) = signed_by_partner(&state, &method, &uri, &headers).await {
        return refused;
    }
    let id = state.federation.urls().object(&object.kind, &object.uuid);
    let kind = match object.kind.as_str() {
        "event" => "Event",
        "article" => "Article",
        _ => "Document",
    };
    if let Some(withdrawn) = object.withdrawn_at {
        return activity_json(
            StatusCode::GONE,
            &tombstone(&id, kind, &paris_time(withdrawn)),
        );
    }
    match state.federation.published_document(&object).await {
        Ok(Some(json)) => activity_json(StatusCode::OK, &json),
        Ok(None) => activity_json(
            StatusCode::GONE,
            &tombstone(&id, kind, &paris_time(object.updated_at)),
        ),
        Err(error) => answer(InboxAnswer::refused(500, "internal", error.to_string())),
    }
}

async fn inbox(
    State(state): State<AppState>,
    method: Method,
    uri: OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri
        .0
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/inbox");
    let request = Incoming {
        method: &method,
        path_and_query: path,
        headers: &headers,
        body: &body,
    };
    answer(state.federation.receive(&request).await)
}
