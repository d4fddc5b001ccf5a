//! What a received activity does, once the inbox's gate let it through (`inbox.rs`). Each returns a short
//! French summary kept with the activity for the Réseaux page, or a refusal. A partner only ever changes
//! what came from its own host.
//!
//! - `Follow` of the Group or the instance: accepted at once when the club follows that partner too,
//!   otherwise waits for staff; `Undo(Follow)` ends it.
//! - `Accept`/`Reject` of the club's Follow or Join.
//! - `Create`/`Update` of an Event, Article, Document or Page: kept as text; `Delete`: removed;
//!   `Announce`: the object is fetched from its origin, then as `Create`.
//! - `Join`/`Leave` of one of the club's public meetings: recorded with its attendance, answered with
//!   `Accept` (or `Reject` when the meeting is not public or no longer planned).
//! - `Add`/`Remove` of an `Organization` to the partner's membership facts.

use serde_json::Value;
use url::Url;

use super::activities;
use super::inbox::{InboxAnswer, internal};
use super::objects::{first_url, read_member, read_remote};
use super::service::{Federation, Signer};
use super::urls::host_of_str;
use crate::store::federation::Partner;
use crate::store::federation_objects::RemoteJoin;

type Applied = Result<String, InboxAnswer>;

fn invalid(code: &str, why: impl Into<String>) -> InboxAnswer {
    InboxAnswer::refused(400, code, why)
}

impl Federation {
    pub(super) async fn apply(&self, partner: &Partner, activity: &Value) -> Applied {
        let kind = activity["type"].as_str().unwrap_or_default();
        let object = activity.get("object").cloned().unwrap_or(Value::Null);
        match kind {
            "Follow" => self.on_follow(partner, activity).await,
            "Undo" => match object["type"].as_str() {
                Some("Follow") => {
                    self.store()
                        .set_their_follow(partner.id, "none", "", "", "")
                        .await
                        .map_err(internal)?;
                    Ok("fin de l'abonnement".into())
                }
                _ => Ok("annulation ignorée".into()),
            },
            "Accept" | "Reject" => self.on_answer(partner, kind, &object).await,
            "Create" | "Update" => self.on_object(partner, &object).await,
            "Announce" => self.on_announce(partner, &object).await,
            "Delete" => {
                let url = first_url(&object);
                let now = self.clock().now_millis();
                let deleted = self
                    .store()
                    .delete_remote_object(partner.id, &url, now)
                    .await
                    .map_err(internal)?;
                Ok(if deleted {
                    format!("retrait de {url}")
                } else {
                    "retrait d'un objet inconnu".into()
                })
            }
            "Join" => self.on_join(partner, activity).await,
            "Leave" => {
                let Some(meeting_id) = self.meeting_of(&first_url(&object)).await? else {
                    return Ok("désistement d'un événement inconnu".into());
                };
                let actor = first_url(&activity["actor"]);
                let now = self.clock().now_millis();
                self.store()
                    .leave_remote_participant(meeting_id, &actor, now)
                    .await
                    .map_err(internal)?;
                self.store().wake_schedules();
                Ok("désistement enregistré".into())
            }
            "Add" | "Remove" => self.on_membership(partner, kind, activity).await,
            other => Ok(format!("{other} ignoré")),
        }
    }

    async fn on_follow(&self, partner: &Partner, follow: &Value) -> Applied {
        let object = first_url(&follow["object"]);
        if object != self.urls().group() && object != self.urls().application() {
            return Err(invalid(
                "unknown_object",
                format!("{object} n'est pas un acteur de ce réseau"),
            ));
        }
        let actor = first_url(&follow["actor"]);
        let id = follow["id"].as_str().unwrap_or_default();
        if (partner.actor_url.is_empty() || partner.inbox_url.is_empty())
            && let Ok(Some(known)) = self.store().remote_actor(&actor).await
        {
            {
                let inbox = if known.shared_inbox_url.is_empty() {
                    known.inbox_url.clone()
                } else {
                    known.shared_inbox_url.clone()
                };
                let name = if known.name.is_empty() {
                    partner.host.clone()
                } else {
                    known.name.clone()
                };
                self.store()
                    .set_partner_actor(partner.id, &name, &actor, &inbox)
                    .await
                    .map_err(internal)?;
            }
        }
        self.store()
            .set_their_follow(partner.id, "pending", id, &actor, &follow.to_string())
            .await
            .map_err(internal)?;
        if matches!(partner.our_follow.as_str(), "requested" | "accepted") {
            self.accept_follow(partner.id).await.map_err(internal)?;
            return Ok("demande d'abonnement acceptée (le réseau suit ce partenaire)".into());
        }
        Ok("demande d'abonnement, en attente de l'équipe".into())
    }

    async fn on_answer(&self, partner: &Partner, kind: &str, object: &Value) -> Applied {
        let answered = first_url(object);
        let answered_type = object["type"].as_str().unwrap_or_default();
        let accepted = kind == "Accept";
        if !partner.our_follow_id.is_empty()
            && (answered == partner.our_follow_id || answered_type == "Follow")
            && answered_type != "Join"
        {
            let state = if accepted { "accepted" } else { "rejected" };
            self.store()
                .set_our_follow(partner.id, state, "")
                .await
                .map_err(internal)?;
            if accepted {
                let partner = self.store().partner(partner.id).await.map_err(internal)?;
                if let Some(partner) = partner
                    && let Err(error) = self.refresh_memberships(&partner).await
                {
                    tracing::warn!(%error, host = partner.host, "membership facts not fetched");
                }
                return Ok("abonnement accepté".into());
            }
            return Ok("abonnement refusé".into());
        }
        let state = if accepted { "accepted" } else { "rejected" };
        let answered_join = self
            .store()
            .answer_remote_join(partner.id, &answered, state)
            .await
            .map_err(internal)?;
        if answered_join {
            return Ok(if accepted {
                "participation acceptée"
            } else {
                "participation refusée"
            }
            .into());
        }
        Ok(format!("{kind} d'une activité inconnue"))
    }

    async fn on_object(&self, partner: &Partner, object: &Value) -> Applied {
        if object.is_string() {
            return self.on_announce(partner, object).await;
        }
        let Some(remote) = read_remote(partner.id, object) else {
            return Ok(format!(
                "{} ignoré",
                object["type"].as_str().unwrap_or("objet")
            ));
        };
        if host_of_str(&remote.object_url).as_deref() != Some(partner.host.as_str())
            || host_of_str(&remote.attributed_to).as_deref() != Some(partner.host.as_str())
        {
            return Err(invalid(
                "foreign_object",
                "l'objet est d'un autre hôte que son envoyeur",
            ));
        }
        let now = self.clock().now_millis();
        self.store()
            .save_remote_object(&remote, now)
            .await
            .map_err(internal)?;
        let what = match remote.kind.as_str() {
            "event" => "événement",
            "article" => "article",
            _ => "document",
        };
        Ok(format!("{what} : {}", remote.name))
    }

    /// An object announced by URL: fetched from its origin (which must be the partner's host).
    async fn on_announce(&self, partner: &Partner, object: &Value) -> Applied {
        let url = first_url(object);
        let Ok(parsed) = Url::parse(&url) else {
            return Err(invalid("bad_object", "objet annoncé sans adresse"));
        };
        if host_of_str(&url).as_deref() != Some(partner.host.as_str()) {
            return Ok("annonce d'un objet d'un autre hôte ignorée".into());
        }
        let (key, key_id) = self.signer(Signer::Group).await.map_err(internal)?;
        let fetched = self
            .client()
            .fetch(&parsed, Some((key, &key_id)))
            .await
            .and_then(|f| f.json())
            .map_err(|e| InboxAnswer::refused(502, "fetch_failed", e.to_string()))?;
        if fetched.get("object").is_some() {
            return Err(invalid("bad_object", "l'objet annoncé est une activité"));
        }
        Box::pin(self.on_object(partner, &fetched)).await
    }

    /// The meeting whose published event is `url`, if it is one of this instance's.
    async fn meeting_of(&self, url: &str) -> Result<Option<i64>, InboxAnswer> {
        let Some(uuid) = url.strip_prefix(&format!("{}/events/", self.urls().base())) else {
            return Ok(None);
        };
        let object = self
            .store()
            .published_object_by_uuid(uuid)
            .await
            .map_err(internal)?;
        Ok(object.filter(|o| o.kind == "event").map(|o| o.source_id))
    }

    async fn on_join(&self, partner: &Partner, join: &Value) -> Applied {
        let event_url = first_url(&join["object"]);
        let Some(meeting_id) = self.meeting_of(&event_url).await? else {
            return Err(invalid(
                "unknown_object",
                format!("{event_url} n'est pas un événement de ce réseau"),
            ));
        };
        let actor = first_url(&join["actor"]);
        let join_id = join["id"].as_str().unwrap_or_default();
        let message: String = join["participationMessage"]
            .as_str()
            .map(super::objects::plain)
            .unwrap_or_default()
            .chars()
            .take(500)
            .collect();
        let open = self
            .store()
            .public_sources("event")
            .await
            .map_err(internal)?
            .contains(&meeting_id);
        let now = self.clock().now_millis();
        let state = if open { "accepted" } else { "rejected" };
        let participant = RemoteJoin {
            meeting_id,
            partner_id: partner.id,
            join_id,
            actor_url: &actor,
            message: &message,
            state,
        };
        self.store()
            .record_remote_participant(&participant, now)
            .await
            .map_err(internal)?;
        let kind = if open { "Accept" } else { "Reject" };
        let answer = activities::answer(self.urls(), kind, &self.urls().group(), join, &actor);
        let label = if open {
            "Participation acceptée"
        } else {
            "Participation refusée"
        };
        self.send(&answer, label, std::slice::from_ref(partner))
            .await
            .map_err(internal)?;
        // The event's participant count changed: its Update goes out with the next pass.
        self.store().wake_schedules();
        Ok(if open {
            format!("participation : {message}")
        } else {
            "participation refusée".into()
        })
    }

    async fn on_membership(&self, partner: &Partner, kind: &str, activity: &Value) -> Applied {
        let target = first_url(&activity["target"]);
        if host_of_str(&target).as_deref() != Some(partner.host.as_str()) {
            return Ok(format!("{kind} ignoré"));
        }
        let network = partner.display_name();
        let Some(fact) = read_member(partner.id, network, &activity["object"]) else {
            return Ok(format!("{kind} ignoré"));
        };
        if host_of_str(&fact.item_url).as_deref() != Some(partner.host.as_str()) {
            return Err(invalid(
                "foreign_object",
                "le membre est décrit par un autre hôte",
            ));
        }
        if kind == "Add" {
            let now = self.clock().now_millis();
            self.store()
                .add_remote_membership(&fact, now)
                .await
                .map_err(internal)?;
            Ok(format!("membre : {}", fact.name))
        } else {
            self.store()
                .remove_remote_membership(partner.id, &fact.item_url)
                .await
                .map_err(internal)?;
            Ok(format!("membre retiré : {}", fact.name))
        }
    }
}
