//! The JSON documents that describe this instance to peers: the JSON-LD context, the `Group` and
//! `Application` actors, WebFinger, NodeInfo 2.1 and host-meta, and collections. Field names follow
//! ActivityStreams 2.0 and Mobilizon's extensions (FEDERATION.md §2), so a Mobilizon instance can follow
//! the club's Group; absent values are left out, never sent as `null` (Mobilizon fails on a null `status`).

use serde_json::{Value, json};

use super::urls::Urls;

/// The ActivityStreams public address.
pub const PUBLIC: &str = "https://www.w3.org/ns/activitystreams#Public";

/// relais' own terms (membership facts), under a namespace of the project.
pub const RELAIS_NS: &str = "https://relais.romeurope.org/ns#";

/// The `@context` of every document relais serves: ActivityStreams, the security vocabulary (public keys),
/// and the terms Mobilizon declares for events and groups, plus relais' own.
pub fn context() -> Value {
    json!([
        "https://www.w3.org/ns/activitystreams",
        "https://w3id.org/security/v1",
        {
            "sc": "http://schema.org#",
            "ical": "http://www.w3.org/2002/12/cal/ical#",
            "mz": "https://joinmobilizon.org/ns#",
            "pt": "https://joinpeertube.org/ns#",
            "toot": "http://joinmastodon.org/ns#",
            "relais": RELAIS_NS,
            "joinMode": {"@id": "mz:joinMode", "@type": "mz:joinModeType"},
            "participantCount": {"@id": "mz:participantCount", "@type": "sc:Integer"},
            "anonymousParticipationEnabled": {"@id": "mz:anonymousParticipationEnabled", "@type": "sc:Boolean"},
            "repliesModerationOption": {"@id": "mz:repliesModerationOption", "@type": "mz:repliesModerationOptionType"},
            "commentsEnabled": {"@id": "pt:commentsEnabled", "@type": "sc:Boolean"},
            "isOnline": {"@id": "mz:isOnline", "@type": "sc:Boolean"},
            "timezone": {"@id": "mz:timezone", "@type": "sc:Text"},
            "participationMessage": {"@id": "mz:participationMessage", "@type": "sc:Text"},
            "maximumAttendeeCapacity": "sc:maximumAttendeeCapacity",
            "remainingAttendeeCapacity": "sc:remainingAttendeeCapacity",
            "location": {"@id": "sc:location", "@type": "sc:Place"},
            "PropertyValue": "sc:PropertyValue",
            "value": "sc:value",
            "propertyID": "sc:propertyID",
            "identifier": "sc:identifier",
            "Organization": "sc:Organization",
            "memberOf": {"@id": "sc:memberOf", "@type": "@id"},
            "discoverable": "toot:discoverable",
            "manuallyApprovesFollowers": "as:manuallyApprovesFollowers",
            "openness": {"@id": "mz:openness", "@type": "@id"},
            "members": {"@id": "mz:members", "@type": "@id"},
            "resources": {"@id": "mz:resources", "@type": "@id"},
            "posts": {"@id": "mz:posts", "@type": "@id"},
            "todos": {"@id": "mz:todos", "@type": "@id"},
            "discussions": {"@id": "mz:discussions", "@type": "@id"},
            "events": {"@id": "mz:events", "@type": "@id"},
            "memberships": {"@id": "relais:memberships", "@type": "@id"},
        }
    ])
}

/// The Mobilizon collections a Group must name (a missing one aborts Mobilizon's refresh of the group),
/// with relais' membership facts.
pub const GROUP_COLLECTIONS: [&str; 10] = [
    "outbox",
    "followers",
    "following",
    "members",
    "memberships",
    "events",
    "posts",
    "resources",
    "todos",
    "discussions",
];

/// The network's `Group` actor.
pub fn group_actor(urls: &Urls, name: &str, summary: &str, public_key_pem: &str) -> Value {
    let group = urls.group();
    json!({
        "@context": context(),
        "type": "Group",
        "id": group,
        "preferredUsername": urls.group_name(),
        "name": name,
        "summary": summary,
        "url": group,
        "inbox": urls.group_part("inbox"),
        "outbox": urls.group_part("outbox"),
        "followers": urls.group_part("followers"),
        "following": urls.group_part("following"),
        "members": urls.group_part("members"),
        "memberships": urls.group_part("memberships"),
        "endpoints": {
            "sharedInbox": urls.shared_inbox(),
            "members": urls.group_part("members"),
            "resources": urls.group_part("resources"),
            "posts": urls.group_part("posts"),
            "todos": urls.group_part("todos"),
            "discussions": urls.group_part("discussions"),
            "events": urls.group_part("events"),
        },
        "discoverable": true,
        "manuallyApprovesFollowers": true,
        "openness": "invite_only",
        "publicKey": {
            "id": urls.group_key_id(),
            "owner": group,
            "publicKeyPem": public_key_pem,
        },
        "attachment": [{"type": "PropertyValue", "name": "Site", "value": urls.page("/")}],
    })
}

/// The instance's `Application` actor, which Mobilizon instances follow to subscribe to a whole instance.
pub fn application_actor(urls: &Urls, name: &str, public_key_pem: &str) -> Value {
    let application = urls.application();
    json!({
        "@context": context(),
        "type": "Application",
        "id": application,
        "preferredUsername": "relay",
        "name": name,
        "summary": format!("Instance relais de {name}"),
        "url": application,
        "inbox": urls.shared_inbox(),
        "outbox": format!("{application}/outbox"),
        "followers": format!("{application}/followers"),
        "endpoints": {"sharedInbox": urls.shared_inbox()},
        "manuallyApprovesFollowers": true,
        "publicKey": {
            "id": urls.application_key_id(),
            "owner": application,
            "publicKeyPem": public_key_pem,
        },
    })
}

/// The WebFinger answer for `acct:<group>@host` or `acct:relay@host`; `None` for anyone else.
pub fn webfinger(urls: &Urls, resource: &str) -> Option<Value> {
    // An actor's URL is also a resource WebFinger may be asked for.
    let actors = [(urls.group(), "Group"), (urls.application(), "Application")];
    if let Some((id, kind)) = actors.iter().find(|(id, _)| id == resource) {
        return Some(finger(id, kind, resource));
    }
    let account = resource.strip_prefix("acct:").unwrap_or(resource);
    let (user, host) = account.rsplit_once('@')?;
    if !host.eq_ignore_ascii_case(urls.host()) {
        return None;
    }
    let (id, kind) = if user == urls.group_name() {
        (urls.group(), "Group")
    } else if user == "relay" {
        (urls.application(), "Application")
    } else {
        return None;
    };
    Some(finger(&id, kind, &format!("acct:{user}@{}", urls.host())))
}

fn finger(id: &str, kind: &str, subject: &str) -> Value {
    json!({
        "subject": subject,
        "aliases": [id],
        "links": [
            {"rel": "http://webfinger.net/rel/profile-page", "type": "text/html", "href": id},
            {
                "rel": "self",
                "type": "application/activity+json",
                "href": id,
                "properties": {"https://www.w3.org/ns/activitystreams#type": kind},
            },
        ],
    })
}

/// `/.well-known/nodeinfo`: where NodeInfo 2.1 is, and the instance actor (FEP-2677).
pub fn nodeinfo_links(urls: &Urls) -> Value {
    json!({
        "links": [
            {"rel": "http://nodeinfo.diaspora.software/ns/schema/2.1", "href": urls.page("/nodeinfo/2.1")},
            {"rel": "https://www.w3.org/ns/activitystreams#Application", "href": urls.application()},
        ]
    })
}

/// NodeInfo 2.1: the software and its protocol. relais has no open registration and no public users.
pub fn nodeinfo(name: &str, local_posts: i64) -> Value {
    json!({
        "version": "2.1",
        "software": {
            "name": "relais",
            "version": env!("CARGO_PKG_VERSION"),
            "repository": "https://relais.romeurope.org/source",
        },
        "protocols": ["activitypub"],
        "services": {"inbound": [], "outbound": ["atom1.0"]},
        "openRegistrations": false,
        "usage": {"users": {"total": 1, "activeMonth": 1, "activeHalfyear": 1}, "localPosts": local_posts},
        "metadata": {"nodeName": name},
    })
}

/// `/.well-known/host-meta` (XRD), which older software reads to find WebFinger.
pub fn host_meta(urls: &Urls) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <XRD xmlns=\"http://docs.oasis-open.org/ns/xri/xrd-1.0\">\n  \
         <Link rel=\"lrdd\" template=\"{}/.well-known/webfinger?resource={{uri}}\"/>\n</XRD>\n",
        urls.base()
    )
}

/// An `OrderedCollection` with all its items inline (relais' collections are small).
pub fn collection(id: &str, attributed_to: &str, items: Vec<Value>) -> Value {
    json!({
        "@context": context(),
        "type": "OrderedCollection",
        "id": id,
        "attributedTo": attributed_to,
        "totalItems": items.len(),
        "orderedItems": items,
    })
}

/// What answers at a withdrawn object's URL, with 410 Gone.
pub fn tombstone(id: &str, kind: &str, deleted: &str) -> Value {
    json!({
        "@context": context(),
        "type": "Tombstone",
        "id": id,
        "formerType": kind,
        "deleted": deleted,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn webfinger_answers_for_the_group_and_the_instance_only() {
        let urls = Urls::new("https://club.example", "club").unwrap();
        let group = webfinger(&urls, "acct:club@club.example").unwrap();
        assert_eq!(group["links"][1]["href"], "https://club.example/g/club");
        assert_eq!(
            group["links"][1]["properties"]["https://www.w3.org/ns/activitystreams#type"],
            "Group"
        );
        let relay = webfinger(&urls, "acct:relay@CLUB.example").unwrap();
        assert_eq!(relay["links"][1]["href"], "https://club.example/relay");
        assert!(
            webfinger(&urls, "acct:marie@club.example").is_none(),
            "no person is found"
        );
        assert!(webfinger(&urls, "acct:club@autre.example").is_none());
        assert!(
            webfinger(&urls, "https://club.example/g/club").is_some(),
            "by the actor's URL too"
        );
    }

    #[test]
    fn the_group_names_every_collection_mobilizon_refreshes() {
        let urls = Urls::new("https://club.example", "club").unwrap();
        let group = group_actor(&urls, "Club", "Réseau", "PEM");
        for part in [
            "members",
            "resources",
            "posts",
            "todos",
            "discussions",
            "events",
        ] {
            assert!(group["endpoints"][part].is_string(), "{part}");
        }
        assert_eq!(group["publicKey"]["owner"], group["id"]);
        assert!(!group.to_string().contains("null"));
    }
}
