//! People and organisations pages, with search. A relay sees only those of its territories.

use askama::Template;
use axum::Form;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::response::Html;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use crate::export::{ExportFormat, Sheet};
use crate::store::organisations::Organisation;
use crate::store::people::{NewPerson, Person};
use crate::web::AppState;
use crate::web::auth::Session;
use crate::web::error::{WebError, WebResult};
use crate::web::flash;
use crate::web::forms::{ContactForm, Validated};
use crate::web::view::Chrome;

const PAGE_SIZE: i64 = 50;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/people", get(people))
        .route("/people/export", get(export_people))
        .route("/organisations/export", get(export_organisations))
        .route("/people/{id}", get(person).post(edit_person))
        .route("/people/{id}/retirer", post(detach_person))
        .route("/people/{id}/supprimer", post(delete_person))
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
    /// The target of the person's collectivity, where the page sends back after a removal.
    target_id: Option<i64>,
    error: Option<String>,
}

async fn person(
    session: Session,
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> WebResult<Html<String>> {
    render_person(&session, &state, id, None).await
}

async fn render_person(
    session: &Session,
    state: &AppState,
    id: i64,
    error: Option<String>,
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
    let target_id = match person.organisation_id {
        Some(org) => state.store.target_id_of_organisation(org).await?,
        None => None,
    };
    let page = PersonPage {
        chrome: Chrome::new(session, "people", person.full_name.clone()),
        person,
        seen_by,
        target_id,
        error,
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
    Ok(flash::redirect_with_notice(
        &format!("/organisations/{id}"),
        &format!("Organisation {} enregistrée.", new.name),
    ))
}

async fn add_person(
    session: Session,
    State(state): State<AppState>,
    Path(id): Path<i64>,
    form: Validated<ContactForm>,
) -> WebResult<Response> {
    session.require_write()?;
    let new = NewPerson {
        organisation_id: Some(id),
        ..form.checked.map_err(WebError::BadRequest)?
    };
    let person = state
        .store
        .create_person(
            session.scope(),
            &new,
            &session.actor(),
            state.clock.now_millis(),
        )
        .await?;
    Ok(flash::redirect_with_notice(
        &format!("/people/{person}"),
        &format!("Contact {} enregistré.", new.full_name),
    ))
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

/// Where a contact goes back to after a change: its collectivity's target when there is one.
fn back_to(target_id: Option<i64>, organisation_id: Option<i64>, person: i64) -> String {
    match (target_id, organisation_id) {
        (Some(target), _) => format!("/targets/{target}"),
        (None, Some(org)) => format!("/organisations/{org}"),
        (None, None) => format!("/people/{person}"),
    }
}

/// Corrects a contact's name, function, emails and phones.
async fn edit_person(
    session: Session,
    State(state): State<AppState>,
    Path(id): Path<i64>,
    form: Validated<ContactForm>,
) -> WebResult<Response> {
    session.require_write()?;
    let new = form
        .or_answer(|message| async {
            Ok((
                axum::http::StatusCode::UNPROCESSABLE_ENTITY,
                render_person(&session, &state, id, Some(message)).await?,
            )
                .into_response())
        })
        .await?;
    let edit = crate::store::people::PersonEdit {
        full_name: new.full_name,
        function: new.function,
        emails: new.emails,
        phones: new.phones,
    };
    state
        .store
        .update_person(
            session.scope(),
            id,
            &edit,
            &session.actor(),
            state.clock.now_millis(),
        )
        .await?;
    Ok(flash::redirect_with_notice(
        &format!("/people/{id}"),
        &format!("Contact {} enregistré.", edit.full_name),
    ))
}

/// Takes the contact off its collectivity; the card stays in the directory.
async fn detach_person(
    session: Session,
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> WebResult<Response> {
    session.require_write()?;
    let before = state
        .store
        .detach_person(
            session.scope(),
            id,
            &session.actor(),
            state.clock.now_millis(),
        )
        .await?;
    let organisation = before.organisation_name.unwrap_or_default();
    Ok(flash::redirect_with_notice(
        &format!("/people/{id}"),
        &format!(
            "{} n'est plus rattaché·e à {organisation}.",
            before.full_name
        ),
    ))
}

/// Deletes a contact recorded by mistake; back to its collectivity.
async fn delete_person(
    session: Session,
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> WebResult<Response> {
    session.require_write()?;
    let target_id = match state.store.person(session.scope(), id).await? {
        Some(Person {
            organisation_id: Some(org),
            ..
        }) => state.store.target_id_of_organisation(org).await?,
        _ => None,
    };
    let before = state
        .store
        .delete_person(
            session.scope(),
            id,
            &session.actor(),
            state.clock.now_millis(),
        )
        .await?;
    let to = match (target_id, before.organisation_id) {
        (None, None) => "/people".to_string(),
        (target, org) => back_to(target, org, id),
    };
    Ok(flash::redirect_with_notice(
        &to,
        &format!("Contact {} supprimé.", before.full_name),
    ))
}
