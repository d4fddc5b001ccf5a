//! The kinds of mail relais sends and the states of a copy, with the French names people read: on the staff
//! pages ("Courriers envoyés") and in a person's data export. Codes stay in the database and the headers.

/// Every kind of mail relais enqueues (`mail_messages.kind`), with its French name for staff pages. A kind
/// missing here reads "Autre courrier" rather than its code.
pub const MAIL_KINDS: &[(&str, &str)] = &[
    ("newsletter", "Lettre du club"),
    ("newsletter_test", "Lettre — envoi de test"),
    ("newsletter_notice", "Lettre — rappel à l'équipe"),
    ("newsletter_digest", "Lettre — bilan du mois"),
    ("subscription_confirmation", "Confirmation d'abonnement"),
    ("preferences_link", "Lien vers les préférences"),
    ("bounce_warning", "Alerte d'adresse en échec"),
    ("list_post", "Message de liste"),
    ("list_digest", "Liste — résumé du jour"),
    ("list_held", "Liste — message retenu"),
    ("list_rejected", "Liste — message refusé"),
    ("list_help", "Liste — aide"),
    ("list_leave_confirm", "Liste — confirmation de départ"),
    ("meeting_agenda", "Réunion — invitation et ordre du jour"),
    ("meeting_update", "Réunion — modification"),
    ("meeting_cancel", "Réunion — annulation"),
    ("meeting_reminder", "Réunion — rappel de la veille"),
    ("meeting_notice", "Avis à l'équipe (réunion)"),
    ("survey_invitation", "Recensement — invitation"),
    ("survey_reminder", "Recensement — rappel"),
    ("digest", "Relances du jour (équipe)"),
    ("password_reset", "Nouveau mot de passe"),
    ("account_invitation", "Création de compte"),
    ("test", "Courrier de test"),
];

pub fn mail_kind_label(code: &str) -> &'static str {
    MAIL_KINDS
        .iter()
        .find(|(kind, _)| *kind == code)
        .map_or("Autre courrier", |(_, label)| label)
}

/// The delivery states of a copy (`mail_deliveries.state`) and their French names.
pub const DELIVERY_STATES: &[(&str, &str)] = &[
    ("sent", "envoyé"),
    ("queued", "en attente"),
    ("bounced", "refusé"),
    ("failed", "abandonné"),
];

pub fn delivery_state_label(code: &str) -> &'static str {
    DELIVERY_STATES
        .iter()
        .find(|(state, _)| *state == code)
        .map_or("inconnu", |(_, label)| label)
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
    fn a_folder_reply_does_not_name_the_file() {
        assert_eq!(
            public_reply("écrit dans data/outbox/7-7.eml"),
            "déposé dans le dossier d'envoi local"
        );
        assert_eq!(public_reply("250 2.0.0 Ok"), "250 2.0.0 Ok");
    }
}
