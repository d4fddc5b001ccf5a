//! The notices relais sends staff on its own (`mail-templates/staff_notice.*`): a title, a few paragraphs
//! and one link to the page where they act. The scheduler decides when each is due and claims it; this file
//! only says what each one reads.

use chrono::{DateTime, Utc};

use super::body::{MailBody, mail_body};
use crate::config::Settings;
use crate::domain::mail_kind::MailKind;
use crate::french::{french_moment, french_span};
use crate::store::meetings::Meeting;
use crate::store::newsletter::Issue;
use crate::store::outbox::NewMessage;

mail_body! {
    /// The fields of a staff notice (`staff_notice.txt`, `staff_notice.html`).
    struct NoticeBody<'a> ("staff_notice.txt", "staff_notice.html") {
        title: &'a str,
        paragraphs: &'a [String],
        link: &'a str,
        link_label: &'a str,
        organisation: &'a str,
    }
}

/// A notice to staff: a title, paragraphs and one link to a page of relais (`path`).
pub fn staff_notice_message(
    settings: &Settings,
    title: &str,
    paragraphs: &[String],
    path: &str,
    link_label: &str,
) -> anyhow::Result<NewMessage> {
    let link = format!("{}{path}", settings.server.public_url);
    let bodies = NoticeBody {
        title,
        paragraphs,
        link: &link,
        link_label,
        organisation: &settings.mail.from_name,
    }
    .render_bodies()?;
    Ok(NewMessage {
        kind: MailKind::NewsletterNotice,
        cause_kind: "newsletter_schedule".into(),
        subject: title.to_string(),
        body_text: bodies.text,
        body_html: bodies.html,
        template_data: serde_json::json!({ "title": title }),
        auto_submitted: true,
        ..Default::default()
    })
}

/// A newsletter date passed and `issue`, planned for it, was not ready: it was not sent.
pub fn issue_not_ready(
    settings: &Settings,
    issue: &Issue,
    date: DateTime<Utc>,
) -> anyhow::Result<NewMessage> {
    let when = french_moment(date);
    staff_notice_message(
        settings,
        &format!("La lettre du {when} n'est pas partie"),
        &[
            format!(
                "Le numéro « {} » était prévu pour le {when}, mais il n'était pas marqué prêt : \
                 il n'a pas été envoyé.",
                issue.title
            ),
            "Relisez-le, choisissez une nouvelle date et marquez-le prêt, ou envoyez-le \
             maintenant depuis sa page."
                .to_string(),
        ],
        &format!("/lettre/numeros/{}", issue.id),
        "Ouvrir le numéro",
    )
}

/// Some days before a newsletter date: what is planned for it (`planned`, the first issue), and what staff
/// still have to do.
pub fn issue_coming(
    settings: &Settings,
    date: DateTime<Utc>,
    planned: Option<&Issue>,
) -> anyhow::Result<NewMessage> {
    let when = french_moment(date);
    let (state, link) = match planned {
        None => (
            "Aucun numéro n'est prévu pour cette date : rassemblez les éléments dans un numéro, \
             choisissez cette date et marquez-le prêt."
                .to_string(),
            "/lettre".to_string(),
        ),
        Some(issue) if issue.state == "ready" => (
            format!(
                "Le numéro « {} » est prêt : il partira à cette date, sans autre action.",
                issue.title
            ),
            format!("/lettre/numeros/{}", issue.id),
        ),
        Some(issue) => (
            format!(
                "Le numéro « {} » est encore en brouillon : relisez-le et marquez-le prêt, \
                 sinon il ne partira pas.",
                issue.title
            ),
            format!("/lettre/numeros/{}", issue.id),
        ),
    };
    staff_notice_message(
        settings,
        &format!("La lettre du {when} se prépare"),
        &[format!("La prochaine lettre part le {when}."), state],
        &link,
        "Préparer la lettre",
    )
}

/// The agenda of `meeting` should go at `due` and is not marked ready.
pub fn agenda_to_prepare(
    settings: &Settings,
    meeting: &Meeting,
    due: DateTime<Utc>,
) -> anyhow::Result<NewMessage> {
    let when = meeting_span(meeting);
    let due = french_moment(due);
    meeting_notice(
        settings,
        meeting,
        &format!("Ordre du jour à préparer : réunion du {when}"),
        &[
            format!("L'ordre du jour de la réunion du {when} doit partir le {due}, et il n'est pas encore marqué prêt."),
            "Complétez-le et marquez-le prêt : il partira alors avec l'invitation. Sans cela, rien ne part.".to_string(),
        ],
    )
}

/// The agenda of `meeting` went out late, `days` before it instead of `meetings.agenda_days_before`.
pub fn agenda_late(
    settings: &Settings,
    meeting: &Meeting,
    days: i64,
) -> anyhow::Result<NewMessage> {
    let when = meeting_span(meeting);
    meeting_notice(
        settings,
        meeting,
        &format!("Ordre du jour parti en retard : réunion du {when}"),
        &[format!(
            "L'ordre du jour est parti aujourd'hui, {} avant la réunion au lieu de {} : il n'était pas prêt à temps.",
            crate::french::count(days.max(0) as usize, "jour", "jours"),
            settings.meetings.agenda_days_before
        )],
    )
}

/// The deliveries of `list` to `address` bounced for days and are suspended.
pub fn deliveries_suspended(
    settings: &Settings,
    list: &str,
    address: &str,
) -> anyhow::Result<NewMessage> {
    staff_notice_message(
        settings,
        &format!("Envois suspendus : {address}"),
        &[format!(
            "Les courriers de « {list} » à {address} sont revenus en erreur plusieurs jours de suite : leur envoi est suspendu et la personne est prévenue."
        )],
        "/courriers/recus",
        "Voir les courriers reçus",
    )
}

/// A notice about a meeting, linked to its page.
fn meeting_notice(
    settings: &Settings,
    meeting: &Meeting,
    title: &str,
    paragraphs: &[String],
) -> anyhow::Result<NewMessage> {
    let message = staff_notice_message(
        settings,
        title,
        paragraphs,
        &format!("/reunions/{}", meeting.id),
        "Ouvrir la réunion",
    )?;
    Ok(NewMessage {
        kind: MailKind::MeetingNotice,
        cause_kind: "meeting_staff".into(),
        cause_id: Some(meeting.id),
        ..message
    })
}

fn meeting_span(meeting: &Meeting) -> String {
    let at = |millis| DateTime::from_timestamp_millis(millis).unwrap_or_default();
    french_span(at(meeting.starts_at), at(meeting.ends_at))
}
