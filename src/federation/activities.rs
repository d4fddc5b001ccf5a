//! The activities relais sends, built in one place: Follow and its answers, Create/Update/Delete of a
//! published object, Join and Leave of a partner's event and the answers to theirs, Add and Remove of a
//! membership fact. Each carries the `@context`; ids are URLs under `/activities/`.

use serde_json::{Value, json};

use super::documents::{PUBLIC, context};
use super::objects::without_context;
use super::urls::Urls;

/// A new activity id of `kind` under this instance.
pub fn new_id(urls: &Urls, kind: &str) -> String {
    urls.activity(kind, &uuid::Uuid::now_v7().to_string())
}

/// The Group follows a partner's actor.
pub fn follow(urls: &Urls, id: &str, partner_actor: &str) -> Value {
    json!({
        "@context": context(),
        "type": "Follow",
        "id": id,
        "actor": urls.group(),
        "object": partner_actor,
        "to": [partner_actor],
        "cc": [PUBLIC],
    })
}

/// `Accept` or `Reject` of a partner's activity (a Follow, a Join), which is embedded as Mobilizon expects.
pub fn answer(urls: &Urls, kind: &str, actor: &str, answered: &Value, to: &str) -> Value {
    let answered_type = answered["type"]
        .as_str()
        .unwrap_or("activity")
        .to_ascii_lowercase();
    json!({
        "@context": context(),
        "type": kind,
        "id": new_id(urls, &format!("{}-{answered_type}", kind.to_ascii_lowercase())),
        "actor": actor,
        "object": without_context(answered),
        "to": [to],
        "cc": [],
    })
}

/// `Create`, `Update` or `Delete` of one of relais' objects, to the Group's followers. The id is made from
/// the object's uuid and `version` (what was sent and when), so each sending has its own.
pub fn about_object(urls: &Urls, kind: &str, object: &Value, version: &str) -> Value {
    let object_id = object["id"].as_str().unwrap_or_default();
    let uuid = object_id.rsplit('/').next().unwrap_or_default();
    let carried = if kind == "Delete" {
        json!({"type": "Tombstone", "id": object_id, "formerType": object["type"]})
    } else {
        without_context(object)
    };
    json!({
        "@context": context(),
        "type": kind,
        "id": urls.activity(&kind.to_ascii_lowercase(), &format!("{uuid}-{version}")),
        "actor": urls.group(),
        "object": carried,
        "to": [PUBLIC],
        "cc": [urls.group_part("followers")],
    })
}

/// relais' Group joins a partner's event; `message` says who will come (names of the participants, not
/// their addresses).
pub fn join(urls: &Urls, id: &str, event_url: &str, organiser: &str, message: &str) -> Value {
    json!({
        "@context": context(),
        "type": "Join",
        "id": id,
        "actor": urls.group(),
        "object": event_url,
        "participationMessage": message,
        "to": [organiser],
        "cc": [],
    })
}

/// relais' Group leaves a partner's event it joined.
pub fn leave(urls: &Urls, event_url: &str, organiser: &str) -> Value {
    json!({
        "@context": context(),
        "type": "Leave",
        "id": new_id(urls, "leave"),
        "actor": urls.group(),
        "object": event_url,
        "to": [organiser],
        "cc": [],
    })
}

/// `Add` or `Remove` of a member collectivity in the membership facts.
pub fn membership(urls: &Urls, kind: &str, item: &Value, version: &str) -> Value {
    let item_id = item["id"].as_str().unwrap_or_default();
    let key = item_id.rsplit('/').next().unwrap_or_default();
    json!({
        "@context": context(),
        "type": kind,
        "id": urls.activity(&kind.to_ascii_lowercase(), &format!("membre-{key}-{version}")),
        "actor": urls.group(),
        "object": item,
        "target": urls.group_part("memberships"),
        "to": [urls.group_part("followers")],
        "cc": [],
    })
}
