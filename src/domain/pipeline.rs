//! The outreach pipeline: stages, lead sources, political colours, priorities and interaction kinds.

use super::code_enum;

code_enum! {
    /// Where a target stands. `Declined` and `OnHold` are exits; every other stage is a step of the funnel.
    /// Plural and feminine forms of each word are read too (see `docs/VOCABULARY.md`).
    Stage {
        Identified => "identified", "Identifiée" | "identifie" | "a contacter" | "nouvelle" | "repere";
        Contacted => "contacted", "Contactée" | "contacte" | "contact pris" | "premier contact";
        InDiscussion => "in_discussion", "En discussion" | "discussion" | "en cours" | "echanges en cours";
        SurveySent => "survey_sent", "Questionnaire envoyé";
        SurveyAnswered => "survey_answered", "Questionnaire reçu" | "questionnaire repondu" | "questionnaire rempli";
        Member => "member", "Membre" | "adherente" | "adhesion" | "adherent";
        Declined => "declined", "Refus" | "declinee" | "refusee" | "pas interessee";
        OnHold => "on_hold", "En pause" | "en attente" | "pause" | "suspendue";
    }
}

impl Stage {
    /// The funnel stages in order, without the exits.
    pub const FUNNEL: &'static [Stage] = &[
        Stage::Identified,
        Stage::Contacted,
        Stage::InDiscussion,
        Stage::SurveySent,
        Stage::SurveyAnswered,
        Stage::Member,
    ];

    pub fn is_exit(self) -> bool {
        matches!(self, Stage::Declined | Stage::OnHold)
    }

    /// Position in the funnel (exits come last), for sorting and for counting "reached at least".
    pub fn rank(self) -> usize {
        Stage::ALL
            .iter()
            .position(|s| *s == self)
            .unwrap_or(usize::MAX)
    }
}

code_enum! {
    /// How the collective came to know the collectivity.
    LeadSource {
        SocialMedia => "social_media", "Abonnée réseaux sociaux" | "reseaux sociaux" | "reseau social" | "follower";
        KnownToCollective => "known_to_collective", "Connue du collectif" | "collectif";
        KnownToMemberAssociation => "known_to_member_association", "Connue d'une association membre" | "association membre" | "association";
        DecentralisedCooperation => "decentralised_cooperation", "Coopération décentralisée" | "cooperation" | "jumelage";
        Other => "other", "Autre";
    }
}

code_enum! {
    /// The political colour of the executive, kept to keep the pipeline diverse. The Ministry's nuances
    /// ("Divers gauche", `LDVG`) are read by [`super::PoliticalReading`], which maps each onto one of these.
    PoliticalColour {
        Left => "left", "Gauche" | "PS" | "PCF" | "LFI";
        Green => "green", "Écologiste" | "EELV" | "verts";
        Centre => "centre", "Centre" | "Renaissance" | "Modem";
        Right => "right", "Droite" | "LR";
        Various => "various", "Divers";
        NonPartisan => "non_partisan", "Sans étiquette" | "SE";
        Unknown => "unknown", "Inconnue" | "NC" | "?";
    }
}

code_enum! {
    /// How urgent the follow-up of a target is.
    Priority {
        High => "high", "Haute" | "elevee" | "forte" | "urgente" | "prioritaire";
        Normal => "normal", "Normale" | "moyenne" | "standard";
        Low => "low", "Basse" | "faible";
    }
}

code_enum! {
    /// The channel of an interaction with a target.
    InteractionKind {
        Email => "email", "Email" | "mail" | "courriel";
        PhoneCall => "phone_call", "Appel" | "telephone";
        Letter => "letter", "Courrier" | "lettre";
        Postcard => "postcard", "Carte postale";
        Meeting => "meeting", "Rencontre" | "reunion";
        Survey => "survey", "Questionnaire" | "recensement";
        Other => "other", "Autre";
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stages_parse_from_codes_and_french_labels() {
        assert_eq!(Stage::parse("in_discussion"), Some(Stage::InDiscussion));
        assert_eq!(Stage::parse("En discussion"), Some(Stage::InDiscussion));
        assert_eq!(
            Stage::parse("Questionnaire envoyé"),
            Some(Stage::SurveySent)
        );
        assert_eq!(Stage::parse("CONTACTÉE"), Some(Stage::Contacted));
        assert_eq!(Stage::parse("perdu"), None);
    }

    #[test]
    fn stages_read_plural_feminine_and_the_words_staff_use() {
        assert_eq!(Stage::parse("Identifiées"), Some(Stage::Identified));
        assert_eq!(Stage::parse("identifiés"), Some(Stage::Identified));
        assert_eq!(Stage::parse("Contactés"), Some(Stage::Contacted));
        assert_eq!(Stage::parse("en discussion"), Some(Stage::InDiscussion));
        assert_eq!(Stage::parse("Membres"), Some(Stage::Member));
        assert_eq!(Stage::parse("Adhérentes"), Some(Stage::Member));
        assert_eq!(Stage::parse("Refusées"), Some(Stage::Declined));
        assert_eq!(
            Stage::parse("Questionnaires envoyés"),
            Some(Stage::SurveySent)
        );
    }

    #[test]
    fn sources_and_priorities_read_the_words_staff_use() {
        assert_eq!(
            LeadSource::parse("Réseau social"),
            Some(LeadSource::SocialMedia)
        );
        assert_eq!(
            LeadSource::parse("connu du collectif"),
            Some(LeadSource::KnownToCollective)
        );
        assert_eq!(Priority::parse("HAUT"), Some(Priority::High));
        assert_eq!(Priority::parse("Élevée"), Some(Priority::High));
        assert_eq!(Priority::parse("normal"), Some(Priority::Normal));
        assert_eq!(Priority::parse("faible"), Some(Priority::Low));
        assert_eq!(Priority::parse("vite"), None);
    }

    #[test]
    fn funnel_order_puts_exits_last() {
        assert!(Stage::Identified.rank() < Stage::Member.rank());
        assert!(Stage::Member.rank() < Stage::Declined.rank());
        assert!(Stage::OnHold.is_exit() && !Stage::Member.is_exit());
    }

    #[test]
    fn colours_accept_party_abbreviations() {
        assert_eq!(PoliticalColour::parse("EELV"), Some(PoliticalColour::Green));
        assert_eq!(
            PoliticalColour::parse("sans etiquette"),
            Some(PoliticalColour::NonPartisan)
        );
    }
}
