//! A post to a discussion list: one pass collects every reason to hold it (not a subscriber, sender not
//! authenticated, too big, too many recipients, the list not named as a recipient, an `Approved` header, a
//! moderated list) and every reason to drop it (a loop, an automatic reply, a Message-ID already seen);
//! a post with none goes out through the outbox to every active subscriber, with the list headers, the
//! subject prefix (never piled up), the thread headers, its attachments and the list's footer. When the
//! author's domain asks for it by DMARC ([`super::identity`]), the From is rewritten to the list and the
//! author kept in `X-Original-From` and `Reply-To` or `Cc`.

use mail_parser::{Message, MessageParser};

use super::Inbound;
use super::identity::DmarcPolicy;
use crate::domain::EmailAddress;
use crate::domain::inbound::{InboundKind, InboundState};
use crate::domain::mail_kind::MailKind;
use crate::domain::{PostPolicy, ReplyTo};
use crate::mail::list_copy::Footer;
use crate::store::discussion::{DiscussionList, NewPost};
use crate::store::inbound::InboundOutcome;
use crate::store::outbox::{Author, ListHeaders, NewMessage};

/// Recipients beyond which a post is held (a mass mailing more than a discussion).
const MAX_VISIBLE_RECIPIENTS: usize = 10;

/// Subject starts of automatic replies, in French and English (compared in lowercase).
const AUTO_REPLY_SUBJECTS: &[&str] = &[
    "réponse automatique",
    "reponse automatique",
    "absence du bureau",
    "absent du bureau",
    "message d'absence",
    "out of office",
    "automatic reply",
    "auto-reply",
    "autoreply",
];

/// Reply markers some clients put before a subject, in French and English.
const REPLY_MARKERS: &[&str] = &[
    "re:", "re :", "réf:", "réf :", "ref:", "aw:", "tr:", "fwd:", "fw:",
];

/// `[Prefix] Re: subject`: the list's prefix once, at most one `Re:`, whatever the client piled up.
pub fn list_subject(prefix: &str, subject: &str) -> String {
    let prefix = prefix.trim();
    let mut rest = subject.trim().to_string();
    let mut reply = false;
    loop {
        let lower = rest.to_lowercase();
        if !prefix.is_empty() && lower.starts_with(&prefix.to_lowercase()) {
            rest = rest[prefix.len()..].trim_start().to_string();
            continue;
        }
        if let Some(marker) = REPLY_MARKERS.iter().find(|m| lower.starts_with(*m)) {
            // Markers are ASCII but for "réf": cut by characters, not bytes.
            rest = rest
                .chars()
                .skip(marker.chars().count())
                .collect::<String>()
                .trim_start()
                .to_string();
            reply = true;
            continue;
        }
        break;
    }
    let mut out = String::new();
    if !prefix.is_empty() {
        out.push_str(prefix);
        out.push(' ');
    }
    if reply {
        out.push_str("Re: ");
    }
    out.push_str(&rest);
    out
}

fn header(message: &Message<'_>, name: &str) -> String {
    message
        .header_raw(name)
        .map(|v| v.trim().to_string())
        .unwrap_or_default()
}

/// The `Authentication-Results` a trusted server added: those above the first `Received` header that a
/// trusted server did not write. Lower ones came with the message from elsewhere and prove nothing, even
/// when they name a trusted server (the mail server should strip them too: docs/ARCHITECTURE.md).
fn trusted_results(message: &Message<'_>, trusted: &[String]) -> Vec<String> {
    let is_trusted = |id: &str| trusted.iter().any(|t| t.eq_ignore_ascii_case(id.trim()));
    let mut out = Vec::new();
    for header in message.headers() {
        let name = header.name();
        let raw = || {
            message.raw_message()[header.offset_start() as usize..header.offset_end() as usize]
                .to_vec()
        };
        if name.eq_ignore_ascii_case("Received") {
            let text = String::from_utf8_lossy(&raw()).to_lowercase();
            // `… by mx.club.example (Postfix) with …`: the host that wrote this line.
            let by = text
                .split_whitespace()
                .skip_while(|w| *w != "by")
                .nth(1)
                .unwrap_or_default()
                .trim_end_matches(';')
                .to_string();
            if !is_trusted(&by) {
                break;
            }
        } else if name.eq_ignore_ascii_case("Authentication-Results") {
            let text = String::from_utf8_lossy(&raw())
                .replace(['\r', '\n'], " ")
                .to_string();
            let authserv = text.split(';').next().unwrap_or_default();
            if is_trusted(authserv.split_whitespace().next().unwrap_or_default()) {
                out.push(text);
            }
        }
    }
    out
}

/// Whether a mail server the settings trust says the sender's domain passed DKIM, SPF or DMARC, in the
/// results it added on top of the message ([`trusted_results`]).
pub fn authenticated(message: &Message<'_>, from: &str, trusted: &[String]) -> bool {
    let Some((_, from_domain)) = from.rsplit_once('@') else {
        return false;
    };
    let aligned = |domain: &str| super::identity::aligned(from_domain, domain.trim());
    trusted_results(message, trusted).iter().any(|value| {
        let mut parts = value.split(';');
        parts.next();
        parts.any(|result| {
            let words: Vec<&str> = result.split_whitespace().collect();
            let Some(method) = words.first() else {
                return false;
            };
            // The domain of a property's value (`elus@lyon.example` → `lyon.example`).
            let property = |name: &str| {
                words.iter().find_map(|w| w.strip_prefix(name)).map(|v| {
                    v.rsplit_once('@')
                        .map_or(v, |(_, domain)| domain)
                        .to_string()
                })
            };
            match method.to_lowercase().as_str() {
                "dkim=pass" => property("header.d=")
                    .or_else(|| property("header.i="))
                    .is_some_and(|d| aligned(&d)),
                "spf=pass" => property("smtp.mailfrom=").is_some_and(|d| aligned(&d)),
                "dmarc=pass" => property("header.from=").is_some_and(|d| aligned(&d)),
                _ => false,
            }
        })
    })
}

/// Whether a message was written by a machine: RFC 3834, `Precedence`, or an out-of-office subject.
pub fn automatic(message: &Message<'_>) -> bool {
    let auto = header(message, "Auto-Submitted").to_lowercase();
    let precedence = header(message, "Precedence").to_lowercase();
    let subject = message.subject().unwrap_or_default().trim().to_lowercase();
    (!auto.is_empty() && auto != "no")
        || ["bulk", "junk", "list"].contains(&precedence.as_str())
        || !header(message, "X-Autoreply").is_empty()
        || AUTO_REPLY_SUBJECTS.iter().any(|s| subject.starts_with(s))
}

/// The addresses a message names in To and Cc, lowercase.
fn visible_recipients(message: &Message<'_>) -> Vec<String> {
    let mut out = Vec::new();
    for addresses in [message.to(), message.cc()].into_iter().flatten() {
        for address in addresses.iter() {
            if let Some(a) = address.address() {
                out.push(a.to_lowercase());
            }
        }
    }
    out
}

/// What relais knows of a post's sender.
struct SenderCheck {
    /// A subscriber of the list.
    member: bool,
    /// What vouched for the From address (a trusted server, DKIM, SPF), if anything did.
    verified_by: Option<String>,
    /// The From domain's DMARC policy: whether copies must carry the list's From.
    policy: DmarcPolicy,
    /// Why the post waits for staff because of its sender.
    hold: Vec<String>,
}

/// The recorded outcome of a post.
fn post_outcome(state: InboundState, text: String) -> InboundOutcome {
    InboundOutcome {
        kind: InboundKind::Post,
        state,
        outcome: text,
    }
}

impl Inbound {
    /// Where a post of `list` is archived, its id to follow (the `Archived-At` of every copy).
    pub fn archive_base(&self, list: &DiscussionList) -> String {
        format!(
            "{}/listes/{}/archives/messages/",
            self.settings.server.public_url, list.list_key
        )
    }

    /// The list address of `list`.
    pub fn list_address(&self, list: &DiscussionList) -> String {
        format!("{}@{}", list.list_key, self.settings.mail.domain())
    }

    /// Checks and records a post, and sends it out when nothing holds it: a loop, an automatic reply or a
    /// post already received is discarded; an unknown or unverified sender, a post too big, blind-copied,
    /// pre-approved or sent to a moderated list is held for staff; anything else is distributed.
    pub async fn list_post(
        &self,
        list: &DiscussionList,
        inbound_message_id: i64,
        raw: &[u8],
    ) -> anyhow::Result<InboundOutcome> {
        let Some(message) = MessageParser::default().parse(raw) else {
            return Ok(post_outcome(
                InboundState::Refused,
                "message illisible".into(),
            ));
        };
        let post = self.new_post(list, inbound_message_id, &message, raw);
        let now = self.clock.now_millis();
        let discard = self.discard_reasons(list, &message, &post, now).await?;
        if !discard.is_empty() {
            self.store
                .record_post(&post, "discarded", &discard, now)
                .await?;
            return Ok(post_outcome(
                InboundState::Done,
                format!("écarté : {}", discard.join(" ; ")),
            ));
        }
        let sender = self
            .check_sender(list, inbound_message_id, &message, raw, &post.from_address)
            .await?;
        let mut hold = sender.hold.clone();
        hold.extend(self.content_hold_reasons(list, &message, raw));
        if !hold.is_empty() {
            return self
                .hold_post(
                    list,
                    inbound_message_id,
                    &message,
                    &post,
                    &sender,
                    &hold,
                    now,
                )
                .await;
        }
        let rewrite = sender.policy != DmarcPolicy::Relaxed;
        let copy = self.post_message(list, &message, &post, rewrite)?;
        let (_, copies) = self
            .store
            .distribute_post(&post, &copy, &self.archive_base(list), now)
            .await?;
        Ok(post_outcome(
            InboundState::Done,
            format!(
                "diffusé à {} {} (identité : {}{})",
                crate::french::count(copies, "abonné·e", "abonné·es"),
                crate::french::of_list(&list.name),
                sender.verified_by.unwrap_or_default(),
                if rewrite {
                    "; expéditeur réécrit au nom de la liste (DMARC)"
                } else {
                    ""
                }
            ),
        ))
    }

    /// The post as the store records it.
    fn new_post(
        &self,
        list: &DiscussionList,
        inbound_message_id: i64,
        message: &Message<'_>,
        raw: &[u8],
    ) -> NewPost {
        let author = message.from().and_then(|a| a.first());
        NewPost {
            list_id: list.id,
            inbound_message_id: Some(inbound_message_id),
            from_name: author
                .and_then(|a| a.name())
                .unwrap_or_default()
                .to_string(),
            from_address: author
                .and_then(|a| a.address())
                .map(str::to_lowercase)
                .unwrap_or_default(),
            subject: message.subject().unwrap_or_default().to_string(),
            // A post without one gets its Message-ID here, once: the same in every copy and in the archive.
            message_id: message.message_id().map(String::from).unwrap_or_else(|| {
                format!("{}@{}", uuid::Uuid::now_v7(), self.settings.mail.domain())
            }),
            in_reply_to: header(message, "In-Reply-To"),
            references: header(message, "References"),
            removed: if list.strip_executables {
                crate::mail::list_copy::stripped_names(raw)
            } else {
                Vec::new()
            },
        }
    }

    /// Why the post is dropped without a word: a loop, an automatic reply, a post already received.
    async fn discard_reasons(
        &self,
        list: &DiscussionList,
        message: &Message<'_>,
        post: &NewPost,
        now: i64,
    ) -> anyhow::Result<Vec<String>> {
        let list_address = self.list_address(list);
        let list_id_header = format!("{}.{}", list.list_key, self.settings.mail.domain());
        let mut discard = Vec::new();
        if header(message, "List-Id").contains(&list_id_header)
            || header(message, "X-Loop")
                .to_lowercase()
                .contains(&list_address)
        {
            discard.push("boucle : le message vient déjà de la liste".to_string());
        }
        if automatic(message) {
            discard.push("réponse automatique".to_string());
        }
        if self
            .store
            .post_seen(list.id, &post.message_id, now - 86_400_000)
            .await?
        {
            discard.push("message déjà reçu (même Message-ID)".to_string());
        }
        Ok(discard)
    }

    /// Who sent the post: a subscriber or trusted sender, vouched for by a trusted server or verified by
    /// DKIM or SPF, and the From domain's DMARC policy; with the reasons to hold it if not.
    async fn check_sender(
        &self,
        list: &DiscussionList,
        inbound_message_id: i64,
        message: &Message<'_>,
        raw: &[u8],
        from: &str,
    ) -> anyhow::Result<SenderCheck> {
        let mut sender = SenderCheck {
            member: false,
            verified_by: None,
            policy: DmarcPolicy::Unknown,
            hold: Vec::new(),
        };
        if from.is_empty() {
            sender.hold.push("expéditeur absent".to_string());
            return Ok(sender);
        }
        sender.member = self.store.is_subscriber(list.id, from).await?;
        if !sender.member && !self.store.is_trusted_sender(list.id, from).await? {
            sender
                .hold
                .push(format!("{from} n'est pas abonné·e à la liste"));
        }
        let vouched = authenticated(message, from, &self.settings.inbound.trusted_authserv_ids);
        let client = self.store.inbound_client(inbound_message_id).await?;
        let check = self.verifier.check(raw, from, &client, vouched).await;
        sender.policy = check.policy;
        sender.verified_by = if vouched {
            Some("serveur de confiance".to_string())
        } else {
            check.verified_by
        };
        if sender.verified_by.is_none() {
            let mut why = vec!["ni DKIM ni SPF alignés selon un serveur de confiance".to_string()];
            if self.settings.inbound.verify_senders {
                why.extend(check.failures);
            }
            sender.hold.push(format!(
                "identité de {from} non vérifiée ({})",
                why.join(", ")
            ));
        }
        Ok(sender)
    }

    /// Why the post itself waits for staff, whoever sent it: size, recipients, an `Approved` header, a
    /// moderated list.
    fn content_hold_reasons(
        &self,
        list: &DiscussionList,
        message: &Message<'_>,
        raw: &[u8],
    ) -> Vec<String> {
        let mut hold = Vec::new();
        if raw.len() as i64 > list.max_bytes {
            hold.push(format!("message trop gros ({} Ko)", raw.len() / 1024));
        }
        let visible = visible_recipients(message);
        if visible.len() > MAX_VISIBLE_RECIPIENTS {
            hold.push(format!("trop de destinataires ({})", visible.len()));
        }
        if !visible.contains(&self.list_address(list)) {
            hold.push("la liste n'est pas nommée en destinataire (copie cachée)".to_string());
        }
        if !header(message, "Approved").is_empty() {
            hold.push("en-tête Approved présent".to_string());
        }
        if list.post_policy == PostPolicy::Moderated {
            hold.push("liste modérée : chaque message est relu".to_string());
        }
        hold
    }

    /// Records a held post and tells its sender it waits, when relais knows who they are (a subscriber or
    /// a verified sender: never a forged From), the mail is a person's, and the daily budget allows.
    #[allow(clippy::too_many_arguments)]
    async fn hold_post(
        &self,
        list: &DiscussionList,
        inbound_message_id: i64,
        message: &Message<'_>,
        post: &NewPost,
        sender: &SenderCheck,
        hold: &[String],
        now: i64,
    ) -> anyhow::Result<InboundOutcome> {
        self.store.record_post(post, "held", hold, now).await?;
        let from = &post.from_address;
        let known = !from.is_empty() && (sender.verified_by.is_some() || sender.member);
        let refusal = if known {
            self.refuse_answer(Some(message), inbound_message_id, from)
                .await?
        } else {
            Some("expéditeur ni abonné·e ni vérifié·e".to_string())
        };
        if refusal.is_none() {
            let notice = crate::mail::answer::Answer {
                kind: MailKind::ListHeld,
                cause_kind: "list_post",
                subject: format!("En attente de relecture : {}", post.subject),
                title: "Votre message attend une relecture".into(),
                paragraphs: vec![format!(
                    "Votre message « {} » à la liste « {} » attend la relecture de l'équipe du club \
                     avant d'être diffusé. Vous n'avez rien à faire.",
                    post.subject, list.name
                )],
                ..Default::default()
            };
            // Not refused: the sender's address passed [`super::replies::unanswerable`].
            let to = EmailAddress::parse(from).map_err(anyhow::Error::msg)?;
            self.send_answer(&notice, &to, &post.from_name, now).await?;
        }
        Ok(post_outcome(
            InboundState::Held,
            format!(
                "en attente de modération : {}{}",
                hold.join(" ; "),
                refusal
                    .map(|why| format!(" (expéditeur non prévenu : {why})"))
                    .unwrap_or_default()
            ),
        ))
    }

    /// Whether copies of a post from `from` must carry the list's From (DMARC policy, settings), for a
    /// post that staff approve.
    pub async fn rewrite_from(&self, raw: &[u8], from: &str) -> bool {
        let client = crate::inbound::identity::Client::default();
        self.verifier.check(raw, from, &client, true).await.policy != DmarcPolicy::Relaxed
    }

    /// The list's footer, as Mailman's: where to write, the archive, and how to manage one's subscription.
    /// It holds no personal link: replies quote it, so it reaches every member and the archive.
    pub fn footer(&self, list: &DiscussionList) -> anyhow::Result<Footer> {
        let list_address = self.list_address(list);
        let public_url = &self.settings.server.public_url;
        let archive = format!("{public_url}/listes/{}/archives", list.list_key);
        let manage = format!("{public_url}/preferences");
        let escape =
            |s: &str| askama::filters::escape(s, askama::filters::Html).map(|e| e.to_string());
        Ok(Footer {
            text: format!(
                "-- \n{} · {list_address}\nArchives : {archive}\n\
                 Gérer votre abonnement (un lien personnel vous est envoyé) : {manage}\n",
                list.name
            ),
            html: format!(
                "<hr><p style=\"font-size:small;color:#555\">{} · <a href=\"mailto:{list_address}\">{list_address}</a><br>\
                 <a href=\"{archive}\">Archives de la liste</a> · \
                 <a href=\"{manage}\">Gérer votre abonnement</a> (un lien personnel vous est envoyé)</p>",
                escape(&list.name)?
            ),
        })
    }

    /// The mail every subscriber receives for a post: the post as received ([`crate::mail::list_copy`],
    /// which the delivery workers read from the stored message) with the footer kept here, its author's
    /// Message-ID, Date and thread headers, the list's subject prefix, and the From rewritten when `rewrite`.
    pub fn post_message(
        &self,
        list: &DiscussionList,
        message: &Message<'_>,
        post: &NewPost,
        rewrite: bool,
    ) -> anyhow::Result<NewMessage> {
        let list_address = self.list_address(list);
        let author = if post.from_name.is_empty() {
            post.from_address.clone()
        } else {
            post.from_name.clone()
        };
        let mailbox = |name: &str, address: &str| -> anyhow::Result<String> {
            let address: lettre::Address = address.parse()?;
            Ok(lettre::message::Mailbox::new(
                (!name.trim().is_empty()).then(|| name.trim().to_string()),
                address,
            )
            .to_string())
        };
        let original = mailbox(&post.from_name, &post.from_address)?;
        let mut headers = vec![("Message-ID".to_string(), format!("<{}>", post.message_id))];
        let date = header(message, "Date");
        if message.date().is_some() && !date.contains(['\r', '\n']) {
            headers.push(("Date".into(), date));
        }
        if rewrite {
            // DMARC's "munge": the author stays visible and reachable, the From is the list's.
            headers.push(("X-Original-From".to_string(), original.clone()));
            if list.reply_to == ReplyTo::Sender {
                headers.push(("Reply-To".into(), original));
            } else {
                headers.push(("Reply-To".into(), mailbox("", &list_address)?));
                headers.push(("Cc".into(), original));
            }
        } else if list.reply_to != ReplyTo::Sender {
            headers.push(("Reply-To".into(), mailbox("", &list_address)?));
        }
        // The thread headers as the author wrote them: a copy is the same message, not a reply to it.
        for (name, value) in [
            ("In-Reply-To", &post.in_reply_to),
            ("References", &post.references),
        ] {
            let value = value.split_whitespace().collect::<Vec<_>>().join(" ");
            if !value.is_empty() {
                headers.push((name.into(), value));
            }
        }
        let footer = self.footer(list)?;
        let author = if rewrite {
            Author {
                name: format!("{author} via {}", list.name),
                address: list_address.clone(),
            }
        } else {
            Author {
                name: post.from_name.clone(),
                address: post.from_address.clone(),
            }
        };
        Ok(NewMessage {
            kind: MailKind::ListPost,
            cause_kind: "list_post".into(),
            subject: list_subject(&list.subject_prefix, &post.subject),
            // For a list post, the bodies kept are the footer's: the copies' body is the post itself.
            body_text: footer.text,
            body_html: footer.html,
            template_data: serde_json::json!({ "list": list.list_key, "from": post.from_address }),
            list: Some(ListHeaders {
                key: list.list_key.clone(),
                label: list.name.clone(),
                post: Some(format!("<mailto:{list_address}>")),
            }),
            // A post without a From address goes out from the organisation.
            author: (!author.address.is_empty()).then_some(author),
            extra_headers: headers,
            shared_copy: !list.personalized,
            ..Default::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_prefix_appears_once_and_replies_are_marked_once() {
        assert_eq!(list_subject("[Club]", "Eau potable"), "[Club] Eau potable");
        assert_eq!(
            list_subject("[Club]", "Re: [Club] Eau potable"),
            "[Club] Re: Eau potable"
        );
        assert_eq!(
            list_subject("[Club]", "RE: Re : [Club] Re: [Club] Eau potable"),
            "[Club] Re: Eau potable"
        );
        assert_eq!(list_subject("[Club]", "Réf : TR: Eau"), "[Club] Re: Eau");
        assert_eq!(list_subject("", "Re: Re: Eau"), "Re: Eau");
    }

    #[test]
    fn french_and_english_automatic_replies_are_recognised() {
        for raw in [
            "From: a@b.example\r\nSubject: Réponse automatique : absente\r\n\r\nx",
            "From: a@b.example\r\nSubject: Absence du bureau\r\n\r\nx",
            "From: a@b.example\r\nSubject: Out of Office\r\n\r\nx",
            "From: a@b.example\r\nAuto-Submitted: auto-replied\r\nSubject: Bonjour\r\n\r\nx",
            "From: a@b.example\r\nPrecedence: bulk\r\nSubject: Bonjour\r\n\r\nx",
        ] {
            let message = MessageParser::default().parse(raw.as_bytes()).unwrap();
            assert!(automatic(&message), "{raw}");
        }
        let human = MessageParser::default()
            .parse(b"From: a@b.example\r\nSubject: Re: la borne\r\n\r\nx".as_slice())
            .unwrap();
        assert!(!automatic(&human));
    }

    #[test]
    fn only_a_trusted_server_and_an_aligned_domain_authenticate() {
        let trusted = vec!["mx.club.example".to_string()];
        let with = |results: &str| {
            format!(
                "Authentication-Results: {results}\r\nFrom: a@lyon.example\r\nSubject: x\r\n\r\nx"
            )
        };
        let check = |raw: String| {
            let message = MessageParser::default().parse(raw.as_bytes()).unwrap();
            authenticated(&message, "a@lyon.example", &trusted)
        };
        assert!(check(with(
            "mx.club.example; dkim=pass header.d=lyon.example header.s=s1"
        )));
        assert!(check(with(
            "mx.club.example; spf=pass smtp.mailfrom=elus@lyon.example"
        )));
        assert!(check(with(
            "mx.club.example; dkim=fail header.d=lyon.example; dmarc=pass header.from=lyon.example"
        )));
        assert!(
            !check(with("mx.club.example; dkim=pass header.d=ailleurs.example")),
            "not aligned"
        );
        assert!(!check(with(
            "mx.club.example; dkim=fail header.d=lyon.example; spf=softfail smtp.mailfrom=lyon.example"
        )));
        assert!(
            !check(with("mx.pirate.example; dkim=pass header.d=lyon.example")),
            "untrusted server"
        );
        // A result naming the trusted server below a Received it did not write came from outside.
        let forged = "Authentication-Results: mx.club.example; dkim=fail header.d=lyon.example\r\n\
                      Received: by mx.club.example (Postfix) with ESMTPS id 1\r\n\
                      Received: from pirate by relais.pirate.example with SMTP\r\n\
                      Authentication-Results: mx.club.example; dkim=pass header.d=lyon.example\r\n\
                      From: a@lyon.example\r\nSubject: x\r\n\r\nx";
        assert!(
            !check(forged.to_string()),
            "a forged result below is ignored"
        );
        let genuine = "Received: by mx.club.example (Postfix) with ESMTPS id 1\r\n\
                       Authentication-Results: mx.club.example; dkim=pass header.d=lyon.example\r\n\
                       Received: from lyon by mail.lyon.example with SMTP\r\n\
                       From: a@lyon.example\r\nSubject: x\r\n\r\nx";
        assert!(
            check(genuine.to_string()),
            "below its own Received, still on top"
        );
    }
}
