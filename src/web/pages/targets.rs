//! The targets list (search, filters, sorting, pagination, export of the current view) and the form that
//! adds a target from the referential.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Form, Router};

use crate::domain::{EmailAddress, LeadSource, PoliticalColour, Priority, Scale, Stage};
use crate::export::{ExportFormat, Sheet};
use crate::referential::{CollectivityKind, Referential};
use crate::store::organisations::NewOrganisation;
use crate::store::people::NewPerson;
use crate::store::target_list::{TargetFilter, TargetSort};
use crate::store::targets::{NewTarget, Target, TargetFields};
use crate::web::AppState;
use crate::web::auth::Session;
use crate::web::error::{WebError, WebResult};
use crate::web::forms;
use crate::web::view::{self, Chrome};

pub const PAGE_SIZE: i64 = 50;
/// Largest export of one view; beyond it, narrow the filters.
pub const EXPORT_LIMIT: i64 = 100_000;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/targets", get(list).post(create))
        .route("/targets/export", get(export))
        .route("/targets/new", get(new_form))
}

/// The list's query string; empty strings (an untouched `<select>`) mean "any".
#[derive(Debug, Default, Clone, serde::Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    pub q: String,
    #[serde(default)]
    pub stage: String,
    #[serde(default)]
    pub region: String,
    #[serde(default)]
    pub departement: String,
    #[serde(default)]
    pub scale: String,
    #[serde(default)]
    pub owner: String,
    #[serde(default)]
    pub colour: String,
    #[serde(default)]
    pub source: String,
    #[serde(default)]
    pub sort: String,
    /// `YYYY-MM-DD`: only the open targets whose next action was due before that day (the dashboard's link).
    #[serde(default)]
    pub en_retard: String,
    #[serde(default)]
    pub page: Option<i64>,
    #[serde(default)]
    pub format: Option<ExportFormat>,
}

fn non_empty(text: &str) -> Option<String> {
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_string())
}

impl ListQuery {
    pub fn filter(&self) -> TargetFilter {
        TargetFilter {
            q: non_empty(&self.q),
            stage: non_empty(&self.stage),
            region: non_empty(&self.region),
            departement: non_empty(&self.departement),
            scale: non_empty(&self.scale),
            owner: self.owner.trim().parse().ok(),
            colour: non_empty(&self.colour),
            source: non_empty(&self.source),
            due_by: None,
            overdue_on: chrono::NaiveDate::parse_from_str(self.en_retard.trim(), "%Y-%m-%d").ok(),
        }
    }

    /// The day of the overdue view, as staff read it, when the list shows only overdue follow-ups.
    pub fn overdue_label(&self) -> Option<String> {
        self.filter()
            .overdue_on
            .map(|d| crate::web::view::french_date(Some(d)))
    }

    pub fn sort(&self) -> TargetSort {
        serde_json::from_value(serde_json::Value::String(self.sort.clone())).unwrap_or_default()
    }

    /// Every target of this view (up to [`EXPORT_LIMIT`]), not one page: for exports and selections.
    pub async fn every_target(
        &self,
        state: &AppState,
        session: &Session,
    ) -> WebResult<Vec<crate::store::targets::Target>> {
        let (targets, _) = state
            .store
            .list_targets(
                session.scope(),
                &self.filter(),
                self.sort(),
                EXPORT_LIMIT,
                0,
            )
            .await?;
        Ok(targets)
    }

    /// The query string of this view without the page, for pagination and export links.
    pub fn without_page(&self) -> String {
        let pairs = [
            ("q", &self.q),
            ("stage", &self.stage),
            ("region", &self.region),
            ("departement", &self.departement),
            ("scale", &self.scale),
            ("owner", &self.owner),
            ("colour", &self.colour),
            ("source", &self.source),
            ("sort", &self.sort),
            ("en_retard", &self.en_retard),
        ];
        serde_urlencoded::to_string(
            pairs
                .iter()
                .filter(|(_, v)| !v.is_empty())
                .collect::<Vec<_>>(),
        )
        .unwrap_or_default()
    }
}

#[derive(Template)]
#[template(path = "targets.html", config = "src/web/askama.toml")]
struct ListPage {
    chrome: Chrome,
    query: ListQuery,
    query_string: String,
    targets: Vec<Target>,
    total: i64,
    page: i64,
    pages: i64,
    stages: Vec<(String, String, bool)>,
    scales: Vec<(String, String, bool)>,
    colours: Vec<(String, String, bool)>,
    sources: Vec<(String, String, bool)>,
    regions: Vec<(String, String, bool)>,
    departements: Vec<(String, String, bool)>,
    owners: Vec<(String, String, bool)>,
    sorts: Vec<(String, String, bool)>,
}

async fn list(
    session: Session,
    State(state): State<AppState>,
    Query(query): Query<ListQuery>,
) -> WebResult<Html<String>> {
    let page = query.page.unwrap_or(1).max(1);
    let (targets, total) = state
        .store
        .list_targets(
            session.scope(),
            &query.filter(),
            query.sort(),
            PAGE_SIZE,
            (page - 1) * PAGE_SIZE,
        )
        .await?;
    let referential = Referential::get();
    let pick = |items: Vec<(String, String)>, current: &str| {
        items
            .into_iter()
            .map(|(code, label)| {
                let selected = code == current;
                (code, label, selected)
            })
            .collect()
    };
    let page_view = ListPage {
        chrome: Chrome::new(&session, "targets", "Cibles"),
        query_string: query.without_page(),
        stages: view::options(Stage::ALL, Stage::as_str, Stage::label, &query.stage),
        scales: view::options(Scale::ALL, Scale::as_str, Scale::label, &query.scale),
        colours: view::options(
            PoliticalColour::ALL,
            PoliticalColour::as_str,
            PoliticalColour::label,
            &query.colour,
        ),
        sources: view::options(
            LeadSource::ALL,
            LeadSource::as_str,
            LeadSource::label,
            &query.source,
        ),
        regions: pick(
            referential
                .regions()
                .map(|r| (r.code.clone(), r.name.clone()))
                .collect(),
            &query.region,
        ),
        departements: pick(
            referential
                .departements()
                .map(|d| (d.code.clone(), format!("{} – {}", d.code, d.name)))
                .collect(),
            &query.departement,
        ),
        owners: pick(
            state
                .owners()
                .await?
                .iter()
                .map(|(id, name)| (id.to_string(), name.clone()))
                .collect(),
            &query.owner,
        ),
        sorts: pick(
            vec![
                ("name".into(), "Nom".into()),
                ("stage".into(), "Étape".into()),
                ("next_action_date".into(), "Prochaine action".into()),
                ("population".into(), "Population".into()),
                ("updated".into(), "Dernière modification".into()),
            ],
            &query.sort,
        ),
        targets,
        total,
        page,
        pages: ((total + PAGE_SIZE - 1) / PAGE_SIZE).max(1),
        query,
    };
    Ok(Html(page_view.render()?))
}

/// The rows of an export, in the column order of the import (so an export can be re-imported).
pub fn targets_sheet(targets: &[Target]) -> Sheet {
    Sheet {
        name: "Cibles".into(),
        headers: [
            "Collectivité",
            "Code INSEE",
            "Type",
            "Département",
            "Région",
            "Population",
            "Échelle",
            "Statut",
            "Responsable",
            "Couleur politique",
            "Nuance politique",
            "Source",
            "Priorité",
            "Prochaine action",
            "Date prochaine action",
            "Squats/bidonvilles",
            "Notes",
        ]
        .map(String::from)
        .to_vec(),
        rows: targets
            .iter()
            .map(|t| {
                vec![
                    t.name.clone(),
                    t.official_code.clone().unwrap_or_default(),
                    t.collectivity_kind
                        .as_deref()
                        .and_then(CollectivityKind::parse)
                        .map_or("", |k| k.label_fr())
                        .to_string(),
                    t.departement_code.clone().unwrap_or_default(),
                    view::region_name(t.region_code.as_deref()),
                    t.population.map(|p| p.to_string()).unwrap_or_default(),
                    view::scale_label(t.scale).to_string(),
                    t.stage.label().to_string(),
                    t.owner_name.clone().unwrap_or_default(),
                    t.political_colour.label().to_string(),
                    t.political_nuance.clone().unwrap_or_default(),
                    t.lead_source.label().to_string(),
                    t.priority.label().to_string(),
                    t.next_action.clone(),
                    view::iso_date(t.next_action_date),
                    if t.has_squats { "oui" } else { "non" }.to_string(),
                    t.notes.clone(),
                ]
            })
            .collect(),
    }
}

async fn export(
    session: Session,
    State(state): State<AppState>,
    Query(query): Query<ListQuery>,
) -> WebResult<Response> {
    let format = query.format.unwrap_or(ExportFormat::Csv);
    let targets = query.every_target(&state, &session).await?;
    let bytes = targets_sheet(&targets)
        .to_bytes(format)
        .map_err(WebError::Internal)?;
    let disposition = format!(
        "attachment; filename=\"cibles-{}.{}\"",
        state.clock.today(),
        format.extension()
    );
    Ok((
        [
            (header::CONTENT_TYPE, format.content_type().to_string()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        bytes,
    )
        .into_response())
}

#[derive(Template)]
#[template(path = "target_new.html", config = "src/web/askama.toml")]
struct NewPage {
    chrome: Chrome,
    error: Option<String>,
    form: NewTargetForm,
    stages: Vec<(String, String, bool)>,
    colours: Vec<(String, String, bool)>,
    sources: Vec<(String, String, bool)>,
    owners: Vec<(String, String, bool)>,
}

#[derive(Debug, Default, Clone, serde::Deserialize)]
pub struct NewTargetForm {
    #[serde(default)]
    pub collectivity: String,
    /// `kind:code` of the referential entry picked in the completion list.
    #[serde(default)]
    pub reference: String,
    #[serde(default)]
    pub stage: String,
    #[serde(default)]
    pub owner: String,
    #[serde(default)]
    pub political_colour: String,
    /// The Ministry's nuance as staff write it; when given, it fixes the colour.
    #[serde(default)]
    pub political_nuance: String,
    #[serde(default)]
    pub lead_source: String,
    #[serde(default)]
    pub has_squats: Option<String>,
    #[serde(default)]
    pub contact_name: String,
    #[serde(default)]
    pub contact_function: String,
    #[serde(default)]
    pub contact_email: String,
    #[serde(default)]
    pub contact_phone: String,
    #[serde(default)]
    pub next_action: String,
    #[serde(default)]
    pub next_action_date: String,
    #[serde(default)]
    pub notes: String,
}

async fn render_new(
    session: &Session,
    state: &AppState,
    form: NewTargetForm,
    error: Option<String>,
) -> WebResult<Html<String>> {
    let owners = state.owners().await?;
    let page = NewPage {
        chrome: Chrome::new(session, "targets", "Nouvelle cible"),
        stages: view::options(
            Stage::ALL,
            Stage::as_str,
            Stage::label,
            if form.stage.is_empty() {
                "identified"
            } else {
                &form.stage
            },
        ),
        colours: view::options(
            PoliticalColour::ALL,
            PoliticalColour::as_str,
            PoliticalColour::label,
            if form.political_colour.is_empty() {
                "unknown"
            } else {
                &form.political_colour
            },
        ),
        sources: view::options(
            LeadSource::ALL,
            LeadSource::as_str,
            LeadSource::label,
            if form.lead_source.is_empty() {
                "other"
            } else {
                &form.lead_source
            },
        ),
        owners: owners
            .iter()
            .map(|(id, name)| {
                let selected = form.owner == id.to_string()
                    || (form.owner.is_empty() && *id == session.user.id);
                (id.to_string(), name.clone(), selected)
            })
            .collect(),
        form,
        error,
    };
    Ok(Html(page.render()?))
}

async fn new_form(session: Session, State(state): State<AppState>) -> WebResult<Html<String>> {
    session.require_write()?;
    render_new(&session, &state, NewTargetForm::default(), None).await
}

impl NewTargetForm {
    /// The new target, or what is wrong in French; `territories` are the départements a relay's account
    /// covers (`None`: anywhere).
    fn new_target(&self, territories: Option<&[String]>) -> Result<NewTarget, String> {
        let form = self;
        let referential = Referential::get();
        let entry = form
            .reference
            .split_once(':')
            .and_then(|(kind, code)| referential.by_code(CollectivityKind::parse(kind), code))
            .or_else(|| {
                let found = referential.find_by_name(&form.collectivity, None);
                if found.len() == 1 { Some(found[0]) } else { None }
            })
            .ok_or_else(|| format!("« {} » : choisissez la collectivité dans la liste proposée (nom ambigu ou inconnu).", form.collectivity))?;
        if let Some(territories) = territories
            && !entry
                .departement
                .as_ref()
                .is_some_and(|d| territories.contains(d))
        {
            return Err(format!(
                "{} n'est pas dans les départements de votre association.",
                entry.name
            ));
        }
        form.rest_of_target(entry)
    }

    /// Stage, colour, follow-up and the first contact of a target on `entry`.
    fn rest_of_target(&self, entry: &crate::referential::Entry) -> Result<NewTarget, String> {
        let form = self;
        let stage = Stage::parse(&form.stage).ok_or("Étape inconnue.")?;
        let (colour, political_nuance) =
            crate::domain::nuance::from_form(&form.political_colour, &form.political_nuance)?;
        let source = LeadSource::parse(&form.lead_source).unwrap_or(LeadSource::Other);
        let next_action_date = match form.next_action_date.trim() {
            "" => None,
            text => Some(crate::domain::parse_date(text).ok_or(format!(
                "Date de prochaine action « {text} » illisible (attendu JJ/MM/AAAA)."
            ))?),
        };
        let mut contacts = Vec::new();
        if !form.contact_name.trim().is_empty() {
            let emails = match form.contact_email.trim() {
                "" => vec![],
                text => vec![EmailAddress::parse(text)?.to_string()],
            };
            let phones = match form.contact_phone.trim() {
                "" => vec![],
                text => vec![text.to_string()],
            };
            contacts.push(NewPerson {
                full_name: form.contact_name.trim().into(),
                function: form.contact_function.trim().into(),
                emails,
                phones,
                ..Default::default()
            });
        }
        Ok(NewTarget {
            organisation: NewOrganisation::from_referential(entry),
            stage,
            fields: TargetFields {
                owner_id: form.owner.parse().ok(),
                political_colour: colour,
                political_nuance,
                lead_source: source,
                priority: Priority::Normal,
                next_action: form.next_action.trim().into(),
                next_action_date,
                has_squats: form.has_squats.is_some(),
                notes: form.notes.trim().into(),
            },
            contacts,
        })
    }
}

async fn create(
    session: Session,
    State(state): State<AppState>,
    Form(form): Form<NewTargetForm>,
) -> WebResult<Response> {
    session.require_write()?;
    // A relay adds targets only in its association's départements.
    let territories = match session.scope() {
        crate::store::Scope::Relay(user_id) => Some(state.store.user_territories(user_id).await?),
        _ => None,
    };
    let checked = form.new_target(territories.as_deref());
    let new = forms::or_answer(checked, |message| async {
        Ok((
            axum::http::StatusCode::UNPROCESSABLE_ENTITY,
            render_new(&session, &state, form.clone(), Some(message)).await?,
        )
            .into_response())
    })
    .await?;
    match state
        .store
        .create_target(&new, &session.actor(), state.clock.now_millis())
        .await
    {
        Ok(id) => Ok(crate::web::flash::redirect_with_notice(
            &format!("/targets/{id}"),
            &format!("Cible {} créée.", new.organisation.name),
        )),
        Err(crate::store::StoreError::Conflict(message)) => Ok((
            axum::http::StatusCode::CONFLICT,
            render_new(&session, &state, form, Some(message)).await?,
        )
            .into_response()),
        Err(other) => Err(other.into()),
    }
}
