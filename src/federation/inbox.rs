//! The inbox: every activity a partner posts to `/inbox` (or to the Group's inbox) goes through the same
//! gate, in this order, each refusal with its status and a French reason:
//!
//! 1. the signature is read and checked for everything but cryptography (`signature::prepare`: covered
//!    headers, `Date` window, `Digest`), else 401;
//! 2. the signing key's host is on the allow-list, else 403, before anything is fetched from it;
//! 3. the host has inbox budget left this minute, else 429;
//! 4. the body is an activity whose actor is on the same host and owns the key, else 400 or 401;
//! 5. the key is the actor's (fetched once, then kept; fetched again when a signature fails with a kept
//!    key, for rotated keys) and the signature holds, else 401;
//! 6. the activity id was never received, else 202 without effect (a replay);
//! 7. the activity is applied, then 202.
//!
//! What each activity does is in `receive.rs`. Signed GETs of collections and objects pass steps 1, 2
//! and 5 ([`Federation::verify_fetch`]).

use http::{HeaderMap, Method};
use serde_json::{Value, json};
use url::Url;

use super::service::Federation;
use super::signature::{IncomingRequest, PendingSignature, VerifyPolicy, prepare};
use super::urls::host_of_str;
use crate::store::federation::Partner;

/// The inbox's answer: a status and a JSON body (`{"error", "code"}` for a refusal).
#[derive(Debug, Clone)]
pub struct InboxAnswer {
    pub status: u16,
    pub body: Value,
}

impl InboxAnswer {
    pub fn refused(status: u16, code: &str, error: impl Into<String>) -> InboxAnswer {
        InboxAnswer {
            status,
            body: json!({"error": error.into(), "code": code}),
        }
    }

    fn accepted(summary: &str) -> InboxAnswer {
        InboxAnswer {
            status: 202,
            body: json!({"accepted": summary}),
        }
    }
}

/// A request as the web layer hands it over.
pub struct Incoming<'a> {
    pub method: &'a Method,
    pub path_and_query: &'a str,
    pub headers: &'a HeaderMap,
    pub body: &'a [u8],
}

impl Federation {
    /// Steps 1, 2 and 5 for any request: the partner whose actor signed it, and that actor's URL.
    pub async fn verify_signed(
        &self,
        request: &Incoming<'_>,
    ) -> Result<(Partner, String), InboxAnswer> {
        let scheme = if self.urls().base().starts_with("https://") {
            "https"
        } else {
            "http"
        };
        let incoming = IncomingRequest {
            method: request.method,
            scheme,
            path_and_query: request.path_and_query,
            headers: request.headers,
            body: request.body,
        };
        let policy = VerifyPolicy::from(&self.settings().federation);
        let pending = prepare(&incoming, &policy, self.clock().now())
            .map_err(|e| InboxAnswer::refused(401, e.code(), e.to_string()))?;
        let Some(host) = host_of_str(pending.key_id()) else {
            return Err(InboxAnswer::refused(
                401,
                "bad_key_id",
                "keyId n'est pas une adresse",
            ));
        };
        let partner = match self.store().partner_by_host(&host).await {
            Ok(Some(partner)) if partner.allowed => partner,
            Ok(_) => {
                return Err(InboxAnswer::refused(
                    403,
                    "not_allowed",
                    format!("{host} n'est pas sur la liste des partenaires autorisés"),
                ));
            }
            Err(error) => return Err(internal(error)),
        };
        let actor = self.check_key(&partner, pending).await?;
        Ok((partner, actor))
    }

    /// Step 5: the key's owner, once the signature holds with it.
    async fn check_key(
        &self,
        partner: &Partner,
        pending: PendingSignature,
    ) -> Result<String, InboxAnswer> {
        let key_id = pending.key_id().to_string();
        let kept = self
            .store()
            .remote_actor_by_key(&key_id)
            .await
            .map_err(internal)?;
        if let Some(actor) = &kept
            && let Ok(key) = super::keys::PublicKey::from_pem(&actor.public_key_pem)
            && pending.clone().check(&key).is_ok()
        {
            return Ok(actor.url.clone());
        }
        // Not kept, or the kept key does not verify (the partner may have changed it): fetch the actor.
        let actor_url = key_id.split('#').next().unwrap_or_default();
        let url = Url::parse(actor_url)
            .map_err(|_| InboxAnswer::refused(401, "bad_key_id", "keyId n'est pas une adresse"))?;
        let actor = self.fetch_actor(&url, partner.id).await.map_err(|e| {
            InboxAnswer::refused(
                401,
                "key_unavailable",
                format!("clé {key_id} introuvable : {e}"),
            )
        })?;
        if actor.key_id != key_id {
            return Err(InboxAnswer::refused(
                401,
                "key_not_owned",
                format!("{} ne publie pas la clé {key_id}", actor.url),
            ));
        }
        let key = super::keys::PublicKey::from_pem(&actor.public_key_pem)
            .map_err(|e| InboxAnswer::refused(401, "key_unavailable", e))?;
        pending
            .check(&key)
            .map_err(|e| InboxAnswer::refused(401, e.code(), e.to_string()))?;
        Ok(actor.url)
    }

    /// A signed GET of a collection or an object: only allowed partners may read them.
    pub async fn verify_fetch(&self, request: &Incoming<'_>) -> Result<Partner, InboxAnswer> {
        self.verify_signed(request)
            .await
            .map(|(partner, _)| partner)
    }

    /// The whole gate, then the activity applied.
    pub async fn receive(&self, request: &Incoming<'_>) -> InboxAnswer {
        let (partner, signer) = match self.verify_signed(request).await {
            Ok(verified) => verified,
            Err(answer) => return answer,
        };
        if !self.spend_inbox_budget(&partner.host) {
            return InboxAnswer::refused(429, "rate_limited", "trop d'envois en une minute");
        }
        let activity: Value = match serde_json::from_slice(request.body) {
            Ok(Value::Object(map)) => Value::Object(map),
            _ => return InboxAnswer::refused(400, "bad_json", "le corps n'est pas un objet JSON"),
        };
        let id = activity["id"].as_str().unwrap_or_default().to_string();
        let kind = activity["type"].as_str().unwrap_or_default().to_string();
        let actor = super::objects::first_url(activity.get("actor").unwrap_or(&Value::Null));
        if id.is_empty() || kind.is_empty() || actor.is_empty() {
            return InboxAnswer::refused(400, "bad_activity", "activité sans id, type ou acteur");
        }
        if actor != signer {
            return InboxAnswer::refused(
                401,
                "key_not_owned",
                format!("signé par {signer}, mais l'acteur est {actor}"),
            );
        }
        if host_of_str(&id).as_deref() != Some(partner.host.as_str()) {
            return InboxAnswer::refused(
                400,
                "foreign_id",
                "l'id de l'activité est d'un autre hôte",
            );
        }
        let now = self.clock().now_millis();
        match self
            .store()
            .record_received(&id, partner.id, &actor, &kind, now)
            .await
        {
            Ok(true) => {}
            Ok(false) => return InboxAnswer::accepted("déjà reçu"),
            Err(error) => return internal(error),
        }
        match self.apply(&partner, &activity).await {
            Ok(summary) => {
                if let Err(error) = self.store().set_received_summary(&id, &summary).await {
                    tracing::warn!(%error, "received activity's summary not recorded");
                }
                InboxAnswer::accepted(&summary)
            }
            Err(error) => {
                // Not applied: forget the id so the partner's next try is not taken for a replay.
                let _ = self.store().forget_received(&id).await;
                error
            }
        }
    }
}

pub(super) fn internal(error: impl std::fmt::Display) -> InboxAnswer {
    tracing::warn!(%error, "federation inbox failed");
    InboxAnswer::refused(500, "internal", "erreur interne, réessayez plus tard")
}
