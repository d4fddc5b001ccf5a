//! Mail relais receives. [`Store::store_inbound`] commits the raw message and one row per accepted
//! recipient before the listener gives its final reply, so an accepted message is never lost; routers then
//! claim recipients with a lease ([`Store::claim_inbound`]), and each ends with a recorded outcome staff can
//! read. A router that dies leaves its lease to run out, and the recipient is routed again.

use super::{Store, StoreResult, Tx, with_db, with_tx};
use crate::domain::inbound::{InboundKind, InboundState};
use crate::domain::mail_kind::MailKind;

/// The client that handed a message to the mail chain, as far as relais knows it: stored with the message
/// so that the SPF check of a post, done later by its router, sees what the listener saw.
#[derive(Debug, Clone, Default)]
pub struct InboundClient {
    /// Its address: the SMTP peer, or `XFORWARD ADDR`; `None` for LMTP without XFORWARD and `relais inject`.
    pub ip: Option<std::net::IpAddr>,
    /// The name it gave in HELO/EHLO (or `XFORWARD HELO`).
    pub helo: String,
    /// The envelope sender (MAIL FROM).
    pub mail_from: String,
}

/// A message as received, before routing.
#[derive(Debug, Clone)]
pub struct NewInbound<'a> {
    /// `lmtp`, `smtp` or `inject`.
    pub channel: &'a str,
    pub peer: &'a str,
    /// The client that handed the message to the mail chain (SMTP peer or XFORWARD), for SPF.
    pub client_ip: &'a str,
    pub client_helo: &'a str,
    pub envelope_from: &'a str,
    pub message_id: &'a str,
    pub subject: &'a str,
    pub from_address: &'a str,
    pub raw: &'a [u8],
}

/// A recipient a router holds.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ClaimedInbound {
    pub id: i64,
    pub message_id: i64,
    pub recipient: String,
}

/// What became of a recipient.
#[derive(Debug, Clone, PartialEq)]
pub struct InboundOutcome {
    pub kind: InboundKind,
    /// `done`, `held`, `refused` or `failed`.
    pub state: InboundState,
    /// In French, for staff.
    pub outcome: String,
}

/// A received message and recipient, as staff see them.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct InboundRow {
    pub id: i64,
    pub message_id: i64,
    pub received_at: i64,
    pub channel: String,
    pub envelope_from: String,
    pub from_address: String,
    pub subject: String,
    pub size: i64,
    pub recipient: String,
    /// Codes of [`InboundKind`] and [`InboundState`], kept as text: a recipient not yet routed has no kind,
    /// and the page reads a code it does not know as a failure rather than failing.
    pub kind: String,
    pub state: String,
    pub outcome: String,
}

impl Store {
    /// Stores a received message and its recipients in one transaction; returns the message's id once
    /// committed.
    pub async fn store_inbound(
        &self,
        message: &NewInbound<'_>,
        recipients: &[String],
        now: i64,
    ) -> StoreResult<i64> {
        let mut tx = self.begin().await?;
        let id: i64 = with_tx!(&mut tx, |c| {
            sqlx::query_scalar(
            "INSERT INTO inbound_messages (received_at, channel, peer, envelope_from, message_id, subject,
                from_address, size, raw, client_ip, client_helo)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id"
        )
        .bind(now)
        .bind(message.channel)
        .bind(message.peer)
        .bind(message.envelope_from)
        .bind(message.message_id)
        .bind(message.subject)
        .bind(message.from_address)
        .bind(message.raw.len() as i64)
        .bind(message.raw)
        .bind(message.client_ip)
        .bind(message.client_helo)
        .fetch_one(c)
        .await
        })?;
        for recipient in recipients {
            with_tx!(&mut tx, |c| sqlx::query(
                "INSERT INTO inbound_recipients (message_id, recipient) VALUES ($1, $2)"
            )
            .bind(id)
            .bind(recipient.to_lowercase())
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
        }
        tx.commit().await?;
        Ok(id)
    }

    /// Leases up to `limit` recipients not routed yet (or whose router's lease ran out) until
    /// `lease_until`.
    pub async fn claim_inbound(
        &self,
        now: i64,
        lease_until: i64,
        limit: i64,
    ) -> StoreResult<Vec<ClaimedInbound>> {
        let lock = if self.is_postgres() {
            " FOR UPDATE SKIP LOCKED"
        } else {
            ""
        };
        let sql = format!(
            "UPDATE inbound_recipients SET state = 'routing', claimed_until = $1
             WHERE id IN (SELECT id FROM inbound_recipients
                          WHERE state = 'received' OR (state = 'routing' AND claimed_until < $2)
                          ORDER BY id LIMIT $3{lock})
             RETURNING id, message_id, recipient"
        );
        let mut tx = self.begin().await?;
        let mut claimed: Vec<ClaimedInbound> = with_tx!(&mut tx, |c| sqlx::query_as(&sql)
            .bind(lease_until)
            .bind(now)
            .bind(limit)
            .fetch_all(c)
            .await)?;
        tx.commit().await?;
        claimed.sort_by_key(|c| c.id);
        Ok(claimed)
    }

    pub async fn inbound_raw(&self, message_id: i64) -> StoreResult<Option<Vec<u8>>> {
        Ok(with_db!(&self.db, |p| sqlx::query_scalar(
            "SELECT raw FROM inbound_messages WHERE id = $1"
        )
        .bind(message_id)
        .fetch_optional(p)
        .await)?)
    }

    /// How many mails of `kinds` went to `address` since `since` (the budget of automatic answers).
    pub async fn answers_sent_since(
        &self,
        address: &str,
        kinds: &[MailKind],
        since: i64,
    ) -> StoreResult<i64> {
        let sql = format!(
            "SELECT COUNT(*) FROM mail_deliveries d JOIN mail_messages m ON m.id = d.message_id
             WHERE LOWER(d.recipient) = $1 AND d.created_at >= $2 AND m.kind IN ({})",
            super::numbered_placeholders(3, kinds.len())
        );
        Ok(with_db!(&self.db, |p| {
            let mut query = sqlx::query_scalar(&sql)
                .bind(address.to_lowercase())
                .bind(since);
            for kind in kinds {
                query = query.bind(kind.as_str());
            }
            query.fetch_one(p).await
        })?)
    }

    /// The client and envelope sender a message came with, for SPF.
    pub async fn inbound_client(&self, message_id: i64) -> StoreResult<InboundClient> {
        let row: Option<(String, String, String)> = with_db!(&self.db, |p| sqlx::query_as(
            "SELECT client_ip, client_helo, envelope_from FROM inbound_messages WHERE id = $1"
        )
        .bind(message_id)
        .fetch_optional(p)
        .await)?;
        Ok(row
            .map(|(ip, helo, mail_from)| InboundClient {
                ip: ip.parse().ok(),
                helo,
                mail_from,
            })
            .unwrap_or_default())
    }

    /// Records a recipient's outcome (only while its router holds it).
    pub async fn finish_inbound(
        &self,
        id: i64,
        outcome: &InboundOutcome,
        now: i64,
    ) -> StoreResult<bool> {
        let mut tx = self.begin().await?;
        let done = finish_inbound_in(&mut tx, id, outcome, now).await?;
        tx.commit().await?;
        Ok(done)
    }

    /// The latest received recipients, newest first.
    pub async fn inbound_list(&self, limit: i64) -> StoreResult<Vec<InboundRow>> {
        Ok(with_db!(&self.db, |p| {
            sqlx::query_as(
            "SELECT r.id, m.id AS message_id, m.received_at, m.channel, m.envelope_from, m.from_address, m.subject,
                m.size, r.recipient, r.kind, r.state, r.outcome
             FROM inbound_recipients r JOIN inbound_messages m ON m.id = r.message_id
             ORDER BY r.id DESC LIMIT $1"
        )
        .bind(limit)
        .fetch_all(p)
        .await
        })?)
    }

    /// The delivery a VERP token names: (delivery id, recipient).
    pub async fn delivery_by_token(&self, token: &str) -> StoreResult<Option<(i64, String)>> {
        Ok(with_db!(&self.db, |p| sqlx::query_as(
            "SELECT id, recipient FROM mail_deliveries WHERE token = $1"
        )
        .bind(token)
        .fetch_optional(p)
        .await)?)
    }

    /// Records a bounce reported after delivery for `delivery_id` (`permanent`: the report says the
    /// delivery failed for good). A permanent failure turns the delivery's line into the bounce, with the
    /// server's diagnostic, and counts toward the address's score unless it is a policy refusal (5.7.x);
    /// temporary failures and policy refusals are kept but not counted. Returns whether it counted.
    pub async fn record_report_bounce(
        &self,
        delivery_id: i64,
        address: &str,
        permanent: bool,
        status: &str,
        reply: &str,
        now: i64,
    ) -> StoreResult<bool> {
        let policy = status.starts_with("5.7")
            || reply
                .split(|c: char| c.is_whitespace() || c == '(' || c == '#')
                .any(|word| word.starts_with("5.7."));
        let counted = permanent && !policy;
        let mut tx = self.begin().await?;
        with_tx!(&mut tx, |c| sqlx::query(
            "INSERT INTO bounces (address, delivery_id, source, status, reply, counted, created_at)
             VALUES ($1, $2, 'dsn', $3, $4, $5, $6)"
        )
        .bind(address.to_lowercase())
        .bind(delivery_id)
        .bind(status)
        .bind(reply)
        .bind(counted)
        .bind(now)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
        if permanent {
            // Staff read the delivery's line: "envoyé 250 …" becomes what the receiving server said later.
            let line = format!("retour après envoi : {} {}", status, reply)
                .trim()
                .to_string();
            with_tx!(&mut tx, |c| sqlx::query(
                "UPDATE mail_deliveries SET state = 'bounced', last_reply = $1 WHERE id = $2"
            )
            .bind(&line)
            .bind(delivery_id)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
        }
        tx.commit().await?;
        if counted {
            self.charge_bounce(address, crate::french::paris_day(now), now)
                .await?;
        }
        Ok(counted)
    }
}

pub(crate) async fn finish_inbound_in(
    tx: &mut Tx,
    id: i64,
    outcome: &InboundOutcome,
    now: i64,
) -> StoreResult<bool> {
    let changed = with_tx!(tx, |c| {
        sqlx::query(
        "UPDATE inbound_recipients SET kind = $1, state = $2, outcome = $3, processed_at = $4, claimed_until = NULL
         WHERE id = $5 AND state = 'routing'"
    )
    .bind(outcome.kind.as_str())
    .bind(outcome.state.as_str())
    .bind(&outcome.outcome)
    .bind(now)
    .bind(id)
    .execute(c)
    .await
    .map(|r| r.rows_affected())
    })?;
    Ok(changed == 1)
}
