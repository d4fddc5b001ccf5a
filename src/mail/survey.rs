//! The needs survey's mails: the personal invitation and, after `reminder_days` without an answer, one
//! reminder (sent by the scheduler's survey reminders job, [`send_reminders`]). Each carries the invitation's
//! signed link, so a reminder reuses the same link and a draft started from the first mail is kept.

use super::body::{MailBody, mail_body};

use super::unsubscribe::{Purpose, UnsubscribeKey};
use crate::config::Settings;
use crate::domain::mail_kind::MailKind;
use crate::store::Store;
use crate::store::outbox::NewMessage;
use crate::store::survey::Survey;

mail_body! {
    /// The fields of a survey invitation or its reminder (`survey_invitation.txt`, `survey_invitation.html`).
    struct InvitationBody<'a> ("survey_invitation.txt", "survey_invitation.html") {
        subject: &'a str,
        name: &'a str,
        reminder: bool,
        link: &'a str,
        expires: &'a str,
        organisation: &'a str,
        preferences: &'a str,
    }
}

/// The invitation (or its reminder) of invitation `id` to `name`, valid until `expires_at`.
pub fn invitation_message(
    settings: &Settings,
    key: &UnsubscribeKey,
    survey: &Survey,
    id: i64,
    name: &str,
    expires_at: i64,
    reminder: bool,
) -> Result<NewMessage, askama::Error> {
    let link = format!(
        "{}/enquete/{}",
        settings.server.public_url,
        key.token_for(Purpose::Survey, id)
    );
    let expires = crate::french::french_date(Some(crate::french::paris_day(expires_at)));
    let subject = if reminder {
        format!("Rappel : {}", survey.title)
    } else {
        format!("{} du Club des collectivités engagées", survey.title)
    };
    let organisation = &settings.mail.from_name;
    let preferences = super::compose::preferences_link(&settings.server.public_url);
    let bodies = InvitationBody {
        subject: &subject,
        name,
        reminder,
        link: &link,
        expires: &expires,
        organisation,
        preferences: &preferences,
    }
    .render_bodies()?;
    Ok(NewMessage {
        kind: if reminder {
            MailKind::SurveyReminder
        } else {
            MailKind::SurveyInvitation
        },
        cause_kind: "survey_invitation".into(),
        cause_id: Some(id),
        // Written by relais for each contact: auto-responders must not answer it (RFC 3834).
        auto_submitted: true,
        body_html: bodies.html,
        body_text: bodies.text,
        subject,
        template_data: serde_json::json!({ "invitation": id, "reminder": reminder }),
        ..Default::default()
    })
}

/// Sends the reminders due at `now` (once each); returns how many.
pub async fn send_reminders(store: &Store, settings: &Settings, now: i64) -> anyhow::Result<usize> {
    let survey = store.survey().await?;
    let due = store
        .survey_reminders_due(now - survey.reminder_days * 86_400_000, now)
        .await?;
    if due.is_empty() {
        return Ok(0);
    }
    let key = UnsubscribeKey::new(&store.secret("unsubscribe").await?);
    let mut sent = 0;
    for invitation in due {
        let message = invitation_message(
            settings,
            &key,
            &survey,
            invitation.id,
            &invitation.name,
            invitation.expires_at,
            true,
        )?;
        if store
            .send_survey_reminder(&invitation, &message, now)
            .await?
        {
            sent += 1;
        }
    }
    Ok(sent)
}
