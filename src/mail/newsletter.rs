//! An issue of the newsletter as a mail: its items grouped by category, Markdown turned into HTML (raw HTML
//! in an item is shown as text, never passed through) and kept as written for the text part; list headers
//! and the one-click unsubscribe come from the outbox like every list mail.

use super::body::{MailBody, mail_body};
use pulldown_cmark::{Event, Options, Parser, html};

use crate::domain::mail_kind::MailKind;
use crate::store::newsletter::{Issue, Item, category_label};
use crate::store::newsletter_schedule::SentIssue;
use crate::store::outbox::{ListHeaders, NewMessage};
use crate::store::subscriptions::MailingList;

/// One item as the templates show it.
pub struct ShownItem {
    pub category: &'static str,
    /// Whether this item opens a new category.
    pub first_of_category: bool,
    pub title: String,
    pub body_text: String,
    pub body_html: String,
}

mail_body! {
    /// The fields of a newsletter issue (`newsletter.txt`, `newsletter.html`).
    struct IssueBody<'a> ("newsletter.txt", "newsletter.html") {
        list: &'a str,
        title: &'a str,
        items: &'a [ShownItem],
        archive_url: &'a str,
        subscribe_url: &'a str,
        preferences_url: &'a str,
        organisation: &'a str,
    }
}

/// Markdown to HTML; HTML written in the Markdown is escaped.
pub fn markdown_html(markdown: &str) -> String {
    let parser =
        Parser::new_ext(markdown, Options::ENABLE_STRIKETHROUGH).map(|event| match event {
            Event::Html(text) | Event::InlineHtml(text) => Event::Text(text),
            other => other,
        });
    let mut out = String::new();
    html::push_html(&mut out, parser);
    clean_links(&out)
}

/// `html` with only web and mail links left clickable (`http`, `https`, `mailto`, and relative ones): a
/// `javascript:` or `data:` link in a newsletter item would run in the reader's browser on the public
/// archive and in the staff's view of the mail.
pub fn clean_links(html: &str) -> String {
    ammonia::Builder::default()
        .url_schemes(["http", "https", "mailto"].into())
        .clean(html)
        .to_string()
}

pub fn shown_items(items: &[Item]) -> Vec<ShownItem> {
    let mut previous = "";
    items
        .iter()
        .map(|item| {
            let first = item.category != previous;
            previous = &item.category;
            ShownItem {
                category: category_label(&item.category),
                first_of_category: first,
                title: item.title.clone(),
                body_text: item.body.trim().to_string(),
                body_html: markdown_html(&item.body),
            }
        })
        .collect()
}

/// A message's body as a web page shows it: the personal link placeholder becomes the page where anyone
/// asks for their own link by mail.
pub fn for_the_web(body: &str, public_url: &str) -> String {
    body.replace(
        &super::compose::preferences_link(public_url),
        &format!("{public_url}/preferences"),
    )
}

/// An issue as the public archive shows it: [`for_the_web`], without the mail's "Lire dans un navigateur"
/// line (the reader is in the browser), with relais' icon, a way back to the list of issues, and the page
/// as the document's `<main>`.
pub fn archived_page(body_html: &str, public_url: &str) -> String {
    let page = for_the_web(body_html, public_url);
    let page = match (
        page.find("<p class=\"muted\"><a href=\""),
        page.find("Lire dans un navigateur</a></p>"),
    ) {
        (Some(start), Some(end)) if start < end => {
            let end = end + "Lire dans un navigateur</a></p>".len();
            format!("{}{}", &page[..start], &page[end..])
        }
        _ => page,
    };
    // On the web the mail's page is the document's main landmark (what screen readers jump to).
    let page = match page.rfind("</div>\n</body>") {
        Some(end) => format!("{}</main>{}", &page[..end], &page[end + "</div>".len()..]),
        None => page,
    };
    page.replacen(
        "</head>",
        "<link rel=\"icon\" href=\"/favicon.svg\" type=\"image/svg+xml\">\n</head>",
        1,
    )
    .replacen(
        "<div class=\"page\">",
        "<main class=\"page\">\n<p class=\"muted\"><a href=\"/lettre/archives\">← Toutes les lettres</a></p>",
        1,
    )
}

/// An issue read from the store with its items, and its mail as every subscriber receives it: the one way
/// the staff page, the public archive, the scheduler and the benchmark render an issue. `None`: no such issue.
pub async fn render_issue(
    store: &crate::store::Store,
    settings: &crate::config::Settings,
    list: &MailingList,
    id: i64,
) -> anyhow::Result<Option<(Issue, Vec<Item>, NewMessage)>> {
    let Some((issue, items)) = store.issue(id).await? else {
        return Ok(None);
    };
    let message = issue_message(
        list,
        &issue,
        &items,
        &settings.server.public_url,
        &settings.mail.from_name,
    )?;
    Ok(Some((issue, items, message)))
}

/// The issue's mail, as every subscriber receives it.
pub fn issue_message(
    list: &MailingList,
    issue: &Issue,
    items: &[Item],
    public_url: &str,
    organisation: &str,
) -> Result<NewMessage, askama::Error> {
    let shown = shown_items(items);
    let archive_url = format!("{public_url}/lettre/archives/{}", issue.id);
    let subscribe_url = format!("{public_url}/abonnement");
    // Each copy gets its recipient's own link (see `compose::fill_placeholder`).
    let preferences_url = super::compose::preferences_link(public_url);
    let bodies = IssueBody {
        list: &list.name,
        title: &issue.title,
        items: &shown,
        archive_url: &archive_url,
        subscribe_url: &subscribe_url,
        preferences_url: &preferences_url,
        organisation,
    }
    .render_bodies()?;
    Ok(NewMessage {
        kind: MailKind::Newsletter,
        cause_kind: "newsletter_issue".into(),
        cause_id: Some(issue.id),
        subject: format!("{} : {}", list.name, issue.title),
        body_text: bodies.text,
        body_html: bodies.html,
        template_data: serde_json::json!({ "issue": issue.id }),
        auto_submitted: false,
        list: Some(ListHeaders {
            key: list.list_key.clone(),
            label: list.name.clone(),
            post: Some("NO".into()),
        }),
        ..Default::default()
    })
}

/// An issue in the monthly summary.
pub struct DigestEntry {
    pub title: String,
    pub date: String,
    pub url: String,
}

mail_body! {
    /// The fields of the newsletter's monthly summary (`newsletter_digest.txt`, `newsletter_digest.html`).
    struct SummaryBody<'a> ("newsletter_digest.txt", "newsletter_digest.html") {
        list: &'a str,
        period: &'a str,
        issues: &'a [DigestEntry],
        preferences_url: &'a str,
        organisation: &'a str,
    }
}

/// The monthly summary of `list` for subscribers who chose it: the issues sent in `period` (`2027-01`,
/// shown as `period_label`, "janvier 2027").
pub fn summary_message(
    list: &MailingList,
    period: &str,
    period_label: &str,
    issues: &[SentIssue],
    public_url: &str,
    organisation: &str,
) -> Result<NewMessage, askama::Error> {
    let entries: Vec<DigestEntry> = issues
        .iter()
        .map(|issue| DigestEntry {
            title: issue.title.clone(),
            date: crate::french::french_datetime(issue.sent_at),
            url: format!("{public_url}/lettre/archives/{}", issue.id),
        })
        .collect();
    let preferences_url = super::compose::preferences_link(public_url);
    let bodies = SummaryBody {
        list: &list.name,
        period: period_label,
        issues: &entries,
        preferences_url: &preferences_url,
        organisation,
    }
    .render_bodies()?;
    Ok(NewMessage {
        kind: MailKind::NewsletterDigest,
        cause_kind: "newsletter_digest".into(),
        cause_id: None,
        subject: format!("{} : le récapitulatif de {period_label}", list.name),
        body_html: bodies.html,
        body_text: bodies.text,
        template_data: serde_json::json!({ "period": period, "issues": issues.len() }),
        auto_submitted: false,
        list: Some(ListHeaders {
            key: list.list_key.clone(),
            label: list.name.clone(),
            post: Some("NO".into()),
        }),
        ..Default::default()
    })
}

#[cfg(test)]
mod tests {
    use super::markdown_html;

    #[test]
    fn markdown_becomes_html_and_raw_html_is_shown_as_text() {
        let html = markdown_html(
            "**Décret** du 1er juin : [texte](https://legifrance.example/1)\n\n<script>x</script>",
        );
        assert!(html.contains("<strong>Décret</strong>"), "{html}");
        assert!(
            html.contains(
                "<a href=\"https://legifrance.example/1\" rel=\"noopener noreferrer\">texte</a>"
            ),
            "{html}"
        );
        let links = markdown_html("[a](javascript:alert(1)) [b](data:text/html,x) [c](/lettre)");
        assert!(
            !links.contains("javascript:") && !links.contains("data:"),
            "{links}"
        );
        assert!(links.contains("href=\"/lettre\""), "{links}");
        assert!(!html.contains("<script>"), "{html}");
        assert!(html.contains("&lt;script&gt;"), "{html}");
    }
}
