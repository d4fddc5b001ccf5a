//! The newsletter's rhythm inside `relais serve`: `newsletter.schedule` (cron, Paris time) gives the dates.
//! Each pass of [`Scheduler::run_due`], at start and then at each moment something is due:
//!
//! 1. sends every ready issue whose date has come (late ones with a warning: relais was stopped at the
//!    date, so this pass at start is the catch-up);
//! 2. for each date that passed (within [`CATCH_UP_DAYS`]), tells staff once about an issue planned for it
//!    that was not ready, and so was not sent;
//! 3. reminds staff once, `newsletter.reminder_days` before each date, of what is planned for it;
//! 4. sends the monthly summary of the month before to subscribers who chose it (`digest_schedule`), and
//!    the discussion lists' daily digests (`list_digest_schedule`, [`super::list_digest`]).
//!
//! Every step is claimed in the database ([`crate::store::newsletter_schedule`]) and `Store::send_issue`
//! sends an issue once, so several instances, restarts and crashes never send anything twice.

use std::str::FromStr;
use std::sync::Arc;

use askama::Template;
use chrono::{DateTime, Datelike, Duration, TimeZone, Utc};
use tokio_util::sync::CancellationToken;

use super::newsletter::issue_message;
use crate::clock::{Clock, PARIS};
use crate::config::Settings;
use crate::store::Store;
use crate::store::audit::{self, Actor};
use crate::store::newsletter::IssueSending;
use crate::store::newsletter_schedule::SlotStep;
use crate::store::outbox::NewMessage;
use crate::store::subscriptions::MailingList;

/// How far back a pass looks for dates it has not handled (relais stopped for longer loses nothing that
/// is ready: due issues are found by their own date, whatever its age).
pub const CATCH_UP_DAYS: i64 = 31;
/// An issue sent later than this after its date is reported as late.
const LATE_AFTER_MINUTES: i64 = 15;
/// The longest a pass waits in real time, whatever the clock says.
const RECHECK: std::time::Duration = std::time::Duration::from_secs(300);

/// The parsed schedule of `[newsletter]`.
#[derive(Clone)]
pub struct NewsletterSchedule {
    dates: cron::Schedule,
    reminder: Duration,
    digest: Option<cron::Schedule>,
    /// The daily digest of discussion lists.
    list_digest: Option<cron::Schedule>,
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

fn upcoming(schedule: &cron::Schedule, after: DateTime<Utc>, count: usize) -> Vec<DateTime<Utc>> {
    schedule
        .after(&after.with_timezone(&PARIS))
        .take(count)
        .map(|at| at.with_timezone(&Utc))
        .collect()
}

/// The dates of `schedule` in `(from, to]`.
fn between(
    schedule: &cron::Schedule,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Vec<DateTime<Utc>> {
    schedule
        .after(&from.with_timezone(&PARIS))
        .map(|at| at.with_timezone(&Utc))
        .take_while(|at| *at <= to)
        .collect()
}

use crate::french::{MONTHS, french_moment};

/// What one pass did, for the log and the tests.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Pass {
    pub issues_sent: usize,
    pub sent_late: usize,
    pub not_ready_notices: usize,
    pub reminders: usize,
    pub digests: usize,
}

#[derive(Template)]
#[template(path = "staff_notice.html", config = "src/mail/askama.toml")]
struct NoticeHtml<'a> {
    title: &'a str,
    paragraphs: &'a [String],
    link: &'a str,
    link_label: &'a str,
    organisation: &'a str,
}

#[derive(Template)]
#[template(path = "staff_notice.txt", config = "src/mail/askama.toml")]
struct NoticeText<'a> {
    paragraphs: &'a [String],
    link: &'a str,
    link_label: &'a str,
    organisation: &'a str,
}

/// An issue in the monthly summary.
pub struct DigestEntry {
    pub title: String,
    pub date: String,
    pub url: String,
}

#[derive(Template)]
#[template(path = "newsletter_digest.html", config = "src/mail/askama.toml")]
struct DigestHtml<'a> {
    list: &'a str,
    period: &'a str,
    issues: &'a [DigestEntry],
    preferences_url: &'a str,
    organisation: &'a str,
}

#[derive(Template)]
#[template(path = "newsletter_digest.txt", config = "src/mail/askama.toml")]
struct DigestText<'a> {
    list: &'a str,
    period: &'a str,
    issues: &'a [DigestEntry],
    preferences_url: &'a str,
    organisation: &'a str,
}

/// Runs the newsletter's schedule.
#[derive(Clone)]
pub struct Scheduler {
    pub store: Store,
    pub settings: Arc<Settings>,
    pub clock: Clock,
    pub schedule: NewsletterSchedule,
}

impl Scheduler {
    pub fn new(store: Store, settings: Arc<Settings>, clock: Clock) -> anyhow::Result<Scheduler> {
        let schedule = NewsletterSchedule::from_settings(&settings)?;
        Ok(Scheduler {
            store,
            settings,
            clock,
            schedule,
        })
    }

    /// Runs a pass at start, then one at each moment something may be due, until stopped.
    pub async fn run_until_stopped(self, stop: CancellationToken) {
        loop {
            // The next moment is reckoned from the time this pass saw (see `meetings::Dispatcher`).
            let now = self.clock.now();
            match self.run_due_at(now).await {
                Ok(pass) if pass != Pass::default() => {
                    tracing::info!(?pass, "newsletter schedule pass")
                }
                Ok(_) => {}
                Err(error) => tracing::warn!(%error, "newsletter schedule pass failed; will retry"),
            }
            let next = self.next_moment(now);
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = self.clock.sleep_until(next) => {}
                _ = tokio::time::sleep(RECHECK) => {}
            }
        }
    }

    /// The next moment a pass has something to do: a date, a reminder, a summary.
    fn next_moment(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        let mut candidates: Vec<DateTime<Utc>> = Vec::new();
        for date in self.schedule.upcoming(now, 2) {
            candidates.push(date);
            candidates.push(date - self.schedule.reminder);
        }
        if let Some(digest) = &self.schedule.digest {
            candidates.extend(upcoming(digest, now, 1));
        }
        if let Some(digest) = &self.schedule.list_digest {
            candidates.extend(upcoming(digest, now, 1));
        }
        candidates
            .into_iter()
            .filter(|at| *at > now)
            .min()
            .unwrap_or(now + Duration::hours(1))
    }

    /// One pass: everything due at the clock's time that no instance has done yet.
    pub async fn run_due(&self) -> anyhow::Result<Pass> {
        self.run_due_at(self.clock.now()).await
    }

    async fn run_due_at(&self, now: DateTime<Utc>) -> anyhow::Result<Pass> {
        let list = self
            .store
            .mailing_list(crate::store::subscriptions::NEWSLETTER)
            .await?
            .ok_or_else(|| anyhow::anyhow!("the newsletter list is missing"))?;
        let mut pass = Pass::default();
        self.send_due_issues(&list, now, &mut pass).await?;
        let since = now - Duration::days(CATCH_UP_DAYS);
        for date in between(&self.schedule.dates, since, now) {
            self.check_date(&list, date, now, &mut pass).await?;
        }
        for date in between(&self.schedule.dates, now, now + self.schedule.reminder) {
            self.remind(&list, date, now, &mut pass).await?;
        }
        if let Some(digest) = &self.schedule.digest {
            for moment in between(digest, since, now) {
                if self.send_summary(&list, moment, now).await? {
                    pass.digests += 1;
                }
            }
        }
        if let Some(daily) = &self.schedule.list_digest {
            // Each time covers the posts since the time before it (a day for a daily schedule).
            let mut previous = None;
            for moment in between(daily, since - Duration::days(2), now) {
                if let Some(start) = previous
                    && moment > since
                {
                    pass.digests += super::list_digest::send_list_digests(
                        &self.store,
                        &self.settings,
                        start,
                        moment,
                        now.timestamp_millis(),
                    )
                    .await?;
                }
                previous = Some(moment);
            }
        }
        Ok(pass)
    }

    async fn send_due_issues(
        &self,
        list: &MailingList,
        now: DateTime<Utc>,
        pass: &mut Pass,
    ) -> anyhow::Result<()> {
        let now_ms = now.timestamp_millis();
        for issue in self.store.due_issues(now_ms).await? {
            let Some((issue, items)) = self.store.issue(issue.id).await? else {
                continue;
            };
            let message = issue_message(
                list,
                &issue,
                &items,
                &self.settings.server.public_url,
                &self.settings.mail.from_name,
            )?;
            let IssueSending::Sent { recipients } = self
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
                let mut tx = self.store.begin().await?;
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

    /// A date passed: staff hear once of an issue planned for it that was not ready.
    async fn check_date(
        &self,
        list: &MailingList,
        date: DateTime<Utc>,
        now: DateTime<Utc>,
        pass: &mut Pass,
    ) -> anyhow::Result<()> {
        let date_ms = date.timestamp_millis();
        let now_ms = now.timestamp_millis();
        if !self
            .store
            .claim_slot_step(list.id, date_ms, SlotStep::Check, now_ms)
            .await?
        {
            return Ok(());
        }
        let not_ready: Vec<_> = self
            .store
            .issues_for_slot(list.id, date_ms)
            .await?
            .into_iter()
            .filter(|issue| issue.state == "draft")
            .collect();
        for issue in not_ready {
            let when = french_moment(date);
            self.notify_staff(
                &format!("La lettre du {when} n'est pas partie"),
                &[
                    format!(
                        "Le numéro « {} » était prévu pour le {when}, mais il n'était pas marqué prêt : \
                         il n'a pas été envoyé.",
                        issue.title
                    ),
                    "Relisez-le, choisissez une nouvelle date et marquez-le prêt, ou envoyez-le \
                     maintenant depuis sa page."
                        .to_string(),
                ],
                &format!("/lettre/numeros/{}", issue.id),
                "Ouvrir le numéro",
                now_ms,
            )
            .await?;
            pass.not_ready_notices += 1;
        }
        Ok(())
    }

    /// Some days before a date: staff hear once of what is planned for it.
    async fn remind(
        &self,
        list: &MailingList,
        date: DateTime<Utc>,
        now: DateTime<Utc>,
        pass: &mut Pass,
    ) -> anyhow::Result<()> {
        let date_ms = date.timestamp_millis();
        let now_ms = now.timestamp_millis();
        if !self
            .store
            .claim_slot_step(list.id, date_ms, SlotStep::Reminder, now_ms)
            .await?
        {
            return Ok(());
        }
        let when = french_moment(date);
        let planned = self.store.issues_for_slot(list.id, date_ms).await?;
        let (state, link) = match planned.first() {
            None => (
                "Aucun numéro n'est prévu pour cette date : rassemblez les éléments dans un numéro, \
                 choisissez cette date et marquez-le prêt."
                    .to_string(),
                "/lettre".to_string(),
            ),
            Some(issue) if issue.state == "ready" => (
                format!(
                    "Le numéro « {} » est prêt : il partira à cette date, sans autre action.",
                    issue.title
                ),
                format!("/lettre/numeros/{}", issue.id),
            ),
            Some(issue) => (
                format!(
                    "Le numéro « {} » est encore en brouillon : relisez-le et marquez-le prêt, \
                     sinon il ne partira pas.",
                    issue.title
                ),
                format!("/lettre/numeros/{}", issue.id),
            ),
        };
        self.notify_staff(
            &format!("La lettre du {when} se prépare"),
            &[format!("La prochaine lettre part le {when}."), state],
            &link,
            "Préparer la lettre",
            now_ms,
        )
        .await?;
        pass.reminders += 1;
        Ok(())
    }

    /// The summary due at `moment`: the issues of the calendar month before it, in Paris time.
    async fn send_summary(
        &self,
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
        let issues = self
            .store
            .issues_sent_between(list.id, start.timestamp_millis(), end.timestamp_millis())
            .await?;
        let public_url = &self.settings.server.public_url;
        let message = if issues.is_empty() {
            None
        } else {
            let entries: Vec<DigestEntry> = issues
                .iter()
                .map(|issue| DigestEntry {
                    title: issue.title.clone(),
                    date: crate::french::french_datetime(issue.sent_at),
                    url: format!("{public_url}/lettre/archives/{}", issue.id),
                })
                .collect();
            let period_label = format!("{} {year}", MONTHS[month as usize - 1]);
            let preferences_url = super::compose::preferences_link(public_url);
            Some(NewMessage {
                kind: "newsletter_digest".into(),
                cause_kind: "newsletter_digest".into(),
                cause_id: None,
                subject: format!("{} : le récapitulatif de {period_label}", list.name),
                body_html: DigestHtml {
                    list: &list.name,
                    period: &period_label,
                    issues: &entries,
                    preferences_url: &preferences_url,
                    organisation: &self.settings.mail.from_name,
                }
                .render()?,
                body_text: DigestText {
                    list: &list.name,
                    period: &period_label,
                    issues: &entries,
                    preferences_url: &preferences_url,
                    organisation: &self.settings.mail.from_name,
                }
                .render()?,
                template_data: serde_json::json!({ "period": period, "issues": issues.len() }),
                auto_submitted: false,
                list_key: list.list_key.clone(),
                list_label: list.name.clone(),
                list_post: "NO".into(),
                ..Default::default()
            })
        };
        Ok(self
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

    async fn notify_staff(
        &self,
        title: &str,
        paragraphs: &[String],
        path: &str,
        link_label: &str,
        now_ms: i64,
    ) -> anyhow::Result<()> {
        let recipients = self.store.staff_recipients().await?;
        if recipients.is_empty() {
            tracing::warn!(title, "no staff account to tell");
            return Ok(());
        }
        let message = staff_notice_message(&self.settings, title, paragraphs, path, link_label)?;
        self.store
            .enqueue_mail(&message, &recipients, now_ms)
            .await?;
        Ok(())
    }
}

/// A notice to staff: a title, paragraphs and one link to a page of relais (`path`).
pub fn staff_notice_message(
    settings: &Settings,
    title: &str,
    paragraphs: &[String],
    path: &str,
    link_label: &str,
) -> anyhow::Result<NewMessage> {
    let link = format!("{}{path}", settings.server.public_url);
    let organisation = &settings.mail.from_name;
    Ok(NewMessage {
        kind: "newsletter_notice".into(),
        cause_kind: "newsletter_schedule".into(),
        subject: title.to_string(),
        body_html: NoticeHtml {
            title,
            paragraphs,
            link: &link,
            link_label,
            organisation,
        }
        .render()?,
        body_text: NoticeText {
            paragraphs,
            link: &link,
            link_label,
            organisation,
        }
        .render()?,
        template_data: serde_json::json!({ "title": title }),
        auto_submitted: true,
        ..Default::default()
    })
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
