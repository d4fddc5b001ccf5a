//! The kinds of mail relais sends and the states of a copy, with the French names people read: on the staff
//! pages ("Courriers envoyés") and in a person's data export. Codes stay in the database and the headers.

use super::code_enum;

code_enum! {
    /// Every kind of mail relais enqueues (`mail_messages.kind`), with its French name for staff pages.
    MailKind {
        Newsletter => "newsletter", "Lettre du club";
        NewsletterTest => "newsletter_test", "Lettre — envoi de test";
        NewsletterNotice => "newsletter_notice", "Lettre — rappel à l'équipe";
        NewsletterDigest => "newsletter_digest", "Lettre — bilan du mois";
        SubscriptionConfirmation => "subscription_confirmation", "Confirmation d'abonnement";
        PreferencesLink => "preferences_link", "Lien vers les préférences";
        BounceWarning => "bounce_warning", "Alerte d'adresse en échec";
        ListPost => "list_post", "Message de liste";
        ListDigest => "list_digest", "Liste — résumé du jour";
        ListHeld => "list_held", "Liste — message retenu";
        ListRejected => "list_rejected", "Liste — message refusé";
        ListHelp => "list_help", "Liste — aide";
        ListLeaveConfirm => "list_leave_confirm", "Liste — confirmation de départ";
        MeetingAgenda => "meeting_agenda", "Réunion — invitation et ordre du jour";
        MeetingUpdate => "meeting_update", "Réunion — modification";
        MeetingCancel => "meeting_cancel", "Réunion — annulation";
        MeetingReminder => "meeting_reminder", "Réunion — rappel de la veille";
        MeetingInvitation => "meeting_invitation", "Réunion — invitation d'un·e nouvel·le participant·e";
        MeetingMinutes => "meeting_minutes", "Réunion — compte rendu";
        MeetingRelay => "meeting_relay", "Réunion — relais aux associations";
        MeetingNotice => "meeting_notice", "Avis à l'équipe (réunion)";
        SurveyInvitation => "survey_invitation", "Recensement — invitation";
        SurveyReminder => "survey_reminder", "Recensement — rappel";
        Digest => "digest", "Relances du jour (équipe)";
        PasswordLink => "password_link", "Lien de mot de passe";
        PasswordReset => "password_reset", "Nouveau mot de passe";
        AccountInvitation => "account_invitation", "Création de compte";
        PartnerEvent => "partner_event", "Réseaux — événement d'un partenaire relayé";
        Test => "test", "Courrier de test";
    }
}

/// A placeholder for messages built but never enqueued (a dispatch recorded without mail); every enqueued
/// message names its kind.
impl Default for MailKind {
    fn default() -> Self {
        MailKind::Test
    }
}

impl PartialEq<&str> for MailKind {
    fn eq(&self, code: &&str) -> bool {
        self.as_str() == *code
    }
}

/// The French name of a stored kind. Rows written before a kind was renamed or dropped keep their code: it
/// reads "Autre courrier" rather than the code, and never fails the page.
pub fn mail_kind_label(code: &str) -> &'static str {
    MailKind::from_code(code)
        .ok()
        .map_or("Autre courrier", MailKind::label)
}

code_enum! {
    /// The states a delivery (`mail_deliveries.state`) goes through: `queued` (due at `next_attempt_at`,
    /// possibly leased), then `sent`, `bounced` (refused for good by the receiving server) or `failed`
    /// (temporary failures until the end of the retry schedule).
    DeliveryState {
        Sent => "sent", "envoyé";
        Queued => "queued", "en attente";
        Bounced => "bounced", "refusé";
        Failed => "failed", "abandonné";
    }
}

impl PartialEq<&str> for DeliveryState {
    fn eq(&self, code: &&str) -> bool {
        self.as_str() == *code
    }
}

/// The French name of a stored delivery state ("inconnu" for a code relais never writes).
pub fn delivery_state_label(code: &str) -> &'static str {
    DeliveryState::from_code(code)
        .ok()
        .map_or("inconnu", DeliveryState::label)
}

/// A delivery's last server reply as the person it concerns may read it: the folder transport's reply names
/// a file on the server, which says nothing to them and should not leave it.
pub fn public_reply(reply: &str) -> String {
    if reply.starts_with("écrit dans ") {
        "déposé dans le dossier d'envoi local".into()
    } else {
        reply.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_reads_in_french_and_unknown_ones_do_not_show_their_code() {
        assert_eq!(mail_kind_label("list_post"), "Message de liste");
        assert_eq!(mail_kind_label("newsletter_test"), "Lettre — envoi de test");
        assert_eq!(mail_kind_label("something_new"), "Autre courrier");
        assert_eq!(delivery_state_label("bounced"), "refusé");
    }

    #[test]
    fn stored_codes_are_read_exactly_and_round_trip() {
        for kind in MailKind::ALL {
            assert_eq!(MailKind::try_from(kind.as_str().to_string()), Ok(*kind));
            assert_eq!(
                serde_json::to_value(kind).unwrap(),
                serde_json::json!(kind.as_str())
            );
        }
        for state in DeliveryState::ALL {
            assert_eq!(
                DeliveryState::try_from(state.as_str().to_string()),
                Ok(*state)
            );
            assert_eq!(
                serde_json::to_value(state).unwrap(),
                serde_json::json!(state.as_str())
            );
        }
        // A label is for people: the database never holds one.
        assert!(MailKind::from_code("Message de liste").is_err());
        assert!(MailKind::try_from("something_new".to_string()).is_err());
        assert!(DeliveryState::try_from("lost".to_string()).is_err());
        assert!(DeliveryState::Sent == "sent" && DeliveryState::Queued != "sent");
    }

    #[test]
    fn a_folder_reply_does_not_name_the_file() {
        assert_eq!(
            public_reply("écrit dans data/outbox/7-7.eml"),
            "déposé dans le dossier d'envoi local"
        );
        assert_eq!(public_reply("250 2.0.0 Ok"), "250 2.0.0 Ok");
    }
}
