//! The sections of what relais does on a schedule: `[newsletter]` and `[meetings]`.

use super::Reader;

pub(super) const KEYS: &[&str] = &[
    "newsletter.schedule",
    "newsletter.reminder_days",
    "newsletter.digest_schedule",
    "newsletter.list_digest_schedule",
    "meetings.agenda_days_before",
    "meetings.horizon_months",
];

/// The `[meetings]` section.
#[derive(Debug, Clone)]
pub struct MeetingSettings {
    /// Days before a meeting its ready agenda goes out; staff are reminded a day earlier if it is not ready.
    pub agenda_days_before: i64,
    /// How far ahead the occurrences of a series exist (months).
    pub horizon_months: i64,
}

/// The `[newsletter]` section: when issues go out and when staff are reminded.
#[derive(Debug, Clone)]
pub struct NewsletterSettings {
    /// The dates issues go out at: a cron expression with seconds first, in Paris time.
    pub schedule: String,
    /// Days before each date when staff are reminded to prepare the issue.
    pub reminder_days: i64,
    /// When the monthly summary goes to those who chose it (cron, Paris time); empty: never.
    pub digest_schedule: String,
    /// When discussion lists send their digest of the day's posts to those who chose it (cron, Paris
    /// time); empty: never.
    pub list_digest_schedule: String,
}

impl NewsletterSettings {
    pub(super) fn read(r: &mut Reader) -> NewsletterSettings {
        let newsletter = NewsletterSettings {
            schedule: r.get("newsletter.schedule"),
            reminder_days: r.get("newsletter.reminder_days"),
            digest_schedule: r.get("newsletter.digest_schedule"),
            list_digest_schedule: r.get("newsletter.list_digest_schedule"),
        };
        let is_cron = |text: &str| <cron::Schedule as std::str::FromStr>::from_str(text).is_ok();
        r.check(
            "newsletter.schedule",
            is_cron(&newsletter.schedule),
            "expected a cron expression with seconds first, such as \"0 0 9 1,15 * *\"",
        );
        r.check(
            "newsletter.reminder_days",
            (0..=30).contains(&newsletter.reminder_days),
            "must be between 0 and 30",
        );
        r.check(
            "newsletter.list_digest_schedule",
            newsletter.list_digest_schedule.is_empty() || is_cron(&newsletter.list_digest_schedule),
            "expected a cron expression with seconds first, such as \"0 0 18 * * *\", or nothing",
        );
        r.check(
            "newsletter.digest_schedule",
            newsletter.digest_schedule.is_empty() || is_cron(&newsletter.digest_schedule),
            "expected a cron expression with seconds first, such as \"0 0 8 1 * *\", or nothing",
        );
        newsletter
    }
}

impl MeetingSettings {
    pub(super) fn read(r: &mut Reader) -> MeetingSettings {
        let meetings = MeetingSettings {
            agenda_days_before: r.get("meetings.agenda_days_before"),
            horizon_months: r.get("meetings.horizon_months"),
        };
        r.check(
            "meetings.agenda_days_before",
            (1..=30).contains(&meetings.agenda_days_before),
            "must be between 1 and 30",
        );
        r.check(
            "meetings.horizon_months",
            (1..=36).contains(&meetings.horizon_months),
            "must be between 1 and 36",
        );
        meetings
    }
}
