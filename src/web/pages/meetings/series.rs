//! A meeting series: the form creating or editing it, read the way the dispatcher will read it (a first
//! date off the rule moved onto it, a duplicate refused), its own page, ending it after its last announced
//! meeting, and deleting it.

use askama::Template;
use axum::extract::{Form, Path, State};
use axum::response::{Html, Response};
use chrono::{DateTime, Duration, Utc};

use crate::domain::recurrence;
use crate::french::{french_day, paris_local};
use crate::mail::meetings::occurrences;
use crate::store::meeting_series::{NewSeries, Series, SeriesCounts};
use crate::store::meeting_series_edit::SeriesEdited;
use crate::web::AppState;
use crate::web::auth::Session;
use crate::web::error::{WebError, WebResult};
use crate::web::flash::redirect_with_notice;
use crate::web::view::Chrome;

use super::{SeriesLine, at, paris_date, run_meetings_job};

#[derive(serde::Deserialize)]
pub(super) struct SeriesForm {
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

pub(super) async fn create_series(
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

pub(super) async fn series_page(
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

pub(super) async fn edit_series(
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
pub(super) async fn end_series(
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

pub(super) async fn delete_series(
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
