//! The addresses relais publishes under `server.public_url`: its two actors, their collections, the
//! objects it published and the activities it sent. They are ids: once given out they must not change,
//! so they are made here only.

use url::Url;

/// Where each federated thing of this instance lives.
#[derive(Debug, Clone)]
pub struct Urls {
    /// `server.public_url` without its trailing slash.
    base: String,
    /// `host[:port]` of the public URL, lower case: what partners know this instance by.
    host: String,
    group_name: String,
}

impl Urls {
    pub fn new(public_url: &str, group_name: &str) -> anyhow::Result<Urls> {
        let parsed = Url::parse(public_url)?;
        let host = host_of(&parsed).ok_or_else(|| anyhow::anyhow!("{public_url} has no host"))?;
        Ok(Urls {
            base: public_url.trim_end_matches('/').to_string(),
            host,
            group_name: group_name.to_string(),
        })
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    /// `host[:port]`, as in handles (`club@host`).
    pub fn host(&self) -> &str {
        &self.host
    }

    pub fn group_name(&self) -> &str {
        &self.group_name
    }

    /// The network's `Group` actor.
    pub fn group(&self) -> String {
        format!("{}/g/{}", self.base, self.group_name)
    }

    pub fn group_key_id(&self) -> String {
        format!("{}#main-key", self.group())
    }

    /// One of the Group's collections (`outbox`, `followers`, `memberships`…) or its own inbox.
    pub fn group_part(&self, part: &str) -> String {
        format!("{}/{part}", self.group())
    }

    /// The instance's `Application` actor (Mobilizon's "relay").
    pub fn application(&self) -> String {
        format!("{}/relay", self.base)
    }

    pub fn application_key_id(&self) -> String {
        format!("{}#main-key", self.application())
    }

    /// The shared inbox both actors receive at.
    pub fn shared_inbox(&self) -> String {
        format!("{}/inbox", self.base)
    }

    /// A published object: `event`, `article` or `document`.
    pub fn object(&self, kind: &str, uuid: &str) -> String {
        let folder = match kind {
            "event" => "events",
            "article" => "articles",
            _ => "documents",
        };
        format!("{}/{folder}/{uuid}", self.base)
    }

    /// An activity relais sent (`follow`, `accept`, `create`…); `key` makes it unique.
    pub fn activity(&self, kind: &str, key: &str) -> String {
        format!("{}/activities/{kind}/{key}", self.base)
    }

    /// A member collectivity in the membership facts, by its official code.
    pub fn member(&self, code: &str) -> String {
        format!("{}/collectivites/{code}", self.group())
    }

    /// Any path of the instance (`/lettre/archives/3`).
    pub fn page(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

/// `host[:port]` of a URL, lower case, the port only when not the scheme's default: how the allow-list
/// names a partner.
pub fn host_of(url: &Url) -> Option<String> {
    let host = url.host_str()?.to_ascii_lowercase();
    Some(match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host,
    })
}

/// [`host_of`] for a URL given as text; `None` when it does not parse.
pub fn host_of_str(url: &str) -> Option<String> {
    Url::parse(url).ok().as_ref().and_then(host_of)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_hang_from_the_public_url_and_hosts_keep_a_non_default_port() {
        let urls = Urls::new("https://Club.Example/", "club").unwrap();
        assert_eq!(urls.group(), "https://Club.Example/g/club");
        assert_eq!(urls.host(), "club.example");
        assert_eq!(urls.group_key_id(), "https://Club.Example/g/club#main-key");
        assert_eq!(urls.object("event", "u1"), "https://Club.Example/events/u1");
        assert_eq!(
            host_of_str("http://cglu.test:8701/inbox").unwrap(),
            "cglu.test:8701"
        );
        assert_eq!(
            host_of_str("https://cglu.test:443/inbox").unwrap(),
            "cglu.test"
        );
        assert!(host_of_str("not a url").is_none());
    }
}
