//! A partner network's event relayed by mail to the representatives of the club's member collectivities:
//! what it is, when, where to learn more, and that answering the mail reaches the club's staff (who join
//! it for the club from the "Réseaux" page).

use super::body::{MailBody, mail_body};
use crate::config::Settings;
use crate::domain::mail_kind::MailKind;
use crate::store::federation_objects::RemoteObject;
use crate::store::outbox::NewMessage;

mail_body! {
    /// The fields of the relayed event (`partner_event.txt`, `partner_event.html`).
    struct PartnerEventBody<'a> ("partner_event.txt", "partner_event.html") {
        network: &'a str,
        name: &'a str,
        when: &'a str,
        summary: &'a str,
        link: &'a str,
        online: &'a str,
        preferences: &'a str,
        organisation: &'a str,
    }
}

/// The mail relaying `event`, published by the partner `network`.
pub fn partner_event_message(
    settings: &Settings,
    network: &str,
    event: &RemoteObject,
) -> Result<NewMessage, askama::Error> {
    let when = match (event.starts_at, event.ends_at) {
        (Some(start), Some(end)) => crate::french::french_span(at(start), at(end)),
        (Some(start), None) => crate::french::french_datetime(start),
        _ => String::new(),
    };
    let summary = if event.summary.is_empty() {
        event.content.chars().take(1_500).collect()
    } else {
        event.summary.clone()
    };
    let preferences = super::compose::preferences_link(&settings.server.public_url);
    let bodies = PartnerEventBody {
        network,
        name: &event.name,
        when: &when,
        summary: &summary,
        link: &event.page_url,
        online: &event.online_url,
        preferences: &preferences,
        organisation: &settings.mail.from_name,
    }
    .render_bodies()?;
    Ok(NewMessage {
        kind: MailKind::PartnerEvent,
        cause_kind: "partner_event".into(),
        cause_id: Some(event.id),
        subject: format!("{network} : {}", event.name),
        body_text: bodies.text,
        body_html: bodies.html,
        template_data: serde_json::json!({ "network": network, "event": event.object_url }),
        ..Default::default()
    })
}

fn at(millis: i64) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp_millis(millis).unwrap_or_default()
}
