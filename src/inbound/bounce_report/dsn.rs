//! The structured reports, read before any heuristic: RFC 3464 `message/delivery-status` parts (also inside
//! an attached message, or written into the text), one entry per recipient block with its Action, Status and
//! Diagnostic-Code; and Exim's `X-Failed-Recipients` header, with the indented block under each address in
//! the text as its diagnostic.

use std::sync::LazyLock;

use regex::Regex;

use super::context::{Context, ENHANCED, SMTP_CODE, clean_address, re};
use super::view::{View, diagnostic_text, unfold};
use super::{Entry, Found, MAX_CONTEXT_LINES, MAX_DEPTH, MAX_ENTRIES, Severity, text_entry};

// ---------------------------------------------------------------------------------------------------------
// RFC 3464.

pub(super) fn dsn(view: &View, ctx: &Context) -> Option<Found> {
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

pub(super) fn exim(view: &View, ctx: &Context) -> Option<Found> {
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
