//! The survey reminders job: a contact invited to the needs survey who has not answered after
//! `reminder_days` gets one reminder ([`crate::mail::survey`]). Claimed on the invitation's row
//! (`Store::send_survey_reminder`), so it goes once; at start the job sends whatever fell due meanwhile.

use chrono::{DateTime, Duration, Utc};

use super::Context;

/// The longest the job waits on the clock when no reminder falls due sooner.
const AT_MOST_HOURS: i64 = 6;

/// When the oldest invitation not yet reminded falls due (or in a few hours, when there is none).
pub async fn next_due(ctx: &Context, now: DateTime<Utc>) -> anyhow::Result<DateTime<Utc>> {
    let mut next = now + Duration::hours(AT_MOST_HOURS);
    if let Some(sent) = ctx.store.oldest_unreminded_invitation().await? {
        let survey = ctx.store.survey().await?;
        let due = DateTime::from_timestamp_millis(sent).unwrap_or_default()
            + Duration::days(survey.reminder_days);
        if due > now && due < next {
            next = due;
        }
    }
    Ok(next)
}

/// Sends the reminders due at `now`; returns how many.
pub async fn try_survey_reminders(ctx: &Context, now: DateTime<Utc>) -> anyhow::Result<usize> {
    crate::mail::survey::send_reminders(&ctx.store, &ctx.settings, now.timestamp_millis()).await
}
