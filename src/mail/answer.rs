//! The automatic answers relais writes to a person about a list (a post waiting for review, the help of a
//! list, a leave to confirm, a subscription whose mail bounces): one template pair (`mail-templates/answer.*`,
//! the shared layout, readable on a phone), a title, paragraphs, a short list, one link and a closing
//! word. Every answer is `Auto-Submitted: auto-generated`; whether it may be sent at all is
//! [`crate::inbound::replies`]'s call.

use super::body::{MailBody, mail_body};

use crate::domain::mail_kind::MailKind;
use crate::store::outbox::NewMessage;

/// What an answer says.
#[derive(Debug, Clone, Default)]
pub struct Answer {
    /// `list_held`, `list_help`, `list_leave_confirm`, `bounce_warning`…
    pub kind: MailKind,
    pub cause_kind: &'static str,
    pub cause_id: Option<i64>,
    pub subject: String,
    /// The page's heading (usually the subject).
    pub title: String,
    pub paragraphs: Vec<String>,
    pub items: Vec<String>,
    /// Empty: no link.
    pub link: String,
    pub link_label: String,
    /// Said last, smaller (what to do if the person asked for nothing).
    pub closing: Vec<String>,
}

mail_body! {
    /// The fields of an automatic answer to a person (`answer.txt`, `answer.html`).
    struct AnswerBody<'a> ("answer.txt", "answer.html") {
        title: &'a str,
        paragraphs: &'a [String],
        items: &'a [String],
        link: &'a str,
        link_label: &'a str,
        closing: &'a [String],
        organisation: &'a str,
    }
}

impl Answer {
    /// The message, both bodies rendered, signed by `organisation`.
    pub fn message(&self, organisation: &str) -> Result<NewMessage, askama::Error> {
        let bodies = AnswerBody {
            title: &self.title,
            paragraphs: &self.paragraphs,
            items: &self.items,
            link: &self.link,
            link_label: &self.link_label,
            closing: &self.closing,
            organisation,
        }
        .render_bodies()?;
        Ok(NewMessage {
            kind: self.kind,
            cause_kind: self.cause_kind.into(),
            cause_id: self.cause_id,
            subject: self.subject.clone(),
            body_html: bodies.html,
            body_text: bodies.text,
            template_data: serde_json::json!({ "title": self.title }),
            auto_submitted: true,
            ..Default::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_renders_its_parts_in_both_bodies() {
        let message = Answer {
            kind: MailKind::ListHelp,
            cause_kind: "list_command",
            subject: "Aide : Échanges & co".into(),
            title: "Aide : Échanges & co".into(),
            paragraphs: vec!["Pour la liste « Échanges & co » :".into()],
            items: vec!["s'abonner : écrire à echanges-join@club.example".into()],
            link: "https://club.example/preferences".into(),
            link_label: "Gérer vos abonnements".into(),
            closing: vec!["Si vous n'avez rien demandé, ignorez ce message.".into()],
            ..Default::default()
        }
        .message("Le club")
        .unwrap();
        assert!(message.auto_submitted);
        assert!(
            message.body_html.contains("Échanges &#38; co")
                || message.body_html.contains("Échanges &amp; co")
        );
        assert!(
            message.body_html.contains("width=device-width"),
            "the shared layout"
        );
        assert!(
            message
                .body_text
                .contains("- s'abonner : écrire à echanges-join@club.example\n")
        );
        assert!(
            message
                .body_text
                .contains("Gérer vos abonnements : https://club.example/preferences")
        );
        assert!(
            message
                .body_text
                .ends_with("Le club — message automatique de relais.\n")
                || message
                    .body_text
                    .ends_with("Le club — message automatique de relais.")
        );
    }
}
