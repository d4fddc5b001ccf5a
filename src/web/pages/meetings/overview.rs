//! The "Réunions" page: the series, the coming and past meetings each with where it stands, and the
//! resource library (the sheets agenda items link to), with the form adding a sheet.

use askama::Template;
use axum::extract::{Form, State};
use axum::response::{Html, Response};

use crate::domain::recurrence;
use crate::french::french_span;
use crate::store::meetings::Meeting;
use crate::store::resources::Resource;
use crate::web::AppState;
use crate::web::auth::Session;
use crate::web::error::{WebError, WebResult};
use crate::web::flash::redirect_with_notice;
use crate::web::view::Chrome;

use super::{SeriesLine, at, status_of, updates_sent};

/// A meeting in a list.
pub struct MeetingLine {
    pub id: i64,
    pub when: String,
    pub theme: String,
    pub status: String,
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
    /// Sheets marked public.
    public_sheets: Vec<i64>,
    /// Partners' events to come, with the partner's name.
    partner_events: Vec<(crate::store::federation_objects::RemoteObject, String)>,
}

impl OverviewPage {
    fn public_sheet(&self, id: &i64) -> bool {
        self.public_sheets.contains(id)
    }

    fn when(&self, millis: &i64) -> String {
        crate::web::view::french_datetime(*millis)
    }
}

pub(super) async fn overview(
    session: Session,
    State(state): State<AppState>,
) -> WebResult<Html<String>> {
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
        public_sheets: state.store.public_sources("document").await?,
        partner_events: partner_events(&state, now).await?,
    };
    Ok(Html(page.render()?))
}

/// Partners' events of the coming year, each with its partner's name.
async fn partner_events(
    state: &AppState,
    now: i64,
) -> WebResult<Vec<(crate::store::federation_objects::RemoteObject, String)>> {
    let partners = state.store.partners().await?;
    Ok(state
        .store
        .remote_events_between(now, now + 366 * 86_400_000)
        .await?
        .into_iter()
        .map(|event| {
            let name = partners
                .iter()
                .find(|p| p.id == event.partner_id)
                .map(|p| p.display_name().to_string())
                .unwrap_or_default();
            (event, name)
        })
        .collect())
}

#[derive(serde::Deserialize)]
pub(super) struct ResourceForm {
    title: String,
    url: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    themes: String,
}

pub(super) async fn add_resource(
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
