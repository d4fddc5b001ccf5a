//! The generic text readers, tried after the per-vendor ones: the tables of simple text patterns (as
//! flufl.bounce's simplematch and simplewarning: where the failed addresses start, where they end, how one
//! is written), then the last resorts for a message from a mail server (a line giving both an address and
//! a status; a failure text naming no one, attributed to the VERP recipient).

use std::sync::LazyLock;

use regex::Regex;

use super::context::{
    BOUNCE_SUBJECT, Context, FAILURE_TEXT, clean_address, is_system_address, re, status_in,
};
use super::formats::BRACKETED;
use super::view::{View, diagnostic_text};
use super::{Entry, Found, MAX_CONTEXT_LINES, MAX_ENTRIES, Severity, text_entry, text_entry_with};

// ---------------------------------------------------------------------------------------------------------
// Simple text reports: a line that starts the failed addresses, one that ends them, and how an address is
// written in between. The first table whose addresses are found wins.

struct Pattern {
    start: Regex,
    end: Regex,
    address: Regex,
}

fn pattern(start: &str, end: &str, address: &str) -> Pattern {
    Pattern {
        start: re(&format!("(?i){start}")),
        end: re(&format!("(?i){end}")),
        // Multi-line, as the address is matched on the line with its end of line ("a@b\n").
        address: re(&format!("(?im){address}")),
    }
}

const ANGLED: &str = r"<(?P<addr>[^>\s]+)>";
const ALONE: &str = r"^[\s*]*<?(?P<addr>[^\s@<>]+@[^\s@<>]+?)>?[\s:]*$";

static SIMPLE: LazyLock<Vec<Pattern>> = LazyLock::new(|| {
    vec![
        pattern(
            "here is your list of failed recipients",
            "here is your returned mail",
            ANGLED,
        ),
        pattern(
            "the following addresses had",
            "transcript of (?:the )?session follows",
            r"^ *(?:\(expanded from: )?<?(?P<addr>[^\s@]+@[^\s@>]+?)>?\)?\s*$",
        ),
        pattern(
            "this message was created automatically by mail delivery software",
            "original message follows",
            r"rcpt to:\s*<(?P<addr>[^>]*)>",
        ),
        pattern(
            "message from interscan e-mail viruswall nt",
            "end of message",
            r"rcpt to:\s*<(?P<addr>[^>]*)>",
        ),
        pattern(
            "failed addresses follow:",
            "message text follows:",
            r"^\s*(?P<addr>\S+@\S+)",
        ),
        pattern(
            "this is the machine generated message from mail service",
            "--- below the next line is a copy of the message",
            ANGLED,
        ),
        pattern(
            "the following addresses did not receive a copy of your message:",
            "--- session transcript ---",
            r"[>]\s*(?P<addr>.*)$",
        ),
        pattern(
            r"intended recipient:\s*(?P<addr>.*)$",
            "--------returned mail follows--------",
            r"intended recipient:\s*(?P<addr>.*)$",
        ),
        pattern(
            r"undeliverable address:\s*(?P<addr>.*)$",
            "original message attached",
            r"undeliverable address:\s*(?P<addr>.*)$",
        ),
        pattern(
            "this message was created automatically by mail delivery",
            "^---- start of returned message ----",
            r"addressed to '(?P<addr>[^']*)'",
        ),
        pattern(
            "user's mailbox is full:",
            "unable to deliver mail.",
            r"user's mailbox is full:\s*<(?P<addr>[^>]*)>",
        ),
        pattern(
            "the email below could not be delivered to the following user:",
            "old message:",
            ANGLED,
        ),
        pattern(
            r"unable to deliver message to the following address\(es\)\.",
            r"--- original message follows\.",
            r"<(?P<addr>[^>]*)>:",
        ),
        pattern(
            "delivery to the following recipients? failed",
            "----- original message -----",
            r"^\s*(?P<addr>[^\s@]+@[^\s@]+)\s*$",
        ),
        pattern(
            "a message that you sent could not be delivered",
            "^---",
            ANGLED,
        ),
        pattern(
            "a message that you sent could not be delivered",
            "^---",
            r"^\s*(?P<addr>[^\s@]+@[^\s@:]+):",
        ),
        pattern(
            "del(?:i|e)very to the following recipients (?:failed|was aborted)",
            r"^[^D][^@]{2,}$",
            r"^[\s*]*(?P<addr>[^\s@]+@[^\s@]+)\s*$",
        ),
        pattern(
            r"^your message\s*$",
            "^because:",
            r"^\s*(?P<addr>[^\s@]+@[^\s@]+)\s*$",
        ),
        pattern(
            r"^unable to deliver message to",
            r"\*+\s+end of message\s+\*+",
            ANGLED,
        ),
        pattern(
            "^sorry, unable to deliver your message to",
            "^a copy of the original message",
            r"\s*(?P<addr>[^\s@]+@[^\s@]+)\s+",
        ),
        pattern(
            "^a message could not be delivered to:",
            "^subject:",
            r"^\s*(?P<addr>[^\s@]+@[^\s@]+)\s*$",
        ),
        pattern(
            "^invalid final delivery userid:",
            "^original message follows.",
            r"\s*(?P<addr>[^\s@]+@[^\s@]+)\s*$",
        ),
        pattern(
            "------ failed recipients ------",
            "-------- returned mail --------",
            ANGLED,
        ),
        pattern(
            "a message that you sent could not be delivered",
            "^---",
            r"(?P<addr>[^\s@]+@[^\s@)]+)",
        ),
        pattern(
            r"^--> error description:\s*$",
            "^error-end:",
            r"^error-for:\s+(?P<addr>[^\s@]+@[^\s@]+)",
        ),
        pattern(
            "your message could not be delivered",
            "^-",
            r"<(?P<addr>[^>]*)>:",
        ),
        pattern(
            "your message could not be delivered to",
            r"^\s*$",
            r"(?P<addr>[^\s@]+@[^\s@]+)",
        ),
        pattern(
            "your message has encountered delivery problems",
            "your message reads",
            r"addressed to\s*(?P<addr>[^\s@]+@[^\s@)]+)",
        ),
        pattern(
            "did not reach the following recipient",
            r"^\s*$",
            r"\s(?P<addr>[^\s@]+@[^\s@]+)",
        ),
        pattern(
            "this is the deliver program at",
            "^-",
            r"^(?P<addr>[^\s@]+@[^\s@<>]+)",
        ),
        pattern(
            "this is the email server at",
            "^-",
            r"\s(?P<addr>[^\s@]+@[^\s@]+)[\s,]",
        ),
        pattern(
            "- no such user here",
            "there is no user",
            r"^(?P<addr>[^\s@]+@[^\s@]+)\s",
        ),
        pattern(
            "the following address failed:",
            "included is a copy of the message header",
            r"<(?P<addr>[^>]+)>",
        ),
        pattern(
            r"the following recipient\(s\) could not be reached",
            r"\s*error type",
            r"^(?P<addr>[^\s@]+@[^\s@<>]+)",
        ),
        pattern(
            "could not deliver message to the following recipient",
            r"\s*-- the header",
            r"failed recipient: (?P<addr>[^\s@]+@[^\s@<>]+)",
        ),
        pattern(
            "message not delivered to the following addresses",
            "error detail",
            r"\s*(?P<addr>[^\s@]+@[^\s@)]+)",
        ),
        pattern(
            "^your message",
            "^reporting",
            r"your message to <?(?P<addr>[^\s<@]+@[^\s@>]+)>? was automatically rejected",
        ),
        pattern(
            "a message that you sent was rejected",
            "this is a copy of your message",
            r"\s(?P<addr>[^\s@]+@[^\s@]+)",
        ),
        pattern(
            "message could not be delivered to some recipients.",
            "message headers follow",
            r"recipient: \[smtp:(?P<addr>[^\s@]+@[^\s@]+)\]",
        ),
        pattern(
            "wasn't able to deliver the following message",
            "---below this line is a copy of the message.",
            r"to: (?P<addr>[^\s@]+@[^\s@]+)",
        ),
        pattern(
            "this is a delivery failure notification message",
            "the problem appears to be",
            r"-- (?P<addr>[^\s@]+@[^\s@]+)",
        ),
        pattern(
            "delivery has failed",
            "original message details:",
            r"\[(?P<addr>[^\s@]+@[^\s@]+)\]",
        ),
        // French: "Votre message n'a pas pu être remis aux destinataires suivants :", "Le message ... n'a
        // pas pu être distribué à :", "Échec de la remise à ces destinataires ou groupes :".
        pattern(
            r"(?:n'a pas pu être (?:remis|distribué|délivré)|n'a pu être (?:remis|distribué)|échec de (?:la )?remise)",
            r"^\s*-{2,}|message d'origine|copie du message|^\s*(?:objet|subject)\s*:",
            ALONE,
        ),
        pattern(
            r"(?:n'a pas pu être (?:remis|distribué|délivré)|n'a pu être (?:remis|distribué)|échec de (?:la )?remise)",
            r"^\s*-{2,}|message d'origine|copie du message",
            ANGLED,
        ),
    ]
});

static SIMPLE_WARNING: LazyLock<Vec<Pattern>> = LazyLock::new(|| {
    vec![
        pattern(
            "the address to which the message has not yet been delivered is",
            "no action is required on your part",
            r"\s*(?P<addr>\S+@\S+)\s*",
        ),
        pattern(
            "your message to:",
            "this is just a warning, you do not need to take any action",
            r"\s*(?P<addr>\S+@\S+)\s*",
        ),
        pattern(
            "your message with subject:",
            "delivery attempts will continue to be made",
            r"\s*(?P<addr>\S+@\S+)\s*",
        ),
        pattern(
            "delivery to the following recipient has been delayed",
            "message will be retried",
            r"\s*(?P<addr>\S+@\S+)\s*",
        ),
        pattern(
            "this is an advisory-only email",
            "has been postponed",
            r#""(?P<addr>[^"]+)""#,
        ),
        pattern(
            "not yet been delivered",
            "no action is required on your part",
            r"\s*<?(?P<addr>\S+@[^>\s]+)>?\s*",
        ),
        pattern(
            r"pas encore (?:été|pu être) (?:remis|distribué|délivré)",
            r"aucune action|^\s*-{2,}",
            r"\s*<?(?P<addr>[^\s<>]+@[^>\s]+)>?\s*",
        ),
    ]
});

pub(super) fn simple(view: &View, ctx: &Context) -> Option<Found> {
    table(view, ctx, &SIMPLE, "simple", Severity::Permanent)
}

pub(super) fn simple_warning(view: &View, ctx: &Context) -> Option<Found> {
    let found = table(
        view,
        ctx,
        &SIMPLE_WARNING,
        "simplewarning",
        Severity::Temporary,
    )?;
    // These are warnings whatever their text says.
    let entries = found
        .entries
        .into_iter()
        .map(|e| Entry {
            severity: Severity::Temporary,
            ..e
        })
        .collect();
    Found::new("simplewarning", entries)
}

fn table(
    view: &View,
    ctx: &Context,
    patterns: &[Pattern],
    format: &'static str,
    default: Severity,
) -> Option<Found> {
    let lines: Vec<&str> = view.lines().collect();
    for p in patterns {
        let Some(start) = lines.iter().position(|l| p.start.is_match(l)) else {
            continue;
        };
        let mut found: Vec<(String, Vec<&str>)> = Vec::new();
        let mut end = lines.len();
        for (i, line) in lines.iter().enumerate().skip(start) {
            // The patterns may expect the line's end of line, as in "a@b\n".
            let with_end = format!("{line}\n");
            if let Some(address) = p
                .address
                .captures(&with_end)
                .and_then(|c| c.name("addr").and_then(|m| clean_address(m.as_str())))
            {
                if !is_system_address(view, &address) {
                    if let Some(entry) = found.iter_mut().find(|(a, _)| *a == address) {
                        entry.1.push(line);
                    } else if found.len() < MAX_ENTRIES {
                        found.push((address, vec![*line]));
                    }
                }
            } else if p.end.is_match(line) {
                end = i;
                break;
            } else if let Some((_, segment)) = found.last_mut() {
                segment.push(line);
            }
        }
        if found.is_empty() {
            continue;
        }
        let context = &lines[start..end.min(start + MAX_CONTEXT_LINES)];
        let entries = found
            .into_iter()
            .map(|(a, segment)| {
                let mut whole: Vec<&str> = context.to_vec();
                whole.extend(&segment);
                let mut entry = text_entry_with(ctx, a, &segment, &whole, default);
                if entry.status.is_empty() {
                    // The reason may come before the address ("550 5.1.1 ..." then the list).
                    entry.status = status_in(&context.join("\n"));
                }
                entry
            })
            .collect();
        return Found::new(format, entries);
    }
    None
}

// ---------------------------------------------------------------------------------------------------------
// Last resorts, only for messages from a mail server.

/// A line that gives both an address and a status: "550 5.1.1 <a@b>: Recipient address rejected",
/// "<a@b>: host mx.example.org said: 550 ...".
pub(super) fn text_lines(view: &View, ctx: &Context) -> Option<Found> {
    if !ctx.bounce_like {
        return None;
    }
    let mut entries: Vec<Entry> = Vec::new();
    for line in view.notice().lines() {
        let status = status_in(line);
        if !status.starts_with(['4', '5']) {
            continue;
        }
        let Some(address) = BRACKETED
            .captures(line)
            .and_then(|c| clean_address(&c[1]))
            .filter(|a| !is_system_address(view, a))
        else {
            continue;
        };
        if entries.iter().any(|e| e.addresses[0] == address) {
            continue;
        }
        entries.push(text_entry(ctx, address, &[line], Severity::Permanent));
        if entries.len() == MAX_ENTRIES {
            break;
        }
    }
    Found::new("text", entries)
}

/// A report from a mail server naming no address: with the VERP recipient known, its failure text is
/// enough.
pub(super) fn text_only(view: &View, ctx: &Context, recipient: Option<&str>) -> Option<Found> {
    if !ctx.bounce_like {
        return None;
    }
    let notice = view.notice();
    let status = status_in(notice);
    let failure = FAILURE_TEXT.is_match(notice) || BOUNCE_SUBJECT.is_match(&view.subject);
    if !failure && !status.starts_with(['4', '5']) && !ctx.warning {
        return None;
    }
    let (severity, status) = ctx.classify(notice, Severity::Permanent);
    let lines: Vec<&str> = notice.lines().collect();
    let diagnostic = lines
        .iter()
        .find(|l| !status_in(l).is_empty())
        .or_else(|| lines.iter().find(|l| FAILURE_TEXT.is_match(l)))
        .map(|l| diagnostic_text(l))
        .unwrap_or_default();
    let entry = Entry {
        addresses: recipient.map(|r| vec![r.to_string()]).unwrap_or_default(),
        guessed_domain: false,
        severity,
        status,
        diagnostic,
    };
    Found::new("text", vec![entry])
}
