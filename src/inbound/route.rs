//! Deciding what each received message is, per recipient, and recording the outcome. A router claims stored
//! recipients with a lease, routes each in a task of its own (a panic on a hostile message marks that
//! recipient failed; nothing else stops), and records one outcome:
//!
//! - to `mail.from_address`: a calendar reply (`METHOD:REPLY`) records the attendee's answer on the
//!   meeting its UID names; anything else is kept for staff;
//! - to `bounces+<token>`: a delivery status notification, recorded against that delivery (permanent
//!   failures counted; delays, temporary failures and 5.7.x policy refusals kept but not counted);
//! - to `desabonnement+<token>`: the recipient of that delivery leaves its list;
//! - to `<list>-join` / `-leave` / `-request`: double opt-in started, subscription ended, or help sent;
//! - to a list: an announce list takes no posts (refused); a discussion list's post is checked, held or
//!   sent out ([`super::post`]).

use super::bounce_report::Severity;
use crate::domain::ListKind;
use std::str::FromStr;
use std::time::Duration;

use mail_parser::{Message, MessageParser, MimeHeaders};
use tokio_util::sync::CancellationToken;

use super::Inbound;
use super::address::{Command, Destination, destination};
use crate::domain::EmailAddress;
use crate::domain::inbound::{InboundKind, InboundState};
use crate::domain::mail_kind::MailKind;
use crate::store::inbound::{ClaimedInbound, InboundOutcome};
use crate::store::subscriptions::SubscriptionRequested;

/// How long a router holds a recipient before another may take it.
const LEASE_MS: i64 = 120_000;
/// Recipients claimed at a time.
const BATCH: i64 = 20;
/// The longest a router sleeps without looking (for messages other processes stored).
const POLL: Duration = Duration::from_secs(5);

fn outcome(kind: InboundKind, state: InboundState, text: impl Into<String>) -> InboundOutcome {
    InboundOutcome {
        kind,
        state,
        outcome: text.into(),
    }
}

impl Inbound {
    /// Routes stored recipients until `stop` is cancelled.
    pub async fn route_until_stopped(self, stop: CancellationToken) {
        loop {
            let woken = self.stored.notified();
            tokio::pin!(woken);
            woken.as_mut().enable();
            match self.route_pending().await {
                Ok(0) => {}
                Ok(_) => continue,
                Err(error) => tracing::warn!(%error, "routing received mail failed; will retry"),
            }
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = &mut woken => {}
                _ = tokio::time::sleep(POLL) => {}
            }
        }
    }

    /// Claims and routes one batch; returns how many recipients it took.
    pub async fn route_pending(&self) -> anyhow::Result<usize> {
        let now = self.clock.now_millis();
        let claimed = self.store.claim_inbound(now, now + LEASE_MS, BATCH).await?;
        for recipient in &claimed {
            let inbound = self.clone();
            let held = recipient.clone();
            let result = tokio::spawn(async move { inbound.route(&held).await }).await;
            let outcome = match result {
                Ok(Ok(outcome)) => outcome,
                Ok(Err(error)) => {
                    tracing::warn!(%error, recipient = recipient.id, "routing a received message failed");
                    outcome(
                        InboundKind::Other,
                        InboundState::Failed,
                        format!("erreur pendant le traitement : {error}"),
                    )
                }
                Err(panic) => {
                    tracing::error!(%panic, recipient = recipient.id, "routing a received message panicked");
                    outcome(
                        InboundKind::Other,
                        InboundState::Failed,
                        "erreur interne pendant le traitement",
                    )
                }
            };
            self.store
                .finish_inbound(recipient.id, &outcome, self.clock.now_millis())
                .await?;
        }
        Ok(claimed.len())
    }

    async fn route(&self, claimed: &ClaimedInbound) -> anyhow::Result<InboundOutcome> {
        let Some(raw) = self.store.inbound_raw(claimed.message_id).await? else {
            return Ok(outcome(
                InboundKind::Other,
                InboundState::Failed,
                "message introuvable",
            ));
        };
        let parsed = MessageParser::default().parse(&raw);
        let Some(destination) =
            destination(&self.store, &self.settings, &claimed.recipient).await?
        else {
            return Ok(outcome(
                InboundKind::Other,
                InboundState::Refused,
                "adresse qui n'est plus à relais",
            ));
        };
        let from = parsed
            .as_ref()
            .and_then(|m| m.from())
            .and_then(|a| a.first())
            .and_then(|a| a.address())
            .map(str::to_lowercase)
            .unwrap_or_default();
        match destination {
            Destination::Staff => self.to_staff(parsed.as_ref(), &from).await,
            Destination::Bounce(token) => self.bounce(parsed.as_ref(), &raw, &token).await,
            Destination::Unsubscribe(token) => self.unsubscribe(&token).await,
            Destination::List { key, command: None } => {
                match self.store.discussion_list(&key).await? {
                    Some(list) if list.kind == ListKind::Discussion => {
                        self.list_post(&list, claimed.message_id, &raw).await
                    }
                    _ => {
                        self.list(&key, None, &from, parsed.as_ref(), claimed.message_id)
                            .await
                    }
                }
            }
            Destination::List { key, command } => {
                self.list(&key, command, &from, parsed.as_ref(), claimed.message_id)
                    .await
            }
        }
    }

    async fn to_staff(
        &self,
        parsed: Option<&Message<'_>>,
        from: &str,
    ) -> anyhow::Result<InboundOutcome> {
        let Some(reply) = parsed.and_then(calendar_reply) else {
            return Ok(outcome(
                InboundKind::Staff,
                InboundState::Done,
                "gardé pour l'équipe",
            ));
        };
        let Some(meeting) = self.store.meeting_by_uid(&reply.uid).await? else {
            return Ok(outcome(
                InboundKind::CalendarReply,
                InboundState::Refused,
                format!("réponse à une réunion inconnue ({})", reply.uid),
            ));
        };
        // Only the attendee answers for themselves: the ATTENDEE must be the sender.
        if reply.attendee != from {
            return Ok(outcome(
                InboundKind::CalendarReply,
                InboundState::Held,
                format!(
                    "réponse pour {} envoyée par {from} : non enregistrée",
                    reply.attendee
                ),
            ));
        }
        let response = match reply.partstat.as_str() {
            "ACCEPTED" => "accepted",
            "DECLINED" => "declined",
            "TENTATIVE" => "tentative",
            other => {
                return Ok(outcome(
                    InboundKind::CalendarReply,
                    InboundState::Refused,
                    format!("réponse « {other} » inconnue"),
                ));
            }
        };
        if self
            .store
            .record_response(
                meeting.id,
                &reply.attendee,
                response,
                self.clock.now_millis(),
            )
            .await?
        {
            Ok(outcome(
                InboundKind::CalendarReply,
                InboundState::Done,
                format!(
                    "réponse « {response} » de {} enregistrée pour la réunion n° {}",
                    reply.attendee, meeting.id
                ),
            ))
        } else {
            Ok(outcome(
                InboundKind::CalendarReply,
                InboundState::Refused,
                format!(
                    "{} n'est pas invité·e à la réunion n° {}",
                    reply.attendee, meeting.id
                ),
            ))
        }
    }

    async fn bounce(
        &self,
        parsed: Option<&Message<'_>>,
        raw: &[u8],
        token: &str,
    ) -> anyhow::Result<InboundOutcome> {
        let Some((delivery, address)) = self.store.delivery_by_token(token).await? else {
            return Ok(outcome(
                InboundKind::Bounce,
                InboundState::Done,
                "retour pour un envoi inconnu : ignoré",
            ));
        };
        // An abuse report (someone pressed "spam"): they leave that list at once (RFC 5965).
        if parsed.is_some_and(abuse_report) {
            return match self.store.unsubscribe_target(delivery).await? {
                Some(target) => {
                    self.store
                        .record_unsubscribe(&target, "abuse", self.clock.now_millis())
                        .await?;
                    Ok(outcome(
                        InboundKind::Abuse,
                        InboundState::Done,
                        format!(
                            "signalement de {address} : désabonné·e de {}",
                            target.list_label
                        ),
                    ))
                }
                None => Ok(outcome(
                    InboundKind::Abuse,
                    InboundState::Done,
                    format!("signalement de {address} pour un courrier hors liste : noté"),
                )),
            };
        }
        // The VERP address names the delivery; the body says how it failed, in whatever format the
        // receiving server wrote it (super::bounce_report).
        let report = super::bounce_report::read_bounce(raw, Some(&address.to_lowercase()));
        let now = self.clock.now_millis();
        let described = if report.status.is_empty() {
            report.format.to_string()
        } else {
            format!("{}, {}", report.status, report.format)
        };
        match report.severity {
            Severity::Temporary => Ok(outcome(
                InboundKind::Bounce,
                InboundState::Done,
                format!("avis de retard pour {address} ({described}) : non compté"),
            )),
            Severity::Ignore => {
                let what = match report.format {
                    "autoreply" => "réponse automatique à l'adresse de retour",
                    "dsn" => "avis de remise sans échec",
                    _ => "message sans échec reconnu",
                };
                if report.format == "unknown" {
                    // Kept for staff, who may read it: nothing counted.
                    self.store
                        .record_report_bounce(
                            delivery,
                            &address,
                            false,
                            "",
                            "retour non reconnu",
                            now,
                        )
                        .await?;
                }
                Ok(outcome(
                    InboundKind::Bounce,
                    InboundState::Done,
                    format!("{what} pour {address} : non compté"),
                ))
            }
            Severity::Permanent => {
                let counted = self
                    .store
                    .record_report_bounce(
                        delivery,
                        &address,
                        true,
                        &report.status,
                        &report.diagnostic,
                        now,
                    )
                    .await?;
                Ok(outcome(
                    InboundKind::Bounce,
                    InboundState::Done,
                    if counted {
                        format!("retour permanent pour {address} ({described}) : compté")
                    } else {
                        format!(
                            "refus de politique pour {address} ({described}) : gardé, non compté"
                        )
                    },
                ))
            }
        }
    }

    async fn unsubscribe(&self, token: &str) -> anyhow::Result<InboundOutcome> {
        let target = match self.store.delivery_by_token(token).await? {
            Some((delivery, _)) => self.store.unsubscribe_target(delivery).await?,
            None => None,
        };
        let Some(target) = target else {
            return Ok(outcome(
                InboundKind::Unsubscribe,
                InboundState::Refused,
                "désabonnement pour un envoi inconnu",
            ));
        };
        self.store
            .record_unsubscribe(&target, "mailto", self.clock.now_millis())
            .await?;
        Ok(outcome(
            InboundKind::Unsubscribe,
            InboundState::Done,
            format!("{} désabonné·e de {}", target.address, target.list_label),
        ))
    }

    async fn list(
        &self,
        key: &str,
        command: Option<Command>,
        from: &str,
        parsed: Option<&Message<'_>>,
        inbound_message_id: i64,
    ) -> anyhow::Result<InboundOutcome> {
        let Some(list) = self.store.mailing_list(key).await? else {
            return Ok(outcome(
                InboundKind::Post,
                InboundState::Refused,
                "liste inconnue",
            ));
        };
        let now = self.clock.now_millis();
        // Every command is answered by mail: a bounce, a machine or a flood gets nothing (no backscatter).
        if command.is_some()
            && let Some(why) = self.refuse_answer(parsed, inbound_message_id, from).await?
        {
            return Ok(outcome(
                InboundKind::Command,
                InboundState::Refused,
                format!("commande ignorée, sans réponse : {why}"),
            ));
        }
        match command {
            Some(Command::Join) => {
                // The display name the official's client gives is kept with the subscription.
                let name = parsed
                    .and_then(|m| m.from())
                    .and_then(|a| a.first())
                    .and_then(|a| a.name())
                    .map(|n| n.replace(|c: char| c.is_control(), " ").trim().to_string())
                    .unwrap_or_default();
                let (request, confirmation) = crate::mail::subscription::confirmation_request(
                    &self.settings,
                    &list,
                    from,
                    &name,
                    "mail",
                    now,
                )?;
                let result = self
                    .store
                    .request_subscription(&request, &confirmation, now)
                    .await?;
                Ok(outcome(
                    InboundKind::Command,
                    InboundState::Done,
                    match result {
                        SubscriptionRequested::ConfirmationSent => {
                            format!(
                                "{from} demande à rejoindre {} : lien de confirmation envoyé",
                                list.name
                            )
                        }
                        SubscriptionRequested::AlreadyActive => {
                            format!("{from} est déjà abonné·e à {}", list.name)
                        }
                    },
                ))
            }
            Some(Command::Leave) => {
                if !self.store.is_subscriber(list.id, from).await? {
                    return Ok(outcome(
                        InboundKind::Command,
                        InboundState::Done,
                        format!("{from} n'était pas abonné·e à {} : rien envoyé", list.name),
                    ));
                }
                // The organisation's server vouches for the sender: they leave at once. Otherwise a From
                // can be forged, so the address itself confirms (as Mailman and Sympa do).
                let vouched = parsed.is_some_and(|m| {
                    super::post::authenticated(m, from, &self.settings.inbound.trusted_authserv_ids)
                });
                if vouched {
                    self.store.leave_lists(from, Some(list.id), now).await?;
                    return Ok(outcome(
                        InboundKind::Command,
                        InboundState::Done,
                        format!("{from} a quitté {} (expéditeur authentifié)", list.name),
                    ));
                }
                self.send_leave_confirmation(&list, from, now).await?;
                Ok(outcome(
                    InboundKind::Command,
                    InboundState::Done,
                    format!(
                        "{from} demande à quitter {} : confirmation envoyée à l'adresse",
                        list.name
                    ),
                ))
            }
            Some(Command::Request) => {
                self.send_help(&list, from, now).await?;
                Ok(outcome(
                    InboundKind::Command,
                    InboundState::Done,
                    format!("aide de {} envoyée à {from}", list.name),
                ))
            }
            None if list.kind == ListKind::Announce => Ok(outcome(
                InboundKind::Post,
                InboundState::Refused,
                format!(
                    "{} est une liste d'annonce : seule l'équipe y écrit",
                    list.name
                ),
            )),
            None => Ok(outcome(
                InboundKind::Post,
                InboundState::Refused,
                format!("{} ne reçoit pas de messages", list.name),
            )),
        }
    }

    /// Asks `to` to confirm leaving `list`: a link to their preferences page, where one button leaves.
    async fn send_leave_confirmation(
        &self,
        list: &crate::store::subscriptions::MailingList,
        to: &str,
        now: i64,
    ) -> anyhow::Result<()> {
        let answer = crate::mail::answer::Answer {
            kind: MailKind::ListLeaveConfirm,
            cause_kind: "list_command",
            subject: format!("Confirmez votre départ de {}", list.name),
            title: format!("Quitter « {} » ?", list.name),
            paragraphs: vec![
                format!(
                    "Quelqu'un, sans doute vous, a demandé par courriel que {to} quitte la liste « {} ».",
                    list.name
                ),
                "Pour confirmer, ouvrez votre page d'abonnements et choisissez « Me désabonner » pour \
                 cette liste."
                    .into(),
            ],
            link: crate::mail::compose::preferences_link(&self.settings.server.public_url),
            link_label: "Ouvrir mes abonnements".into(),
            closing: vec!["Si vous n'avez rien demandé, ne faites rien : vous restez abonné·e.".into()],
            ..Default::default()
        };
        // Only sent once the sender passed [`super::replies::unanswerable`], which wants an address.
        let to = EmailAddress::parse(to).map_err(anyhow::Error::msg)?;
        self.send_answer(&answer, &to, "", now).await
    }

    async fn send_help(
        &self,
        list: &crate::store::subscriptions::MailingList,
        to: &str,
        now: i64,
    ) -> anyhow::Result<()> {
        let domain = self.settings.mail.domain();
        let key = &list.list_key;
        let answer = crate::mail::answer::Answer {
            kind: MailKind::ListHelp,
            cause_kind: "list_command",
            subject: format!("Aide : {}", list.name),
            title: format!("Aide : {}", list.name),
            paragraphs: vec![format!("Pour la liste « {} » :", list.name)],
            items: vec![
                format!("s'abonner : écrire à {key}-join@{domain}"),
                format!(
                    "se désabonner : écrire à {key}-leave@{domain} (une confirmation vous est demandée)"
                ),
                format!("écrire à la liste : {key}@{domain}"),
            ],
            link: format!("{}/preferences", self.settings.server.public_url),
            link_label: "Gérer vos abonnements (un lien personnel vous est envoyé)".into(),
            ..Default::default()
        };
        // Only sent once the sender passed [`super::replies::unanswerable`], which wants an address.
        let to = EmailAddress::parse(to).map_err(anyhow::Error::msg)?;
        self.send_answer(&answer, &to, "", now).await
    }
}

/// A calendar reply's meeting UID, attendee and answer.
struct CalendarReply {
    uid: String,
    attendee: String,
    partstat: String,
}

fn calendar_reply(message: &Message<'_>) -> Option<CalendarReply> {
    message.parts.iter().find_map(|part| {
        let content_type = part.content_type()?;
        let is_calendar = content_type.ctype().eq_ignore_ascii_case("text")
            && content_type
                .subtype()
                .is_some_and(|s| s.eq_ignore_ascii_case("calendar"))
            || content_type.ctype().eq_ignore_ascii_case("application")
                && content_type
                    .subtype()
                    .is_some_and(|s| s.eq_ignore_ascii_case("ics"));
        if !is_calendar {
            return None;
        }
        let text = part
            .text_contents()
            .map(String::from)
            .or_else(|| String::from_utf8(part.contents().to_vec()).ok())?;
        let calendar = icalendar::Calendar::from_str(&text).ok()?;
        if !calendar
            .property_value("METHOD")
            .is_some_and(|m| m.eq_ignore_ascii_case("REPLY"))
        {
            return None;
        }
        let event = calendar.components.iter().find_map(|c| c.as_event())?;
        use icalendar::Component;
        let uid = event.get_uid()?.to_string();
        let attendee = event.multi_properties().get("ATTENDEE")?.first()?;
        let address = attendee
            .value()
            .trim()
            .trim_start_matches("mailto:")
            .trim_start_matches("MAILTO:")
            .to_lowercase();
        let partstat = attendee
            .params()
            .get("PARTSTAT")?
            .value()
            .to_ascii_uppercase();
        Some(CalendarReply {
            uid,
            attendee: address,
            partstat,
        })
    })
}

/// Whether a message is an RFC 5965 abuse report (a `message/feedback-report` part).
fn abuse_report(message: &Message<'_>) -> bool {
    message.parts.iter().any(|part| {
        part.content_type().is_some_and(|t| {
            t.ctype().eq_ignore_ascii_case("message")
                && t.subtype()
                    .is_some_and(|s| s.eq_ignore_ascii_case("feedback-report"))
        })
    })
}
