//! One recipient's copy of a message: headers, the bounce address naming the delivery (VERP), and the
//! plain-text and HTML alternatives.
//!
//! The body is encoded once per message ([`PreparedMessage`]), yet every copy carries its own preferences
//! link: templates write [`PERSONAL_PLACEHOLDER`] where the token goes, and [`fill_placeholder`] writes the
//! copy's token over it in the encoded bytes. Both have the same length and only characters that
//! quoted-printable leaves as they are, so the encoding stays valid; a soft line break that fell inside the
//! placeholder is stepped over.

use lettre::address::Envelope;
use lettre::message::header::{ContentTransferEncoding, ContentType};
use lettre::message::header::{HeaderName, HeaderValue, Headers};
use lettre::message::{Mailbox, Mailboxes, MultiPart, SinglePart};
use lettre::{Address, Message};

use crate::config::MailSettings;
use crate::store::outbox::{ClaimedDelivery, MailMessage};

/// The headers a message may carry of its own ([`MailMessage::headers`]), written as they are.
const OWN_HEADERS: &[&str] = &["In-Reply-To", "References", "Archived-At"];

/// Own headers that hold addresses: parsed and written again by lettre (quoting, RFC 2047 names).
const ADDRESS_HEADERS: &[&str] = &["Reply-To", "Cc", "X-Original-From"];

/// A copy ready for a transport: the SMTP envelope and the formatted message.
pub struct Copy {
    pub envelope: Envelope,
    pub raw: Vec<u8>,
}

/// Stands for the recipient's preferences token in a message's body until each copy is composed: as long as
/// a token, and made of characters quoted-printable never escapes.
pub const PERSONAL_PLACEHOLDER: &str = "RELAISxPERSONALxLINKxPLACEHOLDER";

/// Stands for the recipient's token to answer a meeting invitation, like [`PERSONAL_PLACEHOLDER`].
pub const ANSWER_PLACEHOLDER: &str = "RELAISxANSWERxLINKxPLACEHOLDERxx";

/// The preferences link templates write; each copy gets its recipient's own.
pub fn preferences_link(public_url: &str) -> String {
    format!("{public_url}/preferences/{PERSONAL_PLACEHOLDER}")
}

/// The link to answer a meeting invitation (`answer`: `oui`, `non`, `peut-etre`); each copy gets its own.
pub fn answer_link(public_url: &str, answer: &str) -> String {
    format!("{public_url}/reunions/reponse/{ANSWER_PLACEHOLDER}?r={answer}")
}

/// The links a copy carries.
pub struct Links {
    /// Where relais is reached (`server.public_url`).
    pub public_url: String,
    /// The signed unsubscribe token of this delivery, for list and newsletter mail.
    pub unsubscribe_token: Option<String>,
    /// The signed token of the recipient's preferences page, written over [`PERSONAL_PLACEHOLDER`].
    pub preferences_token: String,
    /// The signed token that answers a meeting invitation, written over [`ANSWER_PLACEHOLDER`].
    pub answer_token: String,
}

impl Links {
    /// The links of `delivery_id`'s copy of `message`: an unsubscribe link only on list and newsletter mail.
    pub fn for_delivery(
        public_url: &str,
        unsubscribe: &super::unsubscribe::UnsubscribeKey,
        message: &MailMessage,
        delivery_id: i64,
    ) -> Links {
        Links {
            public_url: public_url.to_string(),
            unsubscribe_token: message
                .list
                .is_some()
                .then(|| unsubscribe.token(delivery_id)),
            preferences_token: unsubscribe
                .token_for(super::unsubscribe::Purpose::Preferences, delivery_id),
            answer_token: unsubscribe.token_for(super::unsubscribe::Purpose::Answer, delivery_id),
        }
    }
}

/// The body every copy of a message carries, encoded once.
enum Body {
    /// Built from the message's text and HTML (and calendar object).
    Built(MultiPart),
    /// A MIME entity made elsewhere: a list post as its author sent it ([`super::list_copy`]).
    Entity(Vec<u8>),
}

/// A message with its body encoded once (quoted-printable text and HTML, or a list post's entity): every
/// copy of a message has the same body, and encoding it was a tenth of the CPU time of a copy.
pub struct PreparedMessage {
    pub message: MailMessage,
    body: Body,
}

impl PreparedMessage {
    /// A list post: `entity` (the post with its footer, [`super::list_copy::copy_body`]) is every copy's body.
    pub fn with_entity(message: MailMessage, entity: Vec<u8>) -> PreparedMessage {
        PreparedMessage {
            message,
            body: Body::Entity(entity),
        }
    }

    pub fn new(message: MailMessage) -> PreparedMessage {
        let body = if let Some(invitation) = &message.invitation {
            // An invitation: the calendar object as a third alternative, as calendar clients expect
            // (RFC 6047), with its METHOD in the content type.
            let calendar_type = ContentType::parse(&format!(
                "text/calendar; method={}; charset=utf-8",
                invitation.method
            ))
            .unwrap_or(ContentType::TEXT_PLAIN);
            MultiPart::alternative()
                .singlepart(SinglePart::plain(message.body_text.clone()))
                .singlepart(SinglePart::html(message.body_html.clone()))
                .singlepart(
                    SinglePart::builder()
                        .header(calendar_type)
                        .header(ContentTransferEncoding::QuotedPrintable)
                        .body(invitation.ics.clone()),
                )
        } else {
            MultiPart::alternative_plain_html(message.body_text.clone(), message.body_html.clone())
        };
        PreparedMessage {
            message,
            body: Body::Built(body),
        }
    }
}

/// Why a copy could not be built: the recipient's address is not one (a permanent failure).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ComposeError(pub String);

/// The bounce address of a delivery: `bounces+<token>@<domain>`.
pub fn bounce_address(settings: &MailSettings, token: &str) -> String {
    format!("bounces+{token}@{}", settings.domain())
}

/// The SMTP envelope of `delivery`: its own bounce address (VERP) and its recipient.
pub fn envelope(
    settings: &MailSettings,
    delivery: &ClaimedDelivery,
) -> Result<(Envelope, Address), ComposeError> {
    let to_address: Address = delivery.recipient.parse().map_err(|e| {
        ComposeError(format!(
            "adresse du destinataire invalide ({}) : {e}",
            delivery.recipient
        ))
    })?;
    let bounce: Address = bounce_address(settings, &delivery.token)
        .parse()
        .map_err(|e| ComposeError(format!("adresse de retour invalide : {e}")))?;
    let envelope = Envelope::new(Some(bounce), vec![to_address.clone()])
        .map_err(|e| ComposeError(e.to_string()))?;
    Ok((envelope, to_address))
}

/// Builds `delivery`'s copy of `message`, dated `now` (epoch milliseconds). A shared copy
/// ([`MailMessage::shared_copy`]) names the list in To: its content is everyone's, and only its envelope and
/// its one-click unsubscribe headers (RFC 8058, signed) are the delivery's.
pub fn compose(
    settings: &MailSettings,
    prepared: &PreparedMessage,
    delivery: &ClaimedDelivery,
    links: &Links,
    now: i64,
) -> Result<Copy, ComposeError> {
    let message = &prepared.message;
    let shared_list = message.list.as_ref().filter(|_| message.shared_copy);
    let shared = shared_list.is_some();
    let from_address: Address = settings
        .from_address
        .parse()
        .map_err(|e| ComposeError(format!("adresse d'expédition invalide : {e}")))?;
    let (envelope, to_address) = envelope(settings, delivery)?;
    let to = if let Some(list) = shared_list {
        let address: Address = format!("{}@{}", list.key, settings.domain())
            .parse()
            .map_err(|e| ComposeError(format!("adresse de la liste invalide : {e}")))?;
        Mailbox::new(Some(one_line(&list.label)), address)
    } else {
        let to_name = (!delivery.recipient_name.trim().is_empty())
            .then(|| one_line(&delivery.recipient_name));
        Mailbox::new(to_name, to_address)
    };
    let date = std::time::UNIX_EPOCH + std::time::Duration::from_millis(now.max(0) as u64);
    // A redistributed list post names its author (or the list, rewritten) instead of the organisation.
    let from = if let Some(author) = &message.author {
        let address: Address = author
            .address
            .parse()
            .map_err(|e| ComposeError(format!("adresse d'expéditeur invalide : {e}")))?;
        Mailbox::new(
            (!author.name.trim().is_empty()).then(|| one_line(&author.name)),
            address,
        )
    } else {
        Mailbox::new(Some(settings.from_name.clone()), from_address)
    };
    let own = message.headers();
    let own_value = |name: &str| {
        own.iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    };
    // A list post keeps its author's Message-ID in every copy, so replies thread in every mailbox (as
    // Mailman does); other mail gets one per copy (the delivery's token is unique).
    let message_id = own_value("Message-ID").unwrap_or_else(|| {
        format!(
            "<{}.{}@{}>",
            message.id,
            if shared { "liste" } else { &delivery.token },
            settings.domain()
        )
    });
    let mut builder = Message::builder()
        .from(from)
        .to(to)
        .subject(message.subject.clone())
        .date(date)
        .message_id(Some(message_id))
        .envelope(envelope.clone());
    for (name, value) in &own {
        if let Some(name) = ADDRESS_HEADERS
            .iter()
            .find(|h| h.eq_ignore_ascii_case(name))
            && let Some(header) = address_header(name, value)
        {
            builder = builder.raw_header(header);
        }
    }
    let mut header = |name: &'static str, value: String| {
        builder = std::mem::take(&mut builder).raw_header(HeaderValue::new(
            HeaderName::new_from_ascii_str(name),
            value,
        ));
    };
    if message.auto_submitted {
        header("Auto-Submitted", "auto-generated".to_string());
    }
    for (name, value) in &own {
        // Names come from relais' own code (In-Reply-To, References, Archived-At).
        if let Some(name) = OWN_HEADERS.iter().find(|h| h.eq_ignore_ascii_case(name)) {
            header(name, value.clone());
        }
    }
    if let Some(token) = &links.unsubscribe_token {
        // RFC 2369, 2919 and 8058 (MAIL.md): the list's identity, and leaving it in one click. Every copy, a
        // shared one too, carries its delivery's own link: large providers require one-click unsubscribe
        // of bulk senders, under a DKIM signature, so each copy is signed.
        let domain = settings.domain();
        // Links give a token to list mail only; a list without a name reads as one without a key did.
        let (key, label, post) = message.list.as_ref().map_or(("", "", None), |list| {
            (list.key.as_str(), list.label.as_str(), list.post.as_deref())
        });
        header("List-Id", format!("{} <{key}.{domain}>", phrase(label)));
        header(
            "List-Unsubscribe",
            format!(
                "<{}/desabonnement/{token}>, <mailto:desabonnement+{}@{domain}?subject=unsubscribe>",
                links.public_url, delivery.token
            ),
        );
        header(
            "List-Unsubscribe-Post",
            "List-Unsubscribe=One-Click".to_string(),
        );
        header("List-Help", format!("<mailto:{}>", settings.from_address));
        if let Some(post) = post {
            header("List-Post", post.to_string());
        }
        header("Precedence", "list".to_string());
    }
    let mut raw = match &prepared.body {
        Body::Built(body) => builder
            .multipart(body.clone())
            .map_err(|e| ComposeError(e.to_string()))?
            .formatted(),
        Body::Entity(entity) => {
            let email = builder
                .header(lettre::message::header::MIME_VERSION_1_0)
                .body(Vec::new())
                .map_err(|e| ComposeError(e.to_string()))?;
            let mut headers = email.headers().clone();
            headers.remove_raw("Content-Type");
            headers.remove_raw("Content-Transfer-Encoding");
            if let Some(date) = own_value("Date") {
                // The author's date, as written (lettre would read it only in its own format).
                headers.insert_raw(HeaderValue::new(
                    HeaderName::new_from_ascii_str("Date"),
                    date,
                ));
            }
            let mut raw = headers.to_string().into_bytes();
            raw.extend_from_slice(entity);
            raw
        }
    };
    fill_placeholder(
        &mut raw,
        PERSONAL_PLACEHOLDER,
        links.preferences_token.as_bytes(),
    );
    fill_placeholder(&mut raw, ANSWER_PLACEHOLDER, links.answer_token.as_bytes());
    Ok(Copy { envelope, raw })
}

/// `text` on one line: control characters (a CR or LF typed or imported into a name) become spaces, so a
/// name can never end a header or start another.
fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// `value` (addresses, as [`Mailbox`] writes them) as header `name`, encoded by lettre: display names quoted or
/// in RFC 2047 words, lines folded. `None` when the value holds no address.
fn address_header(name: &'static str, value: &str) -> Option<HeaderValue> {
    let mailboxes: Mailboxes = value.parse().ok()?;
    let mut headers = Headers::new();
    headers.set(lettre::message::header::From::from(mailboxes));
    let formatted = headers.to_string();
    let encoded = formatted
        .strip_prefix("From: ")?
        .trim_end_matches("\r\n")
        .to_string();
    Some(HeaderValue::dangerous_new_pre_encoded(
        HeaderName::new_from_ascii_str(name),
        value.to_string(),
        encoded,
    ))
}

/// A display name for a header written as is: quoted when ASCII, an RFC 2047 encoded word otherwise (a
/// raw header is not encoded by the mail builder).
fn phrase(text: &str) -> String {
    use base64::Engine;
    if text.is_ascii() {
        format!("\"{}\"", text.replace(['"', '\\'], ""))
    } else {
        format!(
            "=?utf-8?b?{}?=",
            base64::engine::general_purpose::STANDARD.encode(text.as_bytes())
        )
    }
}

/// Writes `token` over every `placeholder` in `raw`, a formatted message whose parts may be
/// quoted-printable: a soft line break (`=` CRLF) inside a placeholder is kept and stepped over. `token` must
/// be as long as the placeholder and made of letters, digits, `-` and `_`.
pub fn fill_placeholder(raw: &mut [u8], placeholder: &str, token: &[u8]) {
    let pattern = placeholder.as_bytes();
    debug_assert_eq!(token.len(), pattern.len());
    let mut start = 0;
    while let Some(offset) = memchr::memchr(pattern[0], &raw[start..]) {
        let at = start + offset;
        match placeholder_positions(raw, at, pattern) {
            Some(positions) => {
                for (position, byte) in positions.iter().zip(token) {
                    raw[*position] = *byte;
                }
                start = positions[positions.len() - 1] + 1;
            }
            None => start = at + 1,
        }
    }
}

/// Where each byte of `pattern` sits if it starts at `at`, soft line breaks skipped.
fn placeholder_positions(raw: &[u8], at: usize, pattern: &[u8]) -> Option<Vec<usize>> {
    let mut positions = Vec::with_capacity(pattern.len());
    let mut index = at;
    for expected in pattern {
        if raw.get(index..index + 3) == Some(b"=\r\n") {
            index += 3;
        }
        if raw.get(index) != Some(expected) {
            return None;
        }
        positions.push(index);
        index += 1;
    }
    Some(positions)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_with_accents_and_quotes_stay_one_address() {
        for name in [
            "Élu \"Quatre\" de Nantes",
            "Dupont, Marie",
            "Maire de Lyon via Échanges du club",
        ] {
            let value =
                Mailbox::new(Some(name.into()), "elu@nantes.example".parse().unwrap()).to_string();
            for header in ["Cc", "Reply-To", "X-Original-From"] {
                let encoded = address_header(header, &value).expect("an address");
                let mut headers = Headers::new();
                headers.insert_raw(encoded);
                // Read as a From (mail-parser reads addresses in the headers it knows).
                let raw = format!("{headers}Subject: x\r\n\r\nx").replacen(
                    &format!("{header}:"),
                    "From:",
                    1,
                );
                let parsed = mail_parser::MessageParser::default()
                    .parse(raw.as_bytes())
                    .unwrap();
                let addresses = parsed
                    .from()
                    .map(|a| a.iter().collect::<Vec<_>>())
                    .unwrap_or_default();
                assert_eq!(addresses.len(), 1, "{raw}");
                assert_eq!(addresses[0].name(), Some(name), "{raw}");
                assert_eq!(addresses[0].address(), Some("elu@nantes.example"));
            }
        }
    }

    #[test]
    fn the_placeholder_is_as_long_as_a_token() {
        for placeholder in [PERSONAL_PLACEHOLDER, ANSWER_PLACEHOLDER] {
            assert_eq!(placeholder.len(), super::super::unsubscribe::TOKEN_CHARS);
        }
    }

    #[test]
    fn a_token_replaces_the_placeholder_across_a_soft_line_break() {
        let token = "abcdefghijklmnopqrstuvwxyz012345";
        let mut raw = format!(
            "Vos pr=C3=A9f=C3=A9rences : https://x/preferences/RELAISxPERSONALxLI=\r\nNKxPLACEHOLDER\r\n\
             <a href=3D\"https://x/preferences/{PERSONAL_PLACEHOLDER}\">lien</a> RELAISx\r\n"
        )
        .into_bytes();
        fill_placeholder(&mut raw, PERSONAL_PLACEHOLDER, token.as_bytes());
        let raw = String::from_utf8(raw).unwrap();
        assert_eq!(
            raw,
            "Vos pr=C3=A9f=C3=A9rences : https://x/preferences/abcdefghijklmnopqr=\r\nstuvwxyz012345\r\n\
             <a href=3D\"https://x/preferences/abcdefghijklmnopqrstuvwxyz012345\">lien</a> RELAISx\r\n"
        );
    }
}
