//! What federation exchanges: the objects relais published (a public meeting as an event, a newsletter
//! issue as an article, a sheet as a document) with their uuid and withdrawal, what staff marked public,
//! the members that agreed to be named, what partners published, who of theirs joins relais' meetings, and
//! the membership facts they share.

use super::{Store, StoreResult, with_db};

/// One of relais' published objects.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PublishedObject {
    pub uuid: String,
    /// `event`, `article` or `document`.
    pub kind: String,
    pub source_id: i64,
    pub sent_hash: String,
    pub published_at: i64,
    pub updated_at: i64,
    pub withdrawn_at: Option<i64>,
}

/// A partner's event, article or document, as relais keeps it (plain text only).
#[derive(Debug, Clone, Default, sqlx::FromRow, serde::Serialize)]
pub struct RemoteObject {
    pub id: i64,
    pub partner_id: i64,
    pub object_url: String,
    /// `event`, `article` or `document`.
    pub kind: String,
    pub attributed_to: String,
    pub name: String,
    pub summary: String,
    pub content: String,
    pub page_url: String,
    pub starts_at: Option<i64>,
    pub ends_at: Option<i64>,
    pub time_zone: String,
    pub online_url: String,
    pub cancelled: bool,
    pub attachment_url: String,
    pub attachment_name: String,
    pub received_at: i64,
    pub updated_at: i64,
    pub deleted_at: Option<i64>,
    pub relayed_at: Option<i64>,
    pub join_id: String,
    pub join_state: String,
    pub join_message: String,
}

/// A participant from a partner network in one of relais' meetings.
#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize)]
pub struct RemoteParticipant {
    pub partner_id: i64,
    pub partner_name: String,
    pub join_id: String,
    pub actor_url: String,
    pub message: String,
    /// `accepted`, `rejected` or `left`.
    pub state: String,
    pub responded_at: i64,
}

/// A partner's Join of one of relais' meetings, as recorded.
#[derive(Debug, Clone)]
pub struct RemoteJoin<'a> {
    pub meeting_id: i64,
    pub partner_id: i64,
    pub join_id: &'a str,
    pub actor_url: &'a str,
    pub message: &'a str,
    /// `accepted`, `rejected` or `left`.
    pub state: &'a str,
}

/// A membership fact a partner published.
#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize)]
pub struct RemoteMembership {
    pub partner_id: i64,
    pub item_url: String,
    pub network_name: String,
    pub official_code: String,
    pub code_scheme: String,
    pub name: String,
    pub since: String,
}

/// A member collectivity that agreed to be named to partners.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ConsentingMember {
    pub organisation_id: i64,
    pub name: String,
    pub collectivity_kind: Option<String>,
    pub official_code: Option<String>,
    pub joined_on: String,
}

const REMOTE_COLUMNS: &str = "id, partner_id, object_url, kind, attributed_to, name, summary, content, \
     page_url, starts_at, ends_at, time_zone, online_url, cancelled, attachment_url, attachment_name, \
     received_at, updated_at, deleted_at, relayed_at, join_id, join_state, join_message";

impl Store {
    pub async fn published_object(
        &self,
        kind: &str,
        source_id: i64,
    ) -> StoreResult<Option<PublishedObject>> {
        Ok(with_db!(&self.db, |p| sqlx::query_as(
            "SELECT uuid, kind, source_id, sent_hash, published_at, updated_at, withdrawn_at
             FROM federation_objects WHERE kind = $1 AND source_id = $2"
        )
        .bind(kind)
        .bind(source_id)
        .fetch_optional(p)
        .await)?)
    }

    pub async fn published_object_by_uuid(
        &self,
        uuid: &str,
    ) -> StoreResult<Option<PublishedObject>> {
        Ok(with_db!(&self.db, |p| sqlx::query_as(
            "SELECT uuid, kind, source_id, sent_hash, published_at, updated_at, withdrawn_at
             FROM federation_objects WHERE uuid = $1"
        )
        .bind(uuid)
        .fetch_optional(p)
        .await)?)
    }

    /// Published objects of a kind still out, oldest first.
    pub async fn published_objects(&self, kind: &str) -> StoreResult<Vec<PublishedObject>> {
        Ok(with_db!(&self.db, |p| {
            sqlx::query_as(
            "SELECT uuid, kind, source_id, sent_hash, published_at, updated_at, withdrawn_at
             FROM federation_objects WHERE kind = $1 AND withdrawn_at IS NULL ORDER BY published_at, id"
        )
        .bind(kind)
        .fetch_all(p)
        .await
        })?)
    }

    /// Claims the publication of an object with `hash`: its first (under `uuid`), again after a withdrawal,
    /// or an update from `previous` (the hash last sent). True for the one instance whose statement changed
    /// the row: only that one sends the activity, so two instances never send it twice, nor under two uuids.
    pub async fn claim_publication(
        &self,
        kind: &str,
        source_id: i64,
        uuid: &str,
        previous: Option<&str>,
        hash: &str,
        now: i64,
    ) -> StoreResult<bool> {
        let changed = match previous {
            None => with_db!(&self.db, |p| {
                sqlx::query(
                "INSERT INTO federation_objects (uuid, kind, source_id, sent_hash, published_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $5) ON CONFLICT (kind, source_id) DO UPDATE
                 SET sent_hash = excluded.sent_hash, updated_at = excluded.updated_at, withdrawn_at = NULL
                 WHERE federation_objects.withdrawn_at IS NOT NULL"
            )
            .bind(uuid)
            .bind(kind)
            .bind(source_id)
            .bind(hash)
            .bind(now)
            .execute(p)
            .await
            .map(|r| r.rows_affected())
            })?,
            Some(previous) => with_db!(&self.db, |p| sqlx::query(
                "UPDATE federation_objects SET sent_hash = $4, updated_at = $5
                 WHERE kind = $1 AND source_id = $2 AND sent_hash = $3 AND withdrawn_at IS NULL"
            )
            .bind(kind)
            .bind(source_id)
            .bind(previous)
            .bind(hash)
            .bind(now)
            .execute(p)
            .await
            .map(|r| r.rows_affected()))?,
        };
        Ok(changed > 0)
    }

    /// Claims the withdrawal of an object: from now on its URL answers 410 Gone. True for the one instance
    /// whose statement withdrew it (which sends the Delete).
    pub async fn claim_withdrawal(
        &self,
        kind: &str,
        source_id: i64,
        now: i64,
    ) -> StoreResult<bool> {
        Ok(with_db!(&self.db, |p| sqlx::query(
            "UPDATE federation_objects SET withdrawn_at = $3, sent_hash = ''
             WHERE kind = $1 AND source_id = $2 AND withdrawn_at IS NULL"
        )
        .bind(kind)
        .bind(source_id)
        .bind(now)
        .execute(p)
        .await
        .map(|r| r.rows_affected()))?
            > 0)
    }

    /// Marks a meeting, a newsletter issue or a sheet public or not. `table` is one of the three.
    pub async fn set_public(&self, kind: &str, id: i64, public: bool) -> StoreResult<bool> {
        let sql = match kind {
            "event" => "UPDATE meetings SET public = $2 WHERE id = $1",
            "article" => "UPDATE newsletter_issues SET public = $2 WHERE id = $1",
            "document" => "UPDATE resources SET public = $2 WHERE id = $1",
            _ => return Ok(false),
        };
        Ok(with_db!(&self.db, |p| sqlx::query(sql)
            .bind(id)
            .bind(public)
            .execute(p)
            .await
            .map(|r| r.rows_affected()))?
            > 0)
    }

    /// Whether a meeting, an issue or a sheet is marked public (`None` when it does not exist).
    pub async fn is_public(&self, kind: &str, id: i64) -> StoreResult<Option<bool>> {
        let sql = match kind {
            "event" => "SELECT public FROM meetings WHERE id = $1",
            "article" => "SELECT public FROM newsletter_issues WHERE id = $1",
            "document" => "SELECT public FROM resources WHERE id = $1",
            _ => return Ok(None),
        };
        Ok(with_db!(&self.db, |p| sqlx::query_scalar(sql)
            .bind(id)
            .fetch_optional(p)
            .await)?)
    }

    /// Records whether a member collectivity agrees to be named to partners.
    pub async fn set_membership_consent(
        &self,
        organisation_id: i64,
        consent: bool,
    ) -> StoreResult<bool> {
        Ok(with_db!(&self.db, |p| sqlx::query(
            "UPDATE memberships SET federation_consent = $2 WHERE organisation_id = $1"
        )
        .bind(organisation_id)
        .bind(consent)
        .execute(p)
        .await
        .map(|r| r.rows_affected()))?
            > 0)
    }

    /// Whether a member collectivity agreed to be named (`None` when it is not a member).
    pub async fn membership_consent(&self, organisation_id: i64) -> StoreResult<Option<bool>> {
        Ok(with_db!(&self.db, |p| sqlx::query_scalar(
            "SELECT federation_consent FROM memberships WHERE organisation_id = $1"
        )
        .bind(organisation_id)
        .fetch_optional(p)
        .await)?)
    }

    /// The member collectivities that agreed to be named to partners, by name.
    pub async fn consenting_members(&self) -> StoreResult<Vec<ConsentingMember>> {
        Ok(with_db!(&self.db, |p| {
            sqlx::query_as(
            "SELECT o.id AS organisation_id, o.name, o.collectivity_kind, o.official_code, CAST(m.joined_on AS TEXT) AS joined_on
             FROM memberships m JOIN organisations o ON o.id = m.organisation_id
             WHERE m.federation_consent ORDER BY o.name, o.id"
        )
        .fetch_all(p)
        .await
        })?)
    }

    /// Keeps a partner's object as received (by its URL); a deleted one that comes again is back.
    pub async fn save_remote_object(&self, object: &RemoteObject, now: i64) -> StoreResult<i64> {
        Ok(with_db!(&self.db, |p| sqlx::query_scalar(
            "INSERT INTO federation_remote_objects
                 (partner_id, object_url, kind, attributed_to, name, summary, content, page_url, starts_at,
                  ends_at, time_zone, online_url, cancelled, attachment_url, attachment_name, received_at,
                  updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $16)
             ON CONFLICT (object_url) DO UPDATE SET kind = excluded.kind, name = excluded.name,
                 summary = excluded.summary, content = excluded.content, page_url = excluded.page_url,
                 starts_at = excluded.starts_at, ends_at = excluded.ends_at, time_zone = excluded.time_zone,
                 online_url = excluded.online_url, cancelled = excluded.cancelled,
                 attachment_url = excluded.attachment_url, attachment_name = excluded.attachment_name,
                 updated_at = excluded.updated_at, deleted_at = NULL
             WHERE federation_remote_objects.partner_id = excluded.partner_id
             RETURNING id"
        )
        .bind(object.partner_id)
        .bind(&object.object_url)
        .bind(&object.kind)
        .bind(&object.attributed_to)
        .bind(&object.name)
        .bind(&object.summary)
        .bind(&object.content)
        .bind(&object.page_url)
        .bind(object.starts_at)
        .bind(object.ends_at)
        .bind(&object.time_zone)
        .bind(&object.online_url)
        .bind(object.cancelled)
        .bind(&object.attachment_url)
        .bind(&object.attachment_name)
        .bind(now)
        .fetch_optional(p)
        .await)?
        .unwrap_or_default())
    }

    /// Marks a partner's object deleted (only by the partner that sent it); true when it was there.
    pub async fn delete_remote_object(
        &self,
        partner_id: i64,
        object_url: &str,
        now: i64,
    ) -> StoreResult<bool> {
        Ok(with_db!(&self.db, |p| sqlx::query(
            "UPDATE federation_remote_objects SET deleted_at = $3
             WHERE partner_id = $1 AND object_url = $2 AND deleted_at IS NULL"
        )
        .bind(partner_id)
        .bind(object_url)
        .bind(now)
        .execute(p)
        .await
        .map(|r| r.rows_affected()))?
            > 0)
    }

    pub async fn remote_object(&self, id: i64) -> StoreResult<Option<RemoteObject>> {
        let sql = format!("SELECT {REMOTE_COLUMNS} FROM federation_remote_objects WHERE id = $1");
        Ok(with_db!(&self.db, |p| sqlx::query_as(&sql)
            .bind(id)
            .fetch_optional(p)
            .await)?)
    }

    pub async fn remote_object_by_url(&self, url: &str) -> StoreResult<Option<RemoteObject>> {
        let sql =
            format!("SELECT {REMOTE_COLUMNS} FROM federation_remote_objects WHERE object_url = $1");
        Ok(with_db!(&self.db, |p| sqlx::query_as(&sql)
            .bind(url)
            .fetch_optional(p)
            .await)?)
    }

    /// Partners' events not deleted that end after `from` and start before `to`, by start.
    pub async fn remote_events_between(
        &self,
        from: i64,
        to: i64,
    ) -> StoreResult<Vec<RemoteObject>> {
        let sql = format!(
            "SELECT {REMOTE_COLUMNS} FROM federation_remote_objects
             WHERE kind = 'event' AND deleted_at IS NULL AND COALESCE(ends_at, starts_at) >= $1 AND starts_at < $2
             ORDER BY starts_at, id"
        );
        Ok(with_db!(&self.db, |p| sqlx::query_as(&sql)
            .bind(from)
            .bind(to)
            .fetch_all(p)
            .await)?)
    }

    /// Partners' objects of a kind not deleted, newest first.
    pub async fn remote_objects(&self, kind: &str, limit: i64) -> StoreResult<Vec<RemoteObject>> {
        let sql = format!(
            "SELECT {REMOTE_COLUMNS} FROM federation_remote_objects
             WHERE kind = $1 AND deleted_at IS NULL ORDER BY updated_at DESC, id DESC LIMIT $2"
        );
        Ok(with_db!(&self.db, |p| sqlx::query_as(&sql)
            .bind(kind)
            .bind(limit)
            .fetch_all(p)
            .await)?)
    }

    /// Records when staff relayed a partner's object (by mail, or to the newsletter).
    pub async fn set_remote_relayed(&self, id: i64, now: i64) -> StoreResult<()> {
        with_db!(&self.db, |p| sqlx::query(
            "UPDATE federation_remote_objects SET relayed_at = $2 WHERE id = $1"
        )
        .bind(id)
        .bind(now)
        .execute(p)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Records relais' own Join (or Leave) of a partner's event.
    pub async fn set_remote_join(
        &self,
        id: i64,
        join_id: &str,
        state: &str,
        message: &str,
    ) -> StoreResult<()> {
        with_db!(&self.db, |p| {
            sqlx::query(
            "UPDATE federation_remote_objects SET join_id = $2, join_state = $3, join_message = $4 WHERE id = $1"
        )
        .bind(id)
        .bind(join_id)
        .bind(state)
        .bind(message)
        .execute(p)
        .await
        .map(|r| r.rows_affected())
        })?;
        Ok(())
    }

    /// The partner's answer to relais' Join `join_id`; true when it named one.
    pub async fn answer_remote_join(
        &self,
        partner_id: i64,
        join_id: &str,
        state: &str,
    ) -> StoreResult<bool> {
        Ok(with_db!(&self.db, |p| {
            sqlx::query(
            "UPDATE federation_remote_objects SET join_state = $3
             WHERE partner_id = $1 AND join_id = $2 AND join_state IN ('pending', 'accepted', 'rejected')"
        )
        .bind(partner_id)
        .bind(join_id)
        .bind(state)
        .execute(p)
        .await
        .map(|r| r.rows_affected())
        })? > 0)
    }

    /// Records a partner's participant in a meeting (a Join, or its Leave by the same id).
    pub async fn record_remote_participant(
        &self,
        participant: &RemoteJoin<'_>,
        now: i64,
    ) -> StoreResult<()> {
        with_db!(&self.db, |p| {
            sqlx::query(
            "INSERT INTO meeting_remote_participants
                 (meeting_id, partner_id, join_id, actor_url, message, state, responded_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)
             ON CONFLICT (join_id) DO UPDATE SET state = excluded.state, responded_at = excluded.responded_at,
                 message = CASE WHEN excluded.message = '' THEN meeting_remote_participants.message
                                ELSE excluded.message END"
        )
        .bind(participant.meeting_id)
        .bind(participant.partner_id)
        .bind(participant.join_id)
        .bind(participant.actor_url)
        .bind(participant.message)
        .bind(participant.state)
        .bind(now)
        .execute(p)
        .await
        .map(|r| r.rows_affected())
        })?;
        Ok(())
    }

    /// A partner actor's Leave of a meeting: every Join of that actor to it is now `left`.
    pub async fn leave_remote_participant(
        &self,
        meeting_id: i64,
        actor_url: &str,
        now: i64,
    ) -> StoreResult<bool> {
        Ok(with_db!(&self.db, |p| sqlx::query(
            "UPDATE meeting_remote_participants SET state = 'left', responded_at = $3
             WHERE meeting_id = $1 AND actor_url = $2 AND state <> 'left'"
        )
        .bind(meeting_id)
        .bind(actor_url)
        .bind(now)
        .execute(p)
        .await
        .map(|r| r.rows_affected()))?
            > 0)
    }

    pub async fn remote_participants(
        &self,
        meeting_id: i64,
    ) -> StoreResult<Vec<RemoteParticipant>> {
        Ok(with_db!(&self.db, |p| {
            sqlx::query_as(
            "SELECT r.partner_id, COALESCE(NULLIF(f.name, ''), f.host) AS partner_name, r.join_id, r.actor_url,
                    r.message, r.state, r.responded_at
             FROM meeting_remote_participants r JOIN federation_partners f ON f.id = r.partner_id
             WHERE r.meeting_id = $1 ORDER BY r.responded_at, r.id"
        )
        .bind(meeting_id)
        .fetch_all(p)
        .await
        })?)
    }

    /// Replaces what a partner says of its members by `facts` (its whole collection, as fetched).
    pub async fn replace_remote_memberships(
        &self,
        partner_id: i64,
        facts: &[RemoteMembership],
        now: i64,
    ) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        super::with_tx!(&mut tx, |c| sqlx::query(
            "DELETE FROM federation_remote_memberships WHERE partner_id = $1"
        )
        .bind(partner_id)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
        for fact in facts {
            super::with_tx!(&mut tx, |c| {
                sqlx::query(
                "INSERT INTO federation_remote_memberships
                     (partner_id, item_url, network_name, official_code, code_scheme, name, since, received_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (partner_id, item_url) DO NOTHING"
            )
            .bind(partner_id)
            .bind(&fact.item_url)
            .bind(&fact.network_name)
            .bind(&fact.official_code)
            .bind(&fact.code_scheme)
            .bind(&fact.name)
            .bind(&fact.since)
            .bind(now)
            .execute(c)
            .await
            .map(|r| r.rows_affected())
            })?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Adds one fact a partner announced.
    pub async fn add_remote_membership(
        &self,
        fact: &RemoteMembership,
        now: i64,
    ) -> StoreResult<()> {
        with_db!(&self.db, |p| {
            sqlx::query(
            "INSERT INTO federation_remote_memberships
                 (partner_id, item_url, network_name, official_code, code_scheme, name, since, received_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
             ON CONFLICT (partner_id, item_url) DO UPDATE SET network_name = excluded.network_name,
                 official_code = excluded.official_code, code_scheme = excluded.code_scheme,
                 name = excluded.name, since = excluded.since, received_at = excluded.received_at"
        )
        .bind(fact.partner_id)
        .bind(&fact.item_url)
        .bind(&fact.network_name)
        .bind(&fact.official_code)
        .bind(&fact.code_scheme)
        .bind(&fact.name)
        .bind(&fact.since)
        .bind(now)
        .execute(p)
        .await
        .map(|r| r.rows_affected())
        })?;
        Ok(())
    }

    /// Removes one fact a partner withdrew.
    pub async fn remove_remote_membership(
        &self,
        partner_id: i64,
        item_url: &str,
    ) -> StoreResult<bool> {
        Ok(with_db!(&self.db, |p| sqlx::query(
            "DELETE FROM federation_remote_memberships WHERE partner_id = $1 AND item_url = $2"
        )
        .bind(partner_id)
        .bind(item_url)
        .execute(p)
        .await
        .map(|r| r.rows_affected()))?
            > 0)
    }

    /// Every membership fact partners on the allow-list share, by collectivity name.
    pub async fn remote_memberships(&self) -> StoreResult<Vec<RemoteMembership>> {
        Ok(with_db!(&self.db, |p| {
            sqlx::query_as(
            "SELECT m.partner_id, m.item_url, m.network_name, m.official_code, m.code_scheme, m.name, m.since
             FROM federation_remote_memberships m JOIN federation_partners f ON f.id = m.partner_id
             WHERE f.allowed ORDER BY m.name, m.network_name"
        )
        .fetch_all(p)
        .await
        })?)
    }

    /// The partner networks a collectivity (by official code) is a member of.
    pub async fn remote_memberships_of(
        &self,
        official_code: &str,
    ) -> StoreResult<Vec<RemoteMembership>> {
        Ok(with_db!(&self.db, |p| {
            sqlx::query_as(
            "SELECT m.partner_id, m.item_url, m.network_name, m.official_code, m.code_scheme, m.name, m.since
             FROM federation_remote_memberships m JOIN federation_partners f ON f.id = m.partner_id
             WHERE f.allowed AND m.official_code = $1 ORDER BY m.network_name"
        )
        .bind(official_code)
        .fetch_all(p)
        .await
        })?)
    }
}

impl Store {
    /// What staff marked public and may go out now: planned public meetings, sent public newsletter
    /// issues, public sheets (ids, oldest first).
    pub async fn public_sources(&self, kind: &str) -> StoreResult<Vec<i64>> {
        let sql = match kind {
            "event" => {
                "SELECT id FROM meetings WHERE public AND state = 'planned' ORDER BY starts_at, id"
            }
            "article" => {
                "SELECT id FROM newsletter_issues WHERE public AND state = 'sent' ORDER BY sent_at, id"
            }
            "document" => "SELECT id FROM resources WHERE public ORDER BY id",
            _ => return Ok(Vec::new()),
        };
        Ok(with_db!(&self.db, |p| sqlx::query_scalar(sql)
            .fetch_all(p)
            .await)?)
    }

    /// A sheet by id.
    pub async fn resource(&self, id: i64) -> StoreResult<Option<super::resources::Resource>> {
        Ok(with_db!(&self.db, |p| sqlx::query_as(
            "SELECT id, title, url, description, themes FROM resources WHERE id = $1"
        )
        .bind(id)
        .fetch_optional(p)
        .await)?)
    }
}

impl Store {
    /// An organisation as the membership facts name it, member or not.
    pub async fn organisation_basics(&self, id: i64) -> StoreResult<Option<ConsentingMember>> {
        Ok(with_db!(&self.db, |p| {
            sqlx::query_as(
            "SELECT o.id AS organisation_id, o.name, o.collectivity_kind, o.official_code,
                    COALESCE(CAST(m.joined_on AS TEXT), '') AS joined_on
             FROM organisations o LEFT JOIN memberships m ON m.organisation_id = o.id WHERE o.id = $1"
        )
        .bind(id)
        .fetch_optional(p)
        .await
        })?)
    }
}

impl Store {
    /// Every member collectivity with whether it agreed to be named to partners: (organisation id, name,
    /// consent), by name.
    pub async fn members_and_consent(&self) -> StoreResult<Vec<(i64, String, bool)>> {
        Ok(with_db!(&self.db, |p| sqlx::query_as(
            "SELECT o.id, o.name, m.federation_consent FROM memberships m
             JOIN organisations o ON o.id = m.organisation_id ORDER BY o.name, o.id"
        )
        .fetch_all(p)
        .await)?)
    }
}

/// A target that partner networks count among their members.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct MemberElsewhere {
    pub target_id: i64,
    pub name: String,
    pub network_name: String,
    pub since: String,
}

impl Store {
    /// Targets in `scope` that allowed partners list as members, by name (the dashboard's panel).
    pub async fn targets_member_elsewhere(
        &self,
        scope: super::Scope,
    ) -> StoreResult<Vec<MemberElsewhere>> {
        let sql = format!(
            "SELECT t.id AS target_id, o.name, m.network_name, m.since
             FROM federation_remote_memberships m
             JOIN federation_partners f ON f.id = m.partner_id
             JOIN organisations o ON o.official_code = m.official_code
             JOIN targets t ON t.organisation_id = o.id
             WHERE f.allowed AND m.official_code <> '' AND {}
             ORDER BY o.name, m.network_name LIMIT 50",
            super::scope_filter!("1")
        );
        Ok(with_db!(&self.db, |p| sqlx::query_as(&sql)
            .bind(scope.relay_user())
            .fetch_all(p)
            .await)?)
    }
}

impl Store {
    /// The representatives of member collectivities, one address each: who a partner's event is relayed to.
    pub async fn member_representative_recipients(
        &self,
    ) -> StoreResult<Vec<super::outbox::NewRecipient>> {
        let rows: Vec<(String, String, i64)> = with_db!(&self.db, |p| {
            sqlx::query_as(
            "SELECT DISTINCT e.address, p.full_name, p.id
             FROM membership_representatives r
             JOIN people p ON p.id = r.person_id
             JOIN (SELECT person_id, LOWER(MIN(email)) AS address FROM person_emails GROUP BY person_id) e
               ON e.person_id = p.id
             ORDER BY p.id"
        )
        .fetch_all(p)
        .await
        })?;
        Ok(rows
            .into_iter()
            .filter_map(|(address, name, person_id)| {
                Some(super::outbox::NewRecipient {
                    address: crate::domain::EmailAddress::parse(&address).ok()?,
                    name,
                    person_id: Some(person_id),
                })
            })
            .collect())
    }
}
