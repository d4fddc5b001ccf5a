//! "Réunions": the meeting series (a recurrence rule, a video link, who is invited), their occurrences — each
//! moved, given a theme or cancelled on its own — with the agenda (items, presenter, duration, linked
//! resources), speakers, the answers received, what was sent and when the agenda will go; after the meeting
//! the attendance, the minutes and the items flagged for the member associations and the newsletter. The
//! resource library lives here too. Staff and admins only. Mails go out through
//! [`crate::mail::meetings::Dispatcher`], woken by every change.

use askama::Template;
use axum::Router;
use axum::extract::{Form, Path, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use chrono::{DateTime, Duration, Utc};

use crate::domain::recurrence;
use crate::mail::meetings::{ASSOCIATIONS, Dispatcher, french_span, occurrences, paris_local};
use crate::store::meeting_attendees::{Attendee, Audience, Dispatch};
use crate::store::meetings::{
    AgendaItem, Meeting, MeetingChange, NewAgendaItem, NewSeries, Resource,
};
use crate::store::minutes::MinutesItem;
use crate::store::subscriptions::ContactSelection;
use crate::web::AppState;
use crate::web::auth::Session;
use crate::web::error::{WebError, WebResult};
use crate::web::forms::FormPairs;
use crate::web::view::Chrome;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/reunions", get(overview))
        .route("/reunions/series", post(create_series))
        .route("/ressources", post(add_resource))
        .route("/reunions/{id}", get(show).post(change))
        .route("/reunions/{id}/annuler", post(cancel))
        .route("/reunions/{id}/points", post(add_item))
        .route("/reunions/{id}/points/{item}/supprimer", post(remove_item))
        .route("/reunions/{id}/intervenants", post(add_speaker))
        .route("/reunions/{id}/pret", post(set_ready))
        .route("/reunions/{id}/presence", post(attendance))
        .route("/reunions/{id}/compte-rendu", post(minutes))
        .route("/reunions/{id}/points-forts", post(add_flag))
        .route("/reunions/{id}/relais", post(relay))
        .route("/reunions/{id}/lettre", post(push_to_newsletter))
}

fn at(millis: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(millis).unwrap_or_default()
}

fn dispatcher(state: &AppState) -> Dispatcher {
    Dispatcher {
        store: state.store.clone(),
        settings: state.settings.clone(),
        clock: state.clock.clone(),
    }
}

fn back(id: i64) -> Response {
    Redirect::to(&format!("/reunions/{id}")).into_response()
}

/// A meeting in a list.
pub struct MeetingLine {
    pub id: i64,
    pub when: String,
    pub theme: String,
    pub status: String,
}

fn status_of(meeting: &Meeting, agenda_days: i64) -> String {
    if meeting.state == "cancelled" {
        return "annulée".into();
    }
    match meeting.sent_sequence {
        Some(_) => "ordre du jour envoyé".into(),
        None if meeting.agenda_ready => format!(
            "prêt, envoi prévu le {}",
            crate::mail::newsletter_schedule::french_moment(
                at(meeting.starts_at) - Duration::days(agenda_days)
            )
        ),
        None => "ordre du jour en préparation".into(),
    }
}

fn line(meeting: &Meeting, agenda_days: i64) -> MeetingLine {
    MeetingLine {
        id: meeting.id,
        when: french_span(at(meeting.starts_at), at(meeting.ends_at)),
        theme: meeting.theme.clone(),
        status: status_of(meeting, agenda_days),
    }
}

/// A series as staff read it: "tous les deux mois, le premier mardi, 14:00–16:00".
struct SeriesLine {
    title: String,
    cadence: String,
    since: String,
    video_url: String,
}

impl SeriesLine {
    fn of(series: &crate::store::meetings::Series) -> SeriesLine {
        let hours = recurrence::hours(&series.first_start, series.duration_minutes)
            .unwrap_or_else(|| format!("{} min", series.duration_minutes));
        let since = chrono::NaiveDate::parse_from_str(
            series.first_start.get(..10).unwrap_or_default(),
            "%Y-%m-%d",
        )
        .ok();
        SeriesLine {
            title: series.title.clone(),
            cadence: format!("{}, {hours}", recurrence::describe(&series.rrule)),
            since: crate::web::view::french_date(since),
            video_url: series.video_url.clone(),
        }
    }
}

#[derive(Template)]
#[template(path = "meetings.html", config = "src/web/askama.toml")]
struct OverviewPage {
    chrome: Chrome,
    series: Vec<SeriesLine>,
    cadences: Vec<(&'static str, &'static str)>,
    ordinals: Vec<(i8, &'static str)>,
    weekdays: Vec<(u8, &'static str)>,
    upcoming: Vec<MeetingLine>,
    past: Vec<MeetingLine>,
    resources: Vec<Resource>,
}

async fn overview(session: Session, State(state): State<AppState>) -> WebResult<Html<String>> {
    session.require_staff()?;
    let now = state.clock.now_millis();
    let days = state.settings.meetings.agenda_days_before;
    let page = OverviewPage {
        chrome: Chrome::new(&session, "meetings", "Réunions"),
        series: state
            .store
            .all_series()
            .await?
            .iter()
            .map(SeriesLine::of)
            .collect(),
        cadences: recurrence::Cadence::ALL
            .iter()
            .map(|c| (c.key(), c.label()))
            .collect(),
        ordinals: recurrence::ORDINALS.to_vec(),
        weekdays: recurrence::weekday_names().collect(),
        upcoming: state
            .store
            .meetings_from(now, 12)
            .await?
            .iter()
            .map(|m| line(m, days))
            .collect(),
        past: state
            .store
            .past_meetings(now, 12)
            .await?
            .iter()
            .map(|m| line(m, days))
            .collect(),
        resources: state.store.resources().await?,
    };
    Ok(Html(page.render()?))
}

#[derive(serde::Deserialize)]
struct SeriesForm {
    title: String,
    /// "tous les deux mois" and "le premier mardi", as chosen in the form…
    #[serde(default)]
    cadence: String,
    #[serde(default)]
    ordinal: String,
    #[serde(default)]
    weekday: String,
    /// …or an iCalendar rule written out (the form's advanced field, and the older form).
    #[serde(default)]
    rrule: String,
    first_start: String,
    duration_minutes: String,
    #[serde(default)]
    video_url: String,
    #[serde(default)]
    invite_members: String,
    #[serde(default)]
    invite_staff: String,
}

async fn create_series(
    session: Session,
    State(state): State<AppState>,
    Form(form): Form<SeriesForm>,
) -> WebResult<Response> {
    session.require_staff()?;
    let mut errors = Vec::new();
    let title = form.title.trim().to_string();
    if title.is_empty() {
        errors.push("Donnez un titre à la série.".to_string());
    }
    let duration: i64 = form.duration_minutes.trim().parse().unwrap_or(0);
    if !(15..=600).contains(&duration) {
        errors.push("La durée doit être comprise entre 15 et 600 minutes.".to_string());
    }
    let video_url = form.video_url.trim().to_string();
    if !video_url.is_empty() && !video_url.starts_with("https://") {
        errors.push("Le lien de visioconférence doit commencer par https://.".to_string());
    }
    let written = form.rrule.trim().trim_start_matches("RRULE:").to_string();
    let rrule = if !written.is_empty() {
        written
    } else {
        let cadence = recurrence::Cadence::parse(form.cadence.trim());
        let ordinal = form.ordinal.trim().parse::<i8>().ok();
        let weekday = form.weekday.trim().parse::<u8>().ok().filter(|d| *d < 7);
        match (cadence, ordinal, weekday) {
            (Some(cadence), Some(ordinal), Some(weekday)) => {
                recurrence::rule(cadence, recurrence::Day { ordinal, weekday })
            }
            _ => {
                errors.push("Choisissez la fréquence et le jour des réunions.".to_string());
                String::new()
            }
        }
    };
    let new = NewSeries {
        title,
        rrule,
        first_start: form.first_start.trim().to_string(),
        duration_minutes: duration,
        video_url,
        invite_members: form.invite_members == "oui",
        invite_staff: form.invite_staff == "oui",
    };
    // The rule and the first date must give occurrences: checked the way the dispatcher reads them.
    let probe = crate::store::meetings::Series {
        id: 0,
        title: new.title.clone(),
        rrule: new.rrule.clone(),
        first_start: new.first_start.clone(),
        duration_minutes: duration.max(1),
        video_url: String::new(),
        invite_members: true,
        invite_staff: true,
    };
    let now = state.clock.now();
    if !new.rrule.is_empty() {
        match occurrences(&probe, now, now + Duration::days(400)) {
            Ok(found) if found.is_empty() => errors
                .push("Cette règle ne donne aucune réunion dans l'année qui vient.".to_string()),
            Ok(_) => {}
            Err(error) => {
                tracing::info!(%error, rule = %new.rrule, "unreadable recurrence rule");
                errors.push(format!(
                    "La règle de récurrence « {} » n'est pas lisible : choisissez plutôt la fréquence et le \
                     jour dans les listes.",
                    new.rrule
                ));
            }
        }
    }
    if !errors.is_empty() {
        return Err(WebError::BadRequest(errors.join(" ")));
    }
    state
        .store
        .create_series(&new, now.timestamp_millis())
        .await?;
    // The occurrences now, so the page shows them at once.
    dispatcher(&state)
        .run_due()
        .await
        .map_err(|e| WebError::Internal(e.to_string()))?;
    Ok(Redirect::to("/reunions").into_response())
}

#[derive(serde::Deserialize)]
struct ResourceForm {
    title: String,
    url: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    themes: String,
}

async fn add_resource(
    session: Session,
    State(state): State<AppState>,
    Form(form): Form<ResourceForm>,
) -> WebResult<Response> {
    session.require_staff()?;
    let url = form.url.trim();
    if form.title.trim().is_empty() || !(url.starts_with("https://") || url.starts_with("http://"))
    {
        return Err(WebError::BadRequest(
            "Une fiche a un titre et une adresse web (https://…).".into(),
        ));
    }
    state
        .store
        .add_resource(
            form.title.trim(),
            url,
            form.description.trim(),
            form.themes.trim(),
            state.clock.now_millis(),
        )
        .await?;
    Ok(Redirect::to("/reunions#fiches").into_response())
}

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
    associations: usize,
    /// Themes the survey asks for that no meeting took up: (label, mean interest, who could speak).
    suggestions: Vec<(String, f64, String)>,
    /// The minutes as read (Markdown rendered, raw HTML shown as text): the meeting's archive.
    minutes_html: String,
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

    pub fn step_label(&self, step: &str) -> &'static str {
        match step {
            "agenda" => "ordre du jour et invitation",
            "update" => "mise à jour de l'invitation",
            "cancel" => "annulation",
            "reminder" => "rappel la veille",
            "staff_reminder" => "rappel à l'équipe : ordre du jour à préparer",
            "late_notice" => "avis à l'équipe : envoi en retard",
            "minutes" => "compte-rendu",
            "relay" => "relais aux associations",
            _ => "envoi",
        }
    }

    pub fn when(&self, millis: &i64) -> String {
        crate::web::view::french_datetime(*millis)
    }
}

async fn show(
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
    let page = MeetingPage {
        chrome: Chrome::new(&session, "meetings", &series.title),
        title: if meeting.theme.is_empty() {
            series.title.clone()
        } else {
            format!("{} : {}", series.title, meeting.theme)
        },
        when: french_span(at(meeting.starts_at), at(meeting.ends_at)),
        status: status_of(&meeting, state.settings.meetings.agenda_days_before),
        start_local: start.format("%Y-%m-%dT%H:%M").to_string(),
        duration_minutes: (meeting.ends_at - meeting.starts_at) / 60_000,
        video_url: series.video_url,
        items,
        resources: state.store.resources().await?,
        attendees: state.store.attendees(id).await?,
        dispatches: state.store.dispatches(id).await?,
        flags: state.store.minutes_items(id).await?,
        past: meeting.ends_at <= state.clock.now_millis(),
        associations: state.store.list_recipients(ASSOCIATIONS).await?.len(),
        suggestions: suggestions(&state).await?,
        minutes_html: crate::mail::newsletter::markdown_html(&meeting.minutes),
        meeting,
    };
    Ok(Html(page.render()?))
}

/// The three themes most wanted in the survey and not yet taken up by a meeting.
async fn suggestions(state: &AppState) -> WebResult<Vec<(String, f64, String)>> {
    let (_, results, _) = super::survey::survey_results(state).await?;
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
struct ChangeForm {
    start: String,
    duration_minutes: String,
    #[serde(default)]
    theme: String,
}

async fn change(
    session: Session,
    State(state): State<AppState>,
    Path(id): Path<i64>,
    Form(form): Form<ChangeForm>,
) -> WebResult<Response> {
    session.require_staff()?;
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
    state
        .store
        .change_meeting(id, &change, state.clock.now_millis())
        .await?;
    state.store.wake_schedules();
    Ok(back(id))
}

async fn cancel(
    session: Session,
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> WebResult<Response> {
    session.require_staff()?;
    state
        .store
        .cancel_meeting(id, state.clock.now_millis())
        .await?;
    state.store.wake_schedules();
    Ok(back(id))
}

async fn add_item(
    session: Session,
    State(state): State<AppState>,
    Path(id): Path<i64>,
    body: String,
) -> WebResult<Response> {
    session.require_staff()?;
    // Several `resource` fields: the pairs keep them all.
    let form = FormPairs::parse(&body)?;
    let field = |name: &str| form.field(name);
    let title = field("title");
    if title.is_empty() || title.chars().count() > 300 {
        return Err(WebError::BadRequest(
            "Le point a un titre (300 caractères au plus).".into(),
        ));
    }
    let duration = field("duration_minutes");
    let duration_minutes: i64 = if duration.is_empty() {
        0
    } else {
        duration
            .parse()
            .ok()
            .filter(|d| (0..=240).contains(d))
            .ok_or_else(|| {
                WebError::BadRequest("La durée est un nombre de minutes (0 à 240).".into())
            })?
    };
    let resources = form.ids_or_refuse("resource", "la fiche")?;
    let item = NewAgendaItem {
        title,
        presenter: field("presenter"),
        duration_minutes,
        description: field("description"),
        resources,
    };
    state
        .store
        .add_agenda_item(id, &item, state.clock.now_millis())
        .await?;
    state.store.wake_schedules();
    Ok(back(id))
}

async fn remove_item(
    session: Session,
    State(state): State<AppState>,
    Path((id, item)): Path<(i64, i64)>,
) -> WebResult<Response> {
    session.require_staff()?;
    state
        .store
        .remove_agenda_item(id, item, state.clock.now_millis())
        .await?;
    state.store.wake_schedules();
    Ok(back(id))
}

#[derive(serde::Deserialize)]
struct SpeakerForm {
    email: String,
    name: String,
    #[serde(default)]
    organisation: String,
}

async fn add_speaker(
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
    Ok(back(id))
}

#[derive(serde::Deserialize)]
struct ReadyForm {
    ready: String,
}

async fn set_ready(
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
    Ok(back(id))
}

async fn attendance(
    session: Session,
    State(state): State<AppState>,
    Path(id): Path<i64>,
    body: String,
) -> WebResult<Response> {
    session.require_staff()?;
    let present = FormPairs::parse(&body)?.ids_or_refuse("present", "la présence")?;
    state.store.record_attendance(id, &present).await?;
    Ok(back(id))
}

#[derive(serde::Deserialize)]
struct MinutesForm {
    minutes: String,
    #[serde(default)]
    send: String,
}

/// Saves the minutes; with `send=oui`, sends them to the attendees (once).
async fn minutes(
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
        let message = dispatcher(&state)
            .minutes_message(&meeting, false)
            .await
            .map_err(|e| WebError::Internal(e.to_string()))?;
        state
            .store
            .dispatch_meeting_mail(id, "minutes", 0, false, Audience::All, &message, now)
            .await?;
    }
    Ok(back(id))
}

#[derive(serde::Deserialize)]
struct FlagForm {
    kind: String,
    title: String,
    #[serde(default)]
    body: String,
}

async fn add_flag(
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
    Ok(back(id))
}

/// Relays the flagged items to the member associations' list, once. The list first takes in the
/// contacts of member associations (legitimate interest; whoever left it is not added again).
async fn relay(
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
        .subscribe_contacts(&list, ContactSelection::Associations, now)
        .await?;
    let recipients = state.store.list_recipients(ASSOCIATIONS).await?;
    let message = dispatcher(&state)
        .minutes_message(&meeting, true)
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
    Ok(back(id))
}

async fn push_to_newsletter(
    session: Session,
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> WebResult<Response> {
    session.require_staff()?;
    state
        .store
        .push_minutes_items_to_newsletter(id, Some(session.user.id), state.clock.now_millis())
        .await?;
    Ok(Redirect::to("/lettre").into_response())
}
