//! "Réunions": the meeting series (a recurrence rule, a video link, who is invited; edited, ended or deleted
//! on their own page, a first date off the rule moved onto it, a duplicate refused), their occurrences — each
//! moved, given a theme or cancelled on its own — with the agenda (items, presenter, duration, linked
//! resources), speakers, the answers received, what was sent and when the agenda will go; after the meeting
//! the attendance, the minutes and the items flagged for the member associations and the newsletter. The
//! resource library lives here too. Staff and admins only. Mails go out through the scheduler's meetings job
//! ([`crate::scheduler::meetings`]), woken by every change.
//!
//! The parts: [`overview`] (the list and the resource library), [`series`] (a series created, edited, ended
//! or deleted), [`meeting`] (one meeting's page, moved or cancelled), [`agenda`] (items, speakers, ready)
//! and [`follow_up`] (attendance, minutes, flagged items relayed). This module keeps the router and what
//! they share: how a meeting is named, where it stands, how a series reads, the way back to its page.

use axum::Router;
use axum::response::Response;
use axum::routing::{get, post};
use chrono::{DateTime, Duration, Utc};

use crate::domain::recurrence;
use crate::french::french_day;
use crate::store::meeting_attendees::Dispatch;
use crate::store::meeting_series::Series;
use crate::store::meetings::Meeting;
use crate::web::AppState;
use crate::web::error::{WebError, WebResult};
use crate::web::flash::redirect_with_notice;

mod agenda;
mod follow_up;
mod meeting;
mod overview;
mod series;

use agenda::{add_item, add_speaker, edit_item, remove_item, set_ready};
use follow_up::{add_flag, attendance, minutes, push_to_newsletter, relay};
use meeting::{cancel, change, show};
use overview::{add_resource, overview};
use series::{create_series, delete_series, edit_series, end_series, series_page};

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
        state.federation.clone(),
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
