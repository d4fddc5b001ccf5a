//! One recipient's copy of a message: headers, the bounce address naming the delivery (VERP), and the
//! plain-text and HTML alternatives.

use lettre::address::Envelope;
use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};
use lettre::{Address, Message};

use super::settings::MailSettings;
use crate::store::outbox::{ClaimedDelivery, MailMessage};

/// A copy ready for a transport: the SMTP envelope and the formatted message.
pub struct Copy {
    pub envelope: Envelope,
    pub raw: Vec<u8>,
}

/// The links a copy carries.
pub struct Links {
    /// Where relais is reached (`server.public_url`).
    pub public_url: String,
    /// The signed unsubscribe token of this delivery, for list and newsletter mail.
    pub unsubscribe_token: Option<String>,
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
            unsubscribe_token: (!message.list_key.is_empty())
                .then(|| unsubscribe.token(delivery_id)),
        }
    }
}

/// A message with its body encoded once (quoted-printable text and HTML): every copy of a message has the
/// same body, and encoding it was a tenth of the CPU time of a copy.
pub struct PreparedMessage {
    pub message: MailMessage,
    body: MultiPart,
}

impl PreparedMessage {
    pub fn new(message: MailMessage) -> PreparedMessage {
        let body =
            MultiPart::alternative_plain_html(message.body_text.clone(), message.body_html.clone());
        PreparedMessage { message, body }
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

/// Builds `delivery`'s copy of `message`, dated `now` (epoch milliseconds).
pub fn compose(
    settings: &MailSettings,
    prepared: &PreparedMessage,
    delivery: &ClaimedDelivery,
    links: &Links,
    now: i64,
) -> Result<Copy, ComposeError> {
    let message = &prepared.message;
    let from_address: Address = settings
        .from_address
        .parse()
        .map_err(|e| ComposeError(format!("adresse d'expédition invalide : {e}")))?;
    let to_address: Address = delivery.recipient.parse().map_err(|e| {
        ComposeError(format!(
            "adresse du destinataire invalide ({}) : {e}",
            delivery.recipient
        ))
    })?;
    let bounce: Address = bounce_address(settings, &delivery.token)
        .parse()
        .map_err(|e| ComposeError(format!("adresse de retour invalide : {e}")))?;
    let to_name = (!delivery.recipient_name.is_empty()).then(|| delivery.recipient_name.clone());
    let envelope = Envelope::new(Some(bounce), vec![to_address.clone()])
        .map_err(|e| ComposeError(e.to_string()))?;
    let date = std::time::UNIX_EPOCH + std::time::Duration::from_millis(now.max(0) as u64);
    let mut builder = Message::builder()
        .from(Mailbox::new(Some(settings.from_name.clone()), from_address))
        .to(Mailbox::new(to_name, to_address))
        .subject(message.subject.clone())
        .date(date)
        // One per copy: the delivery's token is unique.
        .message_id(Some(format!(
            "<{}.{}@{}>",
            message.id,
            delivery.token,
            settings.domain()
        )))
        .envelope(envelope.clone());
    let mut header = |name: &'static str, value: String| {
        builder = std::mem::take(&mut builder).raw_header(HeaderValue::new(
            HeaderName::new_from_ascii_str(name),
            value,
        ));
    };
    if message.auto_submitted {
        header("Auto-Submitted", "auto-generated".to_string());
    }
    if let Some(token) = &links.unsubscribe_token {
        // RFC 2369, 2919 and 8058 (MAIL.md): the list's identity, and leaving it in one click.
        let domain = settings.domain();
        header(
            "List-Id",
            format!("\"{}\" <{}.{domain}>", message.list_label, message.list_key),
        );
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
        if !message.list_post.is_empty() {
            header("List-Post", message.list_post.clone());
        }
        header("Precedence", "list".to_string());
    }
    let email = builder
        .multipart(prepared.body.clone())
        .map_err(|e| ComposeError(e.to_string()))?;
    Ok(Copy {
        envelope,
        raw: email.formatted(),
    })
}
