//! Two short messages to one address: `relais mail test`'s configuration check, and the mail that carries a
//! person's preferences link when they ask for it on the public page. (Their bodies are declared here, in
//! `mail/`, where `mail_body!` finds `src/mail/askama.toml` whichever crate builds relais.)

use super::body::{MailBody, mail_body};
use crate::config::Settings;
use crate::domain::EmailAddress;
use crate::domain::mail_kind::MailKind;
use crate::store::outbox::NewMessage;

mail_body! {
    /// The fields of `relais mail test`'s message (`test.txt`, `test.html`).
    struct TestBody<'a> ("test.txt", "test.html") {
        organisation: &'a str,
        public_url: &'a str,
        to: &'a str,
    }
}

mail_body! {
    /// The fields of the mail carrying a person's preferences link (`preferences_link.txt`, `preferences_link.html`).
    struct LinkBody<'a> ("preferences_link.txt", "preferences_link.html") {
        link: &'a str,
        organisation: &'a str,
    }
}

/// The message `relais mail test` sends to `to`, to check the mail settings end to end.
pub fn test_message(settings: &Settings, to: &EmailAddress) -> Result<NewMessage, askama::Error> {
    let bodies = TestBody {
        organisation: &settings.mail.from_name,
        public_url: &settings.server.public_url,
        to: to.as_str(),
    }
    .render_bodies()?;
    Ok(NewMessage {
        kind: MailKind::Test,
        cause_kind: "send_test".into(),
        cause_id: None,
        subject: "Essai de configuration de relais".into(),
        body_text: bodies.text,
        body_html: bodies.html,
        template_data: serde_json::json!({ "to": to.as_str() }),
        auto_submitted: true,
        ..Default::default()
    })
}

/// The mail that carries a person's preferences link (the link itself is personalised per copy).
pub fn preferences_link_message(settings: &Settings) -> Result<NewMessage, askama::Error> {
    let link = super::compose::preferences_link(&settings.server.public_url);
    let bodies = LinkBody {
        link: &link,
        organisation: &settings.mail.from_name,
    }
    .render_bodies()?;
    Ok(NewMessage {
        kind: MailKind::PreferencesLink,
        cause_kind: "preferences".into(),
        subject: "Votre lien vers vos préférences".into(),
        body_text: bodies.text,
        body_html: bodies.html,
        auto_submitted: true,
        ..Default::default()
    })
}
