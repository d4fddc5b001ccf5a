//! After a meeting: the minutes (Markdown), and the items staff flag in them as a good practice or a blocking
//! point, which are relayed to the member associations and can become items of the next newsletter.

use super::outbox::NewRecipient;
use super::{Store, StoreResult, with_db, with_tx};
use crate::domain::EmailAddress;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct MinutesItem {
    pub id: i64,
    /// `good_practice` or `blocking_point`.
    pub kind: String,
    pub title: String,
    pub body: String,
    pub pushed_to_newsletter: bool,
}

/// French label of a flagged item's kind.
pub fn minutes_kind_label(kind: &str) -> &'static str {
    match kind {
        "good_practice" => "Bonne pratique",
        _ => "Point de blocage",
    }
}

/// The title a flagged item gets among the newsletter's items. A good practice goes under the issue's
/// "Bonne pratique" heading, which already says what it is; a blocking point goes under "Autre", so its title
/// says it, once, even when the minutes already wrote "Point de blocage : …".
fn newsletter_title(kind: &str, title: &str) -> String {
    let title = title.trim();
    let label = minutes_kind_label(kind);
    let folded = crate::domain::fold(title);
    let already = folded.starts_with(&crate::domain::fold(label));
    if kind == "good_practice" || already {
        title.to_string()
    } else {
        format!("{label} : {title}")
    }
}

impl Store {
    pub async fn save_minutes(
        &self,
        meeting_id: i64,
        minutes: &str,
        now: i64,
    ) -> StoreResult<bool> {
        let changed = with_db!(&self.db, |p| sqlx::query(
            "UPDATE meetings SET minutes = $1, updated_at = $2 WHERE id = $3"
        )
        .bind(minutes)
        .bind(now)
        .bind(meeting_id)
        .execute(p)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(changed == 1)
    }

    pub async fn add_minutes_item(
        &self,
        meeting_id: i64,
        kind: &str,
        title: &str,
        body: &str,
        now: i64,
    ) -> StoreResult<i64> {
        Ok(with_db!(&self.db, |p| {
            sqlx::query_scalar(
            "INSERT INTO minutes_items (meeting_id, kind, title, body, created_at) VALUES ($1, $2, $3, $4, $5)
             RETURNING id"
        )
        .bind(meeting_id)
        .bind(kind)
        .bind(title)
        .bind(body)
        .bind(now)
        .fetch_one(p)
        .await
        })?)
    }

    pub async fn minutes_items(&self, meeting_id: i64) -> StoreResult<Vec<MinutesItem>> {
        Ok(with_db!(&self.db, |p| {
            sqlx::query_as(
            "SELECT id, kind, title, body, pushed_to_newsletter FROM minutes_items WHERE meeting_id = $1
             ORDER BY kind DESC, id"
        )
        .bind(meeting_id)
        .fetch_all(p)
        .await
        })?)
    }

    /// Copies the flagged items of a meeting not copied yet into the newsletter's waiting items (a good
    /// practice as "Bonne pratique", a blocking point as "Autre"), once. Returns how many.
    pub async fn push_minutes_items_to_newsletter(
        &self,
        meeting_id: i64,
        author: Option<i64>,
        now: i64,
    ) -> StoreResult<u64> {
        let mut tx = self.begin().await?;
        let items: Vec<MinutesItem> = with_tx!(&mut tx, |c| sqlx::query_as(
            "SELECT id, kind, title, body, pushed_to_newsletter FROM minutes_items
             WHERE meeting_id = $1 AND NOT pushed_to_newsletter ORDER BY id"
        )
        .bind(meeting_id)
        .fetch_all(c)
        .await)?;
        for item in &items {
            let category = if item.kind == "good_practice" {
                "practice"
            } else {
                "other"
            };
            let title = newsletter_title(&item.kind, &item.title);
            with_tx!(&mut tx, |c| {
                sqlx::query(
                "INSERT INTO newsletter_items (category, title, body, created_by, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $5)"
            )
            .bind(category)
            .bind(&title)
            .bind(&item.body)
            .bind(author)
            .bind(now)
            .execute(c)
            .await
            .map(|r| r.rows_affected())
            })?;
            with_tx!(&mut tx, |c| sqlx::query(
                "UPDATE minutes_items SET pushed_to_newsletter = TRUE WHERE id = $1"
            )
            .bind(item.id)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
        }
        tx.commit().await?;
        Ok(items.len() as u64)
    }

    /// The active subscribers of the list `list_key`, as recipients.
    pub async fn list_recipients(&self, list_key: &str) -> StoreResult<Vec<NewRecipient>> {
        let rows: Vec<(String, String, Option<i64>)> = with_db!(&self.db, |p| sqlx::query_as(
            "SELECT s.address, s.name, s.person_id FROM subscriptions s
             JOIN mailing_lists l ON l.id = s.list_id
             WHERE l.list_key = $1 AND s.state = 'active' ORDER BY s.id"
        )
        .bind(list_key)
        .fetch_all(p)
        .await)?;
        Ok(rows
            .into_iter()
            .map(|(address, name, person_id)| NewRecipient {
                address: EmailAddress::stored(address),
                name,
                person_id,
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::newsletter_title;

    #[test]
    fn a_pushed_item_names_its_kind_once() {
        assert_eq!(
            newsletter_title("good_practice", "Une borne-fontaine en une semaine"),
            "Une borne-fontaine en une semaine"
        );
        assert_eq!(
            newsletter_title("blocking_point", "Refus de domiciliation"),
            "Point de blocage : Refus de domiciliation"
        );
        assert_eq!(
            newsletter_title(
                "blocking_point",
                "Point de blocage : refus de domiciliation"
            ),
            "Point de blocage : refus de domiciliation"
        );
    }
}
