//! People and organisations pages, with search. A relay sees only those of its territories.

use askama::Template;
use axum::Form;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::response::Html;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};

use crate::export::{ExportFormat, Sheet};
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
        .route("/people/export", get(export_people))
        .route("/organisations/export", get(export_organisations))
        .route("/people/{id}", get(person))
        .route(
            "/organisations",
            get(organisations).post(create_organisation),
        )
        .route("/organisations/{id}", get(organisation))
        .route("/organisations/{id}/people", post(add_person))
}

#[derive(serde::Deserialize, Default)]
struct SearchQuery {
    format: Option<ExportFormat>,
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
    /// (name, role label) of every account that can see this person.
    seen_by: Vec<(String, &'static str)>,
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
    let departement = match person.organisation_id {
        Some(org) => state
            .store
            .organisation(crate::store::Scope::All, org)
            .await?
            .and_then(|o| o.departement_code),
        None => None,
    };
    let seen_by = state
        .store
        .accounts_seeing(departement.as_deref())
        .await?
        .into_iter()
        .map(|(name, role)| {
            (
                name,
                crate::domain::Role::parse(&role).map_or("?", crate::domain::Role::label),
            )
        })
        .collect();
    let page = PersonPage {
        chrome: Chrome::new(&session, "people", person.full_name.clone()),
        person,
        seen_by,
    };
    Ok(Html(page.render()?))
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

#[derive(serde::Deserialize)]
struct OrganisationForm {
    kind: String,
    name: String,
    #[serde(default)]
    departement: String,
    #[serde(default)]
    website: String,
}

/// Member associations and partners are created here; collectivities come with their target.
async fn create_organisation(
    session: Session,
    State(state): State<AppState>,
    Form(form): Form<OrganisationForm>,
) -> WebResult<Response> {
    session.require_staff()?;
    if !matches!(form.kind.as_str(), "association" | "partner") {
        return Err(WebError::BadRequest(
            "Choisissez « association membre » ou « partenaire ».".into(),
        ));
    }
    let name = form.name.trim();
    if name.is_empty() {
        return Err(WebError::BadRequest(
            "Indiquez le nom de l'organisation.".into(),
        ));
    }
    let referential = crate::referential::Referential::get();
    let departement = match form.departement.trim() {
        "" => None,
        text => Some(
            referential
                .resolve_departement(text)
                .ok_or_else(|| WebError::BadRequest(format!("Département « {text} » inconnu.")))?
                .to_string(),
        ),
    };
    let new = crate::store::organisations::NewOrganisation {
        kind: form.kind,
        name: name.into(),
        region_code: departement
            .as_deref()
            .and_then(|d| referential.region_of_departement(d))
            .map(str::to_string),
        departement_code: departement,
        website: form.website.trim().into(),
        ..Default::default()
    };
    let id = state
        .store
        .create_organisation(&new, &session.actor(), state.clock.now_millis())
        .await?;
    Ok(Redirect::to(&format!("/organisations/{id}")).into_response())
}

async fn add_person(
    session: Session,
    State(state): State<AppState>,
    Path(id): Path<i64>,
    Form(form): Form<crate::web::forms::ContactForm>,
) -> WebResult<Response> {
    session.require_write()?;
    let new = form.into_person(id).map_err(WebError::BadRequest)?;
    let person = state
        .store
        .create_person(
            session.scope(),
            &new,
            &session.actor(),
            state.clock.now_millis(),
        )
        .await?;
    Ok(Redirect::to(&format!("/people/{person}")).into_response())
}

/// Largest export of one list.
const EXPORT_LIMIT: i64 = 100_000;

fn attachment(name: &str, format: ExportFormat, bytes: Vec<u8>) -> Response {
    let disposition = format!("attachment; filename=\"{name}.{}\"", format.extension());
    (
        [
            (
                axum::http::header::CONTENT_TYPE,
                format.content_type().to_string(),
            ),
            (axum::http::header::CONTENT_DISPOSITION, disposition),
        ],
        bytes,
    )
        .into_response()
}

async fn export_people(
    session: Session,
    State(state): State<AppState>,
    Query(query): Query<SearchQuery>,
) -> WebResult<Response> {
    let format = query.format.unwrap_or(ExportFormat::Csv);
    let people = state
        .store
        .search_people(session.scope(), &query.q, EXPORT_LIMIT, 0)
        .await?;
    let sheet = Sheet {
        name: "Personnes".into(),
        headers: [
            "Nom",
            "Fonction",
            "Organisation",
            "Emails",
            "Téléphones",
            "Notes",
        ]
        .map(String::from)
        .to_vec(),
        rows: people
            .iter()
            .map(|p| {
                vec![
                    p.full_name.clone(),
                    p.function.clone(),
                    p.organisation_name.clone().unwrap_or_default(),
                    p.emails().join(", "),
                    p.phones().join(", "),
                    p.notes.clone(),
                ]
            })
            .collect(),
    };
    Ok(attachment(
        "personnes",
        format,
        sheet.to_bytes(format).map_err(WebError::Internal)?,
    ))
}

async fn export_organisations(
    session: Session,
    State(state): State<AppState>,
    Query(query): Query<SearchQuery>,
) -> WebResult<Response> {
    let format = query.format.unwrap_or(ExportFormat::Csv);
    let kind = (!query.kind.is_empty()).then_some(query.kind.as_str());
    let organisations = state
        .store
        .search_organisations(session.scope(), &query.q, kind, EXPORT_LIMIT, 0)
        .await?;
    let sheet = Sheet {
        name: "Organisations".into(),
        headers: [
            "Nom",
            "Type",
            "Code officiel",
            "Département",
            "Région",
            "Population",
            "Échelle",
        ]
        .map(String::from)
        .to_vec(),
        rows: organisations
            .iter()
            .map(|o| {
                vec![
                    o.name.clone(),
                    o.kind_label(),
                    o.official_code.clone().unwrap_or_default(),
                    o.departement_code.clone().unwrap_or_default(),
                    o.region_label(),
                    o.population.map(|p| p.to_string()).unwrap_or_default(),
                    o.scale_label().to_string(),
                ]
            })
            .collect(),
    };
    Ok(attachment(
        "organisations",
        format,
        sheet.to_bytes(format).map_err(WebError::Internal)?,
    ))
}
