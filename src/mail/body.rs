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
