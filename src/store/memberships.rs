//! Memberships: a collectivity that joined, its join date, its representatives and the themes it wants to
//! work on. A membership opens when a target reaches the "member" stage (see `Store::change_stage`).

use chrono::NaiveDate;

use super::{Scope, Store, StoreError, StoreResult, audit, scope_filter, with_db, with_tx};

#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize)]
pub struct Membership {
    pub id: i64,
    pub organisation_id: i64,
    pub joined_on: NaiveDate,
    /// Themes of interest, one per line.
    pub themes: String,
}

impl Membership {
    pub fn theme_list(&self) -> Vec<&str> {
        self.themes
            .lines()
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .collect()
    }
}

impl Store {
    /// The membership of an organisation (inside the scope) and the ids of its representatives.
    pub async fn membership_of(
        &self,
        scope: Scope,
        organisation_id: i64,
    ) -> StoreResult<Option<(Membership, Vec<i64>)>> {
        let sql = format!(
            "SELECT m.id, m.organisation_id, m.joined_on, m.themes FROM memberships m
             JOIN organisations o ON o.id = m.organisation_id WHERE m.organisation_id = $1 AND {}",
            scope_filter!("2")
        );
        let membership: Option<Membership> = with_db!(&self.db, |p| sqlx::query_as(&sql)
            .bind(organisation_id)
            .bind(scope.relay_user())
            .fetch_optional(p)
            .await)?;
        let Some(membership) = membership else {
            return Ok(None);
        };
        let representatives = with_db!(&self.db, |p| {
            sqlx::query_scalar(
            "SELECT person_id FROM membership_representatives WHERE membership_id = $1 ORDER BY person_id"
        )
        .bind(membership.id)
        .fetch_all(p)
        .await
        })?;
        Ok(Some((membership, representatives)))
    }

    /// Replaces join date, themes and representatives (who must be people of the member collectivity).
    #[allow(clippy::too_many_arguments)] // the scope, the row, its three fields, who and when
    pub async fn update_membership(
        &self,
        scope: Scope,
        organisation_id: i64,
        joined_on: NaiveDate,
        themes: &str,
        representatives: &[i64],
        actor: &audit::Actor,
        now: i64,
    ) -> StoreResult<()> {
        let (membership, before) = self
            .membership_of(scope, organisation_id)
            .await?
            .ok_or(StoreError::NotFound)?;
        let mut tx = self.begin().await?;
        with_tx!(&mut tx, |c| sqlx::query(
            "UPDATE memberships SET joined_on = $2, themes = $3 WHERE id = $1"
        )
        .bind(membership.id)
        .bind(joined_on)
        .bind(themes)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
        with_tx!(&mut tx, |c| sqlx::query(
            "DELETE FROM membership_representatives WHERE membership_id = $1"
        )
        .bind(membership.id)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
        for person in representatives {
            let linked = with_tx!(&mut tx, |c| sqlx::query(
                "INSERT INTO membership_representatives (membership_id, person_id)
                 SELECT $1, id FROM people WHERE id = $2 AND organisation_id = $3"
            )
            .bind(membership.id)
            .bind(person)
            .bind(organisation_id)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
            if linked == 0 {
                return Err(StoreError::NotFound);
            }
        }
        let details = serde_json::json!({
            "before": {"joined_on": membership.joined_on, "themes": membership.themes, "representatives": before},
            "after": {"joined_on": joined_on, "themes": themes, "representatives": representatives},
        });
        audit::record(
            &mut tx,
            actor,
            "membership",
            "organisation",
            Some(organisation_id),
            details,
            now,
        )
        .await?;
        tx.commit().await
    }
}
