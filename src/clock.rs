//! The injectable clock: everything that depends on "now" (sessions, due follow-ups, lockouts, schedules)
//! reads it here, so tests can run a month in a second by moving a [`Clock::manual`] clock.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, NaiveDate, Utc};

/// The zone the club lives in; "today" and due dates are computed there.
pub const PARIS: chrono_tz::Tz = chrono_tz::Europe::Paris;

#[derive(Clone, Debug)]
pub struct Clock {
    manual: Option<Arc<Mutex<DateTime<Utc>>>>,
}

impl Clock {
    /// The real time of the machine.
    pub fn system() -> Clock {
        Clock { manual: None }
    }

    /// A clock that only moves when told to.
    pub fn manual(start: DateTime<Utc>) -> Clock {
        Clock {
            manual: Some(Arc::new(Mutex::new(start))),
        }
    }

    pub fn now(&self) -> DateTime<Utc> {
        match &self.manual {
            Some(at) => *at.lock().expect("clock lock"),
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
        if let Some(at) = &self.manual {
            let mut at = at.lock().expect("clock lock");
            *at += by;
        }
    }

    /// Sets a manual clock; does nothing on the system clock.
    pub fn set(&self, to: DateTime<Utc>) {
        if let Some(at) = &self.manual {
            *at.lock().expect("clock lock") = to;
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
}
