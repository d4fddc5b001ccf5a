//! The newsletter job: `newsletter.schedule` (cron, Paris time) gives the dates. Each pass of
//! [`try_newsletter`], at start and then at each moment something is due:
//!
//! 1. sends every ready issue whose date has come (late ones with a warning: relais was stopped at the
//!    date, so this pass at start is the catch-up);
//! 2. for each date that passed (within [`CATCH_UP_DAYS`]), tells staff once about an issue planned for it
//!    that was not ready, and so was not sent;
//! 3. reminds staff once, `newsletter.reminder_days` before each date, of what is planned for it;
//! 4. sends the monthly summary of the month before to subscribers who chose it (`digest_schedule`).
//!
//! Every step is claimed in the database (`newsletter_slots` through [`crate::store::newsletter_schedule`],
//! `newsletter_digests` for the summary) and `Store::send_issue` sends an issue once, so several instances,
//! restarts and crashes never send anything twice. The discussion lists' daily digest, configured beside it,
//! is a job of its own ([`super::list_digest`]).

use std::str::FromStr;

use chrono::{DateTime, Datelike, Duration, TimeZone, Utc};

use super::{Context, between, upcoming};
use crate::clock::PARIS;
use crate::config::Settings;
use crate::french::MONTHS;
use crate::mail::newsletter::{render_issue, summary_message};
use crate::mail::notice;
use crate::store::audit::{self, Actor};
use crate::store::newsletter::{Issue, IssueSending};
use crate::store::newsletter_schedule::SlotStep;
use crate::store::outbox::NewMessage;
use crate::store::subscriptions::MailingList;

/// How far back a pass looks for dates it has not handled (relais stopped for longer loses nothing that
/// is ready: due issues are found by their own date, whatever its age).
pub const CATCH_UP_DAYS: i64 = 31;
/// An issue sent later than this after its date is reported as late.
const LATE_AFTER_MINUTES: i64 = 15;

/// The parsed schedule of `[newsletter]`.
#[derive(Clone)]
pub struct NewsletterSchedule {
    dates: cron::Schedule,
    reminder: Duration,
    digest: Option<cron::Schedule>,
    /// The daily digest of discussion lists (its own job, [`super::list_digest`]).
    pub list_digest: Option<cron::Schedule>,
}

impl NewsletterSchedule {
    pub fn from_settings(settings: &Settings) -> anyhow::Result<NewsletterSchedule> {
        let newsletter = &settings.newsletter;
        let digest = if newsletter.digest_schedule.is_empty() {
            None
        } else {
            Some(cron::Schedule::from_str(&newsletter.digest_schedule)?)
        };
        let list_digest = if newsletter.list_digest_schedule.is_empty() {
            None
        } else {
            Some(cron::Schedule::from_str(&newsletter.list_digest_schedule)?)
        };
        Ok(NewsletterSchedule {
            dates: cron::Schedule::from_str(&newsletter.schedule)?,
            reminder: Duration::days(newsletter.reminder_days),
            digest,
            list_digest,
        })
    }

    /// The next `count` dates after `after`.
    pub fn upcoming(&self, after: DateTime<Utc>, count: usize) -> Vec<DateTime<Utc>> {
        upcoming(&self.dates, after, count)
    }

    /// Whether `at` is one of the schedule's dates.
    pub fn is_date(&self, at: DateTime<Utc>) -> bool {
        self.upcoming(at - Duration::seconds(1), 1).first() == Some(&at)
    }
}

/// What one pass did, for the log and the tests.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Pass {
    pub issues_sent: usize,
    pub sent_late: usize,
    pub not_ready_notices: usize,
    pub reminders: usize,
    pub digests: usize,
}

/// The next moment a pass has something to do: a date, a reminder, a summary.
pub fn next_due(ctx: &Context, now: DateTime<Utc>) -> DateTime<Utc> {
    let mut candidates: Vec<DateTime<Utc>> = Vec::new();
    for date in ctx.newsletter.upcoming(now, 2) {
        candidates.push(date);
        candidates.push(date - ctx.newsletter.reminder);
    }
    if let Some(digest) = &ctx.newsletter.digest {
        candidates.extend(upcoming(digest, now, 1));
    }
    candidates
        .into_iter()
        .filter(|at| *at > now)
        .min()
        .unwrap_or(now + Duration::hours(1))
}

/// One pass: everything due at `now` that no instance has done yet.
pub async fn try_newsletter(ctx: &Context, now: DateTime<Utc>) -> anyhow::Result<Pass> {
    let list = ctx
        .store
        .mailing_list(crate::store::subscriptions::NEWSLETTER)
        .await?
        .ok_or_else(|| anyhow::anyhow!("the newsletter list is missing"))?;
    let mut pass = Pass::default();
    send_due_issues(ctx, &list, now, &mut pass).await?;
    let since = now - Duration::days(CATCH_UP_DAYS);
    let now_ms = now.timestamp_millis();
    for date in between(&ctx.newsletter.dates, since, now) {
        // A date passed: staff hear once of an issue planned for it that was not ready.
        if let Some(planned) = claim_slot(ctx, &list, date, SlotStep::Check, now).await? {
            for issue in planned.iter().filter(|issue| issue.state == "draft") {
                let message = notice::issue_not_ready(&ctx.settings, issue, date)?;
                notify_staff(ctx, &message, now_ms).await?;
                pass.not_ready_notices += 1;
            }
        }
    }
    for date in between(&ctx.newsletter.dates, now, now + ctx.newsletter.reminder) {
        // Some days before a date: staff hear once of what is planned for it.
        if let Some(planned) = claim_slot(ctx, &list, date, SlotStep::Reminder, now).await? {
            let message = notice::issue_coming(&ctx.settings, date, planned.first())?;
            notify_staff(ctx, &message, now_ms).await?;
            pass.reminders += 1;
        }
    }
    if let Some(digest) = &ctx.newsletter.digest {
        for moment in between(digest, since, now) {
            if send_summary(ctx, &list, moment, now).await? {
                pass.digests += 1;
            }
        }
    }
    Ok(pass)
}

async fn send_due_issues(
    ctx: &Context,
    list: &MailingList,
    now: DateTime<Utc>,
    pass: &mut Pass,
) -> anyhow::Result<()> {
    let now_ms = now.timestamp_millis();
    for issue in ctx.store.due_issues(now_ms).await? {
        let Some((issue, _, message)) =
            render_issue(&ctx.store, &ctx.settings, list, issue.id).await?
        else {
            continue;
        };
        let IssueSending::Sent { recipients } = ctx
            .store
            .send_issue(issue.id, &message, &schedule_actor(), now_ms)
            .await?
        else {
            continue; // another instance sent it, or staff took it back to draft meanwhile
        };
        pass.issues_sent += 1;
        let scheduled = issue.scheduled_at.unwrap_or(now_ms);
        if now_ms - scheduled > LATE_AFTER_MINUTES * 60_000 {
            pass.sent_late += 1;
            let date = DateTime::from_timestamp_millis(scheduled).unwrap_or(now);
            tracing::warn!(
                issue = issue.id,
                planned = %date,
                "newsletter issue sent late: its date passed while relais was not running"
            );
            let mut tx = ctx.store.begin().await?;
            audit::record(
                &mut tx,
                &schedule_actor(),
                "send_late",
                "newsletter_issue",
                Some(issue.id),
                serde_json::json!({ "planned": scheduled, "recipients": recipients }),
                now_ms,
            )
            .await?;
            tx.commit().await?;
        }
    }
    Ok(())
}

/// The summary due at `moment`: the issues of the calendar month before it, in Paris time.
async fn send_summary(
    ctx: &Context,
    list: &MailingList,
    moment: DateTime<Utc>,
    now: DateTime<Utc>,
) -> anyhow::Result<bool> {
    let local = moment.with_timezone(&PARIS);
    let (year, month) = if local.month() == 1 {
        (local.year() - 1, 12)
    } else {
        (local.year(), local.month() - 1)
    };
    let start = month_start(year, month);
    let end = if month == 12 {
        month_start(year + 1, 1)
    } else {
        month_start(year, month + 1)
    };
    let period = format!("{year}-{month:02}");
    let issues = ctx
        .store
        .issues_sent_between(list.id, start.timestamp_millis(), end.timestamp_millis())
        .await?;
    let message = if issues.is_empty() {
        None
    } else {
        let period_label = format!("{} {year}", MONTHS[month as usize - 1]);
        Some(summary_message(
            list,
            &period,
            &period_label,
            &issues,
            &ctx.settings.server.public_url,
            &ctx.settings.mail.from_name,
        )?)
    };
    Ok(ctx
        .store
        .send_digest(
            list.id,
            &period,
            issues.len(),
            message.as_ref(),
            now.timestamp_millis(),
        )
        .await?
        .is_some())
}

/// Claims `step` of the newsletter date `date` (`newsletter_slots`); when this call claimed it, the issues
/// planned for that date and not sent.
async fn claim_slot(
    ctx: &Context,
    list: &MailingList,
    date: DateTime<Utc>,
    step: SlotStep,
    now: DateTime<Utc>,
) -> anyhow::Result<Option<Vec<Issue>>> {
    let date_ms = date.timestamp_millis();
    if !ctx
        .store
        .claim_slot_step(list.id, date_ms, step, now.timestamp_millis())
        .await?
    {
        return Ok(None);
    }
    Ok(Some(ctx.store.issues_for_slot(list.id, date_ms).await?))
}

/// Sends `message` to every active staff member and admin.
async fn notify_staff(ctx: &Context, message: &NewMessage, now_ms: i64) -> anyhow::Result<()> {
    let recipients = ctx.store.staff_recipients().await?;
    if recipients.is_empty() {
        tracing::warn!(title = message.subject, "no staff account to tell");
        return Ok(());
    }
    ctx.store.enqueue_mail(message, &recipients, now_ms).await?;
    Ok(())
}

fn schedule_actor() -> Actor {
    Actor {
        user_id: None,
        label: "calendrier de la lettre".into(),
    }
}

fn month_start(year: i32, month: u32) -> DateTime<Utc> {
    PARIS
        .with_ymd_and_hms(year, month, 1, 0, 0, 0)
        .single()
        .map(|at| at.with_timezone(&Utc))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::french::french_moment;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn the_default_dates_are_the_1st_and_the_15th_at_nine_in_paris() {
        let schedule = cron::Schedule::from_str("0 0 9 1,15 * *").unwrap();
        let dates = upcoming(&schedule, at("2026-11-20T12:00:00Z"), 3);
        // 09:00 in Paris is 08:00 UTC in winter, 07:00 UTC in summer.
        assert_eq!(
            dates,
            vec![
                at("2026-12-01T08:00:00Z"),
                at("2026-12-15T08:00:00Z"),
                at("2027-01-01T08:00:00Z")
            ]
        );
        let summer = upcoming(&schedule, at("2027-06-20T00:00:00Z"), 1);
        assert_eq!(summer, vec![at("2027-07-01T07:00:00Z")]);
        assert_eq!(
            between(
                &schedule,
                at("2026-12-01T08:00:00Z"),
                at("2026-12-15T08:00:00Z")
            ),
            vec![at("2026-12-15T08:00:00Z")],
            "from excluded, to included"
        );
        assert_eq!(
            french_moment(at("2026-12-01T08:00:00Z")),
            "1er décembre 2026 à 09:00"
        );
    }
}
