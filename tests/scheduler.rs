//! The scheduler's table of jobs on both databases: every job says, on the injectable clock, when it next has
//! something to do, each from its own schedule (none waits for another's pass), and a job whose schedule is
//! not set never falls due.

mod common;

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use common::TestApp;
use relais::scheduler::{Context, JOBS, Job};

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap()
        .with_timezone(&Utc)
}

async fn run(backend: common::Backend) {
    let app = TestApp::spawn(backend).await;
    // Monday 23 November 2026, 10:00 in Paris.
    let now = app.clock.now();
    assert_eq!(now, at("2026-11-23T09:00:00Z"));
    let mut settings = relais::config::Settings::for_tests("sqlite://unused", app.data_dir());
    let federation = relais::federation::Federation::new(
        app.store.clone(),
        Arc::new(settings.clone()),
        app.clock.clone(),
    )
    .await
    .expect("federation starts");
    let jobs = Context::new(
        app.store.clone(),
        Arc::new(settings.clone()),
        app.clock.clone(),
        federation.clone(),
    )
    .expect("the default schedules are valid");

    let mut due = Vec::new();
    // The federation job is due only when a delivery waits: none yet.
    assert_eq!(Job::Federation.next_due(&jobs, now).await.unwrap(), None);
    for (job, _) in JOBS.into_iter().filter(|(job, _)| *job != Job::Federation) {
        let next = job
            .next_due(&jobs, now)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("{} is configured by default", job.name()));
        assert!(next > now, "{}: {next} is not after {now}", job.name());
        due.push((job, next));
    }
    let next = |wanted: Job| due.iter().find(|(job, _)| *job == wanted).unwrap().1;
    // Its own schedule each, in Paris time: the follow-up digest at 7:00 on weekdays, the lists' digest at
    // 18:00, the newsletter's reminder three days before its date of 1 December at 9:00.
    assert_eq!(next(Job::FollowUpDigest), at("2026-11-24T06:00:00Z"));
    assert_eq!(next(Job::ListDigest), at("2026-11-23T17:00:00Z"));
    assert_eq!(next(Job::Newsletter), at("2026-11-28T08:00:00Z"));
    assert_eq!(next(Job::Housekeeping), now + Duration::hours(1));
    assert_eq!(next(Job::BounceWarnings), now + Duration::hours(1));
    assert!(next(Job::Meetings) <= now + Duration::hours(6));
    assert!(next(Job::SurveyReminders) <= now + Duration::hours(6));

    // Every job is in the table once.
    for job in [
        Job::Newsletter,
        Job::Meetings,
        Job::FollowUpDigest,
        Job::ListDigest,
        Job::BounceWarnings,
        Job::SurveyReminders,
        Job::Federation,
        Job::Housekeeping,
    ] {
        assert_eq!(
            JOBS.iter().filter(|(listed, _)| *listed == job).count(),
            1,
            "{}",
            job.name()
        );
    }

    // Without their schedules, the two digests never fall due, and the follow-up digest's step is not run
    // at start: it does not catch up.
    settings.mail.digest_schedule = String::new();
    settings.newsletter.list_digest_schedule = String::new();
    let unset = Context::new(
        app.store.clone(),
        Arc::new(settings),
        app.clock.clone(),
        federation,
    )
    .unwrap();
    assert_eq!(
        Job::FollowUpDigest.next_due(&unset, now).await.unwrap(),
        None
    );
    assert_eq!(Job::ListDigest.next_due(&unset, now).await.unwrap(), None);
    assert_eq!(Job::ListDigest.try_run(&unset, now).await.unwrap(), None);
    let (_, digest) = JOBS
        .iter()
        .find(|(job, _)| *job == Job::FollowUpDigest)
        .unwrap();
    assert!(!digest.catch_up);

    app.stop().await;
}

run_on_both_databases!();
