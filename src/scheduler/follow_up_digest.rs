//! The follow-up digest job: at each time of `mail.digest_schedule` (cron, Paris time), each active staff
//! member or admin who owns targets whose next action is due today or overdue receives one mail listing
//! them ([`crate::mail::digest`]). Claimed per person and day (`digest_days`), so it goes out once whichever
//! instance runs it first. It does not catch up: a digest whose time passed while relais was stopped is not
//! sent late (the dashboard shows the same follow-ups).

use chrono::{DateTime, Utc};

use super::{Context, upcoming};

/// The next time of the schedule after `now`; none when no schedule is set.
pub fn next_due(ctx: &Context, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let schedule = ctx.follow_up_digest.as_ref()?;
    upcoming(schedule, now, 1).into_iter().next()
}

/// Enqueues today's digests that have not gone out yet; returns how many.
pub async fn try_follow_up_digest(ctx: &Context) -> anyhow::Result<usize> {
    crate::mail::digest::enqueue_digests(&ctx.store, &ctx.settings, &ctx.clock).await
}
