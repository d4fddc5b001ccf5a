//! The mail that confirms a subscription (double opt-in), for the public form (`web/subscribe.rs`) and for
//! `<list>-join` by mail (`inbound/route.rs`): a pending request and a link that expires after
//! [`CONFIRM_HOURS`].

use super::body::{MailBody, mail_body};

use crate::domain::mail_kind::MailKind;
use crate::store::outbox::NewMessage;
use crate::store::subscriptions::SubscriptionRequest;

/// How long a confirmation link works.
pub const CONFIRM_HOURS: i64 = 48;
/// The version of the consent wording of `subscribe.html`, kept with each consent; change it with the text.
pub const WORDING_VERSION: &str = "2026-11";

mail_body! {
    /// The fields of a subscription's confirmation request (`subscribe_confirm.txt`, `subscribe_confirm.html`).
    struct ConfirmBody<'a> ("subscribe_confirm.txt", "subscribe_confirm.html") {
        list: &'a str,
        link: &'a str,
        hours: i64,
        organisation: &'a str,
    }
}

/// A pending subscription of `address` to `list` and the mail whose link confirms it (expiring after
/// [`CONFIRM_HOURS`]): for the public form, and for `<list>-join` by mail.
pub fn confirmation_request(
    settings: &crate::config::Settings,
    list: &crate::store::subscriptions::MailingList,
    address: &str,
    name: &str,
    source: &'static str,
    now: i64,
) -> Result<(SubscriptionRequest, NewMessage), askama::Error> {
    let token = crate::security::random_token();
    let link = format!(
        "{}/abonnement/confirmer/{token}",
        settings.server.public_url
    );
    let organisation = &settings.mail.from_name;
    let bodies = ConfirmBody {
        list: &list.name,
        link: &link,
        hours: CONFIRM_HOURS,
        organisation,
    }
    .render_bodies()?;
    let confirmation = NewMessage {
        kind: MailKind::SubscriptionConfirmation,
        cause_kind: "subscription".into(),
        subject: format!("Confirmez votre abonnement : {}", list.name),
        body_text: bodies.text,
        body_html: bodies.html,
        template_data: serde_json::json!({ "list": list.list_key }),
        auto_submitted: true,
        ..Default::default()
    };
    let request = SubscriptionRequest {
        list_id: list.id,
        address: address.to_lowercase(),
        name: name.to_string(),
        wording_version: WORDING_VERSION.to_string(),
        token_hash: crate::security::sha256_hex(&token),
        expires_at: now + CONFIRM_HOURS * 3_600_000,
        source,
    };
    Ok((request, confirmation))
}
