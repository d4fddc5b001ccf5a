//! The body of a discussion list post's copies: the post as its author sent it, MIME structure and all, with
//! the list's footer added, as GNU Mailman does.
//!
//! A copy is not re-rendered from the post's text: forwarded messages (`message/rfc822`), every text part,
//! `multipart/related` with its inline images and their `Content-ID`, and attachments with their names go
//! out as received, byte for byte. Only these parts change:
//! - the post's body text (`text/plain` and `text/html`, alone, in the first place of a `multipart/mixed` or
//!   `multipart/related`, or as the alternatives of a `multipart/alternative`) gets the footer appended,
//!   decoded and encoded again in UTF-8 quoted-printable; a post whose body cannot take it safely (signed,
//!   encrypted, a lone attachment) is wrapped in a `multipart/mixed` with the footer as a second part;
//! - a text part carrying a personal relais link (a reply quoting a footer or a newsletter) has the link's
//!   token replaced ([`neutralise_tokens`]): such a link must not travel to every member;
//! - a 7bit or 8bit part with bare CR or LF, or a line over 998 bytes, is encoded in base64 (its content
//!   unchanged), since SMTP refuses those lines (smuggling defences);
//! - an executable attachment is replaced by a short note when the list strips them.
//!
//! Splicing works on the parser's offsets of each part in the raw message, so everything between (the
//! boundaries, the headers of untouched parts) is the author's own bytes.

use base64::Engine;
use mail_parser::{Message, MessageParser, MessagePart, MimeHeaders, PartType};

/// The paths of relais' personal links, each followed by a token of
/// [`crate::mail::unsubscribe::TOKEN_CHARS`] characters.
const PERSONAL_PATHS: &[&str] = &[
    "/preferences/",
    "/desabonnement/",
    "/reunions/reponse/",
    "/enquete/",
];

/// What a neutralised token reads: as long as a token, so it can be written over one in place.
pub const NEUTRAL_TOKEN: &str = "lien-personnel-retire-par-relais";

/// File name endings of programs a list strips when its settings say so (Mailman's default filter).
const EXECUTABLE_EXTENSIONS: &[&str] = &[
    "exe", "com", "bat", "cmd", "scr", "pif", "vbs", "vbe", "js", "jse", "wsf", "wsh", "msi",
    "msp", "jar", "ps1", "hta", "cpl", "lnk", "reg", "dll", "scf", "app",
];

/// The list's footer, in both forms.
#[derive(Debug, Clone, Default)]
pub struct Footer {
    pub text: String,
    pub html: String,
}

/// A copy's body: a MIME entity (its `Content-Type` and `Content-Transfer-Encoding` lines, a blank line,
/// then the content), ready to follow the copy's own headers.
#[derive(Debug, Clone)]
pub struct CopyBody {
    pub entity: Vec<u8>,
    /// The names of the parts the list's settings removed, for the archive.
    pub removed: Vec<String>,
}

/// Writes [`NEUTRAL_TOKEN`] over every relais personal token in `bytes` (same length, so any encoding that
/// shows the token as is stays valid). Returns how many were neutralised.
pub fn neutralise_tokens(bytes: &mut [u8]) -> usize {
    let token_chars = crate::mail::unsubscribe::TOKEN_CHARS;
    let is_token_char = |b: u8| b.is_ascii_alphanumeric() || b == b'-' || b == b'_';
    let mut count = 0;
    for path in PERSONAL_PATHS {
        let path = path.as_bytes();
        let mut start = 0;
        while let Some(offset) = memchr::memmem::find(&bytes[start..], path) {
            let token_at = start + offset + path.len();
            let token_end = token_at + token_chars;
            start = token_at;
            if token_end > bytes.len()
                || !bytes[token_at..token_end].iter().all(|b| is_token_char(*b))
                || bytes.get(token_end).is_some_and(|b| is_token_char(*b))
                || &bytes[token_at..token_end] == NEUTRAL_TOKEN.as_bytes()
            {
                continue;
            }
            bytes[token_at..token_end].copy_from_slice(NEUTRAL_TOKEN.as_bytes());
            count += 1;
        }
    }
    count
}

/// The text of `text` with its personal tokens neutralised.
pub fn neutralised(text: &str) -> String {
    let mut bytes = text.as_bytes().to_vec();
    neutralise_tokens(&mut bytes);
    // Only ASCII was written over ASCII: still UTF-8.
    String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// Whether a part is a program the list may strip, by its name or its type.
fn executable(part: &MessagePart<'_>) -> bool {
    let by_name = part.attachment_name().is_some_and(|name| {
        name.rsplit_once('.').is_some_and(|(_, ext)| {
            EXECUTABLE_EXTENSIONS
                .iter()
                .any(|e| e.eq_ignore_ascii_case(ext.trim()))
        })
    });
    let by_type = part.content_type().is_some_and(|t| {
        t.subtype().is_some_and(|s| {
            [
                "x-msdownload",
                "x-msdos-program",
                "x-dosexec",
                "x-executable",
            ]
            .iter()
            .any(|e| s.eq_ignore_ascii_case(e))
        })
    });
    by_name || by_type
}

/// The names of the parts a list that strips executables removes from `raw`.
pub fn stripped_names(raw: &[u8]) -> Vec<String> {
    let Some(message) = MessageParser::default().parse(raw) else {
        return Vec::new();
    };
    message
        .parts
        .iter()
        .filter(|p| !matches!(p.body, PartType::Multipart(_)) && executable(p))
        .map(|p| p.attachment_name().unwrap_or("programme").to_string())
        .collect()
}

fn mime_type(part: &MessagePart<'_>) -> (String, String) {
    match part.content_type() {
        Some(t) => (
            t.ctype().to_ascii_lowercase(),
            t.subtype().unwrap_or_default().to_ascii_lowercase(),
        ),
        None => ("text".into(), "plain".into()),
    }
}

/// A text part that reads as the body (not a file someone attached).
fn body_text_part(part: &MessagePart<'_>) -> bool {
    let (ctype, subtype) = mime_type(part);
    let attached = part
        .content_disposition()
        .is_some_and(|d| d.ctype().eq_ignore_ascii_case("attachment"))
        || part.attachment_name().is_some();
    ctype == "text"
        && (subtype == "plain" || subtype == "html")
        && !attached
        && !part.is_encoding_problem
        && matches!(part.body, PartType::Text(_) | PartType::Html(_))
}

fn children<'a>(
    message: &'a Message<'_>,
    part: &MessagePart<'_>,
) -> Vec<(usize, &'a MessagePart<'a>)> {
    match &part.body {
        PartType::Multipart(ids) => ids
            .iter()
            .filter_map(|id| {
                let id = *id as usize;
                message.parts.get(id).map(|p| (id, p))
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// The parts that get the footer: the body's text and HTML, or none when it cannot take one safely.
fn footer_parts(message: &Message<'_>, id: usize, depth: usize) -> Vec<usize> {
    let Some(part) = message.parts.get(id) else {
        return Vec::new();
    };
    if depth > 3 {
        return Vec::new();
    }
    let (ctype, subtype) = mime_type(part);
    if ctype != "multipart" {
        return if body_text_part(part) {
            vec![id]
        } else {
            Vec::new()
        };
    }
    let kids = children(message, part);
    match subtype.as_str() {
        "alternative" => {
            // Every alternative shown must carry the footer, or none does: the same text in each.
            let mut found = Vec::new();
            for (kid_id, kid) in &kids {
                let (kid_type, _) = mime_type(kid);
                let inner = footer_parts(message, *kid_id, depth + 1);
                if inner.is_empty() && kid_type != "text" {
                    // A calendar or other alternative: it stays as is.
                    continue;
                }
                if inner.is_empty() {
                    return Vec::new();
                }
                found.extend(inner);
            }
            found
        }
        "mixed" | "related" => match kids.first() {
            Some((kid_id, _)) => footer_parts(message, *kid_id, depth + 1),
            None => Vec::new(),
        },
        // Signed or encrypted bodies must not change; reports and others go whole in a wrapper.
        _ => Vec::new(),
    }
}

/// The header block of `part` (as raw text) without the lines of the headers named in `drop`.
fn headers_without(raw: &[u8], part: &MessagePart<'_>, drop: &[&str]) -> String {
    let block =
        String::from_utf8_lossy(&raw[part.offset_header as usize..part.offset_body as usize]);
    let mut out = String::new();
    let mut skipping = false;
    for line in block.split_inclusive('\n') {
        let bare = line.trim_end_matches(['\r', '\n']);
        if bare.is_empty() {
            break;
        }
        let continuation = bare.starts_with([' ', '\t']);
        if !continuation {
            let name = bare.split(':').next().unwrap_or_default().trim();
            skipping = drop.iter().any(|d| d.eq_ignore_ascii_case(name));
        }
        if !skipping {
            out.push_str(bare);
            out.push_str("\r\n");
        }
    }
    out
}

/// Text with CRLF line ends, encoded in quoted-printable.
fn quoted_printable(text: &str) -> Vec<u8> {
    let crlf = text
        .replace("\r\n", "\n")
        .replace('\r', "\n")
        .replace('\n', "\r\n");
    quoted_printable::encode(crlf.as_bytes())
}

fn base64_lines(content: &[u8]) -> Vec<u8> {
    let encoded = base64::engine::general_purpose::STANDARD.encode(content);
    let mut out = Vec::with_capacity(encoded.len() + encoded.len() / 38);
    for line in encoded.as_bytes().chunks(76) {
        out.extend_from_slice(line);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// A text part made anew: its other headers kept, UTF-8 quoted-printable, personal tokens neutralised, and
/// `footer` appended when given.
fn text_part(raw: &[u8], part: &MessagePart<'_>, footer: Option<&Footer>) -> Vec<u8> {
    let (ctype, subtype) = mime_type(part);
    let mut text = neutralised(part.text_contents().unwrap_or_default());
    if let Some(footer) = footer {
        if subtype == "html" {
            let lower = text.to_ascii_lowercase();
            match lower.rfind("</body>") {
                Some(at) => text.insert_str(at, &footer.html),
                None => text.push_str(&footer.html),
            }
        } else {
            let trimmed = text.trim_end_matches(['\r', '\n']).len();
            text.truncate(trimmed);
            text.push_str("\n\n");
            text.push_str(&footer.text);
        }
    }
    let mut content_type = format!("{ctype}/{subtype}; charset=utf-8");
    if let Some(t) = part.content_type() {
        for name in ["format", "delsp"] {
            if let Some(value) = t.attribute(name)
                && value.chars().all(|c| c.is_ascii_alphanumeric())
            {
                content_type.push_str(&format!("; {name}={value}"));
            }
        }
    }
    let mut out = headers_without(raw, part, &["Content-Type", "Content-Transfer-Encoding"]);
    out.push_str(&format!(
        "Content-Type: {content_type}\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
    ));
    let mut out = out.into_bytes();
    out.extend_from_slice(&quoted_printable(&text));
    out
}

/// Whether a 7bit or 8bit body cannot go on the wire as it is: a bare CR or LF, or a line over 998 bytes.
fn unsafe_lines(body: &[u8]) -> bool {
    let mut line = 0usize;
    for (i, byte) in body.iter().enumerate() {
        match byte {
            b'\r' if body.get(i + 1) != Some(&b'\n') => return true,
            b'\n' if i == 0 || body[i - 1] != b'\r' => return true,
            b'\n' => line = 0,
            _ => {
                line += 1;
                if line > 998 {
                    return true;
                }
            }
        }
    }
    false
}

fn transfer_encoding(part: &MessagePart<'_>) -> String {
    part.content_transfer_encoding()
        .unwrap_or("7bit")
        .trim()
        .to_ascii_lowercase()
}

/// How one part of the post goes out.
enum Change {
    Text { footer: bool },
    Strip,
    Base64,
    CrLf,
}

/// The body of every copy of `raw`, with `footer`; `strip_executables` removes programs.
pub fn copy_body(raw: &[u8], footer: &Footer, strip_executables: bool) -> CopyBody {
    let Some(message) = MessageParser::default().parse(raw) else {
        return text_only(&String::from_utf8_lossy(raw), footer);
    };
    let Some(root) = message.parts.first() else {
        return text_only("", footer);
    };
    let with_footer = footer_parts(&message, 0, 0);
    let mut removed = Vec::new();
    let mut changes: Vec<(usize, Change)> = Vec::new();
    for (id, part) in message.parts.iter().enumerate() {
        if matches!(part.body, PartType::Multipart(_)) {
            continue;
        }
        if with_footer.contains(&id) {
            changes.push((id, Change::Text { footer: true }));
            continue;
        }
        if strip_executables && id != 0 && executable(part) {
            removed.push(part.attachment_name().unwrap_or("programme").to_string());
            changes.push((id, Change::Strip));
            continue;
        }
        let body = &raw[part.offset_body as usize..part.offset_end as usize];
        let encoding = transfer_encoding(part);
        let raw_encoding = matches!(encoding.as_str(), "7bit" | "8bit" | "binary");
        if matches!(part.body, PartType::Text(_) | PartType::Html(_))
            && !part.is_encoding_problem
            && part
                .text_contents()
                .is_some_and(|t| neutralised(t).as_str() != t)
        {
            changes.push((id, Change::Text { footer: false }));
        } else if raw_encoding && unsafe_lines(body) {
            let (ctype, _) = mime_type(part);
            // A message/* part may not be base64 (RFC 2046): its lines are made CRLF instead.
            changes.push((
                id,
                if ctype == "message" || ctype == "multipart" {
                    Change::CrLf
                } else {
                    Change::Base64
                },
            ));
        }
    }
    // The new bytes of each changed part, from its first header to the end of its body.
    let mut splices: Vec<(usize, usize, Vec<u8>)> = Vec::new();
    for (id, change) in &changes {
        let part = &message.parts[*id];
        let body = &raw[part.offset_body as usize..part.offset_end as usize];
        let bytes = match change {
            Change::Text { footer: with } => text_part(raw, part, with.then_some(footer)),
            Change::Strip => format!(
                "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n{}",
                String::from_utf8_lossy(&quoted_printable(&format!(
                    "[Pièce jointe retirée par la liste : {} (programme)]",
                    part.attachment_name().unwrap_or("sans nom")
                )))
            )
            .into_bytes(),
            Change::Base64 => {
                let mut out =
                    headers_without(raw, part, &["Content-Transfer-Encoding"]).into_bytes();
                out.extend_from_slice(b"Content-Transfer-Encoding: base64\r\n\r\n");
                out.extend_from_slice(&base64_lines(body));
                // The body's end is followed by the CRLF before the boundary: no line end of our own.
                while out.ends_with(b"\r\n") {
                    out.truncate(out.len() - 2);
                }
                out
            }
            Change::CrLf => {
                let mut out = raw[part.offset_header as usize..part.offset_body as usize].to_vec();
                out.extend_from_slice(&crlf(body));
                out
            }
        };
        splices.push((part.offset_header as usize, part.offset_end as usize, bytes));
    }
    splices.sort_by_key(|(start, _, _)| *start);

    // The root's own content headers, then its body with the splices.
    let root_is_changed = splices
        .first()
        .is_some_and(|(start, _, _)| *start == root.offset_header as usize);
    let mut entity = Vec::with_capacity(raw.len() + 1024);
    if root_is_changed {
        let (_, _, bytes) = &splices[0];
        // Only the content headers of the root belong to the entity; the rest are the message's.
        let text = String::from_utf8_lossy(bytes);
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
        entity.extend_from_slice(content_headers(head).as_bytes());
        entity.extend_from_slice(b"\r\n");
        entity.extend_from_slice(body.as_bytes());
    } else {
        let head =
            String::from_utf8_lossy(&raw[root.offset_header as usize..root.offset_body as usize]);
        let mut headers = content_headers(&head);
        if headers.is_empty() {
            headers = "Content-Type: text/plain; charset=us-ascii\r\n".into();
        }
        entity.extend_from_slice(headers.as_bytes());
        entity.extend_from_slice(b"\r\n");
        let mut at = root.offset_body as usize;
        let mut body = Vec::with_capacity(raw.len());
        for (start, end, bytes) in &splices {
            if *start < at {
                continue;
            }
            body.extend_from_slice(&raw[at..*start]);
            body.extend_from_slice(bytes);
            at = *end;
        }
        body.extend_from_slice(&raw[at..(root.offset_end as usize).max(at)]);
        // Every part with raw lines was re-encoded above: what remains (boundaries, part headers, base64 and
        // quoted-printable text) may take CRLF line ends without changing any content.
        entity.extend_from_slice(&crlf(&body));
    }
    if !entity.ends_with(b"\r\n") {
        entity.extend_from_slice(b"\r\n");
    }
    if with_footer.is_empty() {
        entity = wrapped(&entity, footer);
    }
    CopyBody { entity, removed }
}

/// The `Content-*` and MIME lines of a header block (folded lines kept with theirs), CRLF-terminated.
fn content_headers(head: &str) -> String {
    let mut out = String::new();
    let mut keeping = false;
    for line in head.lines() {
        if line.is_empty() {
            break;
        }
        if !line.starts_with([' ', '\t']) {
            let name = line.split(':').next().unwrap_or_default().trim();
            keeping = name.to_ascii_lowercase().starts_with("content-");
        }
        if keeping {
            out.push_str(line);
            out.push_str("\r\n");
        }
    }
    out
}

/// Bare CR and LF made CRLF.
fn crlf(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len() + bytes.len() / 32);
    for (i, byte) in bytes.iter().enumerate() {
        match byte {
            b'\r' if bytes.get(i + 1) == Some(&b'\n') => out.push(b'\r'),
            b'\r' => out.extend_from_slice(b"\r\n"),
            b'\n' if i == 0 || bytes[i - 1] != b'\r' => out.extend_from_slice(b"\r\n"),
            other => out.push(*other),
        }
    }
    out
}

/// `entity` and the footer as the two parts of a `multipart/mixed`.
fn wrapped(entity: &[u8], footer: &Footer) -> Vec<u8> {
    let boundary = format!("=_relais_{}", uuid::Uuid::new_v4().simple());
    let mut out = format!(
        "Content-Type: multipart/mixed; boundary=\"{boundary}\"\r\nContent-Transfer-Encoding: 8bit\r\n\r\n--{boundary}\r\n"
    )
    .into_bytes();
    out.extend_from_slice(entity);
    out.extend_from_slice(
        format!(
            "\r\n--{boundary}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Disposition: inline\r\n\
             Content-Transfer-Encoding: quoted-printable\r\n\r\n"
        )
        .as_bytes(),
    );
    out.extend_from_slice(&quoted_printable(&footer.text));
    out.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    out
}

fn text_only(text: &str, footer: &Footer) -> CopyBody {
    let text = format!("{}\n\n{}", neutralised(text).trim_end(), footer.text);
    let mut entity = b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
        .to_vec();
    entity.extend_from_slice(&quoted_printable(&text));
    entity.extend_from_slice(b"\r\n");
    CopyBody {
        entity,
        removed: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn footer() -> Footer {
        Footer {
            text: "-- \nÉchanges · echanges@club.example".into(),
            html: "<hr><p>Échanges</p>".into(),
        }
    }

    fn parse(entity: &[u8]) -> Message<'_> {
        MessageParser::default().parse(entity).expect("parses")
    }

    #[test]
    fn a_plain_post_gets_the_footer_in_utf8() {
        let raw =
            b"From: a@x.example\r\nSubject: s\r\nContent-Type: text/plain; charset=iso-8859-1\r\n\
                    Content-Transfer-Encoding: 8bit\r\n\r\nL\xe0 bas\r\n";
        let body = copy_body(raw, &footer(), true);
        let copy = parse(&body.entity);
        let text = copy.body_text(0).unwrap();
        assert!(
            text.starts_with("Là bas\r\n\r\n-- \r\nÉchanges"),
            "{text:?}"
        );
        assert!(!body.entity.windows(5).any(|w| w == b"From:"));
    }

    #[test]
    fn forwarded_messages_inline_images_and_attachments_stay_byte_exact() {
        let raw = "From: a@x.example\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"B1\"\r\n\r\n\
            --B1\r\nContent-Type: multipart/alternative; boundary=\"B2\"\r\n\r\n\
            --B2\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nBonjour\r\n\
            --B2\r\nContent-Type: multipart/related; boundary=\"B3\"\r\n\r\n\
            --B3\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<html><body><p>Bonjour</p><img src=\"cid:logo@x\"></body></html>\r\n\
            --B3\r\nContent-Type: image/png\r\nContent-ID: <logo@x>\r\nContent-Transfer-Encoding: base64\r\n\r\niVBORw0KGgo=\r\n\
            --B3--\r\n--B2--\r\n\
            --B1\r\nContent-Type: message/rfc822\r\n\r\nFrom: b@y.example\r\nSubject: transf\r\n\r\ncorps transfere\r\n\
            --B1\r\nContent-Type: text/csv; name*=utf-8''r%C3%A9sum%C3%A9.csv\r\nContent-Disposition: attachment; filename*=utf-8''r%C3%A9sum%C3%A9.csv\r\n\r\na;b\nc;d\n\r\n\
            --B1--\r\n";
        let body = copy_body(raw.as_bytes(), &footer(), true);
        let copy = parse(&body.entity);
        assert!(copy.body_text(0).unwrap().contains("Échanges"));
        assert!(
            copy.body_html(0)
                .unwrap()
                .contains("<p>Échanges</p></body>")
        );
        let image = copy
            .parts
            .iter()
            .find(|p| p.content_id() == Some("logo@x"))
            .expect("the inline image keeps its Content-ID");
        assert_eq!(image.contents(), b"\x89PNG\r\n\x1a\n");
        let forwarded = copy
            .parts
            .iter()
            .find_map(|p| p.message())
            .expect("the forwarded message is there");
        assert_eq!(forwarded.subject(), Some("transf"));
        let csv = copy
            .attachments()
            .find(|p| p.attachment_name() == Some("résumé.csv"))
            .expect("the accented name is kept");
        assert_eq!(csv.contents(), b"a;b\nc;d\n", "bare LFs kept inside base64");
        assert!(!unsafe_lines(&body.entity), "nothing bare on the wire");
        assert!(body.removed.is_empty());
    }

    #[test]
    fn signed_posts_are_wrapped_and_programs_stripped() {
        let raw = "From: a@x.example\r\nContent-Type: multipart/signed; boundary=\"S\"; protocol=\"application/pgp-signature\"\r\n\r\n\
            --S\r\nContent-Type: text/plain\r\n\r\nsigne\r\n--S\r\nContent-Type: application/pgp-signature\r\n\r\nSIG\r\n--S--\r\n";
        let body = copy_body(raw.as_bytes(), &footer(), true);
        let copy = parse(&body.entity);
        assert_eq!(copy.content_type().unwrap().subtype(), Some("mixed"));
        let text = String::from_utf8_lossy(&body.entity);
        assert!(text.contains("--S\r\nContent-Type: text/plain\r\n\r\nsigne\r\n--S\r\n"));

        let raw = "From: a@x.example\r\nContent-Type: multipart/mixed; boundary=\"M\"\r\n\r\n\
            --M\r\nContent-Type: text/plain\r\n\r\nvoir piece\r\n\
            --M\r\nContent-Type: application/octet-stream; name=\"jeu.exe\"\r\nContent-Transfer-Encoding: base64\r\n\r\nTVo=\r\n--M--\r\n";
        let body = copy_body(raw.as_bytes(), &footer(), true);
        assert_eq!(body.removed, vec!["jeu.exe".to_string()]);
        let copy = parse(&body.entity);
        assert!(
            copy.attachments()
                .all(|p| p.attachment_name() != Some("jeu.exe"))
        );
        assert_eq!(stripped_names(raw.as_bytes()), vec!["jeu.exe".to_string()]);
    }

    /// Every message of the project's corpora (bounces of every format, the fuzzers' seeds) as a post: the
    /// copy parses, has no bare line end, and carries every part of the post with the same decoded content
    /// (the body's text with the footer after it).
    #[test]
    fn every_corpus_message_keeps_its_parts() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut files = Vec::new();
        for dir in ["tests/bounces", "tests/fuzz/corpus/route_message"] {
            let mut stack = vec![root.join(dir)];
            while let Some(dir) = stack.pop() {
                for entry in std::fs::read_dir(&dir).unwrap().flatten() {
                    let path = entry.path();
                    if path.is_dir() {
                        stack.push(path);
                    } else if path.extension().is_none_or(|e| e == "eml") {
                        files.push(path);
                    }
                }
            }
        }
        assert!(files.len() > 80, "{}", files.len());
        for path in files {
            let raw = std::fs::read(&path).unwrap();
            let Some(original) = MessageParser::default().parse(&raw) else {
                continue;
            };
            let body = copy_body(&raw, &footer(), false);
            assert!(!unsafe_lines(&body.entity), "{}", path.display());
            let copy = MessageParser::default()
                .parse(&body.entity)
                .unwrap_or_else(|| panic!("{}", path.display()));
            // Each leaf of the post is found in the copy with the same content (text parts may have
            // gained the footer, after their own text).
            for part in original
                .parts
                .iter()
                .filter(|p| !matches!(p.body, PartType::Multipart(_)) && !p.contents().is_empty())
            {
                let found = copy.parts.iter().any(|c| match (&part.body, &c.body) {
                    (PartType::Text(a), PartType::Text(b))
                    | (PartType::Html(a), PartType::Html(b)) => {
                        let a = a.replace("\r\n", "\n");
                        let b = b.replace("\r\n", "\n");
                        b.starts_with(a.trim_end()) || b.contains(a.trim())
                    }
                    // A message/* part's lines are made CRLF, as RFC 2046 wants them.
                    _ if mime_type(part).0 == "message" => {
                        c.contents() == part.contents() || crlf(part.contents()) == c.contents()
                    }
                    _ => c.contents() == part.contents(),
                });
                assert!(found, "{}: a part went missing", path.display());
            }
        }
    }

    #[test]
    fn personal_tokens_are_neutralised_in_quoted_text() {
        let token = "abcdefghijklmnopqrstuvwxyz012345";
        let raw = format!(
            "From: a@x.example\r\nContent-Type: text/plain\r\n\r\nD'accord.\r\n> Vos abonnements : https://c.example/preferences/{token}\r\n"
        );
        let body = copy_body(raw.as_bytes(), &footer(), false);
        let copy = parse(&body.entity);
        let text = copy.body_text(0).unwrap();
        assert!(!text.contains(token));
        assert!(
            text.contains(&format!("/preferences/{NEUTRAL_TOKEN}")),
            "{text}"
        );
        assert_eq!(NEUTRAL_TOKEN.len(), crate::mail::unsubscribe::TOKEN_CHARS);
        let mut bytes = format!("x/desabonnement/{token}x").into_bytes();
        assert_eq!(neutralise_tokens(&mut bytes), 0, "not a whole token");
    }
}
