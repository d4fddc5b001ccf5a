//! What every reader relies on: the [`Context`] of the whole message (a delay warning? did the server give
//! up? sent by a mail server? an auto-reply?) and how it classifies one recipient's failure; the status
//! codes and addresses found in a report's text; the regular expressions for the text the readers look for
//! (where the quoted original starts, warnings, mail-server senders, bounce and auto-reply subjects).

use std::sync::LazyLock;

use regex::Regex;

use super::Severity;
use super::view::View;

// ---------------------------------------------------------------------------------------------------------
// What the whole message says: is it a warning, did the server give up, does it come from a mail server.

pub(super) struct Context {
    /// A delay notice: the server will try again.
    pub(super) warning: bool,
    /// The server says it gave up (a class 4 status in such a report is still a final failure).
    pub(super) gave_up: bool,
    /// Sent by a mail server (MAILER-DAEMON, postmaster, a report, a bounce subject).
    pub(super) bounce_like: bool,
    /// Marked as an automatic reply (out of office, vacation).
    pub(super) auto_reply: bool,
}

impl Context {
    pub(super) fn new(view: &View) -> Context {
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
    pub(super) fn classify(&self, segment: &str, default: Severity) -> (Severity, String) {
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
// Status codes and addresses.

/// An enhanced status code (RFC 3463): class 2, 4 or 5, subject 0 to 7. Not part of a longer dotted number.
pub(super) static ENHANCED: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?:^|[^\d.])([245]\.[0-7]\.\d{1,3})(?:\.?(?:[^\d.]|$))").unwrap()
});
/// A 4xx or 5xx SMTP reply code where servers write them: at the start of a line, after "said:", "smtp;",
/// "error", "code".
pub(super) static SMTP_CODE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?im)(?:^[\s>#(]*|[:;]\s*|\b(?:said|error|code|reply|response|status)\s+)([45][0-5]\d)(?:[\s\-:,;)]|\.\s|\.?$)")
        .unwrap()
});

/// The failure status a piece of text gives: its first enhanced code of class 4 or 5, else its first SMTP
/// reply code, else "".
pub(super) fn status_in(text: &str) -> String {
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
pub(super) fn clean_address(text: &str) -> Option<String> {
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
pub(super) fn is_system_address(view: &View, address: &str) -> bool {
    let local = address.split('@').next().unwrap_or_default();
    address == view.from || DAEMON_LOCAL.is_match(local)
}

// ---------------------------------------------------------------------------------------------------------
// Text the readers look for.

pub(super) fn re(pattern: &str) -> Regex {
    Regex::new(pattern).unwrap()
}

/// Where a text report starts quoting the original message.
pub(super) static END_OF_NOTICE: LazyLock<Regex> = LazyLock::new(|| {
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
pub(super) static DAEMON_LOCAL: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?i)^(?:mailer[-_.]?daemon|mail[-_.]?daemon|postmaster|mdaemon|ndr|mail[-_.]?delivery[-_.a-z]*|mailer|maildelivery|double[-_]?bounce)$|^(?:mailer-daemon|postmaster)",
    )
});
static DAEMON_NAME: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?i)mail delivery|mailer[-_ ]daemon|postmaster|mail administrator|system administrator|mail system|delivery subsystem|système de messagerie|administrateur",
    )
});
pub(super) static BOUNCE_SUBJECT: LazyLock<Regex> = LazyLock::new(|| {
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
pub(super) static FAILURE_TEXT: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?i)undeliverable|not (?:be )?delivered|could not be delivered|did not reach|user not found|unknown|does not exist|no such|failed|rejected|non remis|pas pu être (?:remis|distribué|délivré)|introuvable|inconnu|n'existe pas|refusé",
    )
});
