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

use std::sync::LazyLock;

use mail_parser::{Message, MessageParser, MimeHeaders, PartType};
use regex::Regex;

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
// The message as the readers see it.

/// One message (the bounce, or a message attached to it): the headers that matter and its text.
struct View {
    /// The From address, lowercase ("" when there is none, as in `From: "Jetmail System" <>`).
    from: String,
    /// The From display name, lowercase.
    from_name: String,
    subject: String,
    /// The top content type, lowercase `type/subtype`.
    content_type: String,
    /// Every header field, name lowercase, value unfolded.
    headers: Vec<(String, String)>,
    /// The leaves of the MIME tree, in order (nested messages excluded).
    leaves: Vec<Leaf>,
    /// `message/delivery-status` bodies.
    reports: Vec<String>,
    /// Attached messages.
    nested: Vec<View>,
    /// The text of the text leaves (HTML turned to text), one after the other.
    text: String,
}

struct Leaf {
    content_type: String,
    description: String,
    text: Option<String>,
}

impl View {
    fn new(message: &Message<'_>, raw: &[u8], depth: usize) -> View {
        let (from, from_name) = message
            .from()
            .and_then(|a| a.first())
            .map(|a| {
                (
                    a.address().unwrap_or_default().trim().to_lowercase(),
                    a.name().unwrap_or_default().trim().to_lowercase(),
                )
            })
            .unwrap_or_default();
        let headers = header_fields(raw);
        let mut view = View {
            from,
            from_name,
            subject: message.subject().unwrap_or_default().to_string(),
            content_type: mime_type(message.content_type()).unwrap_or_else(|| "text/plain".into()),
            headers,
            leaves: Vec::new(),
            reports: Vec::new(),
            nested: Vec::new(),
            text: String::new(),
        };
        for part in &message.parts {
            let content_type = mime_type(part.content_type()).unwrap_or_default();
            match &part.body {
                PartType::Multipart(_) => {}
                PartType::Message(nested) => {
                    if depth < MAX_DEPTH {
                        view.nested
                            .push(View::new(nested, nested.raw_message(), depth + 1));
                    }
                }
                body => {
                    if content_type.ends_with("/delivery-status")
                        || content_type.ends_with("/global-delivery-status")
                    {
                        view.reports
                            .push(truncated(&String::from_utf8_lossy(part.contents())));
                        continue;
                    }
                    let text = match body {
                        PartType::Text(text)
                            if content_type.is_empty()
                                || content_type.starts_with("text/plain") =>
                        {
                            Some(truncated(text))
                        }
                        PartType::Html(html) => Some(html_text(html)),
                        _ => None,
                    };
                    if let Some(text) = &text {
                        view.text.push_str(text);
                        if !view.text.ends_with('\n') {
                            view.text.push('\n');
                        }
                    }
                    view.leaves.push(Leaf {
                        content_type: if content_type.is_empty() {
                            "text/plain".into()
                        } else {
                            content_type
                        },
                        description: part
                            .content_description()
                            .unwrap_or_default()
                            .trim()
                            .to_lowercase(),
                        text,
                    });
                }
            }
        }
        view.text = view.text.replace("\r\n", "\n").replace('\r', "\n");
        view
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn lines(&self) -> impl Iterator<Item = &str> {
        self.text.lines()
    }

    /// The text before the copy of the original message, when the report quotes it inline.
    fn notice(&self) -> &str {
        match END_OF_NOTICE.find(&self.text) {
            Some(m) if m.start() > 0 => &self.text[..m.start()],
            _ => &self.text,
        }
    }

    /// The domain of the From address without its host part ("mr1.its.example.edu" gives "example.edu").
    fn reporting_domain(&self) -> String {
        let domain = self
            .from
            .rsplit_once('@')
            .map(|(_, d)| d)
            .unwrap_or_default();
        let labels: Vec<&str> = domain.split('.').filter(|l| !l.is_empty()).collect();
        labels[labels.len().saturating_sub(2)..].join(".")
    }

    fn first_text_leaf(&self) -> Option<&Leaf> {
        self.leaves
            .iter()
            .find(|l| l.content_type == "text/plain" && l.text.is_some())
    }
}

/// The text of an HTML part, each line without the indentation the conversion leaves.
fn html_text(html: &str) -> String {
    mail_parser::decoders::html::html_to_text(&truncated(html))
        .lines()
        .map(str::trim_start)
        .collect::<Vec<_>>()
        .join("\n")
}

fn mime_type(content_type: Option<&mail_parser::ContentType<'_>>) -> Option<String> {
    let content_type = content_type?;
    Some(
        format!(
            "{}/{}",
            content_type.ctype(),
            content_type.subtype().unwrap_or_default()
        )
        .to_ascii_lowercase(),
    )
}

fn truncated(text: &str) -> String {
    if text.len() <= MAX_PART_TEXT {
        return text.to_string();
    }
    let mut end = MAX_PART_TEXT;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_string()
}

/// The header fields of a message (up to the first empty line), names lowercase, values unfolded.
fn header_fields(raw: &[u8]) -> Vec<(String, String)> {
    let head = &raw[..raw.len().min(64 * 1024)];
    let text = String::from_utf8_lossy(head);
    let mut fields: Vec<(String, String)> = Vec::new();
    for line in text.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.is_empty() {
            break;
        }
        if line.starts_with([' ', '\t']) {
            if let Some((_, value)) = fields.last_mut() {
                value.push(' ');
                value.push_str(line.trim());
            }
            continue;
        }
        if let Some((name, value)) = line.split_once(':')
            && !name.is_empty()
            && !name.contains([' ', '\t'])
        {
            fields.push((name.to_ascii_lowercase(), value.trim().to_string()));
        }
    }
    fields
}

/// RFC 5322 unfolding, then one line: each line break and the blanks around it become one space.
fn unfold(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for (i, line) in value.split(['\r', '\n']).enumerate() {
        let line = if i == 0 { line } else { line.trim_start() };
        if line.is_empty() {
            continue;
        }
        if !out.is_empty() && !out.ends_with(' ') {
            out.push(' ');
        }
        out.push_str(line);
    }
    out.trim().to_string()
}

fn diagnostic_text(text: &str) -> String {
    let text = unfold(text);
    if text.len() <= MAX_DIAGNOSTIC {
        return text;
    }
    let mut end = MAX_DIAGNOSTIC;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].trim_end().to_string()
}

// ---------------------------------------------------------------------------------------------------------
// What the whole message says: is it a warning, did the server give up, does it come from a mail server.

struct Context {
    /// A delay notice: the server will try again.
    warning: bool,
    /// The server says it gave up (a class 4 status in such a report is still a final failure).
    gave_up: bool,
    /// Sent by a mail server (MAILER-DAEMON, postmaster, a report, a bounce subject).
    bounce_like: bool,
    /// Marked as an automatic reply (out of office, vacation).
    auto_reply: bool,
}

impl Context {
    fn new(view: &View) -> Context {
        let notice = view.notice();
        let gave_up = GAVE_UP.is_match(notice);
        let warning =
            !gave_up && (WARNING.is_match(notice) || WARNING_SUBJECT.is_match(&view.subject));
        let local = view.from.split('@').next().unwrap_or_default();
        let daemon_sender = view.from.is_empty()
            || DAEMON_LOCAL.is_match(local)
            || DAEMON_NAME.is_match(&view.from_name);
        let bounce_like = daemon_sender
            || view.content_type == "multipart/report"
            || !view.reports.is_empty()
            || BOUNCE_SUBJECT.is_match(&view.subject);
        let auto_reply = AUTO_REPLY_SUBJECT.is_match(&view.subject)
            || view.headers.iter().any(|(name, value)| {
                let value = value.to_ascii_lowercase();
                match name.as_str() {
                    "auto-submitted" => value.starts_with("auto-replied"),
                    "x-autoreply" | "x-autorespond" | "x-autoresponder" => true,
                    "precedence" | "x-precedence" => value.contains("auto_reply"),
                    _ => false,
                }
            });
        Context {
            warning,
            gave_up,
            bounce_like,
            auto_reply,
        }
    }

    /// The severity of one recipient's failure, from its own text (`segment`) and the whole message.
    fn classify(&self, segment: &str, default: Severity) -> (Severity, String) {
        let status = status_in(segment);
        if self.warning {
            return (Severity::Temporary, status);
        }
        let severity = match status.as_bytes().first() {
            Some(b'5') => Severity::Permanent,
            Some(b'4') if self.gave_up => Severity::Permanent,
            Some(b'4') => Severity::Temporary,
            _ if !self.gave_up && TEMPORARY_TEXT.is_match(segment) => Severity::Temporary,
            _ => default,
        };
        (severity, status)
    }
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

// ---------------------------------------------------------------------------------------------------------
// Status codes and addresses.

/// An enhanced status code (RFC 3463): class 2, 4 or 5, subject 0 to 7. Not part of a longer dotted number.
static ENHANCED: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?:^|[^\d.])([245]\.[0-7]\.\d{1,3})(?:\.?(?:[^\d.]|$))").unwrap()
});
/// A 4xx or 5xx SMTP reply code where servers write them: at the start of a line, after "said:", "smtp;",
/// "error", "code".
static SMTP_CODE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?im)(?:^[\s>#(]*|[:;]\s*|\b(?:said|error|code|reply|response|status)\s+)([45][0-5]\d)(?:[\s\-:,;)]|\.\s|\.?$)")
        .unwrap()
});

/// The failure status a piece of text gives: its first enhanced code of class 4 or 5, else its first SMTP
/// reply code, else "".
fn status_in(text: &str) -> String {
    if let Some(c) = ENHANCED
        .captures_iter(text)
        .find(|c| c[1].starts_with(['4', '5']))
    {
        return c[1].to_string();
    }
    SMTP_CODE
        .captures(text)
        .map(|c| c[1].to_string())
        .unwrap_or_default()
}

static ADDRESS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?i)^[^\s<>@()\[\],;:"]+@(?:[a-z0-9_\-]+\.)*[a-z0-9_\-]+$|^[^\s<>@()\[\],;:"]+@\[[0-9a-f.:]+\]$"#)
        .unwrap()
});

/// An address as reports write it (`<a@b>`, `'a@b'`, `a@b:`, `"a@b"`), lowercase, or None.
fn clean_address(text: &str) -> Option<String> {
    let text = text.trim();
    let text = match (text.find('<'), text.rfind('>')) {
        (Some(open), Some(close)) if open < close => &text[open + 1..close],
        _ => text,
    };
    let text = text
        .trim()
        .trim_start_matches(['<', '(', '\'', '"', '[', ' '])
        .trim_end_matches(['>', ')', '\'', '"', ']', ':', ';', ',', '.', ' ']);
    let text = text.strip_prefix("mailto:").unwrap_or(text);
    ADDRESS.is_match(text).then(|| text.to_lowercase())
}

/// Addresses that are the reporting system itself, not a recipient.
fn is_system_address(view: &View, address: &str) -> bool {
    let local = address.split('@').next().unwrap_or_default();
    address == view.from || DAEMON_LOCAL.is_match(local)
}

// ---------------------------------------------------------------------------------------------------------
// Text the readers look for.

fn re(pattern: &str) -> Regex {
    Regex::new(pattern).unwrap()
}

/// Where a text report starts quoting the original message.
static END_OF_NOTICE: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?im)^[\s\-*=]*(?:below this line is a copy of the message|original message follows|this is a copy of the message|copy of the original message|-+ ?forwarded message|start of returned message|returned mail follows|unsent message below|the first \d+ lines of your original message|original message attached|(?:voici une |ci-dessous (?:une |la )?)?copie (?:du|de votre) message|message d'origine)",
    )
});

static WARNING: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?i)warning (?:message )?only|this is a warning|just a warning|only a warning|will be retried|will retry|will continue (?:to )?(?:try|retry|attempt)|will keep (?:on )?trying|still (?:being )?(?:trying|retried)|delivery attempts will continue|will try (?:again|to deliver)|not yet been delivered|(?:has|have) been delayed|delivery (?:has been |is )?delayed|could not send message for past|no action is required on your part|you do not need to resend|not need to take any action|advisory-only|has been postponed|simple avertissement|ceci est un avertissement|pas encore (?:été|pu être) (?:remis|distribu|délivr)|nouvelles? tentatives?|sera (?:retenté|réessayé)|remise (?:différée|retardée)|a été retardée?",
    )
});
static WARNING_SUBJECT: LazyLock<Regex> =
    LazyLock::new(|| re(r"(?i)\(delay\)|\bdelayed\b|retardé"));
static GAVE_UP: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?i)not going to try again|given up|gave up|permanent (?:fatal )?error|failed permanently|permanently failed|permanent failure|retry timeout exceeded|after a long failure period|maximum delivery attempts|erreur permanente|échec définitif|définitivement|j'abandonne|abandon de la remise",
    )
});
/// Transient causes a text report may give without a status code.
static TEMPORARY_TEXT: LazyLock<Regex> =
    LazyLock::new(|| re(r"(?i)temporar|try again later|réessayez plus tard|greylist"));
static DAEMON_LOCAL: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?i)^(?:mailer[-_.]?daemon|mail[-_.]?daemon|postmaster|mdaemon|ndr|mail[-_.]?delivery[-_.a-z]*|mailer|maildelivery|double[-_]?bounce)$|^(?:mailer-daemon|postmaster)",
    )
});
static DAEMON_NAME: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?i)mail delivery|mailer[-_ ]daemon|postmaster|mail administrator|system administrator|mail system|delivery subsystem|système de messagerie|administrateur",
    )
});
static BOUNCE_SUBJECT: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?i)undeliver|undelivered|non-?delivery|delivery (?:status|failure|failed|problem|notification|report)|returned mail|returning message|failure notice|mail delivery|could not be delivered|not delivered|failed mail|mail error|mail system error|nondeliverable|non remis|non distribu|non délivré|échec de (?:la )?(?:remise|distribution)|retour de courrier|courrier retourné|message retourné",
    )
});
static AUTO_REPLY_SUBJECT: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?i)^\s*(?:(?:re|tr|fwd?|aw)\s*:\s*)?(?:out of (?:the )?office|automatic reply|auto(?:matic)?[- ]?(?:reply|response|answer|respond)|autoreply|réponse automatique|reponse automatique|absence|absent|je suis absent|vacation|on vacation|en congé|en congés|abwesen|fuera de la oficina|risposta automatica|auto:)",
    )
});
/// Words a report of failed delivery uses (for readers whose trigger is otherwise loose).
static FAILURE_TEXT: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?i)undeliverable|not (?:be )?delivered|could not be delivered|did not reach|user not found|unknown|does not exist|no such|failed|rejected|non remis|pas pu être (?:remis|distribué|délivré)|introuvable|inconnu|n'existe pas|refusé",
    )
});

// ---------------------------------------------------------------------------------------------------------
// RFC 3464.

fn dsn(view: &View, ctx: &Context) -> Option<Found> {
    let mut entries = Vec::new();
    collect_reports(view, 0, &mut entries);
    // Some servers write the report's fields into the text instead of a message/delivery-status part.
    if entries.is_empty()
        && ctx.bounce_like
        && view.reports.is_empty()
        && DSN_IN_TEXT.is_match(view.notice())
    {
        entries = report_entries(view.notice());
    }
    Found::new("dsn", entries)
}

static DSN_IN_TEXT: LazyLock<Regex> =
    LazyLock::new(|| re(r"(?im)^final-recipient\s*:[^\n]*\n(?:[^\n]+\n)*?(?:action|status)\s*:"));

fn collect_reports(view: &View, depth: usize, entries: &mut Vec<Entry>) {
    for report in &view.reports {
        entries.extend(report_entries(report));
    }
    if depth < MAX_DEPTH && entries.is_empty() {
        for nested in &view.nested {
            collect_reports(nested, depth + 1, entries);
            if !entries.is_empty() {
                break;
            }
        }
    }
}

/// The per-recipient blocks of a delivery-status body.
fn report_entries(text: &str) -> Vec<Entry> {
    report_blocks(text)
        .iter()
        .filter_map(|block| report_entry(block))
        .take(MAX_ENTRIES)
        .collect()
}

fn report_blocks(text: &str) -> Vec<Vec<(String, String)>> {
    let mut blocks = Vec::new();
    let mut block: Vec<(String, String)> = Vec::new();
    let mut has_final_recipient = false;
    for line in text.lines() {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() {
            if !block.is_empty() {
                blocks.push(std::mem::take(&mut block));
                has_final_recipient = false;
            }
            continue;
        }
        if line.starts_with([' ', '\t']) {
            if let Some((_, value)) = block.last_mut() {
                value.push('\n');
                value.push_str(line);
            }
            continue;
        }
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let name = name.trim().to_ascii_lowercase();
        if name.is_empty() || name.contains(' ') {
            continue;
        }
        // Blocks written without the blank line between them.
        let recipient_field = matches!(name.as_str(), "final-recipient" | "original-recipient");
        if recipient_field && has_final_recipient {
            blocks.push(std::mem::take(&mut block));
            has_final_recipient = false;
        }
        has_final_recipient |= name == "final-recipient";
        block.push((name, value.trim().to_string()));
    }
    if !block.is_empty() {
        blocks.push(block);
    }
    blocks
}

fn report_entry(block: &[(String, String)]) -> Option<Entry> {
    let field = |name: &str| {
        block
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| unfold(v))
            .unwrap_or_default()
    };
    let mut addresses = Vec::new();
    for name in [
        "original-recipient",
        "final-recipient",
        "x-actual-recipient",
    ] {
        if let Some(address) = report_address(&field(name))
            && !addresses.contains(&address)
        {
            addresses.push(address);
        }
    }
    let action = field("action").to_ascii_lowercase();
    let status_field = field("status");
    let diagnostic = strip_type(&field("diagnostic-code")).to_string();
    if action.is_empty() && status_field.is_empty() && diagnostic.is_empty() {
        // The block about the message (Reporting-MTA, Arrival-Date), not a recipient.
        return None;
    }
    let status = report_status(&status_field, &diagnostic);
    let severity = if action.starts_with("delayed") {
        Severity::Temporary
    } else if ["fail", "error", "bounce", "undeliver", "reject", "abort"]
        .iter()
        .any(|a| action.starts_with(a))
    {
        // The server gave up: final, whatever the status class (opensmtpd writes "error").
        Severity::Permanent
    } else if ["deliver", "relay", "expand"]
        .iter()
        .any(|a| action.starts_with(a))
    {
        Severity::Ignore
    } else {
        match status.as_bytes().first() {
            Some(b'5') => Severity::Permanent,
            Some(b'4') => Severity::Temporary,
            Some(b'2') => Severity::Ignore,
            _ => return None,
        }
    };
    Some(Entry {
        addresses,
        guessed_domain: false,
        severity,
        status,
        diagnostic: diagnostic_text(&diagnostic),
    })
}

/// `rfc822; <a@b>` gives `a@b`.
fn report_address(value: &str) -> Option<String> {
    let value = strip_type(value);
    if let Some(address) = clean_address(value) {
        return Some(address);
    }
    value
        .split_whitespace()
        .find(|w| w.contains('@'))
        .and_then(clean_address)
}

/// Removes an address or diagnostic type (`rfc822;`, `smtp;`, `X-Postfix;`).
fn strip_type(value: &str) -> &str {
    match value.split_once(';') {
        Some((kind, rest))
            if !kind.is_empty()
                && kind.len() <= 20
                && kind
                    .trim()
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.') =>
        {
            rest.trim()
        }
        _ => value.trim(),
    }
}

/// The enhanced code of the Status field; the diagnostic's when the field has none (`Status: 553`) or only
/// the catch-all `X.0.0` of the same class; else the three-digit code.
fn report_status(status_field: &str, diagnostic: &str) -> String {
    let from_field = ENHANCED.captures(status_field).map(|c| c[1].to_string());
    let from_diagnostic = ENHANCED.captures(diagnostic).map(|c| c[1].to_string());
    match (from_field, from_diagnostic) {
        (Some(s), Some(d)) if s.ends_with(".0.0") && s.as_bytes()[0] == d.as_bytes()[0] => d,
        (Some(s), _) => s,
        (None, Some(d)) => d,
        (None, None) => {
            let code = |text: &str| {
                let text = text.trim_start();
                let digits: String = text.chars().take_while(|c| c.is_ascii_digit()).collect();
                (digits.len() == 3 && matches!(digits.as_bytes()[0], b'2' | b'4' | b'5'))
                    .then_some(digits)
            };
            code(status_field)
                .or_else(|| code(diagnostic))
                .or_else(|| SMTP_CODE.captures(diagnostic).map(|c| c[1].to_string()))
                .unwrap_or_default()
        }
    }
}

// ---------------------------------------------------------------------------------------------------------
// Exim: `X-Failed-Recipients`, and the block under each address in the text.

fn exim(view: &View, ctx: &Context) -> Option<Found> {
    let failed: Vec<String> = view
        .headers
        .iter()
        .filter(|(n, _)| n == "x-failed-recipients")
        .flat_map(|(_, v)| v.split(',').filter_map(clean_address).collect::<Vec<_>>())
        .take(MAX_ENTRIES)
        .collect();
    if failed.is_empty() {
        return None;
    }
    let lines: Vec<&str> = view.notice().lines().collect();
    // Where each address starts its block ("  a@b" or "  a@b:"), the first time.
    let mut starts: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for (i, line) in lines.iter().enumerate() {
        if line.starts_with([' ', '\t'])
            && let Some(address) = clean_address(line)
        {
            starts.entry(address).or_insert(i);
        }
    }
    let entries = failed
        .into_iter()
        .map(|address| {
            let segment = starts
                .get(&address)
                .map(|&at| indented_block(&lines, at))
                .unwrap_or_default();
            text_entry(ctx, address, &segment, Severity::Permanent)
        })
        .collect();
    Found::new("exim", entries)
}

/// The lines after line `at` that are indented deeper than it, up to an empty line.
fn indented_block<'a>(lines: &[&'a str], at: usize) -> Vec<&'a str> {
    let indent = |l: &str| l.len() - l.trim_start().len();
    let own = indent(lines[at]);
    lines[at + 1..]
        .iter()
        .take_while(|l| !l.trim().is_empty() && indent(l) > own)
        .take(MAX_CONTEXT_LINES)
        .copied()
        .collect()
}

// ---------------------------------------------------------------------------------------------------------
// Provider formats.

/// sina.com: `<address>:` lines in the first part.
fn sina(view: &View, ctx: &Context) -> Option<Found> {
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
fn yahoo(view: &View, ctx: &Context) -> Option<Found> {
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
fn yale(view: &View, ctx: &Context) -> Option<Found> {
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
fn smtp32(view: &View, ctx: &Context) -> Option<Found> {
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
fn postfix(view: &View, ctx: &Context) -> Option<Found> {
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
fn qmail(view: &View, ctx: &Context) -> Option<Found> {
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
fn groupwise(view: &View, ctx: &Context) -> Option<Found> {
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

static BRACKETED: LazyLock<Regex> = LazyLock::new(|| re(r"<([^>\s]+@[^>\s]+)>"));

/// Microsoft SMTPSVC: the first part says "transcript of session follows", then the addresses alone on
/// their lines.
fn microsoft(view: &View, ctx: &Context) -> Option<Found> {
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
fn caiwireless(view: &View, ctx: &Context) -> Option<Found> {
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
fn exchange(view: &View, ctx: &Context) -> Option<Found> {
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
fn netscape(view: &View, ctx: &Context) -> Option<Found> {
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
fn aol(view: &View, ctx: &Context) -> Option<Found> {
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
fn llnl(view: &View, ctx: &Context) -> Option<Found> {
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

fn simple(view: &View, ctx: &Context) -> Option<Found> {
    table(view, ctx, &SIMPLE, "simple", Severity::Permanent)
}

fn simple_warning(view: &View, ctx: &Context) -> Option<Found> {
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
fn text_lines(view: &View, ctx: &Context) -> Option<Found> {
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
fn text_only(view: &View, ctx: &Context, recipient: Option<&str>) -> Option<Found> {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn read(raw: &str, recipient: Option<&str>) -> BounceVerdict {
        read_bounce(raw.as_bytes(), recipient)
    }

    fn report(boundary: &str, text: &str, status: &str, original: &str) -> String {
        format!(
            "From: Mail Delivery System <MAILER-DAEMON@mx.example.net>\r\n\
             To: bounces+abc@lists.example.org\r\n\
             Subject: Undelivered Mail Returned to Sender\r\n\
             MIME-Version: 1.0\r\n\
             Content-Type: multipart/report; report-type=delivery-status; boundary=\"{boundary}\"\r\n\
             \r\n\
             --{boundary}\r\n\
             Content-Type: text/plain; charset=utf-8\r\n\
             \r\n\
             {text}\r\n\
             --{boundary}\r\n\
             Content-Type: message/delivery-status\r\n\
             \r\n\
             {status}\r\n\
             --{boundary}\r\n\
             Content-Type: text/rfc822-headers\r\n\
             \r\n\
             {original}\r\n\
             --{boundary}--\r\n"
        )
    }

    const HEADERS: &str = "From: bureau@lists.example.org\r\nTo: jean.dupont@example.org\r\nSubject: Conseil du 12 mars";

    #[test]
    fn dsn_permanent() {
        let raw = report(
            "B1",
            "This is the mail system at host mx.example.net.\r\n\r\n<jean.dupont@example.org>: host mx.example.org said: 550 5.1.1 User unknown",
            "Reporting-MTA: dns; mx.example.net\r\n\r\nFinal-Recipient: rfc822; jean.dupont@example.org\r\nOriginal-Recipient: rfc822;Jean.Dupont@example.org\r\nAction: failed\r\nStatus: 5.1.1\r\nDiagnostic-Code: smtp; 550 5.1.1 <jean.dupont@example.org>: Recipient\r\n    address rejected: User unknown in virtual mailbox table\r\n",
            HEADERS,
        );
        let v = read(&raw, Some("jean.dupont@example.org"));
        assert_eq!(v.format, "dsn");
        assert_eq!(v.severity, Severity::Permanent);
        assert_eq!(v.status, "5.1.1");
        assert_eq!(
            v.diagnostic,
            "550 5.1.1 <jean.dupont@example.org>: Recipient address rejected: User unknown in virtual mailbox table"
        );
        assert_eq!(v.recipients, vec!["jean.dupont@example.org"]);
        let v = read(&raw, None);
        assert_eq!(v.severity, Severity::Permanent);
        assert_eq!(v.recipients, vec!["jean.dupont@example.org"]);
    }

    #[test]
    fn dsn_ours_delayed_other_failed() {
        let raw = report(
            "B2",
            "Delivery report",
            "Reporting-MTA: dns; mx.example.net\r\n\r\nFinal-Recipient: rfc822; paul@example.com\r\nAction: failed\r\nStatus: 5.1.1\r\n\r\nFinal-Recipient: rfc822; marie@example.net\r\nAction: delayed\r\nStatus: 4.4.1\r\nWill-Retry-Until: Fri, 14 Mar 2025 10:00:00 +0100\r\n",
            HEADERS,
        );
        let v = read(&raw, Some("marie@example.net"));
        assert_eq!(v.severity, Severity::Temporary);
        assert_eq!(v.status, "4.4.1");
        assert_eq!(v.recipients, vec!["marie@example.net"]);
        let v = read(&raw, Some("paul@example.com"));
        assert_eq!(v.severity, Severity::Permanent);
        let v = read(&raw, None);
        assert_eq!(v.severity, Severity::Permanent);
        assert_eq!(v.recipients, vec!["paul@example.com"]);
    }

    #[test]
    fn dsn_variants() {
        // Action failed without Status: permanent, the code from the diagnostic.
        let raw = report(
            "B3",
            "x",
            "Final-Recipient: rfc822; a@example.org\r\nAction: failed\r\nDiagnostic-Code: smtp; 550 mailbox unavailable\r\n",
            HEADERS,
        );
        let v = read(&raw, Some("a@example.org"));
        assert_eq!(
            (v.severity, v.status.as_str()),
            (Severity::Permanent, "550")
        );
        // Status: 553, a three-digit code.
        let raw = report(
            "B4",
            "x",
            "Final-Recipient: rfc822; a@example.org\r\nAction: failure\r\nStatus: 553 Exceeded maximum inbound message size\r\n",
            HEADERS,
        );
        let v = read(&raw, Some("a@example.org"));
        assert_eq!(
            (v.severity, v.status.as_str()),
            (Severity::Permanent, "553")
        );
        // No Action, only a Status of class 5 or 4.
        let raw = report(
            "B5",
            "x",
            "Final-Recipient: rfc822; <a@example.org>\r\nStatus: 5.2.1\r\n",
            HEADERS,
        );
        assert_eq!(read(&raw, None).severity, Severity::Permanent);
        let raw = report(
            "B6",
            "x",
            "Final-Recipient: rfc822; a@example.org\r\nStatus: 4.2.2\r\n",
            HEADERS,
        );
        assert_eq!(read(&raw, None).severity, Severity::Temporary);
        // A success report.
        let raw = report(
            "B7",
            "x",
            "Final-Recipient: rfc822; a@example.org\r\nAction: delivered\r\nStatus: 2.0.0\r\n",
            HEADERS,
        );
        let v = read(&raw, Some("a@example.org"));
        assert_eq!((v.format, v.severity), ("dsn", Severity::Ignore));
        // 5.0.0 with a more precise code in the diagnostic; 5.7.x stays permanent.
        let raw = report(
            "B8",
            "x",
            "Final-Recipient: rfc822; a@example.org\r\nAction: failed\r\nStatus: 5.0.0\r\nDiagnostic-Code: smtp; 550-5.7.1 [192.0.2.1] Our system has detected\r\n 550-5.7.1 that this message is likely unsolicited mail.\r\n 550 5.7.1 Please visit the help page.\r\n",
            HEADERS,
        );
        let v = read(&raw, Some("a@example.org"));
        assert_eq!(
            (v.severity, v.status.as_str()),
            (Severity::Permanent, "5.7.1")
        );
        assert_eq!(
            v.diagnostic,
            "550-5.7.1 [192.0.2.1] Our system has detected 550-5.7.1 that this message is likely unsolicited mail. 550 5.7.1 Please visit the help page."
        );
        // Gave up after a transient cause: permanent, the status says why.
        let raw = report(
            "B9",
            "x",
            "Final-Recipient: rfc822; a@example.org\r\nAction: failed\r\nStatus: 4.4.7\r\n",
            HEADERS,
        );
        let v = read(&raw, Some("a@example.org"));
        assert_eq!(
            (v.severity, v.status.as_str()),
            (Severity::Permanent, "4.4.7")
        );
    }

    #[test]
    fn dsn_inside_rfc822() {
        let inner = report(
            "IN",
            "x",
            "Final-Recipient: rfc822; lea@example.com\r\nAction: failed\r\nStatus: 5.1.1\r\n",
            HEADERS,
        );
        let raw = format!(
            "From: Passerelle <gateway@example.com>\r\nSubject: Fwd: Undeliverable\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"OUT\"\r\n\r\n--OUT\r\nContent-Type: text/plain\r\n\r\nForwarded report.\r\n--OUT\r\nContent-Type: message/rfc822\r\n\r\n{inner}\r\n--OUT--\r\n"
        );
        let v = read(&raw, Some("lea@example.com"));
        assert_eq!((v.format, v.severity), ("dsn", Severity::Permanent));
    }

    #[test]
    fn exim() {
        let raw = "From: Mail Delivery System <Mailer-Daemon@mail.example.net>\nTo: bounces+x@lists.example.org\nSubject: Mail delivery failed: returning message to sender\nX-Failed-Recipients: claire@example.com\nAuto-Submitted: auto-replied\n\nThis message was created automatically by mail delivery software.\n\nA message that you sent could not be delivered to one or more of its\nrecipients. This is a permanent error. The following address(es) failed:\n\n  claire@example.com\n    host mx.example.com [192.0.2.25]\n    SMTP error from remote mail server after RCPT TO:<claire@example.com>:\n    550 5.1.1 <claire@example.com>: Recipient address rejected: User unknown\n\n------ This is a copy of the message, including all the headers. ------\n\nSubject: test\n";
        let v = read(raw, Some("claire@example.com"));
        assert_eq!(v.format, "exim");
        assert_eq!(
            (v.severity, v.status.as_str()),
            (Severity::Permanent, "5.1.1")
        );
        assert_eq!(
            v.diagnostic,
            "550 5.1.1 <claire@example.com>: Recipient address rejected: User unknown"
        );
    }

    #[test]
    fn exim_warning() {
        let raw = "From: Mail Delivery System <Mailer-Daemon@mail.example.net>\nSubject: Warning: message 1tAbCd-000123-Xy delayed 24 hours\nAuto-Submitted: auto-replied\n\nThis message was created automatically by mail delivery software.\n\nA message that you sent has not yet been delivered to one or more of its\nrecipients after more than 24 hours on the queue on mail.example.net.\n\nThe address to which the message has not yet been delivered is:\n\n  claire@example.com\n    Delay reason: SMTP error from remote mail server after RCPT TO:<claire@example.com>:\n    451 4.7.1 Greylisted, please try again later\n\nNo action is required on your part. Delivery attempts will continue for\nsome time, and this warning may be repeated at intervals if the message\nremains undelivered. Eventually the mail delivery software will give up,\nand when that happens, the message will be returned to you.\n";
        let v = read(raw, Some("claire@example.com"));
        assert_eq!(v.severity, Severity::Temporary);
        assert_eq!(v.recipients, vec!["claire@example.com"]);
        assert_eq!(read(raw, None).severity, Severity::Temporary);
    }

    #[test]
    fn qmail() {
        let raw = "From: MAILER-DAEMON@mail.example.net\nSubject: failure notice\n\nHi. This is the qmail-send program at mail.example.net.\nI'm afraid I wasn't able to deliver your message to the following addresses.\nThis is a permanent error; I've given up. Sorry it didn't work out.\n\n<marc@example.net>:\n192.0.2.7 does not like recipient.\nRemote host said: 550 5.1.1 <marc@example.net>... User unknown\nGiving up on 192.0.2.7.\n\n--- Below this line is a copy of the message.\n\nReturn-Path: <bounces+x@lists.example.org>\n";
        let v = read(raw, None);
        assert_eq!(v.format, "qmail");
        assert_eq!(
            (v.severity, v.status.as_str()),
            (Severity::Permanent, "5.1.1")
        );
        assert_eq!(v.recipients, vec!["marc@example.net"]);
        // Given up after a transient cause.
        let raw = "From: MAILER-DAEMON@mail.example.net\nSubject: failure notice\n\nHi. This is the qmail-send program at mail.example.net.\nI'm afraid I wasn't able to deliver your message to the following addresses.\nThis is a permanent error; I've given up. Sorry it didn't work out.\n\n<marc@example.net>:\nSorry, I wasn't able to establish an SMTP connection. (#4.4.1)\nI'm not going to try again; this message has been in the queue too long.\n\n--- Below this line is a copy of the message.\n";
        let v = read(raw, Some("marc@example.net"));
        assert_eq!(
            (v.severity, v.status.as_str()),
            (Severity::Permanent, "4.4.1")
        );
    }

    #[test]
    fn postfix_old_and_warning() {
        let make = |body: &str| {
            format!(
                "From: MAILER-DAEMON@mx.example.org (Mail Delivery System)\nSubject: Undelivered Mail Returned to Sender\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"P\"\n\n--P\nContent-Description: Notification\nContent-Type: text/plain\n\n{body}\n--P\nContent-Description: Undelivered Message\nContent-Type: message/rfc822\n\nSubject: x\n\nbody\n--P--\n"
            )
        };
        let raw = make(
            "This is the Postfix program at host mx.example.org.\n\nI'm sorry to have to inform you that the message returned\nbelow could not be delivered to one or more destinations.\n\n\t\t\tThe Postfix program\n\n<sophie@example.com>: host mx.example.com[192.0.2.3] said: 550 5.1.1\n    <sophie@example.com>... User unknown\n",
        );
        let v = read(&raw, Some("sophie@example.com"));
        assert_eq!(v.format, "postfix");
        assert_eq!(
            (v.severity, v.status.as_str()),
            (Severity::Permanent, "5.1.1")
        );
        let raw = make(
            "This is the Postfix program at host mx.example.org.\n\n####################################################################\n# THIS IS A WARNING ONLY.  YOU DO NOT NEED TO RESEND YOUR MESSAGE. #\n####################################################################\n\nYour message could not be delivered for 4.0 hours.\nIt will be retried until it is 5.0 days old.\n\n\t\t\tThe Postfix program\n\n<sophie@example.com>: connect to mx.example.com[192.0.2.3]: Connection timed out\n",
        );
        let v = read(&raw, Some("sophie@example.com"));
        assert_eq!((v.format, v.severity), ("postfix", Severity::Temporary));
    }

    #[test]
    fn exchange_and_groupwise() {
        let raw = "From: System Administrator <postmaster@example.com>\nSubject: Undeliverable: Lettre d'information\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"E\"\nX-Mailer: Internet Mail Service (5.5.2653.19)\n\n--E\nContent-Type: text/plain\n\nYour message\n\n  To:      info@lists.example.org\n  Subject: Lettre d'information\n\ndid not reach the following recipient(s):\n\nluc.martin@example.com on Tue, 11 Mar 2003 10:02:11 +0100\n    The recipient name is not recognized\n    MSEXCH:IMS:Example:SITE:MAIL01 0 (000C05A6) Unknown Recipient\n\n--E--\n";
        let v = read(raw, Some("luc.martin@example.com"));
        assert_eq!((v.format, v.severity), ("groupwise", Severity::Permanent));
        // Without the X-Mailer, the Exchange reader.
        let raw = raw.replace("X-Mailer: Internet Mail Service (5.5.2653.19)\n", "");
        let v = read(&raw, None);
        assert_eq!((v.format, v.severity), ("exchange", Severity::Permanent));
        assert_eq!(v.recipients, vec!["luc.martin@example.com"]);
        assert!(
            v.diagnostic.contains("Unknown Recipient"),
            "{}",
            v.diagnostic
        );
    }

    #[test]
    fn yahoo_smtp32_aol_yale() {
        let raw = "From: MAILER-DAEMON@yahoo.com\nSubject: Failure Notice\n\nSorry, we were unable to deliver your message to the following address.\n\n<nina@example.net>:\nRemote host said: 550 5.1.1 <nina@example.net>: Recipient address rejected [RCPT_TO]\n\n--- Below this line is a copy of the message.\n\n<other@example.net>:\n";
        let v = read(raw, None);
        assert_eq!((v.format, v.severity), ("yahoo", Severity::Permanent));
        assert_eq!(v.recipients, vec!["nina@example.net"]);

        let raw = "From: \"Postmaster\" <postmaster@mail.example.net>\nSubject: Undeliverable Mail\nX-Mailer: <SMTP32 v8.15>\n\nUnknown user: hugo@example.net\n\nRCPT TO generated following response:\n553 5.3.0 <hugo@example.net>... Addressee unknown\n\nOriginal message follows.\n";
        let v = read(raw, None);
        assert_eq!((v.format, v.status.as_str()), ("smtp32", "5.3.0"));

        let raw = "From: \"Mail Delivery Subsystem\" <MAILER-DAEMON@example.com>\nSubject: Mail Delivery Problem\nContent-Type: text/plain\n\nYour mail to the following recipients could not be delivered because they are not accepting mail from lists.example.org:\n\tbernard42\n";
        let v = read(raw, Some("bernard42@example.com"));
        assert_eq!((v.format, v.severity), ("aol", Severity::Permanent));
        assert_eq!(v.recipients, vec!["bernard42@example.com"]);

        let raw = "From: MAILER-DAEMON@mr1.its.example.edu\nSubject: Returned mail - nameserver error report\n\n --------Message not delivered to the following:\n\n claude    No matches to nameserver query\n\n --------Error Detail (phquery V4.1):\n\n The message, \"No matches to nameserver query,\" is generated whenever\n";
        let v = read(raw, None);
        assert_eq!((v.format, v.severity), ("yale", Severity::Permanent));
        assert_eq!(v.recipients, vec!["claude@example.edu"]);
    }

    #[test]
    fn simple_patterns() {
        let raw = "From: Mail Delivery Subsystem <mailer-daemon@example.com>\nSubject: Delivery Status Notification (Failure)\n\nThis is an automatically generated Delivery Status Notification\n\nDelivery to the following recipient failed permanently:\n\n     irene@example.org\n\nTechnical details of permanent failure:\nThe email account that you tried to reach does not exist. 550 5.1.1\n\n----- Original message -----\n\nTo: irene@example.org\n";
        let v = read(raw, None);
        assert_eq!(
            (v.format, v.severity, v.status.as_str()),
            ("simple", Severity::Permanent, "5.1.1")
        );
        assert_eq!(v.recipients, vec!["irene@example.org"]);

        let raw = "From: Mail Delivery Subsystem <mailer-daemon@example.com>\nSubject: Delivery Status Notification (Delay)\n\nTHIS IS A WARNING MESSAGE ONLY.\n\nYOU DO NOT NEED TO RESEND YOUR MESSAGE.\n\nDelivery to the following recipient has been delayed:\n\n     irene@example.org\n\nMessage will be retried for 2 more day(s)\n";
        let v = read(raw, None);
        assert_eq!(
            (v.format, v.severity),
            ("simplewarning", Severity::Temporary)
        );

        let raw = "From: Administrateur <postmaster@example.fr>\nSubject: Message non remis\n\nVotre message n'a pas pu être remis aux destinataires suivants :\n\n  <gilles@example.fr>  (utilisateur inconnu)\n\n--- Copie du message\n";
        let v = read(raw, Some("gilles@example.fr"));
        assert_eq!((v.format, v.severity), ("simple", Severity::Permanent));
    }

    #[test]
    fn microsoft_netscape_caiwireless() {
        let raw = "From: postmaster@exch.example.com\nSubject: Delivery Status Notification (Failure)\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"M\"\n\n--M\nContent-Type: text/plain\n\nDelivery to the following recipients failed.\n\n   ----- Transcript of session follows -----\n\n   eric@example.com\n--M\nContent-Type: message/rfc822\n\nSubject: x\n\nbody\n--M--\n";
        let v = read(raw, None);
        assert_eq!((v.format, v.severity), ("microsoft", Severity::Permanent));
        assert_eq!(v.recipients, vec!["eric@example.com"]);

        let raw = "From: Mail Administrator <Postmaster@nsmail.example.com>\nSubject: Mail System Error - Returned Mail\nMIME-Version: 1.0\nContent-Type: multipart/report; report-type=delivery-status; boundary=\"N\"\n\n--N\nContent-Type: text/plain\n\nThis Message was undeliverable due to the following reason:\n\nThe user(s) account does not exist on this server.\n\n     <fanny@example.com>\n\nPlease reply to <Postmaster@nsmail.example.com>\n--N\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; nsmail.example.com\n--N--\n";
        let v = read(raw, None);
        assert_eq!((v.format, v.severity), ("netscape", Severity::Permanent));
        assert_eq!(v.recipients, vec!["fanny@example.com"]);

        let raw = "From: MAILER-DAEMON@mail.example.net\nSubject: Mail not delivered\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"C\"\n\n--C\nContent-Type: text/plain\n\nMail delivery failed.\n\nThe following recipients did not receive this message:\n\n<simon@example.net>\n\n--C--\n";
        let v = read(raw, Some("simon@example.net"));
        assert_eq!((v.format, v.severity), ("caiwireless", Severity::Permanent));
    }

    #[test]
    fn sina_and_llnl() {
        let raw = "From: MAILER-DAEMON@sina.com\nSubject: x\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"S\"\n\n--S\nContent-Type: text/plain; charset=utf-8\n\nsina.com.\n邮件无法发送到您指定的地址中。\n\n<wei@example.com>:\n\n<li@example.com>:\n--S\nContent-Type: message/rfc822\n\nSubject: x\n\nbody\n--S--\n";
        let v = read(raw, None);
        assert_eq!((v.format, v.severity), ("sina", Severity::Permanent));
        assert_eq!(v.recipients, vec!["wei@example.com", "li@example.com"]);

        let raw = "From: postmaster@example.gov (Automated response from the postmaster)\nSubject: FAILED MAIL to \"durand3\" regarding \"Agenda\"\n\nThe address to\nwhich your message was addressed, durand3@example.gov, did not exactly match an\nemail address here.\n";
        let v = read(raw, None);
        assert_eq!((v.format, v.severity), ("llnl", Severity::Permanent));
        assert_eq!(v.recipients, vec!["durand3@example.gov"]);
    }

    #[test]
    fn forwarded_recipient_is_ours() {
        // The report names the address the subscriber forwards to; the VERP address says whose it is.
        let raw = report(
            "F",
            "x",
            "Final-Recipient: rfc822; jean.forward@example.net\r\nAction: failed\r\nStatus: 5.1.1\r\n",
            HEADERS,
        );
        let v = read(&raw, Some("Jean.Dupont@Example.org"));
        assert_eq!(v.severity, Severity::Permanent);
        assert_eq!(
            v.recipients,
            vec!["jean.dupont@example.org", "jean.forward@example.net"]
        );
    }

    #[test]
    fn no_address_named() {
        let raw = "From: MAILER-DAEMON@mx.example.com\nSubject: Mail delivery failed\n\nThis message was created automatically by mail delivery software.\n\nA message that you sent could not be delivered to one or more of its recipients.\n\nOne or more of the recipients are not a valid user of the system.\n";
        let v = read(raw, Some("anne@example.com"));
        assert_eq!((v.format, v.severity), ("text", Severity::Permanent));
        assert_eq!(v.recipients, vec!["anne@example.com"]);
        let v = read(raw, None);
        assert_eq!(v.severity, Severity::Ignore);
    }

    #[test]
    fn not_bounces() {
        let ooo = "From: Anne Lefort <anne@example.com>\nSubject: Réponse automatique : Conseil du 12 mars\nAuto-Submitted: auto-replied\n\nJe suis absente jusqu'au 20 mars. Pour toute urgence, écrivez à secretariat@example.com, merci.\n";
        let v = read(ooo, Some("anne@example.com"));
        assert_eq!((v.format, v.severity), ("autoreply", Severity::Ignore));
        let human = "From: Paul Girard <paul@example.net>\nSubject: Re: Conseil du 12 mars\n\nBonjour,\n\nMerci, paul.girard@example.net, je serai présent. Your message\nwas well received.\n\n> did not reach the following recipient\n";
        let v = read(human, Some("paul@example.net"));
        assert_eq!(v.severity, Severity::Ignore, "{v:?}");
    }

    #[test]
    fn garbage_never_panics() {
        let samples = [
            report(
                "G",
                "<a@example.org>: 550 5.1.1 unknown",
                "Final-Recipient: rfc822; a@example.org\r\nAction: failed\r\nStatus: 5.1.1\r\nDiagnostic-Code: smtp; 550\r\n  5.1.1 x",
                HEADERS,
            ),
            "From: MAILER-DAEMON@yahoo.com\nSubject: x\n\nSorry, we were unable to deliver your message to the following address.\n\n<é@ü>:\n550".to_string(),
            "From: \"Postmaster\" <postmaster@mail.example.net>\nX-Mailer: <SMTP32 v8.15>\n\nUnknown user: \n".to_string(),
            "Content-Type: multipart/mixed; boundary=\"\"\n\n--\n--\n".to_string(),
            "Content-Type: message/rfc822\n\nContent-Type: message/rfc822\n\nContent-Type: multipart/report; boundary=x\n\n--x\nContent-Type: message/delivery-status\n\nAction: failed\n".to_string(),
        ];
        for sample in &samples {
            let bytes = sample.as_bytes();
            for end in 0..bytes.len() {
                let _ = read_bounce(&bytes[..end], Some("a@example.org"));
                let _ = read_bounce(&bytes[end..], None);
            }
        }
        let mut seed: u32 = 12345;
        for len in [0usize, 1, 2, 7, 64, 300, 4096] {
            let bytes: Vec<u8> = (0..len)
                .map(|_| {
                    seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
                    (seed >> 16) as u8
                })
                .collect();
            let _ = read_bounce(&bytes, None);
            let mut with_headers =
                b"From: MAILER-DAEMON@x\nContent-Type: multipart/report; boundary=b\n\n--b\n"
                    .to_vec();
            with_headers.extend(&bytes);
            let _ = read_bounce(&with_headers, Some("x@y"));
        }
        // Many addresses: bounded work.
        let started = std::time::Instant::now();
        let many: String = (0..20_000)
            .map(|i| format!("  <user{i}@example.org>  550 5.1.1 unknown\n"))
            .collect();
        for intro in [
            "Votre message n'a pas pu être remis aux destinataires suivants :\n",
            "Hi. This is the qmail-send program at x.\n\n",
            "did not reach the following recipient(s):\n",
            "",
        ] {
            let raw = format!(
                "From: MAILER-DAEMON@example.org\nSubject: failure notice\nX-Failed-Recipients: {}\n\n{intro}{many}",
                "a@example.org,".repeat(5_000)
            );
            let v = read_bounce(raw.as_bytes(), None);
            assert!(v.recipients.len() <= MAX_ENTRIES + 1);
        }
        let blocks = "Final-Recipient: rfc822; a@example.org\nAction: failed\n".repeat(20_000);
        let _ = read(&report("R", "x", &blocks, HEADERS), None);
        assert!(started.elapsed() < std::time::Duration::from_secs(20));
        let deep = "Content-Type: message/rfc822\n\n".repeat(50) + "Subject: x\n\nbody\n";
        let _ = read_bounce(deep.as_bytes(), None);
        let long = "<a@example.org>: 550 ".repeat(50_000);
        let _ = read_bounce(format!("From: postmaster@x\n\n{long}").as_bytes(), None);
    }
}
