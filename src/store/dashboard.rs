//! Aggregates for the dashboard and the board: the funnel, the diversity matrix, follow-ups due, recent activity.

use chrono::NaiveDate;

use super::{Scope, Store, StoreResult, scope_filter, with_db};
use crate::domain::{PoliticalColour, Scale, Stage};

/// Targets counted by région, scale, political colour and whether they are members.
#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize)]
pub struct DiversityCell {
    pub region_code: Option<String>,
    pub scale: Option<Scale>,
    pub political_colour: PoliticalColour,
    pub members: i64,
    pub total: i64,
}

/// Follow-ups per owner: overdue (before today) and due within the week.
#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize)]
pub struct FollowUps {
    pub owner_id: Option<i64>,
    pub owner_name: Option<String>,
    pub overdue: i64,
    pub due_this_week: i64,
}

/// One line of recent activity: a stage change or an interaction.
#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize)]
pub struct Activity {
    pub at: i64,
    pub target_id: i64,
    pub target_name: String,
    pub kind: String,
    pub detail: String,
    pub author_label: String,
}

/// How involved a member collectivity is: meetings its people attended, whether it answered the needs
/// survey. (Posts to discussion lists join when the lists exist.)
#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize)]
pub struct Engagement {
    pub target_id: i64,
    pub name: String,
    pub meetings_attended: i64,
    pub survey_answered: bool,
}

impl Store {
    /// The member collectivities, most active first.
    pub async fn member_engagement(
        &self,
        scope: Scope,
        limit: i64,
    ) -> StoreResult<Vec<Engagement>> {
        let sql = format!(
            "SELECT t.id AS target_id, o.name,
                (SELECT COUNT(DISTINCT a.meeting_id) FROM meeting_attendees a JOIN people p ON p.id = a.person_id
                 WHERE p.organisation_id = o.id AND a.attended) AS meetings_attended,
                EXISTS (SELECT 1 FROM survey_answers s WHERE s.target_id = t.id) AS survey_answered
             FROM memberships m JOIN organisations o ON o.id = m.organisation_id
             JOIN targets t ON t.organisation_id = o.id
             WHERE {}
             ORDER BY meetings_attended DESC, survey_answered DESC, o.name LIMIT $2",
            scope_filter!("1")
        );
        Ok(with_db!(&self.db, |p| sqlx::query_as(&sql)
            .bind(scope.relay_user())
            .bind(limit)
            .fetch_all(p)
            .await)?)
    }

    /// Number of targets per stage.
    pub async fn count_by_stage(&self, scope: Scope) -> StoreResult<Vec<(Stage, i64)>> {
        let sql = format!(
            "SELECT t.stage, COUNT(*) FROM targets t JOIN organisations o ON o.id = t.organisation_id
             WHERE {} GROUP BY t.stage",
            scope_filter!("1")
        );
        Ok(with_db!(&self.db, |p| sqlx::query_as(&sql)
            .bind(scope.relay_user())
            .fetch_all(p)
            .await)?)
    }

    /// Targets still in the pipeline (not declined) grouped for the diversity matrix.
    pub async fn diversity(&self, scope: Scope) -> StoreResult<Vec<DiversityCell>> {
        let sql = format!(
            "SELECT o.region_code, o.scale, t.political_colour,
                    SUM(CASE WHEN t.stage = 'member' THEN 1 ELSE 0 END) AS members, COUNT(*) AS total
             FROM targets t JOIN organisations o ON o.id = t.organisation_id
             WHERE t.stage <> 'declined' AND {}
             GROUP BY o.region_code, o.scale, t.political_colour",
            scope_filter!("1")
        );
        Ok(with_db!(&self.db, |p| sqlx::query_as(&sql)
            .bind(scope.relay_user())
            .fetch_all(p)
            .await)?)
    }

    /// Open follow-ups per owner, as of `today`.
    pub async fn follow_ups(&self, scope: Scope, today: NaiveDate) -> StoreResult<Vec<FollowUps>> {
        let week = today + chrono::Duration::days(7);
        let sql = format!(
            "SELECT t.owner_id, u.name AS owner_name,
                    SUM(CASE WHEN t.next_action_date < $1 THEN 1 ELSE 0 END) AS overdue,
                    SUM(CASE WHEN t.next_action_date >= $1 AND t.next_action_date <= $2 THEN 1 ELSE 0 END) AS due_this_week
             FROM targets t JOIN organisations o ON o.id = t.organisation_id LEFT JOIN users u ON u.id = t.owner_id
             WHERE t.next_action_date <= $2 AND t.stage NOT IN ('declined', 'member') AND {}
             GROUP BY t.owner_id, u.name ORDER BY u.name",
            scope_filter!("3")
        );
        Ok(with_db!(&self.db, |p| sqlx::query_as(&sql)
            .bind(today)
            .bind(week)
            .bind(scope.relay_user())
            .fetch_all(p)
            .await)?)
    }

    /// The latest stage changes and interactions, newest first.
    pub async fn recent_activity(&self, scope: Scope, limit: i64) -> StoreResult<Vec<Activity>> {
        // Each branch is limited first so the union stays small on a large history.
        let sql = format!(
            "SELECT * FROM (
                SELECT * FROM (SELECT s.changed_at AS at, t.id AS target_id, o.name AS target_name, 'stage' AS kind,
                        s.to_stage AS detail, s.author_label
                 FROM stage_changes s JOIN targets t ON t.id = s.target_id JOIN organisations o ON o.id = t.organisation_id
                 WHERE {scope} ORDER BY s.changed_at DESC LIMIT $2) AS stages
                UNION ALL
                SELECT * FROM (SELECT i.created_at AS at, t.id AS target_id, o.name AS target_name, i.kind AS kind,
                        i.summary AS detail, i.author_label
                 FROM interactions i JOIN targets t ON t.id = i.target_id JOIN organisations o ON o.id = t.organisation_id
                 WHERE {scope} ORDER BY i.created_at DESC LIMIT $2) AS interactions
             ) AS activity ORDER BY at DESC LIMIT $2",
            scope = scope_filter!("1")
        );
        Ok(with_db!(&self.db, |p| sqlx::query_as(&sql)
            .bind(scope.relay_user())
            .bind(limit)
            .fetch_all(p)
            .await)?)
    }
}
