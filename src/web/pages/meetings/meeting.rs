//! One meeting's page (agenda, speakers, answers, what was sent, survey themes to take up, minutes), and
//! the meeting moved, given a theme or cancelled on its own.

use askama::Template;
use axum::extract::{Form, Path, State};
use axum::response::{Html, Response};
use chrono::Duration;

use crate::french::{french_day, french_span, paris_local};
use crate::mail::meetings::ASSOCIATIONS;
use crate::store::meeting_agenda::AgendaItem;
use crate::store::meeting_attendees::{Attendee, Dispatch};
use crate::store::meetings::{Meeting, MeetingChange};
use crate::store::minutes::MinutesItem;
use crate::store::resources::Resource;
use crate::web::AppState;
use crate::web::auth::Session;
use crate::web::error::{WebError, WebResult};
use crate::web::view::Chrome;

use super::{at, back, meeting_label, meeting_or_404, status_of, updates_sent};

#[derive(Template)]
#[template(path = "meeting.html", config = "src/web/askama.toml")]
struct MeetingPage {
    chrome: Chrome,
    meeting: Meeting,
    title: String,
    when: String,
    status: String,
    start_local: String,
    duration_minutes: i64,
    video_url: String,
    items: Vec<(AgendaItem, Vec<Resource>)>,
    resources: Vec<Resource>,
    attendees: Vec<Attendee>,
    dispatches: Vec<Dispatch>,
    flags: Vec<MinutesItem>,
    past: bool,
    /// The confirmation the cancel button asks, stating who is told.
    cancel_confirm: String,
    /// Whether the invitation went out: a removed item then sends an update.
    sent: bool,
    associations: usize,
    /// Themes the survey asks for that no meeting took up: (label, mean interest, who could speak).
    suggestions: Vec<(String, f64, String)>,
    /// The minutes as read (Markdown rendered, raw HTML shown as text): the meeting's archive.
    minutes_html: String,
    /// Marked public: partner networks that follow the club receive it.
    public: bool,
    /// Participants from partner networks (their Join).
    remote: Vec<crate::store::federation_objects::RemoteParticipant>,
}

impl MeetingPage {
    pub fn response_label(&self, response: &str) -> &'static str {
        match response {
            "accepted" => "vient",
            "declined" => "ne vient pas",
            "tentative" => "peut-être",
            _ => "pas de réponse",
        }
    }

    pub fn linked_to(&self, linked: &[Resource], id: &i64) -> bool {
        linked.iter().any(|r| r.id == *id)
    }

    pub fn remove_confirm(&self, title: &str) -> String {
        if self.sent {
            format!(
                "Retirer « {title} » de l'ordre du jour ? Les personnes invitées recevront une mise à jour."
            )
        } else {
            format!("Retirer « {title} » de l'ordre du jour ?")
        }
    }

    pub fn step_label(&self, step: &str) -> &'static str {
        match step {
            "agenda" => "ordre du jour et invitation",
            "update" => "mise à jour de l'invitation",
            "invitation" => "invitation d'une personne ajoutée après l'envoi",
            "reminder_skipped" => {
                "pas de rappel la veille : la réunion était à moins de 12 heures quand il aurait dû partir"
            }
            "cancel" => "annulation",
            "reminder" => "rappel la veille",
            "staff_reminder" => "rappel à l'équipe : ordre du jour à préparer",
            "late_notice" => "avis à l'équipe : envoi en retard",
            "minutes" => "compte-rendu",
            "relay" => "relais aux associations",
            _ => "envoi",
        }
    }

    /// What an update told invitees had changed ("l'horaire passe de … ; …"); empty for other dispatches.
    pub fn what_changed(&self, dispatch: &Dispatch) -> String {
        serde_json::from_str::<serde_json::Value>(&dispatch.template_data)
            .ok()
            .and_then(|data| {
                data["changes"].as_array().map(|changes| {
                    changes
                        .iter()
                        .filter_map(|c| c.as_str())
                        .collect::<Vec<_>>()
                        .join(" ; ")
                })
            })
            .filter(|_| dispatch.step == "update")
            .unwrap_or_default()
    }

    pub fn when(&self, millis: &i64) -> String {
        crate::web::view::french_datetime(*millis)
    }
}

pub(super) async fn show(
    session: Session,
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> WebResult<Html<String>> {
    session.require_staff()?;
    let meeting = state.store.meeting(id).await?.ok_or(WebError::NotFound)?;
    let series = state
        .store
        .series(meeting.series_id)
        .await?
        .ok_or(WebError::NotFound)?;
    let agenda = state.store.agenda(id).await?;
    let linked = state.store.agenda_resources(id).await?;
    let items = agenda
        .into_iter()
        .map(|item| {
            let resources = linked
                .iter()
                .filter(|(item_id, _)| *item_id == item.id)
                .map(|(_, r)| r.clone())
                .collect();
            (item, resources)
        })
        .collect();
    let start = at(meeting.starts_at).with_timezone(&crate::clock::PARIS);
    let dispatches = state.store.dispatches(id).await?;
    let invited = state.store.invited_count(id).await?;
    let day = french_day(at(meeting.starts_at));
    let cancel_confirm = if meeting.sent_sequence.is_some() {
        format!(
            "Annuler la réunion du {day} ? {} recevr{} une annulation. Cela ne peut pas être défait.",
            if invited == 1 {
                "La personne invitée".to_string()
            } else {
                format!("Les {invited} personnes invitées")
            },
            if invited == 1 { "a" } else { "ont" }
        )
    } else {
        format!(
            "Annuler la réunion du {day} ? Rien n'a encore été envoyé : personne n'est prévenu. Cela ne peut \
             pas être défait."
        )
    };
    let page = MeetingPage {
        chrome: Chrome::new(&session, "meetings", &series.title),
        title: if meeting.theme.is_empty() {
            series.title.clone()
        } else {
            format!("{} : {}", series.title, meeting.theme)
        },
        when: french_span(at(meeting.starts_at), at(meeting.ends_at)),
        status: status_of(
            &meeting,
            state.settings.meetings.agenda_days_before,
            updates_sent(&dispatches),
        ),
        start_local: start.format("%Y-%m-%dT%H:%M").to_string(),
        duration_minutes: (meeting.ends_at - meeting.starts_at) / 60_000,
        video_url: series.video_url,
        items,
        resources: state.store.resources().await?,
        attendees: state.store.attendees(id).await?,
        dispatches,
        flags: state.store.minutes_items(id).await?,
        past: meeting.ends_at <= state.clock.now_millis(),
        cancel_confirm,
        sent: meeting.sent_sequence.is_some(),
        associations: state.store.list_recipients(ASSOCIATIONS).await?.len(),
        suggestions: suggestions(&state).await?,
        minutes_html: crate::mail::newsletter::markdown_html(&meeting.minutes),
        public: state.store.is_public("event", id).await?.unwrap_or(false),
        remote: state.store.remote_participants(id).await?,
        meeting,
    };
    Ok(Html(page.render()?))
}

/// The three themes most wanted in the survey and not yet taken up by a meeting.
async fn suggestions(state: &AppState) -> WebResult<Vec<(String, f64, String)>> {
    let (_, results, _) = super::super::survey::survey_results(state).await?;
    Ok(crate::domain::survey::wanted_not_covered(&results)
        .into_iter()
        .take(3)
        .map(|r| {
            let speakers = r
                .speakers
                .iter()
                .map(|(name, collectivity, _)| format!("{name} ({collectivity})"))
                .collect::<Vec<_>>()
                .join(", ");
            (r.label.clone(), r.mean_interest, speakers)
        })
        .collect())
}

#[derive(serde::Deserialize)]
pub(super) struct ChangeForm {
    start: String,
    duration_minutes: String,
    #[serde(default)]
    theme: String,
}

pub(super) async fn change(
    session: Session,
    State(state): State<AppState>,
    Path(id): Path<i64>,
    Form(form): Form<ChangeForm>,
) -> WebResult<Response> {
    session.require_staff()?;
    let meeting = meeting_or_404(&state, id).await?;
    let starts = paris_local(form.start.trim()).ok_or_else(|| {
        WebError::BadRequest(format!(
            "« {} » n'est pas une date et une heure (AAAA-MM-JJTHH:MM).",
            form.start
        ))
    })?;
    let duration: i64 = form.duration_minutes.trim().parse().unwrap_or(0);
    if !(15..=600).contains(&duration) {
        return Err(WebError::BadRequest(
            "La durée doit être comprise entre 15 et 600 minutes.".into(),
        ));
    }
    let change = MeetingChange {
        starts_at: starts.timestamp_millis(),
        ends_at: (starts + Duration::minutes(duration)).timestamp_millis(),
        theme: form.theme.trim().to_string(),
    };
    let changed = state
        .store
        .change_meeting_as(
            id,
            &change,
            &session.actor(),
            &meeting_label(&meeting),
            state.clock.now_millis(),
        )
        .await?;
    state.store.wake_schedules();
    let notice = match (changed, meeting.sent_sequence.is_some()) {
        (false, _) => "Rien n'a changé.",
        (true, true) => "Réunion enregistrée : les personnes invitées reçoivent une mise à jour.",
        (true, false) => "Réunion enregistrée.",
    };
    Ok(back(id, notice))
}

pub(super) async fn cancel(
    session: Session,
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> WebResult<Response> {
    session.require_staff()?;
    let meeting = meeting_or_404(&state, id).await?;
    let told = if meeting.sent_sequence.is_some() {
        state.store.invited_count(id).await? as usize
    } else {
        0
    };
    let label = meeting_label(&meeting);
    state
        .store
        .cancel_meeting(id, &session.actor(), &label, told, state.clock.now_millis())
        .await?;
    state.store.wake_schedules();
    let notice = if told > 0 {
        format!(
            "La {label} est annulée : {} l'annulation.",
            crate::french::count(
                told as usize,
                "personne invitée reçoit",
                "personnes invitées reçoivent"
            )
        )
    } else {
        format!("La {label} est annulée.")
    };
    Ok(back(id, &notice))
}
