//! A mail's two bodies from one set of fields. Each kind of mail declares its fields once with
//! [`mail_body!`], naming its plain-text and HTML templates (`mail-templates/`); both render from the same
//! value, so a field cannot be added to one body and forgotten in the other, and the two cannot drift apart.

/// The plain-text and HTML bodies of one mail.
#[derive(Debug, Clone)]
pub struct Bodies {
    pub text: String,
    pub html: String,
}

/// What every body declared with [`mail_body!`] can do.
pub trait MailBody {
    /// Renders both templates from these fields.
    fn render_bodies(&self) -> askama::Result<Bodies>;
}

/// Declares the fields of a mail kind and its two templates:
///
/// ```ignore
/// mail_body! {
///     /// The staff notice.
///     pub struct NoticeBody<'a> ("staff_notice.txt", "staff_notice.html") {
///         title: &'a str,
///         link: &'a str,
///     }
/// }
/// let bodies = NoticeBody { title, link }.render_bodies()?;
/// ```
///
/// Each template reads the fields by name, as if they were its own (a private wrapper dereferences to the
/// fields); a template may leave a field unused (the text body has no title heading, for instance).
macro_rules! mail_body {
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident $(<$lt:lifetime>)? ($text:tt, $html:tt) {
            $($(#[$field_meta:meta])* $field:ident : $type:ty),* $(,)?
        }
    ) => {
        $(#[$meta])*
        $vis struct $name $(<$lt>)? {
            $($(#[$field_meta])* pub $field: $type),*
        }

        impl $(<$lt>)? $crate::mail::body::MailBody for $name $(<$lt>)? {
            fn render_bodies(&self) -> askama::Result<$crate::mail::body::Bodies> {
                #[derive(askama::Template)]
                #[template(path = $text, config = "src/mail/askama.toml")]
                struct Text<'fields $(, $lt)?> {
                    fields: &'fields $name $(<$lt>)?,
                }
                impl<$($lt)?> std::ops::Deref for Text<'_ $(, $lt)?> {
                    type Target = $name $(<$lt>)?;
                    fn deref(&self) -> &Self::Target {
                        self.fields
                    }
                }
                #[derive(askama::Template)]
                #[template(path = $html, config = "src/mail/askama.toml")]
                struct Html<'fields $(, $lt)?> {
                    fields: &'fields $name $(<$lt>)?,
                }
                impl<$($lt)?> std::ops::Deref for Html<'_ $(, $lt)?> {
                    type Target = $name $(<$lt>)?;
                    fn deref(&self) -> &Self::Target {
                        self.fields
                    }
                }
                use askama::Template as _;
                Ok($crate::mail::body::Bodies {
                    text: Text { fields: self }.render()?,
                    html: Html { fields: self }.render()?,
                })
            }
        }
    };
}
pub(crate) use mail_body;

#[cfg(test)]
mod tests {
    use super::*;

    mail_body! {
        struct ConfirmFields<'a> ("subscribe_confirm.txt", "subscribe_confirm.html") {
            list: &'a str,
            link: &'a str,
            hours: i64,
            organisation: &'a str,
        }
    }

    #[test]
    fn both_bodies_render_from_the_same_fields_and_only_the_html_is_escaped() {
        let bodies = ConfirmFields {
            list: "la lettre <du club>",
            link: "https://relais.example/abonnement/confirmer/abc",
            hours: 48,
            organisation: "Club & co",
        }
        .render_bodies()
        .unwrap();
        for body in [&bodies.text, &bodies.html] {
            assert!(body.contains("https://relais.example/abonnement/confirmer/abc"));
            assert!(body.contains("48"));
        }
        assert!(
            bodies.text.contains("la lettre <du club>"),
            "{}",
            bodies.text
        );
        assert!(bodies.text.contains("Club & co"));
        assert!(!bodies.html.contains("<du club>"), "{}", bodies.html);
        assert!(bodies.html.contains("Club &#38; co") || bodies.html.contains("Club &amp; co"));
    }
}
