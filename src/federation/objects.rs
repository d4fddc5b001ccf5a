//! The objects that travel: a public meeting as an `Event` (with Mobilizon's keys), a newsletter issue as
//! an `Article`, a practical sheet as a `Document`, a member collectivity as an `Organization` of the
//! membership facts; and the reverse, a partner's object read into the plain-text row relais keeps.
//! A partner's HTML is never kept: only its text.

use chrono::{DateTime, TimeZone, Utc};
use serde_json::{Map, Value, json};

use super::documents::{PUBLIC, context};
use super::urls::Urls;
use crate::clock::PARIS;
use crate::store::federation_objects::{ConsentingMember, RemoteMembership, RemoteObject};

/// An instant as ActivityStreams dates are written, in Paris time with its offset.
pub fn paris_time(millis: i64) -> String {
    Utc.timestamp_millis_opt(millis)
        .single()
        .unwrap_or_default()
        .with_timezone(&PARIS)
        .to_rfc3339()
}

/// What a public meeting shows to partners.
#[derive(Debug, Clone)]
pub struct EventSource {
    pub uuid: String,
    pub title: String,
    pub starts_at: i64,
    pub ends_at: i64,
    pub video_url: String,
    /// Agenda items: title, presenter, description.
    pub agenda: Vec<(String, String, String)>,
    /// Public sheets of the agenda: name and URL.
    pub sheets: Vec<(String, String)>,
    pub participant_count: i64,
    pub published_at: i64,
    pub updated_at: i64,
}

/// The `Event` of a public meeting (FEDERATION.md §2.1: the keys Mobilizon reads).
pub fn event(urls: &Urls, source: &EventSource) -> Value {
    let id = urls.object("event", &source.uuid);
    let mut content = String::from("<p>Ordre du jour :</p><ol>");
    for (title, presenter, description) in &source.agenda {
        content.push_str("<li>");
        content.push_str(&escape(title));
        if !presenter.is_empty() {
            content.push_str(&format!(" ({})", escape(presenter)));
        }
        if !description.is_empty() {
            content.push_str(&format!("<br>{}", escape(description)));
        }
        content.push_str("</li>");
    }
    content.push_str("</ol>");
    if source.agenda.is_empty() {
        content = "<p>Ordre du jour à venir.</p>".to_string();
    }
    let mut attachment = Vec::new();
    if !source.video_url.is_empty() {
        attachment.push(json!({
            "type": "Link", "href": source.video_url, "mediaType": "text/html", "name": "Website",
        }));
    }
    for (name, url) in &source.sheets {
        attachment.push(json!({"type": "Document", "name": name, "url": url}));
    }
    let mut event = json!({
        "@context": context(),
        "type": "Event",
        "id": id,
        "url": id,
        "uuid": source.uuid,
        "attributedTo": urls.group(),
        "actor": urls.group(),
        "name": source.title,
        "content": content,
        "mediaType": "text/html",
        "startTime": paris_time(source.starts_at),
        "endTime": paris_time(source.ends_at),
        "timezone": "Europe/Paris",
        "status": "CONFIRMED",
        "ical:status": "CONFIRMED",
        "joinMode": "free",
        "participantCount": source.participant_count,
        "anonymousParticipationEnabled": false,
        "repliesModerationOption": "closed",
        "commentsEnabled": false,
        "isOnline": !source.video_url.is_empty(),
        "draft": false,
        "category": "MEETING",
        "inLanguage": "fr",
        "published": paris_time(source.published_at),
        "updated": paris_time(source.updated_at),
        "to": [PUBLIC],
        "cc": [urls.group_part("followers")],
        "attachment": attachment,
    });
    event["summary"] = Value::String(format!(
        "Réunion en visioconférence, {}",
        crate::french::french_datetime(source.starts_at)
    ));
    event
}

/// What a public newsletter issue shows.
#[derive(Debug, Clone)]
pub struct ArticleSource {
    pub uuid: String,
    pub title: String,
    /// HTML of the items (relais' own Markdown rendering).
    pub content_html: String,
    pub summary: String,
    pub archive_url: String,
    pub published_at: i64,
    pub updated_at: i64,
}

/// The `Article` of a newsletter issue (Mobilizon takes an Article with `actor` and `attributedTo` a Group).
pub fn article(urls: &Urls, source: &ArticleSource) -> Value {
    json!({
        "@context": context(),
        "type": "Article",
        "id": urls.object("article", &source.uuid),
        "url": source.archive_url,
        "actor": urls.group(),
        "attributedTo": urls.group(),
        "name": source.title,
        "summary": source.summary,
        "content": source.content_html,
        "mediaType": "text/html",
        "published": paris_time(source.published_at),
        "updated": paris_time(source.updated_at),
        "to": [PUBLIC],
        "cc": [urls.group_part("followers")],
        "attachment": [],
        "draft": false,
    })
}

/// What a public sheet shows.
#[derive(Debug, Clone)]
pub struct DocumentSource {
    pub uuid: String,
    pub title: String,
    pub description: String,
    /// Where the file (or the page) is.
    pub url: String,
    pub published_at: i64,
    pub updated_at: i64,
}

/// The `Document` of a practical sheet, its file linked.
pub fn document(urls: &Urls, source: &DocumentSource) -> Value {
    json!({
        "@context": context(),
        "type": "Document",
        "id": urls.object("document", &source.uuid),
        "url": source.url,
        "actor": urls.group(),
        "attributedTo": urls.group(),
        "name": source.title,
        "summary": source.description,
        "content": format!("<p>{}</p>", escape(&source.description)),
        "mediaType": "text/html",
        "attachment": [{"type": "Link", "href": source.url, "name": source.title}],
        "published": paris_time(source.published_at),
        "updated": paris_time(source.updated_at),
        "to": [PUBLIC],
        "cc": [urls.group_part("followers")],
    })
}

/// The scheme of a collectivity's official code: the INSEE code (COG) for communes, départements and
/// regions, the SIREN for groupings of communes.
pub fn code_scheme(collectivity_kind: Option<&str>) -> &'static str {
    match collectivity_kind {
        Some("commune") | Some("departement") | Some("region") => "FR-INSEE-COG",
        _ => "FR-SIREN",
    }
}

/// A member collectivity in the membership facts (`Organization`, schema.org identifiers).
pub fn member_item(urls: &Urls, member: &ConsentingMember) -> Value {
    let code = member.official_code.clone().unwrap_or_default();
    let key = if code.is_empty() {
        format!("o{}", member.organisation_id)
    } else {
        code.clone()
    };
    let mut item = json!({
        "type": "Organization",
        "id": urls.member(&key),
        "name": member.name,
        "memberOf": urls.group(),
    });
    if !code.is_empty() {
        item["identifier"] = json!([{
            "type": "PropertyValue",
            "propertyID": code_scheme(member.collectivity_kind.as_deref()),
            "value": code,
        }]);
    }
    if !member.joined_on.is_empty() {
        item["startTime"] = Value::String(member.joined_on.clone());
    }
    item
}

/// Reads one membership fact a partner published; `None` when it is not an `Organization` with an id and name.
pub fn read_member(partner_id: i64, network_name: &str, item: &Value) -> Option<RemoteMembership> {
    if item.get("type")?.as_str()? != "Organization" {
        return None;
    }
    let identifier = item
        .get("identifier")
        .and_then(|v| match v {
            Value::Array(list) => list.first().cloned(),
            other => Some(other.clone()),
        })
        .unwrap_or(Value::Null);
    Some(RemoteMembership {
        partner_id,
        item_url: item.get("id")?.as_str()?.to_string(),
        network_name: network_name.to_string(),
        official_code: text(identifier.get("value")).chars().take(20).collect(),
        code_scheme: text(identifier.get("propertyID"))
            .chars()
            .take(20)
            .collect(),
        name: limited(&text(item.get("name")), 200),
        since: text(item.get("startTime")).chars().take(10).collect(),
    })
}

/// Reads a partner's `Event`, `Article`, `Document` or `Page` into the row relais keeps; `None` for other
/// types or one without an id or a name. Text only: HTML is reduced to its text, lengths are capped.
pub fn read_remote(partner_id: i64, object: &Value) -> Option<RemoteObject> {
    let kind = match object.get("type")?.as_str()? {
        "Event" => "event",
        "Article" | "Note" => "article",
        "Document" | "Page" => "document",
        _ => return None,
    };
    let name = limited(&plain(&text(object.get("name"))), 300);
    if name.is_empty() {
        return None;
    }
    let status = text(object.get("status")).to_ascii_uppercase();
    let ical_status = text(object.get("ical:status")).to_ascii_uppercase();
    let mut online_url = String::new();
    let mut attachment_url = String::new();
    let mut attachment_name = String::new();
    for attached in list(object.get("attachment")) {
        let href = first_url(&attached);
        if href.is_empty() {
            continue;
        }
        if text(attached.get("name")) == "Website" && online_url.is_empty() {
            online_url = href;
        } else if attachment_url.is_empty() {
            attachment_name = limited(&plain(&text(attached.get("name"))), 200);
            attachment_url = href;
        }
    }
    let page_url = match object.get("url") {
        Some(url) => first_url(url),
        None => String::new(),
    };
    Some(RemoteObject {
        partner_id,
        object_url: object.get("id")?.as_str()?.to_string(),
        kind: kind.to_string(),
        attributed_to: first_url(
            object
                .get("attributedTo")
                .or_else(|| object.get("actor"))
                .unwrap_or(&Value::Null),
        ),
        name,
        summary: limited(&plain(&text(object.get("summary"))), 2_000),
        content: limited(&plain(&text(object.get("content"))), 20_000),
        page_url: web_url(&page_url),
        starts_at: date(object.get("startTime")),
        ends_at: date(object.get("endTime")),
        time_zone: limited(&text(object.get("timezone")), 64),
        online_url: web_url(&online_url),
        cancelled: status == "CANCELLED" || ical_status == "CANCELLED",
        attachment_url: web_url(&attachment_url),
        attachment_name,
        ..RemoteObject::default()
    })
}

/// The text of an HTML fragment, one line per block, without markup.
pub fn plain(html: &str) -> String {
    if !html.contains('<') && !html.contains('&') {
        return html.trim().to_string();
    }
    mail_parser::decoders::html::html_to_text(html)
        .lines()
        .map(str::trim)
        .collect::<Vec<_>>()
        .join("\n")
        .trim()
        .to_string()
}

/// A JSON string's text, or empty.
pub fn text(value: Option<&Value>) -> String {
    value
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

/// The items of a value that may be one object or an array.
pub fn list(value: Option<&Value>) -> Vec<Value> {
    match value {
        Some(Value::Array(items)) => items.clone(),
        Some(Value::Null) | None => Vec::new(),
        Some(other) => vec![other.clone()],
    }
}

/// An id or URL given as a string, an object with `id`/`href`/`url`, or a list of them: the first.
pub fn first_url(value: &Value) -> String {
    match value {
        Value::String(url) => url.clone(),
        Value::Array(items) => items.first().map(first_url).unwrap_or_default(),
        Value::Object(map) => ["href", "id", "url"]
            .iter()
            .find_map(|key| map.get(*key).map(first_url))
            .unwrap_or_default(),
        _ => String::new(),
    }
}

/// Only web addresses are kept as links (no `javascript:`).
fn web_url(url: &str) -> String {
    if (url.starts_with("https://") || url.starts_with("http://")) && url.len() <= 2_000 {
        url.to_string()
    } else {
        String::new()
    }
}

fn date(value: Option<&Value>) -> Option<i64> {
    let text = value?.as_str()?;
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|at| at.timestamp_millis())
}

fn limited(text: &str, max_chars: usize) -> String {
    text.chars().take(max_chars).collect()
}

/// Text made safe inside HTML.
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The JSON without its `@context`: what is hashed to tell whether an object changed, and what is embedded
/// in an activity.
pub fn without_context(object: &Value) -> Value {
    let mut object = object.clone();
    if let Value::Object(map) = &mut object {
        map.remove("@context");
    }
    object
}

/// A hash of the parts of an object partners see, to send an Update only when one changed.
pub fn content_hash(object: &Value) -> String {
    use sha2::{Digest, Sha256};
    let mut stable = without_context(object);
    if let Value::Object(map) = &mut stable {
        // The dates of publication and update follow from the change; they do not make one.
        map.remove("updated");
        map.remove("published");
    }
    hex::encode(&Sha256::digest(stable.to_string().as_bytes())[..16])
}

/// An empty JSON object, for building.
pub fn object() -> Map<String, Value> {
    Map::new()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn urls() -> Urls {
        Urls::new("https://club.example", "club").unwrap()
    }

    #[test]
    fn an_event_carries_mobilizons_keys_and_no_null() {
        let source = EventSource {
            uuid: "u1".into(),
            title: "Club : <écoles>".into(),
            starts_at: 1_781_182_800_000,
            ends_at: 1_781_190_000_000,
            video_url: "https://visio.example/club".into(),
            agenda: vec![("Tour de table".into(), "".into(), "".into())],
            sheets: vec![(
                "Fiche".into(),
                "https://club.example/ressources/1/fichier".into(),
            )],
            participant_count: 2,
            published_at: 1_781_000_000_000,
            updated_at: 1_781_000_000_000,
        };
        let event = event(&urls(), &source);
        for key in [
            "name",
            "startTime",
            "endTime",
            "timezone",
            "joinMode",
            "status",
            "ical:status",
            "attributedTo",
            "participantCount",
            "isOnline",
            "anonymousParticipationEnabled",
            "repliesModerationOption",
            "uuid",
        ] {
            assert!(event.get(key).is_some(), "{key} missing");
        }
        assert!(!event.to_string().contains("null"), "{event}");
        assert_eq!(event["startTime"], "2026-06-11T15:00:00+02:00");
        assert!(event["content"].as_str().unwrap().contains("Tour de table"));
        assert_eq!(event["attachment"][0]["name"], "Website");
    }

    #[test]
    fn a_partner_event_is_read_as_text_and_unsafe_links_are_dropped() {
        let json = json!({
            "type": "Event", "id": "https://cglu.example/events/9", "name": "Commission <b>inclusion</b>",
            "content": "<p>Bonjour<script>alert(1)</script></p>", "startTime": "2026-06-11T14:00:00+02:00",
            "attributedTo": "https://cglu.example/g/cglu", "status": "CANCELLED",
            "attachment": [{"type": "Link", "name": "Website", "href": "javascript:alert(1)"},
                           {"type": "Document", "name": "Fiche", "url": "https://cglu.example/f.pdf"}],
        });
        let remote = read_remote(3, &json).unwrap();
        assert_eq!(remote.kind, "event");
        assert!(!remote.name.contains('<'), "{}", remote.name);
        assert!(!remote.content.contains('<'), "{}", remote.content);
        assert!(remote.cancelled);
        assert_eq!(remote.online_url, "");
        assert_eq!(remote.attachment_url, "https://cglu.example/f.pdf");
        assert_eq!(remote.starts_at, Some(1_781_179_200_000));
        assert!(read_remote(3, &json!({"type": "Note"})).is_none());
        assert!(read_remote(3, &json!({"type": "Person", "id": "x", "name": "y"})).is_none());
    }

    #[test]
    fn the_hash_ignores_dates_but_not_content() {
        let a = json!({"name": "x", "updated": "1"});
        let b = json!({"name": "x", "updated": "2"});
        let c = json!({"name": "y", "updated": "1"});
        assert_eq!(content_hash(&a), content_hash(&b));
        assert_ne!(content_hash(&a), content_hash(&c));
    }
}
