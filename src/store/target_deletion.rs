//! Deleting a target created by mistake: what it would take with it, counted for the confirmation, and
//! when it is refused (it received the questionnaire, or became a member).

use super::{Scope, Store, StoreError, StoreResult, audit, with_db};

/// What deleting a target takes with it, counted for the confirmation staff read before deleting.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TargetFootprint {
    /// Contacts of the collectivity: they stay in the directory, only their links to the follow-ups go.
    pub contacts: i64,
    pub interactions: i64,
    pub stage_changes: i64,
    pub needs: i64,
    /// Questionnaire invitations sent: a target that received one is real, and cannot be deleted.
    pub survey_invitations: i64,
    /// A member of the club is not a mistake either: its membership would be orphaned.
    pub is_member: bool,
}

impl TargetFootprint {
    /// Why the target cannot be deleted, in French, if it cannot.
    pub fn refusal(&self) -> Option<&'static str> {
        if self.survey_invitations > 0 {
            Some(
                "Cette cible a reçu le questionnaire : elle ne peut pas être supprimée (passez-la plutôt en « Refus » ou « En pause »).",
            )
        } else if self.is_member {
            Some("Cette collectivité est membre du club : elle ne peut pas être supprimée.")
        } else {
            None
        }
    }
}

impl Store {
    /// Counts what deleting a target would remove; None when it is outside the scope.
    pub async fn target_footprint(
        &self,
        scope: Scope,
        id: i64,
    ) -> StoreResult<Option<TargetFootprint>> {
        let Some(target) = self.target(scope, id).await? else {
            return Ok(None);
        };
        let count = |sql: &'static str, key: i64| async move {
            with_db!(&self.db, |p| sqlx::query_scalar::<_, i64>(sql)
                .bind(key)
                .fetch_one(p)
                .await)
        };
        Ok(Some(TargetFootprint {
            contacts: count(
                "SELECT COUNT(*) FROM people WHERE organisation_id = $1",
                target.organisation_id,
            )
            .await?,
            interactions: count("SELECT COUNT(*) FROM interactions WHERE target_id = $1", id)
                .await?,
            stage_changes: count(
                "SELECT COUNT(*) FROM stage_changes WHERE target_id = $1",
                id,
            )
            .await?,
            needs: count("SELECT COUNT(*) FROM local_needs WHERE target_id = $1", id).await?,
            survey_invitations: count(
                "SELECT COUNT(*) FROM survey_invitations WHERE target_id = $1",
                id,
            )
            .await?,
            is_member: count(
                "SELECT COUNT(*) FROM memberships WHERE organisation_id = $1",
                target.organisation_id,
            )
            .await?
                > 0,
        }))
    }

    /// Deletes a target created by mistake with its follow-ups, stage history and local needs. The
    /// collectivity and its contacts stay in the directory: a person belongs to a collectivity, not to a
    /// target, so nobody is deleted with it (and a person is never shared between two targets). Refused
    /// (Conflict) for a target that received the questionnaire or became a member.
    pub async fn delete_target(
        &self,
        scope: Scope,
        id: i64,
        actor: &audit::Actor,
        now: i64,
    ) -> StoreResult<String> {
        let target = self.target(scope, id).await?.ok_or(StoreError::NotFound)?;
        let footprint = self
            .target_footprint(scope, id)
            .await?
            .ok_or(StoreError::NotFound)?;
        if let Some(refusal) = footprint.refusal() {
            return Err(StoreError::Conflict(refusal.into()));
        }
        let mut tx = self.begin().await?;
        tx.execute_each_for(
            &[
            "DELETE FROM interaction_people WHERE interaction_id IN (SELECT id FROM interactions WHERE target_id = $1)",
            "DELETE FROM interactions WHERE target_id = $1",
            "DELETE FROM stage_changes WHERE target_id = $1",
            "DELETE FROM local_needs WHERE target_id = $1",
            "DELETE FROM targets WHERE id = $1",
        ],
            id,
        )
        .await?;
        audit::record(
            &mut tx,
            actor,
            "delete",
            "target",
            Some(id),
            serde_json::json!({
                "label": target.name,
                "stage": target.stage,
                "interactions": footprint.interactions,
                "stage_changes": footprint.stage_changes,
                "needs": footprint.needs,
                "contacts_kept": footprint.contacts,
            }),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(target.name)
    }
}
