//! The daily digest of discussion lists (capability 7: fewer mails for those who want them): at each time of
//! `newsletter.list_digest_schedule`, every discussion list with posts distributed since the previous time
//! sends subscribers in digest mode one mail — the subjects first, then each post's text — once per list
//! and day (`newsletter_digests`, keyed by the day); no mail on a day without posts.

use chrono::{DateTime, Utc};

use crate::clock::PARIS;
use crate::config::Settings;
use crate::store::Store;
use crate::store::outbox::NewMessage;

/// Sends the digests due at `moment` (a time of the schedule) covering `[since, moment)`; returns how many
/// lists sent one.
pub async fn send_list_digests(
    store: &Store,
    settings: &Settings,
    since: DateTime<Utc>,
    moment: DateTime<Utc>,
    now: i64,
) -> anyhow::Result<usize> {
    let period = format!("jour-{}", moment.with_timezone(&PARIS).format("%Y-%m-%d"));
    let mut sent = 0;
    for list in store.all_lists().await? {
        if list.kind != "discussion" {
            continue;
        }
        let posts = store
            .distributed_between(list.id, since.timestamp_millis(), moment.timestamp_millis())
            .await?;
        let message = if posts.is_empty() {
            None
        } else {
            let mut text = format!("{} — les messages du jour\n\n", list.name);
            for (n, post) in posts.iter().enumerate() {
                text.push_str(&format!(
                    "{}. {} — {}\n",
                    n + 1,
                    post.subject,
                    post.from_name
                ));
            }
            let mut html = format!(
                "<h1>{} — les messages du jour</h1><ol>",
                askama::filters::escape(&list.name, askama::filters::Html)?
            );
            for post in &posts {
                html.push_str(&format!(
                    "<li>{} — {}</li>",
                    askama::filters::escape(&post.subject, askama::filters::Html)?,
                    askama::filters::escape(&post.from_name, askama::filters::Html)?
                ));
            }
            html.push_str("</ol>");
            for (n, post) in posts.iter().enumerate() {
                let body = match post.inbound_message_id {
                    Some(id) => store.inbound_raw(id).await?.and_then(|raw| {
                        mail_parser::MessageParser::default()
                            .parse(&raw)
                            .and_then(|m| m.body_text(0).map(|t| t.into_owned()))
                    }),
                    None => None,
                }
                .unwrap_or_default();
                text.push_str(&format!(
                    "\n----------\n{}. {}\nDe : {} <{}>\n\n{}\n",
                    n + 1,
                    post.subject,
                    post.from_name,
                    post.from_address,
                    body.trim()
                ));
                html.push_str(&format!(
                    "<hr><h2>{}. {}</h2><p class=\"muted\">De : {}</p><pre style=\"white-space:pre-wrap;font-family:inherit\">{}</pre>",
                    n + 1,
                    askama::filters::escape(&post.subject, askama::filters::Html)?,
                    askama::filters::escape(&post.from_name, askama::filters::Html)?,
                    askama::filters::escape(body.trim(), askama::filters::Html)?
                ));
            }
            let preferences = super::compose::preferences_link(&settings.server.public_url);
            text.push_str(&format!("\n-- \nVos préférences : {preferences}\n"));
            html.push_str(&format!(
                "<p class=\"muted\"><a href=\"{preferences}\">Vos préférences</a></p>"
            ));
            Some(NewMessage {
                kind: "list_digest".into(),
                cause_kind: "list_digest".into(),
                subject: format!("{} : {} message(s) du jour", list.name, posts.len()),
                body_text: text,
                body_html: html,
                template_data: serde_json::json!({ "list": list.list_key, "posts": posts.len() }),
                list_key: list.list_key.clone(),
                list_label: list.name.clone(),
                list_post: format!("<mailto:{}@{}>", list.list_key, settings.mail.domain()),
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
