//! People: officials, municipal staff, association and partner contacts, with their emails and phones.

use super::{Scope, Store, StoreError, StoreResult, Tx, audit, scope_filter, with_db, with_tx};

#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize, utoipa::ToSchema)]
pub struct Person {
    pub id: i64,
    pub organisation_id: Option<i64>,
    pub organisation_name: Option<String>,
    pub full_name: String,
    pub function: String,
    pub notes: String,
    /// Emails and phones, separated by newlines in the query, split by [`Person::emails`] and [`Person::phones`].
    #[serde(skip)]
    pub email_list: Option<String>,
    #[serde(skip)]
    pub phone_list: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

impl Person {
    pub fn emails(&self) -> Vec<&str> {
        self.email_list
            .as_deref()
            .map(|l| l.split('\n').filter(|e| !e.is_empty()).collect())
            .unwrap_or_default()
    }

    pub fn phones(&self) -> Vec<&str> {
        self.phone_list
            .as_deref()
            .map(|l| l.split('\n').filter(|e| !e.is_empty()).collect())
            .unwrap_or_default()
    }
}

#[derive(Debug, Clone, Default)]
pub struct NewPerson {
    pub organisation_id: Option<i64>,
    pub full_name: String,
    pub function: String,
    pub notes: String,
    pub emails: Vec<String>,
    pub phones: Vec<String>,
}

/// Emails and phones gathered per person. The aggregate function differs between the two databases, so
/// this is the one place the SQL text is picked per backend.
pub(crate) fn person_select(db_is_postgres: bool) -> String {
    let aggregate = |table: &str, column: &str| {
        if db_is_postgres {
            format!(
                "(SELECT string_agg({column}, E'\\n' ORDER BY {column}) FROM {table} x WHERE x.person_id = p.id)"
            )
        } else {
            format!(
                "(SELECT group_concat({column}, char(10)) FROM (SELECT {column} FROM {table} x WHERE x.person_id = p.id ORDER BY {column}))"
            )
        }
    };
    format!(
        "SELECT p.id, p.organisation_id, o.name AS organisation_name, p.full_name, p.function, p.notes,
                {} AS email_list, {} AS phone_list, p.created_at, p.updated_at
         FROM people p LEFT JOIN organisations o ON o.id = p.organisation_id",
        aggregate("person_emails", "email"),
        aggregate("person_phones", "phone")
    )
}

/// Inserts a person with emails and phones inside `tx`.
pub(crate) async fn insert_person(tx: &mut Tx, new: &NewPerson, now: i64) -> StoreResult<i64> {
    let search =
        crate::domain::search_text(&[&new.full_name, &new.function, &new.emails.join(" ")]);
    let id: i64 = with_tx!(tx, |c| {
        sqlx::query_scalar(
        "INSERT INTO people (organisation_id, full_name, function, notes, search_text, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING id"
    )
    .bind(new.organisation_id)
    .bind(&new.full_name)
    .bind(&new.function)
    .bind(&new.notes)
    .bind(search)
    .bind(now)
    .fetch_one(c)
    .await
    .map_err(StoreError::from_write)
    })?;
    for email in &new.emails {
        with_tx!(tx, |c| sqlx::query(
            "INSERT INTO person_emails (person_id, email) VALUES ($1, $2) ON CONFLICT DO NOTHING"
        )
        .bind(id)
        .bind(email)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
    }
    for phone in &new.phones {
        with_tx!(tx, |c| sqlx::query(
            "INSERT INTO person_phones (person_id, phone) VALUES ($1, $2) ON CONFLICT DO NOTHING"
        )
        .bind(id)
        .bind(phone)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
    }
    Ok(id)
}

impl Store {
    pub(crate) fn is_postgres(&self) -> bool {
        matches!(self.db, super::Db::Postgres(_))
    }

    /// Records a person; a relay may only add people to organisations of its territories.
    pub async fn create_person(
        &self,
        scope: Scope,
        new: &NewPerson,
        actor: &audit::Actor,
        now: i64,
    ) -> StoreResult<i64> {
        if let Some(org) = new.organisation_id
            && self.organisation(scope, org).await?.is_none()
        {
            return Err(StoreError::NotFound);
        }
        if scope != Scope::All && new.organisation_id.is_none() {
            return Err(StoreError::NotFound);
        }
        let mut tx = self.begin().await?;
        let id = insert_person(&mut tx, new, now).await?;
        audit::record(
            &mut tx,
            actor,
            "create",
            "person",
            Some(id),
            serde_json::json!({"label": new.full_name, "name": new.full_name}),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(id)
    }

    pub async fn person(&self, scope: Scope, id: i64) -> StoreResult<Option<Person>> {
        let sql = format!(
            "{} WHERE p.id = $1 AND {}",
            person_select(self.is_postgres()),
            scope_filter!("2")
        );
        Ok(with_db!(&self.db, |p| sqlx::query_as(&sql)
            .bind(id)
            .bind(scope.relay_user())
            .fetch_optional(p)
            .await)?)
    }

    /// People of one organisation.
    pub async fn people_of_organisation(
        &self,
        scope: Scope,
        organisation_id: i64,
    ) -> StoreResult<Vec<Person>> {
        let sql = format!(
            "{} WHERE p.organisation_id = $1 AND {} ORDER BY p.full_name",
            person_select(self.is_postgres()),
            scope_filter!("2")
        );
        Ok(with_db!(&self.db, |p| sqlx::query_as(&sql)
            .bind(organisation_id)
            .bind(scope.relay_user())
            .fetch_all(p)
            .await)?)
    }

    /// People matching a search over name, function and emails, inside the scope.
    pub async fn search_people(
        &self,
        scope: Scope,
        query: &str,
        limit: i64,
        offset: i64,
    ) -> StoreResult<Vec<Person>> {
        let sql = format!(
            "{} WHERE ($1 IS NULL OR p.search_text LIKE $1) AND {} ORDER BY p.full_name, p.id LIMIT $3 OFFSET $4",
            person_select(self.is_postgres()),
            scope_filter!("2")
        );
        // An empty search lists everyone in name order, straight from the index.
        let folded = crate::domain::search_query(query);
        let pattern = (!folded.is_empty()).then(|| format!("%{folded}%"));
        Ok(with_db!(&self.db, |p| sqlx::query_as(&sql)
            .bind(pattern)
            .bind(scope.relay_user())
            .bind(limit)
            .bind(offset)
            .fetch_all(p)
            .await)?)
    }
}

/// A contact's details as staff correct them.
#[derive(Debug, Clone, Default)]
pub struct PersonEdit {
    pub full_name: String,
    pub function: String,
    pub emails: Vec<String>,
    pub phones: Vec<String>,
}

impl Store {
    /// Corrects a contact's name, function, emails and phones; the audit keeps what changed.
    pub async fn update_person(
        &self,
        scope: Scope,
        id: i64,
        edit: &PersonEdit,
        actor: &audit::Actor,
        now: i64,
    ) -> StoreResult<()> {
        let before = self.person(scope, id).await?.ok_or(StoreError::NotFound)?;
        let mut changes = serde_json::Map::new();
        if before.full_name != edit.full_name {
            changes.insert(
                "full_name".into(),
                serde_json::json!([before.full_name, edit.full_name]),
            );
        }
        if before.function != edit.function {
            changes.insert(
                "function".into(),
                serde_json::json!([before.function, edit.function]),
            );
        }
        let (old_emails, old_phones) = (before.emails().join("; "), before.phones().join("; "));
        let mut emails = edit.emails.clone();
        emails.sort();
        emails.dedup();
        let mut phones = edit.phones.clone();
        phones.sort();
        phones.dedup();
        if old_emails != emails.join("; ") {
            changes.insert(
                "emails".into(),
                serde_json::json!([old_emails, emails.join("; ")]),
            );
        }
        if old_phones != phones.join("; ") {
            changes.insert(
                "phones".into(),
                serde_json::json!([old_phones, phones.join("; ")]),
            );
        }
        if changes.is_empty() {
            return Ok(());
        }
        let search =
            crate::domain::search_text(&[&edit.full_name, &edit.function, &emails.join(" ")]);
        let mut tx = self.begin().await?;
        with_tx!(&mut tx, |c| {
            sqlx::query(
            "UPDATE people SET full_name = $2, function = $3, search_text = $4, updated_at = $5 WHERE id = $1"
        )
        .bind(id)
        .bind(&edit.full_name)
        .bind(&edit.function)
        .bind(search)
        .bind(now)
        .execute(c)
        .await
        .map(|r| r.rows_affected())
        })?;
        for sql in [
            "DELETE FROM person_emails WHERE person_id = $1",
            "DELETE FROM person_phones WHERE person_id = $1",
        ] {
            with_tx!(&mut tx, |c| sqlx::query(sql)
                .bind(id)
                .execute(c)
                .await
                .map(|r| r.rows_affected()))?;
        }
        for (sql, values) in [
            (
                "INSERT INTO person_emails (person_id, email) VALUES ($1, $2)",
                &emails,
            ),
            (
                "INSERT INTO person_phones (person_id, phone) VALUES ($1, $2)",
                &phones,
            ),
        ] {
            for value in values {
                with_tx!(&mut tx, |c| sqlx::query(sql)
                    .bind(id)
                    .bind(value)
                    .execute(c)
                    .await
                    .map(|r| r.rows_affected()))?;
            }
        }
        audit::record(
            &mut tx,
            actor,
            "update",
            "person",
            Some(id),
            serde_json::json!({"label": before.full_name, "changes": changes}),
            now,
        )
        .await?;
        tx.commit().await
    }

    /// Takes a contact off its collectivity (someone who left the town hall): the person stays in the
    /// directory without organisation, is no longer a representative, and the past follow-ups still name
    /// them. A relay loses sight of them, as of anyone outside its départements.
    pub async fn detach_person(
        &self,
        scope: Scope,
        id: i64,
        actor: &audit::Actor,
        now: i64,
    ) -> StoreResult<Person> {
        let before = self.person(scope, id).await?.ok_or(StoreError::NotFound)?;
        let mut tx = self.begin().await?;
        with_tx!(&mut tx, |c| sqlx::query(
            "DELETE FROM membership_representatives WHERE person_id = $1"
        )
        .bind(id)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
        with_tx!(&mut tx, |c| sqlx::query(
            "UPDATE people SET organisation_id = NULL, updated_at = $2 WHERE id = $1"
        )
        .bind(id)
        .bind(now)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
        audit::record(
            &mut tx,
            actor,
            "detach",
            "person",
            Some(id),
            serde_json::json!({"label": before.full_name, "organisation": before.organisation_name}),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(before)
    }

    /// Deletes a contact recorded by mistake: their emails, phones and links to follow-ups and memberships
    /// go; mails, subscriptions, meeting attendance and questionnaire invitations keep their own copy of the
    /// address and lose only the link (a subscription is the person's own consent, ended only by them or on
    /// the subscribers page).
    pub async fn delete_person(
        &self,
        scope: Scope,
        id: i64,
        actor: &audit::Actor,
        now: i64,
    ) -> StoreResult<Person> {
        let before = self.person(scope, id).await?.ok_or(StoreError::NotFound)?;
        let mut tx = self.begin().await?;
        tx.execute_each_for(
            &[
                "UPDATE meeting_attendees SET person_id = NULL WHERE person_id = $1",
                "UPDATE survey_invitations SET person_id = NULL WHERE person_id = $1",
                "DELETE FROM interaction_people WHERE person_id = $1",
                "DELETE FROM membership_representatives WHERE person_id = $1",
                "DELETE FROM person_emails WHERE person_id = $1",
                "DELETE FROM person_phones WHERE person_id = $1",
                "UPDATE subscriptions SET person_id = NULL WHERE person_id = $1",
                "UPDATE mail_deliveries SET person_id = NULL WHERE person_id = $1",
                "DELETE FROM people WHERE id = $1",
            ],
            id,
        )
        .await?;
        audit::record(
            &mut tx,
            actor,
            "delete",
            "person",
            Some(id),
            serde_json::json!({"label": before.full_name, "organisation": before.organisation_name}),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(before)
    }
}
