//! The meetings job: makes the occurrences of every series for `meetings.horizon_months` ahead (RFC 5545
//! rule, Paris time), then, for each coming meeting:
//!
//! - reminds staff when its agenda is not ready the day before it should go out;
//! - sends the ready agenda `meetings.agenda_days_before` days ahead with a `METHOD:REQUEST` invitation
//!   (late, if it became ready after that, and staff are told so);
//! - sends an update with the new SEQUENCE after any change invitees see, and the invitation itself to
//!   anyone added since;
//! - reminds those who accepted or have not answered the day before, unless it is less than twelve hours
//!   away (recorded as skipped);
//! - sends `METHOD:CANCEL` for a cancelled meeting whose invitation went out.
//!
//! Each dispatch is claimed with its mail in one transaction (`Store::dispatch_meeting_mail`, table
//! `meeting_dispatches`), so it happens once across instances and restarts, and a pass at start catches up
//! what was missed while relais was down. The mails themselves are built in [`crate::mail::meetings`].

use chrono::{DateTime, Duration, Utc};

use super::Context;
use crate::mail::meetings::{Snapshot, changes, meeting_message, occurrences, snapshot};
use crate::mail::notice;
use crate::store::meeting_attendees::Audience;
use crate::store::meetings::Meeting;
use crate::store::outbox::NewMessage;

/// How late an agenda may go before staff are told it went late.
const LATE_AFTER_MINUTES: i64 = 60;
/// The day-before reminder goes only when the meeting is at least this far away: a relais started on the
/// morning of the meeting does not remind people of something they are about to join.
const REMINDER_AT_LEAST_HOURS: i64 = 12;
/// The longest the job waits on the clock when no meeting falls due sooner.
const AT_MOST_HOURS: i64 = 6;

/// What one pass did.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Pass {
    pub occurrences: u64,
    pub dispatches: Vec<String>,
}

fn at_millis(millis: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(millis).unwrap_or_default()
}

fn agenda_lead(ctx: &Context) -> Duration {
    Duration::days(ctx.settings.meetings.agenda_days_before)
}

/// The next moment after `now` a dispatch falls due: a staff reminder, an agenda, a day-before reminder.
pub async fn next_due(ctx: &Context, now: DateTime<Utc>) -> anyhow::Result<DateTime<Utc>> {
    let mut next = now + Duration::hours(AT_MOST_HOURS);
    for meeting in ctx.store.meetings_from(now.timestamp_millis(), 50).await? {
        let starts = at_millis(meeting.starts_at);
        for moment in [
            starts - agenda_lead(ctx) - Duration::days(1),
            starts - agenda_lead(ctx),
            starts - Duration::days(1),
        ] {
            if moment > now && moment < next {
                next = moment;
            }
        }
    }
    Ok(next)
}

/// One pass at `now`: the occurrences, then every dispatch due and not yet claimed. The staff pages run it
/// too after a series changes, so its meetings show at once.
pub async fn try_meetings(ctx: &Context, now: DateTime<Utc>) -> anyhow::Result<Pass> {
    let now_ms = now.timestamp_millis();
    let mut pass = Pass::default();
    let horizon = now + Duration::days(31 * ctx.settings.meetings.horizon_months);
    for series in ctx.store.all_series().await? {
        let found = match occurrences(&series, now - Duration::days(1), horizon) {
            Ok(found) => found,
            Err(error) => {
                tracing::warn!(series = series.id, %error, "series rule unreadable");
                continue;
            }
        };
        let rows: Vec<(i64, i64)> = found
            .iter()
            .map(|(start, end)| (start.timestamp_millis(), end.timestamp_millis()))
            .collect();
        pass.occurrences += ctx
            .store
            .add_occurrences_of(&series, &rows, ctx.settings.mail.domain(), now_ms)
            .await?;
    }
    // Meetings that have not ended, and cancelled ones of the last days (their CANCEL may be due).
    for meeting in ctx
        .store
        .meetings_from(now_ms - Duration::days(2).num_milliseconds(), 200)
        .await?
    {
        for step in dispatch_due(ctx, &meeting, now).await? {
            pass.dispatches.push(format!("{} {}", meeting.id, step));
        }
    }
    Ok(pass)
}

/// The dispatches due now for `meeting`, done.
async fn dispatch_due(
    ctx: &Context,
    meeting: &Meeting,
    now: DateTime<Utc>,
) -> anyhow::Result<Vec<&'static str>> {
    let starts = at_millis(meeting.starts_at);
    let agenda_due = starts - agenda_lead(ctx);
    let mut done = Vec::new();
    if meeting.state == "cancelled" {
        if meeting.sent_sequence.is_some()
            && !ctx.store.dispatched(meeting.id, "cancel").await?
            && send(ctx, meeting, "cancel", now, false).await?
        {
            done.push("cancel");
        }
        return Ok(done);
    }
    if starts <= now {
        return Ok(done);
    }
    let Some(sent) = meeting.sent_sequence else {
        if meeting.agenda_ready && now >= agenda_due {
            if let Some(series) = ctx.store.series(meeting.series_id).await? {
                ctx.store
                    .add_invitees(
                        meeting.id,
                        series.invite_members,
                        series.invite_staff,
                        now.timestamp_millis(),
                    )
                    .await?;
            }
            let late = now > agenda_due + Duration::minutes(LATE_AFTER_MINUTES);
            let sent = send(ctx, meeting, "agenda", now, late).await?;
            if sent && late {
                tell_staff_late(ctx, meeting, now).await?;
            }
            if sent {
                done.push("agenda");
            }
        } else if !meeting.agenda_ready
            && now >= agenda_due - Duration::days(1)
            && remind_staff(ctx, meeting, now).await?
        {
            done.push("staff_reminder");
        }
        return Ok(done);
    };
    if meeting.sequence > sent {
        // An update only when something invitees see changed since what they received.
        let current = snapshot(&ctx.store, meeting).await?;
        match serde_json::from_str::<Snapshot>(&meeting.sent_snapshot) {
            Ok(before) if changes(&before, &current).is_empty() => {
                ctx.store
                    .note_unseen_change(
                        meeting.id,
                        meeting.sequence,
                        &serde_json::to_string(&current)?,
                    )
                    .await?;
            }
            _ => {
                if send(ctx, meeting, "update", now, false).await? {
                    done.push("update");
                }
            }
        }
    }
    // Someone added after the invitation went out (a speaker) gets the invitation itself.
    if let Some(up_to) = ctx.store.last_uninvited(meeting.id).await? {
        let message =
            meeting_message(&ctx.store, &ctx.settings, meeting, "invitation", now).await?;
        if ctx
            .store
            .dispatch_meeting_mail(
                meeting.id,
                "invitation",
                up_to,
                false,
                Audience::NotYetInvited(up_to),
                &message,
                now.timestamp_millis(),
            )
            .await?
            .is_some()
        {
            done.push("invitation");
        }
    }
    if now >= starts - Duration::days(1) && !ctx.store.dispatched(meeting.id, "reminder").await? {
        if starts - now < Duration::hours(REMINDER_AT_LEAST_HOURS) {
            // Too close: recorded as skipped, so the meeting's page says why none went.
            if ctx
                .store
                .dispatch_meeting_mail(
                    meeting.id,
                    "reminder_skipped",
                    0,
                    false,
                    Audience::Listed(Vec::new()),
                    &NewMessage::default(),
                    now.timestamp_millis(),
                )
                .await?
                .is_some()
            {
                done.push("reminder_skipped");
            }
        } else if send(ctx, meeting, "reminder", now, false).await? {
            done.push("reminder");
        }
    }
    Ok(done)
}

/// Renders and dispatches `step` (`agenda`, `update`, `reminder`, `cancel`); false when it was done
/// before.
async fn send(
    ctx: &Context,
    meeting: &Meeting,
    step: &str,
    now: DateTime<Utc>,
    late: bool,
) -> anyhow::Result<bool> {
    let message = meeting_message(&ctx.store, &ctx.settings, meeting, step, now).await?;
    let audience = match step {
        "reminder" => Audience::NotDeclined,
        "update" | "cancel" => Audience::Invited,
        _ => Audience::All,
    };
    // The reminder is sent once whatever the sequence; the others once per sequence.
    let sequence = if step == "reminder" {
        0
    } else {
        meeting.sequence
    };
    Ok(ctx
        .store
        .dispatch_meeting_mail(
            meeting.id,
            step,
            sequence,
            late,
            audience,
            &message,
            now.timestamp_millis(),
        )
        .await?
        .is_some())
}

/// Tells staff, once, that the agenda of `meeting` is not ready the day before it should go.
async fn remind_staff(
    ctx: &Context,
    meeting: &Meeting,
    now: DateTime<Utc>,
) -> anyhow::Result<bool> {
    let due = at_millis(meeting.starts_at) - agenda_lead(ctx);
    let message = notice::agenda_to_prepare(&ctx.settings, meeting, due)?;
    staff_notice(ctx, meeting, "staff_reminder", &message, false, now).await
}

/// Tells staff, once, that the agenda of `meeting` went out late.
async fn tell_staff_late(
    ctx: &Context,
    meeting: &Meeting,
    now: DateTime<Utc>,
) -> anyhow::Result<bool> {
    let days = (at_millis(meeting.starts_at) - now).num_days();
    let message = notice::agenda_late(&ctx.settings, meeting, days)?;
    staff_notice(ctx, meeting, "late_notice", &message, true, now).await
}

/// A notice to staff about a meeting, dispatched once under `step`.
async fn staff_notice(
    ctx: &Context,
    meeting: &Meeting,
    step: &str,
    message: &NewMessage,
    late: bool,
    now: DateTime<Utc>,
) -> anyhow::Result<bool> {
    let recipients = ctx.store.staff_recipients().await?;
    Ok(ctx
        .store
        .dispatch_meeting_mail(
            meeting.id,
            step,
            0,
            late,
            Audience::Listed(recipients),
            message,
            now.timestamp_millis(),
        )
        .await?
        .is_some())
}
