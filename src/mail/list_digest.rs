//! The daily digest of discussion lists (capability 7: fewer mails for those who want them): at each time of
//! `newsletter.list_digest_schedule`, every discussion list with posts distributed since the previous time
//! sends subscribers in digest mode one mail (`mail-templates/list_digest.*`) — the subjects first, then each
//! post's text — once per list and scheduled time (`newsletter_digests`, keyed by that time, so a schedule
//! that runs several times a day loses nothing); no mail when there are no posts.

use super::body::{MailBody, mail_body};
use chrono::{DateTime, Utc};

use crate::config::Settings;
use crate::domain::ListKind;
use crate::domain::mail_kind::MailKind;
use crate::store::Store;
use crate::store::outbox::{ListHeaders, NewMessage};

/// One post as the digest shows it.
struct DigestPost {
    subject: String,
    author: String,
    archive_url: String,
    text: String,
}

mail_body! {
    /// The fields of a discussion list's daily digest (`list_digest.txt`, `list_digest.html`).
    struct ListDigestBody<'a> ("list_digest.txt", "list_digest.html") {
        list: &'a str,
        posts: &'a [DigestPost],
        address: &'a str,
        preferences: &'a str,
        organisation: &'a str,
    }
}

/// Sends the digests due at `moment` (a time of the schedule) covering `[since, moment)`; returns how many
/// lists sent one.
pub async fn send_list_digests(
    store: &Store,
    settings: &Settings,
    since: DateTime<Utc>,
    moment: DateTime<Utc>,
    now: i64,
) -> anyhow::Result<usize> {
    // One claim per scheduled time: `[since, moment)` follows the previous time, so every post is in one
    // digest whatever the schedule.
    let period = format!("liste-{}", moment.format("%Y-%m-%dT%H:%M:%SZ"));
    let mut sent = 0;
    for list in store.all_lists().await? {
        if list.kind != ListKind::Discussion {
            continue;
        }
        let posts = store
            .distributed_between(list.id, since.timestamp_millis(), moment.timestamp_millis())
            .await?;
        let message = if posts.is_empty() {
            None
        } else {
            let mut shown = Vec::with_capacity(posts.len());
            for post in &posts {
                let text = match post.inbound_message_id {
                    Some(id) => store.inbound_raw(id).await?.and_then(|raw| {
                        mail_parser::MessageParser::default()
                            .parse(&raw)
                            .and_then(|m| m.body_text(0).map(|t| t.into_owned()))
                    }),
                    None => None,
                }
                .unwrap_or_default();
                shown.push(DigestPost {
                    subject: post.subject.clone(),
                    author: if post.from_name.is_empty() {
                        post.from_address.clone()
                    } else {
                        post.from_name.clone()
                    },
                    archive_url: format!(
                        "{}/listes/{}/archives/messages/{}",
                        settings.server.public_url, list.list_key, post.id
                    ),
                    text: super::list_copy::neutralised(text.trim()),
                });
            }
            let preferences = super::compose::preferences_link(&settings.server.public_url);
            let address = format!("{}@{}", list.list_key, settings.mail.domain());
            let organisation = &settings.mail.from_name;
            let bodies = ListDigestBody {
                list: &list.name,
                posts: &shown,
                address: &address,
                preferences: &preferences,
                organisation,
            }
            .render_bodies()?;
            Some(NewMessage {
                kind: MailKind::ListDigest,
                cause_kind: "list_digest".into(),
                subject: format!(
                    "{} : {} du jour",
                    list.name,
                    crate::french::count(posts.len(), "message", "messages")
                ),
                body_text: bodies.text,
                body_html: bodies.html,
                template_data: serde_json::json!({ "list": list.list_key, "posts": posts.len() }),
                list: Some(ListHeaders {
                    key: list.list_key.clone(),
                    label: list.name.clone(),
                    post: Some(format!("<mailto:{address}>")),
                }),
                ..Default::default()
            })
        };
        if let Some(recipients) = store
            .send_digest(list.id, &period, posts.len(), message.as_ref(), now)
            .await?
            && recipients > 0
        {
            sent += 1;
        }
    }
    Ok(sent)
}
