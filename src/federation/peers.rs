//! What staff do with partners: follow one by handle (`club@cglu.example`) or actor URL (which puts its host
//! on the allow-list), accept or refuse a partner's follow request, take a partner off the list, and join or
//! leave a partner's event for the network. Also the fetching of partners' actors (their keys) and of their
//! membership facts, always through the guarded client, signed by the Group.

use serde_json::Value;
use url::Url;

use super::activities;
use super::objects::{first_url, list, read_member, text};
use super::service::{Federation, Signer};
use super::urls::host_of;
use crate::store::federation::{Partner, RemoteActor};

/// Why a staff action on partners failed, in French.
#[derive(Debug, thiserror::Error)]
pub enum PeerError {
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Unreachable(String),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<crate::store::StoreError> for PeerError {
    fn from(error: crate::store::StoreError) -> Self {
        PeerError::Internal(error.into())
    }
}

impl Federation {
    /// The actor URL a handle (`club@host`, `@club@host`, `acct:club@host`) or a URL names; a handle is
    /// resolved by WebFinger on its host.
    pub async fn resolve_actor_url(&self, handle_or_url: &str) -> Result<Url, PeerError> {
        let given = handle_or_url.trim();
        if given.starts_with("https://") || given.starts_with("http://") {
            return Url::parse(given)
                .map_err(|e| PeerError::Invalid(format!("adresse illisible : {e}")));
        }
        let account = given.trim_start_matches("acct:").trim_start_matches('@');
        let Some((user, host)) = account.rsplit_once('@') else {
            return Err(PeerError::Invalid(
                "indiquez un identifiant comme club@reseau.example ou l'adresse de l'acteur".into(),
            ));
        };
        if user.is_empty() || host.is_empty() || host.contains('/') {
            return Err(PeerError::Invalid(format!(
                "identifiant illisible : {given}"
            )));
        }
        let scheme = self.scheme_for(host);
        let finger = Url::parse_with_params(
            &format!("{scheme}://{host}/.well-known/webfinger"),
            &[("resource", format!("acct:{user}@{host}"))],
        )
        .map_err(|e| PeerError::Invalid(format!("identifiant illisible : {e}")))?;
        let answer = self
            .client()
            .fetch(&finger, None)
            .await
            .map_err(|e| PeerError::Unreachable(format!("WebFinger : {e}")))?
            .json()
            .map_err(|e| PeerError::Unreachable(e.to_string()))?;
        let href = list(answer.get("links"))
            .into_iter()
            .find(|link| text(link.get("rel")) == "self" && text(link.get("type")).contains("json"))
            .map(|link| text(link.get("href")))
            .unwrap_or_default();
        Url::parse(&href).map_err(|_| {
            PeerError::Unreachable(format!(
                "{given} : WebFinger ne donne pas d'acteur ActivityPub"
            ))
        })
    }

    /// `http` for hosts the settings resolve to a fixed address (tests on one machine), `https` otherwise.
    fn scheme_for(&self, host: &str) -> &'static str {
        let name = host.rsplit_once(':').map(|(name, _)| name).unwrap_or(host);
        if self
            .settings()
            .federation
            .resolve
            .contains_key(&name.to_ascii_lowercase())
        {
            "http"
        } else {
            "https"
        }
    }

    /// Fetches an actor (signed by the Group) and keeps it with its key, for the partner of its host.
    pub async fn fetch_actor(&self, url: &Url, partner_id: i64) -> Result<RemoteActor, PeerError> {
        let (key, key_id) = self.signer(Signer::Group).await?;
        let document = self
            .client()
            .fetch(url, Some((key, &key_id)))
            .await
            .map_err(|e| PeerError::Unreachable(e.to_string()))?
            .json()
            .map_err(|e| PeerError::Unreachable(e.to_string()))?;
        let actor = read_actor(&document, partner_id, self.clock().now_millis())
            .map_err(PeerError::Unreachable)?;
        if host_of_str(&actor.url) != host_of(url) {
            return Err(PeerError::Unreachable(format!(
                "{url} se présente comme {}, d'un autre hôte",
                actor.url
            )));
        }
        self.store().save_remote_actor(&actor).await?;
        Ok(actor)
    }

    /// Follows a partner: its host goes on the allow-list, its actor is fetched, and a Follow is queued.
    pub async fn follow(&self, handle_or_url: &str) -> Result<Partner, PeerError> {
        let url = self.resolve_actor_url(handle_or_url).await?;
        let host =
            host_of(&url).ok_or_else(|| PeerError::Invalid(format!("{url} : pas d'hôte")))?;
        if host == self.urls().host() {
            return Err(PeerError::Invalid("c'est l'adresse de ce réseau-ci".into()));
        }
        self.client()
            .check_url(&url)
            .map_err(|e| PeerError::Invalid(e.to_string()))?;
        let now = self.clock().now_millis();
        let partner_id = self.store().allow_partner(&host, "", "", "", now).await?;
        let actor = self.fetch_actor(&url, partner_id).await?;
        let inbox = if actor.shared_inbox_url.is_empty() {
            actor.inbox_url.clone()
        } else {
            actor.shared_inbox_url.clone()
        };
        let name = if actor.name.is_empty() {
            host.clone()
        } else {
            actor.name.clone()
        };
        self.store()
            .set_partner_actor(partner_id, &name, &actor.url, &inbox)
            .await?;
        let id = activities::new_id(self.urls(), "follow");
        let follow = activities::follow(self.urls(), &id, &actor.url);
        self.store()
            .set_our_follow(partner_id, "requested", &id)
            .await?;
        let partner = self.partner_or_gone(partner_id).await?;
        self.send(
            &follow,
            &format!("Abonnement à {name}"),
            std::slice::from_ref(&partner),
        )
        .await?;
        // A partner that already asked to follow the club is accepted with the club's own follow.
        if partner.their_follow == "pending" {
            self.accept_follow(partner_id).await?;
        }
        self.partner_or_gone(partner_id).await
    }

    /// Accepts a partner's pending follow request.
    pub async fn accept_follow(&self, partner_id: i64) -> Result<(), PeerError> {
        self.answer_follow(partner_id, "Accept", "accepted").await
    }

    /// Refuses a partner's pending follow request.
    pub async fn refuse_follow(&self, partner_id: i64) -> Result<(), PeerError> {
        self.answer_follow(partner_id, "Reject", "refused").await
    }

    async fn answer_follow(
        &self,
        partner_id: i64,
        kind: &str,
        state: &str,
    ) -> Result<(), PeerError> {
        let partner = self.partner_or_gone(partner_id).await?;
        if !partner.allowed || partner.their_follow_body.is_empty() {
            return Err(PeerError::Invalid(
                "aucune demande d'abonnement de ce partenaire".into(),
            ));
        }
        let follow: Value = serde_json::from_str(&partner.their_follow_body)
            .map_err(|e| PeerError::Internal(e.into()))?;
        let followed = first_url(follow.get("object").unwrap_or(&Value::Null));
        let actor = if followed == self.urls().application() {
            self.urls().application()
        } else {
            self.urls().group()
        };
        let answer = activities::answer(
            self.urls(),
            kind,
            &actor,
            &follow,
            &partner.their_follow_actor,
        );
        self.store()
            .set_their_follow(partner_id, state, "", "", "")
            .await?;
        let label = if kind == "Accept" {
            "Abonnement accepté"
        } else {
            "Abonnement refusé"
        };
        self.send(&answer, label, std::slice::from_ref(&partner))
            .await?;
        if kind == "Accept" {
            // The new follower gets what is already public, as Mobilizon does after accepting a follow.
            self.send_existing(&partner).await?;
        }
        Ok(())
    }

    /// Queues the `Create` of every object published so far for one new follower.
    async fn send_existing(&self, partner: &Partner) -> anyhow::Result<()> {
        for kind in super::publish::KINDS {
            for object in self.store().published_objects(kind).await? {
                let Some(json) = self.published_document(&object).await? else {
                    continue;
                };
                let activity =
                    activities::about_object(self.urls(), "Create", &json, &object.sent_hash);
                let name = json["name"].as_str().unwrap_or_default();
                self.send(
                    &activity,
                    &format!("Publication : {name}"),
                    std::slice::from_ref(partner),
                )
                .await?;
            }
        }
        Ok(())
    }

    /// Takes a partner off the allow-list: nothing more is sent to it or accepted from it.
    pub async fn remove_partner(&self, partner_id: i64) -> Result<(), PeerError> {
        self.store().set_partner_allowed(partner_id, false).await?;
        Ok(())
    }

    /// Joins a partner's event for the network; `message` names who will come.
    pub async fn join_remote_event(&self, remote_id: i64, message: &str) -> Result<(), PeerError> {
        let event = self
            .store()
            .remote_object(remote_id)
            .await?
            .filter(|o| o.kind == "event" && o.deleted_at.is_none())
            .ok_or_else(|| PeerError::Invalid("cet événement n'existe plus".into()))?;
        let partner = self.partner_or_gone(event.partner_id).await?;
        let id = activities::new_id(self.urls(), "join");
        let join = activities::join(
            self.urls(),
            &id,
            &event.object_url,
            &event.attributed_to,
            message,
        );
        self.store()
            .set_remote_join(remote_id, &id, "pending", message)
            .await?;
        self.send(
            &join,
            &format!("Participation : {}", event.name),
            std::slice::from_ref(&partner),
        )
        .await?;
        Ok(())
    }

    /// Leaves a partner's event the network joined.
    pub async fn leave_remote_event(&self, remote_id: i64) -> Result<(), PeerError> {
        let event = self
            .store()
            .remote_object(remote_id)
            .await?
            .ok_or_else(|| PeerError::Invalid("cet événement n'existe plus".into()))?;
        let partner = self.partner_or_gone(event.partner_id).await?;
        let leave = activities::leave(self.urls(), &event.object_url, &event.attributed_to);
        self.store()
            .set_remote_join(remote_id, &event.join_id, "left", &event.join_message)
            .await?;
        self.send(
            &leave,
            &format!("Désistement : {}", event.name),
            std::slice::from_ref(&partner),
        )
        .await?;
        Ok(())
    }

    /// Fetches a partner's membership facts (its Group's `memberships` collection) and keeps them.
    pub async fn refresh_memberships(&self, partner: &Partner) -> Result<usize, PeerError> {
        let Ok(actor_url) = Url::parse(&partner.actor_url) else {
            return Ok(0);
        };
        let (key, key_id) = self.signer(Signer::Group).await?;
        let actor = self
            .client()
            .fetch(&actor_url, Some((key, &key_id)))
            .await
            .map_err(|e| PeerError::Unreachable(e.to_string()))?
            .json()
            .map_err(|e| PeerError::Unreachable(e.to_string()))?;
        let collection_url = first_url(actor.get("memberships").unwrap_or(&Value::Null));
        let Ok(collection_url) = Url::parse(&collection_url) else {
            return Ok(0);
        };
        if host_of(&collection_url).as_deref() != Some(partner.host.as_str()) {
            return Ok(0);
        }
        let collection = self
            .client()
            .fetch(&collection_url, Some((key, &key_id)))
            .await
            .map_err(|e| PeerError::Unreachable(e.to_string()))?
            .json()
            .map_err(|e| PeerError::Unreachable(e.to_string()))?;
        let network = partner.display_name();
        let facts: Vec<_> = list(
            collection
                .get("orderedItems")
                .or_else(|| collection.get("items")),
        )
        .iter()
        .filter_map(|item| read_member(partner.id, network, item))
        .filter(|fact| host_of_str(&fact.item_url).as_deref() == Some(partner.host.as_str()))
        .take(10_000)
        .collect();
        self.store()
            .replace_remote_memberships(partner.id, &facts, self.clock().now_millis())
            .await?;
        Ok(facts.len())
    }

    async fn partner_or_gone(&self, partner_id: i64) -> Result<Partner, PeerError> {
        self.store()
            .partner(partner_id)
            .await?
            .ok_or_else(|| PeerError::Invalid("partenaire inconnu".into()))
    }
}

fn host_of_str(url: &str) -> Option<String> {
    super::urls::host_of_str(url)
}

/// Reads an actor document: its id, type, name, inboxes and public key (which it must own).
pub fn read_actor(document: &Value, partner_id: i64, now: i64) -> Result<RemoteActor, String> {
    let url = text(document.get("id"));
    if url.is_empty() {
        return Err("acteur sans id".into());
    }
    let key = document.get("publicKey").cloned().unwrap_or(Value::Null);
    let key = match key {
        Value::Array(keys) => keys.into_iter().next().unwrap_or(Value::Null),
        other => other,
    };
    let key_id = text(key.get("id"));
    let pem = text(key.get("publicKeyPem"));
    let owner = text(key.get("owner"));
    if key_id.is_empty() || pem.is_empty() {
        return Err(format!("{url} ne publie pas de clé"));
    }
    if !owner.is_empty() && owner != url {
        return Err(format!("la clé {key_id} appartient à {owner}, pas à {url}"));
    }
    let name = text(document.get("name"));
    let name = if name.is_empty() {
        text(document.get("preferredUsername"))
    } else {
        name
    };
    Ok(RemoteActor {
        id: 0,
        partner_id,
        url,
        kind: text(document.get("type")),
        name: name.chars().take(200).collect(),
        inbox_url: text(document.get("inbox")),
        shared_inbox_url: document
            .get("endpoints")
            .map(|e| text(e.get("sharedInbox")))
            .unwrap_or_default(),
        key_id,
        public_key_pem: pem,
        fetched_at: now,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_actor_must_own_the_key_it_publishes() {
        let actor = json!({"id": "https://cglu.example/g/c", "type": "Group", "name": "CGLU",
            "inbox": "https://cglu.example/g/c/inbox", "endpoints": {"sharedInbox": "https://cglu.example/inbox"},
            "publicKey": {"id": "https://cglu.example/g/c#main-key", "owner": "https://cglu.example/g/c",
                          "publicKeyPem": "PEM"}});
        let read = read_actor(&actor, 7, 1).unwrap();
        assert_eq!(read.shared_inbox_url, "https://cglu.example/inbox");
        assert_eq!(read.key_id, "https://cglu.example/g/c#main-key");
        let mut stolen = actor.clone();
        stolen["publicKey"]["owner"] = json!("https://cglu.example/g/autre");
        assert!(
            read_actor(&stolen, 7, 1)
                .unwrap_err()
                .contains("appartient")
        );
        let mut keyless = actor;
        keyless.as_object_mut().unwrap().remove("publicKey");
        assert!(read_actor(&keyless, 7, 1).is_err());
    }
}
