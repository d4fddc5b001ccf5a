//! People and organisations pages, with search. A relay sees only those of its territories.

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::response::Html;
use axum::routing::get;

use crate::store::organisations::Organisation;
use crate::store::people::Person;
use crate::web::AppState;
use crate::web::auth::Session;
use crate::web::error::{WebError, WebResult};
use crate::web::view::Chrome;

const PAGE_SIZE: i64 = 50;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/people", get(people))
        .route("/people/{id}", get(person))
        .route("/organisations", get(organisations))
        .route("/organisations/{id}", get(organisation))
}

#[derive(serde::Deserialize, Default)]
struct SearchQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    kind: String,
    page: Option<i64>,
}

#[derive(Template)]
#[template(path = "people.html", config = "src/web/askama.toml")]
struct PeoplePage {
    chrome: Chrome,
    q: String,
    people: Vec<Person>,
    page: i64,
    has_next: bool,
}

async fn people(
    session: Session,
    State(state): State<AppState>,
    Query(query): Query<SearchQuery>,
) -> WebResult<Html<String>> {
    let page = query.page.unwrap_or(1).max(1);
    let mut people = state
        .store
        .search_people(
            session.scope(),
            &query.q,
            PAGE_SIZE + 1,
            (page - 1) * PAGE_SIZE,
        )
        .await?;
    let has_next = people.len() as i64 > PAGE_SIZE;
    people.truncate(PAGE_SIZE as usize);
    let view = PeoplePage {
        chrome: Chrome::new(&session, "people", "Personnes"),
        q: query.q,
        people,
        page,
        has_next,
    };
    Ok(Html(view.render()?))
}

#[derive(Template)]
#[template(path = "person.html", config = "src/web/askama.toml")]
struct PersonPage {
    chrome: Chrome,
    person: Person,
}

async fn person(
    session: Session,
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> WebResult<Html<String>> {
    let person = state
        .store
        .person(session.scope(), id)
        .await?
        .ok_or(WebError::NotFound)?;
    Ok(Html(
        PersonPage {
            chrome: Chrome::new(&session, "people", person.full_name.clone()),
            person,
        }
        .render()?,
    ))
}

#[derive(Template)]
#[template(path = "organisations.html", config = "src/web/askama.toml")]
struct OrganisationsPage {
    chrome: Chrome,
    q: String,
    kind: String,
    organisations: Vec<Organisation>,
    page: i64,
    has_next: bool,
}

async fn organisations(
    session: Session,
    State(state): State<AppState>,
    Query(query): Query<SearchQuery>,
) -> WebResult<Html<String>> {
    let page = query.page.unwrap_or(1).max(1);
    let kind = (!query.kind.is_empty()).then_some(query.kind.as_str());
    let mut organisations = state
        .store
        .search_organisations(
            session.scope(),
            &query.q,
            kind,
            PAGE_SIZE + 1,
            (page - 1) * PAGE_SIZE,
        )
        .await?;
    let has_next = organisations.len() as i64 > PAGE_SIZE;
    organisations.truncate(PAGE_SIZE as usize);
    let view = OrganisationsPage {
        chrome: Chrome::new(&session, "organisations", "Organisations"),
        q: query.q,
        kind: query.kind,
        organisations,
        page,
        has_next,
    };
    Ok(Html(view.render()?))
}

#[derive(Template)]
#[template(path = "organisation.html", config = "src/web/askama.toml")]
struct OrganisationPage {
    chrome: Chrome,
    organisation: Organisation,
    people: Vec<Person>,
    target_id: Option<i64>,
}

async fn organisation(
    session: Session,
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> WebResult<Html<String>> {
    let scope = session.scope();
    let organisation = state
        .store
        .organisation(scope, id)
        .await?
        .ok_or(WebError::NotFound)?;
    let people = state.store.people_of_organisation(scope, id).await?;
    let target_id = state.store.target_id_of_organisation(id).await?;
    let view = OrganisationPage {
        chrome: Chrome::new(&session, "organisations", organisation.name.clone()),
        organisation,
        people,
        target_id,
    };
    Ok(Html(view.render()?))
}

/// Template helpers for organisation kinds.
pub fn organisation_kind_label(kind: &str, collectivity_kind: Option<&str>) -> String {
    match kind {
        "association" => "Association membre".into(),
        "partner" => "Partenaire".into(),
        _ => collectivity_kind
            .and_then(crate::referential::CollectivityKind::parse)
            .map_or("Collectivité", |k| k.label_fr())
            .to_string(),
    }
}
