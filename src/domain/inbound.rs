//! What became of a received mail, per recipient (`inbound_recipients.kind` and `.state`), with the French
//! names staff read on "Courriers reçus".

use super::code_enum;

code_enum! {
    /// What a received mail turned out to be for one recipient.
    InboundKind {
        Post => "post", "message à une liste";
        Command => "command", "commande de liste";
        Bounce => "bounce", "retour en erreur";
        Unsubscribe => "unsubscribe", "désabonnement";
        Abuse => "abuse", "signalement comme indésirable";
        CalendarReply => "calendar_reply", "réponse d'agenda";
        Staff => "staff", "pour l'équipe";
        Other => "other", "autre";
    }
}

code_enum! {
    /// Where a received recipient stands: stored, being routed, then the outcome of its routing (`done`,
    /// `held`, `refused`, `failed`), and for a held post what moderation decided.
    InboundState {
        Received => "received", "reçu, pas encore traité";
        Routing => "routing", "en cours";
        Done => "done", "traité";
        Held => "held", "en attente de modération";
        Distributed => "distributed", "diffusé après modération";
        Rejected => "rejected", "refusé par la modération";
        Discarded => "discarded", "écarté par la modération";
        Refused => "refused", "refusé";
        Failed => "failed", "en échec";
    }
}

impl InboundState {
    /// The shorter name a row of the list shows (the filter's names say more): a recipient not yet routed
    /// is "en cours" like one being routed, and a held post is "en attente".
    pub fn short_label(self) -> &'static str {
        match self {
            InboundState::Received | InboundState::Routing => "en cours",
            InboundState::Held => "en attente",
            other => other.label(),
        }
    }
}

/// The short name of a stored state ([`InboundState::short_label`]); a code relais does not know reads as a
/// failure.
pub fn inbound_state_label(code: &str) -> &'static str {
    InboundState::from_code(code).map_or("en échec", InboundState::short_label)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_show_short_state_names_and_unknown_codes_read_as_failures() {
        assert_eq!(inbound_state_label("received"), "en cours");
        assert_eq!(inbound_state_label("routing"), "en cours");
        assert_eq!(inbound_state_label("held"), "en attente");
        assert_eq!(inbound_state_label("done"), "traité");
        assert_eq!(
            inbound_state_label("distributed"),
            "diffusé après modération"
        );
        assert_eq!(inbound_state_label("refused"), "refusé");
        assert_eq!(inbound_state_label("failed"), "en échec");
        assert_eq!(inbound_state_label("lost"), "en échec");
        assert_eq!(InboundState::Held.label(), "en attente de modération");
    }

    #[test]
    fn codes_are_read_exactly() {
        for kind in InboundKind::ALL {
            assert_eq!(InboundKind::from_code(kind.as_str()).ok(), Some(*kind));
        }
        for state in InboundState::ALL {
            assert_eq!(InboundState::from_code(state.as_str()).ok(), Some(*state));
        }
        assert!(InboundKind::from_code("autre").is_err());
    }
}
