//! The readers for the formats mail servers used before (or instead of) RFC 3464, one a vendor: sina, Yahoo,
//! Yale's name server, SMTP32, the old Postfix notice, qmail's QSBMF, GroupWise / NTMail, Microsoft
//! SMTPSVC, Caiwireless, Exchange, Netscape, AOL and LLNL. Each recognises its format from the sender, the
//! headers or a line of text, then finds the failed addresses and the text that follows each.

use std::sync::LazyLock;

use regex::Regex;

use super::context::{
    BOUNCE_SUBJECT, Context, DAEMON_LOCAL, FAILURE_TEXT, clean_address, is_system_address, re,
};
use super::view::View;
use super::{Entry, Found, MAX_ENTRIES, Severity, text_entry, text_entry_with};

// ---------------------------------------------------------------------------------------------------------
// Provider formats.

/// sina.com: `<address>:` lines in the first part.
pub(super) fn sina(view: &View, ctx: &Context) -> Option<Found> {
    if view.from != "mailer-daemon@sina.com" || !view.content_type.starts_with("multipart/") {
        return None;
    }
    let text = view.leaves.first()?.text.as_deref()?;
    let lines: Vec<&str> = text.lines().collect();
    Found::new("sina", address_lines(ctx, &lines, &LEADING_ANGLE, None))
}

static LEADING_ANGLE: LazyLock<Regex> = LazyLock::new(|| re(r"^\s*<([^>\s]+)>"));
static LEADING_ANGLE_COLON: LazyLock<Regex> = LazyLock::new(|| re(r"^\s*<([^>\s]*)>\s*:"));

/// Entries for the lines `address` matches (group 1), each with the lines up to the next as its block;
/// stops at a line `end` matches.
fn address_lines(
    ctx: &Context,
    lines: &[&str],
    address: &Regex,
    end: Option<&Regex>,
) -> Vec<Entry> {
    let mut found: Vec<(String, Vec<&str>)> = Vec::new();
    for line in lines {
        if end.is_some_and(|e| e.is_match(line)) {
            break;
        }
        if let Some(c) = address.captures(line)
            && let Some(a) = clean_address(&c[1])
        {
            let rest = line
                .get(c.get(0).map_or(0, |m| m.end())..)
                .unwrap_or_default();
            found.push((a, vec![rest]));
        } else if let Some((_, segment)) = found.last_mut() {
            segment.push(line);
        }
    }
    found
        .into_iter()
        .take(MAX_ENTRIES)
        .map(|(a, segment)| text_entry(ctx, a, &segment, Severity::Permanent))
        .collect()
}

/// Yahoo's own text: "Message from yahoo.com." or "Sorry, we were unable to deliver your message to the
/// following address.", then `<address>:` blocks.
pub(super) fn yahoo(view: &View, ctx: &Context) -> Option<Found> {
    let domain = view
        .from
        .rsplit_once('@')
        .map(|(_, d)| d)
        .unwrap_or_default();
    if !view.from.starts_with("mailer-daemon@") || !domain.starts_with("yahoo") {
        return None;
    }
    let lines: Vec<&str> = view.lines().collect();
    let start = lines.iter().position(|l| YAHOO_START.is_match(l.trim()))?;
    Found::new(
        "yahoo",
        address_lines(
            ctx,
            &lines[start + 1..],
            &LEADING_ANGLE_COLON,
            Some(&YAHOO_END),
        ),
    )
}

static YAHOO_START: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?i)^message\s+from\s+yahoo\.\S+|^sorry,? we were unable to deliver your message to the following address",
    )
});
static YAHOO_END: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?i)^\s*-+ ?(?:original message follows|below this line is a copy of the message)|^\s*-+ ?forwarded message -+",
    )
});

/// Yale's name server ("ph"): bare names under "Message not delivered to the following:", completed with the
/// reporting domain.
pub(super) fn yale(view: &View, ctx: &Context) -> Option<Found> {
    let local = view.from.split('@').next().unwrap_or_default();
    if view.content_type.starts_with("multipart/") || local != "mailer-daemon" {
        return None;
    }
    let lines: Vec<&str> = view.lines().collect();
    let start = lines.iter().position(|l| YALE_START.is_match(l))?;
    let end = lines[start..]
        .iter()
        .position(|l| YALE_END.is_match(l))
        .map(|p| start + p)?;
    let domain = view.reporting_domain();
    let context = &lines[start..end];
    let mut entries = Vec::new();
    for line in lines[start + 1..end].iter().take(MAX_ENTRIES) {
        let mut words = line.split_whitespace();
        let Some(name) = words.next() else { continue };
        if name.starts_with('-') {
            continue;
        }
        let reason: Vec<&str> = vec![line.trim()];
        let (address, guessed) = match clean_address(name) {
            Some(a) => (a, false),
            None if name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "._-+".contains(c)) =>
            {
                (format!("{}@{domain}", name.to_lowercase()), true)
            }
            None => continue,
        };
        let mut entry = text_entry_with(ctx, address, &reason, context, Severity::Permanent);
        entry.guessed_domain = guessed;
        entries.push(entry);
    }
    Found::new("yale", entries)
}

static YALE_START: LazyLock<Regex> =
    LazyLock::new(|| re(r"(?i)message not delivered to the following:"));
static YALE_END: LazyLock<Regex> = LazyLock::new(|| re(r"(?i)error detail"));

/// SMTP32 (`X-Mailer: <SMTP32 v…>`): "Unknown user: a@b", "Delivery failed 20 attempts: a@b".
pub(super) fn smtp32(view: &View, ctx: &Context) -> Option<Found> {
    if !view
        .header("x-mailer")
        .unwrap_or_default()
        .starts_with("<SMTP32 v")
    {
        return None;
    }
    let lines: Vec<&str> = view.lines().collect();
    Found::new(
        "smtp32",
        address_lines(ctx, &lines, &SMTP32_ADDRESS, Some(&SMTP32_END)),
    )
}

static SMTP32_ADDRESS: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?i)(?:user mailbox[^:]*:|delivery failed[^:]*:|unknown user[^:]*:|undeliverable +to|delivery userid[^:]*:)\s*(\S+)",
    )
});
static SMTP32_END: LazyLock<Regex> = LazyLock::new(|| re(r"(?i)original message follows"));

/// Postfix before RFC 3464 reports (and its look-alikes): the "Notification" part, signed "The Postfix
/// program", then `<address>: reason` lines.
pub(super) fn postfix(view: &View, ctx: &Context) -> Option<Found> {
    if view.content_type != "multipart/mixed" && view.content_type != "multipart/report" {
        return None;
    }
    let leaf = view.leaves.iter().find(|l| {
        l.content_type == "text/plain" && l.description == "notification" && l.text.is_some()
    })?;
    let lines: Vec<&str> = leaf.text.as_deref().unwrap_or_default().lines().collect();
    let start = lines.iter().position(|l| POSTFIX_START.is_match(l))?;
    Found::new(
        "postfix",
        address_lines(ctx, &lines[start + 1..], &ANGLE_COLON, None),
    )
}

static POSTFIX_START: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?i)^\s*(?:the\s*(?:bns\s*)?(?:postfix|keftamail|smtp_gateway)|le (?:programme|logiciel) postfix)|failure reason:\s*$",
    )
});
static ANGLE_COLON: LazyLock<Regex> = LazyLock::new(|| re(r"<([^>\s]*)>\s*:"));

/// qmail's QSBMF (and servers imitating it): an introduction paragraph, then `<address>:` paragraphs up to
/// a line starting with "-".
pub(super) fn qmail(view: &View, ctx: &Context) -> Option<Found> {
    let lines: Vec<&str> = view.lines().collect();
    let intro = lines.iter().position(|l| {
        let l = l.trim();
        QMAIL_INTROS.iter().any(|tag| l.starts_with(tag)) || l.contains("qmail-send program")
    })?;
    let blank = lines[intro..]
        .iter()
        .position(|l| l.trim().is_empty())
        .map(|p| intro + p)?;
    let mut found: Vec<(String, Vec<&str>)> = Vec::new();
    for line in &lines[blank + 1..] {
        let trimmed = line.trim();
        if trimmed.starts_with('-') {
            break;
        }
        if let Some(c) = LEADING_ANGLE_COLON.captures(trimmed) {
            if let Some(a) = clean_address(&c[1]) {
                let rest = trimmed
                    .get(c.get(0).map_or(0, |m| m.end())..)
                    .unwrap_or_default();
                found.push((a, vec![rest]));
            }
        } else if let Some((_, segment)) = found.last_mut() {
            segment.push(trimmed);
        }
    }
    let entries = found
        .into_iter()
        .take(MAX_ENTRIES)
        .map(|(a, segment)| text_entry(ctx, a, &segment, Severity::Permanent))
        .collect();
    Found::new("qmail", entries)
}

const QMAIL_INTROS: &[&str] = &[
    "Hi. This is the",
    "Hi. The MTA program at",
    "This is the mail delivery agent at",
    "We're sorry. There's a problem",
    "Check your send e-mail address.",
    "Unfortunately, your mail was not delivered",
    "Your mail message to the following",
    "Bonjour. Ceci est le programme qmail-send",
    "Ceci est le programme qmail-send",
];

/// Novell GroupWise, NTMail, Exchange's Internet Mail Service: a multipart/mixed whose first text part lists
/// `<address>` or `address (reason)` lines.
pub(super) fn groupwise(view: &View, ctx: &Context) -> Option<Found> {
    let mailer = view
        .header("x-mailer")
        .unwrap_or_default()
        .to_ascii_lowercase();
    if view.content_type != "multipart/mixed"
        || !["nov", "ntm", "int"].iter().any(|p| mailer.starts_with(p))
    {
        return None;
    }
    let text = view.first_text_leaf()?.text.as_deref()?;
    if !FAILURE_TEXT.is_match(text) && !BOUNCE_SUBJECT.is_match(&view.subject) {
        return None;
    }
    let lines: Vec<&str> = text.lines().collect();
    let mut found: Vec<(String, Vec<&str>)> = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        if found.len() == MAX_ENTRIES {
            break;
        }
        let address = BRACKETED
            .captures(line)
            .and_then(|c| clean_address(&c[1]))
            .or_else(|| {
                line.contains('@')
                    .then(|| line.split_whitespace().next().and_then(clean_address))
                    .flatten()
            });
        let Some(address) = address.filter(|a| !is_system_address(view, a)) else {
            continue;
        };
        let mut segment = vec![*line];
        segment.extend(
            lines[i + 1..]
                .iter()
                .take_while(|l| l.starts_with([' ', '\t']) && !l.trim().is_empty()),
        );
        found.push((address, segment));
    }
    let entries = found
        .into_iter()
        .take(MAX_ENTRIES)
        .map(|(a, segment)| text_entry(ctx, a, &segment, Severity::Permanent))
        .collect();
    Found::new("groupwise", entries)
}

pub(super) static BRACKETED: LazyLock<Regex> = LazyLock::new(|| re(r"<([^>\s]+@[^>\s]+)>"));

/// Microsoft SMTPSVC: the first part says "transcript of session follows", then the addresses alone on
/// their lines.
pub(super) fn microsoft(view: &View, ctx: &Context) -> Option<Found> {
    if view.content_type != "multipart/mixed" {
        return None;
    }
    let text = view.leaves.first()?.text.as_deref()?;
    let lines: Vec<&str> = text.lines().collect();
    let start = lines.iter().position(|l| TRANSCRIPT.is_match(l))?;
    let context = &lines[..];
    let entries = lines[start + 1..]
        .iter()
        .filter_map(|l| {
            let t = l.trim();
            (!t.contains(char::is_whitespace))
                .then(|| clean_address(t))
                .flatten()
        })
        .take(MAX_ENTRIES)
        .map(|a| text_entry_with(ctx, a, &[], context, Severity::Permanent))
        .collect();
    Found::new("microsoft", entries)
}

static TRANSCRIPT: LazyLock<Regex> = LazyLock::new(|| re(r"(?i)transcript of session follows"));

/// Caiwireless: "The following recipients did not receive this message:" and the address on the next line.
pub(super) fn caiwireless(view: &View, ctx: &Context) -> Option<Found> {
    if view.content_type != "multipart/mixed" {
        return None;
    }
    let lines: Vec<&str> = view.lines().collect();
    let start = lines.iter().position(|l| CAI_START.is_match(l.trim()))?;
    let line = lines[start + 1..].iter().find(|l| !l.trim().is_empty())?;
    let address = LEADING_ANGLE
        .captures(line)
        .and_then(|c| clean_address(&c[1]))?;
    let context = &lines[..start];
    Found::new(
        "caiwireless",
        vec![text_entry_with(
            ctx,
            address,
            context,
            context,
            Severity::Permanent,
        )],
    )
}

static CAI_START: LazyLock<Regex> =
    LazyLock::new(|| re(r"(?i)^the following recipients did not receive this message:"));

/// Exchange 5.5 / 2000 / 2003 text: "did not reach the following recipient(s):" then
/// `address on <date>` (or `SMTP=address; on`) and the reason, up to the `MSEXCH:` line. French too.
pub(super) fn exchange(view: &View, ctx: &Context) -> Option<Found> {
    let lines: Vec<&str> = view.lines().collect();
    let start = lines.iter().position(|l| EXCHANGE_START.is_match(l))?;
    let mut found: Vec<(String, Vec<&str>)> = Vec::new();
    for line in &lines[start + 1..] {
        let end = line.contains("MSEXCH:");
        let address = EXCHANGE_SMTP
            .captures(line)
            .or_else(|| EXCHANGE_ON.captures(line))
            .and_then(|c| clean_address(&c[1]));
        match address {
            Some(a) if !end => found.push((a, Vec::new())),
            _ => {
                if let Some((_, segment)) = found.last_mut() {
                    segment.push(line);
                }
            }
        }
        if end {
            break;
        }
    }
    let entries = found
        .into_iter()
        .take(MAX_ENTRIES)
        .map(|(a, segment)| text_entry(ctx, a, &segment, Severity::Permanent))
        .collect();
    Found::new("exchange", entries)
}

static EXCHANGE_START: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?i)did not reach the following recipient|(?:n'a pas (?:pu )?atteint|impossible d'atteindre|n'a pas pu atteindre) (?:le ou les|les|le) destinataires?",
    )
});
static EXCHANGE_SMTP: LazyLock<Regex> = LazyLock::new(|| re(r"SMTP=([^;\s]+);"));
static EXCHANGE_ON: LazyLock<Regex> =
    LazyLock::new(|| re(r#"^\s*['"]?([^\s@'"]+@[^\s@'"]+?)['"]? (?:on|le) "#));

/// Netscape Messaging Server: "This Message was undeliverable due to the following reason:", the reason,
/// then `<address>` lines.
pub(super) fn netscape(view: &View, ctx: &Context) -> Option<Found> {
    // A text part before the report or the returned message.
    if !view.content_type.starts_with("multipart/")
        || view.leaves.len() + view.reports.len() + view.nested.len() < 2
    {
        return None;
    }
    let leaf = view
        .leaves
        .iter()
        .find(|l| l.content_type == "text/plain")?;
    let lines: Vec<&str> = leaf.text.as_deref()?.lines().collect();
    let start = lines.iter().position(|l| NETSCAPE_START.is_match(l))?;
    let after = &lines[start + 1..];
    let first_address = after
        .iter()
        .position(|l| BRACKETED.is_match(l))
        .unwrap_or(after.len());
    let reason = &after[..first_address];
    let entries = after
        .iter()
        .filter(|l| !l.to_ascii_lowercase().contains("please reply to"))
        .filter_map(|l| BRACKETED.captures(l).and_then(|c| clean_address(&c[1])))
        .filter(|a| !is_system_address(view, a))
        .take(MAX_ENTRIES)
        .map(|a| text_entry_with(ctx, a, reason, after, Severity::Permanent))
        .collect();
    Found::new("netscape", entries)
}

static NETSCAPE_START: LazyLock<Regex> =
    LazyLock::new(|| re(r"(?i)this message was undeliverable due to the following reason:"));

/// AOL: "mail to the following recipients could not be delivered", then screen names (completed with the
/// reporting domain) or addresses, one a line.
pub(super) fn aol(view: &View, ctx: &Context) -> Option<Found> {
    let local = view.from.split('@').next().unwrap_or_default();
    if view.content_type != "text/plain"
        || !(view.from.ends_with("@aol.com") || DAEMON_LOCAL.is_match(local))
    {
        return None;
    }
    let lines: Vec<&str> = view.lines().collect();
    let start = lines.iter().position(|l| AOL_START.is_match(l))?;
    let domain = view.reporting_domain();
    let reason = &lines[start..=start];
    let mut entries = Vec::new();
    for line in lines[start + 1..].iter().take(MAX_ENTRIES) {
        let name = line.trim();
        if name.is_empty() {
            continue;
        }
        if name.contains(char::is_whitespace) {
            break;
        }
        let (address, guessed) = match clean_address(name) {
            Some(a) => (a, false),
            None if !name.contains('@') => (format!("{}@{domain}", name.to_lowercase()), true),
            None => continue,
        };
        let mut entry = text_entry(ctx, address, reason, Severity::Permanent);
        entry.guessed_domain = guessed;
        entries.push(entry);
    }
    Found::new("aol", entries)
}

static AOL_START: LazyLock<Regex> =
    LazyLock::new(|| re(r"(?i)mail to the following recipients could not be delivered"));

/// LLNL's directory: "The address to which your message was addressed, a@b, did not exactly match".
/// Loose, so only in a message from a mail server.
pub(super) fn llnl(view: &View, ctx: &Context) -> Option<Found> {
    if !ctx.bounce_like {
        return None;
    }
    let lines: Vec<&str> = view.notice().lines().collect();
    for (i, line) in lines.iter().enumerate() {
        if let Some(address) = LLNL_ADDRESS
            .captures(line)
            .and_then(|c| clean_address(&c[1]))
            && !is_system_address(view, &address)
        {
            let segment = &lines[i..(i + 2).min(lines.len())];
            return Found::new(
                "llnl",
                vec![text_entry(ctx, address, segment, Severity::Permanent)],
            );
        }
    }
    None
}

static LLNL_ADDRESS: LazyLock<Regex> = LazyLock::new(|| re(r",\s*(\S+@[^,\s]+),"));
