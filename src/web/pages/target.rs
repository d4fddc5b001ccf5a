//! One target: contacts, interactions timeline, stage history, local needs, and the short forms that change
//! it (stage, follow-up fields edited in place, "log an interaction", add a contact, flag a local need).

use askama::Template;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};

use crate::domain::{InteractionKind, LeadSource, PoliticalColour, Priority, Stage};
use crate::store::interactions::{Interaction, InteractionEdit, NewInteraction};
use crate::store::local_needs::LocalNeed;
use crate::store::memberships::Membership;
use crate::store::people::{NewPerson, Person};
use crate::store::stage_changes::{StageChange, StageMove};
use crate::store::target_deletion::TargetFootprint;
use crate::store::targets::{Target, TargetFields};
use crate::web::AppState;
use crate::web::auth::Session;
use crate::web::error::{WebError, WebResult};
use crate::web::flash;
use crate::web::forms::{self, ContactForm, RepeatedForm, Validate, Validated};
use crate::web::view::{self, Chrome};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/targets/{id}", get(show))
        .route("/targets/{id}/stage", post(change_stage))
        .route("/targets/{id}/follow-up", post(update_follow_up))
        .route("/targets/{id}/interactions", post(log_interaction))
        .route("/targets/{id}/contacts", post(add_contact))
        .route("/targets/{id}/needs", post(add_need))
        .route("/targets/{id}/membership", post(update_membership))
        .route("/targets/{id}/supprimer", post(delete_target))
        .route(
            "/targets/{id}/interactions/{interaction}",
            post(edit_interaction),
        )
        .route(
            "/targets/{id}/interactions/{interaction}/supprimer",
            post(delete_interaction),
        )
        .route(
            "/targets/{id}/contacts/{person}/retirer",
            post(detach_contact),
        )
}

#[derive(Template)]
#[template(path = "target.html", config = "src/web/askama.toml")]
struct TargetPage {
    chrome: Chrome,
    target: Target,
    contacts: Vec<Person>,
    interactions: Vec<(Interaction, Vec<String>)>,
    history: Vec<StageChange>,
    needs: Vec<LocalNeed>,
    membership: Option<(Membership, Vec<i64>)>,
    stages: Vec<(String, String, bool)>,
    colours: Vec<(String, String, bool)>,
    sources: Vec<(String, String, bool)>,
    priorities: Vec<(String, String, bool)>,
    kinds: Vec<(String, String, bool)>,
    owners: Vec<(String, String, bool)>,
    today: String,
    error: Option<String>,
    /// What deleting the target would remove, for writers only.
    footprint: Option<TargetFootprint>,
    /// Partner networks this collectivity is a member of, as they published it: "network since date".
    elsewhere: Vec<String>,
}

impl TargetPage {
    /// The question asked before deleting the target, with what goes and what stays.
    fn delete_question(&self) -> String {
        let Some(f) = &self.footprint else {
            return String::new();
        };
        let count = |n: i64, zero: &str, one: &str, many: &str| match n {
            0 => zero.to_string(),
            1 => format!("1 {one}"),
            n => format!("{n} {many}"),
        };
        format!(
            "Supprimer la cible {} ? Cela supprime {}, {} de l'historique des étapes et {}. Les contacts ({}) restent dans l'annuaire, rattachés à la collectivité. Cela ne peut pas être annulé.",
            self.target.name,
            count(f.interactions, "aucun échange", "échange", "échanges"),
            count(f.stage_changes, "aucune ligne", "ligne", "lignes"),
            count(
                f.needs,
                "aucun besoin local",
                "besoin local",
                "besoins locaux"
            ),
            f.contacts,
        )
    }
}

async fn render(
    session: &Session,
    state: &AppState,
    id: i64,
    error: Option<String>,
) -> WebResult<Html<String>> {
    let dossier = state
        .store
        .target_dossier(session.scope(), id)
        .await?
        .ok_or(WebError::NotFound)?;
    let owners = state.owners().await?;
    let target = dossier.target;
    let footprint = if session.require_write().is_ok() {
        state.store.target_footprint(session.scope(), id).await?
    } else {
        None
    };
    let elsewhere = match &target.official_code {
        Some(code) if !code.is_empty() => state
            .store
            .remote_memberships_of(code)
            .await?
            .iter()
            .map(|fact| match crate::french::year_of(&fact.since) {
                Some(year) => format!("{} depuis {year}", fact.network_name),
                None => fact.network_name.clone(),
            })
            .collect(),
        _ => Vec::new(),
    };
    let page = TargetPage {
        chrome: Chrome::new(session, "targets", target.name.clone()),
        contacts: dossier.contacts,
        interactions: dossier.interactions,
        history: dossier.history,
        needs: dossier.needs,
        membership: dossier.membership,
        stages: view::options(
            Stage::ALL,
            Stage::as_str,
            Stage::label,
            target.stage.as_str(),
        ),
        colours: view::options(
            PoliticalColour::ALL,
            PoliticalColour::as_str,
            PoliticalColour::label,
            target.political_colour.as_str(),
        ),
        sources: view::options(
            LeadSource::ALL,
            LeadSource::as_str,
            LeadSource::label,
            target.lead_source.as_str(),
        ),
        priorities: view::options(
            Priority::ALL,
            Priority::as_str,
            Priority::label,
            target.priority.as_str(),
        ),
        kinds: view::options(
            InteractionKind::ALL,
            InteractionKind::as_str,
            InteractionKind::label,
            "email",
        ),
        owners: owners
            .iter()
            .map(|(oid, name)| (oid.to_string(), name.clone(), Some(*oid) == target.owner_id))
            .collect(),
        today: state.clock.today().format("%Y-%m-%d").to_string(),
        target,
        error,
        footprint,
        elsewhere,
    };
    Ok(Html(page.render()?))
}

async fn show(
    session: Session,
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> WebResult<Html<String>> {
    render(&session, &state, id, None).await
}

/// The page again with what was refused (422).
async fn refused(
    session: &Session,
    state: &AppState,
    id: i64,
    message: String,
) -> WebResult<Response> {
    answer(session, state, id, Err(message)).await
}

/// Answers a form post: back to the page, or the page with the error when the input was refused.
async fn answer(
    session: &Session,
    state: &AppState,
    id: i64,
    outcome: Result<String, String>,
) -> WebResult<Response> {
    match outcome {
        Ok(notice) => Ok(flash::redirect_with_notice(
            &format!("/targets/{id}"),
            &notice,
        )),
        Err(message) => Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            render(session, state, id, Some(message)).await?,
        )
            .into_response()),
    }
}

#[derive(serde::Deserialize)]
pub struct StageForm {
    pub stage: String,
    #[serde(default)]
    pub reason: String,
    #[serde(default)]
    pub on_hold_until: String,
}

/// A stage move as staff asked it; [`StageAsked::on`] dates it.
pub struct StageAsked {
    to: Stage,
    reason: String,
    on_hold_until: Option<chrono::NaiveDate>,
}

impl StageAsked {
    pub fn on(self, today: chrono::NaiveDate) -> StageMove {
        StageMove {
            to: self.to,
            reason: self.reason,
            on_hold_until: self.on_hold_until,
            today,
        }
    }
}

/// Declining needs a reason, a pause may carry a date.
impl Validate for StageForm {
    type Output = StageAsked;

    fn validate(&self) -> Result<StageAsked, String> {
        let to = Stage::parse(&self.stage)
            .ok_or_else(|| format!("Étape « {} » inconnue.", self.stage))?;
        let reason = self.reason.trim().to_string();
        if to == Stage::Declined && reason.is_empty() {
            return Err("Indiquez la raison du refus.".into());
        }
        let on_hold_until = match self.on_hold_until.trim() {
            "" => None,
            text => Some(
                crate::domain::parse_date(text)
                    .ok_or_else(|| format!("Date « {text} » illisible (attendu JJ/MM/AAAA)."))?,
            ),
        };
        Ok(StageAsked {
            to,
            reason,
            on_hold_until,
        })
    }
}

/// A refused stage move: the error in JSON for the board, else the page again.
async fn stage_refused(
    session: &Session,
    state: &AppState,
    id: i64,
    wants_json: bool,
    message: String,
) -> WebResult<Response> {
    if wants_json {
        return Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            axum::Json(serde_json::json!({"error": message})),
        )
            .into_response());
    }
    refused(session, state, id, message).await
}

/// Used by the target page (form post) and by the board (fetch with `Accept: application/json`).
async fn change_stage(
    session: Session,
    State(state): State<AppState>,
    Path(id): Path<i64>,
    headers: HeaderMap,
    form: Validated<StageForm>,
) -> WebResult<Response> {
    session.require_write()?;
    let wants_json = headers
        .get("accept")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("application/json"));
    let change = form
        .or_answer(|message| stage_refused(&session, &state, id, wants_json, message))
        .await?
        .on(state.clock.today());
    state
        .store
        .change_stage(
            session.scope(),
            id,
            &change,
            &session.actor(),
            state.clock.now_millis(),
        )
        .await?;
    if wants_json {
        return Ok(axum::Json(
            serde_json::json!({"id": id, "stage": change.to, "label": change.to.label()}),
        )
        .into_response());
    }
    let name = target_name(&session, &state, id).await?;
    answer(
        &session,
        &state,
        id,
        Ok(format!("{name} passe à l'étape « {} ».", change.to.label())),
    )
    .await
}

#[derive(serde::Deserialize)]
struct FollowUpForm {
    #[serde(default)]
    owner: String,
    political_colour: String,
    /// The Ministry's nuance as staff write it; when given, it fixes the colour.
    #[serde(default)]
    political_nuance: String,
    lead_source: String,
    priority: String,
    #[serde(default)]
    next_action: String,
    #[serde(default)]
    next_action_date: String,
    #[serde(default)]
    has_squats: Option<String>,
    #[serde(default)]
    notes: String,
}

impl Validate for FollowUpForm {
    type Output = TargetFields;

    fn validate(&self) -> Result<TargetFields, String> {
        let next_action_date = match self.next_action_date.trim() {
            "" => None,
            text => Some(
                crate::domain::parse_date(text)
                    .ok_or_else(|| format!("Date « {text} » illisible (attendu JJ/MM/AAAA)."))?,
            ),
        };
        let (colour, political_nuance) =
            crate::domain::nuance::from_form(&self.political_colour, &self.political_nuance)?;
        Ok(TargetFields {
            owner_id: self.owner.trim().parse().ok(),
            political_colour: colour,
            political_nuance,
            lead_source: LeadSource::parse(&self.lead_source).ok_or("Source inconnue.")?,
            priority: Priority::parse(&self.priority).ok_or("Priorité inconnue.")?,
            next_action: self.next_action.trim().into(),
            next_action_date,
            has_squats: self.has_squats.is_some(),
            notes: self.notes.trim().into(),
        })
    }
}

async fn update_follow_up(
    session: Session,
    State(state): State<AppState>,
    Path(id): Path<i64>,
    form: Validated<FollowUpForm>,
) -> WebResult<Response> {
    session.require_write()?;
    let fields = form
        .or_answer(|message| refused(&session, &state, id, message))
        .await?;
    state
        .store
        .update_target(
            session.scope(),
            id,
            &fields,
            &session.actor(),
            state.clock.now_millis(),
        )
        .await?;
    let name = target_name(&session, &state, id).await?;
    answer(
        &session,
        &state,
        id,
        Ok(format!("Suivi enregistré pour {name}.")),
    )
    .await
}

/// An exchange logged: `people` repeats (one checkbox per contact).
#[derive(serde::Deserialize)]
struct NewInteractionForm {
    #[serde(default)]
    kind: String,
    #[serde(default)]
    occurred_on: String,
    #[serde(default)]
    summary: String,
    #[serde(default)]
    outcome: String,
    #[serde(default)]
    people: Vec<String>,
}

impl Validate for NewInteractionForm {
    type Output = NewInteraction;

    fn validate(&self) -> Result<NewInteraction, String> {
        let edit = InteractionForm::checked(self.kind.trim(), &self.occurred_on, &self.summary)?;
        Ok(NewInteraction {
            kind: edit.kind,
            occurred_on: edit.occurred_on,
            summary: edit.summary,
            outcome: self.outcome.trim().into(),
            people: forms::ids(&self.people),
        })
    }
}

async fn log_interaction(
    session: Session,
    State(state): State<AppState>,
    Path(id): Path<i64>,
    form: RepeatedForm<NewInteractionForm>,
) -> WebResult<Response> {
    session.require_write()?;
    let form = form.read()?;
    let new = forms::or_answer(form.validate(), |message| {
        refused(&session, &state, id, message)
    })
    .await?;
    state
        .store
        .record_interaction(
            session.scope(),
            id,
            &new,
            &session.actor(),
            state.clock.now_millis(),
        )
        .await?;
    let name = target_name(&session, &state, id).await?;
    answer(
        &session,
        &state,
        id,
        Ok(format!("Échange noté pour {name}.")),
    )
    .await
}

async fn add_contact(
    session: Session,
    State(state): State<AppState>,
    Path(id): Path<i64>,
    form: Validated<ContactForm>,
) -> WebResult<Response> {
    session.require_write()?;
    let target = state
        .store
        .target(session.scope(), id)
        .await?
        .ok_or(WebError::NotFound)?;
    let person = NewPerson {
        organisation_id: Some(target.organisation_id),
        ..form
            .or_answer(|message| refused(&session, &state, id, message))
            .await?
    };
    state
        .store
        .create_person(
            session.scope(),
            &person,
            &session.actor(),
            state.clock.now_millis(),
        )
        .await?;
    let notice = format!("Contact {} ajouté à {}.", person.full_name, target.name);
    answer(&session, &state, id, Ok(notice)).await
}

#[derive(serde::Deserialize)]
struct NeedForm {
    description: String,
}

impl Validate for NeedForm {
    type Output = String;

    fn validate(&self) -> Result<String, String> {
        let description = self.description.trim();
        if description.is_empty() {
            return Err("Décrivez le besoin local.".into());
        }
        Ok(description.into())
    }
}

async fn add_need(
    session: Session,
    State(state): State<AppState>,
    Path(id): Path<i64>,
    form: Validated<NeedForm>,
) -> WebResult<Response> {
    session.require_write()?;
    let description = form
        .or_answer(|message| refused(&session, &state, id, message))
        .await?;
    state
        .store
        .add_local_need(
            session.scope(),
            id,
            &description,
            &session.actor(),
            state.clock.now_millis(),
        )
        .await?;
    let name = target_name(&session, &state, id).await?;
    answer(
        &session,
        &state,
        id,
        Ok(format!("Besoin local signalé pour {name}.")),
    )
    .await
}

/// A membership's date, themes (one a line) and representatives (one checkbox per contact, repeated).
#[derive(serde::Deserialize)]
struct MembershipForm {
    #[serde(default)]
    joined_on: String,
    #[serde(default)]
    themes: String,
    #[serde(default)]
    representatives: Vec<String>,
}

/// What a membership form asks for.
struct MembershipAsked {
    joined_on: chrono::NaiveDate,
    themes: String,
    representatives: Vec<i64>,
}

impl Validate for MembershipForm {
    type Output = MembershipAsked;

    fn validate(&self) -> Result<MembershipAsked, String> {
        let joined_on = crate::domain::parse_date(self.joined_on.trim())
            .ok_or("Indiquez la date d'adhésion (JJ/MM/AAAA).")?;
        let themes = self
            .themes
            .trim()
            .lines()
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .collect::<Vec<_>>()
            .join("\n");
        Ok(MembershipAsked {
            joined_on,
            themes,
            representatives: forms::ids(&self.representatives),
        })
    }
}

async fn update_membership(
    session: Session,
    State(state): State<AppState>,
    Path(id): Path<i64>,
    form: RepeatedForm<MembershipForm>,
) -> WebResult<Response> {
    session.require_write()?;
    let target = state
        .store
        .target(session.scope(), id)
        .await?
        .ok_or(WebError::NotFound)?;
    let form = form.read()?;
    let asked = forms::or_answer(form.validate(), |message| {
        refused(&session, &state, id, message)
    })
    .await?;
    state
        .store
        .update_membership(
            session.scope(),
            target.organisation_id,
            asked.joined_on,
            &asked.themes,
            &asked.representatives,
            &session.actor(),
            state.clock.now_millis(),
        )
        .await?;
    answer(
        &session,
        &state,
        id,
        Ok(format!("Adhésion de {} enregistrée.", target.name)),
    )
    .await
}

/// The name a success message gives the target.
async fn target_name(session: &Session, state: &AppState, id: i64) -> WebResult<String> {
    Ok(state
        .store
        .target(session.scope(), id)
        .await?
        .ok_or(WebError::NotFound)?
        .name)
}

/// Deletes a target created by mistake (the page asked first, stating what goes); back to the list.
async fn delete_target(
    session: Session,
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> WebResult<Response> {
    session.require_write()?;
    match state
        .store
        .delete_target(
            session.scope(),
            id,
            &session.actor(),
            state.clock.now_millis(),
        )
        .await
    {
        Ok(name) => Ok(flash::redirect_with_notice(
            "/targets",
            &format!("Cible {name} supprimée ; ses contacts restent dans l'annuaire."),
        )),
        Err(crate::store::StoreError::Conflict(refusal)) => {
            answer(&session, &state, id, Err(refusal)).await
        }
        Err(other) => Err(other.into()),
    }
}

#[derive(serde::Deserialize)]
struct InteractionForm {
    kind: String,
    occurred_on: String,
    summary: String,
    #[serde(default)]
    outcome: String,
}

impl InteractionForm {
    /// Kind, date and summary, as logging and correcting an exchange both check them.
    fn checked(kind: &str, occurred_on: &str, summary: &str) -> Result<InteractionEdit, String> {
        let kind = InteractionKind::parse(kind).ok_or("Choisissez le type d'échange.")?;
        let occurred_on = crate::domain::parse_date(occurred_on.trim())
            .ok_or("Indiquez la date de l'échange (JJ/MM/AAAA).")?;
        let summary = summary.trim().to_string();
        if summary.is_empty() {
            return Err("Résumez l'échange en une phrase au moins.".into());
        }
        Ok(InteractionEdit {
            kind: kind.as_str().into(),
            occurred_on,
            summary,
            outcome: String::new(),
        })
    }
}

impl Validate for InteractionForm {
    type Output = InteractionEdit;

    fn validate(&self) -> Result<InteractionEdit, String> {
        Ok(InteractionEdit {
            outcome: self.outcome.trim().into(),
            ..InteractionForm::checked(&self.kind, &self.occurred_on, &self.summary)?
        })
    }
}

/// Corrects a follow-up logged with a wrong date, kind or wording.
async fn edit_interaction(
    session: Session,
    State(state): State<AppState>,
    Path((id, interaction)): Path<(i64, i64)>,
    form: Validated<InteractionForm>,
) -> WebResult<Response> {
    session.require_write()?;
    let edit = form
        .or_answer(|message| refused(&session, &state, id, message))
        .await?;
    let target = state
        .store
        .update_interaction(
            session.scope(),
            interaction,
            &edit,
            &session.actor(),
            state.clock.now_millis(),
        )
        .await?;
    answer(
        &session,
        &state,
        target.id,
        Ok(format!(
            "Échange du {} modifié pour {}.",
            crate::french::french_date(Some(edit.occurred_on)),
            target.name
        )),
    )
    .await
}

async fn delete_interaction(
    session: Session,
    State(state): State<AppState>,
    Path((_id, interaction)): Path<(i64, i64)>,
) -> WebResult<Response> {
    session.require_write()?;
    let target = state
        .store
        .delete_interaction(
            session.scope(),
            interaction,
            &session.actor(),
            state.clock.now_millis(),
        )
        .await?;
    Ok(flash::redirect_with_notice(
        &format!("/targets/{}", target.id),
        &format!("Échange supprimé pour {}.", target.name),
    ))
}

/// Takes a contact off the collectivity (they left the town hall); they stay in the directory.
async fn detach_contact(
    session: Session,
    State(state): State<AppState>,
    Path((id, person)): Path<(i64, i64)>,
) -> WebResult<Response> {
    session.require_write()?;
    let target = state
        .store
        .target(session.scope(), id)
        .await?
        .ok_or(WebError::NotFound)?;
    let contact = state
        .store
        .person(session.scope(), person)
        .await?
        .ok_or(WebError::NotFound)?;
    if contact.organisation_id != Some(target.organisation_id) {
        return Err(WebError::NotFound);
    }
    state
        .store
        .detach_person(
            session.scope(),
            person,
            &session.actor(),
            state.clock.now_millis(),
        )
        .await?;
    answer(
        &session,
        &state,
        id,
        Ok(format!(
            "{} n'est plus un contact de {} ; la fiche reste dans l'annuaire.",
            contact.full_name, target.name
        )),
    )
    .await
}
