//! The discussion lists' digest job: at each time of `newsletter.list_digest_schedule` (cron, Paris time),
//! every discussion list with posts distributed since the time before sends subscribers in digest mode one
//! mail ([`crate::mail::list_digest`]). Claimed per list and scheduled time (`newsletter_digests`, period
//! `liste-<time>`); at start it catches up the times of the last [`CATCH_UP_DAYS`] days.

use chrono::{DateTime, Duration, Utc};

use super::newsletter::CATCH_UP_DAYS;
use super::{Context, between, upcoming};

/// The next time of the schedule after `now`; none when no schedule is set.
pub fn next_due(ctx: &Context, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let schedule = ctx.newsletter.list_digest.as_ref()?;
    upcoming(schedule, now, 1).into_iter().next()
}

/// Sends the digests of every time up to `now` not sent yet; returns how many lists sent one.
pub async fn try_list_digest(ctx: &Context, now: DateTime<Utc>) -> anyhow::Result<usize> {
    let Some(daily) = &ctx.newsletter.list_digest else {
        return Ok(0);
    };
    let since = now - Duration::days(CATCH_UP_DAYS);
    let mut sent = 0;
    // Each time covers the posts since the time before it (a day for a daily schedule).
    let mut previous = None;
    for moment in between(daily, since - Duration::days(2), now) {
        if let Some(start) = previous
            && moment > since
        {
            sent += crate::mail::list_digest::send_list_digests(
                &ctx.store,
                &ctx.settings,
                start,
                moment,
                now.timestamp_millis(),
            )
            .await?;
        }
        previous = Some(moment);
    }
    Ok(sent)
}
