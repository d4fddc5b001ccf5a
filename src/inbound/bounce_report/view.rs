//! The message as the readers see it: [`View`] holds the headers that matter, the leaves of the MIME tree,
//! the `message/delivery-status` bodies, the attached messages and the text (HTML turned to text), each
//! part's text bounded; with it the helpers that read header fields and unfold a diagnostic to one line.

use mail_parser::{Message, MimeHeaders, PartType};

use super::context::END_OF_NOTICE;
use super::{MAX_DEPTH, MAX_DIAGNOSTIC, MAX_PART_TEXT};

// ---------------------------------------------------------------------------------------------------------
// The message as the readers see it.

/// One message (the bounce, or a message attached to it): the headers that matter and its text.
pub(super) struct View {
    /// The From address, lowercase ("" when there is none, as in `From: "Jetmail System" <>`).
    pub(super) from: String,
    /// The From display name, lowercase.
    pub(super) from_name: String,
    pub(super) subject: String,
    /// The top content type, lowercase `type/subtype`.
    pub(super) content_type: String,
    /// Every header field, name lowercase, value unfolded.
    pub(super) headers: Vec<(String, String)>,
    /// The leaves of the MIME tree, in order (nested messages excluded).
    pub(super) leaves: Vec<Leaf>,
    /// `message/delivery-status` bodies.
    pub(super) reports: Vec<String>,
    /// Attached messages.
    pub(super) nested: Vec<View>,
    /// The text of the text leaves (HTML turned to text), one after the other.
    pub(super) text: String,
}

pub(super) struct Leaf {
    pub(super) content_type: String,
    pub(super) description: String,
    pub(super) text: Option<String>,
}

impl View {
    pub(super) fn new(message: &Message<'_>, raw: &[u8], depth: usize) -> View {
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

    pub(super) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub(super) fn lines(&self) -> impl Iterator<Item = &str> {
        self.text.lines()
    }

    /// The text before the copy of the original message, when the report quotes it inline.
    pub(super) fn notice(&self) -> &str {
        match END_OF_NOTICE.find(&self.text) {
            Some(m) if m.start() > 0 => &self.text[..m.start()],
            _ => &self.text,
        }
    }

    /// The domain of the From address without its host part ("mr1.its.example.edu" gives "example.edu").
    pub(super) fn reporting_domain(&self) -> String {
        let domain = self
            .from
            .rsplit_once('@')
            .map(|(_, d)| d)
            .unwrap_or_default();
        let labels: Vec<&str> = domain.split('.').filter(|l| !l.is_empty()).collect();
        labels[labels.len().saturating_sub(2)..].join(".")
    }

    pub(super) fn first_text_leaf(&self) -> Option<&Leaf> {
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
pub(super) fn unfold(value: &str) -> String {
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

pub(super) fn diagnostic_text(text: &str) -> String {
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
