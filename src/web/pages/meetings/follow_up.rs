//! After a meeting: who was there, the minutes (saved, sent once to the attendees), the good practices and
//! blocking points flagged, relayed to the member associations and offered to the newsletter.

use axum::extract::{Form, Path, State};
use axum::response::Response;

use crate::mail::meetings::{ASSOCIATIONS, minutes_message};
use crate::store::meeting_attendees::Audience;
use crate::store::subscriptions::ContactSelection;
use crate::web::AppState;
use crate::web::auth::Session;
use crate::web::error::{WebError, WebResult};
use crate::web::flash::redirect_with_notice;
use crate::web::forms::{self, RepeatedForm};

use super::back;

/// Who was there: one `present` field per person checked.
#[derive(serde::Deserialize)]
pub(super) struct AttendanceForm {
    #[serde(default)]
    present: Vec<String>,
}

pub(super) async fn attendance(
    session: Session,
    State(state): State<AppState>,
    Path(id): Path<i64>,
    form: RepeatedForm<AttendanceForm>,
) -> WebResult<Response> {
    session.require_staff()?;
    let present =
        forms::ids_or_refuse(&form.read()?.present, "la présence").map_err(WebError::BadRequest)?;
    state.store.record_attendance(id, &present).await?;
    Ok(back(
        id,
        &format!(
            "Présence enregistrée : {}.",
            crate::french::count(present.len(), "personne présente", "personnes présentes")
        ),
    ))
}

#[derive(serde::Deserialize)]
pub(super) struct MinutesForm {
    minutes: String,
    #[serde(default)]
    send: String,
}

/// Saves the minutes; with `send=oui`, sends them to the attendees (once).
pub(super) async fn minutes(
    session: Session,
    State(state): State<AppState>,
    Path(id): Path<i64>,
    Form(form): Form<MinutesForm>,
) -> WebResult<Response> {
    session.require_staff()?;
    let now = state.clock.now_millis();
    state.store.save_minutes(id, &form.minutes, now).await?;
    if form.send == "oui" {
        if form.minutes.trim().is_empty() {
            return Err(WebError::BadRequest(
                "Le compte-rendu est vide : écrivez-le avant de l'envoyer.".into(),
            ));
        }
        let meeting = state.store.meeting(id).await?.ok_or(WebError::NotFound)?;
        let message = minutes_message(&state.store, &state.settings, &meeting, false)
            .await
            .map_err(|e| WebError::Internal(e.to_string()))?;
        state
            .store
            .dispatch_meeting_mail(id, "minutes", 0, false, Audience::All, &message, now)
            .await?;
    }
    Ok(back(
        id,
        if form.send == "oui" {
            "Compte-rendu enregistré et envoyé aux personnes invitées."
        } else {
            "Compte-rendu enregistré."
        },
    ))
}

#[derive(serde::Deserialize)]
pub(super) struct FlagForm {
    kind: String,
    title: String,
    #[serde(default)]
    body: String,
}

pub(super) async fn add_flag(
    session: Session,
    State(state): State<AppState>,
    Path(id): Path<i64>,
    Form(form): Form<FlagForm>,
) -> WebResult<Response> {
    session.require_staff()?;
    if !["good_practice", "blocking_point"].contains(&form.kind.as_str()) {
        return Err(WebError::BadRequest(
            "Choisissez « bonne pratique » ou « point de blocage ».".into(),
        ));
    }
    if form.title.trim().is_empty() {
        return Err(WebError::BadRequest("Donnez un titre au point.".into()));
    }
    state
        .store
        .add_minutes_item(
            id,
            &form.kind,
            form.title.trim(),
            form.body.trim(),
            state.clock.now_millis(),
        )
        .await?;
    Ok(back(
        id,
        &format!("Point « {} » relevé.", form.title.trim()),
    ))
}

/// Relays the flagged items to the member associations' list, once. The list first takes in the
/// contacts of member associations (legitimate interest; whoever left it is not added again).
pub(super) async fn relay(
    session: Session,
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> WebResult<Response> {
    session.require_staff()?;
    let now = state.clock.now_millis();
    let meeting = state.store.meeting(id).await?.ok_or(WebError::NotFound)?;
    if state.store.minutes_items(id).await?.is_empty() {
        return Err(WebError::BadRequest(
            "Aucune bonne pratique ni aucun point de blocage à relayer.".into(),
        ));
    }
    let list = state
        .store
        .mailing_list(ASSOCIATIONS)
        .await?
        .ok_or(WebError::NotFound)?;
    state
        .store
        .subscribe_contacts_as(&list, ContactSelection::Associations, &session.actor(), now)
        .await?;
    let recipients = state.store.list_recipients(ASSOCIATIONS).await?;
    let message = minutes_message(&state.store, &state.settings, &meeting, true)
        .await
        .map_err(|e| WebError::Internal(e.to_string()))?;
    state
        .store
        .dispatch_meeting_mail(
            id,
            "relay",
            0,
            false,
            Audience::Listed(recipients),
            &message,
            now,
        )
        .await?;
    Ok(back(
        id,
        "Bonnes pratiques et points de blocage relayés aux associations membres.",
    ))
}

pub(super) async fn push_to_newsletter(
    session: Session,
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> WebResult<Response> {
    session.require_staff()?;
    state
        .store
        .push_minutes_items_to_newsletter(id, Some(session.user.id), state.clock.now_millis())
        .await?;
    Ok(redirect_with_notice(
        "/lettre",
        "Bonnes pratiques et points de blocage proposés pour la prochaine lettre.",
    ))
}
