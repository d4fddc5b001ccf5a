//! A meeting's agenda before it goes out: items added, edited or removed (an update once the invitation
//! went out), speakers, and the agenda marked ready.

use axum::extract::{Form, Path, State};
use axum::response::Response;

use crate::store::meeting_agenda::NewAgendaItem;
use crate::store::meetings::Meeting;
use crate::web::AppState;
use crate::web::auth::Session;
use crate::web::error::{WebError, WebResult};
use crate::web::forms::{self, RepeatedForm, Validate};

use super::{back, meeting_label, meeting_or_404};

/// An agenda item as the form gives it: one `resource` field per linked sheet.
#[derive(serde::Deserialize)]
pub(super) struct AgendaItemForm {
    #[serde(default)]
    title: String,
    #[serde(default)]
    presenter: String,
    #[serde(default)]
    duration_minutes: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    resource: Vec<String>,
}

impl Validate for AgendaItemForm {
    type Output = NewAgendaItem;

    fn validate(&self) -> Result<NewAgendaItem, String> {
        let title = self.title.trim().to_string();
        if title.is_empty() || title.chars().count() > 300 {
            return Err("Le point a un titre (300 caractères au plus).".into());
        }
        let duration = self.duration_minutes.trim();
        let duration_minutes: i64 = if duration.is_empty() {
            0
        } else {
            duration
                .parse()
                .ok()
                .filter(|d| (0..=240).contains(d))
                .ok_or("La durée est un nombre de minutes (0 à 240).")?
        };
        Ok(NewAgendaItem {
            title,
            presenter: self.presenter.trim().into(),
            duration_minutes,
            description: self.description.trim().into(),
            resources: forms::ids_or_refuse(&self.resource, "la fiche")?,
        })
    }
}

/// The agenda item a form asks for; refused as a bad request.
fn agenda_item_of(form: RepeatedForm<AgendaItemForm>) -> WebResult<NewAgendaItem> {
    form.read()?.validate().map_err(WebError::BadRequest)
}

/// "…" or, once the invitation went out, "… : les personnes invitées reçoivent une mise à jour."
fn saying_update(meeting: &Meeting, said: String) -> String {
    if meeting.sent_sequence.is_some() {
        format!("{said} Les personnes invitées reçoivent une mise à jour.")
    } else {
        said
    }
}

pub(super) async fn add_item(
    session: Session,
    State(state): State<AppState>,
    Path(id): Path<i64>,
    form: RepeatedForm<AgendaItemForm>,
) -> WebResult<Response> {
    session.require_staff()?;
    let meeting = meeting_or_404(&state, id).await?;
    let item = agenda_item_of(form)?;
    state
        .store
        .add_agenda_item(
            id,
            &item,
            &session.actor(),
            &meeting_label(&meeting),
            state.clock.now_millis(),
        )
        .await?;
    state.store.wake_schedules();
    Ok(back(
        id,
        &saying_update(
            &meeting,
            format!("Point « {} » ajouté à l'ordre du jour.", item.title),
        ),
    ))
}

pub(super) async fn edit_item(
    session: Session,
    State(state): State<AppState>,
    Path((id, item_id)): Path<(i64, i64)>,
    form: RepeatedForm<AgendaItemForm>,
) -> WebResult<Response> {
    session.require_staff()?;
    let meeting = meeting_or_404(&state, id).await?;
    let item = agenda_item_of(form)?;
    let changed = state
        .store
        .update_agenda_item(
            id,
            item_id,
            &item,
            &session.actor(),
            &meeting_label(&meeting),
            state.clock.now_millis(),
        )
        .await?;
    state.store.wake_schedules();
    let notice = match changed {
        None => "Rien n'a changé.".to_string(),
        Some(_) => saying_update(&meeting, format!("Point « {} » enregistré.", item.title)),
    };
    Ok(back(id, &notice))
}

pub(super) async fn remove_item(
    session: Session,
    State(state): State<AppState>,
    Path((id, item)): Path<(i64, i64)>,
) -> WebResult<Response> {
    session.require_staff()?;
    let meeting = meeting_or_404(&state, id).await?;
    let removed = state
        .store
        .remove_agenda_item(
            id,
            item,
            &session.actor(),
            &meeting_label(&meeting),
            state.clock.now_millis(),
        )
        .await?
        .ok_or(WebError::NotFound)?;
    state.store.wake_schedules();
    Ok(back(
        id,
        &saying_update(
            &meeting,
            format!("« {removed} » est retiré de l'ordre du jour."),
        ),
    ))
}

#[derive(serde::Deserialize)]
pub(super) struct SpeakerForm {
    email: String,
    name: String,
    #[serde(default)]
    organisation: String,
}

pub(super) async fn add_speaker(
    session: Session,
    State(state): State<AppState>,
    Path(id): Path<i64>,
    Form(form): Form<SpeakerForm>,
) -> WebResult<Response> {
    session.require_staff()?;
    let address = crate::domain::EmailAddress::parse(&form.email).map_err(WebError::BadRequest)?;
    state
        .store
        .add_speaker(
            id,
            address.as_str(),
            form.name.trim(),
            form.organisation.trim(),
            state.clock.now_millis(),
        )
        .await?;
    // Added after the invitation went out, the speaker gets it now.
    state.store.wake_schedules();
    Ok(back(
        id,
        &format!(
            "Intervention ajoutée : {} reçoit l'invitation avec l'ordre du jour, ou dès maintenant s'il est déjà parti.",
            form.name.trim()
        ),
    ))
}

#[derive(serde::Deserialize)]
pub(super) struct ReadyForm {
    ready: String,
}

pub(super) async fn set_ready(
    session: Session,
    State(state): State<AppState>,
    Path(id): Path<i64>,
    Form(form): Form<ReadyForm>,
) -> WebResult<Response> {
    session.require_staff()?;
    state
        .store
        .set_agenda_ready(id, form.ready == "oui", state.clock.now_millis())
        .await?;
    state.store.wake_schedules();
    Ok(back(
        id,
        if form.ready == "oui" {
            "Ordre du jour marqué prêt : il partira avec l'invitation à la date prévue."
        } else {
            "Ordre du jour repassé en préparation : rien ne partira tant qu'il n'est pas prêt."
        },
    ))
}
