//! The injectable clock: everything that depends on "now" (sessions, due follow-ups, lockouts, schedules)
//! reads it here, so tests can run a month in a second by moving a [`Clock::manual`] clock. Whatever waits
//! for a moment (the mail workers' next due delivery, schedules) waits through [`Clock::sleep_until`], which
//! a manual clock ends as soon as it is moved past that moment.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, NaiveDate, Utc};
use tokio::sync::Notify;

/// The zone the club lives in; "today" and due dates are computed there.
pub const PARIS: chrono_tz::Tz = chrono_tz::Europe::Paris;

#[derive(Clone, Debug)]
pub struct Clock {
    manual: Option<Arc<ManualTime>>,
}

#[derive(Debug)]
struct ManualTime {
    at: Mutex<DateTime<Utc>>,
    moved: Notify,
}

impl Clock {
    /// The real time of the machine.
    pub fn system() -> Clock {
        Clock { manual: None }
    }

    /// A clock that only moves when told to.
    pub fn manual(start: DateTime<Utc>) -> Clock {
        Clock {
            manual: Some(Arc::new(ManualTime {
                at: Mutex::new(start),
                moved: Notify::new(),
            })),
        }
    }

    pub fn now(&self) -> DateTime<Utc> {
        match &self.manual {
            Some(manual) => *manual.at.lock().expect("clock lock"),
            None => Utc::now(),
        }
    }

    pub fn now_millis(&self) -> i64 {
        self.now().timestamp_millis()
    }

    /// Today's date in Paris.
    pub fn today(&self) -> NaiveDate {
        self.now().with_timezone(&PARIS).date_naive()
    }

    /// Moves a manual clock forward; does nothing on the system clock.
    pub fn advance(&self, by: chrono::Duration) {
        if let Some(manual) = &self.manual {
            *manual.at.lock().expect("clock lock") += by;
            manual.moved.notify_waiters();
        }
    }

    /// Sets a manual clock; does nothing on the system clock.
    pub fn set(&self, to: DateTime<Utc>) {
        if let Some(manual) = &self.manual {
            *manual.at.lock().expect("clock lock") = to;
            manual.moved.notify_waiters();
        }
    }

    /// Waits until the clock reads `at` or later: real sleep on the system clock, until moved far enough
    /// on a manual one.
    pub async fn sleep_until(&self, at: DateTime<Utc>) {
        match &self.manual {
            None => {
                let wait = (at - Utc::now()).to_std().unwrap_or_default();
                tokio::time::sleep(wait).await;
            }
            Some(manual) => loop {
                let moved = manual.moved.notified();
                tokio::pin!(moved);
                // Registered before the check, so a move between the check and the wait is not missed.
                moved.as_mut().enable();
                if self.now() >= at {
                    return;
                }
                moved.await;
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_clock_moves_only_when_told() {
        let start = DateTime::parse_from_rfc3339("2026-11-30T23:30:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let clock = Clock::manual(start);
        assert_eq!(clock.now(), start);
        // 23:30 UTC is already the next day in Paris.
        assert_eq!(clock.today(), NaiveDate::from_ymd_opt(2026, 12, 1).unwrap());
        clock.advance(chrono::Duration::days(31));
        assert_eq!(clock.today(), NaiveDate::from_ymd_opt(2027, 1, 1).unwrap());
    }

    #[tokio::test]
    async fn sleeping_on_a_manual_clock_ends_when_it_is_moved_past_the_moment() {
        let start = DateTime::parse_from_rfc3339("2026-11-30T08:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let clock = Clock::manual(start);
        let sleeper = tokio::spawn({
            let clock = clock.clone();
            async move { clock.sleep_until(start + chrono::Duration::hours(1)).await }
        });
        tokio::task::yield_now().await;
        clock.advance(chrono::Duration::minutes(30));
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        assert!(!sleeper.is_finished(), "half an hour is not enough");
        clock.advance(chrono::Duration::minutes(30));
        tokio::time::timeout(std::time::Duration::from_secs(2), sleeper)
            .await
            .expect("woken once the hour has passed")
            .unwrap();
    }
}
