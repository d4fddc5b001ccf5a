//! "Abonnés": who receives the newsletter and why — state, delivery mode, and the consent behind each
//! subscription (when, from where, on which legal basis, after which wording) — and subscribing the
//! contacts of a pipeline stage or of every member in one step. Staff and admins only: it shows addresses.
//! The requests to be forgotten that people make from their preferences page wait here until staff carry
//! them out (or refuse them, when the law requires keeping the data).

use askama::Template;
use axum::Router;
use axum::extract::{Form, Path, Query, State};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};

use crate::domain::Stage;
use crate::store::erasure::ErasureRequest;
use crate::store::subscriptions::{ContactSelection, MailingList, SubscriberRow};
use crate::web::AppState;
use crate::web::archive::newsletter_list;
use crate::web::auth::Session;
use crate::web::error::{WebError, WebResult};
use crate::web::view::{Chrome, french_datetime};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/abonnes", get(show).post(subscribe_contacts))
        .route("/abonnes/selection", post(subscribe_selection))
        .route("/abonnes/effacements/{id}", post(decide_erasure))
}

/// French names of the subscription states.
pub fn state_label(state: &str) -> &'static str {
    match state {
        "pending" => "en attente de confirmation",
        "active" => "abonné",
        "unsubscribed" => "désabonné",
        "bouncing" => "adresse en échec",
        "disabled" => "suspendu",
        _ => "inconnu",
    }
}

/// Why a subscription exists, in words.
pub fn reason(row: &SubscriberRow) -> String {
    let source = match row.consent_source.as_str() {
        "public_form" => "formulaire public",
        "mail" => "demande par courriel",
        "staff" => "ajout par l'équipe",
        "import" => "import",
        "onboarding" => "adhésion",
        other => other,
    };
    let basis = match row.legal_basis.as_str() {
        "consent" => "consentement",
        "legitimate_interest" => "intérêt légitime",
        other => other,
    };
    let when = row
        .consent_at
        .map_or("pas encore confirmé".to_string(), french_datetime);
    let wording = if row.wording_version.is_empty() {
        String::new()
    } else {
        format!(", texte {}", row.wording_version)
    };
    format!("{source}, {basis} ({when}{wording})")
}

#[derive(Template)]
#[template(path = "subscribers.html", config = "src/web/askama.toml")]
struct SubscribersPage {
    chrome: Chrome,
    list: MailingList,
    rows: Vec<SubscriberRow>,
    active: usize,
    /// The selections offered for subscribing contacts: (value, label, confirmation question).
    choices: Vec<(String, String, String)>,
    notice: String,
    erasures: Vec<ErasureRequest>,
}

async fn page(session: &Session, state: &AppState, notice: String) -> WebResult<Html<String>> {
    let list = newsletter_list(state).await?;
    let rows = state.store.subscribers(list.id).await?;
    let counts = state.store.count_by_stage(crate::store::Scope::All).await?;
    let count_of = |stage: Stage| {
        counts
            .iter()
            .find(|(code, _)| *code == stage)
            .map_or(0, |(_, n)| *n)
    };
    let question = |targets: i64, which: &str| {
        format!(
            "Abonner à « {} » les contacts {which} ({}) ? Ils recevront les prochains numéros ; chacun pourra se désabonner en un clic.",
            list.name,
            crate::french::count(targets as usize, "collectivité", "collectivités")
        )
    };
    let mut choices = vec![(
        "members".to_string(),
        "de tous les membres".to_string(),
        question(count_of(Stage::Member), "de tous les membres"),
    )];
    for stage in Stage::ALL {
        let which = format!("de l'étape « {} »", stage.label());
        choices.push((
            stage.as_str().to_string(),
            which.clone(),
            question(count_of(*stage), &which),
        ));
    }
    let page = SubscribersPage {
        chrome: Chrome::new(session, "subscribers", "Abonnés"),
        active: rows.iter().filter(|r| r.state == "active").count(),
        list,
        rows,
        choices,
        notice,
        erasures: state.store.pending_erasures().await?,
    };
    Ok(Html(page.render()?))
}

async fn show(session: Session, State(state): State<AppState>) -> WebResult<Html<String>> {
    session.require_staff()?;
    page(&session, &state, String::new()).await
}

#[derive(serde::Deserialize)]
struct SelectionForm {
    selection: String,
}

async fn subscribe_contacts(
    session: Session,
    State(state): State<AppState>,
    Form(form): Form<SelectionForm>,
) -> WebResult<Html<String>> {
    session.require_staff()?;
    let (selection, described) = if form.selection == "members" {
        (ContactSelection::Members, "des membres".to_string())
    } else {
        let stage = Stage::parse(&form.selection).ok_or_else(|| {
            WebError::BadRequest(format!(
                "« {} » n'est ni une étape ni « membres ».",
                form.selection
            ))
        })?;
        (
            ContactSelection::Stage(stage),
            format!("de l'étape « {} »", stage.label()),
        )
    };
    let list = newsletter_list(&state).await?;
    let added = state
        .store
        .subscribe_contacts_as(&list, selection, &session.actor(), state.clock.now_millis())
        .await?;
    let notice = format!(
        "{} {described} {}. Les personnes déjà abonnées, en attente ou désabonnées n'ont pas été modifiées.",
        crate::french::count(added as usize, "contact", "contacts"),
        if added > 1 { "abonnés" } else { "abonné" }
    );
    page(&session, &state, notice).await
}

/// Subscribes the contacts of the targets a view of the targets list shows (its filters in the query
/// string, as the page's export links carry them).
async fn subscribe_selection(
    session: Session,
    State(state): State<AppState>,
    Query(query): Query<super::targets::ListQuery>,
) -> WebResult<Html<String>> {
    session.require_staff()?;
    let targets = query.every_target(&state, &session).await?;
    let organisations: Vec<i64> = targets.iter().map(|t| t.organisation_id).collect();
    let count = organisations.len();
    let list = newsletter_list(&state).await?;
    let added = state
        .store
        .subscribe_contacts_as(
            &list,
            ContactSelection::Organisations(organisations),
            &session.actor(),
            state.clock.now_millis(),
        )
        .await?;
    let notice = format!(
        "{} {} de la sélection {}. Les personnes déjà abonnées, en attente ou désabonnées n'ont pas été \
         modifiées.",
        crate::french::count(added as usize, "contact", "contacts"),
        if count > 1 {
            format!("des {count} cibles")
        } else {
            "de la cible".to_string()
        },
        if added > 1 { "abonnés" } else { "abonné" }
    );
    page(&session, &state, notice).await
}

#[derive(serde::Deserialize)]
struct ErasureDecision {
    decision: String,
}

/// Carries out (`erase`) or refuses (`refuse`) a request to be forgotten.
async fn decide_erasure(
    session: Session,
    State(state): State<AppState>,
    Path(id): Path<i64>,
    Form(form): Form<ErasureDecision>,
) -> WebResult<Response> {
    session.require_staff()?;
    let now = state.clock.now_millis();
    let notice = match form.decision.as_str() {
        "erase" => {
            let counts = state
                .store
                .erase_personal_data(id, &session.actor(), now)
                .await?;
            format!(
                "Données effacées : {} ; {} et {} rendus anonymes ; {}.",
                crate::french::count(
                    counts.contacts as usize,
                    "fiche de contact supprimée",
                    "fiches de contact supprimées"
                ),
                crate::french::count(counts.subscriptions as usize, "abonnement", "abonnements"),
                crate::french::count(counts.deliveries as usize, "courrier", "courriers"),
                crate::french::count(counts.texts as usize, "texte expurgé", "textes expurgés")
            )
        }
        "refuse" => {
            if !state
                .store
                .refuse_erasure(id, &session.actor(), now)
                .await?
            {
                return Err(WebError::NotFound);
            }
            "Demande d'effacement refusée ; les données sont conservées.".to_string()
        }
        other => {
            return Err(WebError::BadRequest(format!(
                "décision « {other} » inconnue : « erase » ou « refuse »"
            )));
        }
    };
    Ok(page(&session, &state, notice).await?.into_response())
}
