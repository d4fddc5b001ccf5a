//! Reading bounces. relais sends each delivery with its own VERP return path (`bounces+<token>@domain`), so it
//! already knows which delivery a bounce is about; what it must read from the body is whether the failure is
//! permanent, temporary, or not a failure at all (an out-of-office reply or a person answering the return
//! path), and what the receiving server said.
//!
//! Standard reports (RFC 3464 `message/delivery-status`, also nested inside a `message/rfc822` part) are read
//! first; then the header Exim adds (`X-Failed-Recipients`); then, as GNU Mailman's `flufl.bounce` does, a
//! series of readers for the formats mail servers used before (or instead of) RFC 3464: qmail's QSBMF, the
//! old Postfix notice, Exchange, GroupWise / NTMail, Microsoft SMTPSVC, Netscape, SMTP32, Yahoo, AOL, sina,
//! Yale's name server, Caiwireless, LLNL, and a table of "start of the failed addresses / end" text patterns
//! (English and French) for the simpler ones. The ideas are flufl.bounce's (Apache-2.0); the code is not.
//!
//! Unlike flufl.bounce, every reader here decides per recipient whether the failure is permanent: a status
//! of class 5 (`5.1.1`, `550`) or an `Action: failed` is permanent, a status of class 4, a delay
//! (`Action: delayed`, "will be retried", "THIS IS A WARNING ONLY", "n'a pas encore été remis") is
//! temporary. A class 4 status in a report that says the server gave up (`Action: failed`, "I'm not going to
//! try again", "This is a permanent error") is permanent: the delivery has failed for good, and the status
//! (kept in [`BounceVerdict::status`]) tells the caller the cause was transient. `5.7.x` (policy refusals)
//! stays permanent here: the caller decides what to count.
//!
//! The code, by file: this one holds the public types, [`read_bounce`] and the order the readers are tried
//! in, and what a reader hands back (`Found`, one `Entry` per address) and how that becomes a verdict.
//! `view.rs` is the message as the readers see it (headers, MIME leaves, text); `context.rs` what the whole
//! message says (a warning? from a mail server?), status codes, addresses and the text every reader looks
//! for; `dsn.rs` reads RFC 3464 reports and Exim's `X-Failed-Recipients`; `formats.rs` the per-vendor
//! formats (qmail, Postfix, Exchange, GroupWise, Yahoo, ...); `patterns.rs` the tables of simple text
//! patterns and the last resorts; `tests.rs` the unit tests.

mod context;
mod dsn;
mod formats;
mod patterns;
#[cfg(test)]
mod tests;
mod view;

use mail_parser::MessageParser;

use context::{Context, clean_address, status_in};
use dsn::{dsn, exim};
use formats::{
    aol, caiwireless, exchange, groupwise, llnl, microsoft, netscape, postfix, qmail, sina, smtp32,
    yahoo, yale,
};
use patterns::{simple, simple_warning, text_lines, text_only};
use view::{View, diagnostic_text};

/// What a bounce means for the recipient it is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// The delivery failed for good (the address does not exist, the server gave up, a policy refused it).
    Permanent,
    /// The delivery is late or failed for a transient reason; the sending server will try again.
    Temporary,
    /// Not a failure: an auto-reply, a success notice, a person writing, or a report naming no one.
    Ignore,
}

/// What [`read_bounce`] made of a message.
#[derive(Debug, Clone)]
pub struct BounceVerdict {
    /// Which reader recognised it: "dsn", "qmail", "postfix", "exim", "exchange", "groupwise", "yahoo", "simple", ... or "unknown".
    pub format: &'static str,
    pub severity: Severity,
    /// Enhanced status ("5.1.1") when the report gives one, else the SMTP code ("550") or "".
    pub status: String,
    /// The server's diagnostic for the recipient, unfolded to one line (RFC 5322 folding removed), trimmed; "" if none.
    pub diagnostic: String,
    /// Lowercase addresses the report says failed (permanent or temporary, per `severity`).
    pub recipients: Vec<String>,
}

impl BounceVerdict {
    fn ignore(format: &'static str) -> BounceVerdict {
        BounceVerdict {
            format,
            severity: Severity::Ignore,
            status: String::new(),
            diagnostic: String::new(),
            recipients: Vec::new(),
        }
    }
}

/// Reads a bounce. `recipient` is the address the VERP envelope names, when known: its block/line decides
/// (a report about several recipients where ours is only delayed is Temporary even if another failed).
/// When the recipient is known but the body names no address at all, a clear permanent failure text still counts as Permanent.
///
/// With `recipient` given, a Permanent or Temporary verdict lists it first in `recipients` (the VERP address
/// says the report is about it, even when the report names the address it forwards to), then the other
/// addresses the report gives the same severity. A report that names no address while `recipient` is
/// `None` is `Ignore` (there is no one to attribute it to); its `format`, `status` and `diagnostic` still
/// say what was read. An auto-reply has the format "autoreply", a message no reader recognised (a person
/// writing, anything not sent by a mail server) "unknown".
///
/// Never panics; the work is bounded (256 KiB of text per part, 100 addresses per report).
pub fn read_bounce(raw: &[u8], recipient: Option<&str>) -> BounceVerdict {
    let recipient = recipient
        .map(|r| clean_address(r).unwrap_or_else(|| r.trim().to_lowercase()))
        .filter(|r| !r.is_empty());
    // mail-parser promises not to panic; this keeps that promise for relais if a future version breaks it.
    std::panic::catch_unwind(|| read(raw, recipient.as_deref()))
        .unwrap_or_else(|_| BounceVerdict::ignore("unknown"))
}

/// Longest text read from one part, and longest diagnostic kept.
const MAX_PART_TEXT: usize = 256 * 1024;
const MAX_DIAGNOSTIC: usize = 1000;
/// How deep nested `message/rfc822` parts are followed.
const MAX_DEPTH: usize = 4;
/// Most addresses read from one report, and most lines of context a text report's entry is judged on:
/// bounds on the work a hostile message can cause.
const MAX_ENTRIES: usize = 100;
const MAX_CONTEXT_LINES: usize = 200;

fn read(raw: &[u8], recipient: Option<&str>) -> BounceVerdict {
    let raw = skip_mbox_line(raw);
    let Some(message) = MessageParser::default().parse(raw) else {
        return BounceVerdict::ignore("unknown");
    };
    let view = View::new(&message, raw, 0);
    read_view(&view, recipient, 0)
}

/// A leading mbox `From ` line is not a header; mail-parser would take it for one.
fn skip_mbox_line(raw: &[u8]) -> &[u8] {
    if raw.starts_with(b"From ") && !raw.starts_with(b"From :") {
        let first_line = raw.split(|&b| b == b'\n').next().unwrap_or_default();
        return raw.get(first_line.len() + 1..).unwrap_or_default();
    }
    raw
}

fn read_view(view: &View, recipient: Option<&str>, depth: usize) -> BounceVerdict {
    let ctx = Context::new(view);
    // Structured reports first: nothing heuristic about them.
    for reader in [dsn as Reader, exim] {
        if let Some(found) = reader(view, &ctx) {
            return found.verdict(recipient);
        }
    }
    if !ctx.bounce_like {
        // A person (or their auto-reply) writing to the return path: the text readers below are loose
        // enough to take a quoted report, or an address in a signature, for a failure.
        return BounceVerdict::ignore(if ctx.auto_reply {
            "autoreply"
        } else {
            "unknown"
        });
    }
    for reader in [
        sina as Reader,
        yahoo,
        yale,
        smtp32,
        postfix,
        qmail,
        groupwise,
        microsoft,
        caiwireless,
        exchange,
        netscape,
        aol,
        simple,
        simple_warning,
        llnl,
        text_lines,
    ] {
        if let Some(found) = reader(view, &ctx) {
            return found.verdict(recipient);
        }
    }
    // A bounce forwarded as an attachment (some gateways wrap the report they received).
    if depth < MAX_DEPTH {
        for nested in &view.nested {
            if Context::new(nested).bounce_like {
                let verdict = read_view(nested, recipient, depth + 1);
                if verdict.format != "unknown" && verdict.format != "autoreply" {
                    return verdict;
                }
            }
        }
    }
    if let Some(found) = text_only(view, &ctx, recipient) {
        return found.verdict(recipient);
    }
    BounceVerdict::ignore("unknown")
}

// ---------------------------------------------------------------------------------------------------------
// What a reader finds: one entry per failed address.

type Reader = fn(&View, &Context) -> Option<Found>;

struct Found {
    format: &'static str,
    entries: Vec<Entry>,
}

struct Entry {
    /// Lowercase; the first is the one reported, the others are aliases the report gives (Original-Recipient,
    /// Final-Recipient, X-Actual-Recipient). Empty when the report names no one.
    addresses: Vec<String>,
    /// The address was a bare name completed with a guessed domain (Yale, AOL): match it by its local part.
    guessed_domain: bool,
    severity: Severity,
    status: String,
    diagnostic: String,
}

impl Entry {
    fn names(&self, recipient: &str) -> bool {
        self.addresses.iter().any(|a| a == recipient)
            || (self.guessed_domain
                && self
                    .addresses
                    .iter()
                    .any(|a| a.split('@').next() == recipient.split('@').next() && !a.is_empty()))
    }
}

impl Found {
    fn new(format: &'static str, mut entries: Vec<Entry>) -> Option<Found> {
        entries.truncate(MAX_ENTRIES);
        (!entries.is_empty()).then_some(Found { format, entries })
    }

    fn verdict(self, recipient: Option<&str>) -> BounceVerdict {
        let ours = recipient.and_then(|r| {
            let named: Vec<&Entry> = self.entries.iter().filter(|e| e.names(r)).collect();
            named
                .iter()
                .find(|e| e.severity == Severity::Permanent)
                .or_else(|| named.iter().find(|e| e.severity == Severity::Temporary))
                .or_else(|| named.first())
                .copied()
        });
        let chosen = ours.or_else(|| {
            [Severity::Permanent, Severity::Temporary, Severity::Ignore]
                .into_iter()
                .find_map(|s| self.entries.iter().find(|e| e.severity == s))
        });
        let Some(chosen) = chosen else {
            return BounceVerdict::ignore(self.format);
        };
        let severity = chosen.severity;
        let mut recipients: Vec<String> = Vec::new();
        if severity != Severity::Ignore {
            // Through its VERP address the report is about our recipient, even when it names someone
            // else (a forward) or no one.
            if let Some(r) = recipient {
                recipients.push(r.to_string());
            }
            for entry in self.entries.iter().filter(|e| e.severity == severity) {
                if ours.is_some_and(|o| std::ptr::eq(o, entry)) {
                    continue;
                }
                if let Some(address) = entry.addresses.first()
                    && !address.is_empty()
                    && !recipients.contains(address)
                {
                    recipients.push(address.clone());
                }
            }
        }
        BounceVerdict {
            format: self.format,
            severity: if recipients.is_empty() {
                Severity::Ignore
            } else {
                severity
            },
            status: chosen.status.clone(),
            diagnostic: chosen.diagnostic.clone(),
            recipients,
        }
    }
}

/// An entry for an address a text report names, with the lines that follow it as its diagnostic.
fn text_entry(ctx: &Context, address: String, segment: &[&str], default: Severity) -> Entry {
    text_entry_with(ctx, address, segment, segment, default)
}

/// As [`text_entry`], when the text that decides the severity (`context`) is more than the diagnostic.
fn text_entry_with(
    ctx: &Context,
    address: String,
    segment: &[&str],
    context: &[&str],
    default: Severity,
) -> Entry {
    let context_text = context[..context.len().min(MAX_CONTEXT_LINES)].join("\n");
    let (severity, status) = ctx.classify(&context_text, default);
    Entry {
        addresses: vec![address],
        guessed_domain: false,
        severity,
        status,
        diagnostic: segment_diagnostic(&segment[..segment.len().min(MAX_CONTEXT_LINES)]),
    }
}

/// The diagnostic of a text report's block: from its first line with a status code, else all of it.
fn segment_diagnostic(segment: &[&str]) -> String {
    let lines: Vec<&str> = segment
        .iter()
        .map(|l| l.trim())
        .filter(|l| !l.is_empty())
        .collect();
    let start = lines
        .iter()
        .position(|l| !status_in(l).is_empty())
        .unwrap_or(0);
    diagnostic_text(&lines[start..].join(" "))
}
