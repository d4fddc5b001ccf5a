//! The needs survey: one questionnaire staff edit, personal invitations (a signed link per contact that
//! expires, see [`crate::mail::unsubscribe::Purpose::Survey`]), drafts, and answers. An answer is stored in
//! one transaction with what it means for the pipeline: the invitation is closed (so its link cannot serve
//! twice), an interaction is logged on the target and the target moves to "survey answered".

use serde::{Deserialize, Serialize};

use super::audit::{self, Actor};
use super::outbox::{NewMessage, NewRecipient, enqueue};
use super::{Store, StoreError, StoreResult, with_db, with_tx};
use crate::domain::{EmailAddress, Stage};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Theme {
    pub code: String,
    pub label: String,
}

/// What the form asks.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Questionnaire {
    pub intro: String,
    pub themes: Vec<Theme>,
    pub involvement: Vec<String>,
    pub slots: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct Survey {
    pub id: i64,
    pub title: String,
    pub questionnaire: Questionnaire,
    pub reminder_days: i64,
    pub link_days: i64,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Invitation {
    pub id: i64,
    pub survey_id: i64,
    pub target_id: i64,
    /// `None` once the person's data was erased.
    pub person_id: Option<i64>,
    pub address: String,
    pub name: String,
    pub sent_at: i64,
    pub expires_at: i64,
    pub reminded_at: Option<i64>,
    pub draft: String,
    pub answered_at: Option<i64>,
}

const INVITATION_COLUMNS: &str = "id, survey_id, target_id, person_id, address, name, sent_at, expires_at, \
     reminded_at, draft, answered_at";

/// A contact who can be invited: on a target, with an address.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Invitable {
    pub person_id: i64,
    pub name: String,
    pub address: String,
    pub target_id: i64,
    pub collectivity: String,
    pub stage: Stage,
    pub invited: bool,
}

/// A submitted answer, once its fields are valid.
#[derive(Debug, Clone, Default)]
pub struct NewAnswer {
    pub problems: String,
    pub other_themes: String,
    pub involvement: String,
    pub slots: Vec<String>,
    pub comments: String,
    /// (theme code, interest −2..=2, experience 0..=3).
    pub themes: Vec<(String, i64, i64)>,
}

/// What became of a submission.
#[derive(Debug, Clone, PartialEq)]
pub enum Submitted {
    Recorded,
    /// The invitation was answered before: the link served once.
    AlreadyAnswered,
}

/// One rated theme of one answer, for results and exports.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ThemeRating {
    pub answer_id: i64,
    pub theme: String,
    pub interest: i64,
    pub experience: i64,
}

/// An answer with who gave it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AnswerRow {
    pub id: i64,
    pub name: String,
    pub collectivity: String,
    pub problems: String,
    pub other_themes: String,
    pub involvement: String,
    pub slots: String,
    pub comments: String,
    pub submitted_at: i64,
}

impl Store {
    /// The questionnaire (there is one; migrations ship the default).
    pub async fn survey(&self) -> StoreResult<Survey> {
        let (id, title, definition, reminder_days, link_days): (i64, String, String, i64, i64) = with_db!(
            &self.db,
            |p| {
                sqlx::query_as(
                "SELECT id, title, definition, reminder_days, link_days FROM surveys ORDER BY id LIMIT 1"
            )
            .fetch_one(p)
            .await
            }
        )?;
        let questionnaire = serde_json::from_str(&definition)
            .map_err(|e| StoreError::Conflict(format!("questionnaire illisible : {e}")))?;
        Ok(Survey {
            id,
            title,
            questionnaire,
            reminder_days,
            link_days,
        })
    }

    pub async fn update_survey(&self, survey: &Survey, now: i64) -> StoreResult<()> {
        let definition = serde_json::to_string(&survey.questionnaire)
            .map_err(|e| StoreError::Conflict(e.to_string()))?;
        with_db!(&self.db, |p| {
            sqlx::query(
            "UPDATE surveys SET title = $1, definition = $2, reminder_days = $3, link_days = $4, updated_at = $5
             WHERE id = $6"
        )
        .bind(&survey.title)
        .bind(&definition)
        .bind(survey.reminder_days)
        .bind(survey.link_days)
        .bind(now)
        .bind(survey.id)
        .execute(p)
        .await
        .map(|r| r.rows_affected())
        })?;
        Ok(())
    }

    /// Contacts of targets with an address (their first one), with whether they were invited already.
    pub async fn invitable_contacts(&self, survey_id: i64) -> StoreResult<Vec<Invitable>> {
        Ok(with_db!(&self.db, |p| {
            sqlx::query_as(
            "SELECT p.id AS person_id, p.full_name AS name, e.address, t.id AS target_id, o.name AS collectivity,
                t.stage, EXISTS (SELECT 1 FROM survey_invitations i WHERE i.survey_id = $1 AND i.person_id = p.id)
                    AS invited
             FROM people p
             JOIN (SELECT person_id, LOWER(MIN(email)) AS address FROM person_emails GROUP BY person_id) e
               ON e.person_id = p.id
             JOIN targets t ON t.organisation_id = p.organisation_id
             JOIN organisations o ON o.id = t.organisation_id
             ORDER BY o.name, p.full_name"
        )
        .bind(survey_id)
        .fetch_all(p)
        .await
        })?)
    }

    /// Invites one contact: the invitation, its mail (made by `message` from the invitation's id, which
    /// its link signs) and the target's move to "survey sent" when it was earlier in the funnel, in one
    /// transaction. `None` when the contact was invited before.
    pub async fn invite_to_survey(
        &self,
        survey: &Survey,
        contact: &Invitable,
        actor: &Actor,
        now: i64,
        message: impl FnOnce(i64) -> Result<NewMessage, String>,
    ) -> StoreResult<Option<i64>> {
        let mut tx = self.begin().await?;
        let id: Option<i64> = with_tx!(&mut tx, |c| {
            sqlx::query_scalar(
            "INSERT INTO survey_invitations (survey_id, target_id, person_id, address, name, sent_at, expires_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (survey_id, person_id) DO NOTHING RETURNING id"
        )
        .bind(survey.id)
        .bind(contact.target_id)
        .bind(contact.person_id)
        .bind(&contact.address)
        .bind(&contact.name)
        .bind(now)
        .bind(now + survey.link_days * 86_400_000)
        .fetch_optional(c)
        .await
        })?;
        let Some(id) = id else {
            return Ok(None);
        };
        let message = message(id).map_err(StoreError::Conflict)?;
        let recipient = NewRecipient {
            address: EmailAddress::stored(contact.address.clone()),
            name: contact.name.clone(),
            person_id: Some(contact.person_id),
        };
        enqueue(&mut tx, &message, &[recipient], now).await?;
        move_target(
            &mut tx,
            contact.target_id,
            Stage::SurveySent,
            &[Stage::Identified, Stage::Contacted, Stage::InDiscussion],
            actor,
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(Some(id))
    }

    pub async fn survey_invitation(&self, id: i64) -> StoreResult<Option<Invitation>> {
        let sql = format!("SELECT {INVITATION_COLUMNS} FROM survey_invitations WHERE id = $1");
        Ok(with_db!(&self.db, |p| sqlx::query_as(&sql)
            .bind(id)
            .fetch_optional(p)
            .await)?)
    }

    /// Keeps the form as it is, to come back to it.
    pub async fn save_survey_draft(&self, id: i64, draft: &str) -> StoreResult<bool> {
        let changed = with_db!(&self.db, |p| sqlx::query(
            "UPDATE survey_invitations SET draft = $1 WHERE id = $2 AND answered_at IS NULL"
        )
        .bind(draft)
        .bind(id)
        .execute(p)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(changed == 1)
    }

    /// Records an answer, once per invitation, with its interaction and the target's move.
    pub async fn submit_survey(
        &self,
        invitation: &Invitation,
        answer: &NewAnswer,
        now: i64,
    ) -> StoreResult<Submitted> {
        let mut tx = self.begin().await?;
        let closed = with_tx!(&mut tx, |c| {
            sqlx::query(
            "UPDATE survey_invitations SET answered_at = $1, draft = '' WHERE id = $2 AND answered_at IS NULL"
        )
        .bind(now)
        .bind(invitation.id)
        .execute(c)
        .await
        .map(|r| r.rows_affected())
        })?;
        if closed == 0 {
            return Ok(Submitted::AlreadyAnswered);
        }
        let answer_id: i64 = with_tx!(&mut tx, |c| {
            sqlx::query_scalar(
            "INSERT INTO survey_answers (invitation_id, survey_id, target_id, problems, other_themes, involvement,
                slots, comments, submitted_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id"
        )
        .bind(invitation.id)
        .bind(invitation.survey_id)
        .bind(invitation.target_id)
        .bind(&answer.problems)
        .bind(&answer.other_themes)
        .bind(&answer.involvement)
        .bind(answer.slots.join("\n"))
        .bind(&answer.comments)
        .bind(now)
        .fetch_one(c)
        .await
        })?;
        for (theme, interest, experience) in &answer.themes {
            with_tx!(&mut tx, |c| {
                sqlx::query(
                "INSERT INTO survey_theme_answers (answer_id, theme, interest, experience) VALUES ($1, $2, $3, $4)"
            )
            .bind(answer_id)
            .bind(theme)
            .bind(interest)
            .bind(experience)
            .execute(c)
            .await
            .map(|r| r.rows_affected())
            })?;
        }
        let actor = Actor {
            user_id: None,
            label: invitation.name.clone(),
        };
        let summary = format!("{} a répondu au recensement des attentes.", invitation.name);
        let interaction: i64 = with_tx!(&mut tx, |c| {
            sqlx::query_scalar(
            "INSERT INTO interactions (target_id, kind, occurred_on, author_label, summary, created_at)
             VALUES ($1, 'survey', $2, $3, $4, $5) RETURNING id"
        )
        .bind(invitation.target_id)
        .bind(
            chrono::DateTime::from_timestamp_millis(now)
                .unwrap_or_default()
                .with_timezone(&crate::clock::PARIS)
                .date_naive(),
        )
        .bind(&actor.label)
        .bind(&summary)
        .bind(now)
        .fetch_one(c)
        .await
        })?;
        with_tx!(&mut tx, |c| sqlx::query(
            "INSERT INTO interaction_people (interaction_id, person_id) VALUES ($1, $2)"
        )
        .bind(interaction)
        .bind(invitation.person_id)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
        move_target(
            &mut tx,
            invitation.target_id,
            Stage::SurveyAnswered,
            &[
                Stage::Identified,
                Stage::Contacted,
                Stage::InDiscussion,
                Stage::SurveySent,
            ],
            &actor,
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(Submitted::Recorded)
    }

    /// Invitations not answered, not reminded, sent before `sent_before` and still valid at `now`.
    pub async fn survey_reminders_due(
        &self,
        sent_before: i64,
        now: i64,
    ) -> StoreResult<Vec<Invitation>> {
        let sql = format!(
            "SELECT {INVITATION_COLUMNS} FROM survey_invitations
             WHERE answered_at IS NULL AND reminded_at IS NULL AND sent_at <= $1 AND expires_at > $2 ORDER BY id"
        );
        Ok(with_db!(&self.db, |p| sqlx::query_as(&sql)
            .bind(sent_before)
            .bind(now)
            .fetch_all(p)
            .await)?)
    }

    /// The earliest moment a reminder falls due (sent time of the oldest unreminded invitation).
    pub async fn oldest_unreminded_invitation(&self) -> StoreResult<Option<i64>> {
        Ok(with_db!(&self.db, |p| {
            sqlx::query_scalar(
            "SELECT MIN(sent_at) FROM survey_invitations WHERE answered_at IS NULL AND reminded_at IS NULL"
        )
        .fetch_one(p)
        .await
        })?)
    }

    /// Claims the reminder of an invitation and enqueues it, once.
    pub async fn send_survey_reminder(
        &self,
        invitation: &Invitation,
        message: &NewMessage,
        now: i64,
    ) -> StoreResult<bool> {
        let mut tx = self.begin().await?;
        let claimed = with_tx!(&mut tx, |c| {
            sqlx::query(
            "UPDATE survey_invitations SET reminded_at = $1 WHERE id = $2 AND reminded_at IS NULL AND answered_at IS NULL"
        )
        .bind(now)
        .bind(invitation.id)
        .execute(c)
        .await
        .map(|r| r.rows_affected())
        })?;
        if claimed == 1 {
            let recipient = NewRecipient {
                address: EmailAddress::stored(invitation.address.clone()),
                name: invitation.name.clone(),
                person_id: invitation.person_id,
            };
            enqueue(&mut tx, message, &[recipient], now).await?;
        }
        tx.commit().await?;
        Ok(claimed == 1)
    }

    /// Every answer to a survey, oldest first, with who gave it.
    pub async fn survey_answers(&self, survey_id: i64) -> StoreResult<Vec<AnswerRow>> {
        Ok(with_db!(&self.db, |p| {
            sqlx::query_as(
            "SELECT a.id, i.name, o.name AS collectivity, a.problems, a.other_themes, a.involvement, a.slots,
                a.comments, a.submitted_at
             FROM survey_answers a JOIN survey_invitations i ON i.id = a.invitation_id
             JOIN targets t ON t.id = a.target_id JOIN organisations o ON o.id = t.organisation_id
             WHERE a.survey_id = $1 ORDER BY a.submitted_at, a.id"
        )
        .bind(survey_id)
        .fetch_all(p)
        .await
        })?)
    }

    pub async fn survey_ratings(&self, survey_id: i64) -> StoreResult<Vec<ThemeRating>> {
        Ok(with_db!(&self.db, |p| {
            sqlx::query_as(
            "SELECT r.answer_id, r.theme, r.interest, r.experience FROM survey_theme_answers r
             JOIN survey_answers a ON a.id = r.answer_id WHERE a.survey_id = $1 ORDER BY r.answer_id, r.theme"
        )
        .bind(survey_id)
        .fetch_all(p)
        .await
        })?)
    }

    /// (sent, answered) invitations of a survey.
    pub async fn survey_counts(&self, survey_id: i64) -> StoreResult<(i64, i64)> {
        Ok(with_db!(&self.db, |p| sqlx::query_as(
            "SELECT COUNT(*), COUNT(answered_at) FROM survey_invitations WHERE survey_id = $1"
        )
        .bind(survey_id)
        .fetch_one(p)
        .await)?)
    }
}

/// Moves a target to `to` when it stands at one of `from`, with its stage change and audit entry.
async fn move_target(
    tx: &mut super::Tx,
    target_id: i64,
    to: Stage,
    from: &[Stage],
    actor: &Actor,
    now: i64,
) -> StoreResult<()> {
    let stage: Stage = with_tx!(tx, |c| sqlx::query_scalar(
        "SELECT stage FROM targets WHERE id = $1"
    )
    .bind(target_id)
    .fetch_one(c)
    .await)?;
    if !from.contains(&stage) {
        return Ok(());
    }
    with_tx!(tx, |c| sqlx::query(
        "UPDATE targets SET stage = $1, updated_at = $2 WHERE id = $3"
    )
    .bind(to.as_str())
    .bind(now)
    .bind(target_id)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    super::stage_changes::insert_stage_change(
        tx,
        target_id,
        Some(stage),
        to,
        "recensement des attentes",
        actor,
        now,
    )
    .await?;
    audit::record(
        tx,
        actor,
        "stage",
        "target",
        Some(target_id),
        serde_json::json!({"from": stage, "to": to.as_str(), "reason": "recensement des attentes"}),
        now,
    )
    .await
}
