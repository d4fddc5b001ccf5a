//! The closed vocabularies of mailing lists: what a list is, who may write to it, where replies go.
//!
//! The codes are the ones stored in `mailing_lists` (`kind`, `post_policy`, `reply_to`); the labels are the
//! words the lists' pages use.

use super::code_enum;

code_enum! {
    /// What a list is: the newsletter, where only staff write, or a list its subscribers write to.
    ListKind {
        Announce => "announce", "annonce";
        Discussion => "discussion", "discussion";
    }
}

code_enum! {
    /// Who may post to a discussion list without being held for review.
    PostPolicy {
        Members => "members", "les abonné·es (les autres sont relus)";
        Moderated => "moderated", "tout message est relu";
    }
}

code_enum! {
    /// Where the replies to a list's posts go.
    ReplyTo {
        List => "list", "à la liste";
        Sender => "sender", "à l'auteur";
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_codes_read_exactly_and_unknown_ones_are_named() {
        assert_eq!(ListKind::from_code("announce"), Ok(ListKind::Announce));
        assert_eq!(
            PostPolicy::from_code("moderated"),
            Ok(PostPolicy::Moderated)
        );
        assert_eq!(ReplyTo::try_from("sender".to_string()), Ok(ReplyTo::Sender));
        // A label is for people and forms, not a stored code.
        let error = ReplyTo::from_code("à la liste").unwrap_err();
        assert_eq!(error.to_string(), "unknown ReplyTo code \"à la liste\"");
    }
}
