//! The bounce warnings job: a subscription whose delivery bounces disabled gets up to three warnings a week
//! apart, staff are told at the first, then it is removed ([`crate::mail::bounces`]). Each warning is
//! claimed on the subscription's row (`bounce_warned_at`, `bounce_warnings`), so it goes once; at start the
//! job sends whatever fell due meanwhile.

use chrono::{DateTime, Duration, Utc};

use super::Context;

/// How often the job looks for warnings due (on the clock).
const EVERY_HOURS: i64 = 1;

/// The next look: warnings fall due a week after the previous one, an hour is close enough.
pub fn next_due(now: DateTime<Utc>) -> DateTime<Utc> {
    now + Duration::hours(EVERY_HOURS)
}

/// Sends the warnings due at `now` and removes the subscriptions warned enough; returns how many changed.
pub async fn try_bounce_warnings(ctx: &Context, now: DateTime<Utc>) -> anyhow::Result<usize> {
    crate::mail::bounces::send_warnings(&ctx.store, &ctx.settings, now.timestamp_millis()).await
}
