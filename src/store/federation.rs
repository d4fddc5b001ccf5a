//! Federation's partners: the allow-list of hosts and who follows whom, the partners' actors and keys as
//! last fetched, and the log of activities received (its unique activity id stops replays). Deliveries are
//! in `federation_deliveries.rs`, published and received objects in `federation_objects.rs`.

use super::{Store, StoreResult, with_db};

/// A partner host and the state of the follows between it and relais' Group.
#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize)]
pub struct Partner {
    pub id: i64,
    /// `host[:port]`, lower case.
    pub host: String,
    pub name: String,
    pub actor_url: String,
    pub inbox_url: String,
    /// On the allow-list: nothing is accepted from or sent to a host that is not.
    pub allowed: bool,
    /// `none`, `requested`, `accepted` or `rejected`.
    pub our_follow: String,
    pub our_follow_id: String,
    /// `none`, `pending`, `accepted` or `refused`.
    pub their_follow: String,
    pub their_follow_id: String,
    pub their_follow_actor: String,
    pub their_follow_body: String,
    pub last_received_at: Option<i64>,
    pub created_at: i64,
}

/// A partner's actor, as last fetched.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RemoteActor {
    pub id: i64,
    pub partner_id: i64,
    pub url: String,
    /// `Group`, `Application`, `Person`…
    pub kind: String,
    pub name: String,
    pub inbox_url: String,
    pub shared_inbox_url: String,
    pub key_id: String,
    pub public_key_pem: String,
    pub fetched_at: i64,
}

/// An activity received, for the Réseaux page.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Received {
    pub activity_id: String,
    pub partner_id: i64,
    pub actor_url: String,
    pub kind: String,
    pub summary: String,
    pub received_at: i64,
}

impl Partner {
    /// How staff and mails name the partner: its network's name, or its host while the name is unknown.
    pub fn display_name(&self) -> &str {
        if self.name.is_empty() {
            &self.host
        } else {
            &self.name
        }
    }
}

const PARTNER_COLUMNS: &str = "id, host, name, actor_url, inbox_url, allowed, our_follow, our_follow_id, \
     their_follow, their_follow_id, their_follow_actor, their_follow_body, last_received_at, created_at";

impl Store {
    pub async fn partners(&self) -> StoreResult<Vec<Partner>> {
        let sql = format!("SELECT {PARTNER_COLUMNS} FROM federation_partners ORDER BY name, host");
        Ok(with_db!(&self.db, |p| sqlx::query_as(&sql)
            .fetch_all(p)
            .await)?)
    }

    pub async fn partner(&self, id: i64) -> StoreResult<Option<Partner>> {
        let sql = format!("SELECT {PARTNER_COLUMNS} FROM federation_partners WHERE id = $1");
        Ok(with_db!(&self.db, |p| sqlx::query_as(&sql)
            .bind(id)
            .fetch_optional(p)
            .await)?)
    }

    /// The partner row of `host` (`host[:port]`, lower case), allowed or not.
    pub async fn partner_by_host(&self, host: &str) -> StoreResult<Option<Partner>> {
        let sql = format!("SELECT {PARTNER_COLUMNS} FROM federation_partners WHERE host = $1");
        Ok(with_db!(&self.db, |p| sqlx::query_as(&sql)
            .bind(host)
            .fetch_optional(p)
            .await)?)
    }

    /// Puts `host` on the allow-list (again), with its network actor when known; returns its id.
    pub async fn allow_partner(
        &self,
        host: &str,
        name: &str,
        actor_url: &str,
        inbox_url: &str,
        now: i64,
    ) -> StoreResult<i64> {
        Ok(with_db!(&self.db, |p| {
            sqlx::query_scalar(
            "INSERT INTO federation_partners (host, name, actor_url, inbox_url, allowed, created_at)
             VALUES ($1, $2, $3, $4, TRUE, $5)
             ON CONFLICT (host) DO UPDATE SET allowed = TRUE,
                 name = CASE WHEN excluded.name = '' THEN federation_partners.name ELSE excluded.name END,
                 actor_url = CASE WHEN excluded.actor_url = '' THEN federation_partners.actor_url ELSE excluded.actor_url END,
                 inbox_url = CASE WHEN excluded.inbox_url = '' THEN federation_partners.inbox_url ELSE excluded.inbox_url END
             RETURNING id"
        )
        .bind(host)
        .bind(name)
        .bind(actor_url)
        .bind(inbox_url)
        .bind(now)
        .fetch_one(p)
        .await
        })?)
    }

    /// Takes a partner off the allow-list (or back on): its follows end with it.
    pub async fn set_partner_allowed(&self, id: i64, allowed: bool) -> StoreResult<bool> {
        let sql = if allowed {
            "UPDATE federation_partners SET allowed = TRUE WHERE id = $1"
        } else {
            "UPDATE federation_partners SET allowed = FALSE, our_follow = 'none', their_follow = 'none'
             WHERE id = $1"
        };
        Ok(with_db!(&self.db, |p| sqlx::query(sql)
            .bind(id)
            .execute(p)
            .await
            .map(|r| r.rows_affected()))?
            > 0)
    }

    /// Records the state of relais' Follow of the partner (and its id, when one was sent).
    pub async fn set_our_follow(&self, id: i64, state: &str, follow_id: &str) -> StoreResult<()> {
        with_db!(&self.db, |p| sqlx::query(
            "UPDATE federation_partners SET our_follow = $2,
                 our_follow_id = CASE WHEN $3 = '' THEN our_follow_id ELSE $3 END WHERE id = $1"
        )
        .bind(id)
        .bind(state)
        .bind(follow_id)
        .execute(p)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Records the partner's Follow of relais' Group: its state, id, actor and the activity itself (the
    /// Accept or Reject embeds it).
    pub async fn set_their_follow(
        &self,
        id: i64,
        state: &str,
        follow_id: &str,
        actor: &str,
        body: &str,
    ) -> StoreResult<()> {
        with_db!(&self.db, |p| sqlx::query(
            "UPDATE federation_partners SET their_follow = $2,
                 their_follow_id = CASE WHEN $3 = '' THEN their_follow_id ELSE $3 END,
                 their_follow_actor = CASE WHEN $4 = '' THEN their_follow_actor ELSE $4 END,
                 their_follow_body = CASE WHEN $5 = '' THEN their_follow_body ELSE $5 END
             WHERE id = $1"
        )
        .bind(id)
        .bind(state)
        .bind(follow_id)
        .bind(actor)
        .bind(body)
        .execute(p)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Updates the partner's network actor and inbox, once fetched.
    pub async fn set_partner_actor(
        &self,
        id: i64,
        name: &str,
        actor_url: &str,
        inbox_url: &str,
    ) -> StoreResult<()> {
        with_db!(&self.db, |p| sqlx::query(
            "UPDATE federation_partners SET name = $2, actor_url = $3, inbox_url = $4 WHERE id = $1"
        )
        .bind(id)
        .bind(name)
        .bind(actor_url)
        .bind(inbox_url)
        .execute(p)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Allowed partners that follow relais' Group, with the inbox their deliveries go to.
    pub async fn follower_partners(&self) -> StoreResult<Vec<Partner>> {
        let sql = format!(
            "SELECT {PARTNER_COLUMNS} FROM federation_partners
             WHERE allowed AND their_follow = 'accepted' AND inbox_url <> '' ORDER BY id"
        );
        Ok(with_db!(&self.db, |p| sqlx::query_as(&sql)
            .fetch_all(p)
            .await)?)
    }

    /// The actor whose key is `key_id`, as last fetched.
    pub async fn remote_actor_by_key(&self, key_id: &str) -> StoreResult<Option<RemoteActor>> {
        Ok(with_db!(&self.db, |p| {
            sqlx::query_as(
            "SELECT id, partner_id, url, kind, name, inbox_url, shared_inbox_url, key_id, public_key_pem, fetched_at
             FROM federation_actors WHERE key_id = $1 ORDER BY fetched_at DESC LIMIT 1"
        )
        .bind(key_id)
        .fetch_optional(p)
        .await
        })?)
    }

    pub async fn remote_actor(&self, url: &str) -> StoreResult<Option<RemoteActor>> {
        Ok(with_db!(&self.db, |p| {
            sqlx::query_as(
            "SELECT id, partner_id, url, kind, name, inbox_url, shared_inbox_url, key_id, public_key_pem, fetched_at
             FROM federation_actors WHERE url = $1"
        )
        .bind(url)
        .fetch_optional(p)
        .await
        })?)
    }

    /// Keeps an actor as just fetched (`id` is ignored).
    pub async fn save_remote_actor(&self, actor: &RemoteActor) -> StoreResult<()> {
        with_db!(&self.db, |p| {
            sqlx::query(
            "INSERT INTO federation_actors
                 (partner_id, url, kind, name, inbox_url, shared_inbox_url, key_id, public_key_pem, fetched_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
             ON CONFLICT (url) DO UPDATE SET partner_id = excluded.partner_id, kind = excluded.kind,
                 name = excluded.name, inbox_url = excluded.inbox_url,
                 shared_inbox_url = excluded.shared_inbox_url, key_id = excluded.key_id,
                 public_key_pem = excluded.public_key_pem, fetched_at = excluded.fetched_at"
        )
        .bind(actor.partner_id)
        .bind(&actor.url)
        .bind(&actor.kind)
        .bind(&actor.name)
        .bind(&actor.inbox_url)
        .bind(&actor.shared_inbox_url)
        .bind(&actor.key_id)
        .bind(&actor.public_key_pem)
        .bind(actor.fetched_at)
        .execute(p)
        .await
        .map(|r| r.rows_affected())
        })?;
        Ok(())
    }

    /// Records a received activity by its id; false when that id was already received (a replay).
    pub async fn record_received(
        &self,
        activity_id: &str,
        partner_id: i64,
        actor_url: &str,
        kind: &str,
        now: i64,
    ) -> StoreResult<bool> {
        let inserted = with_db!(&self.db, |p| {
            sqlx::query(
            "INSERT INTO federation_received (activity_id, partner_id, actor_url, kind, received_at)
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (activity_id) DO NOTHING"
        )
        .bind(activity_id)
        .bind(partner_id)
        .bind(actor_url)
        .bind(kind)
        .bind(now)
        .execute(p)
        .await
        .map(|r| r.rows_affected())
        })?;
        if inserted > 0 {
            with_db!(&self.db, |p| sqlx::query(
                "UPDATE federation_partners SET last_received_at = $2 WHERE id = $1"
            )
            .bind(partner_id)
            .bind(now)
            .execute(p)
            .await
            .map(|r| r.rows_affected()))?;
        }
        Ok(inserted > 0)
    }

    /// Says what a received activity did.
    pub async fn set_received_summary(&self, activity_id: &str, summary: &str) -> StoreResult<()> {
        with_db!(&self.db, |p| sqlx::query(
            "UPDATE federation_received SET summary = $2 WHERE activity_id = $1"
        )
        .bind(activity_id)
        .bind(summary)
        .execute(p)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Forgets a received activity whose processing failed, so the partner's retry is not taken for a replay.
    pub async fn forget_received(&self, activity_id: &str) -> StoreResult<()> {
        with_db!(&self.db, |p| sqlx::query(
            "DELETE FROM federation_received WHERE activity_id = $1"
        )
        .bind(activity_id)
        .execute(p)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// The last activities received, newest first, from one partner or from all.
    pub async fn received_activities(
        &self,
        partner_id: Option<i64>,
        limit: i64,
    ) -> StoreResult<Vec<Received>> {
        Ok(with_db!(&self.db, |p| {
            sqlx::query_as(
            "SELECT activity_id, partner_id, actor_url, kind, summary, received_at FROM federation_received
             WHERE ($1 IS NULL OR partner_id = $1) ORDER BY received_at DESC, id DESC LIMIT $2"
        )
        .bind(partner_id)
        .bind(limit)
        .fetch_all(p)
        .await
        })?)
    }

    /// An actor key pair of relais kept in the database (PKCS#8 PEM), made by `generate` the first time
    /// any instance asks; instances sharing a database share it.
    pub async fn actor_key_pem(
        &self,
        name: &str,
        generate: impl FnOnce() -> anyhow::Result<String>,
    ) -> anyhow::Result<String> {
        let existing: Option<String> = with_db!(&self.db, |p| sqlx::query_scalar(
            "SELECT value FROM secrets WHERE name = $1"
        )
        .bind(name)
        .fetch_optional(p)
        .await)?;
        if let Some(pem) = existing {
            return Ok(pem);
        }
        let fresh = generate()?;
        with_db!(&self.db, |p| sqlx::query(
            "INSERT INTO secrets (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING"
        )
        .bind(name)
        .bind(&fresh)
        .execute(p)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(with_db!(&self.db, |p| sqlx::query_scalar(
            "SELECT value FROM secrets WHERE name = $1"
        )
        .bind(name)
        .fetch_one(p)
        .await)?)
    }
}
