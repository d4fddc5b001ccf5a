//! The meetings' dispatches inside `relais serve`. Each pass of [`Dispatcher::run_due`] (at start, at each
//! moment something falls due, and when staff change a meeting):
//!
//! 1. makes the occurrences of every series for `meetings.horizon_months` ahead (RFC 5545 rule, Paris time);
//! 2. for each coming meeting: reminds staff when its agenda is not ready the day before it should go out;
//!    sends the ready agenda `meetings.agenda_days_before` days ahead with a `METHOD:REQUEST` invitation (late,
//!    if it became ready after that, and staff are told so); sends an update with the new SEQUENCE after any
//!    change invitees see, saying at its top what changed ([`changes`], against the [`Snapshot`] of what
//!    they last received), and the invitation itself to anyone added since; reminds those who accepted or
//!    have not answered the day before ("aujourd'hui" or "demain"), unless it is less than twelve hours
//!    away (recorded as skipped);
//! 3. sends `METHOD:CANCEL` for a cancelled meeting whose invitation went out;
//! 4. reminds the contacts invited to the needs survey who have not answered ([`super::survey`]);
//! 5. warns, then removes, subscriptions whose delivery bounces disabled ([`super::bounces`]).
//!
//! Each dispatch is claimed with its mail in one transaction (`Store::dispatch_meeting_mail`), so it happens
//! once across instances and restarts, and a pass at start catches up what was missed while relais was down.

use std::sync::Arc;

use askama::Template;
use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, Timelike, Utc};
use tokio_util::sync::CancellationToken;

use super::calendar::{self, Invitation, Method, Person};
use super::compose::answer_link;
use crate::clock::{Clock, PARIS};
use crate::config::Settings;
pub use crate::french::{french_day, french_span, paris_local};
use crate::store::Store;
use crate::store::meeting_attendees::Audience;
use crate::store::meetings::{Meeting, Resource, Series};
use crate::store::outbox::NewMessage;

/// The longest a pass waits in real time (changes made on another instance are seen then).
const RECHECK: std::time::Duration = std::time::Duration::from_secs(300);
/// How soon a pass that failed is tried again (real time).
const RETRY: std::time::Duration = std::time::Duration::from_secs(1);
/// The member associations' list, where flagged items of the minutes are relayed.
pub const ASSOCIATIONS: &str = "associations";
/// How late an agenda may go before staff are told it went late.
const LATE_AFTER_MINUTES: i64 = 60;
/// The day-before reminder goes only when the meeting is at least this far away: a relais started on the
/// morning of the meeting does not remind people of something they are about to join.
const REMINDER_AT_LEAST_HOURS: i64 = 12;

/// What an invitation or update told invitees, kept with the occurrence so the next update says what
/// changed.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Snapshot {
    pub starts_at: i64,
    pub ends_at: i64,
    pub theme: String,
    pub video_url: String,
    pub items: Vec<SnapshotItem>,
}

#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SnapshotItem {
    pub id: i64,
    pub title: String,
    pub presenter: String,
    pub duration_minutes: i64,
    pub description: String,
    /// The titles of its linked sheets.
    #[serde(default)]
    pub resources: Vec<String>,
}

/// "14 h" or "14 h 30" (Paris time).
fn french_hour(at: DateTime<Utc>) -> String {
    let local = at.with_timezone(&PARIS);
    if local.minute() == 0 {
        format!("{} h", local.hour())
    } else {
        format!("{} h {:02}", local.hour(), local.minute())
    }
}

/// "14 h – 16 h"
pub fn french_hours(starts: DateTime<Utc>, ends: DateTime<Utc>) -> String {
    format!("{} – {}", french_hour(starts), french_hour(ends))
}

/// What changed between two snapshots, in French, one phrase each: "l'horaire passe de 14 h – 16 h à
/// 15 h – 17 h", "nouveau point à l'ordre du jour : « Tour de table »"…
pub fn changes(before: &Snapshot, after: &Snapshot) -> Vec<String> {
    let mut said = Vec::new();
    let (old_start, old_end) = (at_millis(before.starts_at), at_millis(before.ends_at));
    let (new_start, new_end) = (at_millis(after.starts_at), at_millis(after.ends_at));
    if (old_start, old_end) != (new_start, new_end) {
        if french_day(old_start) == french_day(new_start) {
            said.push(format!(
                "l'horaire passe de {} à {}",
                french_hours(old_start, old_end),
                french_hours(new_start, new_end)
            ));
        } else {
            said.push(format!(
                "la réunion est déplacée du {}, {} au {}, {}",
                french_day(old_start),
                french_hours(old_start, old_end),
                french_day(new_start),
                french_hours(new_start, new_end)
            ));
        }
    }
    if before.theme != after.theme {
        said.push(if after.theme.is_empty() {
            format!("le thème « {} » est retiré", before.theme)
        } else {
            format!("le thème devient « {} »", after.theme)
        });
    }
    if before.video_url != after.video_url {
        said.push(if after.video_url.is_empty() {
            "la réunion n'a plus de lien de visioconférence".to_string()
        } else {
            format!("nouveau lien de visioconférence : {}", after.video_url)
        });
    }
    for old in &before.items {
        match after.items.iter().find(|item| item.id == old.id) {
            None => said.push(format!("« {} » est retiré de l'ordre du jour", old.title)),
            Some(new) => {
                if new.title != old.title {
                    said.push(format!(
                        "le point « {} » devient « {} »",
                        old.title, new.title
                    ));
                }
                if new.presenter != old.presenter && !new.presenter.is_empty() {
                    said.push(format!(
                        "« {} » sera présenté par {}",
                        new.title, new.presenter
                    ));
                }
                if new.duration_minutes != old.duration_minutes && new.duration_minutes > 0 {
                    said.push(format!(
                        "« {} » dure désormais {} min",
                        new.title, new.duration_minutes
                    ));
                }
                if new.description != old.description {
                    said.push(format!("la présentation de « {} » est précisée", new.title));
                }
                for sheet in new.resources.iter().filter(|r| !old.resources.contains(r)) {
                    said.push(format!(
                        "nouvelle fiche pour « {} » : « {sheet} »",
                        new.title
                    ));
                }
                for sheet in old.resources.iter().filter(|r| !new.resources.contains(r)) {
                    said.push(format!(
                        "la fiche « {sheet} » n'accompagne plus « {} »",
                        new.title
                    ));
                }
            }
        }
    }
    for new in &after.items {
        if !before.items.iter().any(|item| item.id == new.id) {
            said.push(format!(
                "nouveau point à l'ordre du jour : « {} »",
                new.title
            ));
        }
    }
    said
}

/// An agenda item as mails show it.
pub struct ShownItem {
    pub title: String,
    pub presenter: String,
    pub duration_minutes: i64,
    pub description: String,
    pub resources: Vec<Resource>,
}

#[derive(Template)]
#[template(path = "meeting.html", config = "src/mail/askama.toml")]
struct MeetingHtml<'a> {
    heading: &'a str,
    intro: &'a str,
    cancelled: bool,
    when: &'a str,
    theme: &'a str,
    video_url: &'a str,
    items: &'a [ShownItem],
    yes_url: &'a str,
    no_url: &'a str,
    maybe_url: &'a str,
    /// Whether the mail carries the calendar part (not the day-before reminder).
    with_calendar: bool,
    organisation: &'a str,
    /// The reader's preferences page (their data, their subscriptions), one link per copy.
    preferences: &'a str,
}

/// A flagged item of the minutes as mails show it.
pub struct ShownFlag {
    pub kind: &'static str,
    pub title: String,
    pub body: String,
}

#[derive(Template)]
#[template(path = "meeting_minutes.html", config = "src/mail/askama.toml")]
struct MinutesHtml<'a> {
    heading: &'a str,
    minutes_html: &'a str,
    flagged: &'a [ShownFlag],
    flagged_heading: &'a str,
    organisation: &'a str,
    /// The reader's preferences page (their data, their subscriptions), one link per copy.
    preferences: &'a str,
}

#[derive(Template)]
#[template(path = "meeting_minutes.txt", config = "src/mail/askama.toml")]
struct MinutesText<'a> {
    heading: &'a str,
    minutes: &'a str,
    flagged: &'a [ShownFlag],
    flagged_heading: &'a str,
    organisation: &'a str,
    /// The reader's preferences page (their data, their subscriptions), one link per copy.
    preferences: &'a str,
}

#[derive(Template)]
#[template(path = "meeting.txt", config = "src/mail/askama.toml")]
struct MeetingText<'a> {
    heading: &'a str,
    intro: &'a str,
    cancelled: bool,
    when: &'a str,
    theme: &'a str,
    video_url: &'a str,
    items: &'a [ShownItem],
    yes_url: &'a str,
    no_url: &'a str,
    maybe_url: &'a str,
    /// Whether the mail carries the calendar part (not the day-before reminder).
    with_calendar: bool,
    organisation: &'a str,
    /// The reader's preferences page (their data, their subscriptions), one link per copy.
    preferences: &'a str,
}

fn at_millis(millis: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(millis).unwrap_or_default()
}

/// One occurrence of a series: its start and end.
pub type Occurrence = (DateTime<Utc>, DateTime<Utc>);

/// The occurrences `(start, end)` of a series between `from` and `to`, in UTC. An invalid rule gives none
/// (the series form refuses one).
pub fn occurrences(
    series: &Series,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<Occurrence>, String> {
    let first = NaiveDateTime::parse_from_str(&series.first_start, "%Y-%m-%dT%H:%M")
        .map_err(|e| format!("premier rendez-vous « {} » : {e}", series.first_start))?;
    let text = format!(
        "DTSTART;TZID=Europe/Paris:{}\nRRULE:{}",
        first.format("%Y%m%dT%H%M%S"),
        series.rrule
    );
    let set: rrule::RRuleSet = text
        .parse()
        .map_err(|e| format!("règle de récurrence « {} » : {e}", series.rrule))?;
    let zone = rrule::Tz::Tz(PARIS);
    let dates = set
        .after(from.with_timezone(&zone))
        .before(to.with_timezone(&zone))
        .all(500)
        .dates;
    let duration = Duration::minutes(series.duration_minutes);
    let last_day = NaiveDate::parse_from_str(&series.ends_on, "%Y-%m-%d").ok();
    Ok(dates
        .into_iter()
        .filter(|start| {
            last_day.is_none_or(|last| start.with_timezone(&PARIS).date_naive() <= last)
        })
        .map(|start| {
            let start = start.with_timezone(&Utc);
            (start, start + duration)
        })
        .collect())
}

/// Sends the meetings' mails.
#[derive(Clone)]
pub struct Dispatcher {
    pub store: Store,
    pub settings: Arc<Settings>,
    pub clock: Clock,
}

/// What one pass did.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Pass {
    pub occurrences: u64,
    pub dispatches: Vec<String>,
}

impl Dispatcher {
    pub async fn run_until_stopped(self, stop: CancellationToken) {
        let wake = self.store.schedule_wake();
        loop {
            let notified = wake.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let mut wait = RECHECK;
            // The next moment is reckoned from the time this pass saw: if the clock moves during the pass,
            // the wait below ends at once and the next pass sees what fell due meanwhile.
            let now = self.clock.now();
            match self.run_due_at(now).await {
                Ok(pass) if pass != Pass::default() => tracing::info!(?pass, "meetings pass"),
                Ok(_) => {}
                Err(error) => {
                    // A passing database error (two instances writing the same rows): soon again.
                    tracing::warn!(%error, "meetings pass failed; trying again in a second");
                    wait = RETRY;
                }
            }
            let next = match self.next_moment(now).await {
                Ok(next) => next,
                Err(_) => now + Duration::minutes(5),
            };
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = self.clock.sleep_until(next) => {}
                _ = &mut notified => {}
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }

    fn agenda_lead(&self) -> Duration {
        Duration::days(self.settings.meetings.agenda_days_before)
    }

    /// The next moment after `now` a dispatch (or a survey reminder) falls due.
    async fn next_moment(&self, now: DateTime<Utc>) -> anyhow::Result<DateTime<Utc>> {
        let mut next = now + Duration::hours(6);
        if let Some(sent) = self.store.oldest_unreminded_invitation().await? {
            let survey = self.store.survey().await?;
            let due = at_millis(sent) + Duration::days(survey.reminder_days);
            if due > now && due < next {
                next = due;
            }
        }
        for meeting in self.store.meetings_from(now.timestamp_millis(), 50).await? {
            let starts = at_millis(meeting.starts_at);
            for moment in [
                starts - self.agenda_lead() - Duration::days(1),
                starts - self.agenda_lead(),
                starts - Duration::days(1),
            ] {
                if moment > now && moment < next {
                    next = moment;
                }
            }
        }
        Ok(next)
    }

    /// One pass at the clock's time.
    pub async fn run_due(&self) -> anyhow::Result<Pass> {
        self.run_due_at(self.clock.now()).await
    }

    async fn run_due_at(&self, now: DateTime<Utc>) -> anyhow::Result<Pass> {
        let now_ms = now.timestamp_millis();
        let mut pass = Pass::default();
        let horizon = now + Duration::days(31 * self.settings.meetings.horizon_months);
        for series in self.store.all_series().await? {
            let found = match occurrences(&series, now - Duration::days(1), horizon) {
                Ok(found) => found,
                Err(error) => {
                    tracing::warn!(series = series.id, %error, "series rule unreadable");
                    continue;
                }
            };
            let rows: Vec<(i64, i64)> = found
                .iter()
                .map(|(start, end)| (start.timestamp_millis(), end.timestamp_millis()))
                .collect();
            pass.occurrences += self
                .store
                .add_occurrences_of(&series, &rows, self.settings.mail.domain(), now_ms)
                .await?;
        }
        let warned = super::bounces::send_warnings(&self.store, &self.settings, now_ms).await?;
        if warned > 0 {
            pass.dispatches
                .push(format!("{warned} bounce warning(s) or removal(s)"));
        }
        let reminders = super::survey::send_reminders(&self.store, &self.settings, now_ms).await?;
        if reminders > 0 {
            pass.dispatches
                .push(format!("{reminders} survey reminder(s)"));
        }
        // Meetings that have not ended, and cancelled ones of the last days (their CANCEL may be due).
        for meeting in self
            .store
            .meetings_from(now_ms - Duration::days(2).num_milliseconds(), 200)
            .await?
        {
            for step in self.dispatch_due(&meeting, now).await? {
                pass.dispatches.push(format!("{} {}", meeting.id, step));
            }
        }
        Ok(pass)
    }

    /// The dispatches due now for `meeting`, done.
    async fn dispatch_due(
        &self,
        meeting: &Meeting,
        now: DateTime<Utc>,
    ) -> anyhow::Result<Vec<&'static str>> {
        let starts = at_millis(meeting.starts_at);
        let agenda_due = starts - self.agenda_lead();
        let mut done = Vec::new();
        if meeting.state == "cancelled" {
            if meeting.sent_sequence.is_some()
                && !self.store.dispatched(meeting.id, "cancel").await?
                && self.send(meeting, "cancel", now, false).await?
            {
                done.push("cancel");
            }
            return Ok(done);
        }
        if starts <= now {
            return Ok(done);
        }
        let Some(sent) = meeting.sent_sequence else {
            if meeting.agenda_ready && now >= agenda_due {
                if let Some(series) = self.store.series(meeting.series_id).await? {
                    self.store
                        .add_invitees(
                            meeting.id,
                            series.invite_members,
                            series.invite_staff,
                            now.timestamp_millis(),
                        )
                        .await?;
                }
                let late = now > agenda_due + Duration::minutes(LATE_AFTER_MINUTES);
                let sent = self.send(meeting, "agenda", now, late).await?;
                if sent && late {
                    self.tell_staff_late(meeting, now).await?;
                }
                if sent {
                    done.push("agenda");
                }
            } else if !meeting.agenda_ready
                && now >= agenda_due - Duration::days(1)
                && self.remind_staff(meeting, now).await?
            {
                done.push("staff_reminder");
            }
            return Ok(done);
        };
        if meeting.sequence > sent {
            // An update only when something invitees see changed since what they received.
            let current = self.snapshot(meeting).await?;
            match serde_json::from_str::<Snapshot>(&meeting.sent_snapshot) {
                Ok(before) if changes(&before, &current).is_empty() => {
                    self.store
                        .note_unseen_change(
                            meeting.id,
                            meeting.sequence,
                            &serde_json::to_string(&current)?,
                        )
                        .await?;
                }
                _ => {
                    if self.send(meeting, "update", now, false).await? {
                        done.push("update");
                    }
                }
            }
        }
        // Someone added after the invitation went out (a speaker) gets the invitation itself.
        if let Some(up_to) = self.store.last_uninvited(meeting.id).await? {
            let message = self.meeting_message(meeting, "invitation", now).await?;
            if self
                .store
                .dispatch_meeting_mail(
                    meeting.id,
                    "invitation",
                    up_to,
                    false,
                    Audience::NotYetInvited(up_to),
                    &message,
                    now.timestamp_millis(),
                )
                .await?
                .is_some()
            {
                done.push("invitation");
            }
        }
        if now >= starts - Duration::days(1)
            && !self.store.dispatched(meeting.id, "reminder").await?
        {
            if starts - now < Duration::hours(REMINDER_AT_LEAST_HOURS) {
                // Too close: recorded as skipped, so the meeting's page says why none went.
                if self
                    .store
                    .dispatch_meeting_mail(
                        meeting.id,
                        "reminder_skipped",
                        0,
                        false,
                        Audience::Listed(Vec::new()),
                        &NewMessage::default(),
                        now.timestamp_millis(),
                    )
                    .await?
                    .is_some()
                {
                    done.push("reminder_skipped");
                }
            } else if self.send(meeting, "reminder", now, false).await? {
                done.push("reminder");
            }
        }
        Ok(done)
    }

    /// What invitees would read of `meeting` now.
    pub async fn snapshot(&self, meeting: &Meeting) -> anyhow::Result<Snapshot> {
        let series = self.store.series(meeting.series_id).await?;
        let items = self.store.agenda(meeting.id).await?;
        let linked = self.store.agenda_resources(meeting.id).await?;
        Ok(Snapshot {
            starts_at: meeting.starts_at,
            ends_at: meeting.ends_at,
            theme: meeting.theme.clone(),
            video_url: series.map(|s| s.video_url).unwrap_or_default(),
            items: items
                .into_iter()
                .map(|item| SnapshotItem {
                    resources: linked
                        .iter()
                        .filter(|(item_id, _)| *item_id == item.id)
                        .map(|(_, resource)| resource.title.clone())
                        .collect(),
                    id: item.id,
                    title: item.title,
                    presenter: item.presenter,
                    duration_minutes: item.duration_minutes,
                    description: item.description,
                })
                .collect(),
        })
    }

    /// Renders and dispatches `step` (`agenda`, `update`, `reminder`, `cancel`); false when it was done
    /// before.
    async fn send(
        &self,
        meeting: &Meeting,
        step: &str,
        now: DateTime<Utc>,
        late: bool,
    ) -> anyhow::Result<bool> {
        let message = self.meeting_message(meeting, step, now).await?;
        let audience = match step {
            "reminder" => Audience::NotDeclined,
            "update" | "cancel" => Audience::Invited,
            _ => Audience::All,
        };
        // The reminder is sent once whatever the sequence; the others once per sequence.
        let sequence = if step == "reminder" {
            0
        } else {
            meeting.sequence
        };
        Ok(self
            .store
            .dispatch_meeting_mail(
                meeting.id,
                step,
                sequence,
                late,
                audience,
                &message,
                now.timestamp_millis(),
            )
            .await?
            .is_some())
    }

    /// The mail of `step` for `meeting`: its agenda, with the invitation for all steps but the reminder.
    pub async fn meeting_message(
        &self,
        meeting: &Meeting,
        step: &str,
        now: DateTime<Utc>,
    ) -> anyhow::Result<NewMessage> {
        let series = self
            .store
            .series(meeting.series_id)
            .await?
            .ok_or_else(|| anyhow::anyhow!("series {} missing", meeting.series_id))?;
        let agenda = self.store.agenda(meeting.id).await?;
        let resources = self.store.agenda_resources(meeting.id).await?;
        let items: Vec<ShownItem> = agenda
            .into_iter()
            .map(|item| ShownItem {
                resources: resources
                    .iter()
                    .filter(|(item_id, _)| *item_id == item.id)
                    .map(|(_, resource)| {
                        let mut resource = resource.clone();
                        // An uploaded document is served by relais: a mail needs its full address.
                        if resource.url.starts_with('/') {
                            resource.url =
                                format!("{}{}", self.settings.server.public_url, resource.url);
                        }
                        resource
                    })
                    .collect(),
                title: item.title,
                presenter: item.presenter,
                duration_minutes: item.duration_minutes,
                description: item.description,
            })
            .collect();
        let snapshot = self.snapshot(meeting).await?;
        let starts = at_millis(meeting.starts_at);
        let ends = at_millis(meeting.ends_at);
        let when = french_span(starts, ends);
        let what_changed = serde_json::from_str::<Snapshot>(&meeting.sent_snapshot)
            .map(|before| changes(&before, &snapshot))
            .unwrap_or_default();
        let today =
            now.with_timezone(&PARIS).date_naive() == starts.with_timezone(&PARIS).date_naive();
        let day_word = if today { "aujourd'hui" } else { "demain" };
        let title = if meeting.theme.is_empty() {
            series.title.clone()
        } else {
            format!("{} : {}", series.title, meeting.theme)
        };
        let (heading, intro, subject) = match step {
            "update" => (
                format!("Modifié : {title}"),
                if what_changed.is_empty() {
                    "La réunion a changé depuis l'invitation : voici ce qui vaut désormais."
                        .to_string()
                } else {
                    format!(
                        "Ce qui change : {}. Voici la réunion telle qu'elle se tiendra.",
                        what_changed.join(" ; ")
                    )
                },
                format!("Modifié : {title}, {when}"),
            ),
            "invitation" => (
                title.clone(),
                "Vous êtes invité·e à la prochaine réunion du club. Voici son ordre du jour."
                    .to_string(),
                format!("Invitation : {title}, {when}"),
            ),
            "cancel" => (
                format!("Annulé : {title}"),
                format!("La réunion du {when} est annulée. Elle disparaît de votre agenda."),
                format!("Annulé : {title}, {when}"),
            ),
            "reminder" => (
                format!("C'est {day_word} : {title}"),
                format!(
                    "Rappel : la réunion a lieu {day_word}, {}.",
                    french_hours(starts, ends)
                ),
                format!("Rappel, {day_word} : {title}"),
            ),
            _ => (
                title.clone(),
                "Vous êtes invité·e à la prochaine réunion du club. Voici son ordre du jour."
                    .to_string(),
                format!("Ordre du jour : {title}, {when}"),
            ),
        };
        let public_url = &self.settings.server.public_url;
        let (yes_url, no_url, maybe_url) = (
            answer_link(public_url, "oui"),
            answer_link(public_url, "non"),
            answer_link(public_url, "peut-etre"),
        );
        let organisation = &self.settings.mail.from_name;
        let cancelled = step == "cancel";
        let preferences = super::compose::preferences_link(&self.settings.server.public_url);
        let html = MeetingHtml {
            heading: &heading,
            intro: &intro,
            cancelled,
            when: &when,
            theme: &meeting.theme,
            video_url: &series.video_url,
            items: &items,
            yes_url: &yes_url,
            no_url: &no_url,
            maybe_url: &maybe_url,
            with_calendar: step != "reminder",
            organisation,
            preferences: &preferences,
        }
        .render()?;
        let text = MeetingText {
            heading: &heading,
            intro: &intro,
            cancelled,
            when: &when,
            theme: &meeting.theme,
            video_url: &series.video_url,
            items: &items,
            yes_url: &yes_url,
            no_url: &no_url,
            maybe_url: &maybe_url,
            with_calendar: step != "reminder",
            organisation,
            preferences: &preferences,
        }
        .render()?;
        let (calendar, method) = if step == "reminder" {
            (String::new(), String::new())
        } else {
            let method = if cancelled {
                Method::Cancel
            } else {
                Method::Request
            };
            let attendees = self.store.attendees(meeting.id).await?;
            let people: Vec<Person> = attendees
                .iter()
                .map(|a| Person {
                    name: &a.name,
                    address: &a.address,
                })
                .collect();
            let description = if items.is_empty() {
                intro.clone()
            } else {
                items
                    .iter()
                    .enumerate()
                    .map(|(n, item)| format!("{}. {}", n + 1, item.title))
                    .collect::<Vec<_>>()
                    .join("\n")
            };
            let ics = calendar::invitation(&Invitation {
                method,
                uid: &meeting.uid,
                sequence: meeting.sequence,
                summary: &title,
                description: &description,
                starts,
                ends,
                video_url: &series.video_url,
                organizer: Person {
                    name: organisation,
                    address: &self.settings.mail.from_address,
                },
                attendees: &people,
                stamp: now,
            });
            (ics, method.as_str().to_string())
        };
        Ok(NewMessage {
            kind: format!("meeting_{step}"),
            cause_kind: "meeting".into(),
            cause_id: Some(meeting.id),
            subject,
            body_text: text,
            body_html: html,
            template_data: serde_json::json!({
                "meeting": meeting.id,
                "step": step,
                "sequence": meeting.sequence,
                "snapshot": snapshot,
                "changes": what_changed,
            }),
            // Sent by the schedule, not by a person: auto-responders must not answer it (RFC 3834).
            auto_submitted: true,
            calendar,
            calendar_method: method,
            ..Default::default()
        })
    }

    /// The minutes of `meeting` as a mail to its attendees (`relay`: false), or its flagged items as the
    /// relay to the member associations' list (`relay`: true).
    pub async fn minutes_message(
        &self,
        meeting: &Meeting,
        relay: bool,
    ) -> anyhow::Result<NewMessage> {
        let series = self.store.series(meeting.series_id).await?;
        let title = series.map_or("Réunion du club".to_string(), |s| s.title);
        let when = french_span(at_millis(meeting.starts_at), at_millis(meeting.ends_at));
        let flagged: Vec<ShownFlag> = self
            .store
            .minutes_items(meeting.id)
            .await?
            .into_iter()
            .map(|item| ShownFlag {
                kind: crate::store::minutes::minutes_kind_label(&item.kind),
                title: item.title,
                body: item.body,
            })
            .collect();
        let (heading, minutes, subject) = if relay {
            (
                format!("Bonnes pratiques et points de blocage : {title} du {when}"),
                "Relevés lors de la réunion du club, pour les associations membres et leurs territoires."
                    .to_string(),
                format!("Relais de la réunion du {when}"),
            )
        } else {
            (
                format!("Compte-rendu : {title} du {when}"),
                meeting.minutes.clone(),
                format!("Compte-rendu : {title} du {when}"),
            )
        };
        let minutes_html = super::newsletter::markdown_html(&minutes);
        let flagged_heading = "Bonnes pratiques et points de blocage";
        let organisation = &self.settings.mail.from_name;
        let preferences = super::compose::preferences_link(&self.settings.server.public_url);
        let mut message = NewMessage {
            kind: if relay {
                "meeting_relay".into()
            } else {
                "meeting_minutes".into()
            },
            cause_kind: "meeting".into(),
            cause_id: Some(meeting.id),
            subject,
            body_html: MinutesHtml {
                heading: &heading,
                minutes_html: &minutes_html,
                flagged: &flagged,
                flagged_heading,
                organisation,
                preferences: &preferences,
            }
            .render()?,
            body_text: MinutesText {
                heading: &heading,
                minutes: &minutes,
                flagged: &flagged,
                flagged_heading,
                organisation,
                preferences: &preferences,
            }
            .render()?,
            template_data: serde_json::json!({ "meeting": meeting.id, "relay": relay }),
            auto_submitted: true,
            ..Default::default()
        };
        if relay && let Some(list) = self.store.mailing_list(ASSOCIATIONS).await? {
            message.list_key = list.list_key;
            message.list_label = list.name;
            message.list_post = "NO".into();
        }
        Ok(message)
    }

    async fn remind_staff(&self, meeting: &Meeting, now: DateTime<Utc>) -> anyhow::Result<bool> {
        let starts = at_millis(meeting.starts_at);
        let when = french_span(starts, at_millis(meeting.ends_at));
        let due = crate::french::french_moment(starts - self.agenda_lead());
        self.staff_notice(
            meeting,
            "staff_reminder",
            &format!("Ordre du jour à préparer : réunion du {when}"),
            &[
                format!("L'ordre du jour de la réunion du {when} doit partir le {due}, et il n'est pas encore marqué prêt."),
                "Complétez-le et marquez-le prêt : il partira alors avec l'invitation. Sans cela, rien ne part.".to_string(),
            ],
            false,
            now,
        )
        .await
    }

    async fn tell_staff_late(&self, meeting: &Meeting, now: DateTime<Utc>) -> anyhow::Result<bool> {
        let starts = at_millis(meeting.starts_at);
        let when = french_span(starts, at_millis(meeting.ends_at));
        let days = (starts - now).num_days();
        self.staff_notice(
            meeting,
            "late_notice",
            &format!("Ordre du jour parti en retard : réunion du {when}"),
            &[format!(
                "L'ordre du jour est parti aujourd'hui, {} avant la réunion au lieu de {} : il n'était pas prêt à temps.",
                crate::french::count(days.max(0) as usize, "jour", "jours"),
                self.settings.meetings.agenda_days_before
            )],
            true,
            now,
        )
        .await
    }

    /// A notice to staff about a meeting, dispatched once under `step`.
    async fn staff_notice(
        &self,
        meeting: &Meeting,
        step: &str,
        title: &str,
        paragraphs: &[String],
        late: bool,
        now: DateTime<Utc>,
    ) -> anyhow::Result<bool> {
        let message = super::newsletter_schedule::staff_notice_message(
            &self.settings,
            title,
            paragraphs,
            &format!("/reunions/{}", meeting.id),
            "Ouvrir la réunion",
        )?;
        let message = NewMessage {
            kind: "meeting_notice".into(),
            cause_kind: "meeting_staff".into(),
            cause_id: Some(meeting.id),
            ..message
        };
        let recipients = self.store.staff_recipients().await?;
        Ok(self
            .store
            .dispatch_meeting_mail(
                meeting.id,
                step,
                0,
                late,
                Audience::Listed(recipients),
                &message,
                now.timestamp_millis(),
            )
            .await?
            .is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_series_meets_on_the_first_tuesday_every_two_months_at_two_in_paris() {
        let series = Series {
            id: 1,
            title: "Réunion du club".into(),
            rrule: "FREQ=MONTHLY;INTERVAL=2;BYDAY=1TU".into(),
            first_start: "2026-12-01T14:00".into(),
            duration_minutes: 120,
            video_url: String::new(),
            invite_members: true,
            invite_staff: true,
            ends_on: String::new(),
        };
        let from = paris_local("2026-11-20T00:00").unwrap();
        let to = paris_local("2027-06-30T00:00").unwrap();
        let found: Vec<String> = occurrences(&series, from, to)
            .unwrap()
            .into_iter()
            .map(|(start, end)| format!("{} {}", start.to_rfc3339(), end.to_rfc3339()))
            .collect();
        assert_eq!(
            found,
            vec![
                "2026-12-01T13:00:00+00:00 2026-12-01T15:00:00+00:00",
                "2027-02-02T13:00:00+00:00 2027-02-02T15:00:00+00:00",
                "2027-04-06T12:00:00+00:00 2027-04-06T14:00:00+00:00",
                "2027-06-01T12:00:00+00:00 2027-06-01T14:00:00+00:00",
            ]
        );
        assert_eq!(
            french_span(
                paris_local("2026-12-01T14:00").unwrap(),
                paris_local("2026-12-01T16:00").unwrap()
            ),
            "mardi 1er décembre 2026, 14:00–16:00"
        );
    }

    #[test]
    fn an_update_says_what_changed_in_french() {
        let item = |id: i64, title: &str| SnapshotItem {
            id,
            title: title.into(),
            ..Default::default()
        };
        let before = Snapshot {
            starts_at: paris_local("2027-02-02T14:00").unwrap().timestamp_millis(),
            ends_at: paris_local("2027-02-02T16:00").unwrap().timestamp_millis(),
            theme: String::new(),
            video_url: "https://visio.example/club".into(),
            items: vec![item(1, "Tour de table"), item(2, "Eau"), item(3, "Divers")],
        };
        let after = Snapshot {
            starts_at: paris_local("2027-02-02T15:00").unwrap().timestamp_millis(),
            ends_at: paris_local("2027-02-02T17:30").unwrap().timestamp_millis(),
            items: vec![
                item(1, "Tour de table"),
                item(2, "Accès à l'eau"),
                item(4, "Scolarisation"),
            ],
            ..before.clone()
        };
        assert_eq!(
            changes(&before, &after),
            vec![
                "l'horaire passe de 14 h – 16 h à 15 h – 17 h 30",
                "le point « Eau » devient « Accès à l'eau »",
                "« Divers » est retiré de l'ordre du jour",
                "nouveau point à l'ordre du jour : « Scolarisation »",
            ]
        );
        assert!(changes(&before, &before).is_empty());
        let moved = Snapshot {
            starts_at: paris_local("2027-02-09T14:00").unwrap().timestamp_millis(),
            ends_at: paris_local("2027-02-09T16:00").unwrap().timestamp_millis(),
            ..before.clone()
        };
        assert_eq!(
            changes(&before, &moved),
            vec![
                "la réunion est déplacée du mardi 2 février 2027, 14 h – 16 h au mardi 9 février 2027, 14 h – 16 h"
            ]
        );
    }
}
