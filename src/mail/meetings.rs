//! The meetings' mails: the agenda with its invitation, the update that says what changed ([`changes`],
//! against the [`Snapshot`] of what invitees last received), the day-before reminder, the cancellation, the
//! minutes and their relay to the member associations ([`meeting_message`], [`minutes_message`]), and the
//! occurrences of a series ([`occurrences`]). When each goes out is the scheduler's meetings job
//! (`crate::scheduler::meetings`); the staff pages render the minutes through the same functions.

use super::body::{MailBody, mail_body};
use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, Timelike, Utc};

use super::calendar::{self, Invitation, Method, Person};
use super::compose::answer_link;
use crate::clock::PARIS;
use crate::config::Settings;
use crate::domain::mail_kind::MailKind;
use crate::french::{french_day, french_span};
use crate::store::Store;
use crate::store::meeting_series::Series;
use crate::store::meetings::Meeting;
use crate::store::outbox::{ListHeaders, NewMessage};
use crate::store::resources::Resource;

/// The member associations' list, where flagged items of the minutes are relayed.
pub const ASSOCIATIONS: &str = "associations";

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

mail_body! {
    /// The fields of a meeting's mail: agenda, invitation, update, cancellation, reminder (`meeting.txt`, `meeting.html`).
    struct MeetingBody<'a> ("meeting.txt", "meeting.html") {
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
        with_calendar: bool,
        organisation: &'a str,
        preferences: &'a str,
    }
}

/// A flagged item of the minutes as mails show it.
pub struct ShownFlag {
    pub kind: &'static str,
    pub title: String,
    pub body: String,
}

mail_body! {
    /// The fields of a meeting's minutes, to members or relayed (`meeting_minutes.txt`, `meeting_minutes.html`).
    struct MinutesBody<'a> ("meeting_minutes.txt", "meeting_minutes.html") {
        heading: &'a str,
        minutes_html: &'a str,
        flagged: &'a [ShownFlag],
        flagged_heading: &'a str,
        organisation: &'a str,
        preferences: &'a str,
        minutes: &'a str,
    }
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

/// What invitees would read of `meeting` now.
pub async fn snapshot(store: &Store, meeting: &Meeting) -> anyhow::Result<Snapshot> {
    let series = store.series(meeting.series_id).await?;
    let items = store.agenda(meeting.id).await?;
    let linked = store.agenda_resources(meeting.id).await?;
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

/// A meeting's agenda as its mails show it, each item with its sheets (an uploaded document with its full
/// address: the mail is read outside relais).
async fn shown_agenda(
    store: &Store,
    settings: &Settings,
    meeting: &Meeting,
) -> anyhow::Result<Vec<ShownItem>> {
    let agenda = store.agenda(meeting.id).await?;
    let resources = store.agenda_resources(meeting.id).await?;
    Ok(agenda
        .into_iter()
        .map(|item| ShownItem {
            resources: resources
                .iter()
                .filter(|(item_id, _)| *item_id == item.id)
                .map(|(_, resource)| {
                    let mut resource = resource.clone();
                    if resource.url.starts_with('/') {
                        resource.url = format!("{}{}", settings.server.public_url, resource.url);
                    }
                    resource
                })
                .collect(),
            title: item.title,
            presenter: item.presenter,
            duration_minutes: item.duration_minutes,
            description: item.description,
        })
        .collect())
}

/// The heading, first sentence and subject of a meeting mail, by step.
fn step_words(
    step: &str,
    title: &str,
    when: &str,
    what_changed: &[String],
    day_word: &str,
    starts: DateTime<Utc>,
    ends: DateTime<Utc>,
) -> (String, String, String) {
    let title = title.to_string();
    match step {
        "update" => (
            format!("Modifié : {title}"),
            if what_changed.is_empty() {
                "La réunion a changé depuis l'invitation : voici ce qui vaut désormais.".to_string()
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
    }
}

/// What the calendar object of a meeting mail says besides the meeting itself.
struct CalendarText<'a> {
    step: &'a str,
    title: &'a str,
    intro: &'a str,
    items: &'a [ShownItem],
    video_url: &'a str,
}

/// The calendar object of a meeting mail and its method (REQUEST or CANCEL); none for the day-before
/// reminder.
async fn calendar_part(
    store: &Store,
    settings: &Settings,
    meeting: &Meeting,
    text: &CalendarText<'_>,
    (starts, ends): (DateTime<Utc>, DateTime<Utc>),
    now: DateTime<Utc>,
) -> anyhow::Result<Option<crate::store::outbox::Invitation>> {
    Ok(if text.step == "reminder" {
        None
    } else {
        let method = if text.step == "cancel" {
            Method::Cancel
        } else {
            Method::Request
        };
        let attendees = store.attendees(meeting.id).await?;
        let people: Vec<Person> = attendees
            .iter()
            .map(|a| Person {
                name: &a.name,
                address: &a.address,
            })
            .collect();
        let description = if text.items.is_empty() {
            text.intro.to_string()
        } else {
            text.items
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
            summary: text.title,
            description: &description,
            starts,
            ends,
            video_url: text.video_url,
            organizer: Person {
                name: &settings.mail.from_name,
                address: &settings.mail.from_address,
            },
            attendees: &people,
            stamp: now,
        });
        Some(crate::store::outbox::Invitation {
            ics,
            method: method.as_str().to_string(),
        })
    })
}

/// The mail of `step` for `meeting`: its agenda, with the invitation for all steps but the reminder.
pub async fn meeting_message(
    store: &Store,
    settings: &Settings,
    meeting: &Meeting,
    step: &str,
    now: DateTime<Utc>,
) -> anyhow::Result<NewMessage> {
    let series = store
        .series(meeting.series_id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("series {} missing", meeting.series_id))?;
    let items = shown_agenda(store, settings, meeting).await?;
    let snapshot = snapshot(store, meeting).await?;
    let starts = at_millis(meeting.starts_at);
    let ends = at_millis(meeting.ends_at);
    let when = french_span(starts, ends);
    let what_changed = serde_json::from_str::<Snapshot>(&meeting.sent_snapshot)
        .map(|before| changes(&before, &snapshot))
        .unwrap_or_default();
    let today = now.with_timezone(&PARIS).date_naive() == starts.with_timezone(&PARIS).date_naive();
    let day_word = if today { "aujourd'hui" } else { "demain" };
    let title = if meeting.theme.is_empty() {
        series.title.clone()
    } else {
        format!("{} : {}", series.title, meeting.theme)
    };
    let (heading, intro, subject) =
        step_words(step, &title, &when, &what_changed, day_word, starts, ends);
    let public_url = &settings.server.public_url;
    let (yes_url, no_url, maybe_url) = (
        answer_link(public_url, "oui"),
        answer_link(public_url, "non"),
        answer_link(public_url, "peut-etre"),
    );
    let organisation = &settings.mail.from_name;
    let cancelled = step == "cancel";
    let preferences = super::compose::preferences_link(&settings.server.public_url);
    let bodies = MeetingBody {
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
    .render_bodies()?;
    let kind = match step {
        "agenda" => MailKind::MeetingAgenda,
        "invitation" => MailKind::MeetingInvitation,
        "update" => MailKind::MeetingUpdate,
        "cancel" => MailKind::MeetingCancel,
        "reminder" => MailKind::MeetingReminder,
        other => anyhow::bail!("no meeting mail for step {other}"),
    };
    let invitation = calendar_part(
        store,
        settings,
        meeting,
        &CalendarText {
            step,
            title: &title,
            intro: &intro,
            items: &items,
            video_url: &series.video_url,
        },
        (starts, ends),
        now,
    )
    .await?;
    Ok(NewMessage {
        kind,
        cause_kind: "meeting".into(),
        cause_id: Some(meeting.id),
        subject,
        body_text: bodies.text,
        body_html: bodies.html,
        template_data: serde_json::json!({
            "meeting": meeting.id,
            "step": step,
            "sequence": meeting.sequence,
            "snapshot": snapshot,
            "changes": what_changed,
        }),
        // Sent by the schedule, not by a person: auto-responders must not answer it (RFC 3834).
        auto_submitted: true,
        invitation,
        ..Default::default()
    })
}

/// The minutes of `meeting` as a mail to its attendees (`relay`: false), or its flagged items as the
/// relay to the member associations' list (`relay`: true).
pub async fn minutes_message(
    store: &Store,
    settings: &Settings,
    meeting: &Meeting,
    relay: bool,
) -> anyhow::Result<NewMessage> {
    let series = store.series(meeting.series_id).await?;
    let title = series.map_or("Réunion du club".to_string(), |s| s.title);
    let when = french_span(at_millis(meeting.starts_at), at_millis(meeting.ends_at));
    let flagged: Vec<ShownFlag> = store
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
    let organisation = &settings.mail.from_name;
    let preferences = super::compose::preferences_link(&settings.server.public_url);
    let bodies = MinutesBody {
        heading: &heading,
        minutes_html: &minutes_html,
        flagged: &flagged,
        flagged_heading,
        organisation,
        preferences: &preferences,
        minutes: &minutes,
    }
    .render_bodies()?;
    let mut message = NewMessage {
        kind: if relay {
            MailKind::MeetingRelay
        } else {
            MailKind::MeetingMinutes
        },
        cause_kind: "meeting".into(),
        cause_id: Some(meeting.id),
        subject,
        body_html: bodies.html,
        body_text: bodies.text,
        template_data: serde_json::json!({ "meeting": meeting.id, "relay": relay }),
        auto_submitted: true,
        ..Default::default()
    };
    if relay && let Some(list) = store.mailing_list(ASSOCIATIONS).await? {
        message.list = Some(ListHeaders {
            key: list.list_key,
            label: list.name,
            post: Some("NO".into()),
        });
    }
    Ok(message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::french::paris_local;

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
