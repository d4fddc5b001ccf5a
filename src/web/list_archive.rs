//! The archive of a discussion list: its threads (built from Message-ID, In-Reply-To and References),
//! searchable by subject or author; each thread's posts, their HTML cleaned by `ammonia` (no script, no
//! event handler, no `javascript:` link) or their text with quoted passages folded (French and English
//! client markers); attachments downloaded, never shown inline; the month as an mbox file. Who reads it is
//! the list's setting: everyone (`public`); its subscribers and staff (`members`: a subscriber opens it from
//! the preferences page of any mail, which leaves a reader cookie holding that signed link); or staff only.
//! The cookie is the preferences token itself, so it names its holder's address and is checked each time
//! against the list's active subscriptions: leaving the list closes its archive.

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use mail_parser::{MessageParser, MimeHeaders};

use super::AppState;
use super::auth::optional_session;
use super::error::{WebError, WebResult};
use crate::domain::ListKind;
use crate::store::discussion::DiscussionList;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/listes/{key}/archives", get(index))
        .route("/listes/{key}/archives/fils/{thread}", get(thread))
        .route("/listes/{key}/archives/messages/{post}", get(message))
        .route(
            "/listes/{key}/archives/messages/{post}/pieces/{index}",
            get(attachment),
        )
        .route("/listes/{key}/archives/mois/{month}", get(mbox))
}

/// The list, if this request may read its archive.
async fn readable(state: &AppState, headers: &HeaderMap, key: &str) -> WebResult<DiscussionList> {
    let list = state
        .store
        .discussion_list(key)
        .await?
        .filter(|l| l.kind == ListKind::Discussion)
        .ok_or(WebError::NotFound)?;
    if list.archive == "public" {
        return Ok(list);
    }
    let session = optional_session(state, headers).await?;
    if session.as_ref().is_some_and(|s| s.role().is_staff()) {
        return Ok(list);
    }
    if list.archive == "members"
        && let Some(address) = super::preferences::reader(state, headers).await?
        && state.store.is_subscriber(list.id, &address).await?
    {
        return Ok(list);
    }
    match session {
        Some(_) => Err(WebError::Forbidden),
        None if list.archive == "members" => Err(WebError::SubscribersOnly),
        None => Err(WebError::LoginRequired),
    }
}

#[derive(serde::Deserialize)]
struct Search {
    #[serde(default)]
    q: String,
}

/// A thread in the index.
pub struct ThreadLine {
    pub id: i64,
    pub subject: String,
    pub author: String,
    pub posts: i64,
    pub last: String,
}

#[derive(Template)]
#[template(path = "archive_index.html", config = "src/web/askama.toml")]
struct IndexPage {
    list: DiscussionList,
    query: String,
    threads: Vec<ThreadLine>,
    month: String,
}

async fn index(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(key): Path<String>,
    Query(search): Query<Search>,
) -> WebResult<Html<String>> {
    let list = readable(&state, &headers, &key).await?;
    let threads = state
        .store
        .threads(list.id, search.q.trim(), 200)
        .await?
        .into_iter()
        .map(|(id, subject, author, posts, last)| ThreadLine {
            id,
            subject,
            author,
            posts,
            last: super::view::french_datetime(last),
        })
        .collect();
    let month = state
        .clock
        .now()
        .with_timezone(&crate::clock::PARIS)
        .format("%Y-%m")
        .to_string();
    Ok(Html(
        IndexPage {
            list,
            query: search.q,
            threads,
            month,
        }
        .render()?,
    ))
}

/// A post as the thread page shows it.
pub struct ShownPost {
    pub id: i64,
    pub author: String,
    pub date: String,
    pub subject: String,
    /// Cleaned HTML (from the post's HTML, or its text with quotes folded).
    pub body: String,
    pub attachments: Vec<(usize, String, usize)>,
    /// What the list's settings removed from the post (programs).
    pub removed: Vec<String>,
}

#[derive(Template)]
#[template(path = "archive_thread.html", config = "src/web/askama.toml")]
struct ThreadPage {
    list: DiscussionList,
    subject: String,
    posts: Vec<ShownPost>,
}

/// Markers that open a quoted passage in replies (French clients first).
fn opens_quote(line: &str) -> bool {
    let line = line.trim();
    line.starts_with('>')
        || (line.starts_with("Le ") && line.ends_with("a écrit :"))
        || (line.starts_with("On ") && line.ends_with("wrote:"))
        || line.starts_with("-----Message d'origine-----")
        || line.starts_with("-----Original Message-----")
        || line.starts_with("De : ")
        || line.starts_with("From: ")
}

/// `text` without the list footers it quotes (a reply quoting a whole copy quotes its footer): quoted lines
/// of a relais footer — the list's name and address, its archive and subscription links, and the `-- ` line
/// before them — are left out of the archive.
fn without_quoted_footers(text: &str, public_url: &str, domain: &str) -> String {
    let inner = |line: &str| -> Option<String> {
        let trimmed = line.trim_start();
        trimmed.starts_with('>').then(|| {
            trimmed
                .trim_start_matches(['>', ' '])
                .trim_end()
                .to_string()
        })
    };
    let footer_line = |line: &str| {
        inner(line).is_some_and(|l| {
            (l.starts_with("Archives : ") && l.contains(&format!("{public_url}/listes/")))
                || (l.starts_with("Gérer votre abonnement") && l.contains(public_url))
                || l.starts_with("Vos abonnements et les archives de la liste :")
                || (l.contains(" · ") && l.ends_with(&format!("@{domain}")))
        })
    };
    let lines: Vec<&str> = text.lines().collect();
    let mut kept = Vec::with_capacity(lines.len());
    for (n, line) in lines.iter().enumerate() {
        let separator = inner(line).is_some_and(|l| l == "--")
            && lines.get(n + 1).is_some_and(|next| footer_line(next));
        if !separator && !footer_line(line) {
            kept.push(*line);
        }
    }
    kept.join("\n")
}

/// Plain text as HTML, everything escaped, the quoted passage (from its first marker on) folded.
fn text_html(text: &str) -> String {
    let escape = |t: &str| {
        askama::filters::escape(t, askama::filters::Html)
            .map(|e| e.to_string())
            .unwrap_or_default()
    };
    let lines: Vec<&str> = text.lines().collect();
    match lines.iter().position(|l| opens_quote(l)) {
        Some(at) => format!(
            "<pre class=\"post\">{}</pre><details><summary>Texte cité</summary><pre class=\"post quoted\">{}</pre></details>",
            escape(lines[..at].join("\n").trim_end()),
            escape(&lines[at..].join("\n"))
        ),
        None => format!("<pre class=\"post\">{}</pre>", escape(text.trim_end())),
    }
}

/// A post's message as the archive shows it: as received, with any personal relais link it quotes
/// neutralised (a footer or a newsletter quoted in a reply must not hand that person's page to readers).
async fn archived_raw(
    state: &AppState,
    post: &crate::store::discussion::Post,
) -> WebResult<Option<Vec<u8>>> {
    let raw = match post.inbound_message_id {
        Some(id) => state.store.inbound_raw(id).await?,
        None => None,
    };
    Ok(raw.map(|mut raw| {
        crate::mail::list_copy::neutralise_tokens(&mut raw);
        raw
    }))
}

async fn shown(state: &AppState, post: &crate::store::discussion::Post) -> WebResult<ShownPost> {
    let raw = archived_raw(state, post).await?.unwrap_or_default();
    let removed: Vec<String> = post
        .removed
        .lines()
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect();
    let parsed = MessageParser::default().parse(&raw);
    let (body, attachments) = match &parsed {
        Some(message) => {
            let html = if !message.html_body.is_empty() && message.html_body != message.text_body {
                message
                    .body_html(0)
                    .map(|h| crate::mail::newsletter::clean_links(&h))
            } else {
                None
            };
            let body = html.unwrap_or_else(|| {
                text_html(&without_quoted_footers(
                    &message.body_text(0).unwrap_or_default(),
                    &state.settings.server.public_url,
                    state.settings.mail.domain(),
                ))
            });
            let attachments = message
                .attachments()
                .enumerate()
                .filter(|(_, part)| {
                    !part
                        .attachment_name()
                        .is_some_and(|name| removed.iter().any(|r| r == name))
                })
                .map(|(n, part)| {
                    (
                        n,
                        part.attachment_name().unwrap_or("pièce jointe").to_string(),
                        part.contents().len(),
                    )
                })
                .collect();
            (body, attachments)
        }
        None => (text_html("(message illisible)"), Vec::new()),
    };
    Ok(ShownPost {
        id: post.id,
        author: if post.from_name.is_empty() {
            post.from_address.clone()
        } else {
            post.from_name.clone()
        },
        date: super::view::french_datetime(post.created_at),
        subject: post.subject.clone(),
        body,
        attachments,
        removed,
    })
}

async fn thread(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((key, thread)): Path<(String, i64)>,
) -> WebResult<Html<String>> {
    let list = readable(&state, &headers, &key).await?;
    let posts = state.store.thread_posts(list.id, thread).await?;
    let Some(first) = posts.first() else {
        return Err(WebError::NotFound);
    };
    let subject = first.subject.clone();
    let mut shown_posts = Vec::new();
    for post in &posts {
        shown_posts.push(shown(&state, post).await?);
    }
    Ok(Html(
        ThreadPage {
            list,
            subject,
            posts: shown_posts,
        }
        .render()?,
    ))
}

/// The `Archived-At` of a copy: the post in its thread.
async fn message(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((key, post)): Path<(String, i64)>,
) -> WebResult<Response> {
    let list = readable(&state, &headers, &key).await?;
    match state.store.post_thread(post).await? {
        Some((list_id, thread)) if list_id == list.id => Ok(Redirect::to(&format!(
            "/listes/{key}/archives/fils/{thread}#message-{post}"
        ))
        .into_response()),
        _ => Err(WebError::NotFound),
    }
}

async fn attachment(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((key, post, index)): Path<(String, i64, usize)>,
) -> WebResult<Response> {
    let list = readable(&state, &headers, &key).await?;
    let post = state
        .store
        .post(post)
        .await?
        .filter(|p| p.list_id == list.id && p.state == "distributed")
        .ok_or(WebError::NotFound)?;
    let raw = archived_raw(&state, &post)
        .await?
        .ok_or(WebError::NotFound)?;
    let message = MessageParser::default()
        .parse(&raw)
        .ok_or(WebError::NotFound)?;
    let part = message.attachments().nth(index).ok_or(WebError::NotFound)?;
    if part
        .attachment_name()
        .is_some_and(|name| post.removed.lines().any(|r| r == name))
    {
        // The list removed it from every copy: the archive does not hand it out either.
        return Err(WebError::NotFound);
    }
    let name: String = part
        .attachment_name()
        .unwrap_or("piece-jointe")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || ".-_".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    // Always a download, never rendered: an attachment is untrusted.
    Ok((
        [
            (header::CONTENT_TYPE, "application/octet-stream".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_string()),
        ],
        part.contents().to_vec(),
    )
        .into_response())
}

/// The month's posts as an mbox (mboxrd: `From ` lines in bodies are quoted).
async fn mbox(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((key, month)): Path<(String, String)>,
) -> WebResult<Response> {
    let list = readable(&state, &headers, &key).await?;
    let month = month.trim_end_matches(".mbox");
    let start = chrono::NaiveDate::parse_from_str(&format!("{month}-01"), "%Y-%m-%d")
        .map_err(|_| WebError::BadRequest(format!("« {month} » n'est pas un mois (AAAA-MM).")))?;
    let end = start
        .checked_add_months(chrono::Months::new(1))
        .unwrap_or(start);
    let millis = |day: chrono::NaiveDate| {
        day.and_hms_opt(0, 0, 0)
            .and_then(|t| t.and_local_timezone(crate::clock::PARIS).earliest())
            .map(|t| t.timestamp_millis())
            .unwrap_or_default()
    };
    let posts = state
        .store
        .distributed_between(list.id, millis(start), millis(end))
        .await?;
    let mut out = Vec::new();
    for post in posts {
        let Some(mut raw) = archived_raw(&state, &post).await? else {
            continue;
        };
        if !post.message_id.is_empty()
            && MessageParser::default()
                .parse_headers(&raw)
                .is_some_and(|m| m.message_id().is_none())
        {
            // The Message-ID relais gave the post when it came without one: the one its copies carry.
            let mut with_id = format!("Message-ID: <{}>\r\n", post.message_id).into_bytes();
            with_id.extend_from_slice(&raw);
            raw = with_id;
        }
        let date = chrono::DateTime::from_timestamp_millis(post.created_at)
            .unwrap_or_default()
            .format("%a %b %e %H:%M:%S %Y");
        out.extend_from_slice(format!("From {} {date}\n", post.from_address).as_bytes());
        for line in String::from_utf8_lossy(&raw).replace("\r\n", "\n").lines() {
            if line.trim_start_matches('>').starts_with("From ") {
                out.push(b'>');
            }
            out.extend_from_slice(line.as_bytes());
            out.push(b'\n');
        }
        out.push(b'\n');
    }
    Ok((
        [
            (header::CONTENT_TYPE, "application/mbox".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{}-{month}.mbox\"", list.list_key),
            ),
        ],
        out,
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::without_quoted_footers;

    #[test]
    fn quoted_footers_are_left_out_and_the_rest_kept() {
        let text = "D'accord avec vous.\n\nLe 24 nov. 2026, Maire a écrit :\n> Nous avons raccordé.\n>\n> -- \n\
                    > Échanges du club · echanges@club.example\n> Archives : https://club.example/listes/echanges/archives\n\
                    > Gérer votre abonnement (un lien personnel vous est envoyé) : https://club.example/preferences\n\
                    > -- \n> Marie, mairie de Lyon";
        let kept = without_quoted_footers(text, "https://club.example", "club.example");
        assert_eq!(
            kept,
            "D'accord avec vous.\n\nLe 24 nov. 2026, Maire a écrit :\n> Nous avons raccordé.\n>\n> -- \n> Marie, mairie de Lyon"
        );
    }
}
