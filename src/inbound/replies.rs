//! When relais may answer a received mail, and how often (RFC 3834, RFC 5321 §4.5.5): never a bounce, a
//! report or a machine, never an address that only a forged header names, and at most a few automatic
//! answers per address and day. Every answer relais sends to a received mail (held notice, help, join
//! and leave confirmations) asks here first, so a forged From or a bounce daemon never gets backscatter.

use mail_parser::{Message, MimeHeaders};

use super::Inbound;
use crate::domain::EmailAddress;
use crate::domain::mail_kind::MailKind;

/// The kinds of mail that answer a received one, counted together for the daily budget.
pub const ANSWER_KINDS: &[MailKind] = &[
    MailKind::ListHeld,
    MailKind::ListHelp,
    MailKind::ListLeaveConfirm,
    MailKind::SubscriptionConfirmation,
];

/// Automatic answers one address may receive in 24 hours.
pub const DAILY_ANSWERS: i64 = 3;

/// Local parts of addresses that are machines, not people (compared in lowercase, before any `+`).
const MACHINE_LOCAL_PARTS: &[&str] = &[
    "mailer-daemon",
    "postmaster",
    "noreply",
    "no-reply",
    "no_reply",
    "donotreply",
    "do-not-reply",
    "nepasrepondre",
    "ne-pas-repondre",
    "ne_pas_repondre",
    "bounce",
    "bounces",
    "listserv",
    "majordomo",
    "mailman",
    "sympa",
];

/// Whether `address` belongs to a machine (a daemon, a bounce or no-reply address, a list manager).
pub fn machine_address(address: &str) -> bool {
    let local = address
        .rsplit_once('@')
        .map_or(address, |(local, _)| local)
        .to_lowercase();
    let base = local.split(['+', '-']).next().unwrap_or_default();
    MACHINE_LOCAL_PARTS
        .iter()
        .any(|m| local == *m || base == *m || local.starts_with("owner-"))
        || local.ends_with("-request")
        || local.ends_with("-bounces")
        || local.ends_with("-owner")
}

/// Whether a message is a delivery, disposition or abuse report (RFC 3464, 8098, 5965).
fn report(message: &Message<'_>) -> bool {
    message.parts.iter().any(|part| {
        part.content_type().is_some_and(|t| {
            let subtype = t.subtype().unwrap_or_default().to_ascii_lowercase();
            (t.ctype().eq_ignore_ascii_case("multipart") && subtype == "report")
                || (t.ctype().eq_ignore_ascii_case("message")
                    && [
                        "delivery-status",
                        "disposition-notification",
                        "feedback-report",
                    ]
                    .contains(&subtype.as_str()))
        })
    })
}

/// Why a mail must not be answered at all, if it must not: a null envelope sender, a report, a message a
/// machine wrote, or a sender address that is a machine's.
pub fn unanswerable(
    message: Option<&Message<'_>>,
    envelope_from: &str,
    from: &str,
) -> Option<&'static str> {
    let envelope = envelope_from.trim().trim_matches(['<', '>']);
    if envelope.is_empty() {
        return Some("expéditeur d'enveloppe vide (avis de non-remise)");
    }
    if from.is_empty() {
        return Some("expéditeur absent");
    }
    if machine_address(envelope) || machine_address(from) {
        return Some("adresse d'un automate");
    }
    // An answer goes to an address relais can write to, or nowhere.
    if EmailAddress::parse(from).is_err() {
        return Some("adresse d'expéditeur invalide");
    }
    match message {
        None => Some("message illisible"),
        Some(message) if report(message) => Some("rapport de remise ou de signalement"),
        Some(message) if super::post::automatic(message) => Some("message automatique"),
        Some(_) => None,
    }
}

impl Inbound {
    /// Sends `answer` to `to` (display name `name`), signed by the organisation.
    pub async fn send_answer(
        &self,
        answer: &crate::mail::answer::Answer,
        to: &EmailAddress,
        name: &str,
        now: i64,
    ) -> anyhow::Result<()> {
        let message = answer.message(&self.settings.mail.from_name)?;
        let recipient = crate::store::outbox::NewRecipient {
            address: to.clone(),
            name: name.to_string(),
            person_id: None,
        };
        self.store.enqueue_mail(&message, &[recipient], now).await?;
        Ok(())
    }

    /// Why relais must not answer inbound message `inbound_message_id` (`message`, from `from`), if it must
    /// not: [`unanswerable`], or the address already had [`DAILY_ANSWERS`] answers in 24 hours.
    pub async fn refuse_answer(
        &self,
        message: Option<&Message<'_>>,
        inbound_message_id: i64,
        from: &str,
    ) -> anyhow::Result<Option<String>> {
        let client = self.store.inbound_client(inbound_message_id).await?;
        if let Some(why) = unanswerable(message, &client.mail_from, from) {
            return Ok(Some(why.to_string()));
        }
        let since = self.clock.now_millis() - 86_400_000;
        let sent = self
            .store
            .answers_sent_since(from, ANSWER_KINDS, since)
            .await?;
        Ok((sent >= DAILY_ANSWERS)
            .then(|| format!("déjà {sent} réponses automatiques à {from} en 24 h")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mail_parser::MessageParser;

    #[test]
    fn bounces_reports_machines_and_automatic_mail_get_no_answer() {
        let human = MessageParser::default()
            .parse(b"From: a@lyon.example\r\nSubject: aide\r\n\r\nx".as_slice())
            .unwrap();
        assert_eq!(
            unanswerable(Some(&human), "a@lyon.example", "a@lyon.example"),
            None
        );
        assert!(unanswerable(Some(&human), "", "a@lyon.example").is_some());
        assert!(unanswerable(Some(&human), "<>", "a@lyon.example").is_some());
        for machine in [
            "MAILER-DAEMON@mx.example",
            "postmaster@lyon.example",
            "noreply@lyon.example",
            "ne-pas-repondre@impots.example",
            "echanges-bounces@autre.example",
            "owner-liste@autre.example",
        ] {
            assert!(machine_address(machine), "{machine}");
            assert!(unanswerable(Some(&human), machine, machine).is_some());
        }
        assert!(!machine_address("marie.bounce-cousin@lyon.example"));
        let report = MessageParser::default()
            .parse(
                b"From: a@lyon.example\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=b\r\n\r\n\
                  --b\r\nContent-Type: text/plain\r\n\r\nx\r\n--b\r\nContent-Type: message/delivery-status\r\n\r\nStatus: 5.1.1\r\n--b--\r\n"
                    .as_slice(),
            )
            .unwrap();
        assert!(unanswerable(Some(&report), "a@lyon.example", "a@lyon.example").is_some());
        let bulk = MessageParser::default()
            .parse(
                b"From: a@lyon.example\r\nPrecedence: junk\r\nSubject: Gagnez\r\n\r\nx".as_slice(),
            )
            .unwrap();
        assert!(unanswerable(Some(&bulk), "a@lyon.example", "a@lyon.example").is_some());
    }

    #[test]
    fn a_from_that_is_no_address_gets_no_answer() {
        let human = MessageParser::default()
            .parse(b"From: a@lyon.example\r\nSubject: aide\r\n\r\nx".as_slice())
            .unwrap();
        assert_eq!(
            unanswerable(Some(&human), "a@lyon.example", "lyon.example"),
            Some("adresse d'expéditeur invalide")
        );
    }
}
