//! The scheduler: every job relais runs in the background, listed once in [`JOBS`]. Each job lives in its
//! own file as a `try_*` step (everything due at a given moment that no instance has claimed yet) and a
//! `next_due` (the next moment on the injectable [`Clock`] it has something to do), and each claims its
//! work in the database on its own, so no job rides on another's pass, and two instances, restarts and
//! crashes never do anything twice. [`run_until_stopped`] gives every job its own loop; tests move a
//! manual clock and a month of jobs runs in a second.
//!
//! The mails the jobs send are built in [`crate::mail`]; the table of jobs, with their claims and how they
//! catch up after downtime, is in `docs/ARCHITECTURE.md`.

pub mod bounce_warnings;
pub mod federation;
pub mod follow_up_digest;
pub mod housekeeping;
pub mod list_digest;
pub mod meetings;
pub mod newsletter;
pub mod survey_reminders;

use std::sync::Arc;
use std::time::Duration as RealTime;

use chrono::{DateTime, Utc};
use tokio_util::sync::CancellationToken;

use crate::clock::{Clock, PARIS};
use crate::config::Settings;
use crate::store::Store;

/// What every job reads: the store, the settings, the clock, and the schedules parsed once.
#[derive(Clone)]
pub struct Context {
    pub store: Store,
    pub settings: Arc<Settings>,
    pub clock: Clock,
    /// `[newsletter]`: the dates, reminders, monthly summary and the lists' daily digest.
    pub newsletter: newsletter::NewsletterSchedule,
    /// `mail.digest_schedule`, when set and valid (the settings refuse an invalid one).
    pub follow_up_digest: Option<cron::Schedule>,
    /// Publishing to partners and delivering to their inboxes.
    pub federation: crate::federation::Federation,
}

impl Context {
    /// Parses the schedules; an invalid `[newsletter]` schedule stops relais at start.
    pub fn new(
        store: Store,
        settings: Arc<Settings>,
        clock: Clock,
        federation: crate::federation::Federation,
    ) -> anyhow::Result<Context> {
        let newsletter = newsletter::NewsletterSchedule::from_settings(&settings)?;
        let follow_up_digest = settings.mail.digest_schedule.parse().ok();
        Ok(Context {
            store,
            settings,
            clock,
            newsletter,
            follow_up_digest,
            federation,
        })
    }
}

/// The background jobs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Job {
    Newsletter,
    Meetings,
    FollowUpDigest,
    ListDigest,
    BounceWarnings,
    SurveyReminders,
    Federation,
    Housekeeping,
}

/// When a job runs.
#[derive(Clone, Copy, Debug)]
pub struct Timing {
    /// Runs at start and at every wake-up, doing whatever is due and not yet claimed, so what fell due
    /// while relais was stopped is caught up; otherwise only once its due moment has come.
    pub catch_up: bool,
    /// The longest it waits in real time, whatever the clock says (changes made on another instance are
    /// seen then).
    pub recheck: Option<RealTime>,
    /// How soon it tries again after a failure, in real time (a passing database error when two
    /// instances write the same rows); otherwise at its next due moment or recheck.
    pub retry: Option<RealTime>,
    /// Woken at once when staff change what it reads ([`Store::wake_schedules`]).
    pub woken_by_changes: bool,
}

const FIVE_MINUTES: Option<RealTime> = Some(RealTime::from_secs(300));
const AN_HOUR: Option<RealTime> = Some(RealTime::from_secs(3600));
const A_SECOND: Option<RealTime> = Some(RealTime::from_secs(1));

const fn timing(
    catch_up: bool,
    recheck: Option<RealTime>,
    retry: Option<RealTime>,
    woken_by_changes: bool,
) -> Timing {
    Timing {
        catch_up,
        recheck,
        retry,
        woken_by_changes,
    }
}

/// Every job relais runs, at a glance: how each runs, and (at the end of its line) when it is next due on the
/// clock. What each does and its claim: the first lines of its file, and `docs/ARCHITECTURE.md`.
#[rustfmt::skip]
pub const JOBS: [(Job, Timing); 8] = [
    //                            catch_up recheck       retry     woken by changes
    (Job::Newsletter,      timing(true,    FIVE_MINUTES, None,     false)), // its dates, reminders, summaries
    (Job::Meetings,        timing(true,    FIVE_MINUTES, A_SECOND, true)),  // agendas, reminders; 6 h at most
    (Job::FollowUpDigest,  timing(false,   None,         None,     false)), // mail.digest_schedule
    (Job::ListDigest,      timing(true,    FIVE_MINUTES, None,     false)), // newsletter.list_digest_schedule
    (Job::BounceWarnings,  timing(true,    FIVE_MINUTES, A_SECOND, false)), // every hour
    (Job::SurveyReminders, timing(true,    FIVE_MINUTES, A_SECOND, true)),  // oldest reminder; 6 h at most
    (Job::Federation,      timing(true,    FIVE_MINUTES, A_SECOND, true)),  // next delivery retry
    (Job::Housekeeping,    timing(true,    AN_HOUR,      None,     false)), // every hour
];

impl Job {
    /// The job's name in the log.
    pub fn name(self) -> &'static str {
        match self {
            Job::Newsletter => "newsletter",
            Job::Meetings => "meetings",
            Job::FollowUpDigest => "follow-up digest",
            Job::ListDigest => "list digest",
            Job::BounceWarnings => "bounce warnings",
            Job::SurveyReminders => "survey reminders",
            Job::Federation => "federation",
            Job::Housekeeping => "housekeeping",
        }
    }

    /// Does what is due at `now`; says what it did, if anything, for the log.
    pub async fn try_run(
        self,
        ctx: &Context,
        now: DateTime<Utc>,
    ) -> anyhow::Result<Option<String>> {
        Ok(match self {
            Job::Newsletter => said(newsletter::try_newsletter(ctx, now).await?),
            Job::Meetings => said(meetings::try_meetings(ctx, now).await?),
            Job::FollowUpDigest => said(follow_up_digest::try_follow_up_digest(ctx).await?),
            Job::ListDigest => said(list_digest::try_list_digest(ctx, now).await?),
            Job::BounceWarnings => said(bounce_warnings::try_bounce_warnings(ctx, now).await?),
            Job::SurveyReminders => said(survey_reminders::try_survey_reminders(ctx, now).await?),
            Job::Federation => said(federation::try_federation(ctx).await?),
            Job::Housekeeping => said(housekeeping::try_housekeeping(ctx, now).await?),
        })
    }

    /// The next moment after `now` the job has something to do; none when it is not configured.
    pub async fn next_due(
        self,
        ctx: &Context,
        now: DateTime<Utc>,
    ) -> anyhow::Result<Option<DateTime<Utc>>> {
        Ok(match self {
            Job::Newsletter => Some(newsletter::next_due(ctx, now)),
            Job::Meetings => Some(meetings::next_due(ctx, now).await?),
            Job::FollowUpDigest => follow_up_digest::next_due(ctx, now),
            Job::ListDigest => list_digest::next_due(ctx, now),
            Job::BounceWarnings => Some(bounce_warnings::next_due(now)),
            Job::SurveyReminders => Some(survey_reminders::next_due(ctx, now).await?),
            Job::Federation => federation::next_due(ctx).await?,
            Job::Housekeeping => Some(housekeeping::next_due(now)),
        })
    }
}

/// What a step did, unless it did nothing.
fn said<T: std::fmt::Debug + Default + PartialEq>(done: T) -> Option<String> {
    (done != T::default()).then(|| format!("{done:?}"))
}

/// Runs every job of [`JOBS`], each in its own task, until `stop` is cancelled.
pub async fn run_until_stopped(ctx: Context, stop: CancellationToken) {
    let tasks: Vec<_> = JOBS
        .into_iter()
        .map(|(job, timing)| tokio::spawn(run_job(job, timing, ctx.clone(), stop.clone())))
        .collect();
    for task in tasks {
        let _ = task.await;
    }
}

/// One job's loop: run when due (or at each wake-up if it catches up), then wait for the next due moment,
/// a change, a recheck or the stop.
async fn run_job(job: Job, timing: Timing, ctx: Context, stop: CancellationToken) {
    let wake = ctx.store.schedule_wake();
    let mut due = if timing.catch_up {
        Some(ctx.clock.now())
    } else {
        next_due_or_log(job, &ctx, ctx.clock.now()).await
    };
    loop {
        let notified = wake.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        // The next moment is reckoned from the time this step saw: if the clock moves during the step, the
        // wait below ends at once and the next step sees what fell due meanwhile.
        let now = ctx.clock.now();
        let mut wait = timing.recheck;
        if timing.catch_up || due.is_some_and(|due| now >= due) {
            match job.try_run(&ctx, now).await {
                Ok(Some(done)) => tracing::info!(job = job.name(), done, "scheduled job ran"),
                Ok(None) => {}
                Err(error) => {
                    tracing::warn!(job = job.name(), %error, "scheduled job failed; will retry");
                    wait = timing.retry.or(wait);
                }
            }
        }
        due = next_due_or_log(job, &ctx, now).await;
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = sleep_until(&ctx.clock, due) => {}
            _ = &mut notified, if timing.woken_by_changes => {}
            _ = sleep(wait) => {}
        }
    }
}

async fn next_due_or_log(job: Job, ctx: &Context, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    match job.next_due(ctx, now).await {
        Ok(due) => due,
        Err(error) => {
            tracing::warn!(job = job.name(), %error, "next due moment unknown; trying again soon");
            Some(now + chrono::Duration::minutes(5))
        }
    }
}

async fn sleep_until(clock: &Clock, at: Option<DateTime<Utc>>) {
    match at {
        Some(at) => clock.sleep_until(at).await,
        None => std::future::pending().await,
    }
}

async fn sleep(wait: Option<RealTime>) {
    match wait {
        Some(wait) => tokio::time::sleep(wait).await,
        None => std::future::pending().await,
    }
}

/// The next `count` moments of `schedule` (cron, Paris time) after `after`.
pub fn upcoming(
    schedule: &cron::Schedule,
    after: DateTime<Utc>,
    count: usize,
) -> Vec<DateTime<Utc>> {
    schedule
        .after(&after.with_timezone(&PARIS))
        .take(count)
        .map(|at| at.with_timezone(&Utc))
        .collect()
}

/// The moments of `schedule` (cron, Paris time) in `(from, to]`.
pub fn between(
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
