//! "Réunions": the meeting series (a recurrence rule, a video link, who is invited; edited, ended or deleted
//! on their own page, a first date off the rule moved onto it, a duplicate refused), their occurrences — each
//! moved, given a theme or cancelled on its own — with the agenda (items, presenter, duration, linked
//! resources), speakers, the answers received, what was sent and when the agenda will go; after the meeting
//! the attendance, the minutes and the items flagged for the member associations and the newsletter. The
//! resource library lives here too. Staff and admins only. Mails go out through the scheduler's meetings job
//! ([`crate::scheduler::meetings`]), woken by every change.

use askama::Template;
use axum::Router;
use axum::extract::{Form, Path, State};
use axum::response::{Html, Response};
use axum::routing::{get, post};
use chrono::{DateTime, Duration, Utc};

use crate::domain::recurrence;
use crate::french::{french_day, french_span, paris_local};
use crate::mail::meetings::{ASSOCIATIONS, minutes_message, occurrences};
use crate::store::meeting_agenda::{AgendaItem, NewAgendaItem};
use crate::store::meeting_attendees::{Attendee, Audience, Dispatch};
use crate::store::meeting_series::{NewSeries, Series, SeriesCounts};
use crate::store::meeting_series_edit::SeriesEdited;
use crate::store::meetings::{Meeting, MeetingChange};
use crate::store::minutes::MinutesItem;
use crate::store::resources::Resource;
use crate::store::subscriptions::ContactSelection;
use crate::web::AppState;
use crate::web::auth::Session;
use crate::web::error::{WebError, WebResult};
use crate::web::flash::redirect_with_notice;
use crate::web::forms::{self, RepeatedForm, Validate};
use crate::web::view::Chrome;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/reunions", get(overview))
        .route("/reunions/series", post(create_series))
        .route("/reunions/series/{id}", get(series_page).post(edit_series))
        .route("/reunions/series/{id}/supprimer", post(delete_series))
        .route("/reunions/series/{id}/arreter", post(end_series))
        .route("/ressources", post(add_resource))
        .route("/reunions/{id}", get(show).post(change))
        .route("/reunions/{id}/annuler", post(cancel))
        .route("/reunions/{id}/points", post(add_item))
        .route("/reunions/{id}/points/{item}", post(edit_item))
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

/// The meetings job's step, run at once so the page shows the occurrences of a series just saved.
async fn run_meetings_job(state: &AppState) -> WebResult<()> {
    let jobs = crate::scheduler::Context::new(
        state.store.clone(),
        state.settings.clone(),
        state.clock.clone(),
    )
    .map_err(|e| WebError::Internal(e.to_string()))?;
    crate::scheduler::meetings::try_meetings(&jobs, state.clock.now())
        .await
        .map_err(|e| WebError::Internal(e.to_string()))?;
    Ok(())
}

fn back(id: i64, notice: &str) -> Response {
    redirect_with_notice(&format!("/reunions/{id}"), notice)
}

/// "réunion du mardi 2 février 2027": how the audit log and messages name an occurrence.
fn meeting_label(meeting: &Meeting) -> String {
    format!("réunion du {}", french_day(at(meeting.starts_at)))
}

async fn meeting_or_404(state: &AppState, id: i64) -> WebResult<Meeting> {
    state.store.meeting(id).await?.ok_or(WebError::NotFound)
}

/// "1re", "2e", "3e"…
fn nth(n: usize) -> String {
    if n == 1 {
        "1re".into()
    } else {
        format!("{n}e")
    }
}

/// A meeting in a list.
pub struct MeetingLine {
    pub id: i64,
    pub when: String,
    pub theme: String,
    pub status: String,
}

/// Where a meeting stands, in words: "invitation envoyée (2e mise à jour)", "prêt, envoi prévu le …".
fn status_of(meeting: &Meeting, agenda_days: i64, updates: usize) -> String {
    if meeting.state == "cancelled" {
        return if meeting.sent_sequence.is_some() {
            "annulée (annulation envoyée aux personnes invitées)".into()
        } else {
            "annulée".into()
        };
    }
    match meeting.sent_sequence {
        Some(_) if updates > 0 => format!("invitation envoyée ({} mise à jour)", nth(updates)),
        Some(_) => "invitation envoyée".into(),
        None if meeting.agenda_ready => format!(
            "prêt, envoi prévu le {}",
            crate::french::french_moment(at(meeting.starts_at) - Duration::days(agenda_days))
        ),
        None => "ordre du jour en préparation, rien d'envoyé".into(),
    }
}

/// How many updates of its invitation a meeting sent.
fn updates_sent(dispatches: &[Dispatch]) -> usize {
    dispatches.iter().filter(|d| d.step == "update").count()
}

async fn line(state: &AppState, meeting: &Meeting, agenda_days: i64) -> WebResult<MeetingLine> {
    let updates = if meeting.sent_sequence.is_some() {
        updates_sent(&state.store.dispatches(meeting.id).await?)
    } else {
        0
    };
    Ok(MeetingLine {
        id: meeting.id,
        when: french_span(at(meeting.starts_at), at(meeting.ends_at)),
        theme: meeting.theme.clone(),
        status: status_of(meeting, agenda_days, updates),
    })
}

/// A series as staff read it: "tous les deux mois, le premier mardi, 14:00–16:00".
struct SeriesLine {
    id: i64,
    title: String,
    cadence: String,
    since: String,
    until: String,
    video_url: String,
}

fn paris_date(text: &str) -> Option<chrono::NaiveDate> {
    chrono::NaiveDate::parse_from_str(text.get(..10).unwrap_or_default(), "%Y-%m-%d").ok()
}

impl SeriesLine {
    fn of(series: &Series) -> SeriesLine {
        let hours = recurrence::hours(&series.first_start, series.duration_minutes)
            .unwrap_or_else(|| format!("{} min", series.duration_minutes));
        SeriesLine {
            id: series.id,
            title: series.title.clone(),
            cadence: format!("{}, {hours}", recurrence::describe(&series.rrule)),
            since: crate::web::view::french_date(paris_date(&series.first_start)),
            until: crate::web::view::french_date(paris_date(&series.ends_on)),
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
    let mut upcoming = Vec::new();
    for meeting in state.store.meetings_from(now, 12).await? {
        upcoming.push(line(&state, &meeting, days).await?);
    }
    let mut past = Vec::new();
    for meeting in state.store.past_meetings(now, 12).await? {
        past.push(line(&state, &meeting, days).await?);
    }
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
        upcoming,
        past,
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
    /// The last possible date (`YYYY-MM-DD`), empty while the series goes on.
    #[serde(default)]
    ends_on: String,
    #[serde(default)]
    video_url: String,
    #[serde(default)]
    invite_members: String,
    #[serde(default)]
    invite_staff: String,
}

/// A series form read and checked: the series, its end date, and what staff should be told (its first
/// date moved onto the rule).
struct CheckedSeries {
    new: NewSeries,
    ends_on: String,
    told: Vec<String>,
}

fn probe(new: &NewSeries, ends_on: &str) -> Series {
    Series {
        id: 0,
        title: new.title.clone(),
        rrule: new.rrule.clone(),
        first_start: new.first_start.clone(),
        duration_minutes: new.duration_minutes.max(1),
        video_url: new.video_url.clone(),
        invite_members: new.invite_members,
        invite_staff: new.invite_staff,
        ends_on: ends_on.to_string(),
    }
}

fn local_text(at: DateTime<Utc>) -> String {
    at.with_timezone(&crate::clock::PARIS)
        .format("%Y-%m-%dT%H:%M")
        .to_string()
}

/// Reads the series form the way the dispatcher will read the series; `editing` is the series being
/// changed (left out of the duplicate check).
async fn check_series(
    state: &AppState,
    form: &SeriesForm,
    editing: Option<i64>,
) -> WebResult<CheckedSeries> {
    let mut errors = Vec::new();
    let mut told = Vec::new();
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
    let first = paris_local(form.first_start.trim());
    if first.is_none() {
        errors.push(format!(
            "« {} » n'est pas une date et une heure de première réunion.",
            form.first_start.trim()
        ));
    }
    let ends_on = form.ends_on.trim().to_string();
    let last_day = if ends_on.is_empty() {
        None
    } else {
        match chrono::NaiveDate::parse_from_str(&ends_on, "%Y-%m-%d") {
            Ok(day) => Some(day),
            Err(_) => {
                errors.push(format!("« {ends_on} » n'est pas une date de fin."));
                None
            }
        }
    };
    let mut new = NewSeries {
        title,
        rrule,
        first_start: form.first_start.trim().to_string(),
        duration_minutes: duration,
        video_url,
        invite_members: form.invite_members == "oui",
        invite_staff: form.invite_staff == "oui",
    };
    let now = state.clock.now();
    if let (Some(first), false) = (first, new.rrule.is_empty()) {
        // A first date off the rule moves to the rule's next date, and staff are told.
        let first_day = first.with_timezone(&crate::clock::PARIS).date_naive();
        if recurrence::falls_on(&new.rrule, first_day) == Some(false) {
            let next = occurrences(&probe(&new, ""), first, first + Duration::days(400))
                .ok()
                .and_then(|found| found.into_iter().find(|(start, _)| *start > first));
            match next {
                Some((start, _)) => {
                    told.push(format!(
                        "Le {} ne tombe pas « {} » : la série commence donc le {}.",
                        french_day(first),
                        recurrence::describe(&new.rrule),
                        french_day(start)
                    ));
                    new.first_start = local_text(start);
                }
                None => errors.push(format!(
                    "Le {} ne tombe pas « {} », et la règle ne donne aucune date dans l'année qui suit.",
                    french_day(first),
                    recurrence::describe(&new.rrule)
                )),
            }
        }
        match occurrences(&probe(&new, &ends_on), now, now + Duration::days(400)) {
            Ok(found) if found.is_empty() && editing.is_none() => errors
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
    if let (Some(last), Some(first)) = (last_day, paris_date(&new.first_start))
        && last < first
    {
        errors.push("La date de fin précède la première réunion.".to_string());
    }
    if !errors.is_empty() {
        return Err(WebError::BadRequest(errors.join(" ")));
    }
    // The same meetings twice would invite everyone twice.
    let time_of_day = |first_start: &str| first_start.get(11..16).unwrap_or_default().to_string();
    let starts = paris_date(&new.first_start);
    for other in state.store.all_series().await? {
        if Some(other.id) == editing
            || other.rrule.trim() != new.rrule.trim()
            || time_of_day(&other.first_start) != time_of_day(&new.first_start)
            || other.duration_minutes != new.duration_minutes
        {
            continue;
        }
        let other_starts = paris_date(&other.first_start);
        let other_ends = paris_date(&other.ends_on);
        let overlaps = other_ends.is_none_or(|end| starts.is_none_or(|s| s <= end))
            && last_day.is_none_or(|end| other_starts.is_none_or(|s| s <= end));
        if overlaps {
            let line = SeriesLine::of(&other);
            return Err(WebError::Conflict(format!(
                "La série « {} » a déjà ces réunions ({}, depuis le {}) : modifiez-la plutôt que d'en créer \
                 une seconde, sinon chacun serait invité deux fois.",
                line.title, line.cadence, line.since
            )));
        }
    }
    Ok(CheckedSeries { new, ends_on, told })
}

async fn create_series(
    session: Session,
    State(state): State<AppState>,
    Form(form): Form<SeriesForm>,
) -> WebResult<Response> {
    session.require_staff()?;
    let checked = check_series(&state, &form, None).await?;
    state
        .store
        .create_series_as(
            &checked.new,
            &checked.ends_on,
            &session.actor(),
            state.clock.now_millis(),
        )
        .await?;
    // The occurrences now, so the page shows them at once.
    run_meetings_job(&state).await?;
    let mut notice = format!("Série « {} » créée.", checked.new.title);
    for told in &checked.told {
        notice.push(' ');
        notice.push_str(told);
    }
    Ok(redirect_with_notice("/reunions", &notice))
}

#[derive(Template)]
#[template(path = "meeting_series.html", config = "src/web/askama.toml")]
struct SeriesPage {
    chrome: Chrome,
    series: Series,
    line: SeriesLine,
    counts: SeriesCounts,
    cadences: Vec<(&'static str, &'static str)>,
    ordinals: Vec<(i8, &'static str)>,
    weekdays: Vec<(u8, &'static str)>,
    /// The form's choices when the rule came from them; else the rule is shown in the advanced field.
    cadence: String,
    ordinal: i8,
    weekday: u8,
    custom_rule: String,
}

async fn series_page(
    session: Session,
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> WebResult<Html<String>> {
    session.require_staff()?;
    let series = state.store.series(id).await?.ok_or(WebError::NotFound)?;
    let counts = state
        .store
        .series_counts(id, state.clock.now_millis())
        .await?;
    let (cadence, ordinal, weekday, custom_rule) = match recurrence::choices(&series.rrule) {
        Some((cadence, day)) => (
            cadence.key().to_string(),
            day.ordinal,
            day.weekday,
            String::new(),
        ),
        None => (String::new(), 1, 1, series.rrule.clone()),
    };
    let page = SeriesPage {
        chrome: Chrome::new(&session, "meetings", &series.title),
        line: SeriesLine::of(&series),
        series,
        counts,
        cadences: recurrence::Cadence::ALL
            .iter()
            .map(|c| (c.key(), c.label()))
            .collect(),
        ordinals: recurrence::ORDINALS.to_vec(),
        weekdays: recurrence::weekday_names().collect(),
        cadence,
        ordinal,
        weekday,
        custom_rule,
    };
    Ok(Html(page.render()?))
}

/// Saves a changed series: its coming, unannounced meetings follow the new rule (from after the last
/// announced one), the announced ones keep what was sent.
async fn save_series(
    state: &AppState,
    session: &Session,
    id: i64,
    mut new: NewSeries,
    ends_on: String,
    told: &mut Vec<String>,
) -> WebResult<SeriesEdited> {
    let old = state.store.series(id).await?.ok_or(WebError::NotFound)?;
    let now = state.clock.now();
    let counts = state
        .store
        .series_counts(id, now.timestamp_millis())
        .await?;
    let mut from = now;
    if let Some(last) = counts.last_announced {
        let last = at(last);
        let rule_changed = old.rrule != new.rrule
            || old.first_start != new.first_start
            || old.duration_minutes != new.duration_minutes;
        if rule_changed && paris_local(&new.first_start).is_some_and(|first| first <= last) {
            // The new rule starts after the last announced meeting, which keeps its date.
            let next = occurrences(&probe(&new, ""), last, last + Duration::days(400))
                .ok()
                .and_then(|found| found.into_iter().find(|(start, _)| *start > last));
            if let Some((start, _)) = next {
                told.push(format!(
                    "La réunion du {} est déjà annoncée : la nouvelle règle s'applique à partir du {}.",
                    french_day(last),
                    french_day(start)
                ));
                new.first_start = local_text(start);
            }
        }
        from = from.max(last + Duration::minutes(1));
    }
    let horizon = now + Duration::days(31 * state.settings.meetings.horizon_months);
    let dates: Vec<(i64, i64)> = occurrences(&probe(&new, &ends_on), from, horizon)
        .map_err(WebError::BadRequest)?
        .into_iter()
        .map(|(start, end)| (start.timestamp_millis(), end.timestamp_millis()))
        .collect();
    let edited = state
        .store
        .update_series(
            id,
            &new,
            &ends_on,
            &dates,
            state.settings.mail.domain(),
            &session.actor(),
            now.timestamp_millis(),
        )
        .await?;
    run_meetings_job(state).await?;
    Ok(edited)
}

fn meetings_word(n: u64) -> String {
    if n == 1 {
        "1 réunion".into()
    } else {
        format!("{n} réunions")
    }
}

async fn edit_series(
    session: Session,
    State(state): State<AppState>,
    Path(id): Path<i64>,
    Form(form): Form<SeriesForm>,
) -> WebResult<Response> {
    session.require_staff()?;
    let CheckedSeries {
        new,
        ends_on,
        mut told,
    } = check_series(&state, &form, Some(id)).await?;
    let title = new.title.clone();
    let edited = save_series(&state, &session, id, new, ends_on, &mut told).await?;
    let mut notice = format!("Série « {title} » enregistrée.");
    if edited.retimed > 0 {
        notice.push_str(&format!(
            " {} à venir suivent la nouvelle règle.",
            meetings_word(edited.retimed)
        ));
    }
    if edited.removed > 0 {
        notice.push_str(&format!(
            " {} en trop {}.",
            meetings_word(edited.removed),
            if edited.removed > 1 {
                "supprimées"
            } else {
                "supprimée"
            }
        ));
    }
    if edited.updated > 0 {
        notice.push_str(&format!(
            " {} déjà {} : les personnes invitées reçoivent le nouveau lien de visioconférence.",
            meetings_word(edited.updated),
            if edited.updated > 1 {
                "annoncées"
            } else {
                "annoncée"
            }
        ));
    }
    for told in &told {
        notice.push(' ');
        notice.push_str(told);
    }
    Ok(redirect_with_notice("/reunions", &notice))
}

/// Ends a series whose meetings were announced: it stops after the last announced one (or today), the
/// later meetings nothing was sent for are removed.
async fn end_series(
    session: Session,
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> WebResult<Response> {
    session.require_staff()?;
    let series = state.store.series(id).await?.ok_or(WebError::NotFound)?;
    let now = state.clock.now();
    let counts = state
        .store
        .series_counts(id, now.timestamp_millis())
        .await?;
    let last = counts.last_announced.map_or(now, |last| at(last).max(now));
    let ends_on = last
        .with_timezone(&crate::clock::PARIS)
        .date_naive()
        .format("%Y-%m-%d")
        .to_string();
    let new = NewSeries {
        title: series.title.clone(),
        rrule: series.rrule.clone(),
        first_start: series.first_start.clone(),
        duration_minutes: series.duration_minutes,
        video_url: series.video_url.clone(),
        invite_members: series.invite_members,
        invite_staff: series.invite_staff,
    };
    let mut told = Vec::new();
    let edited = save_series(&state, &session, id, new, ends_on, &mut told).await?;
    Ok(redirect_with_notice(
        "/reunions",
        &format!(
            "Série « {} » arrêtée après le {} : {} à venir {} ; les réunions annoncées restent.",
            series.title,
            french_day(last),
            meetings_word(edited.removed),
            if edited.removed > 1 {
                "supprimées"
            } else {
                "supprimée"
            }
        ),
    ))
}

async fn delete_series(
    session: Session,
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> WebResult<Response> {
    session.require_staff()?;
    let series = state.store.series(id).await?.ok_or(WebError::NotFound)?;
    let removed = state
        .store
        .delete_series(id, &session.actor(), state.clock.now_millis())
        .await?;
    Ok(redirect_with_notice(
        "/reunions",
        &format!(
            "Série « {} » supprimée, avec ses {}.",
            series.title,
            meetings_word(removed)
        ),
    ))
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
    Ok(redirect_with_notice(
        "/reunions#fiches",
        &format!("Fiche « {} » ajoutée.", form.title.trim()),
    ))
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
    /// The confirmation the cancel button asks, stating who is told.
    cancel_confirm: String,
    /// Whether the invitation went out: a removed item then sends an update.
    sent: bool,
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

async fn cancel(
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

/// An agenda item as the form gives it: one `resource` field per linked sheet.
#[derive(serde::Deserialize)]
struct AgendaItemForm {
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

async fn add_item(
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

async fn edit_item(
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

async fn remove_item(
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
    Ok(back(
        id,
        if form.ready == "oui" {
            "Ordre du jour marqué prêt : il partira avec l'invitation à la date prévue."
        } else {
            "Ordre du jour repassé en préparation : rien ne partira tant qu'il n'est pas prêt."
        },
    ))
}

/// Who was there: one `present` field per person checked.
#[derive(serde::Deserialize)]
struct AttendanceForm {
    #[serde(default)]
    present: Vec<String>,
}

async fn attendance(
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
    Ok(back(
        id,
        &format!("Point « {} » relevé.", form.title.trim()),
    ))
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
    Ok(redirect_with_notice(
        "/lettre",
        "Bonnes pratiques et points de blocage proposés pour la prochaine lettre.",
    ))
}
